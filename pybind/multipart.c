/* http_parse_multipart() of the module (docs/api.md 16.7). Argument conversion
 * only: the parser is core/codec/multipart.go, reached through multipart.go. */
#include "native.h"
#include "_cgo_export.h"

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
        PyObject *i = pmg_index_arg(offset_obj);
        if (!i)
            return NULL;
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
    PMG_CALL_NOGIL(n, rc, pmg_parse_multipart((char *)s, n, (long long)offset, o));
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

PyMethodDef pmg_multipart_functions[] = {
    {"http_parse_multipart", PMG_FN(f_http_parse_multipart),
     PMG_KW,
     "http_parse_multipart($module, /, body, offset=0)\n--\n\n"
     "Parse the multipart/form-data part at offset.\n\n"
     "Returns (next_offset, {'name': str, 'filename': str, 'body': bytes}), or (0, None)\n"
     "when no complete part starts at offset. Feed next_offset back to iterate."},
    {NULL}};
