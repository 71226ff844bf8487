package jsonrw

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/corpus"
)

// JSONTestSuite (Nicolas Seriot's "Parsing JSON is a Minefield"), pinned
// by version and checksum: 318 documents, each named for what RFC 8259
// says of it. y_ must be accepted, n_ refused, and i_ (numbers out of
// any float's range, strings that are not UTF-8, byte order marks) is
// left to the parser.
const (
	suiteModule = "github.com/nst/JSONTestSuite@v0.0.0-20241122125541-1ef36fa01286"
	suiteSum    = "h1:t/cjDwz9uc/5ZSagWtr7nWpoEA5Imvw/ArlJuI+d+Cw="
)

// TestJSONTestSuite holds Validate, which decides whether a response or a
// JSON-valued cookie or header is read at all, to the suite: every y_
// document accepted, every n_ refused (the one nested 100,000 deep at the
// depth limit), and each i_ decided as encoding/json decides it. Then
// every document it accepts goes through every edit at the paths the
// document has, and what comes out must be JSON, and the same bytes
// when no edit applied.
func TestJSONTestSuite(t *testing.T) {
	dir := corpus.Module(t, suiteModule, suiteSum)
	files, err := filepath.Glob(filepath.Join(dir, "test_parsing", "*.json"))
	if err != nil || len(files) < 300 {
		t.Fatalf("%d documents in %s (%v): the suite is not what it was", len(files), dir, err)
	}
	counts := map[byte]int{}
	applied := 0
	for _, f := range files {
		name := filepath.Base(f)
		doc, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got := Validate(doc, 0)
		switch name[0] {
		case 'y':
			if got != nil {
				t.Errorf("%s: %v, want accepted: %q", name, got, doc)
			}
		case 'n':
			if got == nil {
				t.Errorf("%s: accepted, want refused: %q", name, doc)
			}
		case 'i':
			if want := json.Valid(doc); (got == nil) != want {
				t.Errorf("%s: %v, encoding/json.Valid says %v: %q", name, got, want, doc)
			}
		default:
			t.Fatalf("%s: the suite names documents y_, n_ or i_", name)
		}
		counts[name[0]]++
		if got == nil {
			applied += editSuiteDocument(t, name, doc)
		}
	}
	t.Logf("%d accepted as they must be, %d refused, %d implementation-defined; %d edits changed a document", counts['y'], counts['n'], counts['i'], applied)
	// Most documents are arrays, which every edit but Set has a path
	// into: a run where few edits apply tests little.
	if applied < 500 {
		t.Errorf("only %d edits changed a document", applied)
	}
}

// editSuiteDocument applies each kind of edit to doc at each path it has
// near its root (and one it has not), alone and after a Set, and checks
// the output. It returns how many edits changed the document.
func editSuiteDocument(t *testing.T, name string, doc []byte) int {
	n := 0
	paths := []string{"@this", "0", "1", "0.0", "a", "nope.deeper"}
	var top any
	if json.Unmarshal(doc, &top) == nil {
		if m, ok := top.(map[string]any); ok {
			for k := range m {
				// Keys written as gjson reads a path: the suite's keys
				// hold dots, stars and escapes.
				paths = append(paths, strings.NewReplacer(`\`, `\\`, ".", `\.`, "*", `\*`, "?", `\?`).Replace(k))
			}
		}
	}
	for _, path := range paths {
		for _, e := range []Edit{
			{Op: Set, Path: path, Value: []byte(`{"x":[1,"é"]}`)},
			{Op: Remove, Path: path},
			{Op: HideSeen, Path: path, ID: "@this", N: 1},
			{Op: HideSeen, Path: path, ID: "id", Demote: true},
			{Op: Limit, Path: path, N: 1},
			{Op: Reorder, Path: path, Order: []string{"1", "a"}},
		} {
			for _, edits := range [][]Edit{{e}, {{Op: Set, Path: "b", Value: []byte(`[3,2,1]`)}, e}} {
				out, applied, err := Apply(doc, edits, fakeSeen{"1": true, "a": true})
				if err != nil {
					t.Fatalf("%s: %+v: %v", name, edits, err)
				}
				if !json.Valid(out) {
					t.Fatalf("%s: %+v on %q gives invalid JSON %q", name, edits, doc, out)
				}
				if !slices.Contains(applied, true) && !bytes.Equal(out, doc) {
					t.Fatalf("%s: %+v applied nothing, yet %q became %q", name, edits, doc, out)
				}
				if applied[len(applied)-1] {
					n++
				}
			}
		}
	}
	return n
}
