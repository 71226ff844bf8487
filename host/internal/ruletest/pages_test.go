package ruletest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/ruletest"
	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/rules/diag"
)

// checkPages compiles src as the rule file dir/rules.yaml and returns
// what CheckPages says of it.
func checkPages(t *testing.T, dir, src string) diag.List {
	t.Helper()
	p, err := compiler.Check(filepath.Join(dir, "rules.yaml"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ruletest.CheckPages(p, dir)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestCheckPages(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "site")
	if err := os.MkdirAll(filepath.Join(site, "shop"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"index.html":      `<main><section id=hero><h1 class=hero-title>Hi</h1><a class=cta href=/sale>Sale</a></section><span id=currency>USD</span></main>`,
		"shop/index.html": `<ul class=cards><li class=card data-id=1>One</li><li class=card data-id=2>Two</li></ul>`,
		"api.json":        `{"items": []}`,
	} {
		if err := os.WriteFile(filepath.Join(site, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		selector string
		want     string // a part of the warning, "" for none
	}{
		{"#hero .hero-title", ""},
		{"ul.cards > li.card:nth-child(2)", ""}, // on the second page
		{".app-banner", ""},                     // inserted by the rules below
		{"#heor .hero-title", `no element has the id "heor": did you mean #hero?`},
		{".hero-titel", `did you mean .hero-title?`},
		{".curency", `no element has the class "curency": did you mean #currency?`},
		{"#nothing-like-it", `no element there has the id "nothing-like-it"`},
		{"#hero .card", "its parts are there, not together"},
		{"li.card:nth-child(3)", "its parts are there, not together"},
		{"section h2", `no element there is a <h2>; if the element is on other pages, save one in site`},
		{"sectoin .hero-title", `no element is a <sectoin>: did you mean section?`},
		{"[data-slot=hero]", `no element there has the attribute data-slot`},
		{`li[data-id='3']`, `no element there has [data-id="3"]`},
		{"main > h1", "its parts are there, not together"},
	} {
		t.Run(tc.selector, func(t *testing.T) {
			src := "pages: site\nrules:\n  - name: banner\n    actions:\n      - insert_before: { select: main, html: '<div class=\"app-banner\">App</div>' }\n" +
				"  - name: r\n    actions:\n      - add_class: { select: \"" + tc.selector + "\", class: x }\n"
			got := checkPages(t, dir, src)
			if tc.want == "" {
				if len(got) > 0 {
					t.Fatalf("warned %v", got)
				}
				return
			}
			if len(got) != 1 || !strings.Contains(got[0].Error(), tc.want) || !strings.Contains(got[0].Error(), "selects nothing on the 2 pages of site") {
				t.Fatalf("warned %v, want one saying %q", got, tc.want)
			}
			if got[0].Pos.Line != 8 {
				t.Errorf("at %v, want the action's line, 8", got[0].Pos)
			}
		})
	}
}

// TestCheckPagesOnePage: the warning names the one page as one.
func TestCheckPagesOnePage(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "site"), 0o755)
	os.WriteFile(filepath.Join(dir, "site", "index.html"), []byte(`<main id=main><h1>Hi</h1></main>`), 0o644)
	got := checkPages(t, dir, "pages: site\nrules:\n  - name: r\n    actions:\n      - remove: \"#mian\"\n")
	want := `rules.yaml:5:9: warning: selector "#mian" selects nothing on the page in site; no element has the id "mian": did you mean #main?`
	if len(got) != 1 || !strings.HasSuffix(got[0].Error(), want) {
		t.Errorf("warned %v, want %s", got, want)
	}
}

// TestCheckPagesWithoutPages: a rule file that names no pages, or
// pages without HTML, gets no warning.
func TestCheckPagesWithoutPages(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "json"), 0o755)
	os.WriteFile(filepath.Join(dir, "json", "a.json"), []byte(`{}`), 0o644)
	for _, head := range []string{"", "pages: json\n"} {
		p, err := compiler.Check("rules.yaml", []byte(head+"rules:\n  - name: r\n    actions:\n      - remove: \"#none\"\n"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := ruletest.CheckPages(p, dir)
		if err != nil || len(got) > 0 {
			t.Errorf("%q: %v, %v", head, got, err)
		}
	}
}

// TestCheckPagesItemIDs: a hide_seen whose items, on the pages, lack the
// attribute it reads their ids from is warned of, with the nearest they
// have.
func TestCheckPagesItemIDs(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "site"), 0o755)
	os.WriteFile(filepath.Join(dir, "site", "index.html"), []byte(`<ul class=cards><li class=card data-item-id=1>One</li><li class=card data-item-id=2>Two</li></ul>`), 0o644)
	for _, tc := range []struct{ id, want string }{
		{"@data-item-id", ""},
		{"@data-itemid", `hide_seen reads each item's id from its data-itemid attribute, which none of the 2 elements "li.card" selects on the pages has; did you mean id: "@data-item-id"?`},
		{"@sku", `their attributes are: class, data-item-id`},
	} {
		src := "pages: site\nrules:\n  - name: r\n    actions:\n      - hide_seen: { select: li.card, id: \"" + tc.id + "\" }\n"
		got := checkPages(t, dir, src)
		switch {
		case tc.want == "" && len(got) > 0:
			t.Errorf("%s: warned %v", tc.id, got)
		case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0].Error(), tc.want)):
			t.Errorf("%s: warned %v, want %q", tc.id, got, tc.want)
		}
	}
}

// TestCheckPagesListOfOne: a list edit whose elements are each alone in
// their parent on the pages is warned of: it counts and moves the items
// of each parent, and has nothing to do in a list of one.
func TestCheckPagesListOfOne(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "site"), 0o755)
	os.WriteFile(filepath.Join(dir, "site", "index.html"), []byte(`<ul class=cards><li><div class=card data-id=1>One</div></li><li><div class=card data-id=2>Two</div></li><li><div class=card data-id=3>Three</div></li></ul><p class=lone data-id=9>x</p>`), 0o644)
	for _, tc := range []struct{ action, want string }{
		{`limit: { select: .card, n: 2 }`, `rules.yaml:5:9: warning: limit keeps the first 2 items of each list, the elements it selects among the children of one parent, but each of the 3 elements ".card" selects on the pages is alone in its parent: it changes nothing; select the list's items themselves`},
		{`reorder: { select: .card, id: "@data-id", order: ["2"] }`, `reorder moves items to the front of their list`},
		{`hide_seen: { select: .card, id: "@data-id", demote: true }`, `hide_seen moves seen items to the end of their list`},
		{`hide_seen: { select: .card, id: "@data-id", keep_at_least: 2 }`, `hide_seen keeps at least 2 items of each list`},
		{`limit: { select: "ul.cards > li", n: 2 }`, ""},
		{`hide_seen: { select: .card, id: "@data-id" }`, ""}, // hides each seen card
		{`limit: { select: .lone, n: 1 }`, ""},               // one element: nothing to tell
	} {
		got := checkPages(t, dir, "pages: site\nrules:\n  - name: r\n    actions:\n      - "+tc.action+"\n")
		switch {
		case tc.want == "" && len(got) > 0:
			t.Errorf("%s: warned %v", tc.action, got)
		case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0].Error(), tc.want)):
			t.Errorf("%s: warned %v, want %q", tc.action, got, tc.want)
		}
	}
}

// TestCheckPagesMarkup: html written into an element the selector does
// not name the type of is checked against the elements it selects on the
// pages, as it is when the selector names their type.
func TestCheckPagesMarkup(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "site"), 0o755)
	os.WriteFile(filepath.Join(dir, "site", "index.html"), []byte(`<p class=dateline>Thu 3 Jan</p><div class=box>x</div><a class=more href=/m>More</a>`), 0o644)
	for _, tc := range []struct{ action, want string }{
		{`append: { select: .dateline, html: "<div>Updated</div>" }`, `rules.yaml:5:9: warning: on the pages, ".dateline" selects a <p>, and there a <div> cannot be inside a <p>: browsers close the <p> before it`},
		{`set_inner: { select: .more, html: "<a href=/x>x</a>" }`, `selects a <a>, and there a <a> cannot be inside a <a>`},
		{`append: { select: .dateline, html: "<b>Updated</b>" }`, ""},
		{`append: { select: .box, html: "<div>Updated</div>" }`, ""},
		{`insert_after: { select: .dateline, html: "<div>Updated</div>" }`, ""}, // beside the <p>, not in it
	} {
		got := checkPages(t, dir, "pages: site\nrules:\n  - name: r\n    actions:\n      - "+tc.action+"\n")
		switch {
		case tc.want == "" && len(got) > 0:
			t.Errorf("%s: warned %v", tc.action, got)
		case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0].Error(), tc.want)):
			t.Errorf("%s: warned %v, want %q", tc.action, got, tc.want)
		}
	}
}

// TestCheckPagesPath: pages: may be absolute or a symbolic link to a
// directory; a directory that cannot be
// read is warned of once, at pages:, since every test of a page would
// fail without one.
func TestCheckPagesPath(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(other, "index.html"), []byte(`<main id=main><h1>Hi</h1></main>`), 0o644)
	os.WriteFile(filepath.Join(dir, "file.html"), []byte(`<p>`), 0o644)
	if err := os.Symlink(other, filepath.Join(dir, "linked")); err != nil {
		t.Fatal(err)
	}
	rules := "rules:\n  - name: r\n    actions:\n      - remove: \"#mian\"\n"
	for _, c := range []struct{ pages, want string }{
		{other, `rules.yaml:5:9: warning: selector "#mian" selects nothing on the page in ` + other},
		// A link to the saved pages is read as the directory it names,
		// as bespoke test reads the pages through it.
		{"linked", `rules.yaml:5:9: warning: selector "#mian" selects nothing on the page in linked`},
		{filepath.Join(other, "missing"), "rules.yaml:1:8: warning: pages: " + filepath.Join(other, "missing") + " cannot be read (no such directory); write the directory"},
		{"missing", "rules.yaml:1:8: warning: pages: " + filepath.Join(dir, "missing") + " cannot be read (no such directory)"},
		{"file.html", "rules.yaml:1:8: warning: pages: " + filepath.Join(dir, "file.html") + " cannot be read (not a directory)"},
	} {
		got := checkPages(t, dir, "pages: "+c.pages+"\n"+rules)
		if len(got) != 1 || !strings.Contains(got[0].Error(), c.want) {
			t.Errorf("pages: %s: warned %v, want %s", c.pages, got, c.want)
		}
	}
}

// TestTestPageFiles: a test's page file that is not beside the rule file
// is an error at its page:, naming the file that is nearest; the test
// could not pass.
func TestTestPageFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "home.html"), []byte("<h1>Hi</h1>"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := checkPages(t, dir, `rules:
  - name: r
    actions:
      - remove: h1
tests:
  - name: there
    page: home.html
    expect: { match: [r] }
  - name: misspelt
    page: hom.html
    expect: { match: [r] }
`)
	if len(got) != 1 || len(got.Errors()) != 1 || got[0].Pos.Line != 10 || !strings.Contains(got[0].Error(), "page: hom.html cannot be read (no such file); did you mean home.html?") {
		t.Errorf("%v", got)
	}
}

// TestCheckPagesImpliedElement: a selector that names body, head or
// tbody selects, in the saved pages' documents, the element the browser
// makes where a page leaves its tag out; bespoke edits only elements
// whose tags are in the page, so check warns, naming the page, where
// the action would change nothing. A page with the tag, or a selector
// naming none, gets no warning.
func TestCheckPagesImpliedElement(t *testing.T) {
	dir := t.TempDir()
	site := filepath.Join(dir, "site")
	if err := os.MkdirAll(site, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"index.html": `<!doctype html><title>Shop</title><main id=m><table id=t><tr><td>1</table></main>`,
		"full.html":  `<!doctype html><html><head><title>About</title></head><body class=about><main id=m>About</main></body></html>`,
	} {
		if err := os.WriteFile(filepath.Join(site, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		selector string
		want     string // a part of the warning, "" for none
	}{
		{"body", `selector "body" names body, which site/index.html has no <body> tag for`},
		{"body > main", `names body, which site/index.html has no <body> tag for`},
		{"head", `names head, which site/index.html has no <head> tag for`},
		{"#t > tbody", `names tbody, which site/index.html has no <tbody> tag for`},
		{"body.about", ""}, // only on the page that has its tag
		{"main", ""},
	} {
		t.Run(tc.selector, func(t *testing.T) {
			src := "pages: site\nrules:\n  - name: r\n    actions:\n      - add_class: { select: \"" + tc.selector + "\", class: x }\n"
			got := checkPages(t, dir, src)
			if tc.want == "" {
				if len(got) > 0 {
					t.Fatalf("warned %v", got)
				}
				return
			}
			if len(got) != 1 || !strings.Contains(got[0].Error(), tc.want) {
				t.Fatalf("warned %v, want one saying %q", got, tc.want)
			}
		})
	}
}
