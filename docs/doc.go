// Package docs holds the guides (the Markdown files in this directory) and
// the checks that keep them true of the code: `go test ./docs` runs every
// console block of every guide against the chapter it belongs to and
// compares the output, checks that the files and identifiers a guide names
// exist, that the chapter diffs in docs/diffs are current and named by
// their guides, and that every Mermaid diagram parses. CONTRIBUTING.md,
// "Docs that run", says how to write a block the test can run.
//
// The package's Go code is the diff generator (ChapterDiff, used by
// tools/chapterdiff) and the Mermaid syntax check (CheckMermaid).
package docs
