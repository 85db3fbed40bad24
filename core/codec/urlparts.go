package codec

import "strings"

// The url_* module functions (docs/api.md §19.6): Mongoose's mg_url_port,
// mg_url_host, mg_url_user, mg_url_pass, mg_url_uri and mg_url_is_ssl,
// with one deliberate difference: schemes are compared case-insensitively,
// as listen()/connect() do in this project (§12, §19.1).

// urlSpans holds the offsets Mongoose's urlparse computes (0 = absent).
type urlSpans struct {
	user, pass, host, port, uri, end int
}

// parseURLSpans is Mongoose's urlparse: one left-to-right pass that notes
// where the host ("//" seen), the port (first ':' outside brackets), the
// credentials ('@') and the URI (first '/' after the host) start. The URL
// ends at its first NUL byte, as a C string would.
func parseURLSpans(url string) urlSpans {
	var u urlSpans
	i := 0
	for ; i < len(url) && url[i] != 0; i++ {
		switch c := url[i]; {
		case c == '/' && i > 0 && u.host == 0 && url[i-1] == '/':
			u.host = i + 1
			u.port = 0
		case c == ']':
			u.port = 0 // IPv6 literal: the colons inside were not the port
		case c == ':' && u.port == 0 && u.uri == 0:
			u.port = i + 1
		case c == '@' && u.user == 0 && u.pass == 0 && u.uri == 0:
			u.user = u.host
			u.pass = u.port
			u.host = i + 1
			u.port = 0
		case c == '/' && u.host != 0 && u.uri == 0:
			u.uri = i
		}
	}
	u.end = i
	return u
}

func hasSchemePrefix(url, prefix string) bool {
	return len(url) >= len(prefix) && strings.EqualFold(url[:len(prefix)], prefix)
}

// URLIsSSL reports whether url starts with one of the TLS schemes of §12
// (https:, wss:, mqtts:, ssl:, tls:, tcps:).
func URLIsSSL(url string) bool {
	for _, p := range [...]string{"wss:", "https:", "mqtts:", "ssl:", "tls:", "tcps:"} {
		if hasSchemePrefix(url, p) {
			return true
		}
	}
	return false
}

// URLPort is the explicit port of url (C atoi of what follows the port
// colon, as an unsigned 16-bit number), else the scheme default (http/ws
// 80, https/wss 443, mqtt 1883, mqtts 8883), else 0.
func URLPort(url string) int {
	u := parseURLSpans(url)
	port := 0
	switch {
	case hasSchemePrefix(url, "http:") || hasSchemePrefix(url, "ws:"):
		port = 80
	case hasSchemePrefix(url, "wss:") || hasSchemePrefix(url, "https:"):
		port = 443
	case hasSchemePrefix(url, "mqtt:"):
		port = 1883
	case hasSchemePrefix(url, "mqtts:"):
		port = 8883
	}
	if u.port != 0 {
		port = cAtoi(url[u.port:u.end]) & 0xffff
	}
	return port
}

// cAtoi is C's atoi: leading white space, an optional sign, decimal digits.
// Out-of-range values saturate (where C's behaviour is undefined).
func cAtoi(s string) int {
	i := 0
	for i < len(s) && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	n := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n < 1<<31 {
			n = n*10 + int(s[i]-'0')
		}
	}
	if n >= 1<<31 {
		n = 1<<31 - 1
	}
	if neg {
		n = -n
	}
	return n
}

// URLHost is the host part of url as [start, end) offsets (an IPv6 literal
// keeps its brackets); empty when absent.
func URLHost(url string) (start, end int) {
	u := parseURLSpans(url)
	n := u.end - u.host
	if u.port != 0 {
		n = u.port - u.host - 1
	} else if u.uri != 0 {
		n = u.uri - u.host
	}
	if n < 0 {
		n = 0
	}
	return u.host, u.host + n
}

// URLUser is the user name of scheme://user[:pass]@host as offsets; empty
// when absent.
func URLUser(url string) (start, end int) {
	u := parseURLSpans(url)
	if u.user != 0 && (u.pass != 0 || u.host != 0) {
		n := u.host - u.user - 1
		if u.pass != 0 {
			n = u.pass - u.user - 1
		}
		if n > 0 {
			return u.user, u.user + n
		}
	}
	return 0, 0
}

// URLPass is the password of scheme://user:pass@host as offsets; empty when
// absent.
func URLPass(url string) (start, end int) {
	u := parseURLSpans(url)
	if u.pass != 0 && u.host != 0 {
		if n := u.host - u.pass - 1; n > 0 {
			return u.pass, u.pass + n
		}
	}
	return 0, 0
}

// URLURI is the offset where the URI (path and query) of url starts, or -1
// when it has none (url_uri() then gives "/"). The URI runs to the end of
// the URL (its first NUL byte).
func URLURI(url string) (start, end int) {
	u := parseURLSpans(url)
	if u.uri == 0 {
		return -1, -1
	}
	return u.uri, u.end
}
