/* Connection methods for WebSocket: ws_upgrade, ws_send (Go side: ws.go). */
#include "native.h"
#include "_cgo_export.h"

#include <limits.h>

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
    HttpMsgObject *m = pmg_http_msg_arg(msg_o);
    if (!m)
        return NULL;
    PyObject *extra = NULL;
    if (extra_o != Py_None && !(extra = pmg_format_headers(extra_o)))
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
    int rc = pmg_ws_upgrade(CONN_MID(cn), cn->id, (char *)m->head, m->head_len, (char *)m->body,
                            m->body_len, m->spans, m->nhdr, extra ? PyBytes_AS_STRING(extra) : NULL,
                            extra ? PyBytes_GET_SIZE(extra) : 0);
    Py_XDECREF(extra);
    PyObject *r;
    if (rc == -1)
        r = pmg_closed_error();
    else if (rc == -3) {
        PyErr_SetString(PyExc_ValueError, "ws_upgrade: the Sec-WebSocket-Protocol in extra_headers must be "
                                          "one of the subprotocols the client offered");
        r = NULL;
    } else if (rc != 0) {
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
    int rc = pmg_ws_send(CONN_MID(cn), cn->id, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b), op);
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
     "MG_EV_WS_OPEN is delivered before it returns. The subprotocol is the Sec-WebSocket-Protocol "
     "of extra_headers (one of the offered values, else ValueError), or none."},
    {"ws_send", (PyCFunction)(void (*)(void))conn_ws_send, METH_VARARGS | METH_KEYWORDS,
     "ws_send(data, op=WEBSOCKET_OP_TEXT): queue one WebSocket frame "
     "(masked on client connections)."},
    {NULL}};
