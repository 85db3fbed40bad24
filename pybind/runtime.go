package pybind

import (
	"os"
	"runtime"
	"sync/atomic"
	"time"
)

// The event loop is single-threaded; two Ps are enough for it plus the few
// background goroutines (DNS, wakeups), and they are needed even on one CPU
// (taskset, a 1-CPU cgroup quota): with a single P, Go's sysmon takes it
// back from the thread whenever Python runs for more than ~20 µs between
// two calls into Go, and every later call must win it back (measured with
// the server pinned to one CPU: ~3,000 preemptions a second and 8 % fewer
// Starlette requests). An idle second P makes sysmon leave it alone. An
// explicit GOMAXPROCS in the environment wins.
func init() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(2)
	}
}

// The Go scheduler takes a goroutine that has not been rescheduled for
// 10 ms for one running too long, even when it was in C (Python) most of
// that time: a thread that calls into Go for every poll keeps its P under
// the same schedtick. sysmon then preempts it or takes its P every 10 ms
// and, having acted, wakes every 20 µs for a while. A yield every 5 ms
// starts a new tick and sysmon stays asleep (ASGI server pinned to one CPU:
// 3,300 -> 1,300 context switches a second, measured in
// /proc/PID/task/*/status; 8 % less CPU per request for ASGI, 6 % for WSGI
// with the app on the poll thread). A yield hands the P to another thread
// and back; where other Python threads wait to run (a WSGI server with app
// threads) that hand-off costs more than it saves (15 % more CPU per
// request), so such a Manager turns it off (AdapterNoYield).
const yieldEvery = 5 * time.Millisecond

var lastYield atomic.Int64 // UnixNano of the last yield, by any thread

// yieldIfDue yields the P if the last yield is older than yieldEvery.
func yieldIfDue() {
	now := time.Now().UnixNano()
	last := lastYield.Load()
	if now-last >= int64(yieldEvery) && lastYield.CompareAndSwap(last, now) {
		runtime.Gosched()
	}
}
