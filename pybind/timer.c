/* Timer: the object Manager.timer_add() returns, and the call Go makes
 * when a timer is due (pmg_timer_fire). The callbacks are kept in the
 * Manager's _Core (timers, by key); Go side: timer.go and api.go's
 * TimerAdd. */
#include "native.h"
#include "_cgo_export.h"

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
    if (c && c->mid && !pmg_forked()) {
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

PyTypeObject pmg_TimerType = {
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

int pmg_timer_fire(PyObject *core, long long key, int last) {
    if (!core) /* the Manager was freed by a handler further up the stack */
        return PMG_OK;
    CoreObject *c = (CoreObject *)core;
    PyGILState_STATE st = pmg_go_enter(c);
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
            rc = pmg_handle_error(c);
        Py_DECREF(t);
    } else {
        PyErr_Clear();
    }
    Py_XDECREF(k);
    pmg_go_leave(c, st);
    return rc;
}

