/* Connection methods for name resolution and SNTP (docs/api.md 5.11): resolve,
 * resolve_cancel, sntp_request. The logic is in Go (core/resolve.go,
 * core/sntp.go) behind the exports of net.go. */
#include "native.h"
#include "_cgo_export.h"

static PyObject *conn_resolve(ConnObject *cn, PyObject *args, PyObject *kw) {
    PyObject *url = pmg_one_arg(args, kw, "resolve", "url");
    Py_ssize_t n;
    const char *p = url ? pmg_str_arg(url, "url", &n) : NULL;
    if (!p)
        return NULL;
    if (pmg_conn_gone(cn))
        return pmg_not_open_error();
    CoreObject *c = pmg_conn_hold(cn);
    int rc = pmg_net_resolve(CONN_MID(cn), cn->id, (char *)p, (long long)n);
    return pmg_conn_release(cn, c, pmg_rc_none(rc, "pymongoose: internal error in resolve()"));
}

static PyObject *conn_resolve_cancel(ConnObject *cn, PyObject *unused) {
    if (pmg_conn_gone(cn))
        return pmg_not_open_error();
    int rc = pmg_net_resolve_cancel(CONN_MID(cn), cn->id);
    return pmg_rc_none(rc, "pymongoose: internal error in resolve_cancel()");
}

static PyObject *conn_sntp_request(ConnObject *cn, PyObject *unused) {
    if (pmg_conn_gone(cn))
        return pmg_not_open_error();
    CoreObject *c = pmg_conn_hold(cn);
    int rc = pmg_net_sntp_request(CONN_MID(cn), cn->id);
    return pmg_conn_release(cn, c, pmg_rc_none(rc, "pymongoose: internal error in sntp_request()"));
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
