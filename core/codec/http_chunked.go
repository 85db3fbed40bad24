package codec

import "bytes"

// Chunked body scanning states.
const (
	ChunkMore   = iota // need more bytes
	ChunkDone          // complete
	ChunkBad           // malformed
	ChunkTooBig        // de-chunked size over the limit
)

// maxChunkLine bounds a chunk-size or trailer line.
const maxChunkLine = 4096

// chunkLine parses a chunk-size line at the start of b: hex digits,
// optional ";extension", CR LF. It returns the size and the line length.
func chunkLine(b []byte) (size int64, n int, st int) {
	lf := bytes.IndexByte(b, '\n')
	if lf < 0 {
		if len(b) > maxChunkLine {
			return 0, 0, ChunkBad
		}
		return 0, 0, ChunkMore
	}
	if lf == 0 || b[lf-1] != '\r' {
		return 0, 0, ChunkBad
	}
	line := b[:lf-1]
	i := 0
	for ; i < len(line); i++ {
		d := unhex(line[i])
		if d < 0 {
			break
		}
		if i >= 15 {
			return 0, 0, ChunkBad
		}
		size = size<<4 | int64(d)
	}
	if i == 0 || i < len(line) && line[i] != ';' {
		return 0, 0, ChunkBad
	}
	return size, lf + 1, ChunkDone
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// ScanChunks walks the chunked body at the start of b. It returns the
// de-chunked length, the raw length (when done) and the state. A size over
// maxBody (0 = no limit) is reported as soon as its chunk line is seen.
func ScanChunks(b []byte, maxBody int) (dlen int64, raw int, st int) {
	pos := 0
	for {
		size, n, s := chunkLine(b[pos:])
		if s != ChunkDone {
			return dlen, 0, s
		}
		pos += n
		if size == 0 {
			// Optional trailer lines, then the final CR LF.
			for {
				lf := bytes.IndexByte(b[pos:], '\n')
				if lf < 0 {
					if len(b)-pos > maxChunkLine {
						return dlen, 0, ChunkBad
					}
					return dlen, 0, ChunkMore
				}
				if lf == 0 || b[pos+lf-1] != '\r' {
					return dlen, 0, ChunkBad
				}
				empty := lf == 1
				pos += lf + 1
				if empty {
					return dlen, pos, ChunkDone
				}
			}
		}
		dlen += size
		if maxBody > 0 && dlen > int64(maxBody) || dlen > 1<<50 {
			return dlen, 0, ChunkTooBig
		}
		if int64(len(b)-pos) < size+2 {
			return dlen, 0, ChunkMore
		}
		pos += int(size)
		if b[pos] != '\r' || b[pos+1] != '\n' {
			return dlen, 0, ChunkBad
		}
		pos += 2
	}
}

// Dechunk moves the data of a complete, already scanned chunked body to the
// front of b and returns its length.
func Dechunk(b []byte) int {
	w, pos := 0, 0
	for {
		size, n, _ := chunkLine(b[pos:])
		pos += n
		if size == 0 {
			return w
		}
		copy(b[w:], b[pos:pos+int(size)])
		w += int(size)
		pos += int(size) + 2
	}
}

// ResumeChunks is ScanChunks resumed at a chunk boundary: pos is the raw
// offset of a chunk-size line in b and dlen the data bytes before it. It
// returns the furthest complete-chunk boundary reached (to resume from),
// the data bytes before it, and, when the body is complete, its raw length.
func ResumeChunks(b []byte, pos int, dlen int64, maxBody int) (int, int64, int, int) {
	for {
		size, n, st := chunkLine(b[pos:])
		if st != ChunkDone {
			return pos, dlen, 0, st
		}
		if size == 0 {
			_, raw, st := ScanChunks(b[pos:], maxBody)
			if st != ChunkDone {
				return pos, dlen, 0, st
			}
			return pos, dlen, pos + raw, ChunkDone
		}
		d := dlen + size
		if maxBody > 0 && d > int64(maxBody) || d > 1<<50 {
			return pos, dlen, 0, ChunkTooBig
		}
		if int64(len(b)-pos-n) < size+2 {
			return pos, dlen, 0, ChunkMore
		}
		e := pos + n + int(size)
		if b[e] != '\r' || b[e+1] != '\n' {
			return pos, dlen, 0, ChunkBad
		}
		pos, dlen = e+2, d
	}
}
