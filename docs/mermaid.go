package docs

// CheckMermaid is a syntax check of the Mermaid subset the guides use,
// so that a broken diagram fails `go test` instead of showing as an error
// box on GitHub. It is not Mermaid's parser; CONTRIBUTING.md says how to
// run the real one. What it checks:
//
//   - the header: flowchart or graph with TD, TB, LR, RL or BT, or
//     sequenceDiagram;
//   - flowcharts: each statement is a chain of nodes joined by links.
//     A node is an id ([A-Za-z0-9_]+), optionally with one shape (id[...],
//     id(...), id([...]), id[(...)], id((...)), id{...}, id{{...}},
//     id>...], id[/.../], id[\...\]) and :::class; several nodes joined by
//     &. A link is one of --> --- -.-> -.- ==> === --o --x <--> and
//     friends, with an optional |label| or an inline "-- label -->" label.
//     Labels are either quoted ("...", no " inside) or free of the
//     characters Mermaid reads as syntax ([](){}|"). subgraph/end
//     balance; classDef, class, style, linkStyle, direction and %%
//     comments; a class used by class or ::: must be defined by classDef;
//   - sequence diagrams: participant and actor declarations (with "as"),
//     messages between declared participants with the arrows ->> -->> ->
//     --> -x --x -) --) (and +/- activation), Note left of/right of/over,
//     activate/deactivate, autonumber, and loop/alt/else/opt/par/and/
//     critical/option/break/rect ... end balance;
//   - no ";" in a sequence diagram's text (Mermaid ends the statement
//     there; write #59;).
//
// Two rules are this project's, stricter than Mermaid: a class must be
// defined, and a sequence diagram's participants must be declared.

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// CheckMermaid checks one diagram's source; the error names the line,
// counted from the diagram's first line.
func CheckMermaid(src string) error {
	lines := strings.Split(strings.TrimRight(src, "\n"), "\n")
	first := -1
	for i, l := range lines {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "%%") {
			first = i
			break
		}
	}
	if first < 0 {
		return fmt.Errorf("empty diagram")
	}
	header := strings.Fields(lines[first])
	body := lines[first+1:]
	var err error
	switch {
	case len(header) == 2 && (header[0] == "flowchart" || header[0] == "graph") && flowDirections[header[1]]:
		err = checkFlowchart(body)
	case len(header) == 1 && header[0] == "sequenceDiagram":
		err = checkSequence(body)
	default:
		return fmt.Errorf("line %d: unknown or unsupported diagram header %q (flowchart TD|LR|..., sequenceDiagram)", first+1, lines[first])
	}
	var le *lineError
	if errors.As(err, &le) {
		return fmt.Errorf("line %d: %s", le.line+first+2, le.msg)
	}
	return err
}

var flowDirections = map[string]bool{"TD": true, "TB": true, "LR": true, "RL": true, "BT": true}

type lineError struct {
	line int // index into the body
	msg  string
}

func (e *lineError) Error() string { return e.msg }

func lineErr(i int, format string, args ...any) error {
	return &lineError{i, fmt.Sprintf(format, args...)}
}

var (
	nodeIDRE    = regexp.MustCompile(`^[A-Za-z0-9_]+`)
	classRE     = regexp.MustCompile(`^:::([A-Za-z0-9_-]+)`)
	classDefRE  = regexp.MustCompile(`^classDef\s+([A-Za-z0-9_-]+(?:\s*,\s*[A-Za-z0-9_-]+)*)\s+\S`)
	classStmtRE = regexp.MustCompile(`^class\s+([A-Za-z0-9_]+(?:\s*,\s*[A-Za-z0-9_]+)*)\s+([A-Za-z0-9_-]+)\s*$`)
	styleRE     = regexp.MustCompile(`^(style\s+[A-Za-z0-9_]+|linkStyle\s+(?:default|[0-9]+(?:\s*,\s*[0-9]+)*))\s+\S`)
	subgraphRE  = regexp.MustCompile(`^subgraph\s+(.+)$`)
)

// Links, longest first so that a prefix never wins.
var linkTokens = []string{
	"<-->", "<-.->", "<==>", "-.->", "==>", "-->", "-.-", "===", "---", "--o", "--x", "o--o", "x--x",
}

// Shapes: opening and closing delimiters, longest openers first.
var shapes = [][2]string{
	{"([", "])"}, {"[(", ")]"}, {"((", "))"}, {"{{", "}}"}, {"[/", "/]"}, {"[\\", "\\]"},
	{"[", "]"}, {"(", ")"}, {"{", "}"}, {">", "]"},
}

func checkFlowchart(body []string) error {
	depth := 0
	defined := map[string]bool{}
	used := map[string]int{} // class name -> first line using it
	for i, raw := range body {
		l := strings.TrimSpace(raw)
		switch {
		case l == "" || strings.HasPrefix(l, "%%"):
			continue
		case l == "end":
			if depth == 0 {
				return lineErr(i, "end without subgraph")
			}
			depth--
			continue
		case strings.HasPrefix(l, "subgraph ") || l == "subgraph":
			m := subgraphRE.FindStringSubmatch(l)
			if m == nil {
				return lineErr(i, "subgraph without an id")
			}
			if _, err := parseNode(m[1], i); err != nil {
				return err
			}
			depth++
			continue
		case strings.HasPrefix(l, "direction "):
			if !flowDirections[strings.TrimSpace(strings.TrimPrefix(l, "direction "))] {
				return lineErr(i, "unknown direction in %q", l)
			}
			continue
		case strings.HasPrefix(l, "classDef "):
			m := classDefRE.FindStringSubmatch(l)
			if m == nil {
				return lineErr(i, "classDef needs a name and styles: %q", l)
			}
			for _, name := range strings.Split(m[1], ",") {
				defined[strings.TrimSpace(name)] = true
			}
			continue
		case strings.HasPrefix(l, "class "):
			m := classStmtRE.FindStringSubmatch(l)
			if m == nil {
				return lineErr(i, "class needs node ids and a class name: %q", l)
			}
			if _, ok := used[m[2]]; !ok {
				used[m[2]] = i
			}
			continue
		case strings.HasPrefix(l, "style ") || strings.HasPrefix(l, "linkStyle "):
			if !styleRE.MatchString(l) {
				return lineErr(i, "malformed %q", l)
			}
			continue
		}
		classes, err := parseChain(l, i)
		if err != nil {
			return err
		}
		for _, c := range classes {
			if _, ok := used[c]; !ok {
				used[c] = i
			}
		}
	}
	if depth != 0 {
		return lineErr(len(body)-1, "%d subgraph(s) without end", depth)
	}
	for c, i := range used {
		if !defined[c] {
			return lineErr(i, "class %q is used but not defined by classDef", c)
		}
	}
	return nil
}

// parseChain parses "A[..] & B --> |x| C -.-> D" and returns the classes
// its nodes use with :::.
func parseChain(s string, line int) ([]string, error) {
	var classes []string
	rest := s
	for {
		// One or more nodes joined by &.
		for {
			rest = strings.TrimLeft(rest, " ")
			n, err := parseNode(rest, line)
			if err != nil {
				return nil, err
			}
			if n.class != "" {
				classes = append(classes, n.class)
			}
			rest = strings.TrimLeft(rest[n.length:], " ")
			if !strings.HasPrefix(rest, "&") {
				break
			}
			rest = rest[1:]
		}
		if rest == "" {
			return classes, nil
		}
		// A link.
		after, err := parseLink(rest, line)
		if err != nil {
			return nil, err
		}
		rest = after
		if strings.TrimSpace(rest) == "" {
			return nil, lineErr(line, "a link without a node after it")
		}
	}
}

type node struct {
	length int
	class  string
}

// parseNode reads a node id with its optional shape and class at the start
// of s.
func parseNode(s string, line int) (node, error) {
	id := nodeIDRE.FindString(s)
	if id == "" {
		return node{}, lineErr(line, "expected a node id at %q", clip(s))
	}
	n := len(id)
	for _, sh := range shapes {
		if !strings.HasPrefix(s[n:], sh[0]) {
			continue
		}
		inner := s[n+len(sh[0]):]
		end, err := labelEnd(inner, sh[1], line)
		if err != nil {
			return node{}, err
		}
		n += len(sh[0]) + end + len(sh[1])
		break
	}
	var class string
	if m := classRE.FindStringSubmatch(s[n:]); m != nil {
		class = m[1]
		n += len(m[0])
	}
	return node{length: n, class: class}, nil
}

// labelEnd finds where a label ends at the shape's closing delimiter: a
// quoted label is one quoted string; an unquoted one may not hold
// characters Mermaid parses.
func labelEnd(s, closing string, line int) (int, error) {
	if strings.HasPrefix(s, `"`) {
		q := strings.Index(s[1:], `"`)
		if q < 0 {
			return 0, lineErr(line, "unterminated quoted label at %q", clip(s))
		}
		if !strings.HasPrefix(s[q+2:], closing) {
			return 0, lineErr(line, "expected %q after the quoted label at %q", closing, clip(s))
		}
		return q + 2, nil
	}
	end := strings.Index(s, closing)
	if end < 0 {
		return 0, lineErr(line, "label not closed with %q at %q", closing, clip(s))
	}
	if strings.ContainsAny(s[:end], `[](){}|"`) {
		return 0, lineErr(line, "unquoted label %q holds a character Mermaid parses; quote the label", s[:end])
	}
	return end, nil
}

var inlineLabelRE = regexp.MustCompile(`^(--|-\.|==)\s+("[^"]*"|[^-=.|"]+?)\s+(-->|---|\.->|\.-|==>|===)`)

// parseLink reads a link with its optional label at the start of s and
// returns what follows it.
func parseLink(s string, line int) (string, error) {
	if m := inlineLabelRE.FindStringSubmatch(s); m != nil {
		return s[len(m[0]):], nil
	}
	for _, tok := range linkTokens {
		if !strings.HasPrefix(s, tok) {
			continue
		}
		rest := s[len(tok):]
		// Longer links (---->, -..->) are the same link, longer.
		rest = strings.TrimLeft(rest, "-.=>")
		if strings.HasPrefix(rest, "|") {
			end := strings.Index(rest[1:], "|")
			if end < 0 {
				return "", lineErr(line, "link label not closed with | at %q", clip(rest))
			}
			label := rest[1 : end+1]
			if strings.HasPrefix(label, `"`) != strings.HasSuffix(label, `"`) || (len(label) == 1 && label == `"`) {
				return "", lineErr(line, "half-quoted link label %q", label)
			}
			rest = rest[end+2:]
		}
		return rest, nil
	}
	return "", lineErr(line, "expected a link (-->, ---, -.->, ==>, ...) at %q", clip(s))
}

// checkText refuses what Mermaid reads as syntax inside text: a ";" other
// than in an entity (#59;) ends the statement.
func checkText(s string, line int) error {
	clean := entityRE.ReplaceAllString(s, "")
	if strings.Contains(clean, ";") {
		return lineErr(line, `";" ends a Mermaid statement; write #59; in text`)
	}
	return nil
}

var entityRE = regexp.MustCompile(`#[A-Za-z0-9]+;`)

var (
	participantRE = regexp.MustCompile(`^(participant|actor)\s+([A-Za-z0-9_]+)(\s+as\s+\S.*)?$`)
	messageRE     = regexp.MustCompile(`^([A-Za-z0-9_]+)\s*(-->>|->>|-->|->|--x|-x|--\)|-\))\s*[+-]?\s*([A-Za-z0-9_]+)\s*:(.*)$`)
	noteRE        = regexp.MustCompile(`^[Nn]ote\s+(left of|right of|over)\s+([A-Za-z0-9_]+)(\s*,\s*([A-Za-z0-9_]+))?\s*:(.*)$`)
	activateRE    = regexp.MustCompile(`^(activate|deactivate)\s+([A-Za-z0-9_]+)$`)
	blockRE       = regexp.MustCompile(`^(loop|alt|opt|par|critical|break|rect)(\s.*)?$`)
	blockElseRE   = regexp.MustCompile(`^(else|and|option)(\s.*)?$`)
)

func checkSequence(body []string) error {
	declared := map[string]bool{}
	var open []string
	for i, raw := range body {
		l := strings.TrimSpace(raw)
		if l == "" || strings.HasPrefix(l, "%%") || l == "autonumber" {
			continue
		}
		if err := checkText(l, i); err != nil {
			return err
		}
		need := func(names ...string) error {
			for _, n := range names {
				if n != "" && !declared[n] {
					return lineErr(i, "participant %q is not declared", n)
				}
			}
			return nil
		}
		switch {
		case participantRE.MatchString(l):
			m := participantRE.FindStringSubmatch(l)
			declared[m[2]] = true
		case messageRE.MatchString(l):
			m := messageRE.FindStringSubmatch(l)
			if err := need(m[1], m[3]); err != nil {
				return err
			}
		case noteRE.MatchString(l):
			m := noteRE.FindStringSubmatch(l)
			if err := need(m[2], m[4]); err != nil {
				return err
			}
		case activateRE.MatchString(l):
			if err := need(activateRE.FindStringSubmatch(l)[2]); err != nil {
				return err
			}
		case blockRE.MatchString(l):
			open = append(open, blockRE.FindStringSubmatch(l)[1])
		case blockElseRE.MatchString(l):
			if len(open) == 0 {
				return lineErr(i, "%q outside a block", l)
			}
		case l == "end":
			if len(open) == 0 {
				return lineErr(i, "end without a block")
			}
			open = open[:len(open)-1]
		default:
			return lineErr(i, "not a sequence diagram statement: %q", clip(l))
		}
	}
	if len(open) != 0 {
		return lineErr(len(body)-1, "%s without end", open[len(open)-1])
	}
	return nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
