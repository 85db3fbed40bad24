package pybind

/*
#include "native.h"
*/
import "C"

import (
	"errors"
	"fmt"

	"github.com/pymongoose-go/pymongoose-go/core"
)

// This file is the cold API: gopy generates its Python bindings. Only
// ints, strings, bools and errors cross here (no callbacks, no []byte), and
// every function recovers from panics so that Go never aborts Python.

var errFreed = errors.New("Manager has been freed")

func recoverTo(err *error) {
	if r := recover(); r != nil {
		reportPanic(r)
		*err = fmt.Errorf("internal error: %v", r)
	}
}

// NewManager creates an engine Manager and returns its id. The limits are
// those of Manager()'s keyword arguments, in managerLimits' order (limits.go);
// 0 turns a limit off.
func NewManager(enableWakeup bool, maxRecvSize, maxHeadSize, maxHeaders, maxBodySize, maxMessageSize,
	headTimeoutMs, stallTimeoutMs, sendHighWater int) (id int64, err error) {
	defer recoverTo(&err)
	pm := &pyManager{timers: map[int64]*core.Timer{}}
	opts := core.Options{EnableWakeup: enableWakeup, Limits: limitsOf([...]int{maxRecvSize, maxHeadSize,
		maxHeaders, maxBodySize, maxMessageSize, headTimeoutMs, stallTimeoutMs, sendHighWater})}
	m, err := core.NewManager(pm.dispatch, opts)
	if err != nil {
		return 0, err
	}
	pm.m = m
	register(pm)
	return pm.id, nil
}

func open(mid int64) (*pyManager, error) {
	pm := lookup(mid)
	if pm == nil || pm.m.Closed() || pm.core == nil {
		return nil, errFreed
	}
	return pm, nil
}

// Listen starts a listener and returns its connection id. MG_EV_OPEN is
// delivered before it returns, to the handler set with the core's
// set_pending().
func Listen(mid int64, url string, http, reusePort bool) (connID int64, err error) {
	defer recoverTo(&err)
	pm, err := open(mid)
	if err != nil {
		return 0, err
	}
	c, err := pm.m.Listen(url, core.ListenOptions{HTTP: http, ReusePort: reusePort,
		Init: func(c *core.Conn) { pm.wrapper(c) }})
	if err != nil {
		return 0, err
	}
	return int64(c.ID()), nil
}

// Connect starts an outbound connection and returns its id; the outcome
// arrives as events.
func Connect(mid int64, url string, http bool) (connID int64, err error) {
	defer recoverTo(&err)
	pm, err := open(mid)
	if err != nil {
		return 0, err
	}
	c, err := pm.m.Connect(url, core.ConnectOptions{HTTP: http,
		Init: func(c *core.Conn) { pm.wrapper(c) }})
	if err != nil {
		return 0, err
	}
	return int64(c.ID()), nil
}

// CloseManager closes the Manager: MG_EV_POLL then MG_EV_CLOSE for every
// connection. Called from a handler during poll() it is deferred to the end
// of that poll(). Returns true once the Manager is gone.
func CloseManager(mid int64) (done bool, err error) {
	defer recoverTo(&err)
	pm := lookup(mid)
	if pm == nil {
		return true, nil
	}
	if pm.m.Closed() {
		// A handler closes the Manager while a close further up the stack
		// (this call's, or the one poll() deferred) delivers MG_EV_CLOSE:
		// that close frees the Manager once it is done.
		return false, nil
	}
	pm.m.Close()
	if pm.m.Closed() && !pm.m.InProcess() {
		pm.free()
		return true, nil
	}
	return false, nil
}

// Interrupt makes a poll() that is waiting return at once; safe from any
// thread.
func Interrupt(mid int64) (err error) {
	defer recoverTo(&err)
	if pm := lookup(mid); pm != nil {
		pm.m.Interrupt()
	}
	return nil
}

// TimerAdd registers the timer whose Python callback manager.c keeps under
// key.
func TimerAdd(mid int64, milliseconds int64, repeat, runNow bool, key int64) (err error) {
	defer recoverTo(&err)
	pm, err := open(mid)
	if err != nil {
		return err
	}
	last := C.int(1)
	if repeat {
		last = 0
	}
	t := pm.m.TimerAdd(int(milliseconds), repeat, runNow, func() core.Result {
		checkInjectedPanic()
		if pm.core == nil {
			return core.ResultOK
		}
		if last != 0 {
			pm.takeTimer(key)
		}
		return core.Result(C.pmg_timer_fire(pm.core, C.longlong(key), last))
	})
	pm.addTimer(key, t)
	return nil
}

// WakeupID is the id of the internal wakeup connection, 0 without one.
func WakeupID(mid int64) (id int64, err error) {
	defer recoverTo(&err)
	pm, err := open(mid)
	if err != nil {
		return 0, err
	}
	return int64(pm.m.WakeupID()), nil
}
