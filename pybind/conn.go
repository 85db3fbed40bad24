package pybind

// Go side of the Connection methods of conn.c: the attribute snapshot
// (pmg_conn_info), send, reply, http_chunk, drain, close, error and the
// buffer copies. They return 0, or PMG_RC_CLOSED when the connection is
// gone and PMG_RC_INTERNAL on a failure.

/*
#include "native.h"
*/
import "C"

import "github.com/pymongoose-go/pymongoose-go/core"

//export pmg_conn_info
func pmg_conn_info(mid C.longlong, id C.ulonglong, out *C.pmg_info) (ok C.int) {
	defer guard(&ok, 0)
	_, c := connOf(mid, id)
	if c == nil {
		return 0
	}
	var f C.uint
	set := func(b bool, bit C.uint) {
		if b {
			f |= bit
		}
	}
	set(c.IsListening(), C.PMG_F_LISTENING)
	set(c.IsClient(), C.PMG_F_CLIENT)
	set(c.IsTLS(), C.PMG_F_TLS)
	set(c.IsUDP(), C.PMG_F_UDP)
	set(c.IsWebsocket(), C.PMG_F_WEBSOCKET)
	set(c.IsReadable(), C.PMG_F_READABLE)
	set(c.IsWritable(), C.PMG_F_WRITABLE)
	set(c.IsFull(), C.PMG_F_FULL)
	set(c.IsDraining(), C.PMG_F_DRAINING)
	set(c.IsClosing(), C.PMG_F_CLOSING)
	out.flags = f
	out.recv_len = C.longlong(c.RecvLen())
	out.send_len = C.longlong(c.SendLen())
	out.recv_size = C.longlong(c.RecvSize())
	out.send_size = C.longlong(c.SendSize())
	putAddr(c.LocalAddr(), &out.local_ip, &out.local_port, &out.local_v6)
	putAddr(c.RemoteAddr(), &out.remote_ip, &out.remote_port, &out.remote_v6)
	return 1
}

func putAddr(a core.Addr, ip *[16]C.uchar, port *C.int, v6 *C.int) {
	*port = C.int(a.Port)
	if a.IPv6 {
		*v6 = 1
		for i, b := range a.IP.To16() {
			ip[i] = C.uchar(b)
		}
		return
	}
	*v6 = 0
	if v4 := a.IP.To4(); v4 != nil {
		for i, b := range v4 {
			ip[i] = C.uchar(b)
		}
	}
}

//export pmg_conn_send
func pmg_conn_send(mid C.longlong, id C.ulonglong, p *C.char, n C.longlong) (rc C.int) {
	defer guard(&rc, rcInternal)
	_, c := connOf(mid, id)
	if c == nil {
		return rcClosed
	}
	if err := c.Send(cBytes(p, n)); err != nil {
		return rcInternal
	}
	return 0
}

//export pmg_conn_send_response
func pmg_conn_send_response(mid C.longlong, id C.ulonglong, p *C.char, n C.longlong, end C.int) (rc C.int) {
	defer guard(&rc, rcInternal)
	_, c := connOf(mid, id)
	if c == nil {
		return rcClosed
	}
	if err := c.SendResponse(cBytes(p, n), end != 0); err != nil {
		return rcInternal
	}
	return 0
}

//export pmg_conn_reply
func pmg_conn_reply(mid C.longlong, id C.ulonglong, code C.longlong, h *C.char, hn C.longlong,
	hdefault C.int, b *C.char, bn C.longlong) (rc C.int) {
	defer guard(&rc, rcInternal)
	_, c := connOf(mid, id)
	if c == nil {
		return rcClosed
	}
	var headers []byte
	if hdefault == 0 {
		headers = cBytes(h, hn)
		if headers == nil {
			headers = []byte{} // an empty dict: no header lines at all
		}
	}
	c.Reply(int(code), headers, cBytes(b, bn))
	return 0
}

//export pmg_conn_chunk
func pmg_conn_chunk(mid C.longlong, id C.ulonglong, p *C.char, n C.longlong) C.int {
	return onConn(mid, id, func(c *core.Conn) C.int {
		c.HTTPChunk(cBytes(p, n))
		return 0
	})
}

//export pmg_conn_drain
func pmg_conn_drain(mid C.longlong, id C.ulonglong) (rc C.int) {
	defer guard(&rc, rcInternal)
	if _, c := connOf(mid, id); c != nil {
		c.Drain()
	}
	return 0
}

//export pmg_conn_close
func pmg_conn_close(mid C.longlong, id C.ulonglong) (rc C.int) {
	defer guard(&rc, rcInternal)
	if _, c := connOf(mid, id); c != nil {
		c.Close()
	}
	return 0
}

//export pmg_conn_error
func pmg_conn_error(mid C.longlong, id C.ulonglong, p *C.char, n C.longlong) C.int {
	return onConn(mid, id, func(c *core.Conn) C.int {
		c.Error(string(cBytes(p, n)))
		return 0
	})
}

//export pmg_conn_copy
func pmg_conn_copy(mid C.longlong, id C.ulonglong, which C.int, dst *C.char, n C.longlong) (got C.longlong) {
	defer guard(&got, rcClosed)
	_, c := connOf(mid, id)
	if c == nil {
		return rcClosed
	}
	src := c.RecvData()
	if which != 0 {
		src = c.SendData()
	}
	return C.longlong(copy(cBytes(dst, n), src))
}
