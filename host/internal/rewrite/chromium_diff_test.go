package rewrite

import (
	ctxpkg "context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/bespoke-edge/bespoke/internal/chromium"
)

// chromiumParser is a script that has Chromium's own HTML parser build
// the document of each page of window.pages, by writing it into an
// iframe (document.open, write, close: a document's parse, with
// scripting enabled, so that noscript holds raw text as in a page a
// browser loads; the frame inherits the Content-Security-Policy that
// keeps the pages' scripts from running), and writes their trees as
// JSON into a <pre id=bsk-trees>, where --dump-dom shows them. A node
// is [1, name, namespace (0 HTML, 1 svg, 2 MathML), attributes, children]
// (a template's children are its content's), [3, text], [8, comment] or
// [10, doctype name]; a processing instruction, which Chromium now makes
// of <?target data?> where x/net/html makes a comment, is a comment.
const chromiumParser = `<script nonce="bskprobe">(function(){
var svg = "http://www.w3.org/2000/svg", math = "http://www.w3.org/1998/Math/MathML";
var node = function(n){
  switch (n.nodeType) {
  case 1:
    var ns = n.namespaceURI === svg ? 1 : n.namespaceURI === math ? 2 : 0, a = [], c = [];
    for (var i = 0; i < n.attributes.length; i++) a.push([n.attributes[i].name, n.attributes[i].value]);
    var kids = ns === 0 && n.localName === "template" ? n.content.childNodes : n.childNodes;
    for (var i = 0; i < kids.length; i++) c.push(node(kids[i]));
    return [1, n.localName, ns, a, c];
  case 3: return [3, n.data];
  case 8: return [8, n.data];
  case 7: return [8, "?" + n.target + " " + n.data];
  case 10: return [10, n.name];
  }
  return [0, String(n.nodeType) + " " + n.nodeName];
};
var frame = document.getElementById("bsk-frame"), out = [];
for (var k = 0; k < window.pages.length; k++) {
  var d = frame.contentDocument;
  d.open(); d.write(window.pages[k]); d.close();
  var doc = [];
  for (var i = 0; i < d.childNodes.length; i++) doc.push(node(d.childNodes[i]));
  out.push(doc);
}
var pre = document.createElement("pre");
pre.id = "bsk-trees";
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
})();</script>`

// chromiumParse returns the documents Chromium builds of pages (a UTF-8
// byte order mark left out, as its decoder does), in one run of the
// browser.
func chromiumParse(t *testing.T, bin string, pages []string) []*html.Node {
	t.Helper()
	written := make([]string, len(pages))
	for i, p := range pages {
		written[i] = strings.TrimPrefix(p, "\uFEFF")
	}
	js, err := json.Marshal(written) // escapes '<': no "</script>" inside
	if err != nil {
		t.Fatal(err)
	}
	probe := `<!DOCTYPE html><html><head><script nonce="bskprobe">window.pages = ` + string(js) + `;</script></head><body><iframe id="bsk-frame"></iframe>` + chromiumParser + `</body></html>`
	ctx, cancel := ctxpkg.WithTimeout(ctxpkg.Background(), 5*time.Minute)
	defer cancel()
	dom := chromium.DumpPage(ctx, t, bin, probe, http.Header{"Content-Security-Policy": {"default-src 'none'; script-src 'nonce-bskprobe'"}})
	start := strings.Index(dom, `<pre id="bsk-trees">`)
	end := strings.LastIndex(dom, "</pre>")
	if start < 0 || end < start {
		t.Fatalf("Chromium wrote no trees (%d bytes of document)", len(dom))
	}
	var docs [][]json.RawMessage
	if err := json.Unmarshal([]byte(htmlUnescape(dom[start+len(`<pre id="bsk-trees">`):end])), &docs); err != nil {
		t.Fatalf("Chromium's trees do not read: %v", err)
	}
	if len(docs) != len(pages) {
		t.Fatalf("Chromium parsed %d pages of %d", len(docs), len(pages))
	}
	out := make([]*html.Node, len(docs))
	for i, d := range docs {
		root := &html.Node{Type: html.DocumentNode}
		for _, c := range d {
			n, err := chromiumNode(c)
			if err != nil {
				t.Fatalf("page %d: %v", i, err)
			}
			root.AppendChild(n)
		}
		out[i] = root
	}
	return out
}

// chromiumNode builds the html.Node of one node of chromiumParser's
// output, as html.Parse would have it.
func chromiumNode(raw json.RawMessage) (*html.Node, error) {
	var v []json.RawMessage
	if err := json.Unmarshal(raw, &v); err != nil || len(v) < 2 {
		return nil, fmt.Errorf("node %s does not read: %v", raw, err)
	}
	kind, err := strconv.Atoi(string(v[0]))
	if err != nil {
		return nil, err
	}
	var data string
	if err := json.Unmarshal(v[1], &data); err != nil {
		return nil, err
	}
	switch kind {
	case 3:
		return &html.Node{Type: html.TextNode, Data: data}, nil
	case 8:
		return &html.Node{Type: html.CommentNode, Data: data}, nil
	case 10:
		return &html.Node{Type: html.DoctypeNode, Data: data}, nil
	case 1:
	default:
		return nil, fmt.Errorf("node of type %d (%s)", kind, data)
	}
	if len(v) != 5 {
		return nil, fmt.Errorf("element %s does not read", raw)
	}
	var ns int
	var attrs [][2]string
	var kids []json.RawMessage
	if err := json.Unmarshal(v[2], &ns); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(v[3], &attrs); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(v[4], &kids); err != nil {
		return nil, err
	}
	n := &html.Node{Type: html.ElementNode, Data: data, Namespace: [...]string{"", "svg", "math"}[ns]}
	if ns == 0 {
		n.DataAtom = atom.Lookup([]byte(data))
	}
	for _, a := range attrs {
		n.Attr = append(n.Attr, html.Attribute{Key: a[0], Val: a[1]})
	}
	for _, k := range kids {
		c, err := chromiumNode(k)
		if err != nil {
			return nil, err
		}
		n.AppendChild(c)
	}
	return n, nil
}

// TestChromiumDifferential is TestBrowserDifferential with Chromium's
// parser as the browser's (chromiumParse): the same pages, the same
// explanations of the differences by design, and no place left out
// where x/net/html parts from browsers. It checks the rewriter against
// the HTML standard as a browser follows it today, where x/net/html may
// not.
func TestChromiumDifferential(t *testing.T) {
	bin := chromium.Path(t)
	corpus, n, s := sizedCorpus(t)
	// What the browser parses: each page, and each with the marks of
	// where the rewriter's elements start.
	var docs []string
	for _, page := range corpus {
		docs = append(docs, page)
		if elems, _, err := rewriterTree(page); err == nil {
			annotated, _ := annotateEnds(page, elems)
			docs = append(docs, annotated)
		}
	}
	parsed := map[string]*html.Node{}
	for i, d := range chromiumParse(t, bin, docs) {
		parsed[docs[i]] = d
	}
	parse := func(page string) (*html.Node, error) { return parsed[page], nil }
	compare := func(page string) (*treeDiff, error) { return compareTreesWith(page, parse, true) }
	stats := checkCorpus(t, corpus, s, compare)
	for _, d := range append(designDiffs, diffChromium) {
		t.Logf("%s: %d selections differ (%s)", d.name, stats[d.name], d.why)
	}
	t.Logf("%d pages parsed by Chromium (%d hand-written, %d generated with BESPOKE_SEED=%d, the saved pages), %d selectors", len(corpus), len(malformedCases)+len(treePages()), n, s, len(browserSelectors))
}

// TestListEditsChromium: random lists under random list edits
// (listRound) build in Chromium the tree that the edits make of the
// tree it builds from the page: the pages the rewriter writes, and the
// reference trees, are parsed by Chromium's own parser.
func TestListEditsChromium(t *testing.T) {
	bin := chromium.Path(t)
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 11))
	type round struct {
		ops             []op
		page, got, want string
	}
	var rounds []round
	var docs []string
	for range 300 {
		ops, page, got, want := listRound(t, rng)
		rounds = append(rounds, round{ops, page, got, want})
		docs = append(docs, got, want)
	}
	trees := chromiumParse(t, bin, docs)
	render := func(n *html.Node) string {
		var b strings.Builder
		html.Render(&b, n)
		return b.String()
	}
	for i, r := range rounds {
		if have, want := render(trees[2*i]), render(trees[2*i+1]); have != want {
			t.Fatalf("round %d (BESPOKE_SEED=%d), %v\n page: %s\n out:  %s\n have: %s\n want: %s", i, s, r.ops, r.page, r.got, have, want)
		}
	}
}
