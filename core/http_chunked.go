package core

import "bytes"

// Chunked body scanning states.
const (
	chunkMore   = iota // need more bytes
	chunkDone          // complete
	chunkBad           // malformed
	chunkTooBig        // de-chunked size over the limit
)

// maxChunkLine bounds a chunk-size or trailer line.
const maxChunkLine = 4096

// chunkLine parses a chunk-size line at the start of b: hex digits,
// optional ";extension", CR LF. It returns the size and the line length.
func chunkLine(b []byte) (size int64, n int, st int) {
	lf := bytes.IndexByte(b, '\n')
	if lf < 0 {
		if len(b) > maxChunkLine {
			return 0, 0, chunkBad
		}
		return 0, 0, chunkMore
	}
	if lf == 0 || b[lf-1] != '\r' {
		return 0, 0, chunkBad
	}
	line := b[:lf-1]
	i := 0
	for ; i < len(line); i++ {
		d := unhex(line[i])
		if d < 0 {
			break
		}
		if i >= 15 {
			return 0, 0, chunkBad
		}
		size = size<<4 | int64(d)
	}
	if i == 0 || i < len(line) && line[i] != ';' {
		return 0, 0, chunkBad
	}
	return size, lf + 1, chunkDone
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

// scanChunks walks the chunked body at the start of b. It returns the
// de-chunked length, the raw length (when done) and the state. A size over
// maxBody (0 = no limit) is reported as soon as its chunk line is seen.
func scanChunks(b []byte, maxBody int) (dlen int64, raw int, st int) {
	pos := 0
	for {
		size, n, s := chunkLine(b[pos:])
		if s != chunkDone {
			return dlen, 0, s
		}
		pos += n
		if size == 0 {
			// Optional trailer lines, then the final CR LF.
			for {
				lf := bytes.IndexByte(b[pos:], '\n')
				if lf < 0 {
					if len(b)-pos > maxChunkLine {
						return dlen, 0, chunkBad
					}
					return dlen, 0, chunkMore
				}
				if lf == 0 || b[pos+lf-1] != '\r' {
					return dlen, 0, chunkBad
				}
				empty := lf == 1
				pos += lf + 1
				if empty {
					return dlen, pos, chunkDone
				}
			}
		}
		dlen += size
		if maxBody > 0 && dlen > int64(maxBody) || dlen > 1<<50 {
			return dlen, 0, chunkTooBig
		}
		if int64(len(b)-pos) < size+2 {
			return dlen, 0, chunkMore
		}
		pos += int(size)
		if b[pos] != '\r' || b[pos+1] != '\n' {
			return dlen, 0, chunkBad
		}
		pos += 2
	}
}

// dechunk moves the data of a complete, already scanned chunked body to the
// front of b and returns its length.
func dechunk(b []byte) int {
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
