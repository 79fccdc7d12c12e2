// Command chapterdiff writes docs/diffs/NN.diff, the diff from chapter NN-1
// to chapter NN (tests left out), for chapters 02 to 09. Run it from the
// repository's root after changing a chapter; `go test ./docs` fails while
// a diff is stale.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/apiserver-from-scratch/apiserver-from-scratch/docs"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "chapterdiff:", err)
		os.Exit(1)
	}
}

func run() error {
	for n := docs.FirstDiffChapter; n <= docs.LastChapter; n++ {
		diff, err := docs.ChapterDiff(".", n)
		if err != nil {
			return err
		}
		path := filepath.FromSlash(docs.DiffPath(n))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(diff), 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", path)
	}
	return nil
}
