/* The cymongoose 0.2 additions (API.md section 19): Connection methods and
 * module functions. */
#include "native.h"

PyMethodDef pmg_beyond_conn_methods[] = {{NULL}};
PyMethodDef pmg_beyond_module_methods[] = {{NULL}};
