/* The engine's log: log_set()/log_get() and the MG_LL_* constants, and
 * the engine's log lines handed to Python's logging module. Go side:
 * log.go (core/log.go holds the level). */
#include "native.h"
#include "_cgo_export.h"

static PyObject *f_log_set(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"level", NULL};
    int level;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "i:log_set", kwlist, &level))
        return NULL;
    if (pmg_check_fork() < 0)
        return NULL;
    pmg_log_set(level);
    Py_RETURN_NONE;
}

static PyObject *f_log_get(PyObject *self, PyObject *unused) {
    if (pmg_check_fork() < 0)
        return NULL;
    return PyLong_FromLong(pmg_log_get());
}

/* Engine log lines (core/log.go) go to logging.getLogger("pymongoose"):
 * MG_LL_ERROR as ERROR, MG_LL_INFO as INFO, MG_LL_DEBUG and MG_LL_VERBOSE as
 * DEBUG. Called from Go on a thread that runs Python code or a poll(). */
static PyObject *b_logger;

void pmg_log_line(int level, const char *msg, long long n) {
    PyGILState_STATE st = PyGILState_Ensure();
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb); /* an exception being handled stays as it was */
    if (!b_logger) {
        PyObject *logging = PyImport_ImportModule("logging");
        if (logging) {
            b_logger = PyObject_CallMethod(logging, "getLogger", "s", "pymongoose");
            Py_DECREF(logging);
        }
    }
    if (b_logger) {
        int pylevel = level <= PMG_LL_ERROR ? 40 : level == PMG_LL_INFO ? 20 : 10;
        PyObject *text = pmg_decode(msg, (Py_ssize_t)n);
        PyObject *r = text ? PyObject_CallMethod(b_logger, "log", "iO", pylevel, text) : NULL;
        Py_XDECREF(text);
        Py_XDECREF(r);
    }
    if (PyErr_Occurred())
        PyErr_WriteUnraisable(NULL);
    PyErr_Restore(et, ev, etb);
    PyGILState_Release(st);
}


PyMethodDef pmg_log_functions[] = {
    {"log_set", PMG_FN(f_log_set), PMG_KW, "log_set(level): set the engine log level (MG_LL_*)."},
    {"log_get", f_log_get, METH_NOARGS, "log_get() -> int: the engine log level."},
    {NULL}};

/* MG_LL_*, the levels of core/log.go (log.go checks them at compile time). */
int pmg_log_init(PyObject *m) {
    static const struct {
        const char *name;
        int value;
    } levels[] = {{"MG_LL_NONE", PMG_LL_NONE},   {"MG_LL_ERROR", PMG_LL_ERROR},
                  {"MG_LL_INFO", PMG_LL_INFO},   {"MG_LL_DEBUG", PMG_LL_DEBUG},
                  {"MG_LL_VERBOSE", PMG_LL_VERBOSE}};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (PyModule_AddIntConstant(m, levels[i].name, levels[i].value) < 0)
            return -1;
    return 0;
}
