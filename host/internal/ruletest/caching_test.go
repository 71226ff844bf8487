package ruletest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/ruletest"
)

// TestCachingWithoutAPage: a test that checks a rule's Cache-Control
// with no page to rewrite expects what the proxy sends, as one with a
// page does: "public, max-age=300" set on a page made for French
// visitors goes private, and a test that expects it public fails.
func TestCachingWithoutAPage(t *testing.T) {
	s, prog := load(t, `
rules:
  - name: french
    when: geo.country == "FR"
    actions:
      - set_header: { name: Cache-Control, value: "public, max-age=300" }
      - set_inner: { select: "#x", text: Bonjour }
tests:
  - name: as the rule says
    context: { geo.country: FR }
    expect: { headers: { Cache-Control: "public, max-age=300" } }
  - name: as the proxy sends
    context: { geo.country: FR }
    expect: { headers: { Cache-Control: "private, max-age=300" } }
`)
	results, err := ruletest.Run(context.Background(), s, prog)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 {
		t.Fatalf("%d results, want 2", len(results))
	}
	const want = `expected header Cache-Control: "public, max-age=300", got "private, max-age=300"`
	if got := strings.Join(results[0].Failures, "\n"); !strings.Contains(got, want) {
		t.Errorf("%s: failures %q, want %q", results[0].Test.Name, got, want)
	}
	if !results[1].Passed() {
		t.Errorf("%s: %v", results[1].Test.Name, results[1].Failures)
	}
}
