/* Connection methods for WebSocket: ws_upgrade, ws_send (Go side: ws.go). */
#include "native.h"
#include "_cgo_export.h"

#include <limits.h>

/* The HttpMessage type, looked up once from the module (native.c keeps it
 * static). */
static PyObject *http_msg_type(void) {
    static PyObject *type = NULL;
    if (!type) {
        PyObject *mod = PyImport_ImportModule("pymongoose._mongoose");
        if (!mod)
            return NULL;
        type = PyObject_GetAttrString(mod, "HttpMessage");
        Py_DECREF(mod);
        if (type && !PyType_Check(type)) {
            Py_CLEAR(type);
            PyErr_SetString(PyExc_SystemError, "pymongoose._mongoose.HttpMessage is not a type");
        }
    }
    return type;
}

static int ws_check_part(PyObject *s, const char *what) {
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(s, &n);
    if (!p)
        return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0') {
            PyErr_Format(PyExc_ValueError, "Header %s contains illegal character (CR, LF, or NUL): %R",
                         what, s);
            return -1;
        }
    }
    return 0;
}

/* "name: value\r\n" per item of headers, as bytes. */
static PyObject *ws_format_headers(PyObject *headers) {
    PyObject *items = PyObject_CallMethod(headers, "items", NULL);
    if (!items)
        return NULL;
    PyObject *it = PyObject_GetIter(items);
    Py_DECREF(items);
    if (!it)
        return NULL;
    PyObject *out = PyBytes_FromStringAndSize("", 0);
    PyObject *item;
    while (out && (item = PyIter_Next(it))) {
        PyObject *k = NULL, *v = NULL, *ks = NULL, *vs = NULL, *line = NULL, *lb = NULL;
        int ok = PyArg_ParseTuple(item, "OO", &k, &v) && (ks = PyObject_Str(k)) &&
                 (vs = PyObject_Str(v)) && ws_check_part(ks, "name") == 0 &&
                 ws_check_part(vs, "value") == 0 &&
                 (line = PyUnicode_FromFormat("%U: %U\r\n", ks, vs)) &&
                 (lb = PyUnicode_AsUTF8String(line));
        if (ok)
            PyBytes_Concat(&out, lb);
        else
            Py_CLEAR(out);
        Py_XDECREF(lb);
        Py_XDECREF(line);
        Py_XDECREF(ks);
        Py_XDECREF(vs);
        Py_DECREF(item);
    }
    Py_DECREF(it);
    if (out && PyErr_Occurred())
        Py_CLEAR(out);
    return out;
}

/* Raises a KeyboardInterrupt/SystemExit left by a handler that ran inside
 * the call, when no poll() will do it. */
static PyObject *ws_finish(CoreObject *c, PyObject *r) {
    if (r && c && !c->polling && c->exc_type) {
        Py_DECREF(r);
        PyErr_Restore(c->exc_type, c->exc_value, c->exc_tb);
        c->exc_type = c->exc_value = c->exc_tb = NULL;
        return NULL;
    }
    return r;
}

static PyObject *conn_ws_upgrade(ConnObject *cn, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"message", "extra_headers", NULL};
    PyObject *msg_o, *extra_o = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:ws_upgrade", kwlist, &msg_o, &extra_o))
        return NULL;
    PyObject *type = http_msg_type();
    if (!type)
        return NULL;
    if (!PyObject_TypeCheck(msg_o, (PyTypeObject *)type)) {
        PyErr_Format(PyExc_TypeError,
                     "Argument 'message' has incorrect type (expected pymongoose._mongoose.HttpMessage, got %s)",
                     Py_TYPE(msg_o)->tp_name);
        return NULL;
    }
    HttpMsgObject *m = (HttpMsgObject *)msg_o;
    if (!m->valid || !m->head) {
        PyErr_SetString(PyExc_ValueError, "HttpMessage is not valid for this event");
        return NULL;
    }
    PyObject *extra = NULL;
    if (extra_o != Py_None && !(extra = ws_format_headers(extra_o)))
        return NULL;
    if (cn->id == 0 || pmg_forked()) {
        Py_XDECREF(extra);
        if (pmg_forked())
            return pmg_fork_error();
        return pmg_closed_error();
    }
    CoreObject *c = cn->core;
    Py_INCREF(cn);
    Py_INCREF(m);
    Py_XINCREF(c);
    int rc = pmg_ws_upgrade(cn->mid, cn->id, (char *)m->head, m->head_len, (char *)m->body,
                            m->body_len, m->spans, m->nhdr, extra ? PyBytes_AS_STRING(extra) : NULL,
                            extra ? PyBytes_GET_SIZE(extra) : 0);
    Py_XDECREF(extra);
    PyObject *r;
    if (rc == -1)
        r = pmg_closed_error();
    else if (rc != 0) {
        PyErr_SetString(PyExc_RuntimeError, "ws_upgrade failed");
        r = NULL;
    } else
        r = Py_NewRef(Py_None);
    r = ws_finish(c, r);
    Py_XDECREF(c);
    Py_DECREF(m);
    Py_DECREF(cn);
    return r;
}

static PyObject *conn_ws_send(ConnObject *cn, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"data", "op", NULL};
    PyObject *data_o, *op_o = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:ws_send", kwlist, &data_o, &op_o))
        return NULL;
    long long op = 1; /* WEBSOCKET_OP_TEXT */
    if (op_o) {
        if (!PyLong_Check(op_o)) {
            PyErr_SetString(PyExc_TypeError, "an integer is required");
            return NULL;
        }
        op = PyLong_AsLongLong(op_o);
        if (op == -1 && PyErr_Occurred())
            return NULL;
        if (op < INT_MIN || op > INT_MAX) { /* a C int, as the reference's signature */
            PyErr_SetString(PyExc_OverflowError, "value too large to convert to int");
            return NULL;
        }
    }
    PyObject *b = pmg_to_bytes(data_o);
    if (!b)
        return NULL;
    if (cn->id == 0 || pmg_forked()) {
        Py_DECREF(b);
        if (pmg_forked())
            return pmg_fork_error();
        return pmg_closed_error();
    }
    int rc = pmg_ws_send(cn->mid, cn->id, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b), op);
    Py_DECREF(b);
    if (rc == -1)
        return pmg_closed_error();
    if (rc != 0) {
        PyErr_SetString(PyExc_RuntimeError, "ws_send failed");
        return NULL;
    }
    Py_RETURN_NONE;
}

PyMethodDef pmg_ws_conn_methods[] = {
    {"ws_upgrade", (PyCFunction)(void (*)(void))conn_ws_upgrade, METH_VARARGS | METH_KEYWORDS,
     "ws_upgrade(message, extra_headers=None): answer a WebSocket upgrade request; "
     "MG_EV_WS_OPEN is delivered before it returns."},
    {"ws_send", (PyCFunction)(void (*)(void))conn_ws_send, METH_VARARGS | METH_KEYWORDS,
     "ws_send(data, op=WEBSOCKET_OP_TEXT): queue one WebSocket frame "
     "(masked on client connections)."},
    {NULL}};
