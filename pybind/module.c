/* The module pymongoose._mongoose: its init (types, functions and
 * constants of every file, the gopy-generated cold API), the fork guard and
 * the functions that belong to no object. */
#include "native.h"
#include "_cgo_export.h"

#include <time.h>

extern PyObject *PyInit__gobind(void);

/* ------------------------------------------------------------------ */
/* fork()                                                               */

static int forked = 0;
static const char FORK_MSG[] =
    "pymongoose cannot be used in a process created by fork() without exec: "
    "the Go runtime does not survive fork. Use the 'spawn' or 'forkserver' "
    "multiprocessing start methods (multiprocessing.set_start_method('spawn')).";

int pmg_forked(void) { return forked; }

PyObject *pmg_fork_error(void) {
    PyErr_SetString(PyExc_RuntimeError, FORK_MSG);
    return NULL;
}

int pmg_check_fork(void) {
    if (forked) {
        pmg_fork_error();
        return -1;
    }
    return 0;
}

static PyObject *mod_mark_forked(PyObject *self, PyObject *unused) {
    forked = 1;
    Py_RETURN_NONE;
}

static PyObject *mod_check_fork(PyObject *self, PyObject *unused) {
    CHECK_FORK(NULL);
    Py_RETURN_NONE;
}

/* wakeup(mid, connection_id, data): safe from any thread. */
static PyObject *mod_wakeup(PyObject *self, PyObject *args) {
    long long mid;
    unsigned long long id;
    Py_buffer buf;
    if (!PyArg_ParseTuple(args, "LKy*:wakeup", &mid, &id, &buf))
        return NULL;
    if (forked) {
        PyBuffer_Release(&buf);
        return pmg_fork_error();
    }
    int rc = pmg_wakeup(mid, id, buf.buf, buf.len);
    PyBuffer_Release(&buf);
    if (rc < 0)
        return pmg_freed_error();
    return PyBool_FromLong(rc);
}

static PyObject *mod_millis(PyObject *self, PyObject *unused) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return PyLong_FromLongLong((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static PyMethodDef mod_methods[] = {
    {"_mark_forked", mod_mark_forked, METH_NOARGS, NULL},
    {"_check_fork", mod_check_fork, METH_NOARGS, NULL},
    {"_wakeup", mod_wakeup, METH_VARARGS, NULL},
    {"millis", mod_millis, METH_NOARGS, "millis() -> int: monotonic milliseconds."},
    {NULL}};

static struct PyModuleDef mongoose_module = {
    PyModuleDef_HEAD_INIT, "pymongoose._mongoose",
    "pymongoose-go engine: event loop, connections and HTTP, written in Go.", -1, mod_methods};

/* ------------------------------------------------------------------ */
/* Init                                                                 */

static int build_conn_methods(void) {
    PyMethodDef *tables[] = {pmg_conn_methods,      pmg_http_conn_methods, pmg_ws_conn_methods,
                             pmg_mqtt_conn_methods, pmg_net_conn_methods,  pmg_tls_conn_methods};
    size_t n = 0, ntab = sizeof tables / sizeof tables[0];
    for (size_t t = 0; t < ntab; t++)
        for (PyMethodDef *d = tables[t]; d->ml_name; d++)
            n++;
    PyMethodDef *all = PyMem_Calloc(n + 1, sizeof(PyMethodDef));
    if (!all) {
        PyErr_NoMemory();
        return -1;
    }
    n = 0;
    for (size_t t = 0; t < ntab; t++)
        for (PyMethodDef *d = tables[t]; d->ml_name; d++)
            all[n++] = *d;
    pmg_ConnType.tp_methods = all; /* lives as long as the process */
    return 0;
}

static int add_types(PyObject *m) {
    static const struct {
        PyTypeObject *type;
        const char *name;
    } types[] = {{&pmg_CoreType, "_Core"},         {&pmg_ConnType, "Connection"},
                 {&pmg_HttpMsgType, "HttpMessage"}, {&pmg_WsMsgType, "WsMessage"},
                 {&pmg_MqttMsgType, "MqttMessage"}, {&pmg_TimerType, "Timer"}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (PyType_Ready(types[i].type) < 0)
            return -1;
        Py_INCREF(types[i].type);
        if (PyModule_AddObject(m, types[i].name, (PyObject *)types[i].type) < 0) {
            Py_DECREF(types[i].type);
            return -1;
        }
    }
    return 0;
}

static int add_functions(PyObject *m) {
    PyMethodDef *tables[] = {pmg_event_functions, pmg_log_functions,       pmg_url_functions,
                             pmg_json_functions,  pmg_multipart_functions, pmg_codec_functions};
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        if (PyModule_AddFunctions(m, tables[t]) < 0)
            return -1;
    return 0;
}

/* _LIMITS: ((name, default), ...), the Manager() keyword arguments that
 * bound a connection, in the order of NewManager's parameters (limits.go). */
static int add_limits(PyObject *m) {
    PyObject *list = PyList_New(0);
    if (!list)
        return -1;
    char name[64];
    long long dflt;
    int n;
    for (int i = 0; (n = pmg_limit(i, name, sizeof name, &dflt)) >= 0; i++) {
        PyObject *item = Py_BuildValue("(s#L)", name, (Py_ssize_t)n, dflt);
        if (!item || PyList_Append(list, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(list);
            return -1;
        }
        Py_DECREF(item);
    }
    PyObject *t = PyList_AsTuple(list);
    Py_DECREF(list);
    if (!t || PyModule_AddObject(m, "_LIMITS", t) < 0) {
        Py_XDECREF(t);
        return -1;
    }
    return 0;
}

/* Constants of no one file: WebSocket opcodes and the MQTT 5 property
 * types (docs/api.md 19.8). */
static int add_constants(PyObject *m) {
    static const struct {
        const char *name;
        int value;
    } consts[] = {
        {"WEBSOCKET_OP_TEXT", PMG_WS_OP_TEXT},
        {"WEBSOCKET_OP_BINARY", PMG_WS_OP_BINARY},
        {"WEBSOCKET_OP_PING", PMG_WS_OP_PING},
        {"WEBSOCKET_OP_PONG", PMG_WS_OP_PONG},
        {"MQTT_PROP_TYPE_BYTE", 0},
        {"MQTT_PROP_TYPE_STRING", 1},
        {"MQTT_PROP_TYPE_STRING_PAIR", 2},
        {"MQTT_PROP_TYPE_BINARY_DATA", 3},
        {"MQTT_PROP_TYPE_VARIABLE_INT", 4},
        {"MQTT_PROP_TYPE_INT", 5},
        {"MQTT_PROP_TYPE_SHORT", 6},
    };
    for (size_t i = 0; i < sizeof consts / sizeof consts[0]; i++)
        if (PyModule_AddIntConstant(m, consts[i].name, consts[i].value) < 0)
            return -1;
    return 0;
}

PyMODINIT_FUNC PyInit__mongoose(void) {
    PyObject *m = PyModule_Create(&mongoose_module);
    if (!m)
        return NULL;
    if (add_functions(m) < 0 || build_conn_methods() < 0 || add_types(m) < 0 || pmg_event_init(m) < 0 ||
        pmg_log_init(m) < 0 || add_constants(m) < 0 || add_limits(m) < 0)
        goto fail;
    /* The gopy-generated cold API lives in this same shared object (one Go
     * runtime per process); expose it where its Python wrapper imports it. */
    PyObject *g = PyInit__gobind();
    if (!g)
        goto fail;
    if (PyDict_SetItemString(PyImport_GetModuleDict(), "pymongoose._gopy._gobind", g) < 0 ||
        PyModule_AddObject(m, "_gobind", g) < 0) {
        Py_DECREF(g);
        goto fail;
    }
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
