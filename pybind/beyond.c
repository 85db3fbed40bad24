/* The cymongoose 0.2 additions (API.md section 19): Connection methods and
 * module functions.
 *
 * Connection.reply_json (19.3); the module functions of 19.6 (event_name,
 * log_set/log_get, url_*, match, http_var, digests, base64, millis,
 * random_*, crc32) and the constants of 19.8. Argument conversion only: the
 * logic is in Go (core/glob.go, core/urlparts.go, core/strfuncs.go,
 * core/log.go, reached through pybind/beyond.go). */
#include "native.h"
#include "_cgo_export.h"

#include <string.h>
#include <time.h>

/* Inputs at least this large are processed with the GIL released. */
#define BEYOND_NOGIL_MIN (64 * 1024)

#define BEYOND_CALL(n, rc, call)                \
    do {                                        \
        if ((n) >= BEYOND_NOGIL_MIN) {          \
            Py_BEGIN_ALLOW_THREADS rc = (call); \
            Py_END_ALLOW_THREADS                \
        } else {                                \
            rc = (call);                        \
        }                                       \
    } while (0)

/* A non-negative int that fits a size_t (Cython's size_t conversion). */
static int b_size_arg(PyObject *o, const char *argname, Py_ssize_t *out) {
    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "Argument '%s' has incorrect type (expected int, got %.200s)",
                     argname, Py_TYPE(o)->tp_name);
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

static PyObject *b_decode(const char *p, Py_ssize_t n) { return pmg_decode(n > 0 ? p : "", n > 0 ? n : 0); }

/* ------------------------------------------------------------------ */
/* event_name, log_set/log_get, millis                                  */

static const char *B_EV_NAMES[] = {
    "MG_EV_ERROR",     "MG_EV_OPEN",     "MG_EV_POLL",      "MG_EV_RESOLVE",   "MG_EV_CONNECT",
    "MG_EV_ACCEPT",    "MG_EV_TLS_HS",   "MG_EV_READ",      "MG_EV_WRITE",     "MG_EV_CLOSE",
    "MG_EV_HTTP_HDRS", "MG_EV_HTTP_MSG", "MG_EV_WS_OPEN",   "MG_EV_WS_MSG",    "MG_EV_WS_CTL",
    "MG_EV_MQTT_CMD",  "MG_EV_MQTT_MSG", "MG_EV_MQTT_OPEN", "MG_EV_SNTP_TIME", "MG_EV_WAKEUP",
    "MG_EV_USER"};

static PyObject *f_event_name(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"ev", NULL};
    PyObject *ev;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:event_name", kwlist, &ev))
        return NULL;
    if (!PyLong_Check(ev)) {
        PyErr_Format(PyExc_TypeError, "Argument 'ev' has incorrect type (expected int, got %.200s)",
                     Py_TYPE(ev)->tp_name);
        return NULL;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(ev, &overflow);
    if (v == -1 && PyErr_Occurred())
        return NULL;
    if (overflow == 0 && v >= 0 && v <= 20)
        return PyUnicode_FromString(B_EV_NAMES[v]);
    if (overflow == 0 && v > 20)
        return PyUnicode_FromFormat("MG_EV_USER+%lld", v - 20);
    if (overflow == 0)
        return PyUnicode_FromFormat("MG_EV_UNKNOWN(%lld)", v);
    if (overflow < 0)
        return PyUnicode_FromFormat("MG_EV_UNKNOWN(%S)", ev);
    PyObject *twenty = PyLong_FromLong(20);
    PyObject *n = twenty ? PyNumber_Subtract(ev, twenty) : NULL;
    Py_XDECREF(twenty);
    if (!n)
        return NULL;
    PyObject *r = PyUnicode_FromFormat("MG_EV_USER+%S", n);
    Py_DECREF(n);
    return r;
}

static PyObject *f_log_set(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"level", NULL};
    int level;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "i:log_set", kwlist, &level))
        return NULL;
    if (pmg_check_fork() < 0)
        return NULL;
    pmg_log_set(level);
    Py_RETURN_NONE;
}

static PyObject *f_log_get(PyObject *self, PyObject *unused) {
    if (pmg_check_fork() < 0)
        return NULL;
    return PyLong_FromLong(pmg_log_get());
}

static PyObject *f_millis(PyObject *self, PyObject *unused) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return PyLong_FromLongLong((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Engine log lines (core/log.go) go to logging.getLogger("pymongoose"):
 * MG_LL_ERROR as ERROR, MG_LL_INFO as INFO, MG_LL_DEBUG and MG_LL_VERBOSE as
 * DEBUG. Called from Go on a thread that runs Python code or a poll(). */
static PyObject *b_logger;

void pmg_log_line(int level, const char *msg, long long n) {
    PyGILState_STATE st = PyGILState_Ensure();
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb); /* an exception being handled stays as it was */
    if (!b_logger) {
        PyObject *logging = PyImport_ImportModule("logging");
        if (logging) {
            b_logger = PyObject_CallMethod(logging, "getLogger", "s", "pymongoose");
            Py_DECREF(logging);
        }
    }
    if (b_logger) {
        int pylevel = level <= 1 ? 40 : level == 2 ? 20 : 10;
        PyObject *text = pmg_decode(msg, (Py_ssize_t)n);
        PyObject *r = text ? PyObject_CallMethod(b_logger, "log", "iO", pylevel, text) : NULL;
        Py_XDECREF(text);
        Py_XDECREF(r);
    }
    if (PyErr_Occurred())
        PyErr_WriteUnraisable(NULL);
    PyErr_Restore(et, ev, etb);
    PyGILState_Release(st);
}

/* ------------------------------------------------------------------ */
/* url_*                                                                 */

static PyObject *url_part(PyObject *args, PyObject *kw, const char *fname, int which) {
    static char *kwlist[] = {"url", NULL};
    PyObject *url;
    Py_ssize_t n;
    char fmt[64];
    snprintf(fmt, sizeof fmt, "O:%s", fname);
    if (!PyArg_ParseTupleAndKeywords(args, kw, fmt, kwlist, &url))
        return NULL;
    const char *u = pmg_str_arg(url, "url", &n);
    if (!u || pmg_check_fork() < 0)
        return NULL;
    long long s = 0, e = 0;
    int rc = pmg_url_part((char *)u, n, which, &s, &e);
    if (rc < 0)
        return pmg_internal_error(fname);
    if (rc == 0)
        return PyUnicode_FromString("/");
    return b_decode(u + s, (Py_ssize_t)(e - s));
}

static PyObject *f_url_host(PyObject *self, PyObject *args, PyObject *kw) {
    return url_part(args, kw, "url_host", 0);
}
static PyObject *f_url_user(PyObject *self, PyObject *args, PyObject *kw) {
    return url_part(args, kw, "url_user", 1);
}
static PyObject *f_url_pass(PyObject *self, PyObject *args, PyObject *kw) {
    return url_part(args, kw, "url_pass", 2);
}
static PyObject *f_url_uri(PyObject *self, PyObject *args, PyObject *kw) {
    return url_part(args, kw, "url_uri", 3);
}

/* url_port and url_is_ssl: one str argument, an int answer from Go. */
static int url_int(PyObject *args, PyObject *kw, const char *name, int (*fn)(char *, long long)) {
    static char *kwlist[] = {"url", NULL};
    char fmt[32];
    PyObject *url;
    Py_ssize_t n;
    snprintf(fmt, sizeof fmt, "O:%s", name);
    if (!PyArg_ParseTupleAndKeywords(args, kw, fmt, kwlist, &url))
        return -1;
    const char *u = pmg_str_arg(url, "url", &n);
    if (!u || pmg_check_fork() < 0)
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

/* ------------------------------------------------------------------ */
/* match, http_var                                                       */

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
    BEYOND_CALL(sn, rc, pmg_match((char *)s, sn, (char *)p, pn, caps, &ncaps));
    if (rc < 0)
        return pmg_internal_error("match");
    PyObject *lst = PyList_New(rc ? ncaps : 0);
    if (!lst)
        return NULL;
    for (int i = 0; rc && i < ncaps; i++) {
        PyObject *c = b_decode(s + caps[2 * i], (Py_ssize_t)(caps[2 * i + 1] - caps[2 * i]));
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
    BEYOND_CALL(n, rc, pmg_http_var((char *)p, n, (char *)name, nn, &s, &e));
    PyObject *res;
    if (rc < 0)
        res = pmg_internal_error("http_var");
    else if (rc == 0)
        res = Py_NewRef(Py_None);
    else
        res = b_decode(p + s, (Py_ssize_t)(e - s));
    Py_DECREF(b);
    return res;
}

/* ------------------------------------------------------------------ */
/* Digests, base64, random, crc32                                        */

static PyObject *digest(PyObject *args, PyObject *kw, const char *fname, int kind) {
    static char *kwlist[] = {"data", NULL};
    PyObject *data;
    char fmt[64];
    snprintf(fmt, sizeof fmt, "O:%s", fname);
    if (!PyArg_ParseTupleAndKeywords(args, kw, fmt, kwlist, &data))
        return NULL;
    if (pmg_check_fork() < 0)
        return NULL;
    PyObject *b = pmg_to_bytes(data);
    if (!b)
        return NULL;
    char out[32];
    int rc;
    Py_ssize_t n = PyBytes_GET_SIZE(b);
    BEYOND_CALL(n, rc, pmg_digest(kind, PyBytes_AS_STRING(b), n, out));
    Py_DECREF(b);
    if (rc < 0)
        return pmg_internal_error(fname);
    return PyBytes_FromStringAndSize(out, rc);
}

static PyObject *f_md5(PyObject *self, PyObject *args, PyObject *kw) { return digest(args, kw, "md5", 0); }
static PyObject *f_sha1(PyObject *self, PyObject *args, PyObject *kw) { return digest(args, kw, "sha1", 1); }
static PyObject *f_sha256(PyObject *self, PyObject *args, PyObject *kw) {
    return digest(args, kw, "sha256", 2);
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
    BEYOND_CALL(n, rc,
                pmg_hmac_sha256(PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key), PyBytes_AS_STRING(data), n, out));
    Py_DECREF(key);
    Py_DECREF(data);
    if (rc < 0)
        return pmg_internal_error("hmac_sha256");
    return PyBytes_FromStringAndSize(out, rc);
}

static PyObject *f_base64_encode(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"data", NULL};
    PyObject *data;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:base64_encode", kwlist, &data))
        return NULL;
    if (pmg_check_fork() < 0)
        return NULL;
    PyObject *b = pmg_to_bytes(data);
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
    BEYOND_CALL(n, rc, pmg_base64_encode(PyBytes_AS_STRING(b), n, (char *)PyUnicode_DATA(res)));
    Py_DECREF(b);
    if (rc != (n + 2) / 3 * 4) {
        Py_DECREF(res);
        return pmg_internal_error("base64_encode");
    }
    return res;
}

static PyObject *f_base64_decode(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"data", NULL};
    PyObject *data;
    Py_ssize_t n;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:base64_decode", kwlist, &data))
        return NULL;
    if (!PyUnicode_Check(data)) {
        PyErr_Format(PyExc_TypeError, "Argument 'data' has incorrect type (expected str, got %.200s)",
                     Py_TYPE(data)->tp_name);
        return NULL;
    }
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
    BEYOND_CALL(n, rc, pmg_base64_decode(PyBytes_AS_STRING(ascii), n, PyBytes_AS_STRING(out)));
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
    static char *kwlist[] = {"length", NULL};
    PyObject *lo;
    Py_ssize_t n;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:random_bytes", kwlist, &lo))
        return NULL;
    if (b_size_arg(lo, "length", &n) < 0 || pmg_check_fork() < 0)
        return NULL;
    PyObject *out = PyBytes_FromStringAndSize(NULL, n);
    if (!out)
        return NULL;
    int rc;
    BEYOND_CALL(n, rc, pmg_random(PyBytes_AS_STRING(out), n));
    if (rc != 0) {
        Py_DECREF(out);
        PyErr_SetString(PyExc_OSError, "mg_random failed");
        return NULL;
    }
    return out;
}

static PyObject *f_random_str(PyObject *self, PyObject *args, PyObject *kw) {
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    static char *kwlist[] = {"length", NULL};
    PyObject *lo;
    Py_ssize_t n;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:random_str", kwlist, &lo))
        return NULL;
    if (b_size_arg(lo, "length", &n) < 0 || pmg_check_fork() < 0)
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
        if (!PyLong_Check(init)) {
            PyErr_Format(PyExc_TypeError, "Argument 'initial' has incorrect type (expected int, got %.200s)",
                         Py_TYPE(init)->tp_name);
            return NULL;
        }
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
    BEYOND_CALL(n, rc, pmg_crc32(PyBytes_AS_STRING(b), n, (unsigned int)iv));
    Py_DECREF(b);
    return PyLong_FromUnsignedLong(rc);
}

/* ------------------------------------------------------------------ */
/* Connection.reply_json                                                 */

static PyObject *b_json_dumps;

/* reply_json(data, status_code=200, headers=None): json.dumps(data), a copy
 * of headers whose Content-Type is forced to application/json (a key equal
 * to "Content-Type" case-insensitively is replaced in place, others are
 * dropped; without one it is added last), then reply(). */
static PyObject *conn_reply_json(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"data", "status_code", "headers", NULL};
    PyObject *data, *status = NULL, *headers = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OO:reply_json", kwlist, &data, &status, &headers))
        return NULL;
    if (!b_json_dumps) {
        PyObject *json = PyImport_ImportModule("json");
        if (!json)
            return NULL;
        b_json_dumps = PyObject_GetAttrString(json, "dumps");
        Py_DECREF(json);
        if (!b_json_dumps)
            return NULL;
    }
    PyObject *body = NULL, *copy = NULL, *hdrs = NULL, *res = NULL, *code = NULL;
    PyObject *ct_name = NULL, *ct_value = NULL;
    body = PyObject_CallOneArg(b_json_dumps, data);
    if (!body)
        goto done;
    hdrs = PyDict_New();
    ct_name = PyUnicode_FromString("Content-Type");
    ct_value = PyUnicode_FromString("application/json");
    if (!hdrs || !ct_name || !ct_value)
        goto done;
    int placed = 0;
    if (headers != Py_None) {
        copy = PyObject_CallOneArg((PyObject *)&PyDict_Type, headers);
        if (!copy)
            goto done;
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(copy, &pos, &k, &v)) {
            int is_ct = 0;
            if (PyUnicode_Check(k)) {
                Py_ssize_t kn;
                const char *ks = PyUnicode_AsUTF8AndSize(k, &kn);
                if (!ks)
                    goto done;
                is_ct = kn == 12 && PyOS_strnicmp(ks, "content-type", 12) == 0;
            }
            if (is_ct) {
                if (!placed && PyDict_SetItem(hdrs, ct_name, ct_value) < 0)
                    goto done;
                placed = 1;
            } else if (PyDict_SetItem(hdrs, k, v) < 0) {
                goto done;
            }
        }
    }
    if (!placed && PyDict_SetItem(hdrs, ct_name, ct_value) < 0)
        goto done;
    code = status ? Py_NewRef(status) : PyLong_FromLong(200);
    if (!code)
        goto done;
    res = PyObject_CallMethod(self, "reply", "OOO", code, body, hdrs);
done:
    Py_XDECREF(body);
    Py_XDECREF(copy);
    Py_XDECREF(hdrs);
    Py_XDECREF(code);
    Py_XDECREF(ct_name);
    Py_XDECREF(ct_value);
    return res;
}

PyMethodDef pmg_beyond_conn_methods[] = {
    {"reply_json", (PyCFunction)(void (*)(void))conn_reply_json, METH_VARARGS | METH_KEYWORDS,
     "reply_json(data, status_code=200, headers=None): reply() with json.dumps(data) as the body and "
     "Content-Type: application/json."},
    {NULL}};

#define KW METH_VARARGS | METH_KEYWORDS
#define FN(f) (PyCFunction)(void (*)(void))(f)

PyMethodDef pmg_beyond_module_methods[] = {
    {"event_name", FN(f_event_name), KW, "event_name(ev) -> str: the MG_EV_* name of an event code."},
    {"log_set", FN(f_log_set), KW, "log_set(level): set the engine log level (MG_LL_*)."},
    {"log_get", f_log_get, METH_NOARGS, "log_get() -> int: the engine log level."},
    {"url_port", FN(f_url_port), KW, "url_port(url) -> int: explicit port or the scheme default, else 0."},
    {"url_host", FN(f_url_host), KW, "url_host(url) -> str: the host part."},
    {"url_user", FN(f_url_user), KW, "url_user(url) -> str: the user name, or ''."},
    {"url_pass", FN(f_url_pass), KW, "url_pass(url) -> str: the password, or ''."},
    {"url_uri", FN(f_url_uri), KW, "url_uri(url) -> str: path and query, or '/'."},
    {"url_is_ssl", FN(f_url_is_ssl), KW, "url_is_ssl(url) -> bool: True for the TLS schemes."},
    {"match", FN(f_match), KW,
     "match(s, pattern) -> (bool, list[str]): glob match ('?' one character, '*' a run without '/', "
     "'#' any run) with one capture per wildcard."},
    {"http_var", FN(f_http_var), KW,
     "http_var(buf, name) -> str | None: raw (still percent-encoded) value of a name=value pair."},
    {"md5", FN(f_md5), KW, "md5(data) -> bytes: 16-byte MD5 digest."},
    {"sha1", FN(f_sha1), KW, "sha1(data) -> bytes: 20-byte SHA-1 digest."},
    {"sha256", FN(f_sha256), KW, "sha256(data) -> bytes: 32-byte SHA-256 digest."},
    {"hmac_sha256", FN(f_hmac_sha256), KW, "hmac_sha256(key, data) -> bytes: 32-byte HMAC-SHA256."},
    {"base64_encode", FN(f_base64_encode), KW, "base64_encode(data) -> str: standard Base64 with padding."},
    {"base64_decode", FN(f_base64_decode), KW,
     "base64_decode(data: str) -> bytes: decoded complete 4-character groups; b'' for invalid input."},
    {"millis", f_millis, METH_NOARGS, "millis() -> int: monotonic milliseconds."},
    {"random_bytes", FN(f_random_bytes), KW, "random_bytes(length) -> bytes: cryptographically random bytes."},
    {"random_str", FN(f_random_str), KW, "random_str(length) -> str: random characters from 0-9a-zA-Z."},
    {"crc32", FN(f_crc32), KW, "crc32(data, initial=0) -> int: CRC-32 as zlib.crc32."},
    {NULL}};

/* Constants of API.md 19.8; called by PyInit__mongoose. */
int pmg_beyond_init(PyObject *m) {
    static const struct {
        const char *name;
        int value;
    } consts[] = {
        {"MG_LL_NONE", 0},
        {"MG_LL_ERROR", 1},
        {"MG_LL_INFO", 2},
        {"MG_LL_DEBUG", 3},
        {"MG_LL_VERBOSE", 4},
        {"MQTT_PROP_TYPE_BYTE", 0},
        {"MQTT_PROP_TYPE_STRING", 1},
        {"MQTT_PROP_TYPE_STRING_PAIR", 2},
        {"MQTT_PROP_TYPE_BINARY_DATA", 3},
        {"MQTT_PROP_TYPE_VARIABLE_INT", 4},
        {"MQTT_PROP_TYPE_INT", 5},
        {"MQTT_PROP_TYPE_SHORT", 6},
    };
    for (size_t i = 0; i < sizeof consts / sizeof consts[0]; i++)
        if (PyModule_AddIntConstant(m, consts[i].name, consts[i].value) < 0)
            return -1;
    return 0;
}
