package codec

import "unicode/utf8"

// Glob matching as the module function match() exposes it (docs/api.md §19.6)
// and as Rpc uses it for method patterns (§19.7).

// MatchMaxCaps is the number of captures Match reports at most.
const MatchMaxCaps = 20

// Match reports whether the whole of s matches pattern p: '?' matches one
// character (one UTF-8 sequence), '*' any run of characters without '/',
// '#' any run of characters including '/'; every other byte matches itself.
// On success caps holds the [start, end) byte offsets in s of what each
// wildcard matched, in pattern order (the first MatchMaxCaps of them); when
// several splits match, earlier wildcards take the shortest run that lets
// the rest match. On failure caps is nil.
//
// Unlike Mongoose's mg_match, which keeps a single backtracking point and so
// misses some matches ("#a*b" against "xa/ab"), this is a full glob match;
// failed (wildcard, position) pairs are memoized, so the work is bounded by
// wildcards × len(s)² even for adversarial patterns.
func Match(s, p string) (ok bool, caps [][2]int) {
	nw := 0
	for i := 0; i < len(p); i++ {
		if p[i] == '?' || p[i] == '*' || p[i] == '#' {
			nw++
		}
	}
	m := globMatcher{s: s, p: p, caps: make([][2]int, nw)}
	if !m.run(0, 0, 0) {
		return false, nil
	}
	if len(m.caps) > MatchMaxCaps {
		m.caps = m.caps[:MatchMaxCaps]
	}
	return true, m.caps
}

type globMatcher struct {
	s, p   string
	caps   [][2]int
	failed []uint64 // bit k*(len(s)+1)+j: wildcard number k cannot match from j
}

// run matches p[i:] against s[j:]; k is the number of wildcards before p[i].
func (m *globMatcher) run(i, j, k int) bool {
	s, p := m.s, m.p
	for i < len(p) {
		switch c := p[i]; c {
		case '?':
			if j >= len(s) {
				return false
			}
			_, n := utf8.DecodeRuneInString(s[j:])
			m.caps[k] = [2]int{j, j + n}
			i, j, k = i+1, j+n, k+1
		case '*', '#':
			if m.hasFailed(k, j) {
				return false
			}
			for e := j; ; {
				if m.run(i+1, e, k+1) {
					m.caps[k] = [2]int{j, e}
					return true
				}
				if e >= len(s) || (c == '*' && s[e] == '/') {
					break
				}
				_, n := utf8.DecodeRuneInString(s[e:])
				e += n
			}
			m.setFailed(k, j)
			return false
		default:
			if j >= len(s) || s[j] != c {
				return false
			}
			i, j = i+1, j+1
		}
	}
	return j == len(s)
}

func (m *globMatcher) bit(k, j int) int {
	return k*(len(m.s)+1) + j
}

func (m *globMatcher) hasFailed(k, j int) bool {
	if m.failed == nil {
		return false
	}
	b := m.bit(k, j)
	return m.failed[b>>6]&(1<<(b&63)) != 0
}

func (m *globMatcher) setFailed(k, j int) {
	if m.failed == nil {
		m.failed = make([]uint64, (len(m.caps)*(len(m.s)+1)+63)/64)
	}
	b := m.bit(k, j)
	m.failed[b>>6] |= 1 << (b & 63)
}
