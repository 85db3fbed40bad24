package pybind

/*
#include "native.h"
*/
import "C"

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/pymongoose-go/pymongoose-go/core"
)

// pyManager ties one engine Manager to its Python-side core object.
type pyManager struct {
	id       int64
	m        *core.Manager
	core     *C.PyObject // CoreObject; set by pmg_attach
	timersMu sync.Mutex  // Timer.cancel() may come from any thread
	timers   map[int64]*core.Timer
	spans    []C.int32_t // reused for every HTTP event (dispatch.go's fillSpans)
	noYield  bool        // poll never yields the P (runtime.go, AdapterNoYield)
	polls    []uintptr   // wrappers of a POLL run (pollBatch), reused
	skip     uint64      // bit ev set: event ev is not delivered (AdapterSkipEvents)
}

var (
	registryMu sync.Mutex
	registry   atomic.Pointer[map[int64]*pyManager]
	nextID     int64
)

func lookup(id int64) *pyManager {
	if m := registry.Load(); m != nil {
		return (*m)[id]
	}
	return nil
}

// register and unregister copy the map so lookups need no lock: wakeup()
// may come from any thread.
func register(pm *pyManager) {
	registryMu.Lock()
	defer registryMu.Unlock()
	nextID++
	pm.id = nextID
	next := map[int64]*pyManager{pm.id: pm}
	if old := registry.Load(); old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	registry.Store(&next)
}

func unregister(id int64) {
	registryMu.Lock()
	defer registryMu.Unlock()
	old := registry.Load()
	if old == nil {
		return
	}
	next := make(map[int64]*pyManager, len(*old))
	for k, v := range *old {
		if k != id {
			next[k] = v
		}
	}
	registry.Store(&next)
}

// free forgets the Manager once the engine has closed it and invalidates
// every Python wrapper that is left.
func (pm *pyManager) free() {
	if lookup(pm.id) == nil {
		return
	}
	unregister(pm.id)
	pm.timersMu.Lock()
	pm.timers = map[int64]*core.Timer{}
	pm.timersMu.Unlock()
	if pm.core != nil {
		C.pmg_core_freed(pm.core)
		pm.core = nil
	}
}

// handleCount is the number of connections the engine can still find by
// id plus the Python wrapper references they hold (Conn.Tag).
func (pm *pyManager) handleCount() int {
	n := 0
	for _, c := range pm.m.ConnsByID() {
		n++
		if c.Tag != nil {
			n++
		}
	}
	return n
}

func (pm *pyManager) conn(id C.ulonglong) *core.Conn {
	// The engine forgets the conn once MG_EV_CLOSE has been delivered; while
	// that event runs the wrapper is still open (docs/api.md 6.3).
	if pm.m == nil {
		return nil
	}
	return pm.m.ConnByID(uint64(id))
}

// connOf finds an open connection from the ids a wrapper carries.
func connOf(mid C.longlong, id C.ulonglong) (*pyManager, *core.Conn) {
	pm := lookup(int64(mid))
	if pm == nil {
		return nil, nil
	}
	return pm, pm.conn(id)
}

// pmg_conn_object returns the wrapper of connection id (borrowed; owned by
// the engine until MG_EV_CLOSE has been delivered), else NULL.
//
//export pmg_conn_object
func pmg_conn_object(mid C.longlong, id C.ulonglong) (w *C.PyObject) {
	defer guard(&w, nil)
	if _, c := connOf(mid, id); c != nil {
		w = (*C.PyObject)(c.Tag)
	}
	return w
}

// pmg_conn_objects stores up to n wrappers (borrowed), oldest first, and
// returns how many there are.
//
//export pmg_conn_objects
func pmg_conn_objects(mid C.longlong, out **C.PyObject, n C.longlong) (total C.longlong) {
	defer guard(&total, 0)
	pm := lookup(int64(mid))
	if pm == nil || pm.m == nil {
		return 0
	}
	dst := unsafe.Slice(out, int(n))
	for _, c := range pm.m.ConnsByID() {
		if c.Tag == nil {
			continue
		}
		if total < n {
			dst[total] = (*C.PyObject)(c.Tag)
		}
		total++
	}
	return total
}

func (pm *pyManager) addTimer(key int64, t *core.Timer) {
	pm.timersMu.Lock()
	pm.timers[key] = t
	pm.timersMu.Unlock()
}

func (pm *pyManager) takeTimer(key int64) *core.Timer {
	pm.timersMu.Lock()
	defer pm.timersMu.Unlock()
	t := pm.timers[key]
	delete(pm.timers, key)
	return t
}
