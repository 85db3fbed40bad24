/* Hand-written CPython side of the hot path: the object layouts shared by
 * native.c (the extension types) and the cgo exports in hot.go. */
#ifndef PYMONGOOSE_NATIVE_H
#define PYMONGOOSE_NATIVE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* Result codes the dispatcher hands back to Go (core.Result). */
#define PMG_OK 0
#define PMG_EXCEPTION 1
#define PMG_ABORT 2

/* Payload kinds of pmg_dispatch. */
#define PMG_DATA_NONE 0
#define PMG_DATA_HTTP 1
#define PMG_DATA_STR 2
#define PMG_DATA_BYTES 3
#define PMG_DATA_INT 4
#define PMG_DATA_WS 5   /* p1: payload, ival: flags */
#define PMG_DATA_MQTT 6 /* p1: topic, p2: data, ival: id | cmd<<16 | qos<<24 | ack<<32 */

#define PMG_MAX_HEADERS 30
/* method, uri, query, proto, then name/value per header: (off, len) pairs. */
#define PMG_SPAN_INTS (2 * (4 + 2 * PMG_MAX_HEADERS))

/* Per-Manager state on the Python side. Go keeps a pointer to it while the
 * Manager is open and uses it for every dispatch. */
typedef struct {
    PyObject_HEAD
    PyObject *handler;         /* default handler or None */
    PyObject *timers;          /* dict: key -> Timer */
    PyObject *pending_handler; /* handler= of the listen/connect call in progress */
    PyObject *exc_type, *exc_value, *exc_tb; /* BaseException waiting to propagate */
    long long mid;             /* Go registry id; 0 once freed */
    long long next_timer_key;
    int polling;               /* a poll() of this Manager is running */
    int closing;               /* Manager.close() in progress from another thread */
    unsigned long poll_thread; /* thread id running poll() */
    PyObject *error_handler;   /* Manager(error_handler=): called with an Exception, or None */
    struct pmg_closing *in_close; /* wrappers whose MG_EV_CLOSE is being delivered (innermost first) */
    int busy;                  /* depth of calls inside the Manager (poll, cold call, handler) */
    unsigned long owner;       /* thread id inside the Manager while busy > 0 */
} CoreObject;

/* One MG_EV_CLOSE delivery in progress (on pmg_dispatch's stack). */
struct pmg_closing {
    PyObject *conn;
    struct pmg_closing *prev;
};

typedef struct {
    PyObject_HEAD
    PyObject *handler;
    PyObject *userdata;
    CoreObject *core;          /* NULL for a closed wrapper */
    unsigned long long id;     /* 0 for a closed wrapper */
    struct pmg_conn_was *was;  /* set at MG_EV_CLOSE: what the closed wrapper reports (native.c) */
} ConnObject;                  /* 72 bytes with the GC header: one per connection */

/* A Manager is used by one thread at a time: while a thread is inside it
 * (busy), a call from another thread fails. Sets the RuntimeError naming
 * the C function fn and returns 0 (native.c). */
long long pmg_foreign_call(CoreObject *c, const char *fn);

/* The Go registry id of the wrapper's Manager, the way every Connection
 * method reaches the engine; 0 for a closed wrapper, and 0 with a
 * RuntimeError set when another thread is inside the Manager (the caller's
 * -1 from Go then goes through pmg_closed_error(), which keeps it). */
static inline long long pmg_conn_mid(ConnObject *cn, const char *fn) {
    CoreObject *c = cn->core;
    if (!c)
        return 0;
    if (c->busy && c->owner != PyThread_get_thread_ident())
        return pmg_foreign_call(c, fn);
    return c->mid;
}
#define CONN_MID(cn) pmg_conn_mid((cn), __func__)

typedef struct {
    PyObject_HEAD
    const char *head;
    Py_ssize_t head_len;
    const char *body;
    Py_ssize_t body_len;
    int nhdr;
    int valid;
    int32_t spans[PMG_SPAN_INTS];
} HttpMsgObject;

typedef struct {
    PyObject_HEAD
    PyObject *callback;
    PyObject *core;            /* CoreObject or NULL */
    long long key;
    int active;
} TimerObject;

/* Connection state snapshot filled by Go (pmg_conn_info). */
typedef struct {
    unsigned int flags;
    long long recv_len, send_len, recv_size, send_size;
    unsigned char local_ip[16], remote_ip[16];
    int local_port, remote_port;
    int local_v6, remote_v6;
} pmg_info;

#define PMG_F_LISTENING (1u << 0)
#define PMG_F_CLIENT (1u << 1)
#define PMG_F_TLS (1u << 2)
#define PMG_F_UDP (1u << 3)
#define PMG_F_WEBSOCKET (1u << 4)
#define PMG_F_READABLE (1u << 5)
#define PMG_F_WRITABLE (1u << 6)
#define PMG_F_FULL (1u << 7)
#define PMG_F_DRAINING (1u << 8)
#define PMG_F_CLOSING (1u << 9)

/* Helpers shared by the extension's C files (defined in native.c). */
PyObject *pmg_to_bytes(PyObject *data);      /* str -> UTF-8, else bytes(data) */
PyObject *pmg_decode(const char *p, Py_ssize_t n); /* UTF-8, surrogateescape */
/* A str argument as UTF-8 (owned by o); TypeError "Argument 'x' has incorrect type ..." otherwise. */
const char *pmg_str_arg(PyObject *o, const char *argname, Py_ssize_t *n);
PyObject *pmg_closed_error(void);            /* RuntimeError("Connection has been closed"), unless an error is set */
PyObject *pmg_format_headers(PyObject *headers); /* dict -> b"k: v\r\n"..., CR/LF/NUL -> ValueError */
HttpMsgObject *pmg_http_msg_arg(PyObject *o);  /* a valid HttpMessage, else TypeError/ValueError */
int pmg_forked(void);
PyObject *pmg_fork_error(void);
int pmg_check_fork(void);                    /* -1 with the fork RuntimeError set */
PyObject *pmg_internal_error(const char *name); /* RuntimeError for a failed Go call */

/* Called from Go (hot.go). */
int pmg_dispatch(PyObject *core, PyObject *conn, int ev, int kind,
                 const char *p1, Py_ssize_t n1, const char *p2, Py_ssize_t n2,
                 const int32_t *spans, int nhdr, long long ival);
long long pmg_dispatch_polls(PyObject *core, uintptr_t *conns, int n, const uint32_t *stop);
PyObject *pmg_wrap(PyObject *core, long long mid, unsigned long long id, PyObject *parent);
int pmg_timer_fire(PyObject *core, long long key, int last);
void pmg_core_freed(PyObject *core);
void *pmg_save_thread(void);
void pmg_restore_thread(void *ts);
int pmg_check_signals(void);
int pmg_core_closing(PyObject *core);
void pmg_incref(PyObject *o);
void pmg_decref(PyObject *o);

#endif
