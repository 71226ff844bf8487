package rules_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/rules"
)

// FuzzDiagnose checks the whole front end on any input, including the
// partial files YAML recovery hands to the checker: it never panics, every
// problem has a position in the file, and a file without errors compiles.
func FuzzDiagnose(f *testing.F) {
	files, _ := filepath.Glob("../testdata/broken/*.txtar")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		_, rest, _ := strings.Cut(string(b), "-- rules.yaml --\n")
		src, _, _ := strings.Cut(rest, "-- want --\n")
		f.Add([]byte(src))
	}
	if demo, err := os.ReadFile("../testdata/demo/rules.yaml"); err == nil {
		f.Add(demo)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		diags := rules.Diagnose("f.yaml", src)
		// Lines as YAML and editors count them: \n, \r\n or \r.
		lines := strings.Count(strings.ReplaceAll(string(src), "\r\n", "\n"), "\n") + strings.Count(strings.ReplaceAll(string(src), "\r\n", "\n"), "\r") + 1
		for _, d := range diags {
			if d.Pos.Line < 1 || d.Pos.Line > lines {
				t.Fatalf("position out of the file: %v", d)
			}
		}
		if diags.Err() == nil {
			if _, err := rules.Compile("f.yaml", src); err != nil {
				t.Fatalf("checks but does not compile: %v", err)
			}
		}
	})
}
