package core

import (
	"testing"
	"unsafe"
)

// TestConnSize guards the size class of Conn, most of an idle connection's
// memory (the issue-8 RSS target): 144 bytes, the class below 160.
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 144 {
		t.Fatalf("unsafe.Sizeof(Conn{}) = %d, want <= 144", n)
	}
}
