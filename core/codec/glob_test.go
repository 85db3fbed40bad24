package codec

import (
	"regexp"
	"strings"
	"testing"
)

func matchStrings(s, p string) (bool, []string) {
	ok, caps := Match(s, p)
	if !ok {
		return false, nil
	}
	out := []string{}
	for _, c := range caps {
		out = append(out, s[c[0]:c[1]])
	}
	return true, out
}

func TestMatchTable(t *testing.T) {
	tests := []struct {
		s, p string
		ok   bool
		caps []string
	}{
		{"", "", true, []string{}},
		{"a", "", false, nil},
		{"", "a", false, nil},
		{"abc", "abc", true, []string{}},
		{"abc", "ABC", false, nil},
		{"abc", "a?c", true, []string{"b"}},
		{"ac", "a?c", false, nil},
		{"a/c", "a?c", true, []string{"/"}},
		{"/api/users", "/api/*", true, []string{"users"}},
		{"/api/users/123", "/api/*", false, nil},
		{"/api/users/123", "/api/#", true, []string{"users/123"}},
		{"/api/v1/users", "/api/*/users", true, []string{"v1"}},
		{"/api/", "/api/*", true, []string{""}},
		{"/api", "/api/*", false, nil},
		{"/api", "/api#", true, []string{""}},
		{"abab", "a*b*", true, []string{"", "ab"}},
		{"abab", "*b", true, []string{"aba"}},
		{"xa/ab", "#a*b", true, []string{"xa/", ""}},
		{"a/b/c", "*/*/*", true, []string{"a", "b", "c"}},
		{"a/b/c", "*/*", false, nil},
		{"a/b/c", "#/*", true, []string{"a/b", "c"}},
		{"foo.bar", "*.*", true, []string{"foo", "bar"}},
		{"héllo", "h?llo", true, []string{"é"}},
		{"日本", "??", true, []string{"日", "本"}},
		{"日本", "?", false, nil},
		{"x", "***", true, []string{"", "", "x"}},
		{"Ping", "Ping", true, []string{}},
		{"ping", "Ping", false, nil},
		{"a*b", "a*b", true, []string{"*"}},
	}
	for _, tc := range tests {
		ok, caps := matchStrings(tc.s, tc.p)
		if ok != tc.ok || strings.Join(caps, "|") != strings.Join(tc.caps, "|") || len(caps) != len(tc.caps) {
			t.Errorf("Match(%q, %q) = %v %q, want %v %q", tc.s, tc.p, ok, caps, tc.ok, tc.caps)
		}
	}
}

func TestMatchCapLimit(t *testing.T) {
	s := strings.Repeat("x", 25)
	ok, caps := Match(s, strings.Repeat("?", 25))
	if !ok || len(caps) != MatchMaxCaps {
		t.Fatalf("ok=%v caps=%d", ok, len(caps))
	}
}

func TestMatchAdversarial(t *testing.T) {
	s := strings.Repeat("a", 3000)
	if ok, _ := Match(s, "#a#a#a#a#a#b"); ok {
		t.Fatal("matched")
	}
	if ok, _ := Match(s, "*a*a*a*a*a*"); !ok {
		t.Fatal("no match")
	}
}

// globRegexp is the oracle: the same language as a regular expression with
// lazy groups (leftmost-first semantics prefer the shortest earlier runs).
func globRegexp(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?s)^`)
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '?':
			b.WriteString(`(.)`)
		case '*':
			b.WriteString(`([^/]*?)`)
		case '#':
			b.WriteString(`(.*?)`)
		default:
			b.WriteString(regexp.QuoteMeta(string(p[i : i+1])))
		}
	}
	b.WriteString(`$`)
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil
	}
	return re
}

func FuzzMatch(f *testing.F) {
	for _, seed := range [][2]string{
		{"/api/users", "/api/*"}, {"a/b/c", "#/*"}, {"xa/ab", "#a*b"}, {"héllo", "h?llo"},
		{"abab", "a*b*"}, {"", "#"}, {"\xff/\xfe", "?*#"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, s, p string) {
		if len(s) > 256 || len(p) > 64 {
			return
		}
		ok, caps := Match(s, p)
		if ok {
			prev := 0
			for _, c := range caps {
				if c[0] < prev || c[1] < c[0] || c[1] > len(s) {
					t.Fatalf("bad capture %v in %q", caps, s)
				}
				prev = c[1]
			}
		}
		re := globRegexp(p)
		if re == nil || re.NumSubexp() > MatchMaxCaps {
			return
		}
		// The regexp engine reads invalid UTF-8 bytes as U+FFFD of width 1,
		// as Match does.
		m := re.FindStringSubmatchIndex(s)
		if (m != nil) != ok {
			t.Fatalf("Match(%q, %q) = %v, regexp says %v", s, p, ok, m != nil)
		}
		if !ok {
			return
		}
		for k, c := range caps {
			if m[2+2*k] != c[0] || m[3+2*k] != c[1] {
				t.Fatalf("Match(%q, %q) caps %v, regexp %v", s, p, caps, m[2:])
			}
		}
	})
}
