/* Connection methods for name resolution, SNTP. */
#include "native.h"

PyMethodDef pmg_net_conn_methods[] = {{NULL}};
