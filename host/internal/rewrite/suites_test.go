package rewrite

import (
	"bufio"
	ctxpkg "context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/cascadia"
	"golang.org/x/net/html"

	"github.com/bespoke-edge/bespoke/internal/chromium"
	"github.com/bespoke-edge/bespoke/internal/selector"
)

// The selector test suites of other engines (testdata/selectors: Sizzle's,
// NWMatcher's and Qwery's, as css-select ships them): every selector they
// ask, on each of their three pages. What Chromium's querySelectorAll
// selects on each page is recorded in suitesGolden, so that the test runs
// without a browser; TestSelectorSuitesChromium asks Chromium again, and
// with -update writes what it answered.

var suitesDir = filepath.Join("..", "..", "..", "testdata", "selectors")

// suitePages are the suites' pages.
var suitePages = []string{"sizzle.html", "nwmatcher.html", "qwery.html"}

const suitesGolden = "chromium.golden"

// suiteSelector is a selector of selectors.json: as a suite writes it,
// where, and the pages of the suites that ask it.
type suiteSelector struct {
	Selector string   `json:"selector"`
	From     []string `json:"from"`
	Fixture  []string `json:"fixture"`
}

// loadSuites returns the suites' selectors and pages.
func loadSuites(t testing.TB) ([]suiteSelector, map[string]string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(suitesDir, "selectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sels []suiteSelector
	if err := json.Unmarshal(b, &sels); err != nil {
		t.Fatal(err)
	}
	pages := map[string]string{}
	for _, p := range suitePages {
		b, err := os.ReadFile(filepath.Join(suitesDir, p))
		if err != nil {
			t.Fatal(err)
		}
		pages[p] = string(b)
	}
	if len(sels) < 800 {
		t.Fatalf("%d selectors in selectors.json: the corpus is not what it was", len(sels))
	}
	return sels, pages
}

// suiteMatch is an element a selector selects: the rewriter's element
// number (in the order of the start tags), or -1 for an element the
// browser makes without a tag in the page, and its name and id, for the
// golden file's reader.
type suiteMatch struct {
	k        int
	name, id string
}

func (m suiteMatch) String() string {
	s := "-"
	if m.k >= 0 {
		s = strconv.Itoa(m.k)
	}
	s += ":" + m.name
	if m.id != "" {
		s += "#" + m.id
	}
	return s
}

// suiteAnswer is what a selector selects on a page; invalid: the browser
// refuses the selector (querySelectorAll throws).
type suiteAnswer struct {
	invalid bool
	matches []suiteMatch
}

func (a suiteAnswer) String() string {
	if a.invalid {
		return "invalid"
	}
	var parts []string
	for _, m := range a.matches {
		parts = append(parts, m.String())
	}
	return strings.Join(parts, " ")
}

// suiteKey is a selector on a page.
type suiteKey struct{ page, sel string }

// readSuitesGolden reads the golden file: a line a page and selector,
// page, the selector as a JSON string and Chromium's answer, tab-separated.
func readSuitesGolden(t testing.TB) map[suiteKey]suiteAnswer {
	t.Helper()
	f, err := os.Open(filepath.Join(suitesDir, suitesGolden))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[suiteKey]suiteAnswer{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) != 3 {
			t.Fatalf("%s: %q: not page, selector and answer", suitesGolden, line)
		}
		var sel string
		if err := json.Unmarshal([]byte(fields[1]), &sel); err != nil {
			t.Fatalf("%s: %q: %v", suitesGolden, line, err)
		}
		var a suiteAnswer
		if fields[2] == "invalid" {
			a.invalid = true
		} else {
			for _, tok := range strings.Fields(fields[2]) {
				num, rest, ok := strings.Cut(tok, ":")
				if !ok {
					t.Fatalf("%s: %q: %q is not k:name#id", suitesGolden, line, tok)
				}
				m := suiteMatch{k: -1}
				if num != "-" {
					if m.k, err = strconv.Atoi(num); err != nil {
						t.Fatalf("%s: %q: %v", suitesGolden, line, err)
					}
				}
				m.name, m.id, _ = strings.Cut(rest, "#")
				a.matches = append(a.matches, m)
			}
		}
		out[suiteKey{fields[0], sel}] = a
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// writeSuitesGolden writes the golden file.
func writeSuitesGolden(t testing.TB, sels []suiteSelector, answers map[suiteKey]suiteAnswer) {
	t.Helper()
	var b strings.Builder
	b.WriteString("# What Chromium's querySelectorAll selects on each page of testdata/selectors with each\n")
	b.WriteString("# selector of selectors.json: page, selector (JSON), answer. An element is k:name#id, k\n")
	b.WriteString("# the rewriter's number of its start tag (0 the first), - for an element the browser makes\n")
	b.WriteString("# without a tag; \"invalid\": querySelectorAll throws. Written by\n")
	b.WriteString("# go test ./host/internal/rewrite -run TestSelectorSuitesChromium -update\n")
	for _, p := range suitePages {
		for _, s := range sels {
			js, _ := json.Marshal(s.Selector)
			fmt.Fprintf(&b, "%s\t%s\t%s\n", p, js, answers[suiteKey{p, s.Selector}])
		}
	}
	if err := os.WriteFile(filepath.Join(suitesDir, suitesGolden), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// suiteTree is the rewriter's tree of a page, and the page with each
// start tag annotated with its element's number (annotAttr).
type suiteTree struct {
	elems     []relem
	annotated string
}

func suiteTreeOf(t testing.TB, page string) suiteTree {
	t.Helper()
	elems, _, err := rewriterTree(page)
	if err != nil {
		t.Fatal(err)
	}
	annotated, _ := annotateEnds(page, elems)
	return suiteTree{elems, annotated}
}

// suiteHits rewrites page, whose tree is tree, with prog's n selectors
// after its first ("*", which marks every element), each marking what it
// selects with an attribute of its own, written in chunks, and returns
// the output and the numbers of the elements each selector selects.
func suiteHits(t testing.TB, prog *Program, n int, tree suiteTree, page string, chunk func() int) (string, [][]int) {
	t.Helper()
	edits := []Edit{{Op: InsertBefore, Content: []byte(markOpen)}}
	for i := range n {
		edits = append(edits, Edit{Selector: i + 1, Op: SetAttr, Attr: fmt.Sprintf("%s-%d", hitAttr, i), Value: "1"})
	}
	out, _ := rewrite(t, prog, edits, Options{MaxBuffer: 64 << 20}, page, chunk)
	hits := make([][]int, n)
	for k, part := range strings.Split(out, markOpen)[1:] {
		if n == 1 {
			// The attribute is in the start tag: within its length and
			// the attribute's (as compareSelector reads it).
			if k < len(tree.elems) && strings.Contains(part[:min(len(part), tree.elems[k].end-tree.elems[k].start+len(hitAttr)+8)], hitAttr+"-0") {
				hits[0] = append(hits[0], k)
			}
			continue
		}
		z := html.NewTokenizer(strings.NewReader(part))
		if tt := z.Next(); tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			t.Fatalf("element %d is no start tag: %q", k, part[:min(len(part), 40)])
		}
		for _, a := range z.Token().Attr {
			if i, ok := strings.CutPrefix(a.Key, hitAttr+"-"); ok {
				j, _ := strconv.Atoi(i)
				hits[j] = append(hits[j], k)
			}
		}
	}
	return out, hits
}

// suiteDesignDiff reports whether m is an element Chromium selects that
// the rewriter cannot, by design (rules/SYNTAX.md, "Where bespoke's idea
// of the page differs from the browser's"): one the browser makes
// without a tag. The suites' pages have none today.
func suiteDesignDiff(m suiteMatch) bool { return m.k < 0 }

// suiteLenient are the suites' selectors bespoke reads and browsers
// refuse, by design (rules/SYNTAX.md, "Selectors"): an unquoted attribute
// value that starts with a digit or a '-', which CSS reads as a number,
// where bespoke reads what an editor means.
var suiteLenient = map[string]bool{
	"#qunit-fixture option[value=1]": true,
	"#qunit-fixture li[tabIndex=-1]": true,
}

// unsupported are the words of a refusal that say a selector is CSS, but
// not bespoke's (SYNTAX.md lists what bespoke reads, and why not the
// rest).
var unsupported = []string{"not supported", "cannot be matched while streaming", "which the server cannot see", "never an element of the page"}

// checkSuiteRefusal checks that a refusal says where and why: an
// *selector.Error at a place in the selector, with a message; and, when
// the browser reads the selector, that bespoke does not support what it
// asks.
func checkSuiteRefusal(t *testing.T, sel string, err error, browserReads bool) {
	t.Helper()
	var se *selector.Error
	if !errors.As(err, &se) {
		t.Errorf("%q: refused with %v, not a *selector.Error", sel, err)
		return
	}
	if se.Offset < 0 || se.Offset > len(sel) || se.Msg == "" {
		t.Errorf("%q: refused at offset %d of %d with %q", sel, se.Offset, len(sel), se.Msg)
	}
	if browserReads && !slices.ContainsFunc(unsupported, func(w string) bool { return strings.Contains(se.Msg, w) }) {
		t.Errorf("%q: Chromium reads it, and bespoke refuses it with %q, which does not say it is unsupported", sel, se.Msg)
	}
}

// TestSelectorSuites: each selector of the suites that bespoke reads
// selects, on each of their pages, alone and in one program with all the
// others, the elements Chromium's querySelectorAll selects
// (suitesGolden), but for those the browser makes without a tag; a
// selector Chromium refuses, bespoke refuses too (but suiteLenient), and
// every refusal says where and why. The program selects the same
// elements with the page written whole, a byte at a time, in writes of
// 7 bytes and of random sizes (BESPOKE_SEED).
func TestSelectorSuites(t *testing.T) {
	sels, pages := loadSuites(t)
	golden := readSuitesGolden(t)
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 17))
	var accepted []string
	refused, unsupportedN := 0, 0
	for _, ss := range sels {
		if _, err := selector.Parse(ss.Selector); err != nil {
			reads := !golden[suiteKey{suitePages[0], ss.Selector}].invalid
			checkSuiteRefusal(t, ss.Selector, err, reads)
			refused++
			if reads {
				unsupportedN++
			}
			continue
		}
		accepted = append(accepted, ss.Selector)
	}
	prog, err := CompileStrings(append([]string{"*"}, accepted...))
	if err != nil {
		t.Fatal(err)
	}
	compared, design := 0, 0
	for _, p := range suitePages {
		page := pages[p]
		tree := suiteTreeOf(t, page)
		whole, hits := suiteHits(t, prog, len(accepted), tree, page, chunker(len(page)+1, nil))
		for _, size := range []int{1, 7, 0} {
			if got, _ := suiteHits(t, prog, len(accepted), tree, page, chunker(size, rng)); got != whole {
				i := 0
				for i < min(len(got), len(whole)) && got[i] == whole[i] {
					i++
				}
				t.Errorf("%s in writes of %d bytes (0: random, BESPOKE_SEED=%d): the output differs at %d: %q, whole %q", p, size, s, i,
					got[max(0, i-60):min(len(got), i+60)], whole[max(0, i-60):min(len(whole), i+60)])
			}
		}
		for i, sel := range accepted {
			want, ok := golden[suiteKey{p, sel}]
			if !ok {
				t.Errorf("%s: %q: not in %s (go test -run TestSelectorSuitesChromium -update)", p, sel, suitesGolden)
				continue
			}
			if want.invalid {
				if !suiteLenient[sel] {
					t.Errorf("%s: %q: bespoke reads it, Chromium refuses it", p, sel)
				}
				continue
			}
			var wantK []int
			for _, m := range want.matches {
				if suiteDesignDiff(m) {
					design++
					continue
				}
				if m.k >= len(tree.elems) || tree.elems[m.k].name != m.name {
					t.Fatalf("%s: %s in %s is not the rewriter's element %d: the page or the rewriter's tree changed", p, m, suitesGolden, m.k)
				}
				wantK = append(wantK, m.k)
			}
			compared += len(wantK)
			slices.Sort(wantK)
			if !slices.Equal(hits[i], wantK) {
				t.Errorf("%s: %q: the rewriter selects %v, Chromium %v", p, sel, suiteNames(tree, hits[i]), want)
			}
			// Alone, as a rule file names a few: a program of many
			// selectors looks them up otherwise (by class, id, value).
			if _, alone := suiteHits(t, mustCompile("*", sel), 1, tree, page, chunker(len(page)+1, nil)); !slices.Equal(alone[0], wantK) {
				t.Errorf("%s: %q alone: the rewriter selects %v, Chromium %v", p, sel, suiteNames(tree, alone[0]), want)
			}
		}
	}
	t.Logf("%d selectors of the suites: %d read (%d that browsers refuse, by design), %d refused (%d that browsers read: what bespoke does not support); on their %d pages, %d elements selected as Chromium selects them, %d that the browser makes without a tag left out",
		len(sels), len(accepted), len(suiteLenient), refused, unsupportedN, len(suitePages), compared, design)
}

// suiteNames writes elements as the golden file does.
func suiteNames(tree suiteTree, ks []int) string {
	var parts []string
	for _, k := range ks {
		parts = append(parts, suiteMatch{k, tree.elems[k].name, attrValue(tree.elems[k].attrs, "id")}.String())
	}
	return strings.Join(parts, " ")
}

// suitesProbe has Chromium's parser build each page of window.pages (the
// page as it is, then annotated with the rewriter's element numbers) in
// an iframe, as chromiumParser does, and writes as JSON into a <pre
// id=bsk-suites>: for the page, what querySelectorAll selects with each
// selector of window.sels (the elements' places in document order; null
// when it throws) and the names of its elements; for the annotated
// page, each element's name and number.
const suitesProbe = `<script nonce="bskprobe">(function(){
var frame = document.getElementById("bsk-frame"), out = [];
var elements = function(d){ return Array.prototype.slice.call(d.getElementsByTagName("*")); };
for (var k = 0; k < window.pages.length; k++) {
  var d = frame.contentDocument;
  d.open(); d.write(window.pages[k][0]); d.close();
  var all = elements(d), place = new Map(), res = {sels: [], names: [], marks: []};
  all.forEach(function(e, i){ place.set(e, i); res.names.push(e.localName); });
  for (var s = 0; s < window.sels.length; s++) {
    try {
      res.sels.push(Array.prototype.map.call(d.querySelectorAll(window.sels[s]), function(e){ return place.get(e); }));
    } catch (e) {
      res.sels.push(null);
    }
  }
  d.open(); d.write(window.pages[k][1]); d.close();
  elements(d).forEach(function(e){ res.marks.push([e.localName, e.getAttribute("` + annotAttr + `") || "", e.getAttribute("id") || ""]); });
  out.push(res);
}
var pre = document.createElement("pre");
pre.id = "bsk-suites";
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
})();</script>`

// chromiumSuites asks Chromium, in one run, what each selector selects
// on each page.
func chromiumSuites(t *testing.T, bin string, sels []suiteSelector, pages map[string]string, trees map[string]suiteTree) map[suiteKey]suiteAnswer {
	t.Helper()
	var written [][2]string
	for _, p := range suitePages {
		written = append(written, [2]string{pages[p], trees[p].annotated})
	}
	var asked []string
	for _, s := range sels {
		asked = append(asked, s.Selector)
	}
	jp, _ := json.Marshal(written) // escapes '<': no "</script>" inside
	js, _ := json.Marshal(asked)
	probe := `<!DOCTYPE html><html><head><script nonce="bskprobe">window.pages = ` + string(jp) + `; window.sels = ` + string(js) + `;</script></head><body><iframe id="bsk-frame"></iframe>` + suitesProbe + `</body></html>`
	ctx, cancel := ctxpkg.WithTimeout(ctxpkg.Background(), 5*time.Minute)
	defer cancel()
	dom := chromium.DumpPage(ctx, t, bin, probe, http.Header{"Content-Security-Policy": {"default-src 'none'; script-src 'nonce-bskprobe'"}})
	start := strings.Index(dom, `<pre id="bsk-suites">`)
	end := strings.LastIndex(dom, "</pre>")
	if start < 0 || end < start {
		t.Fatalf("Chromium wrote no answers (%d bytes of document)", len(dom))
	}
	var res []struct {
		Sels  [][]int     `json:"sels"`
		Names []string    `json:"names"`
		Marks [][3]string `json:"marks"`
	}
	if err := json.Unmarshal([]byte(htmlUnescape(dom[start+len(`<pre id="bsk-suites">`):end])), &res); err != nil {
		t.Fatalf("Chromium's answers do not read: %v", err)
	}
	if len(res) != len(suitePages) {
		t.Fatalf("Chromium answered for %d pages of %d", len(res), len(suitePages))
	}
	out := map[suiteKey]suiteAnswer{}
	for i, p := range suitePages {
		r := res[i]
		if len(r.Names) != len(r.Marks) || len(r.Sels) != len(sels) {
			t.Fatalf("%s: %d elements in Chromium's page, %d in the annotated page, %d answers for %d selectors", p, len(r.Names), len(r.Marks), len(r.Sels), len(sels))
		}
		matches := make([]suiteMatch, len(r.Names))
		for j, m := range r.Marks {
			if m[0] != r.Names[j] {
				t.Fatalf("%s: Chromium's element %d is a %s in the page, a %s in the annotated page", p, j, r.Names[j], m[0])
			}
			matches[j] = suiteMatch{k: -1, name: m[0], id: m[2]}
			if m[1] != "" {
				k, err := strconv.Atoi(m[1])
				if err != nil || k >= len(trees[p].elems) {
					t.Fatalf("%s: Chromium's element %d is marked %q", p, j, m[1])
				}
				matches[j].k = k
			}
		}
		for k, s := range sels {
			if r.Sels[k] == nil {
				out[suiteKey{p, s.Selector}] = suiteAnswer{invalid: true}
				continue
			}
			a := suiteAnswer{matches: []suiteMatch{}}
			for _, j := range r.Sels[k] {
				a.matches = append(a.matches, matches[j])
			}
			out[suiteKey{p, s.Selector}] = a
		}
	}
	return out
}

// TestSelectorSuitesChromium asks Chromium what the suites' selectors
// select on their pages, and checks that suitesGolden holds its answers
// (with -update, writes them there); cascadia's answers on x/net/html's
// tree, where they differ from Chromium's, are logged.
func TestSelectorSuitesChromium(t *testing.T) {
	bin := chromium.Path(t)
	sels, pages := loadSuites(t)
	trees := map[string]suiteTree{}
	for _, p := range suitePages {
		trees[p] = suiteTreeOf(t, pages[p])
	}
	answers := chromiumSuites(t, bin, sels, pages, trees)
	if *update {
		writeSuitesGolden(t, sels, answers)
		return
	}
	golden := readSuitesGolden(t)
	differ := 0
	for _, p := range suitePages {
		doc, err := html.Parse(strings.NewReader(trees[p].annotated))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sels {
			key := suiteKey{p, s.Selector}
			a := answers[key]
			if g, ok := golden[key]; !ok || g.String() != a.String() {
				t.Errorf("%s: %q: Chromium selects %q, %s has %q (go test -run TestSelectorSuitesChromium -update)", p, s.Selector, a, suitesGolden, g)
			}
			// The secondary reference, where it reads the selector.
			c, err := cascadia.Compile(s.Selector)
			if err != nil || a.invalid {
				continue
			}
			var ck, ak []string
			for _, n := range cascadia.QueryAll(doc, c) {
				ck = append(ck, attrOf(n, annotAttr)+":"+n.Data)
			}
			for _, m := range a.matches {
				if m.k >= 0 {
					ak = append(ak, strconv.Itoa(m.k)+":"+m.name)
				} else {
					ak = append(ak, ":"+m.name)
				}
			}
			if !slices.Equal(ck, ak) {
				differ++
				t.Logf("%s: %q: cascadia selects %q, Chromium %q", p, s.Selector, ck, ak)
			}
		}
	}
	t.Logf("%d selectors on %d pages; cascadia differs from Chromium on %d", len(sels), len(suitePages), differ)
}
