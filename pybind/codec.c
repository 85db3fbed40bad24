/* Byte codecs of the module: md5, sha1, sha256, hmac_sha256, crc32,
 * base64_encode/decode, random_bytes/random_str. Argument conversion only:
 * the logic is in Go (codec.go, core/codec/strfuncs.go). */
#include "native.h"
#include "_cgo_export.h"

/* A non-negative int that fits a size_t (Cython's size_t conversion). */
static int size_arg(PyObject *o, const char *argname, Py_ssize_t *out) {
    if (!PyLong_Check(o)) {
        pmg_arg_type_error(argname, "int", o);
        return -1;
    }
    Py_ssize_t v = PyLong_AsSsize_t(o);
    if (v == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        PyObject *zero = PyLong_FromLong(0);
        int neg = zero ? PyObject_RichCompareBool(o, zero, Py_LT) : -1;
        Py_XDECREF(zero);
        if (neg < 0)
            return -1;
        PyErr_SetString(PyExc_OverflowError, neg ? "can't convert negative value to size_t"
                                                 : "Python int too large to convert to C ssize_t");
        return -1;
    }
    if (v < 0) {
        PyErr_SetString(PyExc_OverflowError, "can't convert negative value to size_t");
        return -1;
    }
    *out = v;
    return 0;
}

/* The length argument of random_bytes/random_str, after the fork check. */
static int length_arg(PyObject *args, PyObject *kw, const char *fname, Py_ssize_t *n) {
    PyObject *lo = pmg_one_arg(args, kw, fname, "length");
    if (!lo || size_arg(lo, "length", n) < 0 || pmg_check_fork() < 0)
        return -1;
    return 0;
}

static PyObject *digest(PyObject *args, PyObject *kw, const char *fname, int kind) {
    PyObject *b = pmg_data_arg(args, kw, fname);
    if (!b)
        return NULL;
    char out[32];
    int rc;
    Py_ssize_t n = PyBytes_GET_SIZE(b);
    PMG_CALL_NOGIL(n, rc, pmg_digest(kind, PyBytes_AS_STRING(b), n, out));
    Py_DECREF(b);
    if (rc < 0)
        return pmg_internal_error(fname);
    return PyBytes_FromStringAndSize(out, rc);
}

static PyObject *f_md5(PyObject *self, PyObject *args, PyObject *kw) { return digest(args, kw, "md5", PMG_DIGEST_MD5); }
static PyObject *f_sha1(PyObject *self, PyObject *args, PyObject *kw) { return digest(args, kw, "sha1", PMG_DIGEST_SHA1); }
static PyObject *f_sha256(PyObject *self, PyObject *args, PyObject *kw) {
    return digest(args, kw, "sha256", PMG_DIGEST_SHA256);
}

static PyObject *f_hmac_sha256(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"key", "data", NULL};
    PyObject *ko, *d;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO:hmac_sha256", kwlist, &ko, &d))
        return NULL;
    if (pmg_check_fork() < 0)
        return NULL;
    PyObject *key = pmg_to_bytes(ko);
    if (!key)
        return NULL;
    PyObject *data = pmg_to_bytes(d);
    if (!data) {
        Py_DECREF(key);
        return NULL;
    }
    char out[32];
    int rc;
    Py_ssize_t n = PyBytes_GET_SIZE(data);
    PMG_CALL_NOGIL(n, rc,
                pmg_hmac_sha256(PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key), PyBytes_AS_STRING(data), n, out));
    Py_DECREF(key);
    Py_DECREF(data);
    if (rc < 0)
        return pmg_internal_error("hmac_sha256");
    return PyBytes_FromStringAndSize(out, rc);
}

static PyObject *f_base64_encode(PyObject *self, PyObject *args, PyObject *kw) {
    PyObject *b = pmg_data_arg(args, kw, "base64_encode");
    if (!b)
        return NULL;
    Py_ssize_t n = PyBytes_GET_SIZE(b);
    if (n > (PY_SSIZE_T_MAX - 2) / 4 * 3) {
        Py_DECREF(b);
        return PyErr_NoMemory();
    }
    PyObject *res = PyUnicode_New((n + 2) / 3 * 4, 127);
    if (!res) {
        Py_DECREF(b);
        return NULL;
    }
    long long rc;
    PMG_CALL_NOGIL(n, rc, pmg_base64_encode(PyBytes_AS_STRING(b), n, (char *)PyUnicode_DATA(res)));
    Py_DECREF(b);
    if (rc != (n + 2) / 3 * 4) {
        Py_DECREF(res);
        return pmg_internal_error("base64_encode");
    }
    return res;
}

static PyObject *f_base64_decode(PyObject *self, PyObject *args, PyObject *kw) {
    Py_ssize_t n;
    PyObject *data = pmg_one_arg(args, kw, "base64_decode", "data");
    if (!data)
        return NULL;
    if (!PyUnicode_Check(data))
        return pmg_arg_type_error("data", "str", data);
    if (pmg_check_fork() < 0)
        return NULL;
    PyObject *ascii = PyUnicode_AsASCIIString(data); /* UnicodeEncodeError if not ASCII */
    if (!ascii)
        return NULL;
    n = PyBytes_GET_SIZE(ascii);
    PyObject *out = PyBytes_FromStringAndSize(NULL, n / 4 * 3);
    if (!out) {
        Py_DECREF(ascii);
        return NULL;
    }
    long long rc;
    PMG_CALL_NOGIL(n, rc, pmg_base64_decode(PyBytes_AS_STRING(ascii), n, PyBytes_AS_STRING(out)));
    Py_DECREF(ascii);
    if (rc < 0) {
        Py_DECREF(out);
        return pmg_internal_error("base64_decode");
    }
    if (_PyBytes_Resize(&out, (Py_ssize_t)rc) < 0)
        return NULL;
    return out;
}

static PyObject *f_random_bytes(PyObject *self, PyObject *args, PyObject *kw) {
    Py_ssize_t n;
    if (length_arg(args, kw, "random_bytes", &n) < 0)
        return NULL;
    PyObject *out = PyBytes_FromStringAndSize(NULL, n);
    if (!out)
        return NULL;
    int rc;
    PMG_CALL_NOGIL(n, rc, pmg_random(PyBytes_AS_STRING(out), n));
    if (rc != 0) {
        Py_DECREF(out);
        PyErr_SetString(PyExc_OSError, "mg_random failed");
        return NULL;
    }
    return out;
}

static PyObject *f_random_str(PyObject *self, PyObject *args, PyObject *kw) {
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    Py_ssize_t n;
    if (length_arg(args, kw, "random_str", &n) < 0)
        return NULL;
    PyObject *res = PyUnicode_New(n, 127);
    if (!res)
        return NULL;
    unsigned char *out = PyUnicode_1BYTE_DATA(res);
    /* Rejection sampling keeps the 62 characters equally likely. */
    unsigned char buf[256];
    Py_ssize_t o = 0;
    while (o < n) {
        if (pmg_random((char *)buf, sizeof buf) != 0) {
            Py_DECREF(res);
            PyErr_SetString(PyExc_OSError, "mg_random failed");
            return NULL;
        }
        for (size_t i = 0; i < sizeof buf && o < n; i++)
            if (buf[i] < 248) /* 248 = 4 * 62 */
                out[o++] = (unsigned char)alphabet[buf[i] % 62];
    }
    return res;
}

static PyObject *f_crc32(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"data", "initial", NULL};
    PyObject *data, *init = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:crc32", kwlist, &data, &init))
        return NULL;
    unsigned long long iv = 0;
    if (init) {
        if (!PyLong_Check(init))
            return pmg_arg_type_error("initial", "int", init);
        iv = PyLong_AsUnsignedLongLong(init);
        if (iv == (unsigned long long)-1 && PyErr_Occurred())
            return NULL;
        if (iv > 0xFFFFFFFFull) {
            PyErr_SetString(PyExc_OverflowError, "value too large to convert to uint32_t");
            return NULL;
        }
    }
    if (pmg_check_fork() < 0)
        return NULL;
    PyObject *b = pmg_to_bytes(data);
    if (!b)
        return NULL;
    unsigned int rc;
    Py_ssize_t n = PyBytes_GET_SIZE(b);
    PMG_CALL_NOGIL(n, rc, pmg_crc32(PyBytes_AS_STRING(b), n, (unsigned int)iv));
    Py_DECREF(b);
    return PyLong_FromUnsignedLong(rc);
}


PyMethodDef pmg_codec_functions[] = {
    {"md5", PMG_FN(f_md5), PMG_KW, "md5(data) -> bytes: 16-byte MD5 digest."},
    {"sha1", PMG_FN(f_sha1), PMG_KW, "sha1(data) -> bytes: 20-byte SHA-1 digest."},
    {"sha256", PMG_FN(f_sha256), PMG_KW, "sha256(data) -> bytes: 32-byte SHA-256 digest."},
    {"hmac_sha256", PMG_FN(f_hmac_sha256), PMG_KW, "hmac_sha256(key, data) -> bytes: 32-byte HMAC-SHA256."},
    {"base64_encode", PMG_FN(f_base64_encode), PMG_KW, "base64_encode(data) -> str: standard Base64 with padding."},
    {"base64_decode", PMG_FN(f_base64_decode), PMG_KW,
     "base64_decode(data: str) -> bytes: decoded complete 4-character groups; b'' for invalid input."},
    {"random_bytes", PMG_FN(f_random_bytes), PMG_KW, "random_bytes(length) -> bytes: cryptographically random bytes."},
    {"random_str", PMG_FN(f_random_str), PMG_KW, "random_str(length) -> str: random characters from 0-9a-zA-Z."},
    {"crc32", PMG_FN(f_crc32), PMG_KW, "crc32(data, initial=0) -> int: CRC-32 as zlib.crc32."},
    {NULL}};
