package rewrite

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files: their expected sections from the rewriter's output, and testdata/selectors/chromium.golden from Chromium's answers")

// A golden file (testdata/rewrite/*.txtar) is a comment, then sections
// that each start with a line "-- name --":
//
//	-- edits --    one edit a line: selector | op | argument
//	-- seen --     optional: the ids the visitor has seen, one a line
//	-- options --  optional: max_buffer=N
//	-- input --    the page
//	-- output --   the expected page
//	-- applied --  the expected Applied counts, one a line
//	-- shown --    the ids HideSeen let through, one a line
//
// The argument is the content for the ops that insert HTML (SetInner,
// Replace, InsertBefore, InsertAfter, Prepend, Append), name=value for
// set_attr, the name for remove_attr, add_class and remove_class, N for
// limit, "attr id,id,..." for reorder and "attr N" for hide_seen. With
// -update, output, applied and shown are rewritten from what the
// rewriter does.
type golden struct {
	comment  string
	sections []section
}

type section struct{ name, body string }

func parseGolden(b string) golden {
	var g golden
	lines := strings.SplitAfter(b, "\n")
	cur := -1
	for _, l := range lines {
		if name, ok := strings.CutPrefix(strings.TrimRight(l, "\n"), "-- "); ok && strings.HasSuffix(name, " --") {
			g.sections = append(g.sections, section{name: strings.TrimSuffix(name, " --")})
			cur++
			continue
		}
		if cur < 0 {
			g.comment += l
		} else {
			g.sections[cur].body += l
		}
	}
	return g
}

func (g *golden) get(name string) (string, bool) {
	for _, s := range g.sections {
		if s.name == name {
			return s.body, true
		}
	}
	return "", false
}

func (g *golden) set(name, body string) {
	for i := range g.sections {
		if g.sections[i].name == name {
			g.sections[i].body = body
			return
		}
	}
	g.sections = append(g.sections, section{name, body})
}

func (g *golden) String() string {
	var b strings.Builder
	b.WriteString(g.comment)
	for _, s := range g.sections {
		fmt.Fprintf(&b, "-- %s --\n%s", s.name, s.body)
	}
	return b.String()
}

var opByName = map[string]Op{}

func init() {
	for op := SetInner; op <= HideSeen; op++ {
		opByName[op.String()] = op
	}
}

// parseEdits reads an edits section into selectors and edits.
func parseEdits(t testing.TB, text string) ([]string, []Edit) {
	var sels []string
	var es []Edit
	for n, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		parts := strings.SplitN(line, " | ", 3)
		if len(parts) == 2 {
			parts = append(parts, "")
		}
		if len(parts) != 3 {
			t.Fatalf("edit line %d: %q is not selector | op | argument", n+1, line)
		}
		sel, name, arg := strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1]), parts[2]
		op, ok := opByName[name]
		if !ok {
			t.Fatalf("edit line %d: unknown op %q", n+1, name)
		}
		i := slices.Index(sels, sel)
		if i < 0 {
			sels = append(sels, sel)
			i = len(sels) - 1
		}
		e := Edit{Selector: i, Op: op}
		switch op {
		case SetAttr:
			e.Attr, e.Value, _ = strings.Cut(arg, "=")
		case RemoveAttr, AddClass, RemoveClass:
			e.Attr = strings.TrimSpace(arg)
		case Limit:
			e.N, _ = strconv.Atoi(strings.TrimSpace(arg))
		case Reorder:
			f := strings.Fields(arg)
			e.Attr = f[0]
			if len(f) > 1 {
				e.Order = strings.Split(f[1], ",")
			}
		case HideSeen:
			f := strings.Fields(arg)
			e.Attr = f[0]
			e.N, _ = strconv.Atoi(f[1])
		default:
			e.Content = []byte(arg)
		}
		es = append(es, e)
	}
	return sels, es
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// TestGolden runs the golden files, each whole and then written in chunks
// of 1 byte, 2, 3, 5, 13 bytes and of random sizes from 1 to 64 (seeded
// by $BESPOKE_SEED when set, printed on failure).
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("../../../testdata/rewrite/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	s := seed(t)
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			g := parseGolden(string(b))
			editText, _ := g.get("edits")
			sels, es := parseEdits(t, editText)
			prog, err := CompileStrings(sels)
			if err != nil {
				t.Fatal(err)
			}
			in, ok := g.get("input")
			if !ok {
				t.Fatal("no input section")
			}
			seenText, _ := g.get("seen")
			opt := Options{}
			if o, ok := g.get("options"); ok {
				for _, f := range strings.Fields(o) {
					if v, ok := strings.CutPrefix(f, "max_buffer="); ok {
						opt.MaxBuffer, _ = strconv.Atoi(v)
					}
				}
			}
			do := func(chunk func() int) (string, []int, []string) {
				seen := seenSet(lines(seenText)...)
				opt.Seen = seen
				out, applied := rewrite(t, prog, es, opt, in, chunk)
				return out, applied, seen.shown
			}
			out, applied, shown := do(chunker(len(in)+1, nil))
			var appliedText, shownText strings.Builder
			for _, n := range applied {
				fmt.Fprintln(&appliedText, n)
			}
			for _, id := range shown {
				fmt.Fprintln(&shownText, id)
			}
			if *update {
				if !strings.HasSuffix(out, "\n") {
					t.Fatal("the output must end with a newline for the file to hold it")
				}
				g.set("output", out)
				g.set("applied", appliedText.String())
				g.set("shown", shownText.String())
				if err := os.WriteFile(file, []byte(g.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, _ := g.get("output")
			if out != want {
				t.Fatalf("output differs (go test -run TestGolden -update rewrites it):\n--- got ---\n%s\n--- want ---\n%s", out, want)
			}
			if w, _ := g.get("applied"); appliedText.String() != w {
				t.Errorf("applied:\n%s\nwant:\n%s", appliedText.String(), w)
			}
			if w, _ := g.get("shown"); shownText.String() != w {
				t.Errorf("shown:\n%s\nwant:\n%s", shownText.String(), w)
			}
			if opt.MaxBuffer > 0 {
				return // how much is held, and so the result, depends on the chunks
			}
			rng := rand.New(rand.NewPCG(s, 3))
			for _, size := range []int{1, 2, 3, 5, 13, 0, 0, 0, 0} {
				got, gotApplied, gotShown := do(chunker(size, rng))
				if got != out || !slices.Equal(gotApplied, applied) || !slices.Equal(gotShown, shown) {
					t.Fatalf("written in chunks of %d (0: random; BESPOKE_SEED=%d), the result differs:\n%s\napplied %v, shown %v", size, s, got, gotApplied, gotShown)
				}
			}
		})
	}
}

// TestGoldenFormat checks that parsing and printing a golden file gives it
// back, so that -update changes only the expected sections.
func TestGoldenFormat(t *testing.T) {
	files, _ := filepath.Glob("../../../testdata/rewrite/*.txtar")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		if g := parseGolden(string(b)); !bytes.Equal([]byte(g.String()), b) {
			t.Errorf("%s does not print back as it is", file)
		}
	}
}
