package core

// Event is a Mongoose event number (MG_EV_*), as seen by user handlers.
type Event int

// Event numbers, identical to the MG_EV_* constants of pymongoose.
const (
	EvError    Event = 0
	EvOpen     Event = 1
	EvPoll     Event = 2
	EvResolve  Event = 3
	EvConnect  Event = 4
	EvAccept   Event = 5
	EvTLSHS    Event = 6
	EvRead     Event = 7
	EvWrite    Event = 8
	EvClose    Event = 9
	EvHTTPHdrs Event = 10
	EvHTTPMsg  Event = 11
	EvWSOpen   Event = 12
	EvWSMsg    Event = 13
	EvWSCtl    Event = 14
	EvMQTTCmd  Event = 15
	EvMQTTMsg  Event = 16
	EvMQTTOpen Event = 17
	EvSNTPTime Event = 18
	EvWakeup   Event = 19
	EvUser     Event = 20
)

var eventNames = [...]string{
	"MG_EV_ERROR", "MG_EV_OPEN", "MG_EV_POLL", "MG_EV_RESOLVE", "MG_EV_CONNECT",
	"MG_EV_ACCEPT", "MG_EV_TLS_HS", "MG_EV_READ", "MG_EV_WRITE", "MG_EV_CLOSE",
	"MG_EV_HTTP_HDRS", "MG_EV_HTTP_MSG", "MG_EV_WS_OPEN", "MG_EV_WS_MSG",
	"MG_EV_WS_CTL", "MG_EV_MQTT_CMD", "MG_EV_MQTT_MSG", "MG_EV_MQTT_OPEN",
	"MG_EV_SNTP_TIME", "MG_EV_WAKEUP", "MG_EV_USER",
}

// String returns the MG_EV_* name of the event.
func (e Event) String() string {
	if e >= 0 && int(e) < len(eventNames) {
		return eventNames[e]
	}
	return "MG_EV_USER+" + itoa(int(e-EvUser))
}

// Result is what the dispatcher reports back about the user's handler.
type Result int

const (
	// ResultOK: the handler returned (or there was no handler).
	ResultOK Result = iota
	// ResultException: the handler raised an ordinary exception, already
	// reported by the binding. The loop goes on.
	ResultException
	// ResultAbort: the handler raised KeyboardInterrupt/SystemExit; the
	// current iteration stops once the engine has finished its own work for
	// the event.
	ResultAbort
)

// Dispatcher is called synchronously for every event of every connection.
//
// data is *HTTPMessage for EvHTTPHdrs/EvHTTPMsg/EvWSOpen, string for
// EvError, []byte for EvWakeup, int for EvMQTTOpen, int64 for EvSNTPTime
// and nil otherwise. The dispatcher may re-enter the engine (Send, Reply,
// Drain, Close of any connection, Listen, Connect, Manager.Close, TimerAdd).
type Dispatcher func(c *Conn, ev Event, data any) Result

func itoa(n int) string {
	var b [24]byte
	return string(appendInt(b[:0], int64(n)))
}
