package check_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/rulegen"
	"github.com/bespoke-edge/bespoke/internal/selector"
	"github.com/bespoke-edge/bespoke/rules/diag"
)

// TestSuiteSelectors writes each selector of the suites of Sizzle,
// NWMatcher and Qwery (testdata/selectors) as a rule's select: the rule
// file compiles when the selector package reads the selector, and is
// refused otherwise, at the line and column of what the selector
// package points to (checked where the selector holds nothing a YAML
// string escapes, which moves columns), with its message.
func TestSuiteSelectors(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "selectors", "selectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sels []struct{ Selector string }
	if err := json.Unmarshal(b, &sels); err != nil {
		t.Fatal(err)
	}
	const prefix = "      - remove: "
	refused, placed := 0, 0
	for _, s := range sels {
		quoted := rulegen.YAMLQuoted(s.Selector)
		_, err := checkSrc(t, "rules:\n  - name: r\n    actions:\n"+prefix+quoted+"\n")
		var list diag.List
		errors.As(err, &list)
		var errs diag.List
		for _, e := range list {
			if e.Severity == diag.SeverityError {
				errs = append(errs, e)
			}
		}
		trimmed := strings.TrimSpace(s.Selector)
		_, perr := selector.Parse(trimmed)
		if perr == nil {
			if len(errs) > 0 {
				t.Errorf("%q: the selector package reads it, the rule file is refused: %v", s.Selector, errs)
			}
			continue
		}
		refused++
		var se *selector.Error
		if len(errs) == 0 || !errors.As(perr, &se) {
			t.Errorf("%q: the selector package refuses it (%v), the rule file compiles: %v", s.Selector, perr, err)
			continue
		}
		if !strings.Contains(errs[0].Msg, se.Msg) {
			t.Errorf("%q: refused with %q, which does not say %q", s.Selector, errs[0].Msg, se.Msg)
		}
		if quoted != `"`+s.Selector+`"` {
			continue
		}
		placed++
		lead := strings.Index(s.Selector, trimmed)
		if col := len(prefix) + 2 + lead + se.Offset; errs[0].Pos.Line != 4 || errs[0].Pos.Col != col {
			t.Errorf("%q: refused at %d:%d, want 4:%d (offset %d): %v", s.Selector, errs[0].Pos.Line, errs[0].Pos.Col, col, se.Offset, errs[0])
		}
	}
	if refused < 250 || placed < refused*9/10 {
		t.Errorf("%d selectors refused, %d of them placed: the corpus is not what it was", refused, placed)
	}
	t.Logf("%d selectors: %d refused, %d of them at their column", len(sels), refused, placed)
}
