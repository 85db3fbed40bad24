/* Connection methods for TLS (tls_init, tls_free), docs/api.md section 11.
 * TlsOpts is the Python class of pymongoose/_tls.py, published as
 * pymongoose._mongoose.TlsOpts; its fields are read here and handed to Go
 * (tls.go, core/tls.go) as (char*, len). */
#include "native.h"
#include "_cgo_export.h"

/* The TlsOpts class, looked up once in pymongoose._mongoose. */
static PyObject *tls_opts_class(void) {
    static PyObject *cls;
    if (cls)
        return cls;
    PyObject *mod = PyImport_ImportModule("pymongoose._mongoose");
    if (!mod)
        return NULL;
    PyObject *k = PyObject_GetAttrString(mod, "TlsOpts");
    Py_DECREF(mod);
    if (!k)
        return NULL;
    cls = k; /* kept for the life of the process */
    return cls;
}

/* A bytes field of TlsOpts: a new reference to a bytes object. */
static PyObject *tls_field(PyObject *opts, const char *name) {
    PyObject *v = PyObject_GetAttrString(opts, name);
    if (!v)
        return NULL;
    if (v == Py_None) {
        Py_DECREF(v);
        return PyBytes_FromStringAndSize("", 0);
    }
    if (!PyBytes_Check(v)) {
        PyErr_Format(PyExc_TypeError, "TlsOpts.%s: expected bytes, got %.200s", name,
                     Py_TYPE(v)->tp_name);
        Py_DECREF(v);
        return NULL;
    }
    return v;
}

static PyObject *conn_tls_init(ConnObject *cn, PyObject *opts) {
    PyObject *cls = tls_opts_class();
    if (!cls)
        return NULL;
    int ok = PyObject_IsInstance(opts, cls);
    if (ok < 0)
        return NULL;
    if (!ok)
        return pmg_arg_type_error("opts", "pymongoose._mongoose.TlsOpts", opts);
    static const char *names[4] = {"ca", "cert", "key", "name"};
    PyObject *f[4] = {NULL, NULL, NULL, NULL};
    PyObject *r = NULL;
    for (int i = 0; i < 4; i++) {
        if (!(f[i] = tls_field(opts, names[i])))
            goto out;
    }
    PyObject *sv = PyObject_GetAttrString(opts, "skip_verification");
    if (!sv)
        goto out;
    int skip = PyObject_IsTrue(sv);
    Py_DECREF(sv);
    if (skip < 0)
        goto out;
    if (pmg_conn_gone(cn)) {
        r = pmg_not_open_error();
        goto out;
    }
    CoreObject *c = pmg_conn_hold(cn);
    int rc = pmg_tls_init(CONN_MID(cn), cn->id,
                          PyBytes_AS_STRING(f[0]), (long long)PyBytes_GET_SIZE(f[0]),
                          PyBytes_AS_STRING(f[1]), (long long)PyBytes_GET_SIZE(f[1]),
                          PyBytes_AS_STRING(f[2]), (long long)PyBytes_GET_SIZE(f[2]),
                          PyBytes_AS_STRING(f[3]), (long long)PyBytes_GET_SIZE(f[3]), skip);
    r = pmg_conn_release(cn, c, pmg_rc_none(rc, "pymongoose: internal error in tls_init()"));
out:
    for (int i = 0; i < 4; i++)
        Py_XDECREF(f[i]);
    return r;
}

static PyObject *conn_tls_free(ConnObject *cn, PyObject *unused) {
    if (pmg_conn_gone(cn))
        return pmg_not_open_error();
    int rc = pmg_tls_free(CONN_MID(cn), cn->id);
    return pmg_rc_none(rc, "pymongoose: internal error in tls_free()");
}

PyMethodDef pmg_tls_conn_methods[] = {
    {"tls_init", (PyCFunction)conn_tls_init, METH_O,
     "tls_init(opts)\n--\n\n"
     "Attach TLS to this connection: client role on client connections, server role\n"
     "otherwise. Call it in MG_EV_ACCEPT (server) or in MG_EV_CONNECT / right after\n"
     "connect() (client); otherwise the connection continues in clear text. opts is a\n"
     "TlsOpts: ca verifies the peer's chain (on a server it requires a client\n"
     "certificate), name is the expected server name (else the URL host),\n"
     "skip_verification turns every check off. MG_EV_TLS_HS follows the handshake; bad\n"
     "key material or a failed handshake gives MG_EV_ERROR and a close."},
    {"tls_free", (PyCFunction)conn_tls_free, METH_NOARGS,
     "tls_free()\n--\n\n"
     "Discard the TLS state (done automatically at close); the connection continues\n"
     "in clear text."},
    {NULL}};
