/* Connection methods for HTTP streaming, static files, client helpers. */
#include "native.h"

/* Go exports (http.go). */
extern int pmg_http_serve(long long mid, unsigned long long id, int dir, char *head, long long head_len,
                          char *path, long long path_len, char *extra, long long extra_len, char *mime,
                          long long mime_len, char *page404, long long page404_len);
extern int pmg_http_basic_auth(long long mid, unsigned long long id, char *user, long long user_len,
                               char *pass, long long pass_len);
extern int pmg_http_sse(long long mid, unsigned long long id, char *ev, long long ev_len, char *data,
                        long long data_len);

/* A str argument as UTF-8; None is accepted as "" when allow_none. */
static const char *http_str_arg(PyObject *o, const char *name, Py_ssize_t *n, int allow_none) {
    if (o == NULL || (allow_none && o == Py_None)) {
        *n = 0;
        return "";
    }
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "Argument '%s' has incorrect type (expected str, got %s)", name,
                     Py_TYPE(o)->tp_name);
        return NULL;
    }
    return PyUnicode_AsUTF8AndSize(o, n);
}

static HttpMsgObject *http_msg_arg(PyObject *msg_o) { return pmg_http_msg_arg(msg_o); }

static PyObject *http_not_open(ConnObject *cn) {
    if (pmg_forked())
        return pmg_fork_error();
    return pmg_closed_error();
}

static PyObject *http_serve(ConnObject *cn, int dir, PyObject *msg_o, PyObject *path_o, PyObject *extra_o,
                            PyObject *mime_o, PyObject *p404_o) {
    HttpMsgObject *m = http_msg_arg(msg_o);
    if (!m)
        return NULL;
    Py_ssize_t pn, en, mn, qn;
    const char *path = http_str_arg(path_o, dir ? "root_dir" : "path", &pn, 0);
    if (!path)
        return NULL;
    const char *extra = http_str_arg(extra_o, "extra_headers", &en, 1);
    if (!extra)
        return NULL;
    const char *mime = http_str_arg(mime_o, "mime_types", &mn, 1);
    if (!mime)
        return NULL;
    const char *p404 = http_str_arg(p404_o, "page404", &qn, 1);
    if (!p404)
        return NULL;
    if (cn->id == 0 || pmg_forked())
        return http_not_open(cn);
    int rc = pmg_http_serve(CONN_MID(cn), cn->id, dir, (char *)m->head, m->head_len, (char *)path, pn,
                            (char *)extra, en, (char *)mime, mn, (char *)p404, qn);
    if (rc == -1)
        return pmg_closed_error();
    if (rc != 0) {
        PyErr_SetString(PyExc_RuntimeError, dir ? "serve_dir failed" : "serve_file failed");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *conn_serve_dir(ConnObject *cn, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"message", "root_dir", "extra_headers", "mime_types", "page404", NULL};
    PyObject *msg_o, *root_o, *extra_o = NULL, *mime_o = NULL, *p404_o = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OOO:serve_dir", kwlist, &msg_o, &root_o, &extra_o, &mime_o,
                                     &p404_o))
        return NULL;
    return http_serve(cn, 1, msg_o, root_o, extra_o, mime_o, p404_o);
}

static PyObject *conn_serve_file(ConnObject *cn, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"message", "path", "extra_headers", "mime_types", NULL};
    PyObject *msg_o, *path_o, *extra_o = NULL, *mime_o = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OO:serve_file", kwlist, &msg_o, &path_o, &extra_o, &mime_o))
        return NULL;
    return http_serve(cn, 0, msg_o, path_o, extra_o, mime_o, NULL);
}

static PyObject *conn_http_sse(ConnObject *cn, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"event_type", "data", NULL};
    PyObject *ev_o, *data_o;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO:http_sse", kwlist, &ev_o, &data_o))
        return NULL;
    Py_ssize_t en, dn;
    const char *ev = http_str_arg(ev_o, "event_type", &en, 0);
    if (!ev)
        return NULL;
    const char *data = http_str_arg(data_o, "data", &dn, 0);
    if (!data)
        return NULL;
    if (cn->id == 0 || pmg_forked())
        return http_not_open(cn);
    if (pmg_http_sse(CONN_MID(cn), cn->id, (char *)ev, en, (char *)data, dn) != 0)
        return pmg_closed_error();
    Py_RETURN_NONE;
}

static PyObject *conn_http_basic_auth(ConnObject *cn, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"username", "password", NULL};
    PyObject *user_o, *pass_o;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO:http_basic_auth", kwlist, &user_o, &pass_o))
        return NULL;
    Py_ssize_t un, pn;
    const char *user = http_str_arg(user_o, "username", &un, 0);
    if (!user)
        return NULL;
    const char *pass = http_str_arg(pass_o, "password", &pn, 0);
    if (!pass)
        return NULL;
    if (cn->id == 0 || pmg_forked())
        return http_not_open(cn);
    int rc = pmg_http_basic_auth(CONN_MID(cn), cn->id, (char *)user, un, (char *)pass, pn);
    if (rc == -1)
        return pmg_closed_error();
    if (rc != 0) {
        PyErr_SetString(PyExc_RuntimeError, "mg_send failed");
        return NULL;
    }
    Py_RETURN_NONE;
}

PyMethodDef pmg_http_conn_methods[] = {
    {"serve_dir", (PyCFunction)(void (*)(void))conn_serve_dir, METH_VARARGS | METH_KEYWORDS,
     "serve_dir(message, root_dir, extra_headers='', mime_types='', page404=''): serve the file the "
     "request URI maps to under root_dir."},
    {"serve_file", (PyCFunction)(void (*)(void))conn_serve_file, METH_VARARGS | METH_KEYWORDS,
     "serve_file(message, path, extra_headers='', mime_types=''): answer the request with one file."},
    {"http_sse", (PyCFunction)(void (*)(void))conn_http_sse, METH_VARARGS | METH_KEYWORDS,
     "http_sse(event_type, data): send one server-sent event as an HTTP chunk."},
    {"http_basic_auth", (PyCFunction)(void (*)(void))conn_http_basic_auth, METH_VARARGS | METH_KEYWORDS,
     "http_basic_auth(username, password): queue an 'Authorization: Basic ...' header line."},
    {NULL}};
