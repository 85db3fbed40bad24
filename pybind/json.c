/* The json_* functions of the module (docs/api.md 16.5). Argument conversion
 * only: the logic is in Go (core/codec/json.go, reached through json.go). Data
 * crosses as (pointer, length) into buffers the Python objects held here
 * own; results come back as offsets and lengths into them. */
#include "native.h"
#include "_cgo_export.h"

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
    PMG_CALL_NOGIL(a.n, rc, pmg_json_get((char *)a.data, a.n, (char *)a.path, a.pn, &off, &len));
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
    PMG_CALL_NOGIL(a.n, rc, pmg_json_get_num((char *)a.data, a.n, (char *)a.path, a.pn, &v));
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
    PMG_CALL_NOGIL(a.n, rc, pmg_json_get_bool((char *)a.data, a.n, (char *)a.path, a.pn, &v));
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
    PyObject *i = pmg_index_arg(o);
    if (!i)
        return -1;
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
    PMG_CALL_NOGIL(a.n, rc, pmg_json_get_long((char *)a.data, a.n, (char *)a.path, a.pn, dflt, &v));
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
    PMG_CALL_NOGIL(a.n, rc, pmg_json_get_str((char *)a.data, a.n, (char *)a.path, a.pn, &off, &len));
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
            PMG_CALL_NOGIL(len, rc,
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

PyMethodDef pmg_json_functions[] = {
    {"json_get", PMG_FN(f_json_get), PMG_KW,
     "json_get($module, /, data, path)\n--\n\n"
     "Raw JSON token at path (strings keep their quotes), or None.\n\n"
     "data is str (encoded UTF-8) or bytes-like; path starts with '$', e.g. '$.a[0].b'."},
    {"json_get_num", PMG_FN(f_json_get_num), PMG_KW,
     "json_get_num($module, /, data, path, default=None)\n--\n\n"
     "Number at path as float, or default when the token is not a number."},
    {"json_get_bool", PMG_FN(f_json_get_bool), PMG_KW,
     "json_get_bool($module, /, data, path, default=None)\n--\n\n"
     "True/False for a true/false token at path, else default."},
    {"json_get_long", PMG_FN(f_json_get_long), PMG_KW,
     "json_get_long($module, /, data, path, default=0)\n--\n\n"
     "Number at path truncated toward zero, or default (an int) when it is not a number."},
    {"json_get_str", PMG_FN(f_json_get_str), PMG_KW,
     "json_get_str($module, /, data, path)\n--\n\n"
     "Unescaped content of the string at path, or None (also for unsupported escapes such as\n"
     "\\/ or \\u above 0x00FF)."},
    {NULL}};
