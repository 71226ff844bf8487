package rules_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/rules"
)

// archive is a golden file: a comment, then sections that each start with
// a line "-- name --".
type archive struct {
	comment  string
	sections []section
}

type section struct{ name, body string }

func readArchive(t *testing.T, path string) *archive {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a := &archive{}
	cur := -1
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if name, ok := strings.CutPrefix(strings.TrimRight(l, "\n"), "-- "); ok && strings.HasSuffix(name, " --") {
			a.sections = append(a.sections, section{name: strings.TrimSuffix(name, " --")})
			cur = len(a.sections) - 1
			continue
		}
		if cur < 0 {
			a.comment += l
		} else {
			a.sections[cur].body += l
		}
	}
	return a
}

func (a *archive) get(name string) (string, bool) {
	for _, s := range a.sections {
		if s.name == name {
			return s.body, true
		}
	}
	return "", false
}

func (a *archive) set(name, body string) {
	for i := range a.sections {
		if a.sections[i].name == name {
			a.sections[i].body = body
			return
		}
	}
	a.sections = append(a.sections, section{name, body})
}

func (a *archive) bytes() []byte {
	var b strings.Builder
	b.WriteString(a.comment)
	for _, s := range a.sections {
		b.WriteString("-- " + s.name + " --\n" + s.body)
	}
	return []byte(b.String())
}

// TestBrokenFiles checks every file of testdata/broken: a rule file with
// mistakes (-- rules.yaml --) and the diagnostics it must give, in order,
// each with its position, message and hint (-- want --). Every mistake of
// a file must be reported in the one pass, and each at its real line and
// column. go test -run TestBrokenFiles -update rewrites the want sections.
func TestBrokenFiles(t *testing.T) {
	files, err := filepath.Glob("../testdata/broken/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 26 {
		t.Fatalf("%d broken files, want at least 26", len(files))
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			a := readArchive(t, file)
			src, ok := a.get("rules.yaml")
			if !ok {
				t.Fatal("no -- rules.yaml -- section")
			}
			diags := rules.Diagnose("rules.yaml", []byte(src))
			if diags.Err() == nil {
				t.Errorf("the file compiles")
			}
			lines := strings.Count(src, "\n") + 1
			var got strings.Builder
			for _, d := range diags {
				if d.Pos.Line < 1 || d.Pos.Line > lines || d.Pos.Col < 1 {
					t.Errorf("position out of the file: %v", d)
				}
				got.WriteString(d.Error() + "\n")
			}
			if *update {
				a.set("want", got.String())
				if err := os.WriteFile(file, a.bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, _ := a.get("want")
			if got.String() != want {
				t.Errorf("diagnostics differ (go test -run TestBrokenFiles -update rewrites them):\n--- got ---\n%s--- want ---\n%s", got.String(), want)
			}
		})
	}
}
