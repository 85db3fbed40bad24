package core

// connFlags packs the booleans of a Conn into one word: 19 bools took 20
// bytes with padding, one uint32 takes 4, which brings Conn down a size class
// (160 -> 144 bytes) on the idle-connection memory target.
type connFlags uint32

const (
	fListening    connFlags = 1 << iota
	fClient                 // made by Connect
	fTLS                    // TLS URL scheme; cleared if tls_init does not run
	fUDP                    // UDP socket
	fWebsocket              // WebSocket handshake done
	fHTTPListener           // accepted children get the HTTP server engine

	// Readiness, set by Wait from epoll and cleared when a syscall says EAGAIN.
	fReadable
	fWritable
	fSockErr
	fPeerShut // RDHUP/HUP seen: keep reading until end-of-file
	fEpollOut // EPOLLOUT is in the interest set
	fSeenR    // readable at the start of this turn (IsReadable)

	fResolving
	fConnecting
	fDraining
	fClosing // close at the end of the next turn
	fInClose // EvClose being delivered
	fClosed
	fPeerEOF // read returned end-of-file
)

// has reports whether any of the bits in f is set (callers pass one flag
// unless they mean "any of").
func (c *Conn) has(f connFlags) bool { return c.flags&f != 0 }

func (c *Conn) set(f connFlags)   { c.flags |= f }
func (c *Conn) clear(f connFlags) { c.flags &^= f }

func (c *Conn) setTo(f connFlags, v bool) {
	if v {
		c.flags |= f
	} else {
		c.flags &^= f
	}
}
