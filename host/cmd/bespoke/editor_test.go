package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/demo"
	"github.com/bespoke-edge/bespoke/host/internal/preview"
	"github.com/bespoke-edge/bespoke/internal/syncbuf"
)

// writeFile writes a rule file in a temporary directory.
func writeFile(t *testing.T, name, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// brokenFile extracts the rule file of one of testdata/broken's cases.
func brokenFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../../testdata/broken/" + name + ".txtar")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(b), "-- rules.yaml --\n")
	src, _, _ := strings.Cut(rest, "-- want --\n")
	return writeFile(t, "rules.yaml", src)
}

// TestCheckEveryErrorInOnePass is the regression test of a file whose
// YAML errors hid its other errors: all eleven come in one pass.
func TestCheckEveryErrorInOnePass(t *testing.T) {
	path := brokenFile(t, "25-eleven-errors")
	code, out, errOut := bespoke("check", path)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	if n := strings.Count(errOut, path+":"); n != 11 || !strings.Contains(errOut, "11 errors") {
		t.Errorf("%d errors reported:\n%s%s", n, out, errOut)
	}
}

func TestCheckJSON(t *testing.T) {
	path := writeFile(t, "rules.yaml", `rules:
  - name: uk
    when: geo.country == "UK" and visitor.hour >= 0
    actions:
      - set_inner: { select: #promo, text: Hi }
`)
	code, out, _ := bespoke("check", "--format", "json", path)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var got []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var d map[string]any
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("not one JSON object a line: %q", line)
		}
		// Every field, every time: a plugin reads them without asking
		// whether they are there.
		for _, k := range []string{"file", "line", "col", "severity", "message", "suggestion", "code"} {
			if _, ok := d[k]; !ok {
				t.Errorf("%q has no %s", line, k)
			}
		}
		got = append(got, d)
	}
	want := []map[string]any{
		{"file": path, "line": 3.0, "col": 26.0, "severity": "error", "code": "never-matches", "suggestion": `did you mean "GB" (United Kingdom)?`},
		{"file": path, "line": 3.0, "col": 51.0, "severity": "warning", "code": "always-matches"},
		{"file": path, "line": 5.0, "col": 30.0, "severity": "error", "code": "yaml-comment", "suggestion": `quote it: select: "#promo"`},
	}
	if len(got) != len(want) {
		t.Fatalf("%d diagnostics:\n%s", len(got), out)
	}
	for i, w := range want {
		for k, v := range w {
			if got[i][k] != v {
				t.Errorf("diagnostic %d: %s = %v, want %v", i, k, got[i][k], v)
			}
		}
		if msg, _ := got[i]["message"].(string); msg == "" {
			t.Errorf("diagnostic %d has no message", i)
		}
	}
	// Warnings alone do not fail the check.
	path = writeFile(t, "ok.yaml", "rules:\n  - name: a\n    when: visitor.hour >= 0\n    actions: [remove: \"#a\"]\n")
	if code, out, _ := bespoke("check", "--format", "json", path); code != 0 || !strings.Contains(out, `"severity":"warning"`) {
		t.Errorf("warnings only: exit %d\n%s", code, out)
	}
}

// TestTestDoesNotCompile: bespoke test on a broken file prints the errors
// and exits 3, apart from failed tests (1).
func TestTestDoesNotCompile(t *testing.T) {
	path := brokenFile(t, "16-country-codes")
	code, out, errOut := bespoke("test", path)
	if code != 3 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(errOut, path+`:3:26: "UK" is not a country code`) || !strings.Contains(out, "does not compile, so no test ran") {
		t.Errorf("output:\n%s%s", out, errOut)
	}
	failing := writeFile(t, "f.yaml", "rules:\n  - name: a\n    when: geo.country == \"FR\"\n    actions: [remove: \"#a\"]\ntests:\n  - name: t\n    expect: { match: [a] }\n")
	if code, out, _ := bespoke("test", failing); code != 1 || !strings.Contains(out, "FAIL  "+failing+":6:5 t\n") || !strings.Contains(out, failing+":7:23: expected a to match, but it did not: geo.country == \"FR\"") ||
		!strings.Contains(out, "matched: no rule\n") {
		t.Errorf("a failing test: exit %d\n%s", code, out)
	}
	// A file that is not there: no test ran, which is not a test that
	// failed.
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	if code, out, errOut := bespoke("test", missing, failing); code != 3 || !strings.Contains(out, missing+": cannot be read, so no test ran") ||
		!strings.Contains(errOut, "no such file") {
		t.Errorf("a missing file: exit %d\n%s%s", code, out, errOut)
	}
}

// TestTestViewsMatched: a test with next views that fails says what each
// view matched: a view fails by its own rules, not the first view's.
func TestTestViewsMatched(t *testing.T) {
	path := writeFile(t, "then.yaml", `rules:
  - name: only-once
    at_most: 1 per 1d
    actions:
      - set_inner: { select: "#promo", text: "Once" }
  - name: always
    actions:
      - add_class: { select: body, class: x }
tests:
  - name: the second view
    page: { body: '<body><p id="promo">Welcome</p></body>' }
    expect: { match: [only-once, always] }
    then:
      - expect: { page: { "#promo": Once } }
`)
	code, out, _ := bespoke("test", path)
	if code != 1 || !strings.Contains(out, "view 2: "+path+":14:37: page \"#promo\": expected the text \"Once\", got \"Welcome\"\n"+
		"      view 1 matched: only-once, always\n      view 2 matched: always\n") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

const experimentRules = `experiments:
  - name: cta-text
    variants: { control: 50, urgent: 50 }
rules:
  - name: urgent-cta
    when: variant("cta-text") == "urgent"
    actions:
      - set_inner: { select: ".cta", text: Now }
`

var bucketLine = regexp.MustCompile(`cta-text\s+(\w+)\s+bucket (\d+) of 10000`)

func explainBucket(t *testing.T, args ...string) (variant, bucket string) {
	t.Helper()
	code, out, errOut := bespoke(append([]string{"explain"}, args...)...)
	if code != 0 {
		t.Fatalf("explain %v: exit %d %s", args, code, errOut)
	}
	m := bucketLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("explain %v: no bucket:\n%s", args, out)
	}
	return m[1], m[2]
}

// TestEveryWayOfNamingAVisitor is the regression test of experiment tests
// that passed 2 runs out of 12: every way of naming a visitor buckets as
// the proxy does, on every run.
func TestEveryWayOfNamingAVisitor(t *testing.T) {
	rulesFile := writeFile(t, "rules.yaml", experimentRules)
	v, b := explainBucket(t, "--rules", rulesFile, "--visitor", "alice")
	for run := range 3 {
		for _, args := range [][]string{{"--visitor", "alice"}, {"--set", "visitor.id=alice"}, {"--cookie", "other=1", "--set", "visitor.id=alice"}} {
			if v2, b2 := explainBucket(t, append([]string{"--rules", rulesFile}, args...)...); v2 != v || b2 != b {
				t.Fatalf("run %d, %v: %s bucket %s, but --visitor alice gives %s bucket %s", run, args, v2, b2, v, b)
			}
		}
	}
	id := "AAECAwQFBgcICQoLDA0ODw"
	v1, b1 := explainBucket(t, "--rules", rulesFile, "--cookie", "bsk_vid="+id)
	if v2, b2 := explainBucket(t, "--rules", rulesFile, "--visitor", id); v1 != v2 || b1 != b2 {
		t.Errorf("the cookie gives %s %s, --visitor %s %s", v1, b1, v2, b2)
	}
	if code, _, errOut := bespoke("explain", "--rules", rulesFile, "--cookie", "bsk_vid=alice"); code != 2 || !strings.Contains(errOut, "not a visitor id the proxy issues") {
		t.Errorf("an invalid visitor cookie: exit %d %s", code, errOut)
	}
	_, n1 := explainBucket(t, "--rules", rulesFile)
	if _, n2 := explainBucket(t, "--rules", rulesFile); n1 != n2 {
		t.Errorf("a new visitor: bucket %s, then %s", n1, n2)
	}
	// A test naming alice expects what explain says, twelve times.
	tests := experimentRules + `tests:
  - name: alice by visitor.id
    context: { visitor.id: alice }
    expect: { variants: { cta-text: ` + v + ` } }
  - name: alice again
    context: { visitor.id: alice }
    expect: { variants: { cta-text: ` + v + ` } }
  - name: forced
    context: { variant(cta-text): urgent }
    expect: { match: [urgent-cta], variants: { cta-text: urgent } }
`
	testFile := writeFile(t, "tests.yaml", tests)
	for run := range 12 {
		if code, out, _ := bespoke("test", testFile); code != 0 {
			t.Fatalf("run %d: exit %d\n%s", run, code, out)
		}
	}
	for _, args := range [][]string{{"--variant", "cta-text=urgent"}, {"--set", "variant(cta-text)=urgent"}} {
		if v, _ := explainBucket(t, append([]string{"--rules", rulesFile, "--visitor", "alice"}, args...)...); v != "urgent" {
			t.Errorf("%v: variant %s", args, v)
		}
	}
}

// TestExplainJSONPage: explain --html on a JSON URL applies the JSON
// actions.
func TestExplainJSONPage(t *testing.T) {
	code, out, errOut := bespoke("explain", "--rules", demoRules, "--url", "/api/recommendations.json", "--visitor", "alice", "--seen", "sku-1001", "--html")
	if code != 0 {
		t.Fatalf("exit %d %s", code, errOut)
	}
	_, body, _ := strings.Cut(out, "--- JSON ---\n")
	if !strings.Contains(out, "JSON edits applied:") || !strings.Contains(out, "json_hide_seen") || !strings.Contains(body, `"sku-1002"`) || strings.Contains(body, `"sku-1001"`) {
		t.Errorf("output:\n%s", out)
	}
}

// TestExplainBundledRulesPage: explain --html without --rules or --plugin
// rewrites the bundled demo's page for the URL, as its -h says, wherever
// it runs: the demo rules' pages: names the demo site bundled with them,
// not a folder of the current directory.
func TestExplainBundledRulesPage(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"/", "--- page ---\n"},
		{"/api/recommendations.json", "--- JSON ---\n"},
	} {
		code, out, errOut := bespoke("explain", "--url", tc.url, "--html")
		if code != 0 || !strings.Contains(out, tc.want) {
			t.Errorf("%s: exit %d, want %q in the output\n%s%s", tc.url, code, tc.want, out, errOut)
		}
	}
}

// TestExplainTakenEdits: explain says which action took the element of
// an edit that changed nothing where its selector selects something: an
// earlier rule's on the same element, or a later rule's on one around it
// (the page streams); and a JSON-only change personalizes the response.
func TestExplainTakenEdits(t *testing.T) {
	rulesFile := writeFile(t, "rules.yaml", `rules:
  - name: lyon-title
    actions:
      - set_inner: { select: "#hero h1", text: "Bonjour Lyon" }
  - name: winter
    actions:
      - set_inner: { select: "#hero", html: "<h1>Winter sale</h1>" }
      - set_inner: { select: "#promo", text: later }
  - name: third
    actions:
      - set_inner: { select: "#promo", text: third }
      - set_inner: { select: "#nowhere", text: none }
      - json_set: { path: banner.title, value: "Hello" }
  - name: cards
    actions:
      - limit: { select: .card, n: 1 }
`)
	page := writeFile(t, "page.html", `<section id="hero"><h1>Hello</h1></section><p id="promo">x</p><ul><li><b class="card">A</b></li><li><b class="card">B</b></li></ul>`)
	code, out, errOut := bespoke("explain", "--rules", rulesFile, "--page", page, "--html")
	if code != 0 {
		t.Fatalf("exit %d %s", code, errOut)
	}
	for _, want := range []string{
		`lyon-title               set_inner      0 element(s)   (taken by winter set_inner "#hero": its element is inside one that action replaced or removed`,
		`third                    set_inner      0 element(s)   (taken by winter set_inner "#promo": an earlier rule's action writes the same`,
		"third                    set_inner      0 element(s)   (its selector selects nothing on this page)\n",
		"cards                    limit          0 element(s)   (it selects 2 elements, but counts the items of each list, the children of one parent, and no parent here holds more than 1 of them; select the list's items themselves: ul.cards > li, not the cards inside them)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	json := writeFile(t, "page.json", `{"banner":{"title":"x"}}`)
	code, out, errOut = bespoke("explain", "--rules", rulesFile, "--page", json)
	// (personalized, and the same for every visitor: its rules have no
	// condition)
	if code != 0 || !strings.Contains(out, "personalized, the same for every visitor") || strings.Contains(out, "gets the page as the origin sends it") {
		t.Errorf("a JSON edit does not personalize: exit %d %s\n%s", code, errOut, out)
	}
	// --page alone names a page to see: it is printed, rewritten (it was
	// left unread without --html).
	if !strings.Contains(out, "--- JSON ---") || !strings.Contains(out, `{"banner":{"title":"Hello"}}`) {
		t.Errorf("explain --page without --html does not print the page:\n%s", out)
	}
}

// TestExplainRefusedOnTheElement: explain says of an edit the rewriter
// refused on the page's element (a content from the query, on a <meta>
// another action gives http-equiv) that it was refused there, and the
// page it prints has no such content.
func TestExplainRefusedOnTheElement(t *testing.T) {
	rulesFile := writeFile(t, "rules.yaml", `rules:
  - name: refresh
    actions:
      - set_attr: { select: "#m2", name: http-equiv, value: "refresh" }
  - name: description
    actions:
      - set_attr: { select: "#m2", name: content, value: "{{ query('v') }}" }
`)
	page := writeFile(t, "page.html", `<meta id="m2" name="description" content="shop">`)
	code, out, errOut := bespoke("explain", "--rules", rulesFile, "--page", page, "--html", "--url", "/?v=0;url=https://evil.example/")
	if code != 0 {
		t.Fatalf("exit %d %s", code, errOut)
	}
	for _, want := range []string{
		"description              set_attr       0 element(s)   (refused on 1 element(s): the value from the request would be code there)\n",
		`<meta id="m2" name="description" content="shop" http-equiv="refresh">`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestExplainTimeZoneFromCountry: with only CF-IPCountry: DE, 23:30 UTC on
// a Friday is Saturday for the visitor.
func TestExplainTimeZoneFromCountry(t *testing.T) {
	rulesFile := writeFile(t, "rules.yaml", "rules:\n  - name: weekend\n    when: visitor.weekday == \"saturday\"\n    actions: [remove: \"#a\"]\n")
	_, out, _ := bespoke("explain", "--rules", rulesFile, "--header", "CF-IPCountry: DE", "--at", "2026-12-04T23:30:00Z")
	if !strings.Contains(out, `visitor.weekday              = "saturday"`) || !strings.Contains(out, "✓ weekend") {
		t.Errorf("output:\n%s", out)
	}
}

func TestTestCoverage(t *testing.T) {
	path := writeFile(t, "rules.yaml", `rules:
  - name: fr
    when: geo.country == "FR"
    actions:
      - set_inner: { select: "#hero h1", text: Bonjour }
      - remove: "#nope"
  - name: de
    when: geo.country == "DE"
    actions:
      - remove: "#promo"
tests:
  - name: French
    context: { geo.country: FR }
    page: { body: '<div id="hero"><h1>Hi</h1></div>' }
    expect: { page: { "#hero h1": Bonjour } }
`)
	code, out, _ := bespoke("test", path, "--coverage")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, want := range []string{
		"coverage: 1 of 2 rules matched by a test, 1 of 3 actions applied",
		"never matched: de (" + path + ":7:5)",
		`never applied: fr: remove "#nope" (` + path + `:6:9): its selector matched nothing on the tests' pages`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestTestWatch(t *testing.T) {
	path := writeFile(t, "rules.yaml", "rules:\n  - name: a\n    when: geo.country == \"FR\"\n    actions: [remove: \"#a\"]\ntests:\n  - name: t\n    context: { geo.country: FR }\n    expect: { match: [a] }\n")
	ctx, cancel := context.WithCancel(context.Background())
	var out syncbuf.Buffer
	done := make(chan struct{})
	go func() {
		watchTests(ctx, []string{path}, testOptions{}, &out, io.Discard, 20*time.Millisecond)
		close(done)
	}()
	waitFor := func(want string, n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for strings.Count(out.String(), want) < n {
			if time.Now().After(deadline) {
				t.Fatalf("no %q (%d) in:\n%s", want, n, out.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("1 test, 0 failed", 1)
	os.WriteFile(path, []byte(strings.Replace("rules:\n  - name: a\n    when: geo.country == \"FR\"\n    actions: [remove: \"#a\"]\ntests:\n  - name: t\n    context: { geo.country: FR }\n    expect: { match: [a] }\n", `"FR"`, `"DE"`, 1)), 0o644)
	waitFor("a file changed, testing again", 1)
	waitFor("1 test, 1 failed", 1)
	cancel()
	<-done
}

// TestServeDevSwitches runs `bespoke serve` as `make run` does, with the
// development clock: the proxy decides at that time, and the preview's
// links force a variant through the proxy.
func TestServeDevSwitches(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- serveContext(ctx, []string{"--demo", "--rules", demoRules, "--listen", "127.0.0.1:0", "--admin", "",
			"--preview", "127.0.0.1:0", "--dev-preview", "--dev-clock", "2026-12-05T20:00:00+01:00",
			"--debug-headers", "--access-log=false", "--cache-dir", "-"}, pw, io.Discard)
		pw.Close()
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	var proxyURL, previewURL string
	sc := bufio.NewScanner(pr)
	for (proxyURL == "" || previewURL == "") && sc.Scan() {
		if _, u, ok := strings.Cut(sc.Text(), "editors' preview on "); ok {
			previewURL = strings.TrimSuffix(u, "/")
		}
		if _, u, ok := strings.Cut(sc.Text(), " through "); ok {
			proxyURL = u
		}
	}
	go io.Copy(io.Discard, pr)
	if proxyURL == "" || previewURL == "" {
		t.Fatal("serve did not say where it listens")
	}
	browser := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	get := func(u string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("User-Agent", browser)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	// 20:00 in December, by the development clock: the evening offer.
	if rules := get(proxyURL + "/").Header.Get("X-Bespoke-Rules"); !strings.Contains(rules, "winter-evenings") {
		t.Errorf("at the development clock's time, rules %q", rules)
	}
	resp, err := http.Get(previewURL + "/state?v.hero-test=bold")
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ Link string }
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if !strings.HasPrefix(st.Link, proxyURL+"/?bsk_preview=") {
		t.Fatalf("preview link %q", st.Link)
	}
	r := get(st.Link)
	if r.Header.Get("X-Bespoke-Experiments") != "hero-test=bold" || !strings.Contains(r.Header.Get("X-Bespoke-Rules"), "bold-hero") {
		t.Errorf("through the link: %v", r.Header)
	}
}

// TestGuideWalkthrough follows rules/GUIDE.md as a new editor would: the
// five-rule file written at the repository's root checks, its tests pass,
// and `bespoke preview` shows a French visitor the French page.
func TestGuideWalkthrough(t *testing.T) {
	guide, err := os.ReadFile("../../../rules/GUIDE.md")
	if err != nil {
		t.Fatal(err)
	}
	_, src, _ := strings.Cut(string(guide), "```yaml\n# yaml-language-server")
	src, _, _ = strings.Cut(src, "```")
	src = "# yaml-language-server" + src
	root := t.TempDir()
	site, _ := filepath.Abs("../../../testdata/demo/site")
	os.MkdirAll(filepath.Join(root, "testdata/demo"), 0o755)
	if err := os.Symlink(site, filepath.Join(root, "testdata/demo/site")); err != nil {
		t.Fatal(err)
	}
	shop := filepath.Join(root, "shop.yaml")
	os.WriteFile(shop, []byte(src), 0o644)
	if code, out, errOut := bespoke("check", shop); code != 0 || !strings.Contains(out, "ok (5 rules, 0 segments, 8 tests)") {
		t.Fatalf("check: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := bespoke("test", shop, "--coverage"); code != 0 || !strings.Contains(out, "8 tests, 0 failed") || !strings.Contains(out, "5 of 5 rules matched by a test, 6 of 6 actions applied") {
		t.Fatalf("test: exit %d\n%s", code, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- previewContext(ctx, []string{"--rules", shop, "--listen", "127.0.0.1:0"}, pw, io.Discard)
		pw.Close()
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	sc := bufio.NewScanner(pr)
	url := ""
	for url == "" && sc.Scan() {
		if _, u, ok := strings.Cut(sc.Text(), " on http://"); ok {
			url = "http://" + strings.TrimSuffix(u, "/")
		}
	}
	go io.Copy(io.Discard, pr)
	if url == "" {
		t.Fatal("preview did not say where it listens")
	}
	resp, err := http.Get(url + "/frame?side=after&country=FR&at=2026-12-05T10:00:00%2B01:00")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`<h1 class="hero-title bsk-edit bsk-r0">Équipez-vous pour la saison</h1>`, "This weekend: free repairs in every store", `<base href="http://127.0.0.1:`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the preview's page lacks %q", want)
		}
	}
}

// TestExplainAndPreviewAgreeOnANewVisitor: with no visitor id, explain
// and the preview simulate the same new visitor, in the same variants.
func TestExplainAndPreviewAgreeOnANewVisitor(t *testing.T) {
	code, out, errOut := bespoke("explain", "--rules", demoRules, "--json")
	if code != 0 {
		t.Fatalf("explain: exit %d\n%s", code, errOut)
	}
	var ex struct{ Visitor string }
	if err := json.Unmarshal([]byte(out), &ex); err != nil || ex.Visitor == "" {
		t.Fatalf("explain --json: %v\n%s", err, out)
	}
	origin := httptest.NewServer(demo.Handler())
	defer origin.Close()
	u, _ := url.Parse(origin.URL)
	pv, err := preview.New([]preview.Target{{File: "rules.yaml", Read: func() ([]byte, error) { return os.ReadFile(demoRules) }, Origin: u}}, preview.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pv.Close()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/state", nil)
	req.Host = "127.0.0.1" // the preview answers to names of its own
	pv.ServeHTTP(rec, req)
	var st preview.State
	json.Unmarshal(rec.Body.Bytes(), &st)
	if st.Visitor != ex.Visitor {
		t.Errorf("the preview's new visitor is %q, explain's %q", st.Visitor, ex.Visitor)
	}
}

// TestExplainHTMLReadsPages: explain --html rewrites the page for --url
// from the rule file's pages:, as test and preview do, whether the
// directory is written relative to the file or absolute.
func TestExplainHTMLReadsPages(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "site", "shoes"), 0o755)
	os.WriteFile(filepath.Join(dir, "site", "shoes", "index.html"), []byte(`<h1 id="t">MY OWN SITE</h1>`), 0o644)
	for _, pages := range []string{"site", filepath.Join(dir, "site")} {
		rules := filepath.Join(dir, "rules.yaml")
		os.WriteFile(rules, []byte("pages: "+pages+"\nrules:\n  - name: r\n    actions:\n      - set_inner: { select: \"#t\", text: Bonjour }\n"), 0o644)
		code, out, errOut := bespoke("explain", "--rules", rules, "--url", "/shoes/", "--html")
		if code != 0 || !strings.Contains(out, `<h1 id="t">Bonjour</h1>`) {
			t.Errorf("pages: %s: exit %d %s\n%s", pages, code, errOut, out)
		}
		code, _, errOut = bespoke("explain", "--rules", rules, "--url", "/nowhere", "--html")
		if code == 0 || !strings.Contains(errOut, "no page for /nowhere in "+filepath.Join(dir, "site")) {
			t.Errorf("pages: %s, a page it lacks: exit %d %s", pages, code, errOut)
		}
	}
}

// TestExplainSetChecksValues: --set refuses a value the attribute never
// takes, as a test's context does, with what it most likely means.
func TestExplainSetChecksValues(t *testing.T) {
	code, _, errOut := bespoke("explain", "--rules", demoRules, "--set", "device.type=phone")
	if code != 2 || !strings.Contains(errOut, `"phone" is not a value of device.type`) || !strings.Contains(errOut, `did you mean "mobile"?`) {
		t.Errorf("exit %d: %s", code, errOut)
	}
	if code, _, errOut := bespoke("explain", "--rules", demoRules, "--set", "device.type=Mobile"); code != 0 {
		t.Errorf("a value in another case: exit %d: %s", code, errOut)
	}
	// Values of open attributes too, item by item for a list.
	for _, tt := range []struct{ set, want string }{
		{"language=fr-FR", `write language == "fr"`},
		{"languages=fr, de-CH", `write languages contains "de"`},
		{"geo.country=UK", `did you mean "GB"`},
		{"language=iw", `write language == "he"`},
		// A number out of its range, or none: no visitor has it.
		{"visitor.hour=25", `visitor.hour: 25 is out of range: visitor.hour is an hour of the day, 0 to 23; write a whole number from 0 to 23`},
		{"visitor.hour=evening", `visitor.hour is a number; found "evening"; write a whole number from 0 to 23`},
		{"geo.lat=95", `geo.lat: 95 is out of range`},
	} {
		code, _, errOut := bespoke("explain", "--rules", demoRules, "--set", tt.set)
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("--set %s: exit %d: %s", tt.set, code, errOut)
		}
	}
}

// TestExplainJSONLists: a list value (languages) is a JSON array in
// explain --json, not the proxy's encoding of it.
func TestExplainJSONLists(t *testing.T) {
	rules := writeRules(t, `rules:
  - name: de
    when: languages contains "de"
    actions:
      - set_header: { name: X-L, value: "x" }
`)
	code, out, errOut := bespoke("explain", "--rules", rules, "--json", "--header", "Accept-Language: de-CH, fr;q=0.5")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var ex struct{ Context map[string]any }
	if err := json.Unmarshal([]byte(out), &ex); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(ex.Context["languages"]); got != "[de fr]" {
		t.Errorf("languages = %s\n%s", got, out)
	}
}
