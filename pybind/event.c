/* The MG_EV_* constants and event_name(): the names and numbers are
 * core's (core/event.go), handed over by event.go. */
#include "native.h"
#include "_cgo_export.h"

static PyObject *f_event_name(PyObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"ev", NULL};
    PyObject *ev;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O:event_name", kwlist, &ev))
        return NULL;
    if (!PyLong_Check(ev))
        return pmg_arg_type_error("ev", "int", ev);
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(ev, &overflow);
    if (v == -1 && PyErr_Occurred())
        return NULL;
    long long user = pmg_event_user();
    char name[32];
    int n;
    if (overflow == 0 && v >= 0 && v <= user && (n = pmg_event_name((int)v, name, sizeof name)) >= 0)
        return PyUnicode_FromStringAndSize(name, n);
    if (overflow == 0 && v > user)
        return PyUnicode_FromFormat("MG_EV_USER+%lld", v - user);
    if (overflow == 0)
        return PyUnicode_FromFormat("MG_EV_UNKNOWN(%lld)", v);
    if (overflow < 0)
        return PyUnicode_FromFormat("MG_EV_UNKNOWN(%S)", ev);
    PyObject *u = PyLong_FromLongLong(user);
    PyObject *d = u ? PyNumber_Subtract(ev, u) : NULL;
    Py_XDECREF(u);
    if (!d)
        return NULL;
    PyObject *r = PyUnicode_FromFormat("MG_EV_USER+%S", d);
    Py_DECREF(d);
    return r;
}


PyMethodDef pmg_event_functions[] = {
    {"event_name", PMG_FN(f_event_name), PMG_KW, "event_name(ev) -> str: the MG_EV_* name of an event code."},
    {NULL}};

/* MG_EV_ERROR = 0 ... MG_EV_USER. */
int pmg_event_init(PyObject *m) {
    char name[32];
    int n;
    for (int ev = 0; ev <= pmg_event_user(); ev++) {
        if ((n = pmg_event_name(ev, name, sizeof name)) < 0 || n >= (int)sizeof name) {
            pmg_internal_error("pmg_event_name");
            return -1;
        }
        name[n] = 0;
        if (PyModule_AddIntConstant(m, name, ev) < 0)
            return -1;
    }
    return 0;
}
