package escape

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/internal/chromium"
	"github.com/bespoke-edge/bespoke/internal/corpus"
)

// wptCase is an entry of the URL Standard's tests (testdata/wpt): an
// input, the base it is parsed against (nil: none), and what the
// standard makes of it.
type wptCase struct {
	Input    string  `json:"input"`
	Base     *string `json:"base"`
	Failure  bool    `json:"failure"`
	Protocol string  `json:"protocol"`
	Host     string  `json:"host"`
	Pathname string  `json:"pathname"`
}

func wptCases(t *testing.T) []wptCase {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "wpt", "urltestdata.json"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		t.Fatal(err)
	}
	var cases []wptCase
	for _, e := range entries {
		if len(e) > 0 && e[0] == '"' {
			continue // a comment
		}
		var c wptCase
		if err := json.Unmarshal(e, &c); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, c)
	}
	if len(cases) < 800 {
		t.Fatalf("%d cases", len(cases))
	}
	return cases
}

// valueCases are the cases the value tests write as a visitor's value:
// the URL Standard's, and each of the Big List of Naughty Strings
// (testdata/naughty), of which the standard says nothing (Failure, no
// base).
func valueCases(t *testing.T) []wptCase {
	cases := wptCases(t)
	for _, s := range corpus.Strings(t, filepath.Join("..", "..", "testdata", "naughty", "blns.json")) {
		cases = append(cases, wptCase{Input: s, Failure: true})
	}
	return cases
}

// pageBase returns the scheme and host of c's base when it is a page's
// URL (http or https), which is where bespoke's URLs are read.
func (c wptCase) pageBase() (scheme, host string, ok bool) {
	if c.Base == nil {
		return "", "", false
	}
	u, err := url.Parse(*c.Base)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" {
		return "", "", false
	}
	return u.Scheme, u.Host, true
}

// TestWPTOrigins reads every input of the URL Standard's tests as
// bespoke does, and checks it against what the standard makes of it: a
// URL bespoke reads as a path of the page's site (no scheme, no host)
// resolves on the base's scheme and host; a scheme bespoke reads is the
// URL's; a URL it reads without a host has none. Where bespoke is
// stricter, reading a host where the standard reads a path of the page
// (http:foo.com on an http page), or spells the host otherwise (the
// standard's hosts are canonical: default port dropped, IDNA, IPv4
// numbers), it only counts.
func TestWPTOrigins(t *testing.T) {
	n := map[string]int{}
	for _, c := range wptCases(t) {
		if c.Failure {
			n["failure"]++
			continue
		}
		bscheme, bhost, page := c.pageBase()
		o := OriginOf(c.Input)
		switch {
		case o.Scheme == "" && !o.HasAuthority:
			if !page {
				n["other base"]++
				continue
			}
			if c.Protocol != bscheme+":" || c.Host != bhost {
				t.Errorf("%q against %s: bespoke reads a path of the page's site, the standard goes to %s//%s", c.Input, *c.Base, c.Protocol, c.Host)
			}
			n["path of the page's site"]++
		case o.Scheme == "":
			if !page {
				n["other base"]++
				continue
			}
			if c.Protocol != bscheme+":" {
				t.Errorf("%q against %s: a host on the page's scheme, the standard goes to %s", c.Input, *c.Base, c.Protocol)
			}
			if c.Host == bhost {
				n["stricter: a host where the standard reads a path"]++
			} else {
				n["host on the page's scheme"]++
			}
		case c.Protocol != o.Scheme+":":
			t.Errorf("%q: bespoke reads the scheme %s, the standard %s", c.Input, o.Scheme, c.Protocol)
		case !o.HasAuthority:
			if c.Host != "" {
				t.Errorf("%q: bespoke reads no host, the standard %q", c.Input, c.Host)
			}
			n["scheme, no host"]++
		default:
			host := o.Authority[strings.LastIndexByte(o.Authority, '@')+1:]
			switch {
			case host == c.Host:
				n["scheme and host"]++
			case page && c.Protocol == bscheme+":" && c.Host == bhost:
				n["stricter: a host where the standard reads a path"]++
			default:
				n["scheme, host spelt otherwise"]++
			}
		}
	}
	t.Logf("%v", n)
}

// TestWPTDotSegments: where bespoke sees no dot segment in the path of an
// http(s) URL with a host, or of a path from the root, the standard's
// path has as many segments: nothing there climbs.
func TestWPTDotSegments(t *testing.T) {
	checked, dotted := 0, 0
	for _, c := range wptCases(t) {
		if c.Failure || c.Protocol != "http:" && c.Protocol != "https:" && c.Protocol != "ws:" && c.Protocol != "wss:" {
			continue
		}
		// A URL with the host the standard gives it, or a path from the
		// root: other relative URLs join the base's path.
		o := OriginOf(c.Input)
		s := normalize(c.Input, true)
		switch {
		case o.HasAuthority:
			if o.Authority[strings.LastIndexByte(o.Authority, '@')+1:] != c.Host {
				continue
			}
		case o.Scheme != "" || s == "" || !isSlash(s[0]):
			continue
		}
		p := pathOf(c.Input)
		if p == "" {
			p = "/"
		}
		segs := strings.FieldsFunc("x"+p, func(r rune) bool { return r == '/' || r == '\\' })
		if slices.ContainsFunc(segs, isDotSegment) {
			dotted++
			continue
		}
		checked++
		if got, want := strings.Count(c.Pathname, "/"), strings.Count(p, "/")+strings.Count(p, `\`); got != want {
			t.Errorf("%q: bespoke sees no dot segment in %q, the standard's path is %q", c.Input, p, c.Pathname)
		}
	}
	if checked < 150 {
		t.Errorf("only %d paths checked", checked)
	}
	t.Logf("%d paths without dot segments checked, %d with", checked, dotted)
}

// wptContext is a place of a URL attribute a value can land: the
// template's text before and after the value, or, with schemes, a whole
// URL the value is.
type wptContext struct {
	name          string
	kind          Kind
	before, after string
	schemes       []string
}

var wptContexts = []wptContext{
	{name: "path segment", kind: URL, before: "/shop/", after: "/items"},
	{name: "last path segment", kind: URL, before: "https://shop.example/p/"},
	{name: "query", kind: URL, before: "/search?q=", after: "&x=1"},
	{name: "fragment", kind: URL, before: "/page#"},
	{name: "srcset", kind: SrcSet, before: "/i/", after: ".png 1x, /j.png 2x"},
	{name: "srcset query", kind: SrcSet, before: "/i.png?q=", after: " 1x, /j.png 2x"},
	{name: "https", kind: URL, schemes: []string{"https"}},
	{name: "https, http, relative", kind: URL, schemes: []string{"https", "http", "relative"}},
	{name: "mailto", kind: URL, schemes: []string{"mailto"}},
	{name: "tel", kind: URL, schemes: []string{"tel"}},
	{name: "srcset https, relative", kind: SrcSet, after: " 2x", schemes: []string{"https", "relative"}},
}

// render writes v in context x as the host does: escaped for where it
// lands, or as a whole URL under the context's schemes, and then kept
// only if it points where its skeleton does. It returns the rendering,
// its skeleton, and whether the rendering is kept.
func (x wptContext) render(v string) (out, skeleton string, ok bool) {
	var b []byte
	if x.schemes != nil {
		b, ok = AppendWholeURL(nil, x.kind, v, x.schemes)
		skeleton = Mark + x.after
	} else {
		b, ok = AppendValue([]byte(x.before), x.kind, x.before, v)
		skeleton = x.before + "x" + x.after
	}
	out = string(b) + x.after
	return out, skeleton, ok && SameOrigins(x.kind, out, skeleton, x.schemes)
}

// browserKeeps are, for each part of a URL, the bytes besides letters and
// digits that the standard's parser keeps as they are in a special URL
// (neither percent-encoded, nor read as a delimiter or a slash): an
// escaped value must hold no other, so that the URL the browser makes is
// the one written.
var browserKeeps = map[Part]string{
	Path:     "-._~!$&'()*+,;=:@%",
	Query:    "-._~!$&()*+,;=:@%/?",
	Fragment: "-._~!$&'()*+,;=:@%/?#\\^{|}",
}

// TestWPTValues writes every input of the URL Standard's tests, and each
// of the Big List of Naughty Strings, as a visitor's value in every
// context of wptContexts. A value in a path
// segment, a query or a fragment is refused only when it is a dot
// segment; kept, it reads back from the URL, holds only bytes the
// browser keeps as they are, and its URL has the skeleton's origin. A
// whole URL kept has a scheme of the allow-list, the one the standard
// gives it, or, for relative, is one the standard resolves on the page's
// site.
func TestWPTValues(t *testing.T) {
	n := map[string]int{}
	for _, c := range valueCases(t) {
		v := c.Input
		for _, x := range wptContexts {
			out, _, ok := x.render(v)
			if x.schemes == nil {
				if !ok {
					if v != "." && v != ".." || PartOf(x.before) != Path {
						t.Errorf("%s: %q refused: %q", x.name, v, out)
					}
					n[x.name+": refused"]++
					continue
				}
				esc := strings.TrimSuffix(strings.TrimPrefix(out, x.before), x.after)
				if got, err := url.PathUnescape(esc); err != nil || got != v {
					t.Errorf("%s: %q written %q, which reads %q (%v)", x.name, v, esc, got, err)
				}
				part := PartOf(x.before)
				if part == Path && (x.after == "" || x.after[0] == '/') && isDotSegment(esc) {
					t.Errorf("%s: %q kept, a dot segment", x.name, v)
				}
				for i := 0; i < len(esc); i++ {
					if c := esc[i]; !isLetter(c) && !isDigit(c) && strings.IndexByte(browserKeeps[part], c) < 0 {
						t.Errorf("%s: %q written %q, whose %q a browser reads otherwise", x.name, v, esc, c)
						break
					}
				}
				n[x.name+": kept"]++
				continue
			}
			if !ok {
				n[x.name+": refused"]++
				continue
			}
			n[x.name+": kept"]++
			whole := strings.TrimSuffix(out, x.after)
			if strings.ContainsAny(whole, " \t\n\r\f\"'<>`\\") {
				t.Errorf("%s: %q written %q", x.name, v, whole)
			}
			o := OriginOf(whole)
			if o.Scheme == "" {
				if o.HasAuthority || !contains(x.schemes, "relative") {
					t.Errorf("%s: %q kept as %q, origin %+v", x.name, v, whole, o)
				}
				if bscheme, bhost, page := c.pageBase(); page && !c.Failure && (c.Protocol != bscheme+":" || c.Host != bhost) {
					t.Errorf("%s: %q kept as a path of the site; against %s the standard goes to %s//%s", x.name, v, *c.Base, c.Protocol, c.Host)
				}
				continue
			}
			if !contains(x.schemes, o.Scheme) {
				t.Errorf("%s: %q kept as %q, scheme %s", x.name, v, whole, o.Scheme)
			}
			if !c.Failure && c.Protocol != o.Scheme+":" {
				t.Errorf("%s: %q kept as %s, the standard reads %s", x.name, v, o.Scheme, c.Protocol)
			}
		}
	}
	t.Logf("%v", n)
}

// wptPage is the page the renderings are resolved in.
const wptPage = "http://shop.example/a/b"

// resolved is what a browser makes of a URL in the page: its protocol,
// host, pathname, search and hash, as the URL API or an <a>'s properties
// give them, or nil when it is no URL.
type resolved []string

func (r resolved) protocol() string { return r[0] }
func (r resolved) host() string     { return r[1] }
func (r resolved) pathname() string { return r[2] }
func (r resolved) href() string {
	if r == nil {
		return "(no URL)"
	}
	return r[0] + "//" + r[1] + r[2] + r[3] + r[4]
}

// wptResolver defines resolve(urls, mk), which resolves each URL with mk;
// it is given to Node's URL and to Chromium's <a href>.
const wptResolver = `function resolve(urls, mk) {
  return urls.map(function (u) {
    try { var r = mk(u); return [r.protocol, r.host, r.pathname, r.search, r.hash]; }
    catch (e) { return null; }
  });
}`

func nodeResolve(t *testing.T, urls []string) []resolved {
	bin, err := exec.LookPath("node")
	if err != nil {
		t.Log("node not installed")
		return nil
	}
	in := filepath.Join(t.TempDir(), "urls.json")
	b, _ := json.Marshal(urls)
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	script := wptResolver + `
var urls = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
process.stdout.write(JSON.stringify(resolve(urls, function (u) { return new URL(u, "` + wptPage + `"); })));`
	out, err := exec.Command(bin, "-e", script, in).Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var res []resolved
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(urls) {
		t.Fatalf("node's answer: %v (%d of %d)", err, len(res), len(urls))
	}
	return res
}

func chromiumResolve(t *testing.T, urls []string) []resolved {
	if testing.Short() {
		t.Skip("headless Chromium takes seconds")
	}
	bin := chromium.Path(t)
	b, _ := json.Marshal(urls)
	// An <a> whose href is no URL has the protocol ":".
	page := `<!DOCTYPE html><html><head><base href="` + wptPage + `"></head><body><pre id="out"></pre><script>
` + wptResolver + `
var res = resolve(` + string(b) + `, function (u) {
  var a = document.createElement("a"); a.setAttribute("href", u);
  if (a.protocol === ":") throw new Error("no URL");
  return a;
});
document.getElementById("out").textContent = JSON.stringify(res);
</script></body></html>`
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dom := chromium.DumpPage(ctx, t, bin, page, nil)
	var res []resolved
	if chromium.Answer(t, dom, &res); len(res) != len(urls) {
		t.Fatalf("Chromium answered %d of %d", len(res), len(urls))
	}
	return res
}

// TestWPTBrowserResolves gives the inputs of the URL Standard's tests,
// and the renderings of TestWPTValues, to Node's URL, which implements
// the standard, and to Chromium's <a href>, in a page at wptPage. An
// input bespoke reads as a path of the page's site leads there, and one
// it gives a scheme (and no host) has that scheme (and none). A URL with a value in its path, query or fragment
// has its skeleton's scheme and host and as many path segments, differing
// in one segment at most, and the browser makes of it the URL written
// (its path, query and fragment as they are); a whole URL has a scheme
// of the allow-list, or, for relative, leads to the page's site.
func TestWPTBrowserResolves(t *testing.T) {
	type pair struct {
		x        wptContext
		v        string
		out, sk  int // indexes in urls
		whole    bool
		rendered string
	}
	var urls []string
	index := map[string]int{}
	add := func(u string) int {
		if i, ok := index[u]; ok {
			return i
		}
		index[u] = len(urls)
		urls = append(urls, u)
		return len(urls) - 1
	}
	var pairs []pair
	for _, c := range valueCases(t) {
		for _, x := range wptContexts {
			out, sk, ok := x.render(c.Input)
			if !ok {
				continue
			}
			got, want := urlsOf(x.kind, out), urlsOf(x.kind, sk)
			for i := range got {
				pairs = append(pairs, pair{x: x, v: c.Input, out: add(got[i]), sk: add(want[i]), whole: markFirst(want[i]), rendered: got[i]})
			}
		}
	}
	// The inputs themselves, read as bespoke reads them.
	var read []int
	for _, c := range wptCases(t) {
		read = append(read, add(c.Input))
	}
	ran := false
	for _, b := range []struct {
		name    string
		resolve func(*testing.T, []string) []resolved
	}{{"node", nodeResolve}, {"chromium", chromiumResolve}} {
		t.Run(b.name, func(t *testing.T) {
			res := b.resolve(t, urls)
			if res == nil {
				t.Skip("not installed")
			}
			ran = true
			failed := 0
			for _, i := range read {
				u, got := urls[i], res[i]
				o := OriginOf(u)
				switch {
				case got == nil:
				case o.Scheme == "" && !o.HasAuthority:
					if got.protocol() != "http:" || got.host() != "shop.example" {
						t.Errorf("%q: bespoke reads a path of the page's site; the browser goes to %s", u, got.href())
					}
				case o.Scheme == "":
					if got.protocol() != "http:" {
						t.Errorf("%q: bespoke reads a host on the page's scheme; the browser goes to %s", u, got.href())
					}
				case got.protocol() != o.Scheme+":":
					t.Errorf("%q: bespoke reads the scheme %s; the browser goes to %s", u, o.Scheme, got.href())
				case !o.HasAuthority && got.host() != "":
					t.Errorf("%q: bespoke reads no host; the browser goes to %s", u, got.href())
				}
			}
			for _, p := range pairs {
				got, want := res[p.out], res[p.sk]
				if p.whole {
					switch {
					case got == nil:
					case contains(p.x.schemes, strings.TrimSuffix(got.protocol(), ":")):
					case contains(p.x.schemes, "relative") && got.protocol() == "http:" && got.host() == "shop.example":
					default:
						t.Errorf("%s: %q, written %q, leads to %s", p.x.name, p.v, p.rendered, got.href())
					}
					continue
				}
				if got == nil || want == nil || got.protocol() != want.protocol() || got.host() != want.host() || !oneSegmentApart(got.pathname(), want.pathname()) {
					t.Errorf("%s: %q, written %q, leads to %s; the template to %s", p.x.name, p.v, p.rendered, got.href(), want.href())
					failed++
				} else if rest, ok := strings.CutPrefix(p.rendered, "https://shop.example"); ok || strings.HasPrefix(p.rendered, "/") {
					if !ok {
						rest = p.rendered
					}
					if made := got[2] + got[3] + got[4]; made != strings.TrimSuffix(rest, "#") {
						t.Errorf("%s: %q, written %q, is %q to the browser", p.x.name, p.v, rest, made)
						failed++
					}
				}
				if failed > 20 {
					t.Fatal("too many")
				}
			}
			t.Logf("%d renderings of %d URLs compared", len(pairs), len(urls))
		})
	}
	if !ran {
		t.Skip("neither node nor chromium is installed")
	}
}

// oneSegmentApart reports whether paths a and b have as many segments,
// and differ in one at most: a value took the place of its skeleton's x,
// and moved no other.
func oneSegmentApart(a, b string) bool {
	as, bs := strings.Split(a, "/"), strings.Split(b, "/")
	if len(as) != len(bs) {
		return false
	}
	diff := 0
	for i := range as {
		if as[i] != bs[i] {
			diff++
		}
	}
	return diff <= 1
}
