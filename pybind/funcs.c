/* Module-level functions of pymongoose._mongoose (json_*, url_encode,
 * http_parse_multipart), API.md sections 16.5-16.7. Registered by
 * PyInit__mongoose through pmg_func_methods.
 *
 * This file only converts arguments and results; the logic is in Go
 * (core/json.go, core/urlencode.go, core/multipart.go, reached through the
 * exports of funcs.go). Data crosses as (pointer, length) into buffers that
 * the Python objects held here own; results come back as offsets and
 * lengths into those buffers, so slicing happens here. */
#include "native.h"
#include "_cgo_export.h"

#include <string.h>

/* Inputs at least this large are processed with the GIL released. */
#define FUNC_NOGIL_MIN (64 * 1024)

/* Common front end of the json_* functions: validated path, data as bytes. */
typedef struct {
    PyObject *bytes;
    const char *data;
    long long n;
    const char *path;
    long long pn;
} json_args;

static int json_prepare(PyObject *data, PyObject *path, json_args *a) {
    Py_ssize_t pn;
    if (pmg_check_fork() < 0)
        return -1;
    a->path = pmg_str_arg(path, "path", &pn);
    if (!a->path)
        return -1;
    a->pn = pn;
    a->bytes = pmg_to_bytes(data);
    if (!a->bytes)
        return -1;
    a->data = PyBytes_AS_STRING(a->bytes);
    a->n = PyBytes_GET_SIZE(a->bytes);
    return 0;
}

/* Run a Go call with the GIL released for large inputs. */
#define FUNC_CALL(n, rc, call)                  \
    do {                                        \
        if ((n) >= FUNC_NOGIL_MIN) {            \
            Py_BEGIN_ALLOW_THREADS rc = (call); \
            Py_END_ALLOW_THREADS                \
        } else {                                \
            rc = (call);                        \
        }                                       \
    } while (0)

static PyObject *f_json_get(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"data", "path", NULL};
    PyObject *data, *path;
    json_args a;
    long long off = 0, len = 0;
    int rc;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO:json_get", kwlist, &data, &path))
        return NULL;
    if (json_prepare(data, path, &a) < 0)
        return NULL;
    FUNC_CALL(a.n, rc, pmg_json_get((char *)a.data, a.n, (char *)a.path, a.pn, &off, &len));
    PyObject *res;
    if (rc < 0)
        res = pmg_internal_error("json_get");
    else if (rc == 0)
        res = Py_NewRef(Py_None);
    else
        res = pmg_decode(a.data + off, (Py_ssize_t)len);
    Py_DECREF(a.bytes);
    return res;
}

static PyObject *f_json_get_num(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"data", "path", "default", NULL};
    PyObject *data, *path, *dflt = Py_None;
    json_args a;
    double v = 0;
    int rc;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O:json_get_num", kwlist, &data, &path, &dflt))
        return NULL;
    if (json_prepare(data, path, &a) < 0)
        return NULL;
    FUNC_CALL(a.n, rc, pmg_json_get_num((char *)a.data, a.n, (char *)a.path, a.pn, &v));
    Py_DECREF(a.bytes);
    if (rc < 0)
        return pmg_internal_error("json_get_num");
    if (rc == 0)
        return Py_NewRef(dflt);
    return PyFloat_FromDouble(v);
}

static PyObject *f_json_get_bool(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"data", "path", "default", NULL};
    PyObject *data, *path, *dflt = Py_None;
    json_args a;
    int v = 0, rc;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O:json_get_bool", kwlist, &data, &path, &dflt))
        return NULL;
    if (json_prepare(data, path, &a) < 0)
        return NULL;
    FUNC_CALL(a.n, rc, pmg_json_get_bool((char *)a.data, a.n, (char *)a.path, a.pn, &v));
    Py_DECREF(a.bytes);
    if (rc < 0)
        return pmg_internal_error("json_get_bool");
    if (rc == 0)
        return Py_NewRef(dflt);
    return PyBool_FromLong(v);
}

/* A C long from an int-like object, as Cython converts a `long` argument:
 * TypeError("an integer is required") for anything without __index__
 * (None included), OverflowError outside the C long range. */
static int func_as_long(PyObject *o, long *out) {
    PyObject *i;
    if (PyLong_Check(o)) {
        i = Py_NewRef(o);
    } else if (Py_TYPE(o)->tp_as_number && Py_TYPE(o)->tp_as_number->nb_index) {
        i = PyNumber_Index(o);
        if (!i)
            return -1;
    } else {
        PyErr_SetString(PyExc_TypeError, "an integer is required");
        return -1;
    }
    *out = PyLong_AsLong(i);
    Py_DECREF(i);
    if (*out == -1 && PyErr_Occurred())
        return -1;
    return 0;
}

static PyObject *f_json_get_long(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"data", "path", "default", NULL};
    PyObject *data, *path, *dflt_obj = NULL;
    json_args a;
    long dflt = 0;
    long long v = 0;
    int rc;
    Py_ssize_t pn;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O:json_get_long", kwlist, &data, &path, &dflt_obj))
        return NULL;
    /* Arguments are checked in order, as Cython does: path, default, data. */
    if (!pmg_str_arg(path, "path", &pn))
        return NULL;
    if (dflt_obj && func_as_long(dflt_obj, &dflt) < 0)
        return NULL;
    if (json_prepare(data, path, &a) < 0)
        return NULL;
    FUNC_CALL(a.n, rc, pmg_json_get_long((char *)a.data, a.n, (char *)a.path, a.pn, dflt, &v));
    Py_DECREF(a.bytes);
    if (rc < 0)
        return pmg_internal_error("json_get_long");
    return PyLong_FromLongLong(v);
}

static PyObject *f_json_get_str(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"data", "path", NULL};
    PyObject *data, *path, *res = NULL;
    json_args a;
    long long off = 0, len = 0, out = 0;
    int rc;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO:json_get_str", kwlist, &data, &path))
        return NULL;
    if (json_prepare(data, path, &a) < 0)
        return NULL;
    FUNC_CALL(a.n, rc, pmg_json_get_str((char *)a.data, a.n, (char *)a.path, a.pn, &off, &len));
    if (rc < 0) {
        res = pmg_internal_error("json_get_str");
    } else if (rc == 0) {
        res = Py_NewRef(Py_None);
    } else {
        /* The unescaped form is never longer than the escaped one. */
        char small[256];
        char *buf = len <= (long long)sizeof(small) ? small : PyMem_Malloc((size_t)len);
        if (!buf) {
            res = PyErr_NoMemory();
        } else {
            FUNC_CALL(len, rc,
                      pmg_json_unescape((char *)a.data + off, len, buf, len > 0 ? len : 0, &out));
            if (rc < 0)
                res = pmg_internal_error("json_get_str");
            else if (rc == 0)
                res = Py_NewRef(Py_None);
            else
                res = pmg_decode(buf, (Py_ssize_t)out);
            if (buf != small)
                PyMem_Free(buf);
        }
    }
    Py_DECREF(a.bytes);
    return res;
}

static PyObject *f_url_encode(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"data", NULL};
    PyObject *data, *res;
    Py_ssize_t n;
    long long out;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:url_encode", kwlist, &data))
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
    FUNC_CALL(n, out, pmg_url_encode((char *)src, n, buf, (long long)cap));
    if (out < 0)
        res = pmg_internal_error("url_encode");
    else
        res = PyUnicode_DecodeASCII(buf, (Py_ssize_t)out, "strict");
    if (buf != small)
        PyMem_Free(buf);
    return res;
}

static PyObject *multipart_none(void) { return Py_BuildValue("(iO)", 0, Py_None); }

static PyObject *f_http_parse_multipart(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"body", "offset", NULL};
    PyObject *body, *offset_obj = NULL, *b, *res = NULL;
    size_t offset = 0;
    long long o[7];
    int rc;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:http_parse_multipart", kwlist, &body, &offset_obj))
        return NULL;
    if (offset_obj) {
        /* Cython's size_t conversion: TypeError for non-integers,
         * OverflowError for negative or too large values. */
        PyObject *i;
        if (PyLong_Check(offset_obj)) {
            i = Py_NewRef(offset_obj);
        } else if (Py_TYPE(offset_obj)->tp_as_number && Py_TYPE(offset_obj)->tp_as_number->nb_index) {
            i = PyNumber_Index(offset_obj);
            if (!i)
                return NULL;
        } else {
            PyErr_SetString(PyExc_TypeError, "an integer is required");
            return NULL;
        }
        offset = PyLong_AsSize_t(i);
        Py_DECREF(i);
        if (offset == (size_t)-1 && PyErr_Occurred())
            return NULL;
    }
    if (pmg_check_fork() < 0)
        return NULL;
    b = pmg_to_bytes(body);
    if (!b)
        return NULL;
    const char *s = PyBytes_AS_STRING(b);
    Py_ssize_t n = PyBytes_GET_SIZE(b);
    if (offset >= (size_t)n) {
        Py_DECREF(b);
        return multipart_none();
    }
    FUNC_CALL(n, rc, pmg_parse_multipart((char *)s, n, (long long)offset, o));
    if (rc < 0) {
        res = pmg_internal_error("http_parse_multipart");
    } else if (rc == 0) {
        res = multipart_none();
    } else {
        PyObject *name = pmg_decode(s + o[1], (Py_ssize_t)o[2]);
        PyObject *filename = name ? pmg_decode(s + o[3], (Py_ssize_t)o[4]) : NULL;
        PyObject *pbody = filename ? PyBytes_FromStringAndSize(s + o[5], (Py_ssize_t)o[6]) : NULL;
        if (pbody)
            res = Py_BuildValue("(L{sOsOsO})", o[0], "name", name, "filename", filename, "body", pbody);
        Py_XDECREF(name);
        Py_XDECREF(filename);
        Py_XDECREF(pbody);
    }
    Py_DECREF(b);
    return res;
}

PyMethodDef pmg_func_methods[] = {
    {"json_get", (PyCFunction)(void (*)(void))f_json_get, METH_VARARGS | METH_KEYWORDS,
     "json_get($module, /, data, path)\n--\n\n"
     "Raw JSON token at path (strings keep their quotes), or None.\n\n"
     "data is str (encoded UTF-8) or bytes-like; path starts with '$', e.g. '$.a[0].b'."},
    {"json_get_num", (PyCFunction)(void (*)(void))f_json_get_num, METH_VARARGS | METH_KEYWORDS,
     "json_get_num($module, /, data, path, default=None)\n--\n\n"
     "Number at path as float, or default when the token is not a number."},
    {"json_get_bool", (PyCFunction)(void (*)(void))f_json_get_bool, METH_VARARGS | METH_KEYWORDS,
     "json_get_bool($module, /, data, path, default=None)\n--\n\n"
     "True/False for a true/false token at path, else default."},
    {"json_get_long", (PyCFunction)(void (*)(void))f_json_get_long, METH_VARARGS | METH_KEYWORDS,
     "json_get_long($module, /, data, path, default=0)\n--\n\n"
     "Number at path truncated toward zero, or default (an int) when it is not a number."},
    {"json_get_str", (PyCFunction)(void (*)(void))f_json_get_str, METH_VARARGS | METH_KEYWORDS,
     "json_get_str($module, /, data, path)\n--\n\n"
     "Unescaped content of the string at path, or None (also for unsupported escapes such as\n"
     "\\/ or \\u above 0x00FF)."},
    {"url_encode", (PyCFunction)(void (*)(void))f_url_encode, METH_VARARGS | METH_KEYWORDS,
     "url_encode($module, /, data)\n--\n\n"
     "Percent-encode the UTF-8 bytes of data (lower-case hex; letters, digits and .-_~ kept)."},
    {"http_parse_multipart", (PyCFunction)(void (*)(void))f_http_parse_multipart,
     METH_VARARGS | METH_KEYWORDS,
     "http_parse_multipart($module, /, body, offset=0)\n--\n\n"
     "Parse the multipart/form-data part at offset.\n\n"
     "Returns (next_offset, {'name': str, 'filename': str, 'body': bytes}), or (0, None)\n"
     "when no complete part starts at offset. Feed next_offset back to iterate."},
    {NULL}};
