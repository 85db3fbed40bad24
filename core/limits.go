package core

// Limits bounds what one connection may cost (docs/api.md §13). A zero field
// turns that limit off.
type Limits struct {
	MaxRecvSize    int // raw TCP/UDP receive buffer; bytes queued behind a message otherwise
	MaxHeadSize    int // HTTP request line plus header lines
	MaxHeaders     int // HTTP header lines per request
	MaxBodySize    int // HTTP request body (declared or de-chunked)
	MaxMessageSize int // WebSocket message, MQTT packet, HTTP response body (client side)
	HeadTimeoutMs  int // request head must be complete this long after its first byte
	StallTimeoutMs int // request body or drain making no progress for this long
	SendHighWater  int // IsFull while SendLen is at least this
}

// DefaultLimits returns the defaults of docs/api.md §13.
func DefaultLimits() Limits {
	return Limits{
		MaxRecvSize:    3145728,
		MaxHeadSize:    65536,
		MaxHeaders:     100,
		MaxBodySize:    33554432,
		MaxMessageSize: 33554432,
		HeadTimeoutMs:  30000,
		StallTimeoutMs: 60000,
		SendHighWater:  1048576,
	}
}

// Options configure a Manager.
type Options struct {
	Limits       Limits
	EnableWakeup bool // reserve connection id 1 for the wakeup channel
}

// ioSize is Mongoose's MG_IO_SIZE: buffer sizes are reported in multiples of it.
const ioSize = 16384

func roundIO(n int) int {
	return (n + ioSize - 1) / ioSize * ioSize
}
