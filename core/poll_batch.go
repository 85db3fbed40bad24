package core

// PollBatcher delivers EvPoll to a run of connections in one call, as the
// Dispatcher would one by one, so that a binding crosses into its language
// once per run instead of once per event. It goes through conns in order,
// skips a connection that is closed by then (an earlier handler of the run
// may have closed it), and stops after a handler that returned ResultAbort
// or after which *stop is non-zero: the engine sets it when the rest of that
// connection's turn, or an other connection's, must run before the next POLL
// (output queued, drain, error, abort). It returns how many of conns it went
// through (>= 1) and whether the last handler returned ResultAbort.
type PollBatcher func(conns []*Conn, stop *uint32) (n int, aborted bool)

// SetPollBatcher installs b (nil removes it). Without a batcher every EvPoll
// goes through the Dispatcher.
func (m *Manager) SetPollBatcher(b PollBatcher) { m.batcher = b }

// minPollBatch: a shorter run takes the ordinary path. maxPollBatch
// bounds a batcher call, so that the binding's per-call buffer stays small
// (a buffer as long as the connection list cost 8-16 B per idle conn).
const (
	minPollBatch = 2
	maxPollBatch = 256
)

// quietRun returns the end of the run of quiet connections in m.pass that
// starts at i, at most maxPollBatch long.
func (m *Manager) quietRun(i int) int {
	end := min(len(m.pass), i+maxPollBatch)
	for i < end && m.quiet(m.pass[i]) {
		i++
	}
	return i
}

// quiet reports that the rest of c's turn would be bookkeeping only,
// unless its POLL handler changes something (then it sets batchStop).
// Readable conns are not quiet: their POLL must see IsReadable (turn).
func (m *Manager) quiet(c *Conn) bool {
	return !c.has(fClosed|fInClose|fReadable|fSeenR|fClosing|fDraining|fPeerEOF|fConnecting) &&
		c.tlsSt() == nil && c.fileXfer() == nil && !(c.send.len() > 0 && c.has(fWritable)) &&
		c.httpIdle() && !m.due(m.connDeadline(c))
}

// pollBatch delivers EvPoll to a run of quiet connections through the
// batcher and finishes their turns, in the order the one-by-one path would
// have produced. It returns how many connections of run had their turn.
//
// Every handler but the last one delivered left its connection quiet (a
// change sets batchStop), so those turns are only bookkeeping. Kicks made
// by the last handler are replayed once those turns count as done, and the
// last connection gets the full rest of its turn.
func (m *Manager) pollBatch(run []*Conn) int {
	m.batching = true
	m.batchStop = 0
	m.depth++ // the batcher runs handlers: released memory waits for its end
	n, aborted := m.batcher(run, &m.batchStop)
	m.handlersDone()
	m.batching = false
	if aborted {
		m.aborted = true
	}
	n = min(max(n, 1), len(run))
	kicked := len(m.batchKicks) > 0
	for i, c := range run[:n-1] {
		run[i] = nil
		switch {
		case c.has(fClosed):
		case kicked || c.http != nil:
			m.doneTurn(c)
		default:
			// Unchanged (only a kick changes a quiet conn's state): nothing
			// pending, no deadline; doneTurn without recomputing that.
			c.doneGen = m.gen
		}
	}
	if kicked {
		for i, c := range m.batchKicks {
			m.batchKicks[i] = nil
			m.kick(c)
		}
		m.batchKicks = m.batchKicks[:0]
	}
	last := run[n-1]
	run[n-1] = nil
	m.afterPoll(last, false)
	return n
}
