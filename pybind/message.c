/* WsMessage and MqttMessage: the few fields of one WebSocket message or
 * MQTT packet, copied for one handler call (dispatch.c makes them). */
#include "native.h"

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
 * handler has returned, like HttpMessage (docs/api.md 7.9). */
PyObject *pmg_simple_msg_new(PyTypeObject *type, const char *p1, Py_ssize_t n1, const char *p2,
                                 Py_ssize_t n2, long long ival) {
    SimpleMsgObject *m = (SimpleMsgObject *)type->tp_alloc(type, 0);
    if (!m)
        return NULL;
    m->topic = pmg_decode(p1, n1);
    m->data = PyBytes_FromStringAndSize(p2 ? p2 : "", p2 ? n2 : 0);
    if (!m->topic || !m->data) {
        Py_DECREF(m);
        return NULL;
    }
    if (type == &pmg_WsMsgType) {
        m->flags = (int)(ival & 0xff);
    } else {
        m->id = (int)(ival & 0xffff);
        m->cmd = (int)((ival >> 16) & 0xff);
        m->qos = (int)((ival >> 24) & 0xff);
        m->ack = (int)((ival >> 32) & 0xff);
    }
    return (PyObject *)m;
}

void pmg_simple_msg_invalidate(PyObject *o) {
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
    return pmg_decode(PyBytes_AS_STRING(m->data), PyBytes_GET_SIZE(m->data));
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

/* MQTT 5 properties (docs/api.md 19.4): the engine speaks MQTT 3.1.1, whose
 * packets have none, so the list is always empty. */
static PyObject *mqtt_properties(PyObject *m, PyObject *unused) { return PyList_New(0); }
static PyMethodDef mqtt_methods[] = {
    {"properties", mqtt_properties, METH_NOARGS, "MQTT 5 properties: list of dicts (id, iv, key, val)."},
    {NULL}};

PyTypeObject pmg_WsMsgType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pymongoose._mongoose.WsMessage",
    .tp_doc = "A WebSocket message; valid only during the handler call.",
    .tp_basicsize = sizeof(SimpleMsgObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = simple_msg_new,
    .tp_dealloc = (destructor)simple_msg_dealloc,
    .tp_getset = ws_getset,
};

PyTypeObject pmg_MqttMsgType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pymongoose._mongoose.MqttMessage",
    .tp_doc = "An MQTT packet; valid only during the handler call.",
    .tp_basicsize = sizeof(SimpleMsgObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = simple_msg_new,
    .tp_dealloc = (destructor)simple_msg_dealloc,
    .tp_getset = mqtt_getset,
    .tp_methods = mqtt_methods,
};

