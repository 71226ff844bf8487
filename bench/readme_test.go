package main

import (
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeListsFlagsAndTargets checks bench/README.md against the
// command: every flag has a row of its Options table (with the default
// the command has), and every target a row of its Targets table, so that
// the reference cannot drift from what `go run ./bench -h` says.
func TestReadmeListsFlagsAndTargets(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	table := func(heading string) string {
		_, s, ok := strings.Cut(readme, "\n## "+heading+"\n")
		if !ok {
			t.Fatalf("no %q section", heading)
		}
		s, _, _ = strings.Cut(s, "\n## ")
		return s
	}
	opts := table("Options")
	var o options
	fl, _, _ := flags(&o)
	fl.VisitAll(func(f *flag.Flag) {
		row := regexp.MustCompile("(?m)^\\|[^|\\n]*`-" + regexp.QuoteMeta(f.Name) + "[ =`].*$").FindString(opts)
		if row == "" {
			t.Errorf("-%s is not in the Options table", f.Name)
			return
		}
		if d := f.DefValue; d != "" && d != "false" && d != "true" && d != "0" && !strings.Contains(row, "`"+d+"`") {
			t.Errorf("-%s: the Options table does not give its default %q: %s", f.Name, d, row)
		}
	})
	targets := table("Targets")
	for _, d := range targetDefs {
		if !strings.Contains(targets, "| `"+d.Name+"` |") {
			t.Errorf("target %s is not in the Targets table", d.Name)
		}
	}
}
