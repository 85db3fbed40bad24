// Package testhex decodes the hex that tests write packets in. It is
// shared by the tests of core and core/codec (a test file cannot import
// another package's tests).
package testhex

import (
	"encoding/hex"
	"strings"
)

// Decode returns the bytes of s, hex digits with spaces anywhere between
// them for readability ("10 02 00 3c"). A malformed literal is a bug in the
// test, so it panics.
func Decode(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}
