/* Connection methods for WebSocket: ws_upgrade, ws_send (Go side: ws.go). */
#include "native.h"
#include "_cgo_export.h"

#include <limits.h>

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
    if (pmg_conn_gone(cn)) {
        Py_XDECREF(extra);
        return pmg_not_open_error();
    }
    CoreObject *c = pmg_conn_hold(cn);
    Py_INCREF(m);
    int rc = pmg_ws_upgrade(CONN_MID(cn), cn->id, (char *)m->head, m->head_len, (char *)m->body,
                            m->body_len, m->spans, m->nhdr, extra ? PyBytes_AS_STRING(extra) : NULL,
                            extra ? PyBytes_GET_SIZE(extra) : 0);
    Py_XDECREF(extra);
    Py_DECREF(m);
    if (rc == PMG_RC_INVALID)
        PyErr_SetString(PyExc_ValueError, "ws_upgrade: the Sec-WebSocket-Protocol in extra_headers must be "
                                          "one of the subprotocols the client offered");
    return pmg_conn_release(cn, c, rc == PMG_RC_INVALID ? NULL : pmg_rc_none(rc, "ws_upgrade failed"));
}

static PyObject *conn_ws_send(ConnObject *cn, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"data", "op", NULL};
    PyObject *data_o, *op_o = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:ws_send", kwlist, &data_o, &op_o))
        return NULL;
    long long op = PMG_WS_OP_TEXT;
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
    if (pmg_conn_gone(cn)) {
        Py_DECREF(b);
        return pmg_not_open_error();
    }
    int rc = pmg_ws_send(CONN_MID(cn), cn->id, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b), op);
    Py_DECREF(b);
    return pmg_rc_none(rc, "ws_send failed");
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
