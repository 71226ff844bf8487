package ruletest_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/bespoke-edge/bespoke/host/internal/engine"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/host/internal/ruletest"
	"github.com/bespoke-edge/bespoke/host/internal/site"
	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/internal/ir"
)

func load(t *testing.T, src string) (*site.Site, *ir.Program) {
	t.Helper()
	res, err := compiler.Compile("rules.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{CacheDir: "-"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := site.Load(context.Background(), eng, "rules.yaml", res.Artifact, reqctx.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close(context.Background())
		eng.Close(context.Background())
	})
	return s, res.Program
}

var pages = fstest.MapFS{
	"index.html": {Data: []byte(`<!DOCTYPE html><html><head><title>Shop</title></head><body class="home">
<div id="announce">Free shipping</div>
<section id="hero"><h1>Hello   <i>world</i></h1><a class="cta" href="/sale">Shop the sale</a></section>
<aside id="promo"><p>Join the club</p></aside>
<ul class="cards"><li data-id="a">A</li><li data-id="b">B</li><li data-id="c">C</li></ul>
</body></html>`)},
	"api/items.json": {Data: []byte(`{"items":[{"id":"a"},{"id":"b"}],"banner":{"title":"Hi"},"count":2}`)},
	// A key repeated (the visitor's JSON.parse reads the last), numbers
	// float64 cannot tell apart or hold, and a byte order mark.
	"api/odd.json": {Data: []byte("\xEF\xBB\xBF" + `{"a":1,"a":2,"big":12345678901234567890,"huge":1e400,"banner":{"title":"Hi"},"gone":null}`)},
	// An API's object, as GitHub's REST API sends a repository's.
	"api/repo.json": {Data: []byte(`{"id":1296269,"license":{"key":"mit","name":"MIT License","spdx_id":"MIT"},"topics":["api","octocat"],"owner":{"login":"octocat","id":1,"site_admin":false}}`)},
}

const shop = `
experiments:
  - name: hero-test
    variants: { control: 50, bold: 50 }
rules:
  - name: french
    when: geo.country == "FR"
    actions:
      - set_inner: { select: "#hero h1", text: "Bonjour" }
      - set_attr: { select: "#hero .cta", name: href, value: /fr/ }
      - set_header: { name: X-Lang, value: fr }
      - set_cookie: { name: lang, value: fr }
      - json_set: { path: banner.title, value: Salut }
  - name: quiet
    when: device.bot
    actions:
      - remove: "#promo"
  - name: bold
    when: variant("hero-test") == "bold"
    actions:
      - add_class: { select: body, class: bold }
  - name: fresh
    actions:
      - hide_seen: { select: "ul.cards > li", id: "@data-id", keep_at_least: 1 }
      - json_hide_seen: { path: items, id: id }
  - name: moved
    when: path == "/old"
    actions:
      - redirect: { to: /new, status: 301 }
  - name: never
    when: cookie("x") == "never-set"
    actions:
      - remove: "#announce"
  - name: ghost
    actions:
      - remove: "#not-on-the-page"
  - name: header-loser
    when: geo.country == "FR"
    actions:
      - set_header: { name: X-Lang, value: other }
`

// run runs the tests of a file made of shop's rules and tests.
func run(t *testing.T, tests string) []ruletest.Result {
	t.Helper()
	s, prog := load(t, shop+"tests:\n"+tests)
	results, err := ruletest.RunWith(context.Background(), s, prog, ruletest.Options{Pages: pages})
	if err != nil {
		t.Fatal(err)
	}
	return results
}

// TestOutputExpectations checks each kind of expectation passing, then
// failing with a message that says what was expected and what came.
func TestOutputExpectations(t *testing.T) {
	pass := run(t, `
  - name: French
    context: { geo.country: FR }
    expect:
      page:
        "#hero h1": Bonjour
        "#hero .cta": { text: Shop the sale, attr: { href: /fr/ } }
        "#promo p": { contains: club }
        body: { class: home }
        "ul.cards > li": { count: 3 }
      headers: { X-Lang: fr }
      cookies: { lang: fr }
      redirect: none
  - name: crawler
    request: { headers: { User-Agent: "Googlebot/2.1 (+http://www.google.com/bot.html)" } }
    expect: { page: { "#promo": { gone: true } } }
  - name: seen items
    context: { visitor.id: alice }
    seen: [a, b]
    expect: { page: { 'li[data-id="a"]': { gone: true }, "ul.cards > li": { count: 1 } } }
  - name: json
    request: { url: /api/items.json }
    context: { geo.country: FR }
    seen: [a]
    expect: { json: { banner.title: Salut, items.0.id: b, "items.#": 1, count: 2, missing: ~ } }
  - name: redirect
    request: { url: /old }
    expect: { redirect: { to: /new, status: 301 } }
  - name: forced
    context: { variant(hero-test): bold }
    expect: { variants: { hero-test: bold }, page: { body: { class: bold } } }
  - name: a class a rule adds, not added
    context: { variant(hero-test): control }
    expect: { page: { body.bold: { gone: true } } }
`)
	for _, r := range pass {
		if !r.Passed() {
			t.Errorf("%s: %v", r.Test.Name, r.Failures)
		}
	}
	fail := run(t, `
  - name: all wrong
    context: { geo.country: FR }
    expect:
      page:
        "#hero h1": Hello world
        "#hero .cta": { attr: { href: /sale, target: _blank } }
        "#promo": { gone: true }
        "#nothing": { text: x }
        "#promos": { gone: true }
        body: { class: dark }
      headers: { X-Lang: de, X-Absent: "1" }
      cookies: { lang: de }
      redirect: /elsewhere
      variants: { hero-test: ~ }
`)
	got := strings.Join(fail[0].Failures, "\n")
	for _, want := range []string{
		`page "#hero h1": expected the text "Hello world", got "Bonjour"`,
		`page "#hero .cta": expected href="/sale", got "/fr/"`,
		`page "#hero .cta": expected target="_blank", but it has no target attribute`,
		`page "#promo": expected gone, but 1 element(s) match, the first <aside id="promo">`,
		`page "#nothing": no element matches`,
		// A check that holds whatever the rules do: a typo.
		`page "#promos": expected gone, which it always is: no element of the page the origin sends, nor of the html the rules insert, has the id "promos"; did you mean #promo?`,
		`page "body": expected the class "dark", got class="home`,
		`expected header X-Lang: "de", got "fr"`,
		`expected header X-Absent: "1", but it is not set`,
		`expected cookie lang="de", got "fr"`,
		`expected a redirect to /elsewhere, got none`,
		`expected no variant of hero-test, got`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the failures lack %q:\n%s", want, got)
		}
	}
	if strings.Count(got, "\n")+1 != 12 {
		t.Errorf("%d failures, want 12:\n%s", strings.Count(got, "\n")+1, got)
	}
}

// TestWhyNoMatch: a rule expected to match that did not says why. A
// capped rule that does not apply to a visitor who declines tracking, or
// to a prefetch, says so: it said its count was at its cap, as if the
// visitor had been shown it.
func TestWhyNoMatch(t *testing.T) {
	for _, tc := range []struct{ rule, test, want string }{
		{"    when: geo.country == \"FR\"\n", "", `expected r to match, but it did not: geo.country == "FR" (geo.country is missing) does not hold`},
		{"    enabled: false\n", "", "expected r to match, but it did not: the rule is switched off (enabled: false)"},
		{"    enabled: false\n    when: geo.country == \"FR\"\n", "", "expected r to match, but it did not: the rule is switched off (enabled: false)"},
		{"    at_most: 2 per 1d\n", "    shown: { r: 2 }\n", `expected r to match, but it did not: views of "r" per 1d < 2 (views of "r" per 1d = 2) does not hold`},
		{"    at_most: 2 per 1d\n", "    request: { headers: { Sec-GPC: \"1\" } }\n",
			"expected r to match, but it did not: the visitor declines tracking (Sec-GPC: 1), and a capped rule does not apply to a visitor it cannot count unless its at_most says untracked: show"},
		{"    at_most: 2 per 1d\n", "    request: { headers: { Sec-Purpose: prefetch } }\n",
			"expected r to match, but it did not: the request is a prefetch or prerender, which the browser may show without asking again: no capped rule applies to it, so that no showing goes uncounted"},
		{"    at_most: 2 per 1d\n    when: geo.country == \"FR\"\n", "    request: { headers: { Sec-GPC: \"1\" } }\n", `expected r to match, but it did not: geo.country == "FR" (geo.country is missing) does not hold`},
		// Applies as if never counted: what was shown before the
		// visitor declined is not read.
		{"    at_most: { times: 2, per: 1d, untracked: show }\n", "    request: { headers: { Sec-GPC: \"1\" } }\n    shown: { r: 2 }\n", ""},
	} {
		s, prog := load(t, "rules:\n  - name: r\n"+tc.rule+"    actions:\n      - remove: \"#x\"\ntests:\n  - name: t\n"+tc.test+"    expect: { match: [r] }\n")
		results, err := ruletest.Run(context.Background(), s, prog)
		if err != nil {
			t.Fatal(err)
		}
		// Where the rule is named is TestMatchFailuresAt's.
		got := strings.Join(results[0].Failures, "\n")
		if got != "" && !strings.HasPrefix(got, "rules.yaml:") {
			t.Errorf("%q: %s names no place", tc.rule, got)
		}
		if _, got, _ = strings.Cut(got, ": "); got != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.rule, got, tc.want)
		}
	}
}

// TestDeterministic: a test's visitor is the same on every run, whether it
// is named or not, so its variants never change.
func TestDeterministic(t *testing.T) {
	first := map[string][]string{}
	for range 12 {
		for _, r := range run(t, `
  - name: named
    context: { visitor.id: alice }
    expect: { no_match: [moved] }
  - name: new visitor
    expect: { no_match: [moved] }
  - name: by cookie
    request: { cookies: { bsk_vid: AAECAwQFBgcICQoLDA0ODw } }
    expect: { no_match: [moved] }
`) {
			if prev, ok := first[r.Test.Name]; ok && strings.Join(prev, ",") != strings.Join(r.Matched, ",") {
				t.Fatalf("%s matched %v, then %v", r.Test.Name, prev, r.Matched)
			}
			first[r.Test.Name] = r.Matched
		}
	}
}

func TestNoPage(t *testing.T) {
	s, prog := load(t, shop+`tests:
  - name: needs a page
    expect: { page: { "#hero h1": Hello } }
  - name: given a page
    page: { body: '<h1 id="t">Hi</h1>' }
    expect: { page: { "#t": Hi } }
  - name: names a page that is not there
    page: nothere.html
    expect: { no_match: [french] }
`)
	results, err := ruletest.Run(context.Background(), s, prog)
	if err != nil {
		t.Fatal(err)
	}
	if results[0].Passed() || !strings.Contains(results[0].Failures[0], "no page to check") {
		t.Errorf("without pages: %v", results[0].Failures)
	}
	if !results[1].Passed() {
		t.Errorf("with a page body: %v", results[1].Failures)
	}
	// Expecting only rules, it still does not test what it says.
	if results[2].Passed() || !strings.Contains(results[2].Failures[0], "nothere.html") {
		t.Errorf("with a page that cannot be read: %v", results[2].Failures)
	}
}

// TestNoPageInPages: a test whose URL has no page in the file's pages:
// says which files it looked for, and where.
func TestNoPageInPages(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "site"), 0o755)
	os.WriteFile(filepath.Join(dir, "site", "index.html"), []byte(`<h1>Hi</h1>`), 0o644)
	s, prog := load(t, "pages: site\n"+shop+`tests:
  - name: a page not saved
    request: { url: /news/whales }
    expect: { page: { h1: Hi } }
`)
	results, err := ruletest.RunWith(context.Background(), s, prog, ruletest.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	want := "no page to check: no page for /news/whales: no file news/whales.html or news/whales/index.html in site (the file's pages:); save the page there"
	if results[0].Passed() || !strings.Contains(results[0].Failures[0], want) {
		t.Errorf("%v, want %s", results[0].Failures, want)
	}
}

// TestCoverage: rules no test matches, actions no test applies, and why.
func TestCoverage(t *testing.T) {
	s, prog := load(t, shop+`tests:
  - name: French
    context: { geo.country: FR }
    expect: { match: [french] }
`)
	results, err := ruletest.RunWith(context.Background(), s, prog, ruletest.Options{Pages: pages})
	if err != nil {
		t.Fatal(err)
	}
	c := ruletest.CoverageOf(prog, results)
	if c.Rules != 8 || c.RulesMatched != 5 {
		t.Errorf("rules %d of %d matched", c.RulesMatched, c.Rules)
	}
	all := strings.Join(append(c.Unmatched, c.Unapplied...), "\n")
	for _, want := range []string{
		"quiet (rules.yaml:", "moved (rules.yaml:", "never (rules.yaml:",
		`ghost: remove "#not-on-the-page" (rules.yaml:36:9): its selector matched nothing on the tests' pages`,
		"header-loser: set_header X-Lang (rules.yaml:40:9): an earlier rule won it in every test",
		`fresh: hide_seen "ul.cards > li" (rules.yaml:24:9): it changed nothing on the tests' pages`,
		"fresh: json_hide_seen items (rules.yaml:25:9): no test's page is JSON",
		`quiet: remove "#promo" (rules.yaml:17:9): its rule never matched`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("coverage lacks %q:\n%s", want, all)
		}
	}
}

// TestCoverageRefused: an edit the rewriter refused on the tests' pages
// (a value of the request in the content of a <meta> another rule gives
// http-equiv) says so, not that another action took its element.
func TestCoverageRefused(t *testing.T) {
	s, prog := load(t, `rules:
  - name: refresh
    actions:
      - set_attr: { select: "#m2", name: http-equiv, value: refresh }
  - name: description
    actions:
      - set_attr: { select: "#m2", name: content, value: "{{ query('v') }}" }
tests:
  - name: page
    request: { url: "/?v=0;url=https://evil.example/" }
    page: { body: '<meta id="m2" name="description" content="shop">' }
    expect: { match: [refresh, description] }
`)
	results, err := ruletest.RunWith(context.Background(), s, prog, ruletest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !results[0].Passed() {
		t.Fatalf("%v", results[0].Failures)
	}
	c := ruletest.CoverageOf(prog, results)
	all := strings.Join(c.Unapplied, "\n")
	want := `description: set_attr "#m2" (rules.yaml:7:9): refused on the tests' pages: its value comes from the request, and the element, as the edits leave it, would run it as code`
	if !strings.Contains(all, want) || strings.Contains(all, "took its element") || c.ActionsApplied != 1 {
		t.Errorf("coverage (%d of %d applied) lacks %q:\n%s", c.ActionsApplied, c.Actions, want, all)
	}
}

// TestCoverageTaken: an edit whose element another action took on the
// tests' pages says so, not that its selector matched nothing.
func TestCoverageTaken(t *testing.T) {
	s, prog := load(t, `rules:
  - name: inner
    actions:
      - set_inner: { select: "#hero h1", text: Bonjour }
  - name: outer
    actions:
      - set_inner: { select: "#hero", html: "<h1>Winter</h1>" }
      - remove: "#nope"
tests:
  - name: page
    page: { body: '<div id="hero"><h1>Hi</h1></div>' }
    expect: { page: { "#hero h1": Winter } }
`)
	results, err := ruletest.RunWith(context.Background(), s, prog, ruletest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !results[0].Passed() {
		t.Fatalf("%v", results[0].Failures)
	}
	all := strings.Join(ruletest.CoverageOf(prog, results).Unapplied, "\n")
	for _, want := range []string{
		`inner: set_inner "#hero h1" (rules.yaml:4:9): another action took its element on the tests' pages`,
		`outer: remove "#nope" (rules.yaml:8:9): its selector matched nothing on the tests' pages`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("coverage lacks %q:\n%s", want, all)
		}
	}
}

// TestCoverageWithoutPages: a page edit that no test had a page for is
// not counted applied (what it selects is not known), and says why; a
// header, which needs no page, is.
func TestCoverageWithoutPages(t *testing.T) {
	s, prog := load(t, `rules:
  - name: french
    when: geo.country == "FR"
    actions:
      - set_inner: { select: "#hero h1", text: Bonjour }
      - add_class: { select: "#nope", class: x }
      - set_header: { name: X-Lang, value: fr }
tests:
  - name: French
    context: { geo.country: FR }
    expect: { match: [french] }
`)
	results, err := ruletest.RunWith(context.Background(), s, prog, ruletest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := ruletest.CoverageOf(prog, results)
	all := strings.Join(c.Unapplied, "\n")
	want := `french: set_inner "#hero h1" (rules.yaml:5:9): planned, but no test that matched its rule had a page to apply it to`
	if c.ActionsApplied != 1 || len(c.Unapplied) != 2 || !strings.Contains(all, want) {
		t.Errorf("coverage (%d of %d applied) lacks %q:\n%s", c.ActionsApplied, c.Actions, want, all)
	}
}

// TestCookieExpectationDecoded: a test expects a cookie's value as
// written, or as cookie() reads it back: set_cookie percent-encodes the
// space the query had.
func TestCookieExpectationDecoded(t *testing.T) {
	s, prog := load(t, `rules:
  - name: campaign
    actions:
      - set_cookie: { name: campaign, value: "{{ query('utm_campaign') }}" }
tests:
  - name: decoded
    request: { url: "/?utm_campaign=winter%20sale" }
    expect: { cookies: { campaign: "winter sale" } }
  - name: as sent
    request: { url: "/?utm_campaign=winter%20sale" }
    expect: { cookies: { campaign: "winter%20sale" } }
  - name: another value
    request: { url: "/?utm_campaign=winter%20sale" }
    expect: { cookies: { campaign: "summer sale" } }
`)
	results, err := ruletest.RunWith(context.Background(), s, prog, ruletest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 3 || !results[0].Passed() || !results[1].Passed() || results[2].Passed() {
		for _, r := range results {
			t.Errorf("%s: passed %v %v", r.Test.Name, r.Passed(), r.Failures)
		}
	}
}

// TestRolloutForced: context: { rollout(rule): in } puts the test's
// visitor in a rule's rollout, and out puts it out, whatever its id (a
// renamed test kept its result).
func TestRolloutForced(t *testing.T) {
	s, prog := load(t, `rules:
  - name: winter-sale
    rollout: 20%
    actions:
      - set_header: { name: X-Sale, value: "yes" }
tests:
  - name: in a
    context: { rollout(winter-sale): in }
    expect: { match: [winter-sale] }
  - name: in b
    context: { rollout(winter-sale): in }
    expect: { match: [winter-sale] }
  - name: out
    context: { visitor.id: alice, rollout(winter-sale): out }
    expect: { no_match: [winter-sale] }
`)
	results, err := ruletest.RunWith(context.Background(), s, prog, ruletest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if !r.Passed() {
			t.Errorf("%s: %v", r.Test.Name, r.Failures)
		}
	}
}

// TestJSONExpectationsAsTheVisitorReads: a JSON expectation reads the
// document as the visitor's JSON.parse does, the last of a repeated key,
// and compares numbers exactly; a document that starts with a byte order
// mark is edited, as the proxy edits it.
func TestJSONExpectationsAsTheVisitorReads(t *testing.T) {
	pass := run(t, `
  - name: odd
    request: { url: /api/odd.json }
    context: { geo.country: FR }
    expect: { json: { a: 2, big: 12345678901234567890, huge: 1e400, banner.title: Salut, gone: 'null' } }
`)
	if !pass[0].Passed() {
		t.Errorf("%v", pass[0].Failures)
	}
	fail := run(t, `
  - name: odd
    request: { url: /api/odd.json }
    expect: { json: { a: 1, big: 12345678901234567999, gone: null } }
`)
	got := strings.Join(fail[0].Failures, "\n")
	for _, want := range []string{"json a: expected 1, got 2", "json big: expected 12345678901234567999, got 12345678901234567890",
		"json gone: expected missing, got null (in YAML, a bare null means missing: to expect JSON null, write 'null')"} {
		if !strings.Contains(got, want) {
			t.Errorf("the failures lack %q:\n%s", want, got)
		}
	}
}

// TestJSONObjectExpectations: an object or a list expected of a JSON
// response is compared as JSON, member by member: the spaces between
// its tokens and the order of its members are the test writer's, the
// spaces inside its strings are text, and numbers compare exactly.
func TestJSONObjectExpectations(t *testing.T) {
	tests := []struct {
		name, want string
		pass       bool
	}{
		{"as sent", `license: '{"key":"mit","name":"MIT License","spdx_id":"MIT"}'`, true},
		{"spaced", `license: '{ "key": "mit", "name": "MIT License", "spdx_id": "MIT" }'`, true},
		{"members in another order", `license: '{"spdx_id":"MIT","name":"MIT License","key":"mit"}'`, true},
		{"escapes", `license: '{"key":"mit","name":"MIT\u0020License","spdx_id":"\u004dIT"}'`, true},
		{"a number written otherwise", `owner: '{"login":"octocat","id":1.0,"site_admin":false}'`, true},
		{"a list", `topics: '["api", "octocat"]'`, true},
		{"a space missing in a text", `license: '{"key":"mit","name":"MITLicense","spdx_id":"MIT"}'`, false},
		{"a space added in a text", `topics: '["api", "octo cat"]'`, false},
		{"a member missing", `license: '{"key":"mit","name":"MIT License"}'`, false},
		{"a member more", `license: '{"key":"mit","name":"MIT License","spdx_id":"MIT","url":null}'`, false},
		{"a list in another order", `topics: '["octocat","api"]'`, false},
		{"a yes/no for a number", `owner: '{"login":"octocat","id":true,"site_admin":false}'`, false},
		{"a text for an object", `license: 'MIT License'`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, `
  - name: repo
    request: { url: /api/repo.json }
    expect: { json: { `+tt.want+` } }
`)
			if res[0].Passed() != tt.pass {
				t.Errorf("passed %v, want %v: %v", res[0].Passed(), tt.pass, res[0].Failures)
			}
		})
	}
}

// TestConditionsAsDocumented runs, through the compiled plugin, what
// SYNTAX says of conditions an outside review found read otherwise: a
// pattern on a normalized attribute ignores case ("^f" holds for FR, as
// starts_with "f" does); a JSON yes/no is no number; a text is a number
// only as a decimal (not Go's 0x1p4 or 1_000).
func TestConditionsAsDocumented(t *testing.T) {
	s, prog := load(t, `
rules:
  - name: f-country
    when: geo.country matches "^f"
    actions: [ { set_inner: { select: "#hero h1", text: "F" } } ]
  - name: json-number
    when: json(cookie("j"), "n") >= 0
    actions: [ { set_inner: { select: "#announce", text: "N" } } ]
  - name: json-true
    when: json(cookie("j"), "n") == true
    actions: [ { set_inner: { select: "#promo", text: "T" } } ]
  - name: many
    when: cookie("n") >= 4
    actions: [ { add_class: { select: "#hero", class: many } } ]
tests:
  - name: France, a yes/no, a Go hexadecimal
    context: { geo.country: FR }
    request: { cookies: { j: '{"n":true}', n: "0x1p4" } }
    expect: { match: [f-country, json-true], no_match: [json-number, many] }
  - name: Germany, a JSON number, a separator
    context: { geo.country: DE }
    request: { cookies: { j: '{"n":0}', n: "1_000" } }
    expect: { match: [json-number], no_match: [f-country, json-true, many] }
  - name: a decimal
    request: { cookies: { n: " 4.0 " } }
    expect: { match: [many] }
`)
	results, err := ruletest.RunWith(context.Background(), s, prog, ruletest.Options{Pages: pages})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if !r.Passed() {
			t.Errorf("%s: %v", r.Test.Name, r.Failures)
		}
	}
}

// TestLegacyPageFile: a page file in windows-1252 (its <meta> says so)
// is rewritten as the proxy rewrites it, the inserted text in its
// encoding, and checked as the browser reads it.
func TestLegacyPageFile(t *testing.T) {
	dir := t.TempDir()
	page := "<!DOCTYPE html><meta charset=windows-1252><h1 id=hero class=caf\xe9>Caf\xe9</h1><p id=attr title=x>p</p>"
	if err := os.WriteFile(filepath.Join(dir, "home.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	src := `rules:
  - name: greet
    actions:
      - set_attr: { select: "#attr", name: title, value: "Grüße" }
      - add_class: { select: ".café", class: hit }
tests:
  - name: as the browser reads it
    page: home.html
    expect: { page: { "#hero": Café, "#attr": { attr: { title: "Grüße" } }, "#hero.hit": Café } }
`
	path := filepath.Join(dir, "rules.yaml")
	res, err := compiler.Compile(path, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{CacheDir: "-"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := site.Load(context.Background(), eng, path, res.Artifact, reqctx.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	results, err := ruletest.RunWith(context.Background(), s, res.Program, ruletest.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || !results[0].Passed() {
		t.Errorf("%+v", results)
	}
}

// TestNextViews: a test's next views (then:) see what the views before
// them left, as the proxy keeps it: a capped rule counted, an item marked
// seen, the items a list showed, the rules' cookies. A next view that
// fails says which view it is.
func TestNextViews(t *testing.T) {
	const rules = `
rules:
  - name: popup
    at_most: 2 per 1d
    actions:
      - insert_before: { select: "#hero", html: '<div class="popup">Join</div>' }
  - name: summer
    when: not seen("promo-summer")
    actions:
      - set_inner: { select: "#promo", text: Summer }
      - mark_seen: promo-summer
  - name: lang-cookie
    when: not cookie("lang") exists
    actions:
      - set_cookie: { name: lang, value: fr }
  - name: fresh
    actions:
      - hide_seen: { select: "ul.cards > li", id: "@data-id", keep_at_least: 1 }
tests:
  - name: three views
    expect:
      match: [popup, summer, lang-cookie]
      page: { "ul.cards > li": { count: 3 } }
    then:
      - expect:
          match: [popup]
          no_match: [summer, lang-cookie]
          page: { "ul.cards > li": { count: 1 }, ".popup": { text: Join } }
      - url: /elsewhere
        page: { body: '<section id="hero"></section>' }
        expect:
          no_match: [popup]
          page: { ".popup": { gone: true } }
  - name: a wrong expectation of view 2
    then:
      - expect: { match: [summer] }
    expect: { match: [summer] }
`
	s, prog := load(t, rules)
	results, err := ruletest.RunWith(context.Background(), s, prog, ruletest.Options{Pages: pages})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 {
		t.Fatalf("%d results, want 2", len(results))
	}
	if !results[0].Passed() {
		t.Errorf("three views: %q", results[0].Failures)
	}
	want := []string{"view 2: rules.yaml:36:27: expected summer to match, but it did not: not seen(\"promo-summer\") does not hold"}
	if got := results[1].Failures; !slices.Equal(got, want) {
		t.Errorf("failures %q, want %q", got, want)
	}
	cov := ruletest.CoverageOf(prog, results)
	if len(cov.Unmatched) != 0 || cov.ActionsApplied != cov.Actions {
		t.Errorf("coverage: %+v", cov)
	}
}

// TestNumberedItems: a JSON API's items with numbers for ids are written
// as numbers in a test's seen list, and the items a view showed, numbers
// or strings, are seen in the next, as the proxy records them.
func TestNumberedItems(t *testing.T) {
	const rules = `
rules:
  - name: fresh
    actions:
      - json_hide_seen: { path: items, id: id, keep_at_least: 1 }
tests:
  - name: numbers
    request: { url: /api/numbered.json }
    seen: [101]
    expect: { json: { "items.#": 2, items.0.id: 102, items.1.id: "103" } }
    then:
      # 102 and 103 were shown: the one kept is 101, seen longest ago.
      - expect: { json: { "items.#": 1, items.0.id: 101 } }
`
	numbered := maps.Clone(pages)
	numbered["api/numbered.json"] = &fstest.MapFile{Data: []byte(`{"items":[{"id":101},{"id":102},{"id":"103"}]}`)}
	s, prog := load(t, rules)
	results, err := ruletest.RunWith(context.Background(), s, prog, ruletest.Options{Pages: numbered})
	if err != nil {
		t.Fatal(err)
	}
	if !results[0].Passed() {
		t.Errorf("failures %q", results[0].Failures)
	}
}

// TestConsentCookie: a test visitor whose consent cookie declines (the
// proxy's seen.consent_cookie, given in Options) is one the proxy keeps
// nothing for, as one sending Sec-GPC: 1: what a view shows is not seen
// in the next, and a capped rule does what its untracked says. Tests
// took such a visitor for one who consents, which the proxy does not.
func TestConsentCookie(t *testing.T) {
	const rules = `
rules:
  - name: popup
    at_most: 2 per 1d
    actions:
      - insert_before: { select: "#hero", html: '<div class="popup">Join</div>' }
  - name: fresh
    actions:
      - hide_seen: { select: "ul.cards > li", id: "@data-id", keep_at_least: 1 }
tests:
  - name: declines
    request: { cookies: { consent: denied } }
    expect:
      no_match: [popup]
      page: { "ul.cards > li": { count: 3 } }
    then:
      - expect: { page: { "ul.cards > li": { count: 3 } } }
  - name: consents
    request: { cookies: { consent: granted } }
    expect:
      match: [popup]
      page: { "ul.cards > li": { count: 3 } }
    then:
      - expect: { page: { "ul.cards > li": { count: 1 } } }
`
	s, prog := load(t, rules)
	for _, tt := range []struct {
		name string
		opt  ruletest.Options
		fail map[string]bool // by test name
	}{
		{"consent cookie", ruletest.Options{Pages: pages, ConsentCookie: "consent", ConsentDeny: []string{"no", "denied"}}, nil},
		{"without one", ruletest.Options{Pages: pages}, map[string]bool{"declines": true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			results, err := ruletest.RunWith(context.Background(), s, prog, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range results {
				if r.Passed() == tt.fail[r.Test.Name] {
					t.Errorf("%s: passed %v, failures %q", r.Test.Name, r.Passed(), r.Failures)
				}
			}
		})
	}
}

// TestAbsenceNoRuleCanBreak: a header, request header or cookie
// expected absent that no rule ever sets (a typo in its name) is a
// check that holds whatever the rules do: it fails, naming the nearest
// one the rules set. One a rule sets is checked as written.
func TestAbsenceNoRuleCanBreak(t *testing.T) {
	results := run(t, `
  - name: German
    context: { geo.country: DE }
    expect:
      headers: { X-Lang: ~, Location: ~ }
      cookies: { lang: ~ }
  - name: typos
    context: { geo.country: DE }
    expect:
      headers: { X-Lnag: ~ }
      request_headers: { X-Lang: ~ }
      cookies: { lnag: ~ }
`)
	if !results[0].Passed() {
		t.Errorf("%s: %v", results[0].Test.Name, results[0].Failures)
	}
	got := strings.Join(results[1].Failures, "\n")
	for _, want := range []string{
		`expected no header X-Lnag, which no rule sets: the check holds whatever the rules do; did you mean X-Lang?`,
		`expected no request header X-Lang, which no rule sets: the check holds whatever the rules do`,
		`expected no cookie lnag, which no rule sets: the check holds whatever the rules do; did you mean lang?`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the failures lack %q:\n%s", want, got)
		}
	}
	if n := len(results[1].Failures); n != 3 {
		t.Errorf("%d failures, want 3:\n%s", n, got)
	}
}

// at is where the n-th (from 1) occurrence of mark starts in src, as
// rules.yaml:line:col.
func at(t *testing.T, src, mark string, n int) string {
	t.Helper()
	off := -1
	for range n {
		i := strings.Index(src[off+1:], mark)
		if i < 0 {
			t.Fatalf("%q occurs fewer than %d times", mark, n)
		}
		off += 1 + i
	}
	line := strings.Count(src[:off], "\n") + 1
	col := off - strings.LastIndex(src[:off], "\n")
	return fmt.Sprintf("rules.yaml:%d:%d", line, col)
}

// TestMatchFailuresAt: a failed match: or no_match: names where the
// rule's name is written in the list, as the other checks name theirs:
// said only by the rule's name, it sent the editor looking through the
// test, or through every view of it.
func TestMatchFailuresAt(t *testing.T) {
	tests := `
  - name: wrong
    context: { geo.country: FR }
    expect:
      match: [quiet, moved]
      no_match:
        - bold
        - french
    then:
      - expect: { match: [never] }
`
	s, prog := load(t, shop+"tests:\n"+tests)
	results, err := ruletest.RunWith(context.Background(), s, prog, ruletest.Options{Pages: pages})
	if err != nil {
		t.Fatal(err)
	}
	src := shop + "tests:\n" + tests
	want := []string{
		at(t, src, "quiet, moved", 1) + `: expected quiet to match, but it did not: device.bot (device.bot = "false") does not hold`,
		at(t, src, "moved]", 1) + `: expected moved to match, but it did not: path == "/old" (path = "/") does not hold`,
		at(t, src, "french\n", 2) + `: expected french not to match, but it did: geo.country == "FR" (geo.country = "FR") holds`,
		"view 2: " + at(t, src, "never]", 1) + `: expected never to match, but it did not: cookie("x") == "never-set" (cookie("x") is missing) does not hold`,
	}
	if got := results[0].Failures; !slices.Equal(got, want) {
		t.Errorf("failures:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestFailuresAt: each failed check names the file, line and column of
// what failed, as the compiler's errors do: "line 47" did not say which
// of the checks a flow mapping writes on one line failed, and an editor
// or a terminal opens file:line:col where it cannot open "line 47".
func TestFailuresAt(t *testing.T) {
	tests := `
  - name: wrong
    context: { geo.country: FR }
    expect:
      page:
        "#hero h1": Hello world
        "#hero .cta": { attr: { href: /sale, target: _blank } }
        "#nothing": { text: x }
      headers: { X-Lang: de, X-Absent: "1" }
      request_headers: { X-Tier: ~ }
      cookies: { lang: de }
      variants: { hero-test: ~ }
  - name: json
    request: { url: /api/odd.json }
    expect: { json: { a: 1, big: 2 } }
  - name: html as json
    expect: { json: { a: 1 } }
  - name: redirected page
    request: { url: /old }
    expect: { page: { "#hero": x } }
`
	src := shop + "tests:\n" + tests
	s, prog := load(t, src)
	results, err := ruletest.RunWith(context.Background(), s, prog, ruletest.Options{Pages: pages})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range results {
		got = append(got, r.Failures...)
	}
	for _, want := range []string{
		at(t, src, `Hello world`, 1) + `: page "#hero h1": expected the text "Hello world", got "Bonjour"`,
		at(t, src, `href: /sale`, 1) + `: page "#hero .cta": expected href="/sale", got "/fr/"`,
		at(t, src, `target: _blank`, 1) + `: page "#hero .cta": expected target="_blank", but it has no target attribute`,
		at(t, src, `"#nothing"`, 1) + `: page "#nothing": no element matches`,
		at(t, src, `X-Lang: de`, 1) + `: expected header X-Lang: "de", got "fr"`,
		at(t, src, `X-Absent`, 1) + `: expected header X-Absent: "1", but it is not set`,
		at(t, src, `X-Tier`, 1) + `: expected no request header X-Tier, which no rule sets`,
		at(t, src, `lang: de`, 1) + `: expected cookie lang="de", got "fr"`,
		at(t, src, `hero-test: ~`, 1) + `: expected no variant of hero-test, got`,
		at(t, src, `a: 1, big`, 1) + `: json a: expected 1, got 2`,
		at(t, src, `big: 2`, 1) + `: json big: expected 2, got 12345678901234567890`,
		at(t, src, `a: 1 }`, 1) + `: the page is HTML: check it with page:, not json:`,
		at(t, src, `"#hero": x`, 1) + `: the visitor is redirected to /new, so there is no page to check`,
	} {
		if !slices.ContainsFunc(got, func(f string) bool { return strings.HasPrefix(f, want) }) {
			t.Errorf("the failures lack %q:\n%s", want, strings.Join(got, "\n"))
		}
	}
}

// TestRedirectDifferences: a redirect check says every way the redirect
// differs from it, in one failure: it said only that the target
// differed, and once the target was fixed, that the status did.
func TestRedirectDifferences(t *testing.T) {
	for _, tc := range []struct{ check, want string }{
		{"{ to: /new, status: 301 }", ""},
		{"/new", ""},
		{"{ to: /newer, status: 302 }", "expected a redirect to /newer with status 302, got one to /new with status 301"},
		{"{ to: /newer, status: 301 }", "expected a redirect to /newer, got one to /new"},
		{"{ to: /new, status: 302 }", "expected a redirect with status 302, got 301"},
		{"none", "expected no redirect, got 301 to /new"},
	} {
		results := run(t, "  - name: t\n    request: { url: /old }\n    expect:\n      redirect: "+tc.check+"\n")
		got := strings.Join(results[0].Failures, "\n")
		if tc.want != "" {
			tc.want = at(t, shop+"tests:\n  - name: t\n    request: { url: /old }\n    expect:\n      redirect: "+tc.check, tc.check, 1) + ": " + tc.want
		}
		if got != tc.want {
			t.Errorf("redirect: %s:\n got %s\nwant %s", tc.check, got, tc.want)
		}
	}
	results := run(t, "  - name: t\n    expect:\n      redirect: { to: /new, status: 301 }\n")
	if got, want := strings.Join(results[0].Failures, "\n"), "expected a redirect to /new with status 301, got none"; !strings.HasSuffix(got, ": "+want) {
		t.Errorf("no redirect:\n got %s\nwant %s", got, want)
	}
}

// TestNoElementSaysWhy: a page check whose selector matches nothing
// says why, as a gone: check does: a selector nothing could ever match
// (a typo) names the nearest that one does, and an element the origin's
// page has that the rules took away says so. "no element matches"
// alone left the editor to tell a typo from a rule that removed it.
func TestNoElementSaysWhy(t *testing.T) {
	results := run(t, `
  - name: t
    context: { device.bot: true }
    expect:
      page:
        "#promos": { text: Join the club }
        "#promo p": Join the club
        "#hero > p": Hello
`)
	got := strings.Join(results[0].Failures, "\n")
	for _, want := range []string{
		`page "#promos": no element matches: no element of the page the origin sends, nor of the html the rules insert, has the id "promos"; did you mean #promo?`,
		`page "#promo p": no element matches, where the page the origin sends has 1: the rules removed or replaced it`,
		`page "#hero > p": no element matches, on the page the origin sends either`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the failures lack %q:\n%s", want, got)
		}
	}
}

// TestExpectedNoRuleSets: a header, request header or cookie expected
// with a value that is not set, and that no rule sets, says so, with
// the nearest one a rule sets: a typo in its name reads as a rule that
// did not apply.
func TestExpectedNoRuleSets(t *testing.T) {
	results := run(t, `
  - name: typos
    context: { geo.country: FR }
    expect:
      headers: { X-Lnag: fr }
      request_headers: { X-Tier: gold }
      cookies: { lnag: fr }
  - name: not applied
    context: { geo.country: DE }
    expect:
      headers: { X-Lang: fr }
`)
	got := strings.Join(results[0].Failures, "\n")
	for _, want := range []string{
		`expected header X-Lnag: "fr", but it is not set, and no rule sets it; did you mean X-Lang?`,
		`expected request header X-Tier: "gold", but it is not set, and no rule sets it`,
		`expected cookie lnag="fr", but it is not set, and no rule sets it; did you mean lang?`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the failures lack %q:\n%s", want, got)
		}
	}
	if got := strings.Join(results[1].Failures, "\n"); !strings.HasSuffix(got, `expected header X-Lang: "fr", but it is not set`) {
		t.Errorf("a header a rule sets: %s", got)
	}
}

// TestNoPageSaysWhere: a test whose page cannot be had says where it
// was looked for and what to do, as it does for the file's pages: a
// page file named by the test was said in Go's words ("open
// nothere.html: no such file or directory"), and a page missing from
// bespoke test --pages named no directory and no way out.
func TestNoPageSaysWhere(t *testing.T) {
	s, prog := load(t, shop+`tests:
  - name: names a page that is not there
    page: nothere.html
    expect: { no_match: [french] }
  - name: a page not saved
    request: { url: /news/whales }
    expect: { page: { h1: Hi } }
`)
	results, err := ruletest.RunWith(context.Background(), s, prog, ruletest.Options{Dir: t.TempDir(), Pages: pages, PagesName: "saved (--pages)"})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{
		`no page to check: nothere.html: no such file beside the rule file; save the page there, or give the test a page (page: { body: '<h1>Hi</h1>' })`,
		`no page to check: no page for /news/whales: no file news/whales.html or news/whales/index.html in saved (--pages); save the page there, or give the test a page (page: { body: '<h1>Hi</h1>' })`,
	} {
		if got := strings.Join(results[i].Failures, "\n"); !strings.HasSuffix(got, ": "+want) {
			t.Errorf("%s:\n got %s\nwant %s", results[i].Test.Name, got, want)
		}
	}
}

// TestPageFailuresAtTheirField: a page check's text, contains and class
// fail where each is written, as its attr: does: all said the place of
// the selector, though one check may write them all on its line.
func TestPageFailuresAtTheirField(t *testing.T) {
	tests := `
  - name: t
    expect:
      page:
        "#hero .cta": { text: Go, contains: Stop, class: [cta, big] }
`
	src := shop + "tests:\n" + tests
	s, prog := load(t, src)
	results, err := ruletest.RunWith(context.Background(), s, prog, ruletest.Options{Pages: pages})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		at(t, src, "Go,", 1) + `: page "#hero .cta": expected the text "Go", got "Shop the sale"`,
		at(t, src, "Stop,", 1) + `: page "#hero .cta": expected the text to contain "Stop", got "Shop the sale"`,
		at(t, src, "big]", 1) + `: page "#hero .cta": expected the class "big", got class="cta"`,
	}
	if got := results[0].Failures; !slices.Equal(got, want) {
		t.Errorf("failures:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestFailuresInFileOrder: a test's failures come in the order its
// checks are written, as the editor reads the test: they came by kind
// (rules, variants, headers, cookies, redirect, page, JSON), so a page
// check written first was said last.
func TestFailuresInFileOrder(t *testing.T) {
	results := run(t, `
  - name: t
    context: { geo.country: FR }
    expect:
      page: { "#hero h1": Hello }
      cookies: { lang: de }
      headers: { X-Lang: de }
      variants: { hero-test: ~ }
      no_match: [french]
`)
	got := results[0].Failures
	want := []string{"page \"#hero h1\"", "cookie lang", "header X-Lang", "variant of hero-test", "french not to match"}
	if len(got) != len(want) {
		t.Fatalf("%d failures, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("failure %d is %q, want the one of %s:\n%s", i+1, got[i], want[i], strings.Join(got, "\n"))
		}
	}
}

// TestForcedVariantAt: a variant forced on a visitor the experiment does
// not enroll fails where the context forces it, not at the test's name.
func TestForcedVariantAt(t *testing.T) {
	const rules = `experiments:
  - name: hero-test
    when: geo.country == "FR"
    variants: { control: 50, bold: 50 }
rules:
  - name: bold
    when: variant("hero-test") == "bold"
    actions:
      - add_class: { select: body, class: bold }
tests:
  - name: forced
    context: { geo.country: DE, variant(hero-test): bold }
    expect: { no_match: [bold] }
`
	s, prog := load(t, rules)
	results, err := ruletest.Run(context.Background(), s, prog)
	if err != nil {
		t.Fatal(err)
	}
	want := at(t, rules, "variant(hero-test): bold", 1) + ": variant \"bold\" of hero-test was forced, but the experiment does not enroll this visitor (its `when` does not hold)"
	if got := strings.Join(results[0].Failures, "\n"); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestWhyMatched: a rule expected not to match that did says why, as
// one expected to match that did not does: "but it did" alone left the
// editor to find which value made its condition hold.
func TestWhyMatched(t *testing.T) {
	results := run(t, `
  - name: t
    context: { geo.country: FR }
    expect: { no_match: [french, fresh] }
`)
	got := strings.Join(results[0].Failures, "\n")
	for _, want := range []string{
		`expected french not to match, but it did: geo.country == "FR" (geo.country = "FR") holds`,
		`expected fresh not to match, but it did: it has no condition, so it applies to every visitor`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the failures lack %q:\n%s", want, got)
		}
	}
}

// TestViewNotRunAt: a next view that could not run, the view before it
// not served, says where it is written, as every failure does; a page
// given as JSON that is not says how to write it, not in the words of
// the package that read it ("jsonrw: not valid JSON").
func TestViewNotRunAt(t *testing.T) {
	tests := `
  - name: t
    page: { body: '{"a": ', type: json }
    expect: { json: { a: 1 } }
    then:
      - expect: { match: [fresh] }
`
	src := shop + "tests:\n" + tests
	s, prog := load(t, src)
	results, err := ruletest.RunWith(context.Background(), s, prog, ruletest.Options{Pages: pages})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		at(t, src, "{ body: '{", 1) + ": the page is not valid JSON (a body of type: json): correct it, or write type: html",
		"view 2: " + at(t, src, "expect: { match: [fresh] }", 1) + ": not run: the view before it was not served",
	}
	if got := results[0].Failures; !slices.Equal(got, want) {
		t.Errorf("failures:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestPrivateCacheControlSaysWhy: a Cache-Control expected of a page
// made for the visitor, which the proxy sends private, says why it is
// private: the rule's own set_header wrote the value the test expects,
// and "got private" read as a bug of the rule.
func TestPrivateCacheControlSaysWhy(t *testing.T) {
	results := run(t, `
  - name: t
    context: { geo.country: FR }
    expect: { headers: { Cache-Control: "public, max-age=300" } }
`)
	got := strings.Join(results[0].Failures, "\n")
	want := `: the proxy sends a page made for this visitor private, whatever the origin or a rule's set_header says: expect what it sends`
	if !strings.Contains(got, `expected header Cache-Control: "public, max-age=300", got "private`) || !strings.HasSuffix(got, want) {
		t.Errorf("got  %s\nwant it to end with %s", got, want)
	}
}

// TestNotEnrolledSaysWhy: a variant expected of a visitor the
// experiment does not enroll says why it does not, as a variant forced
// on such a visitor does: "got none (not enrolled)" left the editor to
// guess between its when and what it buckets by.
func TestNotEnrolledSaysWhy(t *testing.T) {
	s, prog := load(t, `experiments:
  - name: hero-test
    when: geo.country == "FR"
    variants: { control: 50, bold: 50 }
  - name: plan-test
    by: cookie("account")
    variants: { a: 50, b: 50 }
  - name: small-test
    variants: { a: 1, b: 1 }
  - name: gpc-test
    variants: { a: 50, b: 50 }
rules:
  - name: bold
    when: variant("hero-test") == "bold" or variant("plan-test") == "b" or variant("small-test") == "b"
    actions:
      - add_class: { select: body, class: bold }
tests:
  - name: t
    context: { geo.country: DE }
    expect: { variants: { hero-test: bold, plan-test: b, small-test: b } }
  - name: declines
    request: { headers: { Sec-GPC: "1" } }
    expect: { variants: { gpc-test: a } }
`)
	results, err := ruletest.Run(context.Background(), s, prog)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(results[0].Failures, "\n")
	for _, want := range []string{
		"expected variant \"bold\" of hero-test, got none (not enrolled: its `when` does not hold)",
		"expected variant \"b\" of plan-test, got none (not enrolled: it buckets visitors by cookie(\"account\"), which this visitor has not)",
		"expected variant \"b\" of small-test, got none (not enrolled: its variants share 2% of visitors, and this visitor's bucket, ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the failures lack %q:\n%s", want, got)
		}
	}
	want := "expected variant \"a\" of gpc-test, got none (not enrolled: it buckets visitors by visitor.id, and a new visitor who declines tracking has none"
	if got := strings.Join(results[1].Failures, "\n"); !strings.Contains(got, want) {
		t.Errorf("the failures lack %q:\n%s", want, got)
	}
}
