package codec

import (
	"net"
	"strings"
)

// Endpoint is what listen/connect take from a URL (docs/api.md §12).
type Endpoint struct {
	scheme string
	Host   string // brackets stripped
	Port   int
	UDP    bool
	TLS    bool
}

var defaultPorts = map[string]int{
	"http": 80, "ws": 80, "https": 443, "wss": 443, "mqtt": 1883, "mqtts": 8883,
}

var tlsSchemes = map[string]bool{
	"https": true, "wss": true, "mqtts": true, "ssl": true, "tls": true, "tcps": true,
}

// ParseURL splits scheme://[user[:pass]@]host[:port][/path]; the scheme is
// optional and the path ignored.
func ParseURL(s string) Endpoint {
	var ep Endpoint
	ep.UDP = strings.HasPrefix(s, "udp:")
	rest := s
	if i := strings.Index(s, "://"); i >= 0 {
		ep.scheme = strings.ToLower(s[:i])
		rest = s[i+3:]
	}
	ep.TLS = tlsSchemes[ep.scheme]
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	portStr := ""
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			ep.Host = rest[1:]
		} else {
			ep.Host = rest[1:end]
			if strings.HasPrefix(rest[end+1:], ":") {
				portStr = rest[end+2:]
			}
		}
	} else if i := strings.IndexByte(rest, ':'); i >= 0 {
		ep.Host, portStr = rest[:i], rest[i+1:]
	} else {
		ep.Host = rest
	}
	if portStr != "" {
		ep.Port = atoiPrefix(portStr) & 0xffff
	} else {
		ep.Port = defaultPorts[ep.scheme]
	}
	return ep
}

// atoiPrefix converts the leading decimal digits of s (0 if none).
func atoiPrefix(s string) int {
	n := 0
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int(s[i]-'0')
		if n > 1<<30 {
			return 0
		}
	}
	return n
}

// LiteralIP maps the hosts that need no lookup: empty and 0.0.0.0 (any),
// localhost (127.0.0.1, any case) and IP literals. It returns nil for names.
func LiteralIP(host string) net.IP {
	if host == "" {
		return net.IPv4zero.To4()
	}
	if strings.EqualFold(host, "localhost") {
		return net.IPv4(127, 0, 0, 1).To4()
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return nil
	}
	if ip4 := ip.To4(); ip4 != nil && !strings.Contains(host, ":") {
		return ip4
	}
	return ip
}

// PickIP prefers the first IPv4 address, as Mongoose only asks for A records.
func PickIP(ips []net.IPAddr) net.IP {
	for _, a := range ips {
		if ip4 := a.IP.To4(); ip4 != nil {
			return ip4
		}
	}
	if len(ips) > 0 {
		return ips[0].IP
	}
	return nil
}
