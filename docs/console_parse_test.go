package docs

// Reading console blocks out of a guide: the blocks, the directives before
// them, and each block's commands with the output shown under them.
// CONTRIBUTING.md, "Docs that run", is the user's side of this file.

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// A consoleBlock is one ```console block of a guide.
type consoleBlock struct {
	doc        string   // the guide's file name, docs/06-storage.md
	line       int      // the line of the opening fence
	directives []string // the words of the <!-- run: ... --> comments before it
	steps      []step

	// A block to save as a file (a file= directive) instead of running.
	file, content string
}

// A step is one command and the output the guide shows under it.
type step struct {
	line int    // the line of the "$ " line
	cmd  string // without the "$ ", continuation lines joined by newlines
	want []wantLine
}

type wantLine struct {
	line int
	text string
}

var (
	directiveRE = regexp.MustCompile(`^<!--\s*run:\s*(.*?)\s*-->$`)
	heredocRE   = regexp.MustCompile(`<<-?\s*['"]?([A-Za-z_][A-Za-z0-9_]*)['"]?`)
)

// parseConsoleBlocks returns the console blocks of the guide at path, which
// it names doc in messages.
func parseConsoleBlocks(path, doc string) ([]consoleBlock, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(data), "\n")
	var blocks []consoleBlock
	var pending []string // directives seen since the last block
	for i := 0; i < len(lines); i++ {
		trimmed := strings.TrimSpace(lines[i])
		if m := directiveRE.FindStringSubmatch(trimmed); m != nil {
			pending = append(pending, strings.Fields(m[1])...)
			continue
		}
		if !strings.HasPrefix(trimmed, "```") {
			continue
		}
		// A fence: find its end, whatever its language, so that a
		// "$ " inside a ```sh block is never read as a command.
		indent := lines[i][:len(lines[i])-len(strings.TrimLeft(lines[i], " "))]
		lang := strings.TrimSpace(strings.TrimPrefix(trimmed, "```"))
		start := i
		var body []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			body = append(body, strings.TrimPrefix(lines[i], indent))
		}
		if i == len(lines) {
			return nil, fmt.Errorf("%s:%d: the code block is never closed", doc, start+1)
		}
		if lang != "console" {
			if len(pending) == 0 {
				continue
			}
			// <!-- run: file=sar.yaml --> before a block the guide asks
			// the reader to save: the runner saves it too.
			name, ok := strings.CutPrefix(pending[0], "file=")
			if !ok || len(pending) > 1 {
				return nil, fmt.Errorf("%s:%d: only a file= directive may stand before a ```%s block, which is not run", doc, start+1, lang)
			}
			blocks = append(blocks, consoleBlock{doc: doc, line: start + 1, file: name, content: strings.Join(body, "\n") + "\n"})
			pending = nil
			continue
		}
		b := consoleBlock{doc: doc, line: start + 1, directives: pending}
		pending = nil
		if b.steps, err = parseSteps(body, start+2, doc); err != nil {
			return nil, err
		}
		blocks = append(blocks, b)
	}
	return blocks, nil
}

// parseSteps splits a block's lines into commands and their output; first
// is the guide's line number of body[0].
func parseSteps(body []string, first int, doc string) ([]step, error) {
	var steps []step
	for i := 0; i < len(body); i++ {
		l := body[i]
		if l != "$" && !strings.HasPrefix(l, "$ ") {
			if len(steps) == 0 {
				return nil, fmt.Errorf("%s:%d: output before the first \"$ \" command", doc, first+i)
			}
			s := &steps[len(steps)-1]
			s.want = append(s.want, wantLine{line: first + i, text: l})
			continue
		}
		s := step{line: first + i, cmd: strings.TrimPrefix(strings.TrimPrefix(l, "$"), " ")}
		// A trailing backslash continues the command on the next line.
		for strings.HasSuffix(s.cmd, `\`) && i+1 < len(body) {
			i++
			s.cmd += "\n" + body[i]
		}
		// A heredoc runs to its terminator line.
		for _, m := range heredocRE.FindAllStringSubmatch(s.cmd, -1) {
			for i++; i < len(body) && strings.TrimLeft(body[i], "\t") != m[1]; i++ {
				s.cmd += "\n" + body[i]
			}
			if i == len(body) {
				return nil, fmt.Errorf("%s:%d: the heredoc %s is never ended", doc, s.line, m[1])
			}
			s.cmd += "\n" + body[i]
		}
		steps = append(steps, s)
	}
	return steps, nil
}
