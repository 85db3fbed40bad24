/* The Connection type: a wrapper per engine connection, its attributes
 * (a snapshot the engine fills in), and the methods every protocol shares:
 * send, reply, http_chunk, drain, close, error, recv_data/send_data. The
 * protocol methods are in http.c, ws.c, mqtt.c, net.c and tls.c. Go side:
 * conn.go. */
#include "native.h"
#include "_cgo_export.h"

#include <string.h>

static int conn_traverse(ConnObject *cn, visitproc visit, void *arg) {
    Py_VISIT(cn->handler);
    Py_VISIT(cn->userdata);
    Py_VISIT(cn->core);
    return 0;
}

static int conn_clear(ConnObject *cn) {
    Py_CLEAR(cn->handler);
    Py_CLEAR(cn->userdata);
    Py_CLEAR(cn->core);
    return 0;
}

static void conn_dealloc(ConnObject *cn) {
    PyObject_GC_UnTrack(cn);
    conn_clear(cn);
    PyMem_Free(cn->was);
    Py_TYPE(cn)->tp_free((PyObject *)cn);
}

/* A directly constructed Connection is a closed wrapper. */
static PyObject *conn_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    ConnObject *cn = (ConnObject *)type->tp_alloc(type, 0);
    if (!cn)
        return NULL;
    cn->handler = Py_NewRef(Py_None);
    cn->userdata = Py_NewRef(Py_None);
    return (PyObject *)cn;
}

/* Fills info; returns 0 when the wrapper is closed, -1 with the
 * RuntimeError when another thread is inside the Manager. */
static int conn_info(ConnObject *cn, pmg_info *info) {
    memset(info, 0, sizeof(*info));
    if (pmg_conn_gone(cn))
        return 0;
    long long mid = CONN_MID(cn);
    if (mid == 0 && PyErr_Occurred())
        return -1;
    return pmg_conn_info(mid, cn->id, info);
}

static PyObject *conn_flag(ConnObject *cn, unsigned int flag) {
    pmg_info info;
    int ok = conn_info(cn, &info);
    if (ok < 0)
        return NULL;
    if (!ok) {
        if (cn->was && (flag & PMG_F_IDENTITY))
            return PyBool_FromLong((cn->was->info.flags & flag) != 0);
        return PyBool_FromLong(flag == PMG_F_CLOSING);
    }
    if (flag == PMG_F_CLOSING && pmg_conn_in_close(cn))
        Py_RETURN_TRUE;
    return PyBool_FromLong((info.flags & flag) != 0);
}

#define FLAG_GETTER(name, flag) \
    static PyObject *conn_get_##name(ConnObject *cn, void *x) { return conn_flag(cn, flag); }
FLAG_GETTER(is_listening, PMG_F_LISTENING)
FLAG_GETTER(is_client, PMG_F_CLIENT)
FLAG_GETTER(is_tls, PMG_F_TLS)
FLAG_GETTER(is_udp, PMG_F_UDP)
FLAG_GETTER(is_websocket, PMG_F_WEBSOCKET)
FLAG_GETTER(is_readable, PMG_F_READABLE)
FLAG_GETTER(is_writable, PMG_F_WRITABLE)
FLAG_GETTER(is_full, PMG_F_FULL)
FLAG_GETTER(is_draining, PMG_F_DRAINING)
FLAG_GETTER(is_closing, PMG_F_CLOSING)

#define LEN_GETTER(name)                                           \
    static PyObject *conn_get_##name(ConnObject *cn, void *x) {     \
        pmg_info info;                                             \
        if (conn_info(cn, &info) < 0)                              \
            return NULL;                                           \
        return PyLong_FromLongLong(info.name);                     \
    }
LEN_GETTER(recv_len)
LEN_GETTER(send_len)
LEN_GETTER(recv_size)
LEN_GETTER(send_size)

static PyObject *conn_get_id(ConnObject *cn, void *x) {
    return PyLong_FromUnsignedLongLong(cn->id ? cn->id : cn->was ? cn->was->id : 0);
}

static PyObject *format_addr(const unsigned char *ip, int port, int v6) {
    char buf[64];
    if (v6) {
        snprintf(buf, sizeof buf,
                 "%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x",
                 ip[0], ip[1], ip[2], ip[3], ip[4], ip[5], ip[6], ip[7], ip[8], ip[9], ip[10],
                 ip[11], ip[12], ip[13], ip[14], ip[15]);
    } else {
        snprintf(buf, sizeof buf, "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
    }
    return Py_BuildValue("(siO)", buf, port, v6 ? Py_True : Py_False);
}

/* The live connection's info, else what the closed one was; NULL if neither. */
static const pmg_info *conn_addr_info(ConnObject *cn, pmg_info *info) {
    int ok = conn_info(cn, info);
    if (ok)
        return ok > 0 ? info : NULL;
    return cn->was ? &cn->was->info : NULL;
}

static PyObject *conn_get_local_addr(ConnObject *cn, void *x) {
    pmg_info buf;
    const pmg_info *info = conn_addr_info(cn, &buf);
    if (!info)
        return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
    return format_addr(info->local_ip, info->local_port, info->local_v6);
}

static PyObject *conn_get_remote_addr(ConnObject *cn, void *x) {
    pmg_info buf;
    const pmg_info *info = conn_addr_info(cn, &buf);
    if (!info)
        return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
    return format_addr(info->remote_ip, info->remote_port, info->remote_v6);
}

static PyObject *conn_get_handler(ConnObject *cn, void *x) { return Py_NewRef(cn->handler); }

static PyObject *conn_set_handler(ConnObject *cn, PyObject *h) {
    Py_INCREF(h);
    Py_SETREF(cn->handler, h);
    Py_RETURN_NONE;
}

static PyObject *conn_get_userdata(ConnObject *cn, void *x) { return Py_NewRef(cn->userdata); }

static int conn_set_userdata(ConnObject *cn, PyObject *v, void *x) {
    if (!v)
        v = Py_None;
    Py_INCREF(v);
    Py_SETREF(cn->userdata, v);
    return 0;
}

static PyObject *conn_repr(ConnObject *cn) {
    pmg_info info;
    int ok = conn_info(cn, &info);
    if (ok < 0) { /* repr() must work from anywhere (tracebacks, debuggers) */
        PyErr_Clear();
        return PyUnicode_FromFormat("<Connection id=%llu>", cn->id);
    }
    if (!ok)
        return PyUnicode_FromString("<Connection closed>");
    return PyUnicode_FromFormat("<Connection id=%llu readable=%s writable=%s>", cn->id,
                                (info.flags & PMG_F_READABLE) ? "True" : "False",
                                (info.flags & PMG_F_WRITABLE) ? "True" : "False");
}

static int parse_length(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                        long long *length) {
    PyObject *lo = NULL;
    *length = -1;
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "expected at most 1 argument");
        return -1;
    }
    if (nargs == 1)
        lo = args[0];
    if (kwnames) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); i++) {
            PyObject *k = PyTuple_GET_ITEM(kwnames, i);
            if (PyUnicode_CompareWithASCIIString(k, "length") != 0 || lo) {
                PyErr_Format(PyExc_TypeError, "unexpected keyword argument %R", k);
                return -1;
            }
            lo = args[nargs + i];
        }
    }
    if (lo) {
        if (!PyLong_Check(lo)) {
            pmg_arg_type_error("length", "int", lo);
            return -1;
        }
        *length = PyLong_AsLongLong(lo);
        if (*length == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            *length = _PyLong_Sign(lo) < 0 ? -1 : LLONG_MAX;
        }
    }
    return 0;
}

static PyObject *conn_copy(ConnObject *cn, int which, long long length) {
    if (cn->id && CONN_MID(cn) == 0 && PyErr_Occurred())
        return NULL; /* named as recv_data/send_data rather than an attribute */
    pmg_info info;
    int ok = conn_info(cn, &info);
    if (ok <= 0)
        return ok < 0 ? NULL : PyBytes_FromStringAndSize("", 0);
    long long have = which ? info.send_len : info.recv_len;
    long long n = (length < 0 || length > have) ? have : length;
    PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n);
    if (!b)
        return NULL;
    if (n > 0) {
        long long got = pmg_conn_copy(CONN_MID(cn), cn->id, which, PyBytes_AS_STRING(b), n);
        if (got != n) {
            Py_DECREF(b);
            return PyBytes_FromStringAndSize("", 0);
        }
    }
    return b;
}

static PyObject *conn_recv_data(ConnObject *cn, PyObject *const *args, Py_ssize_t nargs, PyObject *kw) {
    long long length;
    if (parse_length(args, nargs, kw, &length) < 0)
        return NULL;
    return conn_copy(cn, 0, length);
}

static PyObject *conn_send_data(ConnObject *cn, PyObject *const *args, Py_ssize_t nargs, PyObject *kw) {
    long long length;
    if (parse_length(args, nargs, kw, &length) < 0)
        return NULL;
    return conn_copy(cn, 1, length);
}

/* send() and http_chunk(): data as bytes to one Go call. */
static PyObject *conn_send_bytes(ConnObject *cn, PyObject *data, int chunk) {
    PyObject *b = pmg_to_bytes(data);
    if (!b)
        return NULL;
    if (pmg_conn_gone(cn)) {
        Py_DECREF(b);
        return pmg_not_open_error();
    }
    long long mid = pmg_conn_mid(cn, chunk ? "http_chunk" : "send");
    if (mid == 0 && PyErr_Occurred()) { /* another thread is inside: its pending exception stays */
        Py_DECREF(b);
        return NULL;
    }
    CoreObject *c = pmg_conn_hold(cn); /* a UDP send() delivers MG_EV_ERROR, MG_EV_CLOSE at once */
    int rc = chunk ? pmg_conn_chunk(mid, cn->id, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b))
                   : pmg_conn_send(mid, cn->id, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
    Py_DECREF(b);
    return pmg_conn_release(cn, c, pmg_rc_none(rc, "mg_send failed"));
}

static PyObject *conn_send(ConnObject *cn, PyObject *data) { return conn_send_bytes(cn, data, 0); }

static PyObject *conn_http_chunk(ConnObject *cn, PyObject *data) { return conn_send_bytes(cn, data, 1); }

/* _http_send(data, end): raw response bytes framed by a server adapter
 * (pymongoose.asgi/wsgi); end=True finishes the HTTP response so that the
 * next pipelined request is parsed. data must be bytes (no conversion). */
static PyObject *conn_http_send(ConnObject *cn, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "_http_send(data: bytes, end: bool)");
        return NULL;
    }
    int end = PyObject_IsTrue(args[1]);
    if (end < 0)
        return NULL;
    if (pmg_conn_gone(cn))
        return pmg_not_open_error();
    int rc = pmg_conn_send_response(CONN_MID(cn), cn->id, PyBytes_AS_STRING(args[0]),
                                    PyBytes_GET_SIZE(args[0]), end);
    return pmg_rc_none(rc, "mg_send failed");
}

static PyObject *conn_reply(ConnObject *cn, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"status_code", "body", "headers", NULL};
    PyObject *a[3];
    if (pmg_parse_fast("reply", args, nargs, kwnames, names, 1, a) < 0)
        return NULL;
    PyObject *code_o = a[0], *body_o = a[1], *headers_o = a[2] ? a[2] : Py_None;
    if (!PyLong_Check(code_o)) {
        PyErr_SetString(PyExc_TypeError, "an integer is required");
        return NULL;
    }
    long long code = PyLong_AsLongLong(code_o);
    if (code == -1 && PyErr_Occurred())
        return NULL;
    PyObject *body = body_o ? pmg_to_bytes(body_o) : PyBytes_FromStringAndSize("", 0);
    if (!body)
        return NULL;
    PyObject *hdrs = NULL;
    char hbuf[1024];
    Py_ssize_t hlen = -1;
    const char *hp = NULL;
    if (headers_o != Py_None) {
        hlen = pmg_format_headers_fast(headers_o, hbuf, sizeof hbuf);
        if (hlen == -2) {
            Py_DECREF(body);
            return NULL;
        }
        if (hlen >= 0) {
            hp = hbuf;
        } else if ((hdrs = pmg_format_headers(headers_o))) {
            hp = PyBytes_AS_STRING(hdrs);
            hlen = PyBytes_GET_SIZE(hdrs);
        } else {
            Py_DECREF(body);
            return NULL;
        }
    }
    if (pmg_conn_gone(cn)) {
        Py_DECREF(body);
        Py_XDECREF(hdrs);
        return pmg_not_open_error();
    }
    /* hp == NULL with hlen == 0 (an empty dict) means no header lines at
     * all; headers=None means the default Content-Type line. */
    int rc = pmg_conn_reply(CONN_MID(cn), cn->id, code, (char *)(hp ? hp : hbuf), hlen < 0 ? 0 : hlen,
                            headers_o == Py_None, PyBytes_AS_STRING(body), PyBytes_GET_SIZE(body));
    Py_DECREF(body);
    Py_XDECREF(hdrs);
    if (rc != 0)
        return pmg_closed_error();
    Py_RETURN_NONE;
}

static PyObject *conn_drain(ConnObject *cn, PyObject *unused) {
    if (cn->id != 0 && !pmg_conn_in_close(cn) && !pmg_forked()) {
        long long mid = CONN_MID(cn);
        if (mid == 0 && PyErr_Occurred())
            return NULL;
        pmg_conn_drain(mid, cn->id);
    }
    Py_RETURN_NONE;
}

static PyObject *conn_close(ConnObject *cn, PyObject *unused) {
    if (cn->id == 0 || pmg_conn_in_close(cn) || pmg_forked())
        Py_RETURN_NONE;
    long long mid = CONN_MID(cn);
    if (mid == 0 && PyErr_Occurred())
        return NULL;
    CoreObject *c = pmg_conn_hold(cn);
    pmg_conn_close(mid, cn->id); /* delivers MG_EV_CLOSE */
    return pmg_conn_release(cn, c, Py_NewRef(Py_None));
}

static PyObject *conn_error(ConnObject *cn, PyObject *msg) {
    Py_ssize_t n;
    const char *p = pmg_str_arg(msg, "message", &n);
    if (!p)
        return NULL;
    if (pmg_conn_gone(cn))
        return pmg_not_open_error();
    CoreObject *c = pmg_conn_hold(cn);
    int rc = pmg_conn_error(CONN_MID(cn), cn->id, (char *)p, n);
    return pmg_conn_release(cn, c, rc == 0 ? Py_NewRef(Py_None) : pmg_closed_error());
}

PyMethodDef pmg_conn_methods[] = {
    {"set_handler", (PyCFunction)conn_set_handler, METH_O,
     "Set the handler for this connection's events (None falls back to the Manager's)."},
    {"recv_data", (PyCFunction)(void (*)(void))conn_recv_data, METH_FASTCALL | METH_KEYWORDS,
     "recv_data(length=-1) -> bytes: copy of the receive buffer (not consumed)."},
    {"send_data", (PyCFunction)(void (*)(void))conn_send_data, METH_FASTCALL | METH_KEYWORDS,
     "send_data(length=-1) -> bytes: copy of the bytes queued for sending."},
    {"send", (PyCFunction)conn_send, METH_O, "send(data): queue raw bytes (str is UTF-8 encoded)."},
    {"_http_send", (PyCFunction)(void (*)(void))conn_http_send, METH_FASTCALL,
     "_http_send(data, end): raw HTTP response bytes from a server adapter (private)."},
    {"reply", (PyCFunction)(void (*)(void))conn_reply, METH_FASTCALL | METH_KEYWORDS,
     "reply(status_code, body=b'', headers=None): queue a complete HTTP/1.1 response."},
    {"http_chunk", (PyCFunction)conn_http_chunk, METH_O,
     "http_chunk(data): queue one chunk of a chunked response; empty data ends it."},
    {"drain", (PyCFunction)conn_drain, METH_NOARGS,
     "Stop reading, flush the send buffer, then close (graceful close)."},
    {"close", (PyCFunction)conn_close, METH_NOARGS,
     "Close immediately: MG_EV_CLOSE is delivered before this returns; unsent data is dropped."},
    {"error", (PyCFunction)conn_error, METH_O,
     "error(message): deliver MG_EV_ERROR with message and close the connection."},
    {NULL}};

static PyGetSetDef conn_getset[] = {
    {"id", (getter)conn_get_id, NULL, "Connection id (kept once closed; 0 for a directly constructed Connection).", NULL},
    {"handler", (getter)conn_get_handler, NULL, "This connection's own handler, or None.", NULL},
    {"userdata", (getter)conn_get_userdata, (setter)conn_set_userdata, "Any Python object.", NULL},
    {"is_listening", (getter)conn_get_is_listening, NULL, NULL, NULL},
    {"is_client", (getter)conn_get_is_client, NULL, NULL, NULL},
    {"is_tls", (getter)conn_get_is_tls, NULL, NULL, NULL},
    {"is_udp", (getter)conn_get_is_udp, NULL, NULL, NULL},
    {"is_websocket", (getter)conn_get_is_websocket, NULL, NULL, NULL},
    {"is_readable", (getter)conn_get_is_readable, NULL, NULL, NULL},
    {"is_writable", (getter)conn_get_is_writable, NULL, NULL, NULL},
    {"is_full", (getter)conn_get_is_full, NULL, NULL, NULL},
    {"is_draining", (getter)conn_get_is_draining, NULL, "True once drain() was called.", NULL},
    {"is_closing", (getter)conn_get_is_closing, NULL, NULL, NULL},
    {"local_addr", (getter)conn_get_local_addr, NULL, "(ip, port, is_ipv6) or None.", NULL},
    {"remote_addr", (getter)conn_get_remote_addr, NULL, "(ip, port, is_ipv6) or None.", NULL},
    {"recv_len", (getter)conn_get_recv_len, NULL, NULL, NULL},
    {"send_len", (getter)conn_get_send_len, NULL, NULL, NULL},
    {"recv_size", (getter)conn_get_recv_size, NULL, NULL, NULL},
    {"send_size", (getter)conn_get_send_size, NULL, NULL, NULL},
    {NULL}};

PyTypeObject pmg_ConnType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pymongoose._mongoose.Connection",
    .tp_doc = "A network connection owned by a Manager.",
    .tp_basicsize = sizeof(ConnObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = conn_new,
    .tp_dealloc = (destructor)conn_dealloc,
    .tp_traverse = (traverseproc)conn_traverse,
    .tp_clear = (inquiry)conn_clear,
    .tp_repr = (reprfunc)conn_repr,
        .tp_getset = conn_getset,
};

