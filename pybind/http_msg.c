/* HttpMessage: a view of a parsed request or response, valid only while
 * the handler runs (the engine's buffer is only borrowed). Spans come from
 * Go laid out as native.h's PMG_SPAN_INTS; header_var() and query_var()
 * parse in Go (http_msg.go), over the fuzzed code of core. */
#include "native.h"
#include "_cgo_export.h"

#include <string.h>

PyObject *pmg_http_msg_new(const char *head, Py_ssize_t hn, const char *body, Py_ssize_t bn,
                               const int32_t *spans, int nhdr) {
    HttpMsgObject *m = PyObject_New(HttpMsgObject, &pmg_HttpMsgType);
    if (!m)
        return NULL;
    m->spans = m->inline_spans;
    if (nhdr > PMG_MAX_HEADERS) {
        m->spans = PyMem_Malloc(sizeof(int32_t) * 2 * (4 + 2 * (size_t)nhdr));
        if (!m->spans) {
            m->spans = m->inline_spans;
            m->nhdr = 0;
            Py_DECREF(m);
            return PyErr_NoMemory();
        }
    }
    m->head = head;
    m->head_len = hn;
    m->body = body;
    m->body_len = bn;
    m->nhdr = nhdr;
    m->valid = 1;
    memcpy(m->spans, spans, sizeof(int32_t) * 2 * (4 + 2 * nhdr));
    return (PyObject *)m;
}

static void http_msg_free_spans(HttpMsgObject *m) {
    if (m->spans != m->inline_spans)
        PyMem_Free(m->spans);
    m->spans = m->inline_spans;
}

void pmg_http_msg_invalidate(PyObject *o) {
    HttpMsgObject *m = (HttpMsgObject *)o;
    http_msg_free_spans(m);
    m->valid = 0;
    m->head = m->body = NULL;
    m->head_len = m->body_len = 0;
    m->nhdr = 0;
}

static PyObject *http_msg_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    HttpMsgObject *m = (HttpMsgObject *)type->tp_alloc(type, 0);
    if (m)
        m->spans = m->inline_spans;
    return (PyObject *)m; /* otherwise zeroed: an invalid view */
}

static void http_msg_dealloc(HttpMsgObject *m) {
    http_msg_free_spans(m);
    Py_TYPE(m)->tp_free((PyObject *)m);
}

static const char *span_ptr(HttpMsgObject *m, int i, Py_ssize_t *n) {
    int32_t off = m->spans[2 * i], len = m->spans[2 * i + 1];
    if (!m->valid || off < 0 || len <= 0 || (Py_ssize_t)off + len > m->head_len) {
        *n = 0;
        return "";
    }
    *n = len;
    return m->head + off;
}

static PyObject *span_str(HttpMsgObject *m, int i) {
    Py_ssize_t n;
    const char *p = span_ptr(m, i, &n);
    return pmg_decode(p, n);
}

static PyObject *http_get_method(HttpMsgObject *m, void *x) { return span_str(m, 0); }
static PyObject *http_get_uri(HttpMsgObject *m, void *x) { return span_str(m, 1); }
static PyObject *http_get_query(HttpMsgObject *m, void *x) { return span_str(m, 2); }
static PyObject *http_get_proto(HttpMsgObject *m, void *x) { return span_str(m, 3); }

static PyObject *http_get_body_bytes(HttpMsgObject *m, void *x) {
    if (!m->valid || !m->body)
        return PyBytes_FromStringAndSize("", 0);
    return PyBytes_FromStringAndSize(m->body, m->body_len);
}

static PyObject *http_get_body_text(HttpMsgObject *m, void *x) {
    if (!m->valid || !m->body)
        return PyUnicode_FromString("");
    return pmg_decode(m->body, m->body_len);
}

/* Returns the value span of the first header named name, or NULL. */
static const char *find_header(HttpMsgObject *m, const char *name, Py_ssize_t nlen, Py_ssize_t *vlen) {
    if (!m->valid)
        return NULL;
    for (int i = 0; i < m->nhdr; i++) {
        Py_ssize_t kn;
        const char *k = span_ptr(m, 4 + 2 * i, &kn);
        if (kn == nlen && pmg_ascii_casecmp(k, name, nlen) == 0)
            return span_ptr(m, 5 + 2 * i, vlen);
    }
    return NULL;
}

static PyObject *http_header(HttpMsgObject *m, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"name", "default", NULL};
    PyObject *name_o, *def = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:header", kwlist, &name_o, &def))
        return NULL;
    Py_ssize_t nlen, vlen;
    const char *name = pmg_str_arg(name_o, "name", &nlen);
    if (!name)
        return NULL;
    const char *v = find_header(m, name, nlen, &vlen);
    if (!v)
        return Py_NewRef(def);
    return pmg_decode(v, vlen);
}

static PyObject *http_headers(HttpMsgObject *m, PyObject *unused) {
    PyObject *list = PyList_New(0);
    if (!list || !m->valid)
        return list;
    for (int i = 0; i < m->nhdr; i++) {
        Py_ssize_t kn, vn;
        const char *k = span_ptr(m, 4 + 2 * i, &kn);
        const char *v = span_ptr(m, 5 + 2 * i, &vn);
        PyObject *ks = pmg_decode(k, kn), *vs = ks ? pmg_decode(v, vn) : NULL;
        PyObject *t = vs ? PyTuple_Pack(2, ks, vs) : NULL;
        Py_XDECREF(ks);
        Py_XDECREF(vs);
        if (!t || PyList_Append(list, t) < 0) {
            Py_XDECREF(t);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(t);
    }
    return list;
}

/* mg_http_get_var over the query string with cymongoose 0.2's 2048-byte
 * buffer: the first name=value pair (case-insensitive name), form-decoded;
 * None when absent, empty or badly escaped, ValueError when longer than
 * 2047 bytes once decoded. */
static PyObject *http_query_var(HttpMsgObject *m, PyObject *name_o) {
    Py_ssize_t nlen, qn;
    const char *name = pmg_str_arg(name_o, "name", &nlen);
    if (!name)
        return NULL;
    const char *q = span_ptr(m, 2, &qn);
    if (!m->valid || qn == 0)
        Py_RETURN_NONE;
    char buf[2048]; /* cymongoose 0.2's buffer (docs/api.md 19.1) */
    long long n = 0;
    int rc = pmg_query_var((char *)q, qn, (char *)name, nlen, buf, sizeof buf - 1, &n);
    if (rc == PMG_RC_INVALID)
        return PyErr_Format(PyExc_ValueError, "Query parameter '%U' value exceeds 2048-byte buffer limit",
                            name_o);
    if (rc < 0)
        return pmg_internal_error("query_var");
    if (rc == 0)
        Py_RETURN_NONE;
    return pmg_decode(buf, (Py_ssize_t)n);
}

static PyObject *http_status(HttpMsgObject *m, PyObject *unused) {
    if (!m->valid)
        Py_RETURN_NONE;
    Py_ssize_t n;
    const char *p = span_ptr(m, 1, &n);
    Py_ssize_t i = 0;
    long long v = 0;
    int neg = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    if (i < n && (p[i] == '-' || p[i] == '+'))
        neg = p[i++] == '-';
    while (i < n && p[i] >= '0' && p[i] <= '9' && v < 100000000000LL)
        v = v * 10 + (p[i++] - '0');
    return PyLong_FromLongLong(neg ? -v : v);
}

/* mg_http_get_header_var, quirks included (16.1): a var=value of the
 * first header of that name, parsed in Go (core.HeaderVar). */
static PyObject *http_header_var(HttpMsgObject *m, PyObject *args) {
    PyObject *ho, *vo;
    if (!PyArg_ParseTuple(args, "OO:header_var", &ho, &vo))
        return NULL;
    Py_ssize_t hn, vn, sn;
    const char *h = pmg_str_arg(ho, "header_name", &hn);
    if (!h)
        return NULL;
    const char *v = pmg_str_arg(vo, "var_name", &vn);
    if (!v)
        return NULL;
    const char *s = find_header(m, h, hn, &sn);
    if (!s)
        Py_RETURN_NONE;
    long long off = 0, len = 0;
    int rc = pmg_header_var((char *)s, sn, (char *)v, vn, &off, &len);
    if (rc < 0)
        return pmg_internal_error("header_var");
    if (rc == 0)
        Py_RETURN_NONE;
    return pmg_decode(s + off, (Py_ssize_t)len);
}

static int http_bool(HttpMsgObject *m) { return m->valid; }

static PyNumberMethods http_as_number = {.nb_bool = (inquiry)http_bool};

static PyMethodDef http_methods[] = {
    {"header", (PyCFunction)(void (*)(void))http_header, METH_VARARGS | METH_KEYWORDS,
     "header(name, default=None): first header with that name (case-insensitive)."},
    {"headers", (PyCFunction)http_headers, METH_NOARGS, "headers() -> list of (name, value)."},
    {"query_var", (PyCFunction)http_query_var, METH_O, "query_var(name): decoded query variable or None."},
    {"status", (PyCFunction)http_status, METH_NOARGS, "status() -> int: status code of a response."},
    {"header_var", (PyCFunction)http_header_var, METH_VARARGS,
     "header_var(header_name, var_name): variable from a header value, or None."},
    {NULL}};

static PyGetSetDef http_getset[] = {
    {"method", (getter)http_get_method, NULL, "Request method (protocol for responses).", NULL},
    {"uri", (getter)http_get_uri, NULL, "Path without the query string.", NULL},
    {"query", (getter)http_get_query, NULL, "Query string without '?'.", NULL},
    {"proto", (getter)http_get_proto, NULL, "Protocol (reason phrase for responses).", NULL},
    {"body_bytes", (getter)http_get_body_bytes, NULL, "Body as bytes.", NULL},
    {"body_text", (getter)http_get_body_text, NULL, "Body as str.", NULL},
    {NULL}};

PyTypeObject pmg_HttpMsgType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pymongoose._mongoose.HttpMessage",
    .tp_doc = "A parsed HTTP request or response; valid only during the handler call.",
    .tp_basicsize = sizeof(HttpMsgObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = http_msg_new,
    .tp_dealloc = (destructor)http_msg_dealloc,
    .tp_as_number = &http_as_number,
    .tp_methods = http_methods,
    .tp_getset = http_getset,
};

/* The message argument of serve_dir, serve_file and ws_upgrade: an HttpMessage that is still
 * valid (TypeError / ValueError otherwise). */
HttpMsgObject *pmg_http_msg_arg(PyObject *o) {
    if (!PyObject_TypeCheck(o, &pmg_HttpMsgType))
        return (HttpMsgObject *)pmg_arg_type_error("message", "pymongoose._mongoose.HttpMessage", o);
    HttpMsgObject *m = (HttpMsgObject *)o;
    if (!m->valid || !m->head || m->head_len <= 0) {
        PyErr_SetString(PyExc_ValueError, "HttpMessage is not valid for this event");
        return NULL;
    }
    return m;
}
