/* Hand-written CPython side of the extension: the object layouts, codes and
 * helpers shared by its C files and by the cgo exports they call. Each X.c
 * goes with the X.go that holds its Go side (manager, dispatch, conn,
 * http_msg, timer, ...); args.c holds the conversions every file uses. */
#ifndef PYMONGOOSE_NATIVE_H
#define PYMONGOOSE_NATIVE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* Result codes the dispatcher hands back to Go: the values of core.Result
 * (dispatch.go checks that at compile time). */
#define PMG_OK 0
#define PMG_EXCEPTION 1
#define PMG_ABORT 2

/* Results of pmg_poll (manager.go). */
#define PMG_POLL_OK 0
#define PMG_POLL_FREED 1      /* the Manager is gone */
#define PMG_POLL_SIGNAL 3     /* a Python signal handler raised */
#define PMG_POLL_ABORTED 4    /* a handler let KeyboardInterrupt/SystemExit through */
#define PMG_POLL_INTERNAL 5   /* a Go panic */

/* Results of the Connection method exports: 0, or one of these. */
#define PMG_RC_CLOSED (-1)    /* the connection is gone */
#define PMG_RC_INTERNAL (-2)  /* a Go panic or a failed engine call */
#define PMG_RC_INVALID (-3)   /* an argument breaks the protocol's rules: ValueError */

/* Which call of pmg_mqtt_simple (mqtt.go), part of pmg_url_part (url.go),
 * digest of pmg_digest (codec.go). */
#define PMG_MQTT_PING 0
#define PMG_MQTT_PONG 1
#define PMG_MQTT_DISCONNECT 2
#define PMG_URL_HOST 0
#define PMG_URL_USER 1
#define PMG_URL_PASS 2
#define PMG_URL_URI 3
#define PMG_DIGEST_MD5 0
#define PMG_DIGEST_SHA1 1
#define PMG_DIGEST_SHA256 2

/* Log levels, MG_LL_*: core/log.go's (log.go checks them at compile time). */
#define PMG_LL_NONE 0
#define PMG_LL_ERROR 1
#define PMG_LL_INFO 2
#define PMG_LL_DEBUG 3
#define PMG_LL_VERBOSE 4

/* WebSocket opcodes, WEBSOCKET_OP_*: core/ws_frame.go's (ws.go checks them
 * at compile time). */
#define PMG_WS_OP_TEXT 1
#define PMG_WS_OP_BINARY 2
#define PMG_WS_OP_PING 9
#define PMG_WS_OP_PONG 10

/* Payload kinds of pmg_dispatch. */
#define PMG_DATA_NONE 0
#define PMG_DATA_HTTP 1
#define PMG_DATA_STR 2
#define PMG_DATA_BYTES 3
#define PMG_DATA_INT 4
#define PMG_DATA_WS 5   /* p1: payload, ival: flags */
#define PMG_DATA_MQTT 6 /* p1: topic, p2: data, ival: id | cmd<<16 | qos<<24 | ack<<32 */

/* Headers a message view holds inline; more take a block of their own
 * (server adapters keep every header: core's StoreAllHeaders). */
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
    struct pmg_conn_was *was;  /* set at MG_EV_CLOSE: what the closed wrapper reports (dispatch.c) */
} ConnObject;                  /* 72 bytes with the GC header: one per connection */

/* A Manager is used by one thread at a time: while a thread is inside it
 * (busy), a call from another thread fails. Sets the RuntimeError naming
 * the C function fn and returns 0 (manager.c). */
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

/* A Manager method's check that no other thread is inside: -1 with the
 * RuntimeError naming the call (manager.c). */
int pmg_check_owner(CoreObject *c, const char *name);
/* The calling thread is inside the Manager until pmg_core_leave(): handlers
 * it runs there may let the GIL go, and another thread must not come in. */
static inline void pmg_core_enter(CoreObject *c) {
    if (c->busy++ == 0)
        c->owner = PyThread_get_thread_ident();
}
static inline void pmg_core_leave(CoreObject *c) { c->busy--; }
/* A call from Go that runs handlers: the GIL (not PyGILState_Check(): it
 * answers 1 once a sub-interpreter has existed, also when a gopy wrapper
 * let the GIL go), the Manager kept alive (a handler may drop the last
 * other reference) and the thread inside it, until pmg_go_leave(). */
static inline PyGILState_STATE pmg_go_enter(CoreObject *c) {
    PyGILState_STATE st = PyGILState_Ensure();
    Py_INCREF(c);
    pmg_core_enter(c);
    return st;
}
static inline void pmg_go_leave(CoreObject *c, PyGILState_STATE st) {
    pmg_core_leave(c);
    Py_DECREF(c);
    PyGILState_Release(st);
}
/* Raises the KeyboardInterrupt/SystemExit a handler held back (NULL), or
 * returns None when there is none (manager.c). */
PyObject *pmg_raise_pending(CoreObject *c);
/* After a Connection method that may have run handlers (close, error, send
 * on UDP, ws_upgrade, resolve, tls_init...): a KeyboardInterrupt/SystemExit
 * one of them held back propagates from the method itself unless a poll()
 * is running, which will raise it. Steals r; c may be NULL. */
PyObject *pmg_finish_call(CoreObject *c, PyObject *r);

typedef struct {
    PyObject_HEAD
    const char *head;
    Py_ssize_t head_len;
    const char *body;
    Py_ssize_t body_len;
    int nhdr;
    int valid;
    int32_t *spans; /* inline_spans, or a PyMem block for more than PMG_MAX_HEADERS */
    int32_t inline_spans[PMG_SPAN_INTS];
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

/* Conversions shared by the extension's C files (args.c). */
PyObject *pmg_to_bytes(PyObject *data);      /* str -> UTF-8, else bytes(data) */
PyObject *pmg_decode(const char *p, Py_ssize_t n); /* UTF-8, surrogateescape; p may be NULL */
/* TypeError "Argument 'argname' has incorrect type (expected expected, got
 * <type of o>)", cymongoose's wording; returns NULL. */
PyObject *pmg_arg_type_error(const char *argname, const char *expected, PyObject *o);
/* An int-like argument as Cython converts it to a C integer: o itself or
 * o.__index__() (new reference); TypeError("an integer is required") for
 * anything without __index__, None included. */
PyObject *pmg_index_arg(PyObject *o);
/* A str argument as UTF-8 (owned by o); the TypeError above otherwise. */
const char *pmg_str_arg(PyObject *o, const char *argname, Py_ssize_t *n);
/* Fastcall arguments into out[] (NULL when not given) by position or
 * keyword; names is NULL-terminated, the first nreq are required. */
int pmg_parse_fast(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                   const char *const *names, int nreq, PyObject **out);
/* The one argument of a module function taking (args, kw) by position or
 * as argname (borrowed), else NULL with the TypeError. */
PyObject *pmg_one_arg(PyObject *args, PyObject *kw, const char *fname, const char *argname);
/* The data argument of such a function, as bytes for a Go call: after the
 * fork check, pmg_to_bytes(data). New reference or NULL. */
PyObject *pmg_data_arg(PyObject *args, PyObject *kw, const char *fname);
PyObject *pmg_closed_error(void);            /* RuntimeError("Connection has been closed"), unless an error is set */
PyObject *pmg_not_open_error(void);          /* the fork error after fork(), else pmg_closed_error() */
PyObject *pmg_format_headers(PyObject *headers); /* dict -> b"k: v\r\n"..., CR/LF/NUL -> ValueError */
/* reply()'s common case: a dict of str to str that fits buf. Returns the
 * length written, -1 for the general path, -2 with an exception set. */
Py_ssize_t pmg_format_headers_fast(PyObject *h, char *buf, Py_ssize_t cap);
HttpMsgObject *pmg_http_msg_arg(PyObject *o);  /* a valid HttpMessage, else TypeError/ValueError (http_msg.c) */
PyObject *pmg_internal_error(const char *name); /* RuntimeError for a failed Go call */
PyObject *pmg_freed_error(void);             /* RuntimeError("Manager has been freed") */

/* ASCII case-insensitive comparison of n bytes: 0 when equal. */
static inline int pmg_ascii_casecmp(const char *a, const char *b, Py_ssize_t n) {
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

/* A method table entry of a (self, args, kw) function. */
#define PMG_KW METH_VARARGS | METH_KEYWORDS
#define PMG_FN(f) (PyCFunction)(void (*)(void))(f)

/* Module functions over large inputs run with the GIL released. */
#define PMG_NOGIL_MIN (64 * 1024)
#define PMG_CALL_NOGIL(n, rc, call)             \
    do {                                        \
        if ((n) >= PMG_NOGIL_MIN) {             \
            Py_BEGIN_ALLOW_THREADS rc = (call); \
            Py_END_ALLOW_THREADS                \
        } else {                                \
            rc = (call);                        \
        }                                       \
    } while (0)

/* After fork() the Go runtime is gone: every entry point checks (module.c). */
int pmg_forked(void);
PyObject *pmg_fork_error(void);
int pmg_check_fork(void);                    /* -1 with the fork RuntimeError set */
#define CHECK_FORK(ret)              \
    do {                             \
        if (pmg_forked()) {          \
            pmg_fork_error();        \
            return ret;              \
        }                            \
    } while (0)

/* A closed wrapper, or a child after fork(): nothing may reach Go. */
static inline int pmg_conn_gone(ConnObject *cn) { return cn->id == 0 || pmg_forked(); }

/* A Connection method whose Go call may run handlers holds the wrapper and
 * its Manager (a handler may drop the last references) from
 * pmg_conn_hold() to pmg_conn_release(), which returns
 * pmg_finish_call(core, r). */
static inline CoreObject *pmg_conn_hold(ConnObject *cn) {
    Py_INCREF(cn);
    Py_XINCREF(cn->core);
    return cn->core;
}
static inline PyObject *pmg_conn_release(ConnObject *cn, CoreObject *c, PyObject *r) {
    r = pmg_finish_call(c, r);
    Py_XDECREF(c);
    Py_DECREF(cn);
    return r;
}
/* A Connection method export's result as the method's: 0 is None,
 * PMG_RC_CLOSED the closed error, anything else RuntimeError(failure). */
PyObject *pmg_rc_none(int rc, const char *failure);

/* The extension types, defined by the files named. */
extern PyTypeObject pmg_CoreType;    /* manager.c */
extern PyTypeObject pmg_ConnType;    /* conn.c */
extern PyTypeObject pmg_HttpMsgType; /* http_msg.c */
extern PyTypeObject pmg_WsMsgType, pmg_MqttMsgType; /* message.c */
extern PyTypeObject pmg_TimerType;   /* timer.c */

/* HttpMessage views and WS/MQTT messages for one handler call. */
PyObject *pmg_http_msg_new(const char *head, Py_ssize_t hn, const char *body, Py_ssize_t bn,
                           const int32_t *spans, int nhdr);
void pmg_http_msg_invalidate(PyObject *m);
PyObject *pmg_simple_msg_new(PyTypeObject *type, const char *p1, Py_ssize_t n1, const char *p2,
                             Py_ssize_t n2, long long ival);
void pmg_simple_msg_invalidate(PyObject *m);

/* What a connection was, which its closed wrapper keeps reporting: id,
 * is_listening/is_client/is_tls/is_udp/is_websocket and the addresses. */
struct pmg_conn_was {
    unsigned long long id;
    pmg_info info; /* only the identity flags are kept */
};
#define PMG_F_IDENTITY (PMG_F_LISTENING | PMG_F_CLIENT | PMG_F_TLS | PMG_F_UDP | PMG_F_WEBSOCKET)
int pmg_conn_in_close(ConnObject *cn); /* its MG_EV_CLOSE is being delivered (dispatch.c) */
/* The exception a handler raised: an Exception is reported and the loop
 * goes on (PMG_EXCEPTION); anything else is held back in the core to
 * propagate out of poll() (PMG_ABORT). dispatch.c. */
int pmg_handle_error(CoreObject *c);

/* Connection methods come from several files, one per protocol: module.c
 * joins these tables into Connection's. */
extern PyMethodDef pmg_conn_methods[], pmg_http_conn_methods[], pmg_ws_conn_methods[],
    pmg_mqtt_conn_methods[], pmg_net_conn_methods[], pmg_tls_conn_methods[];
/* Module functions and constants, one table per concept. */
extern PyMethodDef pmg_event_functions[], pmg_log_functions[], pmg_url_functions[],
    pmg_json_functions[], pmg_multipart_functions[], pmg_codec_functions[];
int pmg_event_init(PyObject *m); /* event.c: the MG_EV_* constants */
int pmg_log_init(PyObject *m);   /* log.c: the MG_LL_* constants */

/* Called from Go. */
int pmg_dispatch(PyObject *core, PyObject *conn, int ev, int retire, int kind,
                 const char *p1, Py_ssize_t n1, const char *p2, Py_ssize_t n2,
                 const int32_t *spans, int nhdr, long long ival);
long long pmg_dispatch_polls(PyObject *core, int ev, uintptr_t *conns, int n, const uint32_t *stop);
PyObject *pmg_wrap(PyObject *core, long long mid, unsigned long long id, PyObject *parent);
int pmg_timer_fire(PyObject *core, long long key, int last);
void pmg_core_freed(PyObject *core);
void *pmg_save_thread(void);
void pmg_restore_thread(void *ts);
int pmg_check_signals(void);
int pmg_core_closing(PyObject *core);
void pmg_incref(PyObject *o);
void pmg_decref(PyObject *o);
void pmg_log_line(int level, const char *msg, long long n); /* log.c: one engine log line to logging */

#endif
