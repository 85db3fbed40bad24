/* Connection methods for name resolution and SNTP (API.md 5.11): resolve,
 * resolve_cancel, sntp_request. The logic is in Go (core/resolve.go,
 * core/sntp.go) behind the exports of net.go. */
#include "native.h"
#include "_cgo_export.h"

/* Events fired inside the call may have held back a KeyboardInterrupt or
 * SystemExit (API.md 2.4): it propagates from the method itself unless a
 * poll() is running, which will raise it. Steals r. */
static PyObject *net_finish(CoreObject *c, PyObject *r) {
    if (r && c && !c->polling && c->exc_type) {
        Py_DECREF(r);
        PyErr_Restore(c->exc_type, c->exc_value, c->exc_tb);
        c->exc_type = c->exc_value = c->exc_tb = NULL;
        return NULL;
    }
    return r;
}

static PyObject *net_internal(const char *name) {
    PyErr_Format(PyExc_RuntimeError, "pymongoose: internal error in %s()", name);
    return NULL;
}

/* Closed wrapper or a child after fork: the error to raise. */
static PyObject *net_closed(void) {
    if (pmg_forked())
        return pmg_fork_error();
    return pmg_closed_error();
}

static PyObject *conn_resolve(ConnObject *cn, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"url", NULL};
    PyObject *url;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:resolve", kwlist, &url))
        return NULL;
    if (!PyUnicode_Check(url)) {
        PyErr_Format(PyExc_TypeError, "Argument 'url' has incorrect type (expected str, got %.200s)",
                     Py_TYPE(url)->tp_name);
        return NULL;
    }
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(url, &n);
    if (!p)
        return NULL;
    if (cn->id == 0 || pmg_forked())
        return net_closed();
    CoreObject *c = cn->core;
    Py_INCREF(cn);
    Py_XINCREF(c);
    int rc = pmg_net_resolve(CONN_MID(cn), cn->id, (char *)p, (long long)n);
    PyObject *r = rc == 0 ? Py_NewRef(Py_None) : rc == -1 ? pmg_closed_error() : net_internal("resolve");
    r = net_finish(c, r);
    Py_XDECREF(c);
    Py_DECREF(cn);
    return r;
}

static PyObject *conn_resolve_cancel(ConnObject *cn, PyObject *unused) {
    if (cn->id == 0 || pmg_forked())
        return net_closed();
    int rc = pmg_net_resolve_cancel(CONN_MID(cn), cn->id);
    if (rc == -1)
        return pmg_closed_error();
    if (rc != 0)
        return net_internal("resolve_cancel");
    Py_RETURN_NONE;
}

static PyObject *conn_sntp_request(ConnObject *cn, PyObject *unused) {
    if (cn->id == 0 || pmg_forked())
        return net_closed();
    CoreObject *c = cn->core;
    Py_INCREF(cn);
    Py_XINCREF(c);
    int rc = pmg_net_sntp_request(CONN_MID(cn), cn->id);
    PyObject *r = rc == 0 ? Py_NewRef(Py_None) : rc == -1 ? pmg_closed_error() : net_internal("sntp_request");
    r = net_finish(c, r);
    Py_XDECREF(c);
    Py_DECREF(cn);
    return r;
}

PyMethodDef pmg_net_conn_methods[] = {
    {"resolve", (PyCFunction)(void (*)(void))conn_resolve, METH_VARARGS | METH_KEYWORDS,
     "resolve(url)\n--\n\n"
     "Resolve the host of url (IP literal or localhost at once, other names with the system\n"
     "resolver) and connect this connection to it: MG_EV_RESOLVE, then the connect events;\n"
     "a failed lookup gives MG_EV_ERROR (text containing 'DNS') and a close."},
    {"resolve_cancel", (PyCFunction)conn_resolve_cancel, METH_NOARGS,
     "resolve_cancel()\n--\n\n"
     "Cancel a pending name lookup of this connection; no event is delivered."},
    {"sntp_request", (PyCFunction)conn_sntp_request, METH_NOARGS,
     "sntp_request()\n--\n\n"
     "Send a 48-byte SNTP request (version 4, client mode, transmit time = local clock).\n"
     "Nothing is sent while the connection is still resolving."},
    {NULL}};
