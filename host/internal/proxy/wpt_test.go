package proxy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/internal/chromium"
	"github.com/bespoke-edge/bespoke/internal/escape"
	xhtml "golang.org/x/net/html"
	"golang.org/x/net/http/httpguts"
)

// wptInputs are the inputs of the URL Standard's tests (testdata/wpt),
// each once, as the proxy reads them from a query: without the control
// characters but tab, line feed, form feed and carriage return.
func wptInputs(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../../../testdata/wpt/urltestdata.json")
	if err != nil {
		t.Fatal(err)
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range entries {
		var c struct{ Input *string }
		if json.Unmarshal(e, &c) != nil || c.Input == nil {
			continue
		}
		v := strings.Map(func(r rune) rune {
			if r < 0x20 && !strings.ContainsRune("\t\n\f\r", r) || r == 0x7f {
				return -1
			}
			return r
		}, *c.Input)
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// wptBatch is how many values one request carries, each in a query
// parameter of its own.
const wptBatch = 100

// wptRules writes value i (query "vI") into a link's path segment,
// query and fragment, a link that is the whole value under [https,
// http, relative], a srcset's two candidates, and a link of an html:
// fragment; redirects /go to a path, a query and a fragment holding v0,
// and /go-fragment to a fragment holding the X-V header.
func wptRules() string {
	var b strings.Builder
	b.WriteString("rules:\n  - name: go\n    when: path == \"/go\"\n    actions:\n")
	b.WriteString("      - redirect: \"/r/{{ query('v0') }}?q={{ query('v0') }}#{{ query('v0') }}\"\n")
	b.WriteString("  - name: go-fragment\n    when: path == \"/go-fragment\"\n    actions:\n")
	b.WriteString("      - redirect: \"/r/x#{{ header('X-V') }}\"\n")
	b.WriteString("  - name: all\n    actions:\n")
	for i := range wptBatch {
		q := fmt.Sprintf("query('v%d')", i)
		fmt.Fprintf(&b, "      - set_attr: { select: \"#p%d\", name: href, value: \"/shop/{{ %s }}/items?q={{ %s }}#{{ %s }}\" }\n", i, q, q, q)
		fmt.Fprintf(&b, "      - set_attr: { select: \"#w%d\", name: href, value: \"{{ %s or '/d' }}\", schemes: [https, http, relative] }\n", i, q)
		fmt.Fprintf(&b, "      - set_attr: { select: \"#s%d\", name: srcset, value: \"/i/{{ %s }}.png 1x, /j.png?q={{ %s }} 2x\" }\n", i, q, q)
		fmt.Fprintf(&b, "      - append: { select: \"#h%d\", html: \"<a href='/h/{{ %s }}#{{ %s }}'>h</a>\" }\n", i, q, q)
	}
	return b.String()
}

// wptPageHTML is the origin's page. Its script writes, once loaded, what
// the browser makes of every link and srcset candidate.
func wptPageHTML() string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html><html><head><title>t</title></head><body>\n")
	for i := range wptBatch {
		fmt.Fprintf(&b, "<a id=\"p%d\" href=\"/\">p</a><a id=\"w%d\" href=\"/\">w</a><img id=\"s%d\" src=\"/i.png\" srcset=\"/i.png 1x\"><div id=\"h%d\"></div>\n", i, i, i, i)
	}
	b.WriteString(`<pre id="out"></pre><script>
function parts(u) { try { u = new URL(u, document.baseURI); return [u.origin, u.protocol, u.pathname, u.search, u.hash]; } catch (e) { return null; } }
var out = [];
for (var i = 0; i < ` + fmt.Sprint(wptBatch) + `; i++) {
  var h = document.getElementById("h" + i).querySelector("a");
  var s = document.getElementById("s" + i).getAttribute("srcset").split(/,\s+/).map(function (c) { return parts(c.trim().split(/\s+/)[0]); });
  out.push({p: parts(document.getElementById("p" + i).href), w: parts(document.getElementById("w" + i).href), h: h && parts(h.href), s: s});
}
document.getElementById("out").textContent = JSON.stringify(out);
</script></body></html>`)
	return b.String()
}

// TestWPTValuesThroughProxy sends every input of the URL Standard's tests
// through the real proxy, as a visitor's query parameter, into a link's
// path segment, query and fragment, a whole link under [https, http,
// relative], a srcset and an html: fragment's link, and into a redirect's
// path, query and fragment. Each link stays on the page's site, with the
// value as its one segment, query or fragment (a value "." or "..", a dot
// segment, is replaced by its default, empty), or, whole, has one of the allowed
// schemes; the redirect leads to /r/ and the value. With Chromium
// installed, a batch of the inputs is loaded in the browser, which must
// read every link so.
func TestWPTValuesThroughProxy(t *testing.T) {
	page := wptPageHTML()
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	})
	e := newEnv(t, origin, []byte(wptRules()))
	client := &http.Transport{}
	t.Cleanup(client.CloseIdleConnections)
	get := func(path string, header ...string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, e.proxy.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if header != nil {
			req.Header.Set(header[0], header[1])
		}
		resp, err := client.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(b)
	}
	inputs := wptInputs(t)
	var firstQuery string
	for lo := 0; lo < len(inputs); lo += wptBatch {
		batch := inputs[lo:min(lo+wptBatch, len(inputs))]
		q := url.Values{}
		for i, v := range batch {
			q.Set(fmt.Sprintf("v%d", i), v)
		}
		if lo == 0 {
			firstQuery = q.Encode()
		}
		resp, body := get("/?" + q.Encode())
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		checkWPTPage(t, batch, body)
		for _, v := range batch {
			resp, _ := get("/go?" + url.Values{"v0": {v}}.Encode())
			checkWPTRedirect(t, v, resp)
			// A request without a query, whose query the redirect would
			// take (a path then, not a fragment, would be cleaned).
			if httpguts.ValidHeaderFieldValue(v) && strings.TrimSpace(v) == v && v != "" {
				resp, _ := get("/go-fragment", "X-V", v)
				checkWPTFragment(t, v, resp)
			}
		}
	}
	if testing.Short() {
		return
	}
	t.Run("chromium", func(t *testing.T) {
		bin := chromium.Path(t)
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		dom := chromium.Run(ctx, t, bin, t.TempDir(), "--dump-dom", e.proxy.URL+"/?"+firstQuery)
		var got []struct {
			P, W, H []string
			S       [][]string
		}
		if chromium.Answer(t, dom, &got); len(got) != wptBatch {
			t.Fatalf("Chromium answered %d of %d", len(got), wptBatch)
		}
		site := e.proxy.URL
		for i, v := range inputs[:wptBatch] {
			g := got[i]
			name := fmt.Sprintf("%q", v)
			dots := v == "." || v == ".."
			if g.P == nil || g.P[0] != site || !dots && (!regexp.MustCompile(`^/shop/[^/]*/items$`).MatchString(g.P[2]) || !strings.HasPrefix(g.P[3], "?q=")) {
				t.Errorf("%s: the link leads to %q", name, g.P)
			}
			if g.H == nil || g.H[0] != site || !dots && !regexp.MustCompile(`^/h/[^/]*$`).MatchString(g.H[2]) {
				t.Errorf("%s: the html: link leads to %q", name, g.H)
			}
			if g.W != nil && g.W[1] != "https:" && g.W[1] != "http:" {
				t.Errorf("%s: the whole link leads to %q", name, g.W)
			}
			if g.W != nil && g.W[1] == "http:" && g.W[0] != site && !strings.HasPrefix(strings.ToLower(strings.TrimLeft(v, " ")), "http:") {
				t.Errorf("%s: the whole link, relative, leads to %q", name, g.W)
			}
			if len(g.S) != 2 || g.S[0] == nil || g.S[1] == nil || g.S[0][0] != site || g.S[1][0] != site ||
				!regexp.MustCompile(`^/i/[^/]*\.png$`).MatchString(g.S[0][2]) || g.S[1][2] != "/j.png" {
				t.Errorf("%s: the srcset's candidates lead to %q", name, g.S)
			}
		}
	})
}

// checkWPTPage checks the links and srcsets of the page the proxy served
// for batch, as x/net/html parses it and net/url reads each URL.
func checkWPTPage(t *testing.T, batch []string, body string) {
	t.Helper()
	doc, err := xhtml.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	attrs := map[string]map[string]string{}
	var walk func(n *xhtml.Node, parent string)
	walk = func(n *xhtml.Node, parent string) {
		if n.Type == xhtml.ElementNode {
			a := map[string]string{}
			for _, at := range n.Attr {
				a[at.Key] = at.Val
			}
			if id := a["id"]; id != "" {
				attrs[id] = a
				parent = id
			} else if n.Data == "a" && parent != "" {
				attrs[parent+" a"] = a
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, parent)
		}
	}
	walk(doc, "")
	for i, v := range batch {
		name := fmt.Sprintf("%q", v)
		dots := v == "." || v == ".."
		p := attrs[fmt.Sprintf("p%d", i)]["href"]
		if dots {
			// Rendered with the defaults, empty.
			if p != "/shop//items?q=#" {
				t.Errorf("%s: a dot segment: href %q", name, p)
			}
		} else {
			checkWPTURL(t, name+": link", p, "/shop/", "/items", v, true)
		}
		h := attrs[fmt.Sprintf("h%d a", i)]["href"]
		if !dots {
			checkWPTURL(t, name+": html: link", h, "/h/", "", v, false)
		}
		w := attrs[fmt.Sprintf("w%d", i)]["href"]
		if o := escape.OriginOf(w); o.Scheme != "" && o.Scheme != "https" && o.Scheme != "http" || o.Scheme == "" && o.HasAuthority {
			t.Errorf("%s: whole link %q, origin %+v", name, w, o)
		}
		s := attrs[fmt.Sprintf("s%d", i)]["srcset"]
		first, second, ok := strings.Cut(s, " 1x, ")
		if !ok || !strings.HasPrefix(second, "/j.png?q=") || !strings.HasSuffix(second, " 2x") || strings.ContainsAny(first+strings.TrimSuffix(second, " 2x"), " \t\n\f\r,") {
			t.Errorf("%s: srcset %q", name, s)
			continue
		}
		if seg, err := url.PathUnescape(strings.TrimSuffix(strings.TrimPrefix(first, "/i/"), ".png")); err != nil || seg != v {
			t.Errorf("%s: srcset %q: the first candidate reads %q (%v)", name, s, seg, err)
		}
	}
}

// checkWPTURL checks that u is before + v as one segment + after, then,
// with query, ?q= and v, then # and v, on the page's own site.
func checkWPTURL(t *testing.T, name, u, before, after, v string, query bool) {
	t.Helper()
	if o := escape.OriginOf(u); o != (escape.Origin{}) {
		t.Errorf("%s: %q has origin %+v", name, u, o)
		return
	}
	pu, err := url.Parse(u)
	if err != nil {
		t.Errorf("%s: %q: %v", name, u, err)
		return
	}
	seg, ok := strings.CutPrefix(pu.EscapedPath(), before)
	seg, ok2 := strings.CutSuffix(seg, after)
	if !ok || !ok2 || strings.Contains(seg, "/") {
		t.Errorf("%s: %q: path %q is not %sX%s", name, u, pu.EscapedPath(), before, after)
	} else if got, err := url.PathUnescape(seg); err != nil || got != v {
		t.Errorf("%s: %q: the segment reads %q", name, u, got)
	}
	if query {
		qs, err := url.ParseQuery(pu.RawQuery)
		if err != nil || len(qs) != 1 || len(qs["q"]) != 1 || qs["q"][0] != v {
			t.Errorf("%s: %q: query reads %v (%v)", name, u, qs, err)
		}
	}
	if pu.Fragment != v {
		t.Errorf("%s: %q: fragment reads %q", name, u, pu.Fragment)
	}
}

// checkWPTFragment checks the redirect of /go-fragment with v: to /r/x
// and v as its fragment, as a browser resolves the Location.
func checkWPTFragment(t *testing.T, v string, resp *http.Response) {
	t.Helper()
	loc := resp.Header.Get("Location")
	base, _ := url.Parse("http://shop.example/go-fragment")
	u, err := base.Parse(loc)
	if resp.StatusCode != http.StatusFound || err != nil || u.Host != "shop.example" || u.EscapedPath() != "/r/x" || u.RawQuery != "" || u.Fragment != v {
		t.Errorf("%q: /go-fragment: status %d, Location %q leads to %v (%v)", v, resp.StatusCode, loc, u, err)
	}
}

// checkWPTRedirect checks the redirect of /go with v: to /r/ and v as one
// segment, ?q= and v, and # and v, as a browser resolves the Location
// against the request (net/url removes dot segments as browsers do), or,
// for a dot segment, to the target without values.
func checkWPTRedirect(t *testing.T, v string, resp *http.Response) {
	t.Helper()
	name := fmt.Sprintf("%q", v)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound {
		t.Errorf("%s: /go status %d", name, resp.StatusCode)
		return
	}
	base, _ := url.Parse("http://shop.example/go")
	u, err := base.Parse(loc)
	if err != nil || u.Host != "shop.example" {
		t.Errorf("%s: Location %q leads to %v (%v)", name, loc, u, err)
		return
	}
	if v == "." || v == ".." {
		if u.Path != "/r/" || u.RawQuery != "q=" || u.Fragment != "" {
			t.Errorf("%s: Location %q", name, loc)
		}
		return
	}
	seg, ok := strings.CutPrefix(u.EscapedPath(), "/r/")
	if got, err := url.PathUnescape(seg); !ok || strings.Contains(seg, "/") || err != nil || got != v {
		t.Errorf("%s: Location %q leads to %s", name, loc, u.EscapedPath())
	}
	if qs, err := url.ParseQuery(u.RawQuery); err != nil || len(qs) != 1 || qs.Get("q") != v {
		t.Errorf("%s: Location %q: query %v (%v)", name, loc, qs, err)
	}
	if u.Fragment != v {
		t.Errorf("%s: Location %q: fragment %q", name, loc, u.Fragment)
	}
}
