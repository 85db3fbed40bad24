package pybind

// Go side of codec.c: digests, HMAC, Base64, random bytes, CRC-32. Each
// export recovers from panics and then returns a negative result.

/*
#include "native.h"
*/
import "C"

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"hash/crc32"

	"github.com/pymongoose-go/pymongoose-go/core/codec"
)

// pmg_digest writes the digest (PMG_DIGEST_*) of data into out (capacity 32) and returns
// its length, or -1.
//
//export pmg_digest
func pmg_digest(kind C.int, data *C.char, n C.longlong, out *C.char) (rc C.int) {
	defer guard(&rc, -1)
	d := cBytes(data, n)
	var sum []byte
	switch kind {
	case C.PMG_DIGEST_MD5:
		s := md5.Sum(d)
		sum = s[:]
	case C.PMG_DIGEST_SHA1:
		s := sha1.Sum(d)
		sum = s[:]
	case C.PMG_DIGEST_SHA256:
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
