/* Events into Python: the Connection wrapper of each engine connection,
 * one handler call per event (pmg_dispatch), MG_EV_POLL to a run of
 * connections in one crossing (pmg_dispatch_polls), and what becomes of a
 * handler's exception. Go side: dispatch.go. */
#include "native.h"
#include "_cgo_export.h"

#include <string.h>

/* MG_EV_ERROR text: UTF-8 with undecodable bytes dropped. */
static PyObject *decode_error_text(const char *p, Py_ssize_t n) {
    return PyUnicode_DecodeUTF8(p ? p : "", p ? n : 0, "ignore");
}

PyObject *pmg_wrap(PyObject *core, long long mid, unsigned long long id, PyObject *parent) {
    PyGILState_STATE st = PyGILState_Ensure();
    CoreObject *c = (CoreObject *)core;
    ConnObject *cn = PyObject_GC_New(ConnObject, &pmg_ConnType);
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
int pmg_conn_in_close(ConnObject *cn) {
    for (struct pmg_closing *p = cn->core ? cn->core->in_close : NULL; p; p = p->prev)
        if (p->conn == (PyObject *)cn)
            return 1;
    return 0;
}

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
int pmg_handle_error(CoreObject *c) {
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

/* retire: the event is MG_EV_CLOSE, after which the wrapper is closed and
 * the engine's reference to it dropped. */
int pmg_dispatch(PyObject *core, PyObject *conn, int ev, int retire, int kind,
                 const char *p1, Py_ssize_t n1, const char *p2, Py_ssize_t n2,
                 const int32_t *spans, int nhdr, long long ival) {
    if (!core) /* the Manager was freed by a handler further up the stack */
        return PMG_OK;
    CoreObject *c = (CoreObject *)core;
    PyGILState_STATE st = pmg_go_enter(c);
    ConnObject *cn = (ConnObject *)conn;
    int rc = PMG_OK;
    Py_INCREF(cn);
    struct pmg_closing closing = {conn, c->in_close};
    if (retire)
        c->in_close = &closing;
    PyObject *h = cn->handler != Py_None ? cn->handler : c->handler;
    if (h != Py_None) {
        PyObject *data;
        switch (kind) {
        case PMG_DATA_HTTP:
            data = pmg_http_msg_new(p1, n1, p2, n2, spans, nhdr);
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
            data = pmg_simple_msg_new(&pmg_WsMsgType, NULL, 0, p1, n1, ival);
            break;
        case PMG_DATA_MQTT:
            data = pmg_simple_msg_new(&pmg_MqttMsgType, p1, n1, p2, n2, ival);
            break;
        default:
            data = Py_NewRef(Py_None);
        }
        PyObject *evo = data ? PyLong_FromLong(ev) : NULL;
        if (!data || !evo) {
            Py_XDECREF(data);
            rc = pmg_handle_error(c);
        } else {
            Py_INCREF(h);
            PyObject *args[3] = {conn, evo, data};
            PyObject *r = PyObject_Vectorcall(h, args, 3, NULL);
            Py_DECREF(h);
            if (kind == PMG_DATA_HTTP)
                pmg_http_msg_invalidate(data);
            else if (kind == PMG_DATA_WS || kind == PMG_DATA_MQTT)
                pmg_simple_msg_invalidate(data);
            if (r)
                Py_DECREF(r);
            else
                rc = pmg_handle_error(c);
            Py_DECREF(evo);
            Py_DECREF(data);
        }
    }
    if (retire) {
        c->in_close = closing.prev;
        conn_invalidate(cn);
    }
    Py_DECREF(cn);
    pmg_go_leave(c, st);
    return rc;
}

/* MG_EV_POLL (ev) for a run of connections in one crossing (core.PollBatcher):
 * pmg_dispatch's delivery for each, in order. A wrapper closed by an earlier
 * handler of the run (id 0) is skipped; the run stops after a handler that
 * let a KeyboardInterrupt/SystemExit through or after which the engine set
 * *stop (it must finish that turn first). Returns (connections gone
 * through << 2) | result of the last handler. */
long long pmg_dispatch_polls(PyObject *core, int ev, uintptr_t *conns, int n, const uint32_t *stop) {
    if (!core) /* the Manager was freed by a handler further up the stack */
        return (long long)n << 2 | PMG_OK;
    CoreObject *c = (CoreObject *)core;
    PyGILState_STATE st = pmg_go_enter(c);
    PyObject *evo = PyLong_FromLong(ev); /* MG_EV_POLL: a cached small int, cannot fail */
    int i, rc = PMG_OK;
    /* Handlers may close (and so free) wrappers further on in the run. */
    for (i = 0; i < n; i++)
        Py_XINCREF((PyObject *)conns[i]);
    for (i = 0; i < n;) {
        ConnObject *cn = (ConnObject *)conns[i++];
        rc = PMG_OK;
        if (!cn || cn->id == 0 || pmg_conn_in_close(cn))
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
            rc = pmg_handle_error(c);
        if (rc == PMG_ABORT || *(const volatile uint32_t *)stop)
            break;
    }
    for (int j = 0; j < n; j++)
        Py_XDECREF((PyObject *)conns[j]);
    Py_DECREF(evo);
    pmg_go_leave(c, st);
    return (long long)i << 2 | rc;
}

