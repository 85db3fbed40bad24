/* Connection methods for TLS (tls_init, tls_free). */
#include "native.h"

PyMethodDef pmg_tls_conn_methods[] = {{NULL}};
