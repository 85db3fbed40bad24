package core

import (
	"sync/atomic"
	"time"
)

var zeroTime time.Time

// maxTimerMs bounds a period (about 278 years) so that it fits a Duration.
const maxTimerMs = 1 << 43

// Timer is a callback run inside Process (docs/api.md §10.4).
type Timer struct {
	m       *Manager
	period  time.Duration
	repeat  bool
	runNow  bool
	fire    func() Result
	started bool // first deadline recorded (first poll after TimerAdd)
	runDue  bool // run_now firing still owed
	due     time.Time
	done    atomic.Bool // cancelled, fired (one-shot) or manager closed
}

// TimerAdd registers fire to run every ms milliseconds (once unless repeat).
// The countdown starts at the first poll after the call; runNow also fires
// in that first poll. Expired timers fire newest first; ResultAbort stops
// the iteration.
func (m *Manager) TimerAdd(ms int, repeat, runNow bool, fire func() Result) *Timer {
	ms = min(max(ms, 0), maxTimerMs) // time.Duration must not overflow
	t := &Timer{m: m, period: time.Duration(ms) * time.Millisecond, repeat: repeat, runNow: runNow, fire: fire}
	if m.closed || m.closingAll {
		t.done.Store(true)
		return t
	}
	m.timers = append(m.timers, t) // Wait records its start and bounds its sleep
	return t
}

// Cancel stops the timer; safe from any goroutine, idempotent. The entry is
// removed in the next Process.
func (t *Timer) Cancel() { t.done.Store(true) }

// Active is true until the timer is cancelled, a one-shot timer has fired,
// or the manager is closed.
func (t *Timer) Active() bool { return !t.done.Load() }

func (t *Timer) finish() { t.done.Store(true) }

func (t *Timer) start(now time.Time) {
	t.started = true
	t.due = now.Add(t.period)
	t.runDue = t.runNow
}

// timerWait starts new timers and returns the time to the earliest one.
func (m *Manager) timerWait(now time.Time) (int, bool) {
	best, ok := 0, false
	for _, t := range m.timers {
		if t.done.Load() {
			continue
		}
		if !t.started {
			t.start(now)
		}
		d := 0
		if !t.runDue {
			d = ceilMs(t.due.Sub(now))
		}
		if !ok || d < best {
			best, ok = d, true
		}
	}
	return best, ok
}

// runTimers fires expired timers, newest first. Timers added by a callback
// wait for the next Process.
func (m *Manager) runTimers() {
	now := m.now
	n := len(m.timers)
	for i := n - 1; i >= 0 && !m.aborted; i-- {
		t := m.timers[i]
		if t.done.Load() {
			continue
		}
		if !t.started {
			t.start(now)
		}
		if t.runDue {
			t.runDue = false
			if !t.repeat {
				t.done.Store(true)
			}
		} else if now.Before(t.due) {
			continue
		} else if t.repeat {
			t.due = t.due.Add(t.period)
			if !t.due.After(now) {
				t.due = now.Add(t.period) // late by more than a period: no replay
			}
		} else {
			t.done.Store(true)
		}
		if t.fire != nil && t.fire() == ResultAbort {
			m.aborted = true
		}
	}
	// Drop finished timers, keeping order (newer ones may have been appended).
	k := 0
	for _, t := range m.timers {
		if !t.done.Load() {
			m.timers[k] = t
			k++
		}
	}
	for i := k; i < len(m.timers); i++ {
		m.timers[i] = nil
	}
	m.timers = m.timers[:k]
	if m.closed || m.closingAll {
		m.timers = nil
	}
}
