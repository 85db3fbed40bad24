package codec

import (
	"strings"
	"testing"
)

func TestURLParts(t *testing.T) {
	tests := []struct {
		url                   string
		port                  int
		host, user, pass, uri string
		ssl                   bool
	}{
		{"http://example.com", 80, "example.com", "", "", "/", false},
		{"http://example.com:8080/path?q=1", 8080, "example.com", "", "", "/path?q=1", false},
		{"https://example.com/", 443, "example.com", "", "", "/", true},
		{"ws://h", 80, "h", "", "", "/", false},
		{"wss://h:9/x", 9, "h", "", "", "/x", true},
		{"mqtt://broker", 1883, "broker", "", "", "/", false},
		{"mqtts://broker", 8883, "broker", "", "", "/", true},
		{"tcp://1.2.3.4:5", 5, "1.2.3.4", "", "", "/", false},
		{"tcp://1.2.3.4", 0, "1.2.3.4", "", "", "/", false},
		{"udp://1.2.3.4:53", 53, "1.2.3.4", "", "", "/", false},
		{"ssl://a", 0, "a", "", "", "/", true},
		{"tls://a", 0, "a", "", "", "/", true},
		{"tcps://a", 0, "a", "", "", "/", true},
		{"foo://a", 0, "a", "", "", "/", false},
		{"http://user:pass@host:1234/p", 1234, "host", "user", "pass", "/p", false},
		{"http://user@host/p", 80, "host", "user", "", "/p", false},
		{"http://:pw@host", 80, "host", "", "pw", "/", false},
		{"http://[::1]:8080/x", 8080, "[::1]", "", "", "/x", false},
		{"http://[::1]/x", 80, "[::1]", "", "", "/x", false},
		{"http://[::1]", 80, "[::1]", "", "", "/", false},
		{"127.0.0.1:8000", 8000, "127.0.0.1", "", "", "/", false},
		{"localhost", 0, "localhost", "", "", "/", false},
		{"", 0, "", "", "", "/", false},
		{"http://", 80, "", "", "", "/", false},
		{"http://h:abc", 0, "h", "", "", "/", false},
		{"http://h:70000", 70000 & 0xffff, "h", "", "", "/", false},
		{"http://h:-1", 65535, "h", "", "", "/", false},
		{"HTTPS://Example.COM", 443, "Example.COM", "", "", "/", true},
		{"http://h/a//b", 80, "h", "", "", "/a//b", false},
		{"http://h\x00:99/x", 80, "h", "", "", "/", false},
		{"http://h/a@b:c", 80, "h", "", "", "/a@b:c", false},
	}
	span := func(url string, f func(string) (int, int)) string {
		s, e := f(url)
		return url[s:e]
	}
	for _, tc := range tests {
		uri := "/"
		if s, e := URLURI(tc.url); s >= 0 {
			uri = tc.url[s:e]
		}
		got := []any{URLPort(tc.url), span(tc.url, URLHost), span(tc.url, URLUser), span(tc.url, URLPass), uri, URLIsSSL(tc.url)}
		want := []any{tc.port, tc.host, tc.user, tc.pass, tc.uri, tc.ssl}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%q: got %v, want %v", tc.url, got, want)
				break
			}
		}
	}
}

func TestCAtoi(t *testing.T) {
	for s, want := range map[string]int{"": 0, "12x": 12, " \t+7": 7, "-3": -3, "x1": 0, "99999999999999": 1<<31 - 1} {
		if got := cAtoi(s); got != want {
			t.Errorf("cAtoi(%q) = %d, want %d", s, got, want)
		}
	}
}

func FuzzURLParts(f *testing.F) {
	for _, s := range []string{"http://user:pass@host:1234/p?q", "http://[::1]:8080/x", "127.0.0.1:80", "@@::", "a//b@c:d/e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, url string) {
		end := len(url)
		if i := strings.IndexByte(url, 0); i >= 0 {
			end = i
		}
		check := func(what string, s, e int) {
			if s < 0 || e < s || e > end {
				t.Fatalf("%s(%q) = [%d,%d)", what, url, s, e)
			}
		}
		s, e := URLHost(url)
		check("URLHost", s, e)
		s, e = URLUser(url)
		check("URLUser", s, e)
		s, e = URLPass(url)
		check("URLPass", s, e)
		if s, e = URLURI(url); s >= 0 {
			check("URLURI", s, e)
			if url[s] != '/' {
				t.Fatalf("URLURI(%q) starts with %q", url, url[s])
			}
		}
		if p := URLPort(url); p < 0 || p > 0xffff {
			t.Fatalf("URLPort(%q) = %d", url, p)
		}
		URLIsSSL(url)
	})
}
