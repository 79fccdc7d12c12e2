// The example manifests of this chapter, written to the data directory at
// start-up so that the commands the server prints work from any directory.
package main

import (
	"embed"
	"os"
	"path/filepath"
)

//go:embed examples/*.yaml
var examples embed.FS

// writeExamples copies the example manifests to dir/examples.
func writeExamples(dir string) (string, error) {
	out := filepath.Join(dir, "examples")
	if err := os.MkdirAll(out, 0o700); err != nil {
		return "", err
	}
	entries, err := examples.ReadDir("examples")
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		data, err := examples.ReadFile("examples/" + e.Name())
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(out, e.Name()), data, 0o600); err != nil {
			return "", err
		}
	}
	return out, nil
}
