/* Connection methods for HTTP beyond reply(): static files, server-sent
 * events, client basic auth, reply_json. Go side: http.go. */
#include "native.h"
#include "_cgo_export.h"

/* A str argument as UTF-8; None is accepted as "" when allow_none. */
static const char *http_str_arg(PyObject *o, const char *name, Py_ssize_t *n, int allow_none) {
    if (o == NULL || (allow_none && o == Py_None)) {
        *n = 0;
        return "";
    }
    return pmg_str_arg(o, name, n);
}

static PyObject *http_serve(ConnObject *cn, int dir, PyObject *msg_o, PyObject *path_o, PyObject *extra_o,
                            PyObject *mime_o, PyObject *p404_o) {
    HttpMsgObject *m = pmg_http_msg_arg(msg_o);
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
    if (pmg_conn_gone(cn))
        return pmg_not_open_error();
    int rc = pmg_http_serve(CONN_MID(cn), cn->id, dir, (char *)m->head, m->head_len, (char *)path, pn,
                            (char *)extra, en, (char *)mime, mn, (char *)p404, qn);
    return pmg_rc_none(rc, dir ? "serve_dir failed" : "serve_file failed");
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
    if (pmg_conn_gone(cn))
        return pmg_not_open_error();
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
    if (pmg_conn_gone(cn))
        return pmg_not_open_error();
    int rc = pmg_http_basic_auth(CONN_MID(cn), cn->id, (char *)user, un, (char *)pass, pn);
    return pmg_rc_none(rc, "mg_send failed");
}

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
                is_ct = kn == 12 && pmg_ascii_casecmp(ks, "content-type", 12) == 0;
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
    {"reply_json", (PyCFunction)(void (*)(void))conn_reply_json, METH_VARARGS | METH_KEYWORDS,
     "reply_json(data, status_code=200, headers=None): reply() with json.dumps(data) as the body and "
     "Content-Type: application/json."},
    {NULL}};
