package proxy_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/text/encoding/htmlindex"

	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/internal/chromium"
)

// TestTypesBrowsersDoNotRead: a page whose Content-Type browsers cannot
// read as a type, a space past ASCII (U+00A0, U+3000 in UTF-8) written
// around text/html, is shown as no page (Chromium offers it as a file),
// and passes as the origin sent it; the type, read as browsers read it,
// is rewritten.
func TestTypesBrowsersDoNotRead(t *testing.T) {
	src := `rules:
  - name: r
    actions:
      - set_inner: { select: "#t", text: "edited" }
`
	const page = `<!doctype html><p id=t>origin</p>`
	for _, c := range []struct {
		ct     string
		edited bool
	}{
		{"text/html", true},
		{"TEXT/HTML ; charset=utf-8", true},
		{"text/html\t;charset=utf-8", true},
		{"text/html\u00a0", false},
		{"text/html\u00a0; charset=utf-8", false},
		{"\u00a0text/html", false},
		{"text/html\u3000", false},
		{"text/html\u0085", false},
		{"text/html\u2028;charset=utf-8", false},
	} {
		t.Run(fmt.Sprintf("%q", c.ct), func(t *testing.T) {
			body := servedAs(t, src, c.ct, page)
			if got := strings.Contains(string(body), "edited"); got != c.edited || !c.edited && string(body) != page {
				t.Errorf("edited %v, want %v: %q", got, c.edited, body)
			}
		})
	}
}

// charsetRules insert non-ASCII text into an element they select by a
// non-ASCII value, and set a non-ASCII value.
const charsetRules = `rules:
  - name: r
    actions:
      - set_inner: { select: '[title="café"]', text: "Été 東京" }
      - set_attr: { select: "#b", name: title, value: "Grüße 日本" }
`

// charsetCases are Content-Types whose charset MIME (mime.ParseMediaType)
// and browsers read otherwise, each with the page an origin serves with
// it, in the encoding browsers read it in (browser; "" where browsers
// read it in two).
var charsetCases = []struct {
	name, contentType, meta, browser string
}{
	{"a space before the =: no charset, the page's meta", "text/html;charset =gbk", "<meta charset=utf-8>", "utf-8"},
	{"charset twice: the first", "text/html;charset=gbk;charset=windows-1255", "", "gbk"},
	{"a quote left open", `text/html;charset="gbk`, "", "gbk"},
	{"escapes in quotes", `text/html;charset="\g\bk"`, "", "gbk"},
	{"the usual", "text/html; charset=gbk", "", "gbk"},
	{"a quoted value after a space: gbk to Chromium, none to the standard", `text/html;charset= "gbk"`, "", ""},
	{"a quote left open after a space: none to Chromium, gbk to the standard", `text/html;x= "a;charset=gbk`, "", ""},
}

// charsetPage is the page of a charsetCases case, in its encoding.
func charsetPage(t *testing.T, meta, enc string) string {
	t.Helper()
	page := "<!doctype html><html><head>" + meta + `<title>t</title></head><body><p id=a title="café">old</p><p id=b>b</p></body></html>`
	if enc == "" {
		enc = "gbk"
	}
	e, err := htmlindex.Get(enc)
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.NewEncoder().String(page)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestContentTypeCharsets: through the proxy, a page whose Content-Type
// names its charset in a way MIME and browsers read otherwise is edited
// in the encoding browsers read it in: its value selected as they read
// it, the inserted text and value read back whole in that encoding. A
// Content-Type browsers read in two ways leaves the page as it came.
func TestContentTypeCharsets(t *testing.T) {
	for _, c := range charsetCases {
		t.Run(c.name, func(t *testing.T) {
			page := charsetPage(t, c.meta, c.browser)
			body := servedAs(t, charsetRules, c.contentType, page)
			if c.browser == "" {
				if string(body) != page {
					t.Errorf("rewritten: %q", body)
				}
				return
			}
			e, _ := htmlindex.Get(c.browser)
			decoded, err := e.NewDecoder().String(string(body))
			if err != nil {
				t.Fatal(err)
			}
			a, b := readsAs(t, decoded)
			if a != "Été 東京" || b != "Grüße 日本" {
				t.Errorf("read as %s: #a %q, #b's title %q\n%q", c.browser, a, b, body)
			}
		})
	}
}

// readsAs parses page as a browser does and returns #a's text and #b's
// title.
func readsAs(t *testing.T, page string) (a, b string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			for _, at := range n.Attr {
				switch {
				case at.Key == "id" && at.Val == "a" && n.FirstChild != nil:
					a = n.FirstChild.Data
				case at.Key == "id" && at.Val == "b":
					for _, bt := range n.Attr {
						if bt.Key == "title" {
							b = bt.Val
						}
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return a, b
}

// TestBrowserContentTypeCharsets: what TestContentTypeCharsets reads,
// Chromium shows: the text inserted into the element selected by its
// non-ASCII value, and the value set, whole.
func TestBrowserContentTypeCharsets(t *testing.T) {
	bin := chromium.Path(t)
	for _, c := range charsetCases {
		if c.browser == "" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			page := charsetPage(t, c.meta, c.browser)
			u := startProxyWith(t, charsetRules, reqctx.Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Content-Type"] = []string{c.contentType}
				io.WriteString(w, page)
			}))
			dom := dumpDOM(t, bin, u+"/")
			if !strings.Contains(dom, `<p id="a" title="café">Été 東京</p><p id="b" title="Grüße 日本">b</p>`) {
				t.Errorf("Chromium shows:\n%s", dom)
			}
		})
	}
}

// servedAs returns the page the proxy, with the rules src, serves of an
// origin's page sent with the Content-Type ct, written byte for byte.
func servedAs(t *testing.T, src, ct, page string) []byte {
	t.Helper()
	u := startProxyWith(t, src, reqctx.Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = []string{ct}
		io.WriteString(w, page)
	}))
	resp, err := http.Get(u + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return body
}
