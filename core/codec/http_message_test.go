package codec

import "testing"

func TestRequestPath(t *testing.T) {
	for in, want := range map[string]string{
		"/p":                     "/p",
		"*":                      "*",
		"http://h:8/p/q":         "/p/q",
		"HTTPS://h":              "/",
		"http://h:8":             "/",
		"svn+ssh://h/x":          "/x",
		"/a://b":                 "/a://b",
		"1http://h/p":            "1http://h/p",
		"http:/x":                "http:/x",
		"http://u@h:1/%2e?x=1/y": "/%2e?x=1/y",
	} {
		if got := string(RequestPath([]byte(in))); got != want {
			t.Errorf("RequestPath(%q) = %q, want %q", in, got, want)
		}
	}
}
