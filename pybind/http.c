/* Connection methods for HTTP streaming, static files, client helpers. */
#include "native.h"

PyMethodDef pmg_http_conn_methods[] = {{NULL}};
