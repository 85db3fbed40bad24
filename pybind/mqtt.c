/* Connection methods for MQTT. */
#include "native.h"

PyMethodDef pmg_mqtt_conn_methods[] = {{NULL}};
