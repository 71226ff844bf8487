package rewrite

import (
	"bytes"
	ctxpkg "context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/andybalholm/cascadia"
	"golang.org/x/net/html"

	"github.com/bespoke-edge/bespoke/internal/chromium"
)

// chromiumSelectors are the selectors the real-browser test asks
// Chromium's own engine about: the elements most pages are made of,
// their attributes, descendants and children, positions and negations.
// Those whose answer depends on a by-design difference (an element the
// browser creates without a tag, such as tbody; content it moves, such
// as the adoption agency's) are left to TestBrowserDifferential, which
// knows the differences.
var chromiumSelectors = []string{
	"div", "p", "a", "span", "li", "ul", "img", "h1", "h2", "h3", "section", "article", "header",
	"footer", "nav", "form", "input", "button", "script", "style", "meta", "link", "td", "tr",
	"[href]", "[src]", "[id]", "[href^=http]", "[rel~=nofollow]", "[type=text]", "[lang]",
	"div p", "div a", "ul li", "li a", "nav a", "article p", "header a", "footer a", "section div",
	"div > div", "div > p", "ul > li", "li > a", "p > a", "div > span", "td a",
	"p:first-child", "li:nth-child(2n+1)", "div:nth-of-type(2)", "li:first-of-type", ":not(div) > a",
	"div:not([id]) > p", "a img", "span span", ".title", "#content", "div.content p",
}

// chromiumProbe, appended to a page, asks Chromium which elements each
// selector selects, and compares them with those the rewriter marked
// (class bsk-N for selector N), then writes its findings into the
// document (a <pre id=bsk-result>), where --dump-dom shows them.
const chromiumProbe = `<script nonce="bskprobe" id="bsk-probe">(function(){
var sels = %s, out = [];
var own = function(e){ return e.id === "bsk-probe" || e.id === "bsk-result"; };
var key = function(e){
  var cl = Array.prototype.filter.call(e.classList, function(c){ return c.indexOf("bsk-") === 0; }).sort().join(" ");
  var text = e.textContent.replace(/[ \t\n\f\r]+/g, " ").replace(/^ | $/g, "");
  return e.localName + "|" + cl + "|" + Array.from(text).slice(0, 40).join("");
};
for (var k = 0; k < sels.length; k++) {
  var picked = new Set(), n = 0, unmarked = [], unpicked = [];
  document.querySelectorAll(sels[k]).forEach(function(e){
    if (own(e)) return;
    n++; picked.add(e);
    if (!e.classList.contains("bsk-" + k)) unmarked.push(key(e));
  });
  document.querySelectorAll(".bsk-" + k).forEach(function(e){
    if (!picked.has(e)) unpicked.push(key(e));
  });
  out.push({n: n, unmarked: unmarked, unpicked: unpicked});
}
var pre = document.createElement("pre");
pre.id = "bsk-result";
pre.textContent = JSON.stringify(out);
document.documentElement.appendChild(pre);
})();</script>`

var chromiumResult = regexp.MustCompile(`(?s)<pre id="bsk-result">(.*?)</pre>`)

// TestRealPagesChromium is the differential test against a real browser:
// each page of the public corpus is rewritten with an edit per selector of
// chromiumSelectors (a class on each element the selector selects), then
// loaded in headless Chromium, whose own selector engine, on the tree it
// built, must select the elements the rewriter marked, but where the
// reference of the differential tests (x/net/html's tree, cascadia) differs
// from the rewriter the same way: the differences by design (elements the
// browser makes or moves). The page's own scripts, styles and images do
// not run or load (a Content-Security-Policy allows only the probe), so
// the tree is the parser's. It found that a byte order mark started the
// body, that [type=text] must select type="Text", and that class and id
// selectors fold case in quirks mode (see parity_test.go). Pages: see
// chromiumSample.
func TestRealPagesChromium(t *testing.T) {
	bin := chromium.Path(t)
	pages := realPages(t)
	names, s := chromiumSample(t, pages)
	// Each page is asked chromiumSelectors, selectors made from its own
	// classes, ids and attributes (pageSelectors), and 40 of those its
	// style sheets hold (styleSample).
	type question struct {
		sels     []string
		prog     *Program
		edits    []Edit
		probe    string
		compiled []cascadia.Selector
	}
	var (
		mu         sync.Mutex
		fromStyles int
	)
	ask := func(page string) question {
		h := fnv.New64a()
		h.Write([]byte(page))
		rng := rand.New(rand.NewPCG(s, h.Sum64()))
		own := pageSelectors(t, page, s, 24, false)
		styles := styleSample(page, rng, 40, true)
		mu.Lock()
		fromStyles += len(styles)
		mu.Unlock()
		q := question{sels: slices.Concat(chromiumSelectors, own, styles)}
		var err error
		if q.prog, err = CompileStrings(q.sels); err != nil {
			t.Fatal(err)
		}
		for k, sel := range q.sels {
			q.edits = append(q.edits, Edit{Selector: k, Op: AddClass, Attr: fmt.Sprintf("bsk-%d", k)})
			q.compiled = append(q.compiled, cascadia.MustCompile(sel))
		}
		js, _ := json.Marshal(q.sels)
		q.probe = fmt.Sprintf(chromiumProbe, js)
		return q
	}

	served := map[string][]byte{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		page, ok := served[strings.TrimPrefix(r.URL.Path, "/")]
		mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-bskprobe'")
		w.Write(page)
	}))
	defer srv.Close()

	var (
		wg                                         sync.WaitGroup
		work                                       = make(chan string)
		checked, skipped, picked, explained, asked int
	)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range work {
				q := ask(string(pages[name]))
				var out bytes.Buffer
				rw := q.prog.NewRewriter(&out, q.edits, Options{MaxBuffer: 64 << 20})
				rw.Write(pages[name])
				if err := rw.Close(); err != nil {
					t.Errorf("%s: %v", name, err)
					rw.Release()
					continue
				}
				rw.Release()
				rewritten := out.String()
				out.WriteString(q.probe)
				mu.Lock()
				served[name] = out.Bytes()
				mu.Unlock()
				ctx, cancel := ctxpkg.WithTimeout(ctxpkg.Background(), 60*time.Second)
				dom := chromium.Run(ctx, t, bin, t.TempDir(), "--dump-dom", srv.URL+"/"+url.PathEscape(name))
				cancel()
				m := chromiumResult.FindStringSubmatch(dom)
				if m == nil {
					// The probe did not run: the page ends inside a
					// construct that swallows it (an unclosed comment,
					// textarea or script), or navigates away.
					t.Logf("%s: the probe did not run", name)
					mu.Lock()
					skipped++
					mu.Unlock()
					continue
				}
				var found []finding
				if err := json.Unmarshal([]byte(htmlUnescape(m[1])), &found); err != nil || len(found) != len(q.sels) {
					t.Errorf("%s: the probe's findings do not read: %v", name, err)
					continue
				}
				ref := referenceFindings(t, rewritten, q.compiled)
				mu.Lock()
				checked++
				asked += len(q.sels) - len(chromiumSelectors)
				for k, f := range found {
					picked += f.N
					explained += len(f.Unmarked) + len(f.Unpicked)
					unmarked, unpicked := missing(f.Unmarked, ref[k].Unmarked), missing(f.Unpicked, ref[k].Unpicked)
					explained -= len(unmarked) + len(unpicked)
					if len(unmarked) > 0 || len(unpicked) > 0 {
						t.Errorf("%s (seed %d): %q: Chromium selects %d elements; the rewriter did not mark %q, and marked %q that Chromium does not select; the reference (x/net/html, cascadia) explains neither",
							name, s, q.sels[k], f.N, unmarked, unpicked)
					}
				}
				mu.Unlock()
			}
		}()
	}
	for _, name := range names {
		work <- name
	}
	close(work)
	wg.Wait()
	t.Logf("%d pages loaded in Chromium, %d skipped; %d elements selected by %d selectors, %d made from the pages' own classes, ids and attributes and %d from their style sheets; %d differences from what the rewriter selected, all by design (the reference has them too)",
		checked, skipped, picked, len(chromiumSelectors), asked-fromStyles, fromStyles, explained)
	if checked < len(names)*9/10 {
		t.Errorf("only %d of %d pages were checked", checked, len(names))
	}
}

// chromiumSample picks the pages TestRealPagesChromium loads: Chromium
// takes about two seconds a page, so a seed-picked sixth of the corpus
// under the race detector (make test), a third without it, and all of it
// with BESPOKE_CHROMIUM_PAGES=all.
func chromiumSample(t *testing.T, pages map[string][]byte) ([]string, uint64) {
	names := slices.Sorted(maps.Keys(pages))
	s := seed(t)
	if os.Getenv("BESPOKE_CHROMIUM_PAGES") == "all" {
		return names, s
	}
	every := uint64(3)
	if raceEnabled {
		every = 6
	}
	var some []string
	for i, n := range names {
		if uint64(i)%every == s%every {
			some = append(some, n)
		}
	}
	return some, s
}

// finding is what the probe found for one selector: how many elements
// it selects, and the keys (see chromiumProbe's key) of those the
// rewriter did not mark and of those it marked that the selector does
// not select.
type finding struct {
	N        int      `json:"n"`
	Unmarked []string `json:"unmarked"`
	Unpicked []string `json:"unpicked"`
}

// referenceFindings is what the probe finds on the rewritten page in the
// reference the differential tests use (x/net/html's tree, cascadia's
// selectors), whose differences from the rewriter are those by design.
func referenceFindings(t *testing.T, page string, sels []cascadia.Selector) []finding {
	doc, err := browserParse(page)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]finding, len(sels))
	for k, sel := range sels {
		class := fmt.Sprintf("bsk-%d", k)
		picked := map[*html.Node]bool{}
		for _, n := range cascadia.QueryAll(doc, sel) {
			picked[n] = true
			out[k].N++
			if !hasClass(n, class) {
				out[k].Unmarked = append(out[k].Unmarked, nodeKey(n))
			}
		}
		for n := range doc.Descendants() {
			if n.Type == html.ElementNode && hasClass(n, class) && !picked[n] {
				out[k].Unpicked = append(out[k].Unpicked, nodeKey(n))
			}
		}
	}
	return out
}

func hasClass(n *html.Node, class string) bool {
	return slices.Contains(strings.Fields(attrOf(n, "class")), class)
}

// spaces are HTML's (the probe's regular expression has the same).
var spaces = regexp.MustCompile(`[ \t\n\f\r]+`)

// nodeKey is chromiumProbe's key of n: its name, its bsk- classes and the
// start of its text.
func nodeKey(n *html.Node) string {
	var cl []string
	for _, c := range strings.Fields(attrOf(n, "class")) {
		if strings.HasPrefix(c, "bsk-") {
			cl = append(cl, c)
		}
	}
	slices.Sort(cl)
	var text strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			text.WriteString(d.Data)
		}
	}
	t := []rune(strings.Trim(spaces.ReplaceAllString(text.String(), " "), " "))
	return n.Data + "|" + strings.Join(cl, " ") + "|" + string(t[:min(len(t), 40)])
}

// missing returns the keys of got that want does not have (as many
// times).
func missing(got, want []string) []string {
	left := map[string]int{}
	for _, k := range want {
		left[k]++
	}
	var out []string
	for _, k := range got {
		if left[k] > 0 {
			left[k]--
			continue
		}
		out = append(out, k)
	}
	return out
}

// htmlUnescape reverses the escaping --dump-dom gives a <pre>'s text.
func htmlUnescape(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&quot;", `"`, "&#39;", "'", "&nbsp;", "\u00a0", "&amp;", "&").Replace(s)
}

// chromiumTrees are pages where the differential tests' reference
// cannot tell whether the rewriter builds the tree browsers do, each with
// an element (by id) and its ancestors below the body: in Chromium's
// tree, copies of formatting elements included, and in the rewriter's,
// where copies are not elements.
var chromiumTrees = []struct {
	page, id       string
	chromium, ours []string
	// drop: the adoption agency takes a formatting element out of its
	// list past the third step of its inner loop, which takes it off the
	// stack too. x/net/html leaves it open, so TestBrowserDifferential
	// compares the page only up to the tag (Rewriter.dropCut).
	drop bool
}{
	{page: `<p><b><summary><span><a/><optgroup><rp><x-card/><li></b><li id=after>`, id: "after",
		chromium: []string{"summary"}, ours: []string{"summary"}, drop: true},
	{page: `<b><i><u><s><em><div>x</b></div></em></s></u><p id=after>y<span id=in>z</span>`, id: "after",
		chromium: nil, ours: nil, drop: true},
	{page: `<b><i><u><s><em><div>x</b></div></em></s></u><p id=after>y<span id=in>z</span>`, id: "in",
		chromium: []string{"p"}, ours: []string{"p"}, drop: true},
	// A form that </form> takes off the stack while a copy of a
	// formatting element is open in it: what follows goes into the
	// copy, in the form. (TestBrowserDifferential takes the rewriter's
	// tree, where it went after the form, for what the adoption agency
	// would have done.)
	{page: `<p><b><form>t<div></form></div><span id=s>x</span>`, id: "s",
		chromium: []string{"b", "form"}, ours: []string{"form"}},
	{page: `<p><b>x<form>t</form><div id=d>in</div>`, id: "d",
		chromium: []string{"b", "form"}, ours: []string{"form"}},
	{page: `<h6><p><nobr><form>t</form><h3 id=h>x`, id: "h",
		chromium: []string{"nobr", "form", "h6"}, ours: []string{"form", "h6"}},
	// ... until the copy ends: then after the form.
	{page: `<p><b>x<form>t</form></b><span id=s>y`, id: "s"},
	{page: `<dl><a></dl><form>t</form><a id=n>`, id: "n"},
	// After a frameset, a <style> is no element, and what follows is no
	// raw text: the noframes is one. (x/net/html's tokenizer reads raw
	// text after the style, though its parser ignores the element.)
	// Implied end tags close HTML elements only: the svg rb stays open
	// at the </form> (x/net/html closes it).
	{page: `<form><listing><svg><rb></form><iframe id=i></iframe>`, id: "i",
		chromium: []string{"rb", "svg", "listing", "form"}, ours: []string{"rb", "svg", "listing", "form"}},
	{page: `<frameset></frameset><style><p>1</p><noframes id=n>x</noframes>`, id: "n", chromium: []string{"html"}},
	{page: `<frameset><textarea><noframes id=n>x</noframes><frame></frameset>`, id: "n", chromium: []string{"frameset", "html"}, ours: []string{"frameset"}},
	// A numeric character reference of one digit without its ';' is one
	// (x/net/html leaves "&#9" as text): a tab, space, before a frameset.
	{page: `&#9<frameset><frame id=f></frameset>`, id: "f", chromium: []string{"frameset", "html"}, ours: []string{"frameset"}},
	// CDATA has no character references: "&#32;" there is text, and
	// the frameset no element (x/net/html decodes it).
	{page: `<svg><![CDATA[&#32;]]></svg><div id=d></div><frameset><frame></frameset>`, id: "d"},
}

// treePages returns the pages of chromiumTrees.
func treePages() []string {
	var pages []string
	for _, tt := range chromiumTrees {
		if !slices.Contains(pages, tt.page) {
			pages = append(pages, tt.page)
		}
	}
	return pages
}

// TestTreesChromium checks the rewriter against Chromium where the
// differential tests' reference cannot: on each page of chromiumTrees,
// the element has the ancestors the table says in Chromium's tree and in
// the rewriter's.
func TestTreesChromium(t *testing.T) {
	bin := chromium.Path(t)
	pages := treePages()
	doms := map[string]*html.Node{}
	for i, doc := range chromiumParse(t, bin, pages) {
		doms[pages[i]] = doc
	}
	for _, tt := range chromiumTrees {
		if _, c := markedTree(tt.page); (c.drop >= 0) != tt.drop {
			t.Errorf("%q: the rewriter's adoption agency took an element out past its third step: %v, want %v", tt.page, c.drop >= 0, tt.drop)
		}
		if got := ancestorsOf(doms[tt.page], tt.id); !slices.Equal(got, tt.chromium) {
			t.Errorf("%q: #%s is in %q in Chromium's tree, want %q", tt.page, tt.id, got, tt.chromium)
		}
		elems, _, err := rewriterTree(tt.page)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range elems {
			if attrValue(e.attrs, "id") != tt.id {
				continue
			}
			found = true
			var ours []string
			for p := e.parent; p >= 0; p = elems[p].parent {
				ours = append(ours, elems[p].name)
			}
			if !slices.Equal(ours, tt.ours) {
				t.Errorf("%q: #%s is in %q in the rewriter's tree, want %q", tt.page, tt.id, ours, tt.ours)
			}
		}
		if !found {
			t.Errorf("%q: the rewriter has no #%s", tt.page, tt.id)
		}
		if tt.drop {
			reference, err := html.Parse(strings.NewReader(tt.page))
			if err != nil {
				t.Fatal(err)
			}
			if got := ancestorsOf(reference, tt.id); slices.Equal(got, tt.chromium) {
				t.Errorf("%q: x/net/html puts #%s where Chromium does (%q): the page shows nothing", tt.page, tt.id, got)
			}
		}
	}
}

// attrValue returns the value of attribute name in attrs, or "".
func attrValue(attrs []html.Attribute, name string) string {
	for _, a := range attrs {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// ancestorsOf returns the names of the ancestors of the element of doc
// whose id is id, nearest first, below the body.
func ancestorsOf(doc *html.Node, id string) []string {
	var found *html.Node
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && attrOf(n, "id") == id {
			found = n
			break
		}
	}
	var out []string
	if found == nil {
		return []string{"(not found)"}
	}
	for p := found.Parent; p != nil && p.Type == html.ElementNode && p.Data != "body"; p = p.Parent {
		out = append(out, p.Data)
	}
	return out
}
