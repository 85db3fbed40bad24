package pybind

// Go side of event.c: the MG_EV_* names and numbers are core's
// (core/event.go); C and Python read them from here.

/*
#include "native.h"
*/
import "C"

import "github.com/pymongoose-go/pymongoose-go/core"

// pmg_event_user is the number of MG_EV_USER, the last named event.
//
//export pmg_event_user
func pmg_event_user() C.int {
	return C.int(core.EvUser)
}

// pmg_event_name copies the MG_EV_* name of ev (0 to MG_EV_USER) into out
// (capacity n, not NUL-terminated) and returns its length; -1 for another
// ev or a name that does not fit.
//
//export pmg_event_name
func pmg_event_name(ev C.int, out *C.char, n C.int) (rc C.int) {
	defer guard(&rc, -1)
	if ev < 0 || core.Event(ev) > core.EvUser {
		return -1
	}
	name := core.Event(ev).String()
	if len(name) > int(n) {
		return -1
	}
	return C.int(copy(cOut(out, int(n)), name))
}
