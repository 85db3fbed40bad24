package codec

import "bytes"

// multipart/form-data parsing as http_parse_multipart() exposes it
// (docs/api.md §16.7, Mongoose's mg_http_next_multipart).

// MultipartPart locates one part of a multipart body. Every span is an
// offset and length into the body given to ParseMultipart; a missing name
// or filename has length 0.
type MultipartPart struct {
	Name, Filename, Body Span
}

const contentDisposition = "Content-Disposition"

// ParseMultipart parses the part that starts at offset in body.
//
// The first line at offset is the boundary line; its exact text (for
// example "--xyz") is the delimiter. Header lines follow up to an empty
// line; a Content-Disposition header (name compared case-insensitively)
// supplies name and filename through the substring rule of header_var
// (docs/api.md §16.1). The part body runs up to CRLF followed by the boundary
// text. next is the offset just after that CRLF, where the next boundary
// line starts; ok is false (and next 0) when no complete part can be
// parsed at offset: an end marker, garbage, truncated data, or an offset
// outside the body.
//
// Mongoose's scanning quirks are kept: a line ends at the first '\r' or at
// the byte before the first '\n', whichever comes first, and a line is only
// recognised when at least two more bytes follow it; likewise the closing
// CRLF + boundary must be followed by at least two more bytes (the "--"
// or CRLF that always follows a boundary in a well-formed body).
func ParseMultipart(body []byte, offset int) (next int, part MultipartPart, ok bool) {
	s := body
	max := len(s)
	if offset < 0 || offset >= max {
		return 0, MultipartPart{}, false
	}
	ofs := offset

	// Boundary line.
	b := mpLineEnd(s, ofs)
	if b <= ofs || b+2 >= max {
		return 0, MultipartPart{}, false
	}
	boundary := s[ofs:b]

	// Headers.
	h1 := b + 2
	h2 := h1
	for {
		h2 = mpLineEnd(s, h2)
		if h2 == h1 {
			break
		}
		if h2+2 >= max {
			return 0, MultipartPart{}, false
		}
		cd := len(contentDisposition)
		if h1+cd+2 < h2 && s[h1+cd] == ':' && bytes.EqualFold(s[h1:h1+cd], []byte(contentDisposition)) {
			vOff := h1 + cd + 2
			v := s[vOff:h2]
			part.Name = mpHeaderVar(v, "name", vOff)
			part.Filename = mpHeaderVar(v, "filename", vOff)
		}
		h2 += 2
		h1 = h2
	}

	// Body, up to CRLF + boundary.
	b1 := h2 + 2
	b2 := b1
	bl := len(boundary)
	for b2+2+bl+2 < max && !(s[b2] == '\r' && s[b2+1] == '\n' && bytes.Equal(s[b2+2:b2+2+bl], boundary)) {
		b2++
	}
	if b2+2+bl+2 >= max {
		return 0, MultipartPart{}, false
	}
	part.Body = Span{Off: b1, Len: b2 - b1}
	return b2 + 2, part, true
}

// mpLineEnd advances from i while i+2 < len(s) and neither s[i] is '\r'
// nor s[i+1] is '\n' (Mongoose's loop condition, kept as is).
func mpLineEnd(s []byte, i int) int {
	for i+2 < len(s) && s[i] != '\r' && s[i+1] != '\n' {
		i++
	}
	return i
}

// mpHeaderVar is mg_http_get_header_var on the header value v (which
// starts at offset base of the body): the value of the first occurrence of
// the substring name + "=", quoted or up to ';', ' ' or ','. A match needs
// at least two bytes after the '='. It returns an empty span when nothing
// is found or the value is empty.
func mpHeaderVar(v []byte, name string, base int) Span {
	vn := len(name)
	for i := 0; vn > 0 && i+vn+2 < len(v); i++ {
		if v[i+vn] != '=' || string(v[i:i+vn]) != name {
			continue
		}
		p := i + vn + 1
		b := p
		q := 0
		if p < len(v) && v[p] == '"' {
			q = 1
		}
		for p < len(v) {
			if q == 1 {
				if p != b && v[p] == '"' {
					break
				}
			} else if v[p] == ';' || v[p] == ' ' || v[p] == ',' {
				break
			}
			p++
		}
		n := p - b - q
		if n <= 0 {
			return Span{}
		}
		return Span{Off: base + b + q, Len: n}
	}
	return Span{}
}
