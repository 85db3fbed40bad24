package core

import (
	"golang.org/x/sys/unix"
)

// poller wraps one epoll instance plus the eventfd used to interrupt it.
// Sockets are registered edge-triggered: readiness is remembered in
// per-connection flags until a syscall reports EAGAIN, which lets the loop
// skip a connection (is_full, one batch per turn) without epoll reporting it
// again and again.
type poller struct {
	epfd   int
	evfd   int
	events []unix.EpollEvent
}

const (
	evIn  = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET
	evOut = unix.EPOLLOUT
)

func newPoller() (*poller, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	ev, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(ep)
		return nil, err
	}
	p := &poller{epfd: ep, evfd: ev, events: make([]unix.EpollEvent, 256)}
	// Level-triggered: Wait reads the counter whenever it is reported.
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, ev, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(ev)}); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func (p *poller) add(fd int, events uint32) error {
	return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: events, Fd: int32(fd)})
}

func (p *poller) mod(fd int, events uint32) error {
	return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, fd, &unix.EpollEvent{Events: events, Fd: int32(fd)})
}

// wait returns the number of events, or -1 on EINTR.
func (p *poller) wait(timeoutMs int) int {
	n, err := unix.EpollWait(p.epfd, p.events, timeoutMs)
	if err != nil {
		return -1
	}
	return n
}

// event is the i-th event of the last wait: its descriptor and the
// readiness flags it sets on the connection. An error or hang-up makes the
// socket readable and writable, so that the next syscall reports it.
func (p *poller) event(i int) (fd int, flags connFlags) {
	ev := &p.events[i]
	e := ev.Events
	if e&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		flags |= fReadable
	}
	if e&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		flags |= fPeerShut
	}
	if e&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		flags |= fWritable
	}
	if e&unix.EPOLLERR != 0 {
		flags |= fSockErr
	}
	return int(ev.Fd), flags
}

// full reports that a wait returning n events filled the buffer: more may
// be queued in the kernel.
func (p *poller) full(n int) bool { return n == len(p.events) }

// signal makes a blocked wait return. Callers serialise it with close.
func (p *poller) signal() {
	var one = [8]byte{1}
	unix.Write(p.evfd, one[:])
}

// drainSignal resets the eventfd counter.
func (p *poller) drainSignal() {
	var b [8]byte
	unix.Read(p.evfd, b[:])
}

func (p *poller) close() {
	unix.Close(p.evfd)
	unix.Close(p.epfd)
}
