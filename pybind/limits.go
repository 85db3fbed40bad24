package pybind

// The Manager() keyword arguments that bound what a connection may cost:
// their names, the core.Limits field each sets and, from core's
// DefaultLimits, their defaults. Python reads names and defaults from
// pymongoose._mongoose._LIMITS (module.c builds it with pmg_limit).

/*
#include "native.h"
*/
import "C"

import "github.com/pymongoose-go/pymongoose-go/core"

// managerLimits is in the order of NewManager's limit parameters.
var managerLimits = [...]struct {
	name  string
	field func(*core.Limits) *int
}{
	{"max_recv_size", func(l *core.Limits) *int { return &l.MaxRecvSize }},
	{"max_head_size", func(l *core.Limits) *int { return &l.MaxHeadSize }},
	{"max_headers", func(l *core.Limits) *int { return &l.MaxHeaders }},
	{"max_body_size", func(l *core.Limits) *int { return &l.MaxBodySize }},
	{"max_message_size", func(l *core.Limits) *int { return &l.MaxMessageSize }},
	{"head_timeout_ms", func(l *core.Limits) *int { return &l.HeadTimeoutMs }},
	{"stall_timeout_ms", func(l *core.Limits) *int { return &l.StallTimeoutMs }},
	{"send_high_water", func(l *core.Limits) *int { return &l.SendHighWater }},
}

// limitsOf sets the limits from values in managerLimits' order.
func limitsOf(values [len(managerLimits)]int) core.Limits {
	var l core.Limits
	for i, ml := range managerLimits {
		*ml.field(&l) = values[i]
	}
	return l
}

// pmg_limit copies the name of limit i into name (capacity n, not
// NUL-terminated), its default into dflt, and returns the name's length;
// -1 past the last limit or for a name that does not fit.
//
//export pmg_limit
func pmg_limit(i C.int, name *C.char, n C.int, dflt *C.longlong) (rc C.int) {
	defer guard(&rc, -1)
	if i < 0 || int(i) >= len(managerLimits) || len(managerLimits[i].name) > int(n) {
		return -1
	}
	ml := managerLimits[i]
	defaults := core.DefaultLimits()
	*dflt = C.longlong(*ml.field(&defaults))
	return C.int(copy(cOut(name, int(n)), ml.name))
}
