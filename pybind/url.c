/* URL helpers of the module: url_host/user/pass/uri/port/is_ssl,
 * url_encode, http_var and match (glob patterns of URIs). Argument
 * conversion only: the logic is in Go (core/codec/urlparts.go, core/codec/urlencode.go,
 * core/codec/strfuncs.go, core/codec/glob.go), reached through url.go. */
#include "native.h"
#include "_cgo_export.h"

/* The span [s, e) of p as str. */
static PyObject *decode_span(const char *p, Py_ssize_t n) { return pmg_decode(n > 0 ? p : "", n > 0 ? n : 0); }

/* The url argument of the url_* functions as UTF-8, after the fork check. */
static const char *url_arg(PyObject *args, PyObject *kw, const char *fname, Py_ssize_t *n) {
    PyObject *url = pmg_one_arg(args, kw, fname, "url");
    const char *u = url ? pmg_str_arg(url, "url", n) : NULL;
    if (!u || pmg_check_fork() < 0)
        return NULL;
    return u;
}

static PyObject *url_part(PyObject *args, PyObject *kw, const char *fname, int which) {
    Py_ssize_t n;
    const char *u = url_arg(args, kw, fname, &n);
    if (!u)
        return NULL;
    long long s = 0, e = 0;
    int rc = pmg_url_part((char *)u, n, which, &s, &e);
    if (rc < 0)
        return pmg_internal_error(fname);
    if (rc == 0)
        return PyUnicode_FromString("/");
    return decode_span(u + s, (Py_ssize_t)(e - s));
}

static PyObject *f_url_host(PyObject *self, PyObject *args, PyObject *kw) {
    return url_part(args, kw, "url_host", PMG_URL_HOST);
}
static PyObject *f_url_user(PyObject *self, PyObject *args, PyObject *kw) {
    return url_part(args, kw, "url_user", PMG_URL_USER);
}
static PyObject *f_url_pass(PyObject *self, PyObject *args, PyObject *kw) {
    return url_part(args, kw, "url_pass", PMG_URL_PASS);
}
static PyObject *f_url_uri(PyObject *self, PyObject *args, PyObject *kw) {
    return url_part(args, kw, "url_uri", PMG_URL_URI);
}

/* url_port and url_is_ssl: one str argument, an int answer from Go. */
static int url_int(PyObject *args, PyObject *kw, const char *name, int (*fn)(char *, long long)) {
    Py_ssize_t n;
    const char *u = url_arg(args, kw, name, &n);
    if (!u)
        return -1;
    int rc = fn((char *)u, n);
    if (rc < 0)
        pmg_internal_error(name);
    return rc;
}

static PyObject *f_url_port(PyObject *self, PyObject *args, PyObject *kw) {
    int rc = url_int(args, kw, "url_port", pmg_url_port);
    return rc < 0 ? NULL : PyLong_FromLong(rc);
}

static PyObject *f_url_is_ssl(PyObject *self, PyObject *args, PyObject *kw) {
    int rc = url_int(args, kw, "url_is_ssl", pmg_url_is_ssl);
    return rc < 0 ? NULL : PyBool_FromLong(rc);
}

static PyObject *f_match(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"s", "pattern", NULL};
    PyObject *so, *po;
    Py_ssize_t sn, pn;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO:match", kwlist, &so, &po))
        return NULL;
    const char *s = pmg_str_arg(so, "s", &sn);
    if (!s)
        return NULL;
    const char *p = pmg_str_arg(po, "pattern", &pn);
    if (!p || pmg_check_fork() < 0)
        return NULL;
    long long caps[2 * 20];
    int ncaps = 0, rc;
    PMG_CALL_NOGIL(sn, rc, pmg_match((char *)s, sn, (char *)p, pn, caps, &ncaps));
    if (rc < 0)
        return pmg_internal_error("match");
    PyObject *lst = PyList_New(rc ? ncaps : 0);
    if (!lst)
        return NULL;
    for (int i = 0; rc && i < ncaps; i++) {
        PyObject *c = decode_span(s + caps[2 * i], (Py_ssize_t)(caps[2 * i + 1] - caps[2 * i]));
        if (!c) {
            Py_DECREF(lst);
            return NULL;
        }
        PyList_SET_ITEM(lst, i, c);
    }
    PyObject *res = Py_BuildValue("(ON)", rc ? Py_True : Py_False, lst);
    return res;
}

static PyObject *f_http_var(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"buf", "name", NULL};
    PyObject *bo, *no;
    Py_ssize_t nn;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO:http_var", kwlist, &bo, &no))
        return NULL;
    const char *name = pmg_str_arg(no, "name", &nn);
    if (!name || pmg_check_fork() < 0)
        return NULL;
    PyObject *b = pmg_to_bytes(bo);
    if (!b)
        return NULL;
    const char *p = PyBytes_AS_STRING(b);
    Py_ssize_t n = PyBytes_GET_SIZE(b);
    long long s = 0, e = 0;
    int rc;
    PMG_CALL_NOGIL(n, rc, pmg_http_var((char *)p, n, (char *)name, nn, &s, &e));
    PyObject *res;
    if (rc < 0)
        res = pmg_internal_error("http_var");
    else if (rc == 0)
        res = Py_NewRef(Py_None);
    else
        res = decode_span(p + s, (Py_ssize_t)(e - s));
    Py_DECREF(b);
    return res;
}

static PyObject *f_url_encode(PyObject *self, PyObject *args, PyObject *kw) {
    PyObject *data = pmg_one_arg(args, kw, "url_encode", "data"), *res;
    Py_ssize_t n;
    long long out;
    if (!data)
        return NULL;
    const char *src = pmg_str_arg(data, "data", &n);
    if (!src)
        return NULL;
    if (n == 0)
        return PyUnicode_New(0, 127);
    if (pmg_check_fork() < 0)
        return NULL;
    if (n > PY_SSIZE_T_MAX / 3)
        return PyErr_NoMemory();
    char small[768];
    size_t cap = 3 * (size_t)n;
    char *buf = cap <= sizeof(small) ? small : PyMem_Malloc(cap);
    if (!buf)
        return PyErr_NoMemory();
    PMG_CALL_NOGIL(n, out, pmg_url_encode((char *)src, n, buf, (long long)cap));
    if (out < 0)
        res = pmg_internal_error("url_encode");
    else
        res = PyUnicode_DecodeASCII(buf, (Py_ssize_t)out, "strict");
    if (buf != small)
        PyMem_Free(buf);
    return res;
}


PyMethodDef pmg_url_functions[] = {
    {"url_port", PMG_FN(f_url_port), PMG_KW, "url_port(url) -> int: explicit port or the scheme default, else 0."},
    {"url_host", PMG_FN(f_url_host), PMG_KW, "url_host(url) -> str: the host part."},
    {"url_user", PMG_FN(f_url_user), PMG_KW, "url_user(url) -> str: the user name, or ''."},
    {"url_pass", PMG_FN(f_url_pass), PMG_KW, "url_pass(url) -> str: the password, or ''."},
    {"url_uri", PMG_FN(f_url_uri), PMG_KW, "url_uri(url) -> str: path and query, or '/'."},
    {"url_is_ssl", PMG_FN(f_url_is_ssl), PMG_KW, "url_is_ssl(url) -> bool: True for the TLS schemes."},
    {"url_encode", PMG_FN(f_url_encode), PMG_KW,
     "url_encode($module, /, data)\n--\n\n"
     "Percent-encode the UTF-8 bytes of data (lower-case hex; letters, digits and .-_~ kept)."},
    {"match", PMG_FN(f_match), PMG_KW,
     "match(s, pattern) -> (bool, list[str]): glob match ('?' one character, '*' a run without '/', "
     "'#' any run) with one capture per wildcard."},
    {"http_var", PMG_FN(f_http_var), PMG_KW,
     "http_var(buf, name) -> str | None: raw (still percent-encoded) value of a name=value pair."},
    {NULL}};
