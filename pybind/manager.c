/* The per-Manager object on the Python side (_Core, used by
 * pymongoose/_manager.py): poll() and the calls an external event loop
 * makes, the one-thread-at-a-time rule, the exception a handler held back,
 * and the calls Go makes about the Manager. Go side: manager.go. */
#include "native.h"
#include "_cgo_export.h"

#include <string.h>

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
int pmg_check_owner(CoreObject *c, const char *name) {
    if (c->busy && c->owner != PyThread_get_thread_ident()) {
        PyErr_Format(PyExc_RuntimeError, THREAD_MSG, name, c->owner);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* _Core                                                                */

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
    if (!pmg_attach(mid, (PyObject *)c))
        return pmg_freed_error();
    c->mid = mid;
    Py_INCREF(c); /* owned by the Go registry until the Manager is freed */
    Py_RETURN_NONE;
}

static PyObject *core_set_pending(CoreObject *c, PyObject *h) {
    Py_INCREF(h);
    Py_SETREF(c->pending_handler, h);
    Py_RETURN_NONE;
}

PyObject *pmg_raise_pending(CoreObject *c) {
    if (c->exc_type) {
        PyErr_Restore(c->exc_type, c->exc_value, c->exc_tb);
        c->exc_type = c->exc_value = c->exc_tb = NULL;
        return NULL;
    }
    Py_RETURN_NONE;
}

PyObject *pmg_finish_call(CoreObject *c, PyObject *r) {
    if (c && !c->polling && c->exc_type) {
        if (r)
            Py_DECREF(r);
        else
            PyErr_Clear();
        return pmg_raise_pending(c);
    }
    return r;
}

/* Re-raise a KeyboardInterrupt/SystemExit held back by the dispatcher. */
static PyObject *core_raise_pending(CoreObject *c, PyObject *unused) { return pmg_raise_pending(c); }

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
    if (c->mid == 0 || c->closing)
        return pmg_freed_error();
    if (!c->polling && pmg_check_owner(c, "Manager.poll()") < 0) /* another thread is in a cold call */
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
    pmg_core_enter(c);
    int rc = pmg_poll(c->mid, (int)t);
    pmg_core_leave(c);
    c->polling = 0;
    PyObject *res = NULL;
    switch (rc) {
    case PMG_POLL_OK:
    case PMG_POLL_ABORTED:
        res = pmg_raise_pending(c);
        break;
    case PMG_POLL_FREED:
        pmg_freed_error();
        break;
    case PMG_POLL_SIGNAL:
        /* a signal handler raised: the exception is already set */
        if (!PyErr_Occurred())
            res = Py_NewRef(Py_None);
        break;
    default:
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
    if (pmg_check_owner(c, "Manager.fileno()") < 0)
        return NULL;
    int fd = c->mid && !c->closing ? pmg_loop_fd(c->mid) : -1;
    if (fd < 0)
        return pmg_freed_error();
    return PyLong_FromLong(fd);
}

static PyObject *core_next_timeout(CoreObject *c, PyObject *unused) {
    CHECK_FORK(NULL);
    if (pmg_check_owner(c, "Manager.next_timeout_ms()") < 0)
        return NULL;
    long long ms = c->mid && !c->closing ? pmg_next_timeout(c->mid) : -2;
    if (ms < -1)
        return pmg_freed_error();
    return PyLong_FromLongLong(ms);
}

/* The engine owns one reference to each wrapper (core.Conn.Tag) until
 * MG_EV_CLOSE has been delivered, and finds them by id: no dict keyed by
 * id here, which would cost ~60 bytes per idle connection. */
static PyObject *core_conn(CoreObject *c, PyObject *arg) {
    CHECK_FORK(NULL);
    if (pmg_check_owner(c, "Manager.conn()") < 0)
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
    if (pmg_check_owner(c, "Manager.connections") < 0)
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
    TimerObject *t = PyObject_GC_New(TimerObject, &pmg_TimerType);
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
    if (pmg_check_owner(c, n) < 0)
        return NULL;
    pmg_core_enter(c);
    Py_RETURN_NONE;
}

static PyObject *core_leave_py(CoreObject *c, PyObject *unused) {
    if (c->busy > 0)
        pmg_core_leave(c);
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

PyTypeObject pmg_CoreType = {
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

