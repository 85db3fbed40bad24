package pybind

// Go side of the cymongoose 0.2 module functions (API.md §19.6); the
// CPython side is beyond.c. Data crosses as (pointer, length) pairs into
// buffers the caller owns for the duration of the call; results go back as
// offsets into those buffers or are written into C buffers the caller
// allocated with the documented capacity. Every export recovers from panics
// and then returns a negative result.

/*
#include "native.h"

// beyond.c: hands one engine log line to Python's logging module.
void pmg_log_line(int level, const char *msg, long long n);
*/
import "C"

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"hash/crc32"
	"unsafe"

	"github.com/pymongoose-go/pymongoose-go/core"
	"github.com/pymongoose-go/pymongoose-go/core/codec"
)

func init() {
	// Engine log lines are produced on the loop's side only (core/log.go),
	// that is on a thread that is running Python code or a poll().
	core.SetLogSink(func(level int, msg string) {
		C.pmg_log_line(C.int(level), (*C.char)(unsafe.Pointer(unsafe.StringData(msg))), C.longlong(len(msg)))
	})
}

// cOut views a C output buffer of capacity n as a []byte.
func cOut(p *C.char, n int) []byte {
	if p == nil || n <= 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), n)
}

//export pmg_log_set
func pmg_log_set(level C.int) {
	core.SetLogLevel(int(level))
}

//export pmg_log_get
func pmg_log_get() C.int {
	return C.int(core.LogLevel())
}

// pmg_match writes up to codec.MatchMaxCaps (start, end) pairs into caps
// (capacity 2*MatchMaxCaps) and their number into ncaps. 1: match, 0: no
// match, -1: internal error.
//
//export pmg_match
func pmg_match(s *C.char, sn C.longlong, p *C.char, pn C.longlong, caps *C.longlong, ncaps *C.int) (rc C.int) {
	defer guard(&rc, -1)
	ok, cs := codec.Match(cString(s, sn), cString(p, pn))
	if !ok {
		return 0
	}
	out := unsafe.Slice((*C.longlong)(unsafe.Pointer(caps)), 2*codec.MatchMaxCaps)
	for i, c := range cs {
		out[2*i], out[2*i+1] = C.longlong(c[0]), C.longlong(c[1])
	}
	*ncaps = C.int(len(cs))
	return 1
}

// URL parts for pmg_url_part.
const (
	urlPartHost = 0
	urlPartUser = 1
	urlPartPass = 2
	urlPartURI  = 3
)

// pmg_url_part locates a part of url: 1 and its offsets, 0 when the URI is
// absent (url_uri() gives "/"), -1 on internal error.
//
//export pmg_url_part
func pmg_url_part(url *C.char, n C.longlong, which C.int, start, end *C.longlong) (rc C.int) {
	defer guard(&rc, -1)
	u := cString(url, n)
	var s, e int
	switch which {
	case urlPartHost:
		s, e = codec.URLHost(u)
	case urlPartUser:
		s, e = codec.URLUser(u)
	case urlPartPass:
		s, e = codec.URLPass(u)
	case urlPartURI:
		if s, e = codec.URLURI(u); s < 0 {
			return 0
		}
	default:
		return -1
	}
	*start, *end = C.longlong(s), C.longlong(e)
	return 1
}

//export pmg_url_port
func pmg_url_port(url *C.char, n C.longlong) (rc C.int) {
	defer guard(&rc, -1)
	return C.int(codec.URLPort(cString(url, n)))
}

//export pmg_url_is_ssl
func pmg_url_is_ssl(url *C.char, n C.longlong) (rc C.int) {
	defer guard(&rc, -1)
	if codec.URLIsSSL(cString(url, n)) {
		return 1
	}
	return 0
}

// pmg_http_var: 1 and the raw value's offsets, 0 when absent, -1 on
// internal error.
//
//export pmg_http_var
func pmg_http_var(buf *C.char, n C.longlong, name *C.char, nn C.longlong, start, end *C.longlong) (rc C.int) {
	defer guard(&rc, -1)
	s, e, ok := codec.HTTPVar(cBytes(buf, n), cString(name, nn))
	if !ok {
		return 0
	}
	*start, *end = C.longlong(s), C.longlong(e)
	return 1
}

// Digest kinds of pmg_digest.
const (
	digestMD5    = 0
	digestSHA1   = 1
	digestSHA256 = 2
)

// pmg_digest writes the digest of data into out (capacity 32) and returns
// its length, or -1.
//
//export pmg_digest
func pmg_digest(kind C.int, data *C.char, n C.longlong, out *C.char) (rc C.int) {
	defer guard(&rc, -1)
	d := cBytes(data, n)
	var sum []byte
	switch kind {
	case digestMD5:
		s := md5.Sum(d)
		sum = s[:]
	case digestSHA1:
		s := sha1.Sum(d)
		sum = s[:]
	case digestSHA256:
		s := sha256.Sum256(d)
		sum = s[:]
	default:
		return -1
	}
	return C.int(copy(cOut(out, 32), sum))
}

// pmg_hmac_sha256 writes HMAC-SHA256(key, data) into out (capacity 32).
//
//export pmg_hmac_sha256
func pmg_hmac_sha256(key *C.char, kn C.longlong, data *C.char, n C.longlong, out *C.char) (rc C.int) {
	defer guard(&rc, -1)
	h := hmac.New(sha256.New, cBytes(key, kn))
	h.Write(cBytes(data, n))
	return C.int(copy(cOut(out, 32), h.Sum(nil)))
}

// pmg_base64_encode writes the encoding of src into out (capacity
// (n+2)/3*4) and returns its length.
//
//export pmg_base64_encode
func pmg_base64_encode(src *C.char, n C.longlong, out *C.char) (rc C.longlong) {
	defer guard(&rc, -1)
	enc := codec.Base64Encode(cBytes(src, n))
	return C.longlong(copy(cOut(out, len(enc)), enc))
}

// pmg_base64_decode writes the decoding of src into out (capacity n/4*3)
// and returns its length (0 for invalid input).
//
//export pmg_base64_decode
func pmg_base64_decode(src *C.char, n C.longlong, out *C.char) (rc C.longlong) {
	defer guard(&rc, -1)
	dec := codec.Base64Decode(cBytes(src, n))
	return C.longlong(copy(cOut(out, len(dec)), dec))
}

// pmg_random fills out with n cryptographically random bytes: 0, or -1 on
// failure.
//
//export pmg_random
func pmg_random(out *C.char, n C.longlong) (rc C.int) {
	defer guard(&rc, -1)
	if _, err := rand.Read(cOut(out, int(n))); err != nil {
		return -1
	}
	return 0
}

//export pmg_crc32
func pmg_crc32(data *C.char, n C.longlong, initial C.uint) (rc C.uint) {
	defer guard(&rc, 0)
	return C.uint(crc32.Update(uint32(initial), crc32.IEEETable, cBytes(data, n)))
}
