package docs

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// guideOf returns the path (relative to docs/) and text of chapter n's guide.
func guideOf(t *testing.T, n int) (string, string) {
	t.Helper()
	matches, err := filepath.Glob(fmt.Sprintf("%02d-*.md", n))
	if err != nil || len(matches) != 1 {
		t.Fatalf("chapter %02d's guide: %v %v", n, matches, err)
	}
	data, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	return matches[0], string(data)
}

// TestChapterDiffs checks that docs/diffs/NN.diff is what the chapters
// give now, that each chapter's guide links to it, and that the guide
// names every file the diff touches.
func TestChapterDiffs(t *testing.T) {
	for n := FirstDiffChapter; n <= LastChapter; n++ {
		t.Run(fmt.Sprintf("%02d", n), func(t *testing.T) {
			diff, err := ChapterDiff("..", n)
			if err != nil {
				t.Fatal(err)
			}
			committed, err := os.ReadFile(filepath.Join("..", DiffPath(n)))
			if err != nil || string(committed) != diff {
				t.Errorf("%s is stale (%v); refresh the diffs with: go run ./tools/chapterdiff", DiffPath(n), err)
			}
			guide, text := guideOf(t, n)
			link := fmt.Sprintf("(diffs/%02d.diff)", n)
			if !strings.Contains(text, link) {
				t.Errorf("docs/%s does not link to its diff: no %q", guide, link)
			}
			for _, file := range ChangedFiles(diff) {
				inChapter := file[len("chapters/NN/"):]
				if !strings.Contains(text, inChapter) && !strings.Contains(text, filepath.Base(file)) {
					t.Errorf("docs/%s does not name %s, which the diff from chapter %02d changes", guide, file, n-1)
				}
			}
		})
	}
}

// mermaidBlocks returns the ```mermaid blocks of a Markdown file, each with
// the line of its opening fence.
func mermaidBlocks(path string) (map[int]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blocks := map[int]string{}
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```mermaid" {
			continue
		}
		start := i
		var body []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			body = append(body, lines[i])
		}
		blocks[start+1] = strings.Join(body, "\n")
	}
	return blocks, nil
}

// TestMermaid checks every diagram in the guides and the READMEs.
func TestMermaid(t *testing.T) {
	files, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob("../*.md")
	files = append(files, more...)
	more, _ = filepath.Glob("../final/*.md")
	files = append(files, more...)
	count := 0
	for _, f := range files {
		blocks, err := mermaidBlocks(f)
		if err != nil {
			t.Fatal(err)
		}
		for line, src := range blocks {
			count++
			if err := CheckMermaid(src); err != nil {
				t.Errorf("%s:%d: the diagram does not parse: %v", f, line, err)
			}
		}
	}
	if count == 0 {
		t.Fatal("no diagrams found")
	}
}

// TestCheckMermaidRefuses shows the check failing on what Mermaid's own
// parser (mermaid 11) refuses, and on the two rules of our own (an
// undefined class, an undeclared participant).
func TestCheckMermaidRefuses(t *testing.T) {
	bad := map[string]string{
		"header":            "flowchart sideways\n  A --> B",
		"unclosed shape":    "flowchart TD\n  A[one --> B",
		"unquoted parens":   "flowchart TD\n  A[f(x)] --> B",
		"half-quoted label": "flowchart TD\n  A[\"one] --> B",
		"bad link":          "flowchart TD\n  A ~~> B",
		"dangling link":     "flowchart TD\n  A -->",
		"unclosed subgraph": "flowchart TD\n  subgraph S\n  A --> B",
		"stray end":         "flowchart TD\n  A --> B\n  end",
		"undefined class":   "flowchart TD\n  A --> B\n  class A hot",
		"undeclared":        "sequenceDiagram\n  participant A\n  A->>B: hi",
		"bad arrow":         "sequenceDiagram\n  participant A\n  participant B\n  A=>B: hi",
		"unclosed loop":     "sequenceDiagram\n  participant A\n  loop every second\n  A->>A: tick",
		"sequence semi":     "sequenceDiagram\n  participant A\n  A->>A: a;b",
	}
	for name, src := range bad {
		if err := CheckMermaid(src); err == nil {
			t.Errorf("%s: no error for\n%s", name, src)
		}
	}
	good := "flowchart LR\n  classDef new fill:#fd0\n  A[\"a #59; b\"] -->|\"x\"| B((b)) & C{c} -.-> D:::new\n  subgraph S[\"s\"]\n    E -- label --> F\n  end\n  class A,B new"
	if err := CheckMermaid(good); err != nil {
		t.Errorf("a valid diagram: %v", err)
	}
}

// repoNames is what this repository's Go code declares and says.
type repoNames struct {
	declared map[string]bool            // every identifier declared anywhere, locals and fields too
	words    map[string]bool            // words in string literals and struct tags (JSON field names)
	pkgs     map[string]map[string]bool // package name -> its top-level names and methods
	types    map[string]bool            // type names
}

func loadRepoNames(t *testing.T, root string) *repoNames {
	t.Helper()
	n := &repoNames{declared: map[string]bool{}, words: map[string]bool{}, pkgs: map[string]map[string]bool{}, types: map[string]bool{}}
	word := regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "data" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return fmt.Errorf("parsing %s: %w", path, err)
		}
		pkg := n.pkgs[f.Name.Name]
		if pkg == nil {
			pkg = map[string]bool{}
			n.pkgs[f.Name.Name] = pkg
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				pkg[d.Name.Name] = true
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						pkg[s.Name.Name] = true
						n.types[s.Name.Name] = true
					case *ast.ValueSpec:
						for _, id := range s.Names {
							pkg[id.Name] = true
						}
					}
				}
			}
		}
		ast.Inspect(f, func(node ast.Node) bool {
			switch x := node.(type) {
			case *ast.FuncDecl:
				n.declared[x.Name.Name] = true
			case *ast.TypeSpec:
				n.declared[x.Name.Name] = true
			case *ast.ValueSpec:
				for _, id := range x.Names {
					n.declared[id.Name] = true
				}
			case *ast.Field:
				for _, id := range x.Names {
					n.declared[id.Name] = true
				}
			case *ast.AssignStmt:
				if x.Tok == token.DEFINE {
					for _, e := range x.Lhs {
						if id, ok := e.(*ast.Ident); ok {
							n.declared[id.Name] = true
						}
					}
				}
			case *ast.BasicLit:
				// Not this package's own words: its tests name
				// things that do not exist, on purpose.
				if x.Kind == token.STRING && filepath.Base(filepath.Dir(path)) != "docs" {
					for _, w := range word.FindAllString(x.Value, -1) {
						n.words[w] = true
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var (
	// A path of this repository, as a guide writes it (./ optional).
	repoPathRE = regexp.MustCompile(`(?:^|[^\w./-])(?:\./)?((?:chapters|final|docs|exercises)/[A-Za-z0-9_./-]*[A-Za-z0-9_/])`)
	linkRE     = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	backtickRE = regexp.MustCompile("`([^`\n]+)`")
	// lowerCamel: an unexported Go name (listPage), or a JSON field.
	lowerCamelRE = regexp.MustCompile(`^([a-z][a-z0-9]*[A-Z][A-Za-z0-9]*)(?:\(\))?$`)
	// pkg.Name or receiver.method.
	qualifiedRE = regexp.MustCompile(`^([a-z][a-z0-9]*)\.([A-Za-z_][A-Za-z0-9_]*)(?:\(\))?$`)
	// Lines about Kubernetes' code rather than ours.
	kubernetesLineRE = regexp.MustCompile(`k8s\.io|kubernetes/|client-go|apimachinery|kube-apiserver|staging/|Kubernetes'`)
)

// paragraphsMatching marks the lines of every paragraph (lines between
// blank ones) that has a line matching re.
func paragraphsMatching(lines []string, re *regexp.Regexp) []bool {
	marked := make([]bool, len(lines))
	for start := 0; start < len(lines); {
		end := start
		for end < len(lines) && strings.TrimSpace(lines[end]) != "" {
			end++
		}
		hit := false
		for _, l := range lines[start:end] {
			hit = hit || re.MatchString(l)
		}
		for i := start; i < end; i++ {
			marked[i] = hit
		}
		start = end + 1
	}
	return marked
}

// TestDocReferences checks that the files and Go names the guides mention
// exist: every path under chapters/, final/, docs/ or exercises/, every
// relative link, and every backticked name that looks like this
// repository's Go: pkg.Name where pkg is one of its packages (or
// Type.method), and lowerCamel names (listPage), which must be declared
// or be a word the code uses (a JSON field like creationTimestamp).
// Names are not checked where the text is about Kubernetes' code: the
// sections "Where this lives" and "What we left out", paragraphs that name
// Kubernetes' packages or say "Kubernetes'", and docs/onboarding.md.
func TestDocReferences(t *testing.T) {
	names := loadRepoNames(t, "..")
	// The check knows ours from what is not ours.
	for name, ours := range map[string]bool{"listPage": true, "server.ParseOptions": true, "creationTimestamp": true, "copyIfCustom": false, "server.NoSuchThing": false} {
		if got := names.check(name) == ""; got != ours {
			t.Fatalf("check(%q) accepts it: %v, want %v", name, got, ours)
		}
	}
	guides, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, guide := range guides {
		data, err := os.ReadFile(guide)
		if err != nil {
			t.Fatal(err)
		}
		section := ""
		lines := strings.Split(string(data), "\n")
		kubernetesParagraph := paragraphsMatching(lines, kubernetesLineRE)
		for i, line := range lines {
			where := fmt.Sprintf("docs/%s:%d", guide, i+1)
			if strings.HasPrefix(line, "## ") {
				section = line
			}
			for _, m := range repoPathRE.FindAllStringSubmatch(line, -1) {
				if strings.Contains(m[1], "NN") {
					continue // a pattern: chapters/NN/
				}
				if _, err := os.Stat(filepath.Join("..", m[1])); err != nil {
					t.Errorf("%s: %s does not exist", where, m[1])
				}
			}
			for _, m := range linkRE.FindAllStringSubmatch(line, -1) {
				target, _, _ := strings.Cut(m[1], "#")
				if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				if _, err := os.Stat(target); err != nil {
					t.Errorf("%s: the link %s leads nowhere", where, m[1])
				}
			}
			if guide == "onboarding.md" || strings.Contains(section, "Where this lives") || strings.Contains(section, "What we left out") || kubernetesParagraph[i] {
				continue
			}
			for _, m := range backtickRE.FindAllStringSubmatch(line, -1) {
				if msg := names.check(m[1]); msg != "" {
					t.Errorf("%s: `%s`: %s", where, m[1], msg)
				}
			}
		}
	}
}

// fileExtensions make store.go a file, not package store's go.
var fileExtensions = map[string]bool{"go": true, "md": true, "yaml": true, "yml": true, "json": true, "csv": true, "crt": true, "key": true, "pem": true, "db": true, "txt": true, "diff": true, "sh": true, "mod": true, "sum": true, "log": true}

// check returns why a backticked name is not this repository's, or "".
func (n *repoNames) check(s string) string {
	if m := lowerCamelRE.FindStringSubmatch(s); m != nil {
		if !n.declared[m[1]] && !n.words[m[1]] {
			return "no Go code declares or uses this name"
		}
		return ""
	}
	m := qualifiedRE.FindStringSubmatch(s)
	if m == nil || m[1] == "main" || fileExtensions[m[2]] {
		return ""
	}
	pkg, ok := n.pkgs[m[1]]
	if !ok {
		return "" // not one of our packages: a JSON path, a file, the standard library
	}
	// Type.method, or a JSON path whose field the code uses
	// (schema.openAPIV3Schema).
	if pkg[m[2]] || (n.types[m[1]] && n.declared[m[2]]) || n.words[m[2]] {
		return ""
	}
	return fmt.Sprintf("package %s declares no %s", m[1], m[2])
}
