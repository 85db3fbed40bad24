package pybind

import (
	"os"
	"runtime"
)

// The event loop is single-threaded; a couple of Ps are enough for it plus
// the few background goroutines (DNS, wakeups). An explicit GOMAXPROCS in
// the environment wins.
func init() {
	if os.Getenv("GOMAXPROCS") == "" && runtime.NumCPU() > 2 {
		runtime.GOMAXPROCS(2)
	}
}
