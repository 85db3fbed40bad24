/* Connection methods for WebSocket. */
#include "native.h"

PyMethodDef pmg_ws_conn_methods[] = {{NULL}};
