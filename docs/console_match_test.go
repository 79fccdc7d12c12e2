package docs

// Comparing what a command printed with what a guide shows: line by line,
// with placeholders, with the volatile values the runner recognises by
// their shape, and with bindings (a temp dir, port, UUID or JWT the guide
// showed earlier stands for the real value printed then).

import (
	"fmt"
	"regexp"
	"strings"
)

// tokenRE finds, in a line the guide shows, what is not compared
// literally. Its groups, in order, are the kinds below.
var tokenRE = regexp.MustCompile(strings.Join([]string{
	`(<…>|<any>)`, // any text within the line
	`(<n>)`,       // a number
	`(/tmp/(?:tmp\.[A-Za-z0-9]{10}|[A-Za-z][A-Za-z0-9_.]*-[A-Za-z0-9]{6})\b)`, // what mktemp prints
	`((?:127\.0\.0\.1|localhost):[0-9]{2,5}\b)`,
	`([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})`,
	`(eyJ[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+)`,
	`\b([a-z0-9][a-z0-9.-]*-[bcdfghjklmnpqrstvwxz2456789]{5})\b`, // a generateName name
	`\b([0-9a-f]{32,})\b`, // a random token in hex
	`([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2}))`,
	`([IWEF][0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6} +[0-9]+)`, // a klog header
	`([0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2})`,       // Go's log prefix
	`\b(1[6-9][0-9]{8})\b`, // a Unix time (a JWT's exp, iat, nbf)
	`([A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT)`, // an HTTP date
	`([0-9]+[smhd](?:[0-9]+[smh])?)`, // an age, when it is a whole word
	`(  +)`,                          // table alignment, when not at the line's start
}, "|"))

const (
	tokAny = iota + 1
	tokNum
	tokTmp
	tokPort
	tokUUID
	tokJWT
	tokGenName
	tokHex
	tokTime
	tokKlog
	tokLog
	tokUnix
	tokHTTPDate
	tokAge
	tokSpaces
)

// patterns is what a token of each kind matches in real output; a temp
// dir's pattern depends on the session, see matcher.
var patterns = map[int]string{
	tokAny:      `.*`,
	tokNum:      `[0-9]+`,
	tokPort:     `(?:127\.0\.0\.1|localhost):[0-9]+`,
	tokUUID:     `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`,
	tokJWT:      `eyJ[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+`,
	tokHex:      `[0-9a-f]{32,}`,
	tokTime:     `[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})`,
	tokKlog:     `[IWEF][0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6} +[0-9]+`,
	tokLog:      `[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}`,
	tokUnix:     `[0-9]{10}`,
	tokHTTPDate: `[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT`,
	tokAge:      `[0-9]+[smhd](?:[0-9]+[smh])?`,
	tokSpaces:   ` +`,
}

// bindable kinds stand for one real value: the first match binds the
// guide's text to it, and later commands and output use the real value.
var bindable = map[int]bool{tokTmp: true, tokPort: true, tokUUID: true, tokJWT: true, tokGenName: true, tokHex: true}

// A matcher compares output for one session.
type matcher struct {
	tmpdir string            // the session's TMPDIR: mktemp's directories are in it
	binds  map[string]string // the guide's text -> the real value
}

// capture is a bindable token left open in a line's regexp.
type capture struct {
	kind int
	doc  string
}

// lineRE turns a line the guide shows into an anchored regexp, and lists
// the bindable tokens it captures. rebindPorts leaves ports open even when
// bound: a server's start-up lines say which port the doc's port is now.
func (m *matcher) lineRE(text string, rebindPorts bool) (*regexp.Regexp, []capture) {
	var re strings.Builder
	var caps []capture
	re.WriteString("^")
	last := 0
	for _, loc := range tokenRE.FindAllStringSubmatchIndex(text, -1) {
		kind := 0
		for k := 1; k <= tokSpaces; k++ {
			if loc[2*k] >= 0 {
				kind = k
				break
			}
		}
		start, end := loc[0], loc[1]
		tok := text[start:end]
		switch kind {
		case tokAge:
			if !wordAt(text, start, end) {
				continue // part of a longer word: literal
			}
		case tokSpaces:
			if start == 0 {
				continue // indentation is compared exactly
			}
		}
		re.WriteString(regexp.QuoteMeta(text[last:start]))
		last = end
		if bindable[kind] {
			if real, ok := m.binds[tok]; ok && !(kind == tokPort && rebindPorts) {
				re.WriteString(regexp.QuoteMeta(real))
				continue
			}
			pattern := patterns[kind]
			switch kind {
			case tokTmp:
				pattern = regexp.QuoteMeta(m.tmpdir) + `/[^\s/'"]+`
			case tokGenName: // the same prefix, another suffix
				pattern = regexp.QuoteMeta(tok[:len(tok)-5]) + `[bcdfghjklmnpqrstvwxz2456789]{5}`
			}
			re.WriteString("(" + pattern + ")")
			caps = append(caps, capture{kind, tok})
			continue
		}
		re.WriteString("(?:" + patterns[kind] + ")")
	}
	re.WriteString(regexp.QuoteMeta(text[last:]))
	re.WriteString("$")
	return regexp.MustCompile(re.String()), caps
}

func wordAt(s string, start, end int) bool {
	space := func(i int) bool { return i < 0 || i >= len(s) || s[i] == ' ' || s[i] == '\t' }
	return space(start-1) && space(end)
}

// bind records what the captures of a matched line stand for.
func (m *matcher) bind(caps []capture, groups []string) {
	for i, c := range caps {
		real := groups[i+1]
		m.binds[c.doc] = real
		if c.kind == tokPort {
			// 127.0.0.1:6443 and localhost:6443 are one port.
			docPort, realPort := c.doc[strings.LastIndex(c.doc, ":"):], real[strings.LastIndex(real, ":"):]
			m.binds["127.0.0.1"+docPort] = "127.0.0.1" + realPort
			m.binds["localhost"+docPort] = "localhost" + realPort
		}
	}
}

// matchLine matches one line, binding what it captures.
func (m *matcher) matchLine(want, got string, rebindPorts bool) bool {
	re, caps := m.lineRE(strings.TrimRight(want, " \t\r"), rebindPorts)
	groups := re.FindStringSubmatch(strings.TrimRight(got, " \t\r"))
	if groups == nil {
		return false
	}
	m.bind(caps, groups)
	return true
}

// mismatch says where output first differed from the guide.
type mismatch struct {
	want int // index into the wanted lines; len(want) when output ran on
	got  int // index into the output
}

// match compares all of got with want. On success the bindings are kept;
// on failure they are left as they were, and the mismatch that got
// furthest is returned.
func (m *matcher) match(want []wantLine, got []string, rebindPorts bool) (bool, mismatch) {
	saved := cloneMap(m.binds)
	best := mismatch{-1, -1}
	var walk func(i, j int) bool
	walk = func(i, j int) bool {
		if i > best.want || (i == best.want && j > best.got) {
			best = mismatch{i, j}
		}
		if i == len(want) {
			return j == len(got)
		}
		if strings.TrimSpace(want[i].text) == "..." {
			for k := j; k <= len(got); k++ {
				before := cloneMap(m.binds)
				if walk(i+1, k) {
					return true
				}
				m.binds = before
			}
			return false
		}
		return j < len(got) && m.matchLine(want[i].text, got[j], rebindPorts) && walk(i+1, j+1)
	}
	if walk(0, 0) {
		return true, mismatch{}
	}
	m.binds = saved
	return false, best
}

// prefixMatch reports whether got, which may still grow, already holds
// everything want shows (a server's first lines).
func (m *matcher) prefixMatch(want []wantLine, got []string) bool {
	n := len(want)
	if n > 0 && strings.TrimSpace(want[n-1].text) == "..." {
		return m.tryMatch(want, got)
	}
	for k := 0; k <= len(got); k++ {
		if m.tryMatch(want, got[:k]) {
			return true
		}
	}
	return false
}

func (m *matcher) tryMatch(want []wantLine, got []string) bool {
	ok, _ := m.match(want, got, true)
	return ok
}

// substitute replaces, in a command, the guide's values with the real ones.
func (m *matcher) substitute(s string) string {
	if len(m.binds) == 0 {
		return s
	}
	var pairs []string
	for k, v := range m.binds {
		pairs = append(pairs, k, v)
	}
	// strings.NewReplacer prefers the earlier of two matches at one
	// place; longer keys first make /tmp/x-abcdef/03 win over a prefix.
	sortPairsByKeyLength(pairs)
	return strings.NewReplacer(pairs...).Replace(s)
}

func sortPairsByKeyLength(pairs []string) {
	for i := 2; i < len(pairs); i += 2 {
		for j := i; j >= 2 && len(pairs[j]) > len(pairs[j-2]); j -= 2 {
			pairs[j], pairs[j-2] = pairs[j-2], pairs[j]
			pairs[j+1], pairs[j-1] = pairs[j-1], pairs[j+1]
		}
	}
}

func cloneMap(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// describe shows a failed comparison: the guide's lines beside the real
// ones, marking the first difference.
func describe(want []wantLine, got []string, mm mismatch) string {
	var b strings.Builder
	if mm.want < len(want) {
		fmt.Fprintf(&b, "first difference at line %d of the guide:\n  guide: %q\n", want[mm.want].line, want[mm.want].text)
		if mm.got < len(got) {
			fmt.Fprintf(&b, "  real:  %q\n", got[mm.got])
		} else {
			b.WriteString("  real:  (no more output)\n")
		}
	} else {
		fmt.Fprintf(&b, "the real output goes on after the guide's last line:\n  real:  %q\n", got[mm.got])
	}
	b.WriteString("the real output, in full:\n")
	for _, l := range got {
		b.WriteString("  | " + l + "\n")
	}
	return b.String()
}
