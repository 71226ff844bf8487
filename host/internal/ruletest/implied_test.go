package ruletest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/ruletest"
)

// TestImpliedElementNotes: a page check that fails because a rule's edit
// names body or head on a page that leaves their tags out (the check
// reads the browser's page, which has them) says which edit changed
// nothing and why; a check that fails for another reason, on a page with
// its tags, has no such note, nor has a test that passes.
func TestImpliedElementNotes(t *testing.T) {
	s, prog := load(t, `
rules:
  - name: home
    actions:
      - add_class: { select: body, class: home }
      - append: { select: head, html: '<meta name="x" content="y">' }
tests:
  - name: minified page
    page: { body: '<!doctype html><title>x</title><div id=d>hi</div>' }
    expect: { page: { body: { class: home } } }
  - name: page with its tags
    page: { body: '<!doctype html><html><head><title>x</title></head><body><div id=d>hi</div></body></html>' }
    expect: { page: { body: { class: away } } }
  - name: passes
    page: { body: '<!doctype html><title>x</title><div id=d>hi</div>' }
    expect: { page: { "#d": hi } }
`)
	results, err := ruletest.Run(context.Background(), s, prog)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{
			`home's add_class "body" changed nothing: its selector names body, which this page has no <body> tag for`,
			`home's append "head" changed nothing: its selector names head, which this page has no <head> tag for`,
		},
		nil,
		nil,
	}
	for i, r := range results {
		if len(r.Notes) != len(want[i]) {
			t.Errorf("%s: notes %q, want %d", r.Test.Name, r.Notes, len(want[i]))
			continue
		}
		for j, w := range want[i] {
			if !strings.HasPrefix(r.Notes[j], w) {
				t.Errorf("%s: note %q, want it to start %q", r.Test.Name, r.Notes[j], w)
			}
		}
	}
	if results[0].Passed() || results[1].Passed() || !results[2].Passed() {
		t.Errorf("passed: %v, %v, %v; want false, false, true", results[0].Passed(), results[1].Passed(), results[2].Passed())
	}
}
