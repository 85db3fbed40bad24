package codec

import "testing"

func TestScanChunks(t *testing.T) {
	cases := []struct {
		in    string
		st    int
		body  string
		limit int
	}{
		{"0\r\n\r\n", ChunkDone, "", 0},
		{"5\r\nhello\r\n0\r\n\r\n", ChunkDone, "hello", 0},
		{"5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n", ChunkDone, "hello0123456789", 0},
		{"5\r\nhel", ChunkMore, "", 0},
		{"5\r\nhello\r\n", ChunkMore, "", 0},
		{"5\r\nhello\r\n0\r\n", ChunkMore, "", 0},
		{"x\r\n", ChunkBad, "", 0},
		{"5\nhello\r\n0\r\n\r\n", ChunkBad, "", 0},
		{"5\r\nhelloXX0\r\n\r\n", ChunkBad, "", 0},
		{"1000000000000000\r\n", ChunkBad, "", 0},
		{"b\r\n", ChunkTooBig, "", 10},
	}
	for _, tc := range cases {
		b := []byte(tc.in)
		dlen, raw, st := ScanChunks(b, tc.limit)
		if st != tc.st {
			t.Fatalf("%q: state %d want %d", tc.in, st, tc.st)
		}
		if st == ChunkDone {
			if raw != len(tc.in) || int(dlen) != len(tc.body) {
				t.Fatalf("%q: raw %d dlen %d", tc.in, raw, dlen)
			}
			if n := Dechunk(b); string(b[:n]) != tc.body {
				t.Fatalf("%q: dechunked %q", tc.in, b[:n])
			}
		}
	}
}

// FuzzChunkedPrefix checks the chunked decoder on split input: a prefix of
// a complete body is never "done" at a different length and never "bad"
// (unless a line outgrows its bound), and de-chunking stays in bounds.
func FuzzChunkedPrefix(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), 4)
	f.Add([]byte("a;ext=1\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n"), 9)
	f.Add([]byte("0\r\n\r\n"), 1)
	f.Fuzz(func(t *testing.T, body []byte, cut int) {
		dlen, raw, st := ScanChunks(body, 1<<20)
		if st != ChunkDone {
			return
		}
		if raw > len(body) || dlen > int64(raw) {
			t.Fatalf("raw %d dlen %d len %d", raw, dlen, len(body))
		}
		if raw > 0 {
			cut = int(uint(cut) % uint(raw))
			_, _, st2 := ScanChunks(body[:cut], 1<<20)
			if st2 == ChunkDone || st2 == ChunkBad && cut < maxChunkLine {
				t.Fatalf("prefix %d of %d: state %d", cut, raw, st2)
			}
			// Resuming where a prefix stopped gives the one-shot answer.
			pos, d, _, _ := ResumeChunks(body[:cut], 0, 0, 1<<20)
			_, d2, raw2, st3 := ResumeChunks(body, pos, d, 1<<20)
			if st3 != ChunkDone || d2 != dlen || raw2 != raw {
				t.Fatalf("resume from %d: %d %d %d, want %d %d", pos, st3, d2, raw2, dlen, raw)
			}
		}
		cp := append([]byte(nil), body[:raw]...)
		if got := Dechunk(cp); int64(got) != dlen {
			t.Fatalf("Dechunk %d want %d", got, dlen)
		}
	})
}
