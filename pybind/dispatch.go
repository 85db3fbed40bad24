package pybind

/*
#include "native.h"
*/
import "C"

import (
	"unsafe"

	"github.com/pymongoose-go/pymongoose-go/core"
	"github.com/pymongoose-go/pymongoose-go/core/codec"
)

// native.h's PMG_OK, PMG_EXCEPTION and PMG_ABORT are core.Result values:
// checked at compile time (an index out of range when they differ).
var _ = [1]struct{}{}[(C.PMG_OK-core.ResultOK)|(C.PMG_EXCEPTION-core.ResultException)|(C.PMG_ABORT-core.ResultAbort)]

// wrapper returns the Python Connection of c, creating it on first use. An
// accepted connection starts with its listener's handler; one created by
// listen()/connect() with the handler= of that call.
func (pm *pyManager) wrapper(c *core.Conn) *C.PyObject {
	if w := (*C.PyObject)(c.Tag); w != nil {
		return w
	}
	if pm.core == nil {
		return nil
	}
	var parent *C.PyObject
	if p := c.Parent(); p != nil {
		parent = (*C.PyObject)(p.Tag)
	}
	w := C.pmg_wrap(pm.core, C.longlong(pm.id), C.ulonglong(c.ID()), parent)
	if w == nil {
		return nil
	}
	c.Tag = unsafe.Pointer(w)
	return w
}

// dispatch is the engine's Dispatcher: one Go->C call per event.
func (pm *pyManager) dispatch(c *core.Conn, ev core.Event, data any) core.Result {
	if pm.skip&(1<<uint(ev)) != 0 {
		return core.ResultOK
	}
	w := pm.wrapper(c)
	if w == nil {
		return core.ResultOK
	}
	// The payload as pmg_dispatch takes it (native.h's PMG_DATA_*).
	var (
		kind     C.int = C.PMG_DATA_NONE
		p1, p2   []byte
		ival     C.longlong
		spans    *C.int32_t
		nhdr     int
		retiring C.int
	)
	switch d := data.(type) {
	case *core.HTTPMessage:
		kind, p1, p2 = C.PMG_DATA_HTTP, d.Head, d.Body
		nhdr, spans = pm.fillSpans(d), &pm.spans[0]
	case string:
		kind, p1 = C.PMG_DATA_STR, unsafe.Slice(unsafe.StringData(d), len(d))
	case []byte:
		kind, p1 = C.PMG_DATA_BYTES, d
	case *core.WSMessage:
		kind, p1, ival = C.PMG_DATA_WS, d.Data, C.longlong(d.Flags)
	case *core.MQTTMessage:
		kind, p1, p2 = C.PMG_DATA_MQTT, d.Topic, d.Data
		ival = C.longlong(int64(d.ID) | int64(d.Cmd)<<16 | int64(d.QoS)<<24 | int64(d.Ack)<<32)
	case int:
		kind, ival = C.PMG_DATA_INT, C.longlong(d)
	case int64:
		kind, ival = C.PMG_DATA_INT, C.longlong(d)
	}
	if ev == core.EvClose {
		retiring = 1
	}
	rc := C.pmg_dispatch(pm.core, w, C.int(ev), retiring, kind, bytesPtr(p1), C.Py_ssize_t(len(p1)),
		bytesPtr(p2), C.Py_ssize_t(len(p2)), spans, C.int(nhdr), ival)
	if retiring != 0 {
		// dispatch.c has invalidated the wrapper and dropped its reference.
		c.Tag = nil
	}
	return core.Result(rc)
}

// pollBatch is the engine's PollBatcher: MG_EV_POLL for a run of
// connections in one crossing, pmg_dispatch_polls looping in C. The
// wrappers go as uintptr so that cgocheck has no pointers to inspect.
func (pm *pyManager) pollBatch(conns []*core.Conn, stop *uint32) (int, bool) {
	if pm.skip&(1<<uint(core.EvPoll)) != 0 {
		return len(conns), false
	}
	buf := pm.polls[:0]
	for _, c := range conns {
		w := (*C.PyObject)(c.Tag) // wrapper's fast path, inlined
		if w == nil {
			w = pm.wrapper(c)
		}
		buf = append(buf, uintptr(unsafe.Pointer(w)))
	}
	pm.polls = buf
	if pm.core == nil {
		return len(conns), false
	}
	r := C.pmg_dispatch_polls(pm.core, C.int(core.EvPoll), (*C.uintptr_t)(unsafe.Pointer(&buf[0])), C.int(len(buf)),
		(*C.uint32_t)(unsafe.Pointer(stop)))
	return int(r >> 2), int(r&3) == C.PMG_ABORT
}

// fillSpans lays the message's spans out as native.h's PMG_SPAN_INTS (for
// more than PMG_MAX_HEADERS headers, the same layout longer).
func (pm *pyManager) fillSpans(d *core.HTTPMessage) int {
	n := len(d.Headers)
	if need := 2 * (4 + 2*n); len(pm.spans) < need {
		pm.spans = make([]C.int32_t, max(need, C.PMG_SPAN_INTS))
	}
	s := pm.spans
	put := func(i int, sp codec.Span) {
		s[2*i] = C.int32_t(sp.Off)
		s[2*i+1] = C.int32_t(sp.Len)
	}
	put(0, d.Method)
	put(1, d.URI)
	put(2, d.Query)
	put(3, d.Proto)
	for i := 0; i < n; i++ {
		put(4+2*i, d.Headers[i].Name)
		put(5+2*i, d.Headers[i].Value)
	}
	return n
}
