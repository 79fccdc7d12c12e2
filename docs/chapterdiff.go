package docs

// The lesson of chapter NN is the diff from chapter NN-1. ChapterDiff
// writes it as `diff -ruN` would (without timestamps, and with
// /dev/null for a file that is new or gone), leaving out tests, so that
// docs/diffs/NN.diff can be read on GitHub beside the chapter's guide.

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// FirstDiffChapter and LastChapter bound the chapters that have a diff.
const (
	FirstDiffChapter = 2
	LastChapter      = 9
)

// diffContext is the number of unchanged lines shown around a change.
const diffContext = 3

// DiffPath is where chapter n's diff is kept, relative to the repository.
func DiffPath(n int) string { return fmt.Sprintf("docs/diffs/%02d.diff", n) }

// ChapterDiff returns the diff from chapters/<n-1> to chapters/<n> in the
// repository at root.
func ChapterDiff(root string, n int) (string, error) {
	oldDir, newDir := fmt.Sprintf("chapters/%02d", n-1), fmt.Sprintf("chapters/%02d", n)
	oldFiles, err := lessonFiles(filepath.Join(root, oldDir))
	if err != nil {
		return "", err
	}
	newFiles, err := lessonFiles(filepath.Join(root, newDir))
	if err != nil {
		return "", err
	}
	names := map[string]bool{}
	for name := range oldFiles {
		names[name] = true
	}
	for name := range newFiles {
		names[name] = true
	}
	sorted := make([]string, 0, len(names))
	for name := range names {
		sorted = append(sorted, name)
	}
	sort.Strings(sorted)

	var out strings.Builder
	for _, name := range sorted {
		a, inOld := oldFiles[name]
		b, inNew := newFiles[name]
		if inOld && inNew && a == b {
			continue
		}
		from, to := oldDir+"/"+name, newDir+"/"+name
		fmt.Fprintf(&out, "diff -ruN %s %s\n", from, to)
		if !inOld {
			from = "/dev/null"
		}
		if !inNew {
			to = "/dev/null"
		}
		fmt.Fprintf(&out, "--- %s\n+++ %s\n", from, to)
		out.WriteString(unifiedHunks(splitLines(a), splitLines(b)))
	}
	return out.String(), nil
}

// ChangedFiles lists the files a diff made by ChapterDiff touches, as
// paths in the newer chapter (chapters/06/store.go), even for a file that
// chapter no longer has.
func ChangedFiles(diff string) []string {
	var files []string
	for _, l := range strings.Split(diff, "\n") {
		if rest, ok := strings.CutPrefix(l, "diff -ruN "); ok {
			_, to, _ := strings.Cut(rest, " ")
			files = append(files, to)
		}
	}
	return files
}

// lessonFiles reads a chapter's files, leaving out tests and anything that
// is not a regular file; keys are slash paths inside the chapter.
func lessonFiles(dir string) (map[string]string, error) {
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir && d.Name() == "data" {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || strings.HasSuffix(d.Name(), "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = string(data)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	return files, nil
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// An edit is one line of the diff: ' ', '-' or '+', and the line.
type edit struct {
	op   byte
	text string
}

// edits computes a shortest edit script from a to b through their longest
// common subsequence. The files are a few hundred lines, so the quadratic
// table is small.
func edits(a, b []string) []edit {
	n, m := len(a), len(b)
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []edit
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			out = append(out, edit{' ', a[i]})
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			out = append(out, edit{'+', b[j]})
			j++
		default:
			out = append(out, edit{'-', a[i]})
			i++
		}
	}
	// Within a run of changes, diff prints the removed lines first.
	for start := 0; start < len(out); {
		if out[start].op == ' ' {
			start++
			continue
		}
		end := start
		for end < len(out) && out[end].op != ' ' {
			end++
		}
		sort.SliceStable(out[start:end], func(x, y int) bool {
			return out[start+x].op == '-' && out[start+y].op == '+'
		})
		start = end
	}
	return out
}

// unifiedHunks formats the changes from a to b as unified-diff hunks.
func unifiedHunks(a, b []string) string {
	es := edits(a, b)
	var out strings.Builder
	for k := 0; k < len(es); {
		if es[k].op == ' ' {
			k++
			continue
		}
		// A hunk: from diffContext lines before this change to
		// diffContext lines after the last change that is at most
		// 2*diffContext unchanged lines from the next.
		start := max(k-diffContext, 0)
		end := k
		for {
			for end < len(es) && es[end].op != ' ' {
				end++
			}
			same := 0
			for end+same < len(es) && es[end+same].op == ' ' {
				same++
			}
			if end+same == len(es) || same > 2*diffContext {
				end = min(end+diffContext, len(es))
				break
			}
			end += same
		}
		// Line numbers of the hunk's first line in a and in b.
		aLine, bLine := 1, 1
		for _, e := range es[:start] {
			if e.op != '+' {
				aLine++
			}
			if e.op != '-' {
				bLine++
			}
		}
		aCount, bCount := 0, 0
		var body strings.Builder
		for _, e := range es[start:end] {
			if e.op != '+' {
				aCount++
			}
			if e.op != '-' {
				bCount++
			}
			body.WriteByte(e.op)
			body.WriteString(e.text)
			if !strings.HasSuffix(e.text, "\n") {
				body.WriteString("\n\\ No newline at end of file\n")
			}
		}
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(aLine, aCount), hunkRange(bLine, bCount))
		out.WriteString(body.String())
		k = end
	}
	return out.String()
}

// hunkRange is a hunk header's "start,count", as diff writes it: an empty
// range starts at the line before it.
func hunkRange(start, count int) string {
	if count == 0 {
		start--
	}
	if count == 1 {
		return fmt.Sprint(start)
	}
	return fmt.Sprintf("%d,%d", start, count)
}
