package pybind

import (
	"os"
	"runtime"
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
