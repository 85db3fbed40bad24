/* Connection methods for MQTT (docs/api.md 5.10, 19.3). */
#include "native.h"
#include "_cgo_export.h"

/* topic: str only, encoded as UTF-8 (strict), after the fork check. New
 * reference or NULL. */
static PyObject *topic_bytes(PyObject *topic) {
    if (!PyUnicode_Check(topic))
        return pmg_arg_type_error("topic", "str", topic);
    if (pmg_check_fork() < 0)
        return NULL;
    return PyUnicode_AsUTF8String(topic);
}

/* qos: an int that fits an unsigned byte (Cython's uint8_t conversion). */
static int parse_qos(PyObject *o, int *qos) {
    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "an integer is required (got type %s)", Py_TYPE(o)->tp_name);
        return -1;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (overflow < 0 || (overflow == 0 && v < 0)) {
        PyErr_SetString(PyExc_OverflowError, "can't convert negative value to uint8_t");
        return -1;
    }
    if (overflow > 0 || v > 255) {
        PyErr_SetString(PyExc_OverflowError, "value too large to convert to uint8_t");
        return -1;
    }
    *qos = (int)v;
    return 0;
}

#define MQTT_ERR_LEN 160 /* room for the argument error messages of core/codec/mqtt_check.go */

static PyObject *rc_result(long long rc, int want_id, const char *err) {
    if (rc == PMG_RC_INVALID) {
        PyErr_SetString(PyExc_ValueError, err);
        return NULL;
    }
    if (rc == PMG_RC_CLOSED)
        return pmg_closed_error();
    if (rc < 0) {
        PyErr_SetString(PyExc_RuntimeError, "internal error");
        return NULL;
    }
    if (want_id)
        return PyLong_FromLongLong(rc);
    Py_RETURN_NONE;
}

static PyObject *conn_mqtt_pub(ConnObject *cn, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"topic", "message", "qos", "retain", NULL};
    PyObject *topic_o, *msg_o, *qos_o = NULL, *retain_o = Py_False;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OO:mqtt_pub", kwlist, &topic_o, &msg_o, &qos_o, &retain_o))
        return NULL;
    int qos = 0;
    if (qos_o && parse_qos(qos_o, &qos) < 0)
        return NULL;
    int retain = PyObject_IsTrue(retain_o);
    if (retain < 0)
        return NULL;
    PyObject *t = topic_bytes(topic_o);
    if (!t)
        return NULL;
    PyObject *m = pmg_to_bytes(msg_o);
    if (!m) {
        Py_DECREF(t);
        return NULL;
    }
    char err[MQTT_ERR_LEN] = "";
    long long rc = pmg_mqtt_pub(CONN_MID(cn), cn->id, PyBytes_AS_STRING(t), PyBytes_GET_SIZE(t),
                                PyBytes_AS_STRING(m), PyBytes_GET_SIZE(m), qos, retain, err, sizeof err);
    Py_DECREF(t);
    Py_DECREF(m);
    return rc_result(rc, 1, err);
}

/* mqtt_sub() and mqtt_unsub(): one topic filter. */
static PyObject *mqtt_subscribe(ConnObject *cn, PyObject *topic_o, int qos, int unsub) {
    PyObject *t = topic_bytes(topic_o);
    if (!t)
        return NULL;
    char err[MQTT_ERR_LEN] = "";
    long long rc = pmg_mqtt_sub(pmg_conn_mid(cn, unsub ? "mqtt_unsub" : "mqtt_sub"), cn->id, PyBytes_AS_STRING(t),
                                PyBytes_GET_SIZE(t), qos, unsub, err, sizeof err);
    Py_DECREF(t);
    return rc_result(rc, 0, err);
}

static PyObject *conn_mqtt_sub(ConnObject *cn, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"topic", "qos", NULL};
    PyObject *topic_o, *qos_o = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:mqtt_sub", kwlist, &topic_o, &qos_o))
        return NULL;
    int qos = 0;
    if (qos_o && parse_qos(qos_o, &qos) < 0)
        return NULL;
    return mqtt_subscribe(cn, topic_o, qos, 0);
}

static PyObject *conn_mqtt_unsub(ConnObject *cn, PyObject *args, PyObject *kw) {
    PyObject *topic_o = pmg_one_arg(args, kw, "mqtt_unsub", "topic");
    return topic_o ? mqtt_subscribe(cn, topic_o, 0, 1) : NULL;
}

static PyObject *mqtt_simple(ConnObject *cn, int kind) {
    if (pmg_conn_gone(cn))
        return pmg_not_open_error();
    return rc_result(pmg_mqtt_simple(CONN_MID(cn), cn->id, kind), 0, "");
}

static PyObject *conn_mqtt_ping(ConnObject *cn, PyObject *unused) { return mqtt_simple(cn, PMG_MQTT_PING); }
static PyObject *conn_mqtt_pong(ConnObject *cn, PyObject *unused) { return mqtt_simple(cn, PMG_MQTT_PONG); }
static PyObject *conn_mqtt_disconnect(ConnObject *cn, PyObject *unused) { return mqtt_simple(cn, PMG_MQTT_DISCONNECT); }

PyMethodDef pmg_mqtt_conn_methods[] = {
    {"mqtt_pub", (PyCFunction)(void (*)(void))conn_mqtt_pub, METH_VARARGS | METH_KEYWORDS,
     "mqtt_pub(topic, message, qos=0, retain=False) -> int: queue a PUBLISH; returns its packet id "
     "(0 for QoS 0). ValueError for an empty topic, one over 65535 bytes or with a wildcard, or a QoS "
     "outside 0-2."},
    {"mqtt_sub", (PyCFunction)(void (*)(void))conn_mqtt_sub, METH_VARARGS | METH_KEYWORDS,
     "mqtt_sub(topic, qos=0): queue a SUBSCRIBE for one topic filter. ValueError for an invalid filter "
     "(MQTT 3.1.1 section 4.7) or a QoS outside 0-2."},
    {"mqtt_unsub", (PyCFunction)(void (*)(void))conn_mqtt_unsub, METH_VARARGS | METH_KEYWORDS,
     "mqtt_unsub(topic): queue an UNSUBSCRIBE for one topic filter (ValueError for an invalid one)."},
    {"mqtt_ping", (PyCFunction)conn_mqtt_ping, METH_NOARGS, "mqtt_ping(): queue PINGREQ."},
    {"mqtt_pong", (PyCFunction)conn_mqtt_pong, METH_NOARGS, "mqtt_pong(): queue PINGRESP."},
    {"mqtt_disconnect", (PyCFunction)conn_mqtt_disconnect, METH_NOARGS,
     "mqtt_disconnect(): queue DISCONNECT (the connection stays open)."},
    {NULL}};
