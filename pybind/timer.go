package pybind

// Go side of timer.c: Timer.cancel(). TimerAdd (api.go) starts timers.

/*
#include "native.h"
*/
import "C"

//export pmg_timer_cancel
func pmg_timer_cancel(mid C.longlong, key C.longlong) {
	defer func() {
		if r := recover(); r != nil {
			reportPanic(r)
		}
	}()
	if pm := lookup(int64(mid)); pm != nil {
		if t := pm.takeTimer(int64(key)); t != nil {
			t.Cancel()
		}
	}
}
