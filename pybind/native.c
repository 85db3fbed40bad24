/* Hand-written CPython extension module pymongoose._mongoose: the hot path.
 *
 * Connection, HttpMessage and the per-Manager core object live here, with
 * poll(), event dispatch into the Python handler and the send family. Every
 * call into the engine is one cgo crossing into hot.go; every event is one
 * crossing back (pmg_dispatch), except MG_EV_POLL to a run of idle
 * connections, which is one crossing per run (pmg_dispatch_polls). The GIL is held everywhere except inside
 * pmg_poll's wait, which releases it itself. */
#include "native.h"
#include "_cgo_export.h"

#include <string.h>

extern PyObject *PyInit__gobind(void);
extern PyMethodDef pmg_func_methods[]; /* funcs.c */

static int forked = 0;
static const char FORK_MSG[] =
    "pymongoose cannot be used in a process created by fork() without exec: "
    "the Go runtime does not survive fork. Use the 'spawn' or 'forkserver' "
    "multiprocessing start methods (multiprocessing.set_start_method('spawn')).";

static PyTypeObject CoreType, ConnType, HttpMsgType, WsMsgType, MqttMsgType, TimerType;

static PyObject *str_items; /* interned "items" */
static PyObject *make_simple_msg(PyTypeObject *type, const char *p1, Py_ssize_t n1, const char *p2,
                                 Py_ssize_t n2, long long ival);
static void simple_msg_invalidate(PyObject *o);

#define CHECK_FORK(ret)                                   \
    do {                                                  \
        if (forked) {                                     \
            PyErr_SetString(PyExc_RuntimeError, FORK_MSG); \
            return ret;                                   \
        }                                                 \
    } while (0)

static PyObject *closed_error(void) {
    if (!PyErr_Occurred()) /* else: pmg_conn_mid()'s foreign-thread error */
        PyErr_SetString(PyExc_RuntimeError, "Connection has been closed");
    return NULL;
}

/* ------------------------------------------------------------------ */
/* One thread at a time                                                 */

static const char THREAD_MSG[] =
    "%s was called from another thread while the Manager is in use by thread %lu; "
    "only wakeup() and close() are safe from any thread";

/* The public name of the call whose C function is fn (see CONN_MID). */
static const char *public_name(const char *fn) {
    static const struct {
        const char *fn, *name;
    } odd[] = {{"conn_info", "a Connection attribute"},
               {"conn_copy", "Connection.recv_data()/send_data()"},
               {"http_serve", "Connection.serve_file()/serve_dir()"},
               {"mqtt_simple", "Connection.mqtt_ping()/mqtt_pong()/mqtt_disconnect()"}};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
        if (strcmp(fn, odd[i].fn) == 0)
            return odd[i].name;
    return NULL;
}

long long pmg_foreign_call(CoreObject *c, const char *fn) {
    const char *name = public_name(fn);
    if (name) {
        PyErr_Format(PyExc_RuntimeError, THREAD_MSG, name, c->owner);
    } else {
        char buf[96];
        snprintf(buf, sizeof buf, "Connection.%s()", strncmp(fn, "conn_", 5) == 0 ? fn + 5 : fn);
        PyErr_Format(PyExc_RuntimeError, THREAD_MSG, buf, c->owner);
    }
    return 0;
}

/* -1 with the RuntimeError when another thread is inside the Manager. */
static int check_owner(CoreObject *c, const char *name) {
    if (c->busy && c->owner != PyThread_get_thread_ident()) {
        PyErr_Format(PyExc_RuntimeError, THREAD_MSG, name, c->owner);
        return -1;
    }
    return 0;
}

/* The calling thread is inside the Manager until core_leave(): handlers it
 * runs there may let the GIL go, and another thread must not come in. */
static inline void core_enter(CoreObject *c) {
    if (c->busy++ == 0)
        c->owner = PyThread_get_thread_ident();
}

static inline void core_leave(CoreObject *c) { c->busy--; }

/* Shared with the other .c files of the extension (native.h). */
PyObject *pmg_closed_error(void) { return closed_error(); }
int pmg_forked(void) { return forked; }
PyObject *pmg_fork_error(void) {
    PyErr_SetString(PyExc_RuntimeError, FORK_MSG);
    return NULL;
}
int pmg_check_fork(void) {
    if (forked) {
        PyErr_SetString(PyExc_RuntimeError, FORK_MSG);
        return -1;
    }
    return 0;
}
PyObject *pmg_internal_error(const char *name) {
    PyErr_Format(PyExc_RuntimeError, "pymongoose: internal error in %s()", name);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Conversions                                                          */

/* data -> bytes, following pymongoose: str is UTF-8, else bytes(data).
 * Returns a new reference. */
static PyObject *to_bytes(PyObject *data) {
    if (PyBytes_CheckExact(data)) {
        Py_INCREF(data);
        return data;
    }
    if (PyUnicode_Check(data))
        return PyUnicode_AsUTF8String(data);
    return PyObject_CallOneArg((PyObject *)&PyBytes_Type, data);
}

static PyObject *decode(const char *p, Py_ssize_t n) {
    return PyUnicode_DecodeUTF8(p ? p : "", p ? n : 0, "surrogateescape");
}

PyObject *pmg_to_bytes(PyObject *data) { return to_bytes(data); }
PyObject *pmg_decode(const char *p, Py_ssize_t n) { return decode(p, n); }

/* MG_EV_ERROR text: UTF-8 with undecodable bytes dropped. */
static PyObject *decode_error_text(const char *p, Py_ssize_t n) {
    return PyUnicode_DecodeUTF8(p ? p : "", p ? n : 0, "ignore");
}

/* ------------------------------------------------------------------ */
/* Core: per-Manager state                                               */

static void core_clear_pending(CoreObject *c) {
    Py_CLEAR(c->exc_type);
    Py_CLEAR(c->exc_value);
    Py_CLEAR(c->exc_tb);
}

static int core_traverse(CoreObject *c, visitproc visit, void *arg) {
    Py_VISIT(c->handler);
    Py_VISIT(c->timers);
    Py_VISIT(c->pending_handler);
    Py_VISIT(c->error_handler);
    return 0;
}

static int core_clear(CoreObject *c) {
    Py_CLEAR(c->handler);
    Py_CLEAR(c->timers);
    Py_CLEAR(c->pending_handler);
    Py_CLEAR(c->error_handler);
    core_clear_pending(c);
    return 0;
}

static void core_dealloc(CoreObject *c) {
    PyObject_GC_UnTrack(c);
    core_clear(c);
    Py_TYPE(c)->tp_free((PyObject *)c);
}

static PyObject *core_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    PyObject *handler = Py_None;
    static char *kwlist[] = {"handler", NULL};
    CHECK_FORK(NULL);
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwlist, &handler))
        return NULL;
    CoreObject *c = (CoreObject *)type->tp_alloc(type, 0);
    if (!c)
        return NULL;
    Py_INCREF(handler);
    c->handler = handler;
    c->timers = PyDict_New();
    Py_INCREF(Py_None);
    c->pending_handler = Py_None;
    c->error_handler = Py_NewRef(Py_None);
    if (!c->timers) {
        Py_DECREF(c);
        return NULL;
    }
    return (PyObject *)c;
}

static PyObject *core_attach(CoreObject *c, PyObject *arg) {
    long long mid = PyLong_AsLongLong(arg);
    if (mid == -1 && PyErr_Occurred())
        return NULL;
    if (!pmg_attach(mid, (PyObject *)c)) {
        PyErr_SetString(PyExc_RuntimeError, "Manager has been freed");
        return NULL;
    }
    c->mid = mid;
    Py_INCREF(c); /* owned by the Go registry until the Manager is freed */
    Py_RETURN_NONE;
}

static PyObject *core_set_pending(CoreObject *c, PyObject *h) {
    Py_INCREF(h);
    Py_SETREF(c->pending_handler, h);
    Py_RETURN_NONE;
}

/* Re-raise a KeyboardInterrupt/SystemExit held back by the dispatcher. */
static PyObject *core_raise_pending(CoreObject *c, PyObject *unused) {
    if (c->exc_type) {
        PyErr_Restore(c->exc_type, c->exc_value, c->exc_tb);
        c->exc_type = c->exc_value = c->exc_tb = NULL;
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *core_poll(CoreObject *c, PyObject *arg) {
    CHECK_FORK(NULL);
    if (!PyLong_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "an integer is required");
        return NULL;
    }
    long long t = PyLong_AsLongLong(arg);
    if (t == -1 && PyErr_Occurred())
        return NULL;
    if (t > INT32_MAX)
        t = INT32_MAX;
    if (t < -1)
        t = -1;
    if (c->mid == 0 || c->closing) {
        PyErr_SetString(PyExc_RuntimeError, "Manager has been freed");
        return NULL;
    }
    if (!c->polling && check_owner(c, "Manager.poll()") < 0) /* another thread is in a cold call */
        return NULL;
    if (c->busy) { /* re-entered from a handler, or concurrent: cymongoose 0.2's message */
        PyErr_SetString(PyExc_RuntimeError,
                        "poll() is not reentrant and must not be called concurrently. "
                        "Use AsyncManager for multi-threaded access.");
        return NULL;
    }
    c->polling = 1;
    c->poll_thread = PyThread_get_thread_ident();
    Py_INCREF(c);
    core_enter(c);
    int rc = pmg_poll(c->mid, (int)t);
    core_leave(c);
    c->polling = 0;
    PyObject *res = NULL;
    if (rc == 0) {
        if (c->exc_type)
            core_raise_pending(c, NULL);
        else
            res = Py_NewRef(Py_None);
    } else if (rc == 1) {
        PyErr_SetString(PyExc_RuntimeError, "Manager has been freed");
    } else if (rc == 3) {
        /* a signal handler raised: the exception is already set */
        if (!PyErr_Occurred())
            res = Py_NewRef(Py_None);
    } else if (rc == 4) {
        if (c->exc_type)
            core_raise_pending(c, NULL);
        else
            res = Py_NewRef(Py_None);
    } else {
        PyErr_SetString(PyExc_RuntimeError, "internal error in the event loop");
    }
    Py_DECREF(c);
    return res;
}

/* An external event loop drives the Manager: it watches fileno() and calls
 * poll(0) when it is readable or when next_timeout() milliseconds have
 * passed (0: at once; -1: only when the descriptor is readable). */
static PyObject *core_fileno(CoreObject *c, PyObject *unused) {
    CHECK_FORK(NULL);
    if (check_owner(c, "Manager.fileno()") < 0)
        return NULL;
    int fd = c->mid && !c->closing ? pmg_loop_fd(c->mid) : -1;
    if (fd < 0) {
        PyErr_SetString(PyExc_RuntimeError, "Manager has been freed");
        return NULL;
    }
    return PyLong_FromLong(fd);
}

static PyObject *core_next_timeout(CoreObject *c, PyObject *unused) {
    CHECK_FORK(NULL);
    if (check_owner(c, "Manager.next_timeout_ms()") < 0)
        return NULL;
    long long ms = c->mid && !c->closing ? pmg_next_timeout(c->mid) : -2;
    if (ms < -1) {
        PyErr_SetString(PyExc_RuntimeError, "Manager has been freed");
        return NULL;
    }
    return PyLong_FromLongLong(ms);
}

/* The engine owns one reference to each wrapper (core.Conn.Tag) until
 * MG_EV_CLOSE has been delivered, and finds them by id: no dict keyed by
 * id here, which would cost ~60 bytes per idle connection. */
static PyObject *core_conn(CoreObject *c, PyObject *arg) {
    CHECK_FORK(NULL);
    if (check_owner(c, "Manager.conn()") < 0)
        return NULL;
    unsigned long long id = PyLong_AsUnsignedLongLong(arg);
    if (id == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    PyObject *o = c->mid ? pmg_conn_object(c->mid, id) : NULL;
    if (!o) {
        PyErr_SetString(PyExc_RuntimeError, "connection is gone");
        return NULL;
    }
    return Py_NewRef(o);
}

static PyObject *core_connections(CoreObject *c, PyObject *unused) {
    CHECK_FORK(NULL);
    if (check_owner(c, "Manager.connections") < 0)
        return NULL;
    PyObject *list = PyList_New(0);
    if (!list || !c->mid)
        return list;
    for (;;) {
        long long n = pmg_conn_objects(c->mid, NULL, 0);
        PyObject **objs = PyMem_Malloc((n ? n : 1) * sizeof(PyObject *));
        if (!objs) {
            Py_DECREF(list);
            return PyErr_NoMemory();
        }
        long long got = pmg_conn_objects(c->mid, objs, n);
        if (got > n) { /* cannot happen under the GIL; retry anyway */
            PyMem_Free(objs);
            continue;
        }
        for (long long i = 0; i < got; i++) {
            if (PyList_Append(list, objs[i]) < 0) {
                PyMem_Free(objs);
                Py_DECREF(list);
                return NULL;
            }
        }
        PyMem_Free(objs);
        return list;
    }
}

/* Register a timer callback; returns (key, Timer). */
static PyObject *core_timer_new(CoreObject *c, PyObject *cb) {
    TimerObject *t = PyObject_GC_New(TimerObject, &TimerType);
    if (!t)
        return NULL;
    t->callback = Py_NewRef(cb);
    t->core = Py_NewRef((PyObject *)c);
    t->key = ++c->next_timer_key;
    t->active = 1;
    PyObject_GC_Track(t);
    PyObject *key = PyLong_FromLongLong(t->key);
    if (!key || PyDict_SetItem(c->timers, key, (PyObject *)t) < 0) {
        Py_XDECREF(key);
        Py_DECREF(t);
        return NULL;
    }
    PyObject *r = PyTuple_Pack(2, key, (PyObject *)t);
    Py_DECREF(key);
    Py_DECREF(t);
    return r;
}

/* enter(name): the calling thread is inside the Manager until leave();
 * RuntimeError naming the call when another thread is. For the cold calls
 * of _manager.py, whose gopy wrappers let the GIL go. */
static PyObject *core_enter_py(CoreObject *c, PyObject *name) {
    const char *n = PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
    if (!n) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "enter() needs the name of the call");
        return NULL;
    }
    CHECK_FORK(NULL);
    if (check_owner(c, n) < 0)
        return NULL;
    core_enter(c);
    Py_RETURN_NONE;
}

static PyObject *core_leave_py(CoreObject *c, PyObject *unused) {
    if (c->busy > 0)
        core_leave(c);
    Py_RETURN_NONE;
}

static PyObject *core_get_owner(CoreObject *c, void *x) {
    return PyLong_FromUnsignedLong(c->busy ? c->owner : 0);
}

static PyObject *core_get_polling(CoreObject *c, void *x) { return PyBool_FromLong(c->polling); }
static PyObject *core_get_freed(CoreObject *c, void *x) { return PyBool_FromLong(c->mid == 0); }
static PyObject *core_get_poll_thread(CoreObject *c, void *x) {
    return PyLong_FromUnsignedLong(c->polling ? c->poll_thread : 0);
}
static PyObject *core_get_closing(CoreObject *c, void *x) { return PyBool_FromLong(c->closing); }
static int core_set_closing(CoreObject *c, PyObject *v, void *x) {
    int b = PyObject_IsTrue(v);
    if (b < 0)
        return -1;
    c->closing = b;
    return 0;
}
static PyObject *core_get_handler(CoreObject *c, void *x) { return Py_NewRef(c->handler); }
static PyObject *core_get_error_handler(CoreObject *c, void *x) { return Py_NewRef(c->error_handler); }
static int core_set_error_handler(CoreObject *c, PyObject *v, void *x) {
    Py_XSETREF(c->error_handler, Py_NewRef(v ? v : Py_None));
    return 0;
}
static int core_set_handler(CoreObject *c, PyObject *v, void *x) {
    if (!v)
        v = Py_None;
    Py_INCREF(v);
    Py_SETREF(c->handler, v);
    return 0;
}

static PyMethodDef core_methods[] = {
    {"attach", (PyCFunction)core_attach, METH_O, NULL},
    {"set_pending", (PyCFunction)core_set_pending, METH_O, NULL},
    {"raise_pending", (PyCFunction)core_raise_pending, METH_NOARGS, NULL},
    {"poll", (PyCFunction)core_poll, METH_O, NULL},
    {"fileno", (PyCFunction)core_fileno, METH_NOARGS, NULL},
    {"next_timeout", (PyCFunction)core_next_timeout, METH_NOARGS, NULL},
    {"conn", (PyCFunction)core_conn, METH_O, NULL},
    {"connections", (PyCFunction)core_connections, METH_NOARGS, NULL},
    {"timer_new", (PyCFunction)core_timer_new, METH_O, NULL},
    {"enter", (PyCFunction)core_enter_py, METH_O, NULL},
    {"leave", (PyCFunction)core_leave_py, METH_NOARGS, NULL},
    {NULL}};

static PyGetSetDef core_getset[] = {
    {"polling", (getter)core_get_polling, NULL, NULL, NULL},
    {"freed", (getter)core_get_freed, NULL, NULL, NULL},
    {"poll_thread", (getter)core_get_poll_thread, NULL, NULL, NULL},
    {"owner", (getter)core_get_owner, NULL, "Thread id inside the Manager, 0 when none.", NULL},
    {"closing", (getter)core_get_closing, (setter)core_set_closing, NULL, NULL},
    {"handler", (getter)core_get_handler, (setter)core_set_handler, NULL, NULL},
    {"error_handler", (getter)core_get_error_handler, (setter)core_set_error_handler, NULL, NULL},
    {NULL}};

static PyTypeObject CoreType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pymongoose._mongoose._Core",
    .tp_basicsize = sizeof(CoreObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = core_new,
    .tp_dealloc = (destructor)core_dealloc,
    .tp_traverse = (traverseproc)core_traverse,
    .tp_clear = (inquiry)core_clear,
    .tp_methods = core_methods,
    .tp_getset = core_getset,
};

/* ------------------------------------------------------------------ */
/* Calls from Go                                                        */

void *pmg_save_thread(void) { return PyEval_SaveThread(); }
void pmg_restore_thread(void *ts) { PyEval_RestoreThread((PyThreadState *)ts); }
int pmg_check_signals(void) { return PyErr_CheckSignals(); }
int pmg_core_closing(PyObject *core) { return ((CoreObject *)core)->closing; }

void pmg_incref(PyObject *o) {
    PyGILState_STATE st = PyGILState_Ensure();
    Py_INCREF(o);
    PyGILState_Release(st);
}

void pmg_decref(PyObject *o) {
    PyGILState_STATE st = PyGILState_Ensure();
    Py_DECREF(o);
    PyGILState_Release(st);
}

/* The Go side has forgotten this Manager: invalidate what is left. */
void pmg_core_freed(PyObject *core) {
    PyGILState_STATE st = PyGILState_Ensure();
    CoreObject *c = (CoreObject *)core;
    c->mid = 0; /* every wrapper was invalidated by its MG_EV_CLOSE */
    PyObject *vals = PyDict_Values(c->timers);
    if (vals) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(vals); i++)
            ((TimerObject *)PyList_GET_ITEM(vals, i))->active = 0;
        Py_DECREF(vals);
    }
    PyDict_Clear(c->timers);
    PyErr_Clear();
    Py_DECREF(c); /* the registry's reference */
    PyGILState_Release(st);
}

PyObject *pmg_wrap(PyObject *core, long long mid, unsigned long long id, PyObject *parent) {
    PyGILState_STATE st = PyGILState_Ensure();
    CoreObject *c = (CoreObject *)core;
    ConnObject *cn = PyObject_GC_New(ConnObject, &ConnType);
    PyObject *res = NULL;
    if (cn) {
        PyObject *h = parent ? ((ConnObject *)parent)->handler : c->pending_handler;
        cn->handler = Py_NewRef(h ? h : Py_None);
        cn->userdata = Py_NewRef(Py_None);
        cn->core = (CoreObject *)Py_NewRef(core);
        cn->id = id;
        cn->was = NULL;
        PyObject_GC_Track(cn);
        res = (PyObject *)cn; /* owned by the engine (Conn.Tag) until conn_invalidate */
    }
    if (!res)
        PyErr_Clear();
    PyGILState_Release(st);
    return res;
}

/* MG_EV_CLOSE of cn is being delivered. */
static int conn_in_close(ConnObject *cn) {
    for (struct pmg_closing *p = cn->core ? cn->core->in_close : NULL; p; p = p->prev)
        if (p->conn == (PyObject *)cn)
            return 1;
    return 0;
}

/* What a connection was, which its closed wrapper keeps reporting: id,
 * is_listening/is_client/is_tls/is_udp/is_websocket and the addresses. */
struct pmg_conn_was {
    unsigned long long id;
    pmg_info info; /* only the identity flags are kept */
};
#define PMG_F_IDENTITY (PMG_F_LISTENING | PMG_F_CLIENT | PMG_F_TLS | PMG_F_UDP | PMG_F_WEBSOCKET)

static void conn_invalidate(ConnObject *cn) {
    CoreObject *c = cn->core;
    /* The engine still finds the connection while its MG_EV_CLOSE is delivered. */
    struct pmg_conn_was *was = cn->was ? NULL : PyMem_Malloc(sizeof(*was));
    if (was) {
        memset(&was->info, 0, sizeof(was->info));
        if (!pmg_conn_info(CONN_MID(cn), cn->id, &was->info)) /* a Go panic may have half filled it */
            memset(&was->info, 0, sizeof(was->info));
        was->id = cn->id;
        was->info.flags &= PMG_F_IDENTITY;
        cn->was = was;
    }
    cn->id = 0;
    cn->core = NULL;
    Py_XDECREF(c);
    Py_DECREF(cn); /* the engine's reference: Go clears Conn.Tag next */
}

/* Report the exception raised by a handler: an Exception goes to the
 * Manager's error_handler (its own exception printed) or is printed, and the
 * loop goes on; anything else is kept to propagate out of poll(). */
static int handle_error(CoreObject *c) {
    if (PyErr_ExceptionMatches(PyExc_Exception)) {
        if (c->error_handler && c->error_handler != Py_None) {
            PyObject *t, *v, *tb;
            PyErr_Fetch(&t, &v, &tb);
            PyErr_NormalizeException(&t, &v, &tb);
            if (tb && v)
                PyException_SetTraceback(v, tb);
            PyObject *eh = Py_NewRef(c->error_handler);
            PyObject *r = v ? PyObject_CallOneArg(eh, v) : NULL;
            Py_DECREF(eh);
            Py_XDECREF(t);
            Py_XDECREF(v);
            Py_XDECREF(tb);
            if (r) {
                Py_DECREF(r);
                return PMG_EXCEPTION;
            }
            if (!PyErr_ExceptionMatches(PyExc_Exception))
                goto propagate;
        }
        /* Through sys.excepthook, as threading.excepthook would print it,
         * but not kept in sys.last_exc: it would keep the handler's frame
         * (and its connection) alive. */
        PyErr_PrintEx(0);
        return PMG_EXCEPTION;
    }
propagate:
    if (c->exc_type) {
        /* keep the first one */
        PyErr_Clear();
    } else {
        PyErr_Fetch(&c->exc_type, &c->exc_value, &c->exc_tb);
    }
    return PMG_ABORT;
}

static PyObject *make_http_msg(const char *head, Py_ssize_t hn, const char *body, Py_ssize_t bn,
                               const int32_t *spans, int nhdr) {
    HttpMsgObject *m = PyObject_New(HttpMsgObject, &HttpMsgType);
    if (!m)
        return NULL;
    if (nhdr > PMG_MAX_HEADERS)
        nhdr = PMG_MAX_HEADERS;
    m->head = head;
    m->head_len = hn;
    m->body = body;
    m->body_len = bn;
    m->nhdr = nhdr;
    m->valid = 1;
    memcpy(m->spans, spans, sizeof(int32_t) * 2 * (4 + 2 * nhdr));
    return (PyObject *)m;
}

static void http_msg_invalidate(HttpMsgObject *m) {
    m->valid = 0;
    m->head = m->body = NULL;
    m->head_len = m->body_len = 0;
    m->nhdr = 0;
}

int pmg_dispatch(PyObject *core, PyObject *conn, int ev, int kind,
                 const char *p1, Py_ssize_t n1, const char *p2, Py_ssize_t n2,
                 const int32_t *spans, int nhdr, long long ival) {
    if (!core) /* the Manager was freed by a handler further up the stack */
        return PMG_OK;
    /* Not PyGILState_Check(): it answers 1 once a sub-interpreter has
     * existed, also when a gopy wrapper let the GIL go. */
    PyGILState_STATE st = PyGILState_Ensure();
    CoreObject *c = (CoreObject *)core;
    Py_INCREF(c); /* a handler may drop the last other reference */
    core_enter(c);
    ConnObject *cn = (ConnObject *)conn;
    int rc = PMG_OK;
    Py_INCREF(cn);
    struct pmg_closing closing = {conn, c->in_close};
    if (ev == 9 /* MG_EV_CLOSE */)
        c->in_close = &closing;
    PyObject *h = cn->handler != Py_None ? cn->handler : c->handler;
    if (h != Py_None) {
        PyObject *data;
        switch (kind) {
        case PMG_DATA_HTTP:
            data = make_http_msg(p1, n1, p2, n2, spans, nhdr);
            break;
        case PMG_DATA_STR:
            data = decode_error_text(p1, n1);
            break;
        case PMG_DATA_BYTES:
            data = PyBytes_FromStringAndSize(p1 ? p1 : "", p1 ? n1 : 0);
            break;
        case PMG_DATA_INT:
            data = PyLong_FromLongLong(ival);
            break;
        case PMG_DATA_WS:
            data = make_simple_msg(&WsMsgType, NULL, 0, p1, n1, ival);
            break;
        case PMG_DATA_MQTT:
            data = make_simple_msg(&MqttMsgType, p1, n1, p2, n2, ival);
            break;
        default:
            data = Py_NewRef(Py_None);
        }
        PyObject *evo = data ? PyLong_FromLong(ev) : NULL;
        if (!data || !evo) {
            Py_XDECREF(data);
            rc = handle_error(c);
        } else {
            Py_INCREF(h);
            PyObject *args[3] = {conn, evo, data};
            PyObject *r = PyObject_Vectorcall(h, args, 3, NULL);
            Py_DECREF(h);
            if (kind == PMG_DATA_HTTP)
                http_msg_invalidate((HttpMsgObject *)data);
            else if (kind == PMG_DATA_WS || kind == PMG_DATA_MQTT)
                simple_msg_invalidate(data);
            if (r)
                Py_DECREF(r);
            else
                rc = handle_error(c);
            Py_DECREF(evo);
            Py_DECREF(data);
        }
    }
    if (ev == 9) {
        c->in_close = closing.prev;
        conn_invalidate(cn);
    }
    Py_DECREF(cn);
    core_leave(c);
    Py_DECREF(c);
    PyGILState_Release(st);
    return rc;
}

/* MG_EV_POLL for a run of connections in one crossing (core.PollBatcher):
 * pmg_dispatch's delivery for each, in order. A wrapper closed by an earlier
 * handler of the run (id 0) is skipped; the run stops after a handler that
 * let a KeyboardInterrupt/SystemExit through or after which the engine set
 * *stop (it must finish that turn first). Returns (connections gone
 * through << 2) | result of the last handler. */
long long pmg_dispatch_polls(PyObject *core, uintptr_t *conns, int n, const uint32_t *stop) {
    if (!core) /* the Manager was freed by a handler further up the stack */
        return (long long)n << 2 | PMG_OK;
    /* Not PyGILState_Check(): it answers 1 once a sub-interpreter has
     * existed, also when a gopy wrapper let the GIL go. */
    PyGILState_STATE st = PyGILState_Ensure();
    CoreObject *c = (CoreObject *)core;
    Py_INCREF(c); /* a handler may drop the last other reference */
    core_enter(c);
    PyObject *evo = PyLong_FromLong(2); /* MG_EV_POLL: a cached small int, cannot fail */
    int i, rc = PMG_OK;
    /* Handlers may close (and so free) wrappers further on in the run. */
    for (i = 0; i < n; i++)
        Py_XINCREF((PyObject *)conns[i]);
    for (i = 0; i < n;) {
        ConnObject *cn = (ConnObject *)conns[i++];
        rc = PMG_OK;
        if (!cn || cn->id == 0 || conn_in_close(cn))
            continue;
        PyObject *h = cn->handler != Py_None ? cn->handler : c->handler;
        if (h == Py_None)
            continue;
        Py_INCREF(h);
        PyObject *args[3] = {(PyObject *)cn, evo, Py_None};
        PyObject *r = PyObject_Vectorcall(h, args, 3, NULL);
        Py_DECREF(h);
        if (r)
            Py_DECREF(r);
        else
            rc = handle_error(c);
        if (rc == PMG_ABORT || *(const volatile uint32_t *)stop)
            break;
    }
    for (int j = 0; j < n; j++)
        Py_XDECREF((PyObject *)conns[j]);
    Py_DECREF(evo);
    core_leave(c);
    Py_DECREF(c);
    PyGILState_Release(st);
    return (long long)i << 2 | rc;
}

int pmg_timer_fire(PyObject *core, long long key, int last) {
    if (!core) /* the Manager was freed by a handler further up the stack */
        return PMG_OK;
    /* Not PyGILState_Check(): it answers 1 once a sub-interpreter has
     * existed, also when a gopy wrapper let the GIL go. */
    PyGILState_STATE st = PyGILState_Ensure();
    CoreObject *c = (CoreObject *)core;
    Py_INCREF(c); /* a handler may drop the last other reference */
    core_enter(c);
    int rc = PMG_OK;
    PyObject *k = PyLong_FromLongLong(key);
    TimerObject *t = k ? (TimerObject *)PyDict_GetItemWithError(c->timers, k) : NULL;
    if (t) {
        Py_INCREF(t);
        if (last) {
            t->active = 0;
            PyDict_DelItem(c->timers, k);
        }
        PyObject *r = PyObject_CallNoArgs(t->callback);
        if (r)
            Py_DECREF(r);
        else
            rc = handle_error(c);
        Py_DECREF(t);
    } else {
        PyErr_Clear();
    }
    Py_XDECREF(k);
    core_leave(c);
    Py_DECREF(c);
    PyGILState_Release(st);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Connection                                                           */

static int conn_traverse(ConnObject *cn, visitproc visit, void *arg) {
    Py_VISIT(cn->handler);
    Py_VISIT(cn->userdata);
    Py_VISIT(cn->core);
    return 0;
}

static int conn_clear(ConnObject *cn) {
    Py_CLEAR(cn->handler);
    Py_CLEAR(cn->userdata);
    Py_CLEAR(cn->core);
    return 0;
}

static void conn_dealloc(ConnObject *cn) {
    PyObject_GC_UnTrack(cn);
    conn_clear(cn);
    PyMem_Free(cn->was);
    Py_TYPE(cn)->tp_free((PyObject *)cn);
}

/* A directly constructed Connection is a closed wrapper. */
static PyObject *conn_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    ConnObject *cn = (ConnObject *)type->tp_alloc(type, 0);
    if (!cn)
        return NULL;
    cn->handler = Py_NewRef(Py_None);
    cn->userdata = Py_NewRef(Py_None);
    return (PyObject *)cn;
}

/* Fills info; returns 0 when the wrapper is closed, -1 with the
 * RuntimeError when another thread is inside the Manager. */
static int conn_info(ConnObject *cn, pmg_info *info) {
    memset(info, 0, sizeof(*info));
    if (cn->id == 0 || forked)
        return 0;
    long long mid = CONN_MID(cn);
    if (mid == 0 && PyErr_Occurred())
        return -1;
    return pmg_conn_info(mid, cn->id, info);
}

static PyObject *conn_flag(ConnObject *cn, unsigned int flag) {
    pmg_info info;
    int ok = conn_info(cn, &info);
    if (ok < 0)
        return NULL;
    if (!ok) {
        if (cn->was && (flag & PMG_F_IDENTITY))
            return PyBool_FromLong((cn->was->info.flags & flag) != 0);
        return PyBool_FromLong(flag == PMG_F_CLOSING);
    }
    if (flag == PMG_F_CLOSING && conn_in_close(cn))
        Py_RETURN_TRUE;
    return PyBool_FromLong((info.flags & flag) != 0);
}

#define FLAG_GETTER(name, flag) \
    static PyObject *conn_get_##name(ConnObject *cn, void *x) { return conn_flag(cn, flag); }
FLAG_GETTER(is_listening, PMG_F_LISTENING)
FLAG_GETTER(is_client, PMG_F_CLIENT)
FLAG_GETTER(is_tls, PMG_F_TLS)
FLAG_GETTER(is_udp, PMG_F_UDP)
FLAG_GETTER(is_websocket, PMG_F_WEBSOCKET)
FLAG_GETTER(is_readable, PMG_F_READABLE)
FLAG_GETTER(is_writable, PMG_F_WRITABLE)
FLAG_GETTER(is_full, PMG_F_FULL)
FLAG_GETTER(is_draining, PMG_F_DRAINING)
FLAG_GETTER(is_closing, PMG_F_CLOSING)

#define LEN_GETTER(name)                                           \
    static PyObject *conn_get_##name(ConnObject *cn, void *x) {     \
        pmg_info info;                                             \
        if (conn_info(cn, &info) < 0)                              \
            return NULL;                                           \
        return PyLong_FromLongLong(info.name);                     \
    }
LEN_GETTER(recv_len)
LEN_GETTER(send_len)
LEN_GETTER(recv_size)
LEN_GETTER(send_size)

static PyObject *conn_get_id(ConnObject *cn, void *x) {
    return PyLong_FromUnsignedLongLong(cn->id ? cn->id : cn->was ? cn->was->id : 0);
}

static PyObject *format_addr(const unsigned char *ip, int port, int v6) {
    char buf[64];
    if (v6) {
        snprintf(buf, sizeof buf,
                 "%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x",
                 ip[0], ip[1], ip[2], ip[3], ip[4], ip[5], ip[6], ip[7], ip[8], ip[9], ip[10],
                 ip[11], ip[12], ip[13], ip[14], ip[15]);
    } else {
        snprintf(buf, sizeof buf, "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
    }
    return Py_BuildValue("(siO)", buf, port, v6 ? Py_True : Py_False);
}

/* The live connection's info, else what the closed one was; NULL if neither. */
static const pmg_info *conn_addr_info(ConnObject *cn, pmg_info *info) {
    int ok = conn_info(cn, info);
    if (ok)
        return ok > 0 ? info : NULL;
    return cn->was ? &cn->was->info : NULL;
}

static PyObject *conn_get_local_addr(ConnObject *cn, void *x) {
    pmg_info buf;
    const pmg_info *info = conn_addr_info(cn, &buf);
    if (!info)
        return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
    return format_addr(info->local_ip, info->local_port, info->local_v6);
}

static PyObject *conn_get_remote_addr(ConnObject *cn, void *x) {
    pmg_info buf;
    const pmg_info *info = conn_addr_info(cn, &buf);
    if (!info)
        return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
    return format_addr(info->remote_ip, info->remote_port, info->remote_v6);
}

static PyObject *conn_get_handler(ConnObject *cn, void *x) { return Py_NewRef(cn->handler); }

static PyObject *conn_set_handler(ConnObject *cn, PyObject *h) {
    Py_INCREF(h);
    Py_SETREF(cn->handler, h);
    Py_RETURN_NONE;
}

static PyObject *conn_get_userdata(ConnObject *cn, void *x) { return Py_NewRef(cn->userdata); }

static int conn_set_userdata(ConnObject *cn, PyObject *v, void *x) {
    if (!v)
        v = Py_None;
    Py_INCREF(v);
    Py_SETREF(cn->userdata, v);
    return 0;
}

static PyObject *conn_repr(ConnObject *cn) {
    pmg_info info;
    int ok = conn_info(cn, &info);
    if (ok < 0) { /* repr() must work from anywhere (tracebacks, debuggers) */
        PyErr_Clear();
        return PyUnicode_FromFormat("<Connection id=%llu>", cn->id);
    }
    if (!ok)
        return PyUnicode_FromString("<Connection closed>");
    return PyUnicode_FromFormat("<Connection id=%llu readable=%s writable=%s>", cn->id,
                                (info.flags & PMG_F_READABLE) ? "True" : "False",
                                (info.flags & PMG_F_WRITABLE) ? "True" : "False");
}

/* The engine reports a vanished connection as 0: treat it as closed. */
#define CHECK_OPEN(cn)                    \
    do {                                  \
        CHECK_FORK(NULL);                 \
        if ((cn)->id == 0)                \
            return closed_error();        \
    } while (0)

static int parse_length(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                        long long *length) {
    PyObject *lo = NULL;
    *length = -1;
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "expected at most 1 argument");
        return -1;
    }
    if (nargs == 1)
        lo = args[0];
    if (kwnames) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); i++) {
            PyObject *k = PyTuple_GET_ITEM(kwnames, i);
            if (PyUnicode_CompareWithASCIIString(k, "length") != 0 || lo) {
                PyErr_Format(PyExc_TypeError, "unexpected keyword argument %R", k);
                return -1;
            }
            lo = args[nargs + i];
        }
    }
    if (lo) {
        if (!PyLong_Check(lo)) {
            PyErr_Format(PyExc_TypeError, "Argument 'length' has incorrect type (expected int, got %s)",
                         Py_TYPE(lo)->tp_name);
            return -1;
        }
        *length = PyLong_AsLongLong(lo);
        if (*length == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            *length = _PyLong_Sign(lo) < 0 ? -1 : LLONG_MAX;
        }
    }
    return 0;
}

static PyObject *conn_copy(ConnObject *cn, int which, long long length) {
    if (cn->id && CONN_MID(cn) == 0 && PyErr_Occurred())
        return NULL; /* named as recv_data/send_data rather than an attribute */
    pmg_info info;
    int ok = conn_info(cn, &info);
    if (ok <= 0)
        return ok < 0 ? NULL : PyBytes_FromStringAndSize("", 0);
    long long have = which ? info.send_len : info.recv_len;
    long long n = (length < 0 || length > have) ? have : length;
    PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n);
    if (!b)
        return NULL;
    if (n > 0) {
        long long got = pmg_conn_copy(CONN_MID(cn), cn->id, which, PyBytes_AS_STRING(b), n);
        if (got != n) {
            Py_DECREF(b);
            return PyBytes_FromStringAndSize("", 0);
        }
    }
    return b;
}

static PyObject *conn_recv_data(ConnObject *cn, PyObject *const *args, Py_ssize_t nargs, PyObject *kw) {
    long long length;
    if (parse_length(args, nargs, kw, &length) < 0)
        return NULL;
    return conn_copy(cn, 0, length);
}

static PyObject *conn_send_data(ConnObject *cn, PyObject *const *args, Py_ssize_t nargs, PyObject *kw) {
    long long length;
    if (parse_length(args, nargs, kw, &length) < 0)
        return NULL;
    return conn_copy(cn, 1, length);
}

static PyObject *conn_send(ConnObject *cn, PyObject *data) {
    PyObject *b = to_bytes(data);
    if (!b)
        return NULL;
    if (cn->id == 0 || forked) {
        Py_DECREF(b);
        CHECK_FORK(NULL);
        return closed_error();
    }
    long long mid = CONN_MID(cn);
    if (mid == 0 && PyErr_Occurred()) { /* another thread is inside: its pending exception stays */
        Py_DECREF(b);
        return NULL;
    }
    CoreObject *c = cn->core;
    Py_XINCREF(c);
    int rc = pmg_conn_send(mid, cn->id, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
    Py_DECREF(b);
    PyObject *r = NULL;
    if (rc == -1)
        closed_error();
    else if (rc != 0)
        PyErr_SetString(PyExc_RuntimeError, "mg_send failed");
    else
        r = Py_NewRef(Py_None);
    /* A UDP send() delivers events (MG_EV_ERROR, MG_EV_CLOSE) at once: a
     * KeyboardInterrupt from their handler propagates from send() itself
     * unless a poll() is running, which will raise it. */
    if (c && !c->polling && c->exc_type) {
        if (r)
            Py_DECREF(r);
        else
            PyErr_Clear();
        r = core_raise_pending(c, NULL);
    }
    Py_XDECREF(c);
    return r;
}

/* _http_send(data, end): raw response bytes framed by a server adapter
 * (pymongoose.asgi/wsgi); end=True finishes the HTTP response so that the
 * next pipelined request is parsed. data must be bytes (no conversion). */
static PyObject *conn_http_send(ConnObject *cn, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "_http_send(data: bytes, end: bool)");
        return NULL;
    }
    int end = PyObject_IsTrue(args[1]);
    if (end < 0)
        return NULL;
    if (cn->id == 0 || forked) {
        CHECK_FORK(NULL);
        return closed_error();
    }
    int rc = pmg_conn_send_response(CONN_MID(cn), cn->id, PyBytes_AS_STRING(args[0]),
                                    PyBytes_GET_SIZE(args[0]), end);
    if (rc == -1)
        return closed_error();
    if (rc != 0) {
        PyErr_SetString(PyExc_RuntimeError, "mg_send failed");
        return NULL;
    }
    Py_RETURN_NONE;
}

/* Appends "name: value\r\n" for each item of headers to buf (a bytearray). */
static int check_header_part(PyObject *s, const char *what) {
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(s, &n);
    if (!p)
        return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0') {
            PyErr_Format(PyExc_ValueError, "Header %s contains illegal character (CR, LF, or NUL): %R",
                         what, s);
            return -1;
        }
    }
    return 0;
}

static PyObject *format_headers(PyObject *headers) {
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

/* Parses fastcall arguments into out[] (NULL when not given) by position or
 * keyword; names is NULL-terminated, the first nreq are required. */
static int parse_fast(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
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

static int has_header_breaker(const char *p, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
            return 1;
    return 0;
}

/* The common case of reply(): a dict of str to str that fits buf. Returns
 * the length written, -1 to take the general path, -2 with an exception. */
static Py_ssize_t format_headers_fast(PyObject *h, char *buf, Py_ssize_t cap) {
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

PyObject *pmg_format_headers(PyObject *headers) { return format_headers(headers); }

/* The message argument of serve_dir, serve_file and ws_upgrade: an HttpMessage that is still
 * valid (TypeError / ValueError otherwise). */
HttpMsgObject *pmg_http_msg_arg(PyObject *o) {
    if (!PyObject_TypeCheck(o, &HttpMsgType)) {
        PyErr_Format(PyExc_TypeError,
                     "Argument 'message' has incorrect type (expected pymongoose._mongoose.HttpMessage, got %s)",
                     Py_TYPE(o)->tp_name);
        return NULL;
    }
    HttpMsgObject *m = (HttpMsgObject *)o;
    if (!m->valid || !m->head || m->head_len <= 0) {
        PyErr_SetString(PyExc_ValueError, "HttpMessage is not valid for this event");
        return NULL;
    }
    return m;
}

static PyObject *conn_reply(ConnObject *cn, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"status_code", "body", "headers", NULL};
    PyObject *a[3];
    if (parse_fast("reply", args, nargs, kwnames, names, 1, a) < 0)
        return NULL;
    PyObject *code_o = a[0], *body_o = a[1], *headers_o = a[2] ? a[2] : Py_None;
    if (!PyLong_Check(code_o)) {
        PyErr_SetString(PyExc_TypeError, "an integer is required");
        return NULL;
    }
    long long code = PyLong_AsLongLong(code_o);
    if (code == -1 && PyErr_Occurred())
        return NULL;
    PyObject *body = body_o ? to_bytes(body_o) : PyBytes_FromStringAndSize("", 0);
    if (!body)
        return NULL;
    PyObject *hdrs = NULL;
    char hbuf[1024];
    Py_ssize_t hlen = -1;
    const char *hp = NULL;
    if (headers_o != Py_None) {
        hlen = format_headers_fast(headers_o, hbuf, sizeof hbuf);
        if (hlen == -2) {
            Py_DECREF(body);
            return NULL;
        }
        if (hlen >= 0) {
            hp = hbuf;
        } else if ((hdrs = format_headers(headers_o))) {
            hp = PyBytes_AS_STRING(hdrs);
            hlen = PyBytes_GET_SIZE(hdrs);
        } else {
            Py_DECREF(body);
            return NULL;
        }
    }
    if (cn->id == 0 || forked) {
        Py_DECREF(body);
        Py_XDECREF(hdrs);
        CHECK_FORK(NULL);
        return closed_error();
    }
    /* hp == NULL with hlen == 0 (an empty dict) means no header lines at
     * all; headers=None means the default Content-Type line. */
    int rc = pmg_conn_reply(CONN_MID(cn), cn->id, code, (char *)(hp ? hp : hbuf), hlen < 0 ? 0 : hlen,
                            headers_o == Py_None, PyBytes_AS_STRING(body), PyBytes_GET_SIZE(body));
    Py_DECREF(body);
    Py_XDECREF(hdrs);
    if (rc != 0)
        return closed_error();
    Py_RETURN_NONE;
}

static PyObject *conn_http_chunk(ConnObject *cn, PyObject *data) {
    PyObject *b = to_bytes(data);
    if (!b)
        return NULL;
    if (cn->id == 0 || forked) {
        Py_DECREF(b);
        CHECK_FORK(NULL);
        return closed_error();
    }
    int rc = pmg_conn_chunk(CONN_MID(cn), cn->id, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
    Py_DECREF(b);
    if (rc != 0)
        return closed_error();
    Py_RETURN_NONE;
}

static PyObject *conn_drain(ConnObject *cn, PyObject *unused) {
    if (cn->id != 0 && !conn_in_close(cn) && !forked) {
        long long mid = CONN_MID(cn);
        if (mid == 0 && PyErr_Occurred())
            return NULL;
        pmg_conn_drain(mid, cn->id);
    }
    Py_RETURN_NONE;
}

static PyObject *conn_close(ConnObject *cn, PyObject *unused) {
    if (cn->id == 0 || conn_in_close(cn) || forked)
        Py_RETURN_NONE;
    long long mid = CONN_MID(cn);
    if (mid == 0 && PyErr_Occurred())
        return NULL;
    CoreObject *c = cn->core;
    Py_INCREF(cn);
    Py_XINCREF(c);
    pmg_conn_close(mid, cn->id);
    /* A KeyboardInterrupt raised by the MG_EV_CLOSE handler propagates from
     * close() itself unless a poll() is running, which will raise it. */
    PyObject *r = Py_NewRef(Py_None);
    if (c && !c->polling && c->exc_type) {
        Py_DECREF(r);
        r = core_raise_pending(c, NULL);
    }
    Py_XDECREF(c);
    Py_DECREF(cn);
    return r;
}

static PyObject *conn_error(ConnObject *cn, PyObject *msg) {
    if (!PyUnicode_Check(msg)) {
        PyErr_Format(PyExc_TypeError, "Argument 'message' has incorrect type (expected str, got %s)",
                     Py_TYPE(msg)->tp_name);
        return NULL;
    }
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(msg, &n);
    if (!p)
        return NULL;
    CHECK_OPEN(cn);
    CoreObject *c = cn->core;
    Py_INCREF(cn);
    Py_XINCREF(c);
    int rc = pmg_conn_error(CONN_MID(cn), cn->id, (char *)p, n);
    PyObject *r = rc == 0 ? Py_NewRef(Py_None) : closed_error();
    if (r && c && !c->polling && c->exc_type) {
        Py_DECREF(r);
        r = core_raise_pending(c, NULL);
    }
    Py_XDECREF(c);
    Py_DECREF(cn);
    return r;
}

static PyMethodDef conn_methods[] = {
    {"set_handler", (PyCFunction)conn_set_handler, METH_O,
     "Set the handler for this connection's events (None falls back to the Manager's)."},
    {"recv_data", (PyCFunction)(void (*)(void))conn_recv_data, METH_FASTCALL | METH_KEYWORDS,
     "recv_data(length=-1) -> bytes: copy of the receive buffer (not consumed)."},
    {"send_data", (PyCFunction)(void (*)(void))conn_send_data, METH_FASTCALL | METH_KEYWORDS,
     "send_data(length=-1) -> bytes: copy of the bytes queued for sending."},
    {"send", (PyCFunction)conn_send, METH_O, "send(data): queue raw bytes (str is UTF-8 encoded)."},
    {"_http_send", (PyCFunction)(void (*)(void))conn_http_send, METH_FASTCALL,
     "_http_send(data, end): raw HTTP response bytes from a server adapter (private)."},
    {"reply", (PyCFunction)(void (*)(void))conn_reply, METH_FASTCALL | METH_KEYWORDS,
     "reply(status_code, body=b'', headers=None): queue a complete HTTP/1.1 response."},
    {"http_chunk", (PyCFunction)conn_http_chunk, METH_O,
     "http_chunk(data): queue one chunk of a chunked response; empty data ends it."},
    {"drain", (PyCFunction)conn_drain, METH_NOARGS,
     "Stop reading, flush the send buffer, then close (graceful close)."},
    {"close", (PyCFunction)conn_close, METH_NOARGS,
     "Close immediately: MG_EV_CLOSE is delivered before this returns; unsent data is dropped."},
    {"error", (PyCFunction)conn_error, METH_O,
     "error(message): deliver MG_EV_ERROR with message and close the connection."},
    {NULL}};

static PyGetSetDef conn_getset[] = {
    {"id", (getter)conn_get_id, NULL, "Connection id (kept once closed; 0 for a directly constructed Connection).", NULL},
    {"handler", (getter)conn_get_handler, NULL, "This connection's own handler, or None.", NULL},
    {"userdata", (getter)conn_get_userdata, (setter)conn_set_userdata, "Any Python object.", NULL},
    {"is_listening", (getter)conn_get_is_listening, NULL, NULL, NULL},
    {"is_client", (getter)conn_get_is_client, NULL, NULL, NULL},
    {"is_tls", (getter)conn_get_is_tls, NULL, NULL, NULL},
    {"is_udp", (getter)conn_get_is_udp, NULL, NULL, NULL},
    {"is_websocket", (getter)conn_get_is_websocket, NULL, NULL, NULL},
    {"is_readable", (getter)conn_get_is_readable, NULL, NULL, NULL},
    {"is_writable", (getter)conn_get_is_writable, NULL, NULL, NULL},
    {"is_full", (getter)conn_get_is_full, NULL, NULL, NULL},
    {"is_draining", (getter)conn_get_is_draining, NULL, "True once drain() was called.", NULL},
    {"is_closing", (getter)conn_get_is_closing, NULL, NULL, NULL},
    {"local_addr", (getter)conn_get_local_addr, NULL, "(ip, port, is_ipv6) or None.", NULL},
    {"remote_addr", (getter)conn_get_remote_addr, NULL, "(ip, port, is_ipv6) or None.", NULL},
    {"recv_len", (getter)conn_get_recv_len, NULL, NULL, NULL},
    {"send_len", (getter)conn_get_send_len, NULL, NULL, NULL},
    {"recv_size", (getter)conn_get_recv_size, NULL, NULL, NULL},
    {"send_size", (getter)conn_get_send_size, NULL, NULL, NULL},
    {NULL}};

static PyTypeObject ConnType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pymongoose._mongoose.Connection",
    .tp_doc = "A network connection owned by a Manager.",
    .tp_basicsize = sizeof(ConnObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = conn_new,
    .tp_dealloc = (destructor)conn_dealloc,
    .tp_traverse = (traverseproc)conn_traverse,
    .tp_clear = (inquiry)conn_clear,
    .tp_repr = (reprfunc)conn_repr,
    .tp_methods = conn_methods,
    .tp_getset = conn_getset,
};

/* ------------------------------------------------------------------ */
/* HttpMessage: a view valid only while the handler runs               */

static PyObject *http_msg_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    HttpMsgObject *m = (HttpMsgObject *)type->tp_alloc(type, 0);
    return (PyObject *)m; /* zeroed: an invalid view */
}

static void http_msg_dealloc(HttpMsgObject *m) { Py_TYPE(m)->tp_free((PyObject *)m); }

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
    return decode(p, n);
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
    return decode(m->body, m->body_len);
}

static int ascii_casecmp(const char *a, const char *b, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x += 32;
        if (y >= 'A' && y <= 'Z')
            y += 32;
        if (x != y)
            return 1;
    }
    return 0;
}

/* Returns the value span of the first header named name, or NULL. */
static const char *find_header(HttpMsgObject *m, const char *name, Py_ssize_t nlen, Py_ssize_t *vlen) {
    if (!m->valid)
        return NULL;
    for (int i = 0; i < m->nhdr; i++) {
        Py_ssize_t kn;
        const char *k = span_ptr(m, 4 + 2 * i, &kn);
        if (kn == nlen && ascii_casecmp(k, name, nlen) == 0)
            return span_ptr(m, 5 + 2 * i, vlen);
    }
    return NULL;
}

static const char *str_arg(PyObject *o, const char *argname, Py_ssize_t *n) {
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "Argument '%s' has incorrect type (expected str, got %.200s)",
                     argname, Py_TYPE(o)->tp_name);
        return NULL;
    }
    return PyUnicode_AsUTF8AndSize(o, n);
}

const char *pmg_str_arg(PyObject *o, const char *argname, Py_ssize_t *n) { return str_arg(o, argname, n); }

static PyObject *http_header(HttpMsgObject *m, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"name", "default", NULL};
    PyObject *name_o, *def = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:header", kwlist, &name_o, &def))
        return NULL;
    Py_ssize_t nlen, vlen;
    const char *name = str_arg(name_o, "name", &nlen);
    if (!name)
        return NULL;
    const char *v = find_header(m, name, nlen, &vlen);
    if (!v)
        return Py_NewRef(def);
    return decode(v, vlen);
}

static PyObject *http_headers(HttpMsgObject *m, PyObject *unused) {
    PyObject *list = PyList_New(0);
    if (!list || !m->valid)
        return list;
    for (int i = 0; i < m->nhdr; i++) {
        Py_ssize_t kn, vn;
        const char *k = span_ptr(m, 4 + 2 * i, &kn);
        const char *v = span_ptr(m, 5 + 2 * i, &vn);
        PyObject *ks = decode(k, kn), *vs = ks ? decode(v, vn) : NULL;
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

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* mg_http_get_var over the query string with a 256-byte buffer: the first
 * name=value pair (case-insensitive name), form-decoded; None when absent,
 * empty, badly escaped or longer than 255 bytes once decoded. */
static PyObject *http_query_var(HttpMsgObject *m, PyObject *name_o) {
    Py_ssize_t nlen, qn;
    const char *name = str_arg(name_o, "name", &nlen);
    if (!name)
        return NULL;
    const char *q = span_ptr(m, 2, &qn);
    if (!m->valid || qn == 0)
        Py_RETURN_NONE;
    const char *end = q + qn, *p = q;
    while (p < end) {
        const char *amp = memchr(p, '&', end - p);
        const char *e = amp ? amp : end;
        const char *eq = memchr(p, '=', e - p);
        const char *k = p;
        Py_ssize_t kn = (eq ? eq : e) - p;
        if (kn == nlen && ascii_casecmp(k, name, nlen) == 0) {
            const char *v = eq ? eq + 1 : e;
            Py_ssize_t vn = e - v;
            char buf[2048]; /* cymongoose 0.2's buffer (API.md 19.1) */
            Py_ssize_t o = 0;
            for (Py_ssize_t i = 0; i < vn; i++) {
                if (o >= (Py_ssize_t)sizeof buf - 1)
                    return PyErr_Format(PyExc_ValueError,
                                        "Query parameter '%U' value exceeds 2048-byte buffer limit", name_o);
                unsigned char ch = (unsigned char)v[i];
                if (ch == '%') {
                    if (i + 2 >= vn)
                        Py_RETURN_NONE;
                    int a = hexval((unsigned char)v[i + 1]), b = hexval((unsigned char)v[i + 2]);
                    if (a < 0 || b < 0)
                        Py_RETURN_NONE;
                    buf[o++] = (char)(a * 16 + b);
                    i += 2;
                } else if (ch == '+') {
                    buf[o++] = ' ';
                } else {
                    buf[o++] = (char)ch;
                }
            }
            if (o == 0)
                Py_RETURN_NONE;
            return decode(buf, o);
        }
        p = amp ? amp + 1 : end;
    }
    Py_RETURN_NONE;
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

/* mg_http_get_header_var, quirks included (16.1). */
static PyObject *http_header_var(HttpMsgObject *m, PyObject *args) {
    PyObject *ho, *vo;
    if (!PyArg_ParseTuple(args, "OO:header_var", &ho, &vo))
        return NULL;
    Py_ssize_t hn, vn, sn;
    const char *h = str_arg(ho, "header_name", &hn);
    if (!h)
        return NULL;
    const char *v = str_arg(vo, "var_name", &vn);
    if (!v)
        return NULL;
    const char *s = find_header(m, h, hn, &sn);
    if (!s)
        Py_RETURN_NONE;
    for (Py_ssize_t i = 0; vn > 0 && i + vn + 2 < sn; i++) {
        if (s[i + vn] == '=' && memcmp(s + i, v, vn) == 0) {
            const char *p = s + i + vn + 1, *b = p, *x = s + sn;
            int q = (p < x && *p == '"') ? 1 : 0;
            while (p < x && (q ? (p == b || *p != '"') : (*p != ';' && *p != ' ' && *p != ',')))
                p++;
            Py_ssize_t len = p - b - q;
            if (len <= 0)
                Py_RETURN_NONE;
            return decode(b + q, len);
        }
    }
    Py_RETURN_NONE;
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

static PyTypeObject HttpMsgType = {
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

/* ------------------------------------------------------------------ */
/* WsMessage / MqttMessage: empty views until their engines land       */

typedef struct {
    PyObject_HEAD
    PyObject *data;
    PyObject *topic;
    int flags, id, cmd, qos, ack;
} SimpleMsgObject;

static PyObject *simple_msg_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    SimpleMsgObject *m = (SimpleMsgObject *)type->tp_alloc(type, 0);
    if (m) {
        m->data = PyBytes_FromStringAndSize("", 0);
        m->topic = PyUnicode_FromString("");
    }
    return (PyObject *)m;
}

/* Messages copy their few fields; they still read as empty once the
 * handler has returned, like HttpMessage (API.md 7.9). */
static PyObject *make_simple_msg(PyTypeObject *type, const char *p1, Py_ssize_t n1, const char *p2,
                                 Py_ssize_t n2, long long ival) {
    SimpleMsgObject *m = (SimpleMsgObject *)type->tp_alloc(type, 0);
    if (!m)
        return NULL;
    m->topic = PyUnicode_DecodeUTF8(p1 ? p1 : "", p1 ? n1 : 0, "surrogateescape");
    m->data = PyBytes_FromStringAndSize(p2 ? p2 : "", p2 ? n2 : 0);
    if (!m->topic || !m->data) {
        Py_DECREF(m);
        return NULL;
    }
    if (type == &WsMsgType) {
        m->flags = (int)(ival & 0xff);
    } else {
        m->id = (int)(ival & 0xffff);
        m->cmd = (int)((ival >> 16) & 0xff);
        m->qos = (int)((ival >> 24) & 0xff);
        m->ack = (int)((ival >> 32) & 0xff);
    }
    return (PyObject *)m;
}

static void simple_msg_invalidate(PyObject *o) {
    SimpleMsgObject *m = (SimpleMsgObject *)o;
    PyObject *e = PyBytes_FromStringAndSize("", 0), *t = PyUnicode_FromString("");
    if (!e || !t) {
        Py_XDECREF(e);
        Py_XDECREF(t);
        PyErr_Clear();
        return;
    }
    Py_XSETREF(m->data, e);
    Py_XSETREF(m->topic, t);
    m->flags = m->id = m->cmd = m->qos = m->ack = 0;
}

static void simple_msg_dealloc(SimpleMsgObject *m) {
    Py_XDECREF(m->data);
    Py_XDECREF(m->topic);
    Py_TYPE(m)->tp_free((PyObject *)m);
}

static PyObject *sm_data(SimpleMsgObject *m, void *x) { return Py_NewRef(m->data); }
static PyObject *sm_text(SimpleMsgObject *m, void *x) {
    return decode(PyBytes_AS_STRING(m->data), PyBytes_GET_SIZE(m->data));
}
static PyObject *sm_topic(SimpleMsgObject *m, void *x) { return Py_NewRef(m->topic); }
static PyObject *sm_flags(SimpleMsgObject *m, void *x) { return PyLong_FromLong(m->flags); }
static PyObject *sm_id(SimpleMsgObject *m, void *x) { return PyLong_FromLong(m->id); }
static PyObject *sm_cmd(SimpleMsgObject *m, void *x) { return PyLong_FromLong(m->cmd); }
static PyObject *sm_qos(SimpleMsgObject *m, void *x) { return PyLong_FromLong(m->qos); }
static PyObject *sm_ack(SimpleMsgObject *m, void *x) { return PyLong_FromLong(m->ack); }

static PyGetSetDef ws_getset[] = {
    {"data", (getter)sm_data, NULL, "Payload bytes.", NULL},
    {"text", (getter)sm_text, NULL, "Payload as str.", NULL},
    {"flags", (getter)sm_flags, NULL, "Raw first frame header byte.", NULL},
    {NULL}};

static PyGetSetDef mqtt_getset[] = {
    {"topic", (getter)sm_topic, NULL, NULL, NULL}, {"data", (getter)sm_data, NULL, NULL, NULL},
    {"text", (getter)sm_text, NULL, NULL, NULL},   {"id", (getter)sm_id, NULL, NULL, NULL},
    {"cmd", (getter)sm_cmd, NULL, NULL, NULL},     {"qos", (getter)sm_qos, NULL, NULL, NULL},
    {"ack", (getter)sm_ack, NULL, NULL, NULL},     {NULL}};

/* MQTT 5 properties (API.md 19.4): the engine speaks MQTT 3.1.1, whose
 * packets have none, so the list is always empty. */
static PyObject *mqtt_properties(PyObject *m, PyObject *unused) { return PyList_New(0); }
static PyMethodDef mqtt_methods[] = {
    {"properties", mqtt_properties, METH_NOARGS, "MQTT 5 properties: list of dicts (id, iv, key, val)."},
    {NULL}};

static PyTypeObject WsMsgType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pymongoose._mongoose.WsMessage",
    .tp_doc = "A WebSocket message; valid only during the handler call.",
    .tp_basicsize = sizeof(SimpleMsgObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = simple_msg_new,
    .tp_dealloc = (destructor)simple_msg_dealloc,
    .tp_getset = ws_getset,
};

static PyTypeObject MqttMsgType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pymongoose._mongoose.MqttMessage",
    .tp_doc = "An MQTT packet; valid only during the handler call.",
    .tp_basicsize = sizeof(SimpleMsgObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = simple_msg_new,
    .tp_dealloc = (destructor)simple_msg_dealloc,
    .tp_getset = mqtt_getset,
    .tp_methods = mqtt_methods,
};

/* ------------------------------------------------------------------ */
/* Timer                                                                */

static PyObject *timer_new_empty(PyTypeObject *type, PyObject *args, PyObject *kw) {
    TimerObject *t = (TimerObject *)type->tp_alloc(type, 0);
    if (t)
        t->callback = Py_NewRef(Py_None);
    return (PyObject *)t;
}

static int timer_traverse(TimerObject *t, visitproc visit, void *arg) {
    Py_VISIT(t->callback);
    Py_VISIT(t->core);
    return 0;
}

static int timer_clear(TimerObject *t) {
    Py_CLEAR(t->callback);
    Py_CLEAR(t->core);
    return 0;
}

static void timer_dealloc(TimerObject *t) {
    PyObject_GC_UnTrack(t);
    timer_clear(t);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

static PyObject *timer_get_active(TimerObject *t, void *x) { return PyBool_FromLong(t->active); }

static PyObject *timer_cancel(TimerObject *t, PyObject *unused) {
    if (!t->active)
        Py_RETURN_NONE;
    t->active = 0;
    CoreObject *c = (CoreObject *)t->core;
    if (c && c->mid && !forked) {
        pmg_timer_cancel(c->mid, t->key);
        PyObject *k = PyLong_FromLongLong(t->key);
        if (k && PyDict_DelItem(c->timers, k) < 0)
            PyErr_Clear();
        Py_XDECREF(k);
    }
    Py_RETURN_NONE;
}

static PyMethodDef timer_methods[] = {
    {"cancel", (PyCFunction)timer_cancel, METH_NOARGS, "Stop the timer; idempotent."}, {NULL}};

static PyGetSetDef timer_getset[] = {
    {"active", (getter)timer_get_active, NULL, "True until cancelled or a one-shot timer has run.", NULL},
    {NULL}};

static PyTypeObject TimerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pymongoose._mongoose.Timer",
    .tp_doc = "A timer created by Manager.timer_add().",
    .tp_basicsize = sizeof(TimerObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = timer_new_empty,
    .tp_dealloc = (destructor)timer_dealloc,
    .tp_traverse = (traverseproc)timer_traverse,
    .tp_clear = (inquiry)timer_clear,
    .tp_methods = timer_methods,
    .tp_getset = timer_getset,
};

/* ------------------------------------------------------------------ */
/* Module                                                               */

static PyObject *mod_mark_forked(PyObject *self, PyObject *unused) {
    forked = 1;
    Py_RETURN_NONE;
}

static PyObject *mod_check_fork(PyObject *self, PyObject *unused) {
    CHECK_FORK(NULL);
    Py_RETURN_NONE;
}

/* wakeup(mid, connection_id, data): safe from any thread. */
static PyObject *mod_wakeup(PyObject *self, PyObject *args) {
    long long mid;
    unsigned long long id;
    Py_buffer buf;
    if (!PyArg_ParseTuple(args, "LKy*:wakeup", &mid, &id, &buf))
        return NULL;
    if (forked) {
        PyBuffer_Release(&buf);
        CHECK_FORK(NULL);
    }
    int rc = pmg_wakeup(mid, id, buf.buf, buf.len);
    PyBuffer_Release(&buf);
    if (rc < 0) {
        PyErr_SetString(PyExc_RuntimeError, "Manager has been freed");
        return NULL;
    }
    return PyBool_FromLong(rc);
}

static PyMethodDef mod_methods[] = {
    {"_mark_forked", mod_mark_forked, METH_NOARGS, NULL},
    {"_check_fork", mod_check_fork, METH_NOARGS, NULL},
    {"_wakeup", mod_wakeup, METH_VARARGS, NULL},
    {NULL}};

static struct PyModuleDef mongoose_module = {
    PyModuleDef_HEAD_INIT, "pymongoose._mongoose",
    "pymongoose-go engine: event loop, connections and HTTP, written in Go.", -1, mod_methods};

static const char *EV_NAMES[] = {
    "MG_EV_ERROR",    "MG_EV_OPEN",    "MG_EV_POLL",      "MG_EV_RESOLVE",   "MG_EV_CONNECT",
    "MG_EV_ACCEPT",   "MG_EV_TLS_HS",  "MG_EV_READ",      "MG_EV_WRITE",     "MG_EV_CLOSE",
    "MG_EV_HTTP_HDRS", "MG_EV_HTTP_MSG", "MG_EV_WS_OPEN",  "MG_EV_WS_MSG",    "MG_EV_WS_CTL",
    "MG_EV_MQTT_CMD", "MG_EV_MQTT_MSG", "MG_EV_MQTT_OPEN", "MG_EV_SNTP_TIME", "MG_EV_WAKEUP",
    "MG_EV_USER"};

/* Connection methods come from several files, one per protocol. */
extern PyMethodDef pmg_http_conn_methods[], pmg_ws_conn_methods[], pmg_mqtt_conn_methods[],
    pmg_net_conn_methods[], pmg_tls_conn_methods[], pmg_beyond_conn_methods[];
extern PyMethodDef pmg_beyond_module_methods[]; /* beyond.c: the cymongoose 0.2 functions */
extern int pmg_beyond_init(PyObject *m);          /* beyond.c: the 0.2 constants */

static int build_conn_methods(void) {
    PyMethodDef *tables[] = {conn_methods,          pmg_http_conn_methods, pmg_ws_conn_methods,
                             pmg_mqtt_conn_methods, pmg_net_conn_methods,  pmg_tls_conn_methods,
                             pmg_beyond_conn_methods};
    size_t n = 0, ntab = sizeof tables / sizeof tables[0];
    for (size_t t = 0; t < ntab; t++)
        for (PyMethodDef *d = tables[t]; d->ml_name; d++)
            n++;
    PyMethodDef *all = PyMem_Calloc(n + 1, sizeof(PyMethodDef));
    if (!all) {
        PyErr_NoMemory();
        return -1;
    }
    n = 0;
    for (size_t t = 0; t < ntab; t++)
        for (PyMethodDef *d = tables[t]; d->ml_name; d++)
            all[n++] = *d;
    ConnType.tp_methods = all; /* lives as long as the process */
    return 0;
}

static int add_type(PyObject *m, PyTypeObject *t, const char *name) {
    if (PyType_Ready(t) < 0)
        return -1;
    Py_INCREF(t);
    if (PyModule_AddObject(m, name, (PyObject *)t) < 0) {
        Py_DECREF(t);
        return -1;
    }
    return 0;
}

PyMODINIT_FUNC PyInit__mongoose(void) {
    PyObject *m = PyModule_Create(&mongoose_module);
    if (!m)
        return NULL;
    if (PyModule_AddFunctions(m, pmg_func_methods) < 0 ||
        PyModule_AddFunctions(m, pmg_beyond_module_methods) < 0 || pmg_beyond_init(m) < 0)
        goto fail;
    str_items = PyUnicode_InternFromString("items");
    if (!str_items || build_conn_methods() < 0 || add_type(m, &CoreType, "_Core") < 0 || add_type(m, &ConnType, "Connection") < 0 ||
        add_type(m, &HttpMsgType, "HttpMessage") < 0 || add_type(m, &WsMsgType, "WsMessage") < 0 ||
        add_type(m, &MqttMsgType, "MqttMessage") < 0 || add_type(m, &TimerType, "Timer") < 0)
        goto fail;
    for (int i = 0; i <= 20; i++)
        if (PyModule_AddIntConstant(m, EV_NAMES[i], i) < 0)
            goto fail;
    if (PyModule_AddIntConstant(m, "WEBSOCKET_OP_TEXT", 1) < 0 ||
        PyModule_AddIntConstant(m, "WEBSOCKET_OP_BINARY", 2) < 0 ||
        PyModule_AddIntConstant(m, "WEBSOCKET_OP_PING", 9) < 0 ||
        PyModule_AddIntConstant(m, "WEBSOCKET_OP_PONG", 10) < 0)
        goto fail;
    /* The gopy-generated cold API lives in this same shared object (one Go
     * runtime per process); expose it where its Python wrapper imports it. */
    PyObject *g = PyInit__gobind();
    if (!g)
        goto fail;
    if (PyDict_SetItemString(PyImport_GetModuleDict(), "pymongoose._gopy._gobind", g) < 0 ||
        PyModule_AddObject(m, "_gobind", g) < 0) {
        Py_DECREF(g);
        goto fail;
    }
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
