/* Module-level functions of pymongoose._mongoose (json_*, url_encode,
 * http_parse_multipart). Filled in by funcs.go/funcs.c; registered by
 * PyInit__mongoose. */
#include "native.h"

PyMethodDef pmg_func_methods[] = {{NULL}};
