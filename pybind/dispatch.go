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

func bytesPtr(b []byte) *C.char {
	if len(b) == 0 {
		return nil
	}
	return (*C.char)(unsafe.Pointer(&b[0]))
}

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
	var rc C.int
	switch d := data.(type) {
	case *core.HTTPMessage:
		n := pm.fillSpans(d)
		rc = C.pmg_dispatch(pm.core, w, C.int(ev), C.PMG_DATA_HTTP,
			bytesPtr(d.Head), C.Py_ssize_t(len(d.Head)), bytesPtr(d.Body), C.Py_ssize_t(len(d.Body)),
			&pm.spans[0], C.int(n), 0)
	case string:
		b := unsafe.Slice(unsafe.StringData(d), len(d))
		rc = C.pmg_dispatch(pm.core, w, C.int(ev), C.PMG_DATA_STR,
			bytesPtr(b), C.Py_ssize_t(len(b)), nil, 0, nil, 0, 0)
	case []byte:
		rc = C.pmg_dispatch(pm.core, w, C.int(ev), C.PMG_DATA_BYTES,
			bytesPtr(d), C.Py_ssize_t(len(d)), nil, 0, nil, 0, 0)
	case *core.WSMessage:
		rc = C.pmg_dispatch(pm.core, w, C.int(ev), C.PMG_DATA_WS,
			bytesPtr(d.Data), C.Py_ssize_t(len(d.Data)), nil, 0, nil, 0, C.longlong(d.Flags))
	case *core.MQTTMessage:
		packed := int64(d.ID) | int64(d.Cmd)<<16 | int64(d.QoS)<<24 | int64(d.Ack)<<32
		rc = C.pmg_dispatch(pm.core, w, C.int(ev), C.PMG_DATA_MQTT,
			bytesPtr(d.Topic), C.Py_ssize_t(len(d.Topic)), bytesPtr(d.Data), C.Py_ssize_t(len(d.Data)),
			nil, 0, C.longlong(packed))
	case int:
		rc = C.pmg_dispatch(pm.core, w, C.int(ev), C.PMG_DATA_INT, nil, 0, nil, 0, nil, 0, C.longlong(d))
	case int64:
		rc = C.pmg_dispatch(pm.core, w, C.int(ev), C.PMG_DATA_INT, nil, 0, nil, 0, nil, 0, C.longlong(d))
	default:
		rc = C.pmg_dispatch(pm.core, w, C.int(ev), C.PMG_DATA_NONE, nil, 0, nil, 0, nil, 0, 0)
	}
	if ev == core.EvClose {
		// native.c has invalidated the wrapper and dropped its reference.
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
	r := C.pmg_dispatch_polls(pm.core, (*C.uintptr_t)(unsafe.Pointer(&buf[0])), C.int(len(buf)),
		(*C.uint32_t)(unsafe.Pointer(stop)))
	return int(r >> 2), int(r&3) == C.PMG_ABORT
}

// fillSpans lays the message's spans out as native.c expects them.
func (pm *pyManager) fillSpans(d *core.HTTPMessage) int {
	s := &pm.spans
	put := func(i int, sp codec.Span) {
		s[2*i] = C.int32_t(sp.Off)
		s[2*i+1] = C.int32_t(sp.Len)
	}
	put(0, d.Method)
	put(1, d.URI)
	put(2, d.Query)
	put(3, d.Proto)
	n := len(d.Headers)
	if n > C.PMG_MAX_HEADERS {
		n = C.PMG_MAX_HEADERS
	}
	for i := 0; i < n; i++ {
		put(4+2*i, d.Headers[i].Name)
		put(5+2*i, d.Headers[i].Value)
	}
	return n
}
