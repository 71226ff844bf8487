package rules_test

import (
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/corpus"
	"github.com/bespoke-edge/bespoke/internal/rulegen"
	"github.com/bespoke-edge/bespoke/rules"
	"github.com/bespoke-edge/bespoke/rules/diag"
)

// naughtyList is the Big List of Naughty Strings
// (testdata/naughty/README.md).
func naughtyList(t *testing.T) []string {
	return corpus.Strings(t, "../testdata/naughty/blns.json")
}

// naughtyFile is a rule file that holds v as a literal in a condition, a
// text and a test's context and request.
func naughtyFile(v string) string {
	q := rulegen.YAMLQuoted(v)
	return "rules:\n  - name: r\n    when: " + rulegen.YAMLQuoted(`cookie("c") == `+rulegen.ExprQuoted(v)) + "\n" +
		"    actions:\n      - set_inner: { select: \"#x\", text: " + q + " }\n" +
		"tests:\n  - name: context\n    context: { cookie(c): " + q + " }\n    expect: { match: [r] }\n" +
		"  - name: request\n    request: { cookies: { c: " + q + " } }\n    expect: { match: [r] }\n"
}

// braceExtras are texts the Big List lacks that a rule's text reads as
// templates: each is refused, with how to write it.
var braceExtras = []string{"{{7*7}}", "{{", "}}", "a }} b {{", "{{ x }}", "{{{{}}}}", "{{ '}}' }}x}}"}

// TestNaughtyLiterals checks a rule file that writes each of the Big List
// of Naughty Strings as a literal, in a condition, a text and a test: it
// compiles, or is refused with each error at its file:line:col and with
// a hint, never a crash. That a file that compiles compares with the
// string itself is TestNaughtyLiteralsMatch's (host/internal/proxy).
func TestNaughtyLiterals(t *testing.T) {
	refused := 0
	for i, v := range append(naughtyList(t), braceExtras...) {
		src := naughtyFile(v)
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%d %q: panic: %v\n%s", i, v, r, src)
				}
			}()
			errs := rules.Diagnose("rules.yaml", []byte(src)).Err()
			if errs == nil {
				return
			}
			refused++
			for _, e := range errs.(diag.List) {
				if !e.Pos.IsValid() || e.Pos.File != "rules.yaml" || e.Hint == "" {
					t.Errorf("%d %q: an error without its place or a hint: %v", i, v, e)
				}
			}
		}()
	}
	if refused != len(braceExtras) {
		t.Errorf("%d files refused, want the %d with braces", refused, len(braceExtras))
	}
}

// TestNaughtyNames names a cookie, a header and a query parameter with
// each string: a name no request carries is refused at its place, with
// a hint. That the others match is TestNaughtyNames's
// (host/internal/proxy).
func TestNaughtyNames(t *testing.T) {
	for i, v := range naughtyList(t) {
		for _, f := range []string{"cookie", "header", "query"} {
			src := "rules:\n  - name: r\n    when: " + rulegen.YAMLQuoted(f+"("+rulegen.ExprQuoted(v)+`) == "1"`) + "\n    actions:\n      - remove: \"#x\"\n"
			errs := rules.Diagnose("rules.yaml", []byte(src)).Err()
			if errs == nil {
				continue
			}
			for _, e := range errs.(diag.List) {
				// Some messages end with what to write.
				if !e.Pos.IsValid() || e.Hint == "" && !strings.Contains(e.Msg, "; write ") {
					t.Errorf("%d %s(%q): an error without its place or a hint: %v", i, f, v, e)
				}
			}
		}
	}
}

// TestNaughtyMarkupLiterals writes each string as an html: literal: the
// markup that does not finish what it starts (an open <script>, a tag
// without its >) is refused at its place, with what to write, never a
// crash. That the markup let through keeps the page's shape is
// TestNaughtyMarkup's (host/internal/proxy).
func TestNaughtyMarkupLiterals(t *testing.T) {
	refused := 0
	for i, v := range naughtyList(t) {
		src := "rules:\n  - name: r\n    actions:\n      - append: { select: div, html: " + rulegen.YAMLQuoted(v) + " }\n"
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%d %q: panic: %v", i, v, r)
				}
			}()
			errs := rules.Diagnose("rules.yaml", []byte(src)).Err()
			if errs == nil {
				return
			}
			refused++
			for _, e := range errs.(diag.List) {
				// Some messages say what to write after a ;.
				if !e.Pos.IsValid() || e.Hint == "" && !strings.Contains(e.Msg, "; ") {
					t.Errorf("%d %q: an error without its place or a hint: %v", i, v, e)
				}
			}
		}()
	}
	if refused == 0 {
		t.Error("no markup refused")
	}
}
