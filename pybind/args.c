/* Argument and result conversions shared by the extension's C files
 * (declared in native.h): bytes and str, cymongoose's argument errors,
 * fastcall keyword parsing, header formatting. */
#include "native.h"

#include <string.h>

/* data -> bytes, following pymongoose: str is UTF-8, else bytes(data).
 * Returns a new reference. */
PyObject *pmg_to_bytes(PyObject *data) {
    if (PyBytes_CheckExact(data)) {
        Py_INCREF(data);
        return data;
    }
    if (PyUnicode_Check(data))
        return PyUnicode_AsUTF8String(data);
    return PyObject_CallOneArg((PyObject *)&PyBytes_Type, data);
}

PyObject *pmg_decode(const char *p, Py_ssize_t n) {
    return PyUnicode_DecodeUTF8(p ? p : "", p ? n : 0, "surrogateescape");
}

PyObject *pmg_arg_type_error(const char *argname, const char *expected, PyObject *o) {
    PyErr_Format(PyExc_TypeError, "Argument '%s' has incorrect type (expected %s, got %.200s)", argname,
                 expected, Py_TYPE(o)->tp_name);
    return NULL;
}

PyObject *pmg_index_arg(PyObject *o) {
    if (PyLong_Check(o))
        return Py_NewRef(o);
    if (Py_TYPE(o)->tp_as_number && Py_TYPE(o)->tp_as_number->nb_index)
        return PyNumber_Index(o);
    PyErr_SetString(PyExc_TypeError, "an integer is required");
    return NULL;
}

const char *pmg_str_arg(PyObject *o, const char *argname, Py_ssize_t *n) {
    if (!PyUnicode_Check(o))
        return (const char *)pmg_arg_type_error(argname, "str", o);
    return PyUnicode_AsUTF8AndSize(o, n);
}

int pmg_parse_fast(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                   const char *const *names, int nreq, PyObject **out) {
    int n = 0;
    while (names[n])
        n++;
    if (nargs > n) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d arguments (%zd given)", fname, n, nargs);
        return -1;
    }
    for (int i = 0; i < n; i++)
        out[i] = i < nargs ? args[i] : NULL;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        int i = 0;
        while (i < n && PyUnicode_CompareWithASCIIString(key, names[i]) != 0)
            i++;
        if (i == n) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument %R", fname, key);
            return -1;
        }
        if (out[i]) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fname, names[i]);
            return -1;
        }
        out[i] = args[nargs + k];
    }
    for (int i = 0; i < nreq; i++) {
        if (!out[i]) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s' (pos %d)", fname, names[i],
                         i + 1);
            return -1;
        }
    }
    return 0;
}

PyObject *pmg_one_arg(PyObject *args, PyObject *kw, const char *fname, const char *argname) {
    char *kwlist[] = {(char *)argname, NULL};
    char fmt[64];
    PyObject *o;
    snprintf(fmt, sizeof fmt, "O:%s", fname);
    if (!PyArg_ParseTupleAndKeywords(args, kw, fmt, kwlist, &o))
        return NULL;
    return o;
}

PyObject *pmg_data_arg(PyObject *args, PyObject *kw, const char *fname) {
    PyObject *data = pmg_one_arg(args, kw, fname, "data");
    if (!data || pmg_check_fork() < 0)
        return NULL;
    return pmg_to_bytes(data);
}

PyObject *pmg_closed_error(void) {
    if (!PyErr_Occurred()) /* else: pmg_conn_mid()'s foreign-thread error */
        PyErr_SetString(PyExc_RuntimeError, "Connection has been closed");
    return NULL;
}

PyObject *pmg_not_open_error(void) {
    if (pmg_forked())
        return pmg_fork_error();
    return pmg_closed_error();
}

PyObject *pmg_rc_none(int rc, const char *failure) {
    if (rc == 0)
        Py_RETURN_NONE;
    if (rc == PMG_RC_CLOSED)
        return pmg_closed_error();
    PyErr_SetString(PyExc_RuntimeError, failure);
    return NULL;
}

PyObject *pmg_freed_error(void) {
    PyErr_SetString(PyExc_RuntimeError, "Manager has been freed");
    return NULL;
}

PyObject *pmg_internal_error(const char *name) {
    PyErr_Format(PyExc_RuntimeError, "pymongoose: internal error in %s()", name);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Header lines                                                         */

static int has_header_breaker(const char *p, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
            return 1;
    return 0;
}

/* -1 with the ValueError when the header name or value s contains CR, LF
 * or NUL. */
static int check_header_part(PyObject *s, const char *what) {
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(s, &n);
    if (!p)
        return -1;
    if (has_header_breaker(p, n)) {
        PyErr_Format(PyExc_ValueError, "Header %s contains illegal character (CR, LF, or NUL): %R", what, s);
        return -1;
    }
    return 0;
}

static PyObject *str_items; /* interned "items" */

PyObject *pmg_format_headers(PyObject *headers) {
    if (!str_items && !(str_items = PyUnicode_InternFromString("items")))
        return NULL;
    PyObject *items = PyObject_CallMethodNoArgs(headers, str_items);
    if (!items)
        return NULL;
    PyObject *it = PyObject_GetIter(items);
    Py_DECREF(items);
    if (!it)
        return NULL;
    PyObject *out = PyBytes_FromStringAndSize("", 0);
    PyObject *item;
    while (out && (item = PyIter_Next(it))) {
        PyObject *k = NULL, *v = NULL, *ks = NULL, *vs = NULL, *line = NULL, *lb = NULL;
        if (!PyArg_ParseTuple(item, "OO", &k, &v))
            goto fail;
        ks = PyObject_Str(k);
        vs = ks ? PyObject_Str(v) : NULL;
        if (!vs || check_header_part(ks, "name") < 0 || check_header_part(vs, "value") < 0)
            goto fail;
        line = PyUnicode_FromFormat("%U: %U\r\n", ks, vs);
        lb = line ? PyUnicode_AsUTF8String(line) : NULL;
        if (!lb)
            goto fail;
        PyBytes_Concat(&out, lb);
        Py_DECREF(lb);
        Py_DECREF(line);
        Py_DECREF(ks);
        Py_DECREF(vs);
        Py_DECREF(item);
        continue;
    fail:
        Py_XDECREF(lb);
        Py_XDECREF(line);
        Py_XDECREF(ks);
        Py_XDECREF(vs);
        Py_DECREF(item);
        Py_CLEAR(out);
        break;
    }
    Py_DECREF(it);
    if (out && PyErr_Occurred())
        Py_CLEAR(out);
    return out;
}

Py_ssize_t pmg_format_headers_fast(PyObject *h, char *buf, Py_ssize_t cap) {
    if (!PyDict_CheckExact(h))
        return -1;
    Py_ssize_t pos = 0, n = 0;
    PyObject *k, *v;
    while (PyDict_Next(h, &pos, &k, &v)) {
        if (!PyUnicode_CheckExact(k) || !PyUnicode_CheckExact(v))
            return -1;
        Py_ssize_t kn, vn;
        const char *kp = PyUnicode_AsUTF8AndSize(k, &kn);
        const char *vp = kp ? PyUnicode_AsUTF8AndSize(v, &vn) : NULL;
        if (!vp)
            return -2;
        if (has_header_breaker(kp, kn) || has_header_breaker(vp, vn))
            return -1; /* the general path raises the ValueError */
        if (n + kn + vn + 4 > cap)
            return -1;
        memcpy(buf + n, kp, kn);
        n += kn;
        buf[n++] = ':';
        buf[n++] = ' ';
        memcpy(buf + n, vp, vn);
        n += vn;
        buf[n++] = '\r';
        buf[n++] = '\n';
    }
    return n;
}
