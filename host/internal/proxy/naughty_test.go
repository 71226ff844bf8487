package proxy_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/bespoke-edge/bespoke/host/internal/ruletest"
	"github.com/bespoke-edge/bespoke/internal/chromium"
	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/internal/corpus"
	"github.com/bespoke-edge/bespoke/internal/escape"
	"github.com/bespoke-edge/bespoke/internal/rulegen"
	"golang.org/x/net/html"
	"golang.org/x/net/http/httpguts"
)

// naughtyStrings is the Big List of Naughty Strings
// (testdata/naughty/README.md) and a few strings the list lacks that
// HTML, URLs and headers each read their own way: NUL, CR and CRLF, a
// line separator, a byte-order mark, spaces around a value, slashes and
// dot segments.
func naughtyStrings(t *testing.T) []string {
	return append(corpus.Strings(t, "../../../testdata/naughty/blns.json"), "\x00", "a\x00b", "a\rb", "a\r\nb", "\u2028", "\ufeff", "a\tb", " lead", "trail ", `\`, `/\evil.example`, "//evil.example", "..", "%2e%2e", ".%2E")
}

// naughtyInput is one way a rule reads the visitor's value: expr, as a
// template writes it, and how a request carries the value (set). exact
// says the rule reads the value as want says, so an output must give it
// back, unless loose says v is one the proxy reads otherwise (a path
// whose slashes it merges); an input the proxy normalizes (a language,
// a browser's version) is checked for the shape of what it writes alone.
type naughtyInput struct {
	key, expr string
	set       func(q url.Values, h http.Header, v string)
	// want is the value the rule reads, and false where the request
	// cannot carry v.
	want  func(v string) (string, bool)
	exact bool
	loose func(v string) bool
	// json says the value is read out of a JSON text or base64, where a
	// NUL, which separates the items of a list value, reads as U+FFFD.
	json bool
}

// read is the value the rules read of v, as each place writes it: with
// the C0 control characters other than tab, line feed, form feed and
// carriage return removed (SYNTAX.md, "Where values from the request
// may go"), and "" where the request cannot carry v.
func (in naughtyInput) read(v string) string {
	w, carried := in.want(v)
	if !carried {
		return ""
	}
	if in.json {
		w = strings.ReplaceAll(w, "\x00", "\uFFFD")
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 && !strings.ContainsRune("\t\n\f\r", r) {
			return -1
		}
		return r
	}, w)
}

// exactFor reports whether an output must give v back as read says.
func (in naughtyInput) exactFor(v string) bool {
	return in.exact && (in.loose == nil || !in.loose(v))
}

// dotSegment reports whether v, alone in a path segment, is one a
// browser resolves; its template is then rendered with the defaults
// (""). A "%" of a value is escaped, so "%2e" is no dot.
func dotSegment(v string) bool { return v == "." || v == ".." }

// pct percent-encodes every byte outside RFC 3986's unreserved set.
func pct(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func same(v string) (string, bool) { return v, true }

func jsonOf(v string) string {
	b, _ := json.Marshal(map[string]string{"v": v})
	return string(b)
}

var naughtyInputs = []naughtyInput{
	{key: "q", expr: `query('q')`, exact: true, want: same,
		set: func(q url.Values, h http.Header, v string) { q.Set("q", v) }},
	{key: "c", expr: `cookie('c')`, exact: true, want: same,
		set: func(q url.Values, h http.Header, v string) { h.Add("Cookie", "c="+pct(v)) }},
	{key: "jc", expr: `json(cookie('j'), 'v')`, exact: true, json: true, want: same,
		set: func(q url.Values, h http.Header, v string) { h.Add("Cookie", "j="+pct(jsonOf(v))) }},
	// A header carries what a header line may hold, without the spaces
	// around it (RFC 9110 5.5).
	{key: "h", expr: `header('X-N')`, exact: true,
		want: func(v string) (string, bool) { return strings.Trim(v, " \t"), httpguts.ValidHeaderFieldValue(v) },
		set: func(q url.Values, h http.Header, v string) {
			if httpguts.ValidHeaderFieldValue(v) {
				h.Set("X-N", v)
			}
		}},
	{key: "jh", expr: `json(header('X-J'), 'v')`, exact: true, json: true, want: same,
		set: func(q url.Values, h http.Header, v string) { h.Set("X-J", jsonOf(v)) }},
	{key: "b", expr: `base64(header('X-B'))`, exact: true, json: true, want: same,
		set: func(q url.Values, h http.Header, v string) {
			h.Set("X-B", base64.StdEncoding.EncodeToString([]byte(v)))
		}},
	// A city is read decoded (Cloudflare's \u00e3, Vercel's %C3%A3); a
	// value with no letter, a control character or over 100 bytes is
	// none.
	{key: "city", expr: `geo.city`, exact: true,
		want: func(v string) (string, bool) {
			v = strings.Trim(v, " \t")
			return v, httpguts.ValidHeaderFieldValue(v) && len(v) <= 100 && strings.IndexFunc(v, unicode.IsLetter) >= 0 &&
				strings.IndexFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0
		},
		loose: func(v string) bool { return strings.ContainsAny(v, `\%`) },
		set: func(q url.Values, h http.Header, v string) {
			h.Set("CF-IPCountry", "FR")
			if httpguts.ValidHeaderFieldValue(v) {
				h.Set("cf-ipcity", v)
			}
		}},
	{key: "lang", expr: `language`, want: same,
		set: func(q url.Values, h http.Header, v string) {
			if httpguts.ValidHeaderFieldValue(v) {
				h.Set("Accept-Language", v)
			}
		}},
	{key: "ua", expr: `device.browser_version`, want: same,
		set: func(q url.Values, h http.Header, v string) {
			if httpguts.ValidHeaderFieldValue(v) {
				h.Set("User-Agent", "Mozilla/5.0 Chrome/"+v)
			}
		}},
	// The path is read decoded, its dot segments resolved and its
	// slashes merged.
	{key: "p", expr: `path`, exact: true,
		want: func(v string) (string, bool) { return "/n/" + v, true },
		loose: func(v string) bool {
			return strings.ContainsAny(v, `/\`) || dotSegment(v) || len(pct(v)) > 1020 || strings.ContainsRune(v, 0)
		},
		set: func(q url.Values, h http.Header, v string) {}},
}

// naughtyRules writes, for each input, the value into page text, an
// ordinary attribute, a URL's path and query, an html: fragment's text
// and quoted attribute, a response header, a request header, a cookie
// and a JSON string; and a redirect whose path and query hold values,
// and one whose whole target is the value.
func naughtyRules() string {
	var b strings.Builder
	b.WriteString("rules:\n  - name: go\n    when: path == \"/go\"\n    actions:\n")
	b.WriteString("      - redirect: \"/r/{{ query('q') }}?c={{ cookie('c') }}&j={{ json(header('X-J'), 'v') }}\"\n")
	b.WriteString("  - name: next\n    when: path == \"/next\"\n    actions:\n")
	b.WriteString("      - redirect: { to: \"{{ query('q') }}\", schemes: [relative] }\n")
	b.WriteString("  - name: all\n    actions:\n")
	for _, in := range naughtyInputs {
		k, x := in.key, in.expr
		fmt.Fprintf(&b, "      - set_inner: { select: \"#t-%s\", text: \"{{ %s }}\" }\n", k, x)
		fmt.Fprintf(&b, "      - set_attr: { select: \"#a-%s\", name: title, value: \"{{ %s }}\" }\n", k, x)
		fmt.Fprintf(&b, "      - set_attr: { select: \"#u-%s\", name: href, value: \"/p/{{ %s }}\" }\n", k, x)
		fmt.Fprintf(&b, "      - set_attr: { select: \"#v-%s\", name: href, value: \"/s?q={{ %s }}#{{ %s }}\" }\n", k, x, x)
		fmt.Fprintf(&b, "      - set_attr: { select: \"#w-%s\", name: href, value: \"{{ %s or '/d' }}\", schemes: [https, relative] }\n", k, x)
		fmt.Fprintf(&b, "      - append: { select: \"#h-%s\", html: \"<b title='{{ %s }}'>{{ %s }}</b>\" }\n", k, x, x)
		fmt.Fprintf(&b, "      - append: { select: \"#g-%s\", html: \"<a href='/p/{{ %s }}?q={{ %s }}'>l</a>\" }\n", k, x, x)
		fmt.Fprintf(&b, "      - set_attr: { select: \"#s-%s\", name: srcset, value: \"/i/{{ %s }}.png 1x, /j.png?q={{ %s }} 2x\" }\n", k, x, x)
		fmt.Fprintf(&b, "      - add_class: { select: \"#k-%s\", class: \"c-{{ %s }}\" }\n", k, x)
		fmt.Fprintf(&b, "      - set_header: { name: X-Out-%s, value: \"{{ %s }}\" }\n", k, x)
		fmt.Fprintf(&b, "      - set_header: { name: X-Up-%s, value: \"{{ %s }}\", on: request }\n", k, x)
		fmt.Fprintf(&b, "      - set_cookie: { name: o-%s, value: \"{{ %s }}\" }\n", k, x)
		fmt.Fprintf(&b, "      - json_set: { path: %s, value: \"{{ %s }}\" }\n", k, x)
	}
	return b.String()
}

func naughtyPage() string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html><html><head><title>t</title></head><body>\n")
	for _, in := range naughtyInputs {
		k := in.key
		fmt.Fprintf(&b, "<p id=\"t-%s\">x</p><span id=\"a-%s\" title=\"x\">a</span><a id=\"u-%s\" href=\"/\">u</a><a id=\"v-%s\" href=\"/\">v</a><a id=\"w-%s\" href=\"/\">w</a><div id=\"h-%s\"></div><div id=\"g-%s\"></div><img id=\"s-%s\" src=\"/i.png\" srcset=\"/i.png 1x\"><i id=\"k-%s\" class=\"k\">k</i>\n", k, k, k, k, k, k, k, k, k)
	}
	b.WriteString("</body></html>")
	return b.String()
}

// TestNaughtyStrings sends each of the Big List of Naughty Strings, as
// the visitor's value, through every input the rules read and into every
// place a template writes, through the real proxy: no request fails; the
// page keeps its shape and the browser reads the value exactly where it
// lands in text or an attribute; a URL stays on the rule's scheme and
// host and gives the value back from its path or query; headers and
// cookies are valid, and give the value back as documented; a JSON
// string decodes to it; a redirect stays on the site.
func TestNaughtyStrings(t *testing.T) {
	var mu sync.Mutex
	var upstream http.Header
	page := naughtyPage()
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		upstream = r.Header.Clone()
		mu.Unlock()
		if r.URL.Path == "/api" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id": 1}`)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	})
	e := newEnv(t, origin, []byte(naughtyRules()))
	// The transport, not a client: a client parses a redirect's Location
	// and fails where a browser would follow it.
	client := &http.Transport{}
	t.Cleanup(client.CloseIdleConnections)
	do := func(path string, q url.Values, h http.Header) (*http.Response, string) {
		t.Helper()
		u := e.proxy.URL + path
		if len(q) > 0 {
			u += "?" + q.Encode()
		}
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header = h.Clone()
		resp, err := client.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		return resp, string(b)
	}
	for i, v := range naughtyStrings(t) {
		name := fmt.Sprintf("%d %q", i, v)
		q, h := url.Values{}, http.Header{}
		for _, in := range naughtyInputs {
			in.set(q, h, v)
		}
		path := "/n/" + pct(v)
		if len(path) > 1024 {
			path = "/n/long"
		}
		mu.Lock()
		upstream = nil
		mu.Unlock()
		resp, body := do(path, q, h)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d: %s", name, resp.StatusCode, body)
			continue
		}
		mu.Lock()
		up := upstream
		mu.Unlock()
		checkNaughtyPage(t, name, v, body)
		checkNaughtyHeaders(t, name, v, resp, up)

		resp, body = do("/api", q, h)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: /api status %d", name, resp.StatusCode)
		} else {
			checkNaughtyJSON(t, name, v, body)
		}

		resp, body = do("/go", q, h)
		checkNaughtyRedirect(t, name, v, resp, body)
		resp, _ = do("/next", q, h)
		checkNaughtyNext(t, name, v, resp)
	}
}

// shown is what a browser reads of a value the page holds: the HTML
// parser takes a CR, or a CR and LF, for a LF (its input stream
// preprocessing), and a NUL for U+FFFD in an attribute; in text, it
// drops a NUL.
func shown(v string, attr bool) string {
	v = strings.ReplaceAll(v, "\r\n", "\n")
	v = strings.ReplaceAll(v, "\r", "\n")
	if attr {
		return strings.ReplaceAll(v, "\x00", "\uFFFD")
	}
	return strings.ReplaceAll(v, "\x00", "")
}

func checkNaughtyPage(t *testing.T, name, v, body string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	byID := map[string]*html.Node{}
	var elements, comments int
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.ElementNode:
			elements++
			for _, a := range n.Attr {
				if a.Key == "id" {
					byID[a.Val] = n
				}
			}
		case html.CommentNode:
			comments++
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	// html, head, title, body, and per input p, span, a, a, a, div, b.
	if want := 4 + 11*len(naughtyInputs); elements != want || comments != 0 {
		t.Errorf("%s: %d elements and %d comments, want %d and none:\n%s", name, elements, comments, want, body)
		return
	}
	for _, in := range naughtyInputs {
		k := in.key
		want := in.read(v)
		attrs := func(n *html.Node) map[string]string {
			m := map[string]string{}
			for _, a := range n.Attr {
				m[a.Key] = a.Val
			}
			return m
		}
		p, span, ua, va, wa, div := byID["t-"+k], byID["a-"+k], byID["u-"+k], byID["v-"+k], byID["w-"+k], byID["h-"+k]
		if p == nil || span == nil || ua == nil || va == nil || wa == nil || div == nil {
			t.Errorf("%s: %s: an element lost its id:\n%s", name, k, body)
			continue
		}
		if len(attrs(span)) != 2 || len(attrs(ua)) != 2 || len(attrs(va)) != 2 || len(attrs(wa)) != 2 {
			t.Errorf("%s: %s: an attribute was added:\n%s", name, k, body)
		}
		if err := checkNaughtyURLs(byID["g-"+k], byID["s-"+k], byID["k-"+k], in.read(v), in.exactFor(v)); err != "" {
			t.Errorf("%s: %s: %s", name, k, err)
		}
		b := div.FirstChild
		if b == nil || b.Type != html.ElementNode || b.Data != "b" || b.NextSibling != nil || len(b.Attr) != 1 || b.Attr[0].Key != "title" {
			t.Errorf("%s: %s: the html: fragment is not one <b title>:\n%s", name, k, body)
			continue
		}
		text := func(n *html.Node) string {
			var s strings.Builder
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.Type != html.TextNode {
					t.Errorf("%s: %s: <%s> holds a %v node", name, k, n.Data, c.Type)
				}
				s.WriteString(c.Data)
			}
			return s.String()
		}
		gotText, gotTitle, gotB, gotBTitle := text(p), attrs(span)["title"], text(b), b.Attr[0].Val
		if in.exactFor(v) {
			if w := shown(want, false); gotText != w || gotB != w {
				t.Errorf("%s: %s: text %q and %q, want %q", name, k, gotText, gotB, w)
			}
			if w := shown(want, true); gotTitle != w || gotBTitle != w {
				t.Errorf("%s: %s: title %q and %q, want %q", name, k, gotTitle, gotBTitle, w)
			}
		}
		// The path: one segment under /p/.
		href := attrs(ua)["href"]
		rest, ok := strings.CutPrefix(href, "/p/")
		if !ok || strings.ContainsAny(rest, "/?#\\") || strings.ContainsAny(rest, " \t\r\n\x00") || !percentValid(rest) {
			t.Errorf("%s: %s: path href %q", name, k, href)
		} else if in.exactFor(v) {
			if dotSegment(want) {
				want = ""
			}
			if got, err := url.PathUnescape(rest); err != nil || got != want {
				t.Errorf("%s: %s: path href %q reads %q, want %q (%v)", name, k, href, got, want, err)
			}
		}
		want = in.read(v)
		// The query and fragment.
		href = attrs(va)["href"]
		rest, ok = strings.CutPrefix(href, "/s?q=")
		qv, frag, _ := strings.Cut(rest, "#")
		if !ok || strings.ContainsAny(qv, "&;+ \t\r\n\x00") || strings.ContainsAny(frag, "# \t\r\n\x00") || !percentValid(rest) {
			t.Errorf("%s: %s: query href %q", name, k, href)
		} else if in.exactFor(v) {
			got, err := url.QueryUnescape(qv)
			gotFrag, err2 := url.PathUnescape(frag)
			if err != nil || err2 != nil || got != want || gotFrag != want {
				t.Errorf("%s: %s: query href %q reads %q and %q, want %q (%v, %v)", name, k, href, got, gotFrag, want, err, err2)
			}
		}
		// A whole URL the value chooses among https and relative.
		href = attrs(wa)["href"]
		if href != "/d" {
			if o := escape.OriginOf(href); !(o.Scheme == "https" || o.Scheme == "" && !o.HasAuthority) || strings.ContainsAny(href, "\\ \t\r\n\x00") || !percentValid(href) {
				t.Errorf("%s: %s: whole href %q: %+v", name, k, href, o)
			}
		}
	}
}

// checkNaughtyURLs checks a URL in an html: fragment (its path and
// query), a srcset's two candidates and a class added: the fragment is
// one link whose href gives the value back, the srcset has its two
// candidates with their descriptors, the class is one word more.
func checkNaughtyURLs(g, img, k *html.Node, want string, exact bool) string {
	if g == nil || img == nil || k == nil {
		return "an element lost its id"
	}
	a := g.FirstChild
	if a == nil || a.Data != "a" || a.NextSibling != nil || len(a.Attr) != 1 || a.Attr[0].Key != "href" {
		return "the html: fragment is not one <a href>"
	}
	href := a.Attr[0].Val
	seg, query, ok := strings.Cut(strings.TrimPrefix(href, "/p/"), "?q=")
	if !strings.HasPrefix(href, "/p/") || !ok || strings.ContainsAny(seg, "/\\?#") || strings.ContainsAny(query, "&#+;") || !percentValid(href) {
		return fmt.Sprintf("html: href %q", href)
	}
	if exact {
		gotSeg, _ := url.PathUnescape(seg)
		gotQuery, _ := url.QueryUnescape(query)
		if dotSegment(want) {
			// Rendered with the defaults: both are empty.
			if gotSeg != "" || gotQuery != "" {
				return fmt.Sprintf("html: href %q, want the defaults", href)
			}
		} else if gotSeg != want || gotQuery != want {
			return fmt.Sprintf("html: href %q reads %q and %q", href, gotSeg, gotQuery)
		}
	}
	var srcset string
	for _, at := range img.Attr {
		if at.Key == "srcset" {
			srcset = at.Val
		}
	}
	cands := strings.Split(srcset, ", ")
	if len(cands) != 2 || !strings.HasPrefix(cands[0], "/i/") || !strings.HasSuffix(cands[0], ".png 1x") || !strings.HasPrefix(cands[1], "/j.png?q=") || !strings.HasSuffix(cands[1], " 2x") ||
		strings.ContainsAny(strings.TrimSuffix(cands[0], " 1x")+strings.TrimSuffix(cands[1], " 2x"), ", \t\n\f\r") || !percentValid(srcset) {
		return fmt.Sprintf("srcset %q", srcset)
	}
	var class string
	for _, at := range k.Attr {
		if at.Key == "class" {
			class = at.Val
		}
	}
	// A browser splits classes at ASCII whitespace alone (U+2029 is a
	// class's).
	if f := strings.FieldsFunc(class, func(r rune) bool { return strings.ContainsRune(" \t\n\f\r", r) }); len(f) != 2 || f[0] != "k" || !strings.HasPrefix(f[1], "c-") {
		return fmt.Sprintf("class %q", class)
	}
	return ""
}

func checkNaughtyHeaders(t *testing.T, name, v string, resp *http.Response, up http.Header) {
	t.Helper()
	for k, vs := range resp.Header {
		for _, hv := range vs {
			if !httpguts.ValidHeaderFieldValue(hv) {
				t.Errorf("%s: response header %s: %q", name, k, hv)
			}
		}
	}
	cookies := map[string]string{}
	for _, line := range resp.Header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Errorf("%s: Set-Cookie %q: %v", name, line, err)
			continue
		}
		if c.Path != "/" {
			t.Errorf("%s: Set-Cookie %q: path %q", name, line, c.Path)
		}
		cookies[c.Name] = c.Value
	}
	if up == nil {
		t.Errorf("%s: the origin was not asked", name)
		return
	}
	for _, in := range naughtyInputs {
		if !in.exactFor(v) {
			continue
		}
		want := in.read(v)
		// Control characters but tab are removed from a header's value.
		hv := strings.Map(func(r rune) rune {
			if r < 0x20 && r != '\t' || r == 0x7f {
				return -1
			}
			return r
		}, want)
		hv = strings.Trim(hv, " \t")
		if got := resp.Header.Get("X-Out-" + in.key); got != hv {
			t.Errorf("%s: %s: response header %q, want %q", name, in.key, got, hv)
		}
		if got := up.Get("X-Up-" + in.key); got != hv {
			t.Errorf("%s: %s: request header %q, want %q", name, in.key, got, hv)
		}
		c, ok := cookies["o-"+in.key]
		if !ok {
			// A value the request does not have sets no cookie: the
			// visitor keeps theirs.
			if _, carried := in.want(v); carried && len(pct(want)) < 1000 {
				t.Errorf("%s: %s: no cookie set", name, in.key)
			}
			continue
		}
		if got, err := url.PathUnescape(c); err != nil || got != want {
			t.Errorf("%s: %s: cookie %q reads %q, want %q", name, in.key, c, got, want)
		}
	}
}

func checkNaughtyJSON(t *testing.T, name, v, body string) {
	t.Helper()
	if !json.Valid([]byte(body)) {
		t.Errorf("%s: JSON not valid: %s", name, body)
		return
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	for _, in := range naughtyInputs {
		got, ok := m[in.key].(string)
		if !ok {
			t.Errorf("%s: %s: JSON %s", name, in.key, body)
			continue
		}
		want := in.read(v)
		if in.key == "p" {
			want = "/api" // the path of this request
		}
		if in.exactFor(v) && got != want {
			t.Errorf("%s: %s: JSON string %q, want %q", name, in.key, got, want)
		}
	}
	if len(m) != 1+len(naughtyInputs) {
		t.Errorf("%s: JSON members: %s", name, body)
	}
}

func checkNaughtyRedirect(t *testing.T, name, v string, resp *http.Response, body string) {
	t.Helper()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("%s: /go status %d: %s", name, resp.StatusCode, body)
		return
	}
	loc := resp.Header.Get("Location")
	rest, ok := strings.CutPrefix(loc, "/r/")
	if loc == "/r" && dotSegment(v) {
		rest, ok = "", true
	}
	seg, query, _ := strings.Cut(rest, "?")
	if !ok || strings.ContainsAny(seg, "/\\#") || strings.ContainsAny(loc, " \t\r\n\x00") || !percentValid(loc) {
		t.Errorf("%s: Location %q", name, loc)
		return
	}
	// The query's values are the query's and the cookie's, a JSON
	// header's: a NUL reads as U+FFFD in the latter.
	c, j := naughtyInputs[0].read(v), naughtyInputs[4].read(v)
	want := c
	if dotSegment(c) {
		want, c, j = "", "", ""
	}
	got, err := url.PathUnescape(seg)
	if err != nil || got != want {
		t.Errorf("%s: Location %q: path reads %q, want %q", name, loc, got, v)
	}
	vals, err := url.ParseQuery(query)
	if err != nil || len(vals) != 2 || vals.Get("c") != c || vals.Get("j") != j {
		t.Errorf("%s: Location %q: query reads %q, want c %q and j %q (%v)", name, loc, vals, c, j, err)
	}
}

// percentValid reports whether every % of u starts a %XX, as a URI's
// must (RFC 3986).
func percentValid(u string) bool {
	for i := 0; i < len(u); i++ {
		if u[i] == '%' {
			if i+2 >= len(u) || !isHexDigit(u[i+1]) || !isHexDigit(u[i+2]) {
				return false
			}
		}
	}
	return true
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'f'
}

func checkNaughtyNext(t *testing.T, name, v string, resp *http.Response) {
	t.Helper()
	switch resp.StatusCode {
	case http.StatusOK:
		// The value is refused: the origin answers.
	case http.StatusFound:
		loc := resp.Header.Get("Location")
		if o := escape.OriginOf(loc); o.Scheme != "" || o.HasAuthority || strings.ContainsAny(loc, "\\ \t\r\n\x00") || !percentValid(loc) {
			t.Errorf("%s: /next Location %q: %+v", name, loc, o)
		}
	default:
		t.Errorf("%s: /next status %d", name, resp.StatusCode)
	}
}

// literalExtras are literals a rule author may paste that the Big List
// lacks: quotes a word processor writes, which the checker reads as
// straight ones outside a string, and backslashes a string keeps.
var literalExtras = []string{"“FR”", "‘a’", "« a »", `\d+`, `a\nb`, "a\r\nb", "\u00a0", "e\u0301", ""}

// TestNaughtyLiteralsMatch writes each of the Big List of Naughty Strings
// as a literal of a rule file: in a rule's condition, compared with a
// cookie, in its text, and in two tests of the file, one giving the
// cookie in its context, one in its request. The file compiles; a
// visitor whose cookie holds the string matches that rule and every
// rule written with the same string, and no other, and is shown the text
// as written; the file's own tests pass.
func TestNaughtyLiteralsMatch(t *testing.T) {
	list := append(naughtyStrings(t), literalExtras...)
	var src strings.Builder
	src.WriteString("rules:\n")
	for i, v := range list {
		fmt.Fprintf(&src, "  - name: r%d\n    when: %s\n    actions:\n", i, rulegen.YAMLQuoted(`cookie("c") == `+rulegen.ExprQuoted(v)))
		fmt.Fprintf(&src, "      - set_header: { name: X-M-%d, value: \"1\" }\n", i)
		fmt.Fprintf(&src, "      - set_inner: { select: \"#t\", text: %s }\n", rulegen.YAMLQuoted(v))
	}
	src.WriteString("tests:\n")
	for i, v := range list {
		fmt.Fprintf(&src, "  - name: context %d\n    context: { cookie(c): %s }\n    expect: { match: [r%d] }\n", i, rulegen.YAMLQuoted(v), i)
		fmt.Fprintf(&src, "  - name: request %d\n    request: { cookies: { c: %s } }\n    expect: { match: [r%d] }\n", i, rulegen.YAMLQuoted(pct(v)), i)
	}
	res, err := compiler.Compile("rules.yaml", []byte(src.String()))
	if err != nil {
		t.Fatal(err)
	}
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!DOCTYPE html><html><head><title>t</title></head><body><p id="t">x</p></body></html>`)
	})
	e := newEnv(t, origin, nil)
	s := e.loadArtifact(t, res.Artifact)
	results, err := ruletest.Run(context.Background(), s, res.Program)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2*len(list) {
		t.Errorf("%d tests ran, want %d", len(results), 2*len(list))
	}
	for _, r := range results {
		if len(r.Failures) > 0 {
			t.Errorf("%s: %s", r.Test.Name, strings.Join(r.Failures, "; "))
		}
	}
	for i, v := range list {
		resp := e.get(t, "/", "Cookie", "c="+pct(v))
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%d %q: status %d", i, v, resp.StatusCode)
			continue
		}
		for j, w := range list {
			if got := resp.Header.Get(fmt.Sprintf("X-M-%d", j)) != ""; got != (v == w) {
				t.Errorf("%d %q: rule r%d (%q) matched %v", i, v, j, w, got)
			}
		}
		doc, err := html.Parse(strings.NewReader(resp.body))
		if err != nil {
			t.Fatal(err)
		}
		var text string
		var find func(n *html.Node)
		find = func(n *html.Node) {
			if n.Type == html.ElementNode && n.Data == "p" {
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					text += c.Data
				}
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				find(c)
			}
		}
		find(doc)
		if want := shown(v, false); text != want {
			t.Errorf("%d %q: the text reads %q, want %q", i, v, text, want)
		}
	}
}

// TestBrowserNaughtyStrings shows headless Chromium the Big List's
// strings that are script or markup (240 of them), each as a query
// parameter written into page text, an attribute and an html: fragment's
// text and quoted attribute, in one page: the page's own script overrides
// alert, prompt and confirm, which the strings call, to mark the page
// pwned, then hovers and clicks every element. Nothing marks it, and the
// document the browser built holds each string, as the visitor sent it,
// where it was written.
func TestBrowserNaughtyStrings(t *testing.T) {
	bin := chromium.Path(t)
	var sample []string
	for _, v := range naughtyStrings(t) {
		l := strings.ToLower(v)
		for _, k := range []string{"<", "javascript", "alert(", "prompt(", "confirm(", "onerror", "onload"} {
			if strings.Contains(l, k) {
				sample = append(sample, v)
				break
			}
		}
	}
	var rules, page strings.Builder
	rules.WriteString("rules:\n  - name: all\n    actions:\n")
	page.WriteString(`<!DOCTYPE html><html><head><title>t</title><script>
window.alert = window.prompt = window.confirm = function () { top.document.documentElement.setAttribute('data-pwned', 'yes'); };
window.addEventListener('load', function () {
  document.querySelectorAll('body *').forEach(function (e) {
    e.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
    e.addEventListener('click', function (ev) { if (e.protocol !== 'javascript:') ev.preventDefault(); });
    e.click();
  });
  setTimeout(function () { document.body.setAttribute('data-done', 'yes'); }, 500);
});
</script></head><body>
`)
	q := url.Values{}
	for i, v := range sample {
		x := fmt.Sprintf("query('v%d')", i)
		q.Set(fmt.Sprintf("v%d", i), v)
		fmt.Fprintf(&rules, "      - set_inner: { select: \"#t%d\", text: \"{{ %s }}\" }\n", i, x)
		fmt.Fprintf(&rules, "      - set_attr: { select: \"#a%d\", name: title, value: \"{{ %s }}\" }\n", i, x)
		fmt.Fprintf(&rules, "      - append: { select: \"#h%d\", html: \"<b title='{{ %s }}'>{{ %s }}</b>\" }\n", i, x, x)
		fmt.Fprintf(&page, "<p id=\"t%d\">x</p><a id=\"a%d\" href=\"/\" title=\"x\">a</a><div id=\"h%d\"></div>\n", i, i, i)
	}
	page.WriteString("</body></html>")
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page.String())
	})
	e := newEnv(t, origin, []byte(rules.String()))
	dom := dumpDOM(t, bin, e.proxy.URL+"/?"+q.Encode())
	if !strings.Contains(dom, `data-done="yes"`) {
		t.Fatalf("the page's script did not run to the end:\n%s", dom)
	}
	if pwned.MatchString(dom) {
		t.Errorf("a string ran:\n%s", dom)
	}
	doc, err := html.Parse(strings.NewReader(dom))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*html.Node{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				if a.Key == "id" {
					byID[a.Val] = n
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	textOf := func(n *html.Node) string {
		var s strings.Builder
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type != html.TextNode {
				return fmt.Sprintf("<%s> inside", c.Data)
			}
			s.WriteString(c.Data)
		}
		return s.String()
	}
	attr := func(n *html.Node, k string) string {
		for _, a := range n.Attr {
			if a.Key == k {
				return a.Val
			}
		}
		return "(none)"
	}
	for i, v := range sample {
		want := naughtyInputs[0].read(v)
		p, a, div := byID[fmt.Sprintf("t%d", i)], byID[fmt.Sprintf("a%d", i)], byID[fmt.Sprintf("h%d", i)]
		if p == nil || a == nil || div == nil || div.FirstChild == nil || div.FirstChild.Data != "b" || div.FirstChild.NextSibling != nil {
			t.Errorf("%d %q: the page lost its shape", i, v)
			continue
		}
		b := div.FirstChild
		if got := textOf(p); got != shown(want, false) {
			t.Errorf("%d %q: the text reads %q", i, v, got)
		}
		if got := textOf(b); got != shown(want, false) {
			t.Errorf("%d %q: the html: text reads %q", i, v, got)
		}
		if got := attr(a, "title"); got != shown(want, true) || len(a.Attr) != 3 {
			t.Errorf("%d %q: the title reads %q, of %d attributes", i, v, got, len(a.Attr))
		}
		if got := attr(b, "title"); got != shown(want, true) || len(b.Attr) != 1 {
			t.Errorf("%d %q: the html: title reads %q, of %d attributes", i, v, got, len(b.Attr))
		}
	}
}

// TestNaughtyNames names a cookie, a query parameter and a header with
// each of the Big List of Naughty Strings, in a rule's condition: the
// checker refuses the names no request can carry, and a rule that
// compiles matches a request that sends its name, as a browser sends it.
func TestNaughtyNames(t *testing.T) {
	list := naughtyStrings(t)
	kinds := []struct{ key, fun string }{{"C", "cookie"}, {"Q", "query"}, {"H", "header"}}
	var src strings.Builder
	src.WriteString("rules:\n")
	compiles := map[string]bool{}
	for i, v := range list {
		for _, k := range kinds {
			rule := fmt.Sprintf("  - name: %s%d\n    when: %s\n    actions:\n      - set_header: { name: X-%s-%d, value: \"1\" }\n",
				strings.ToLower(k.key), i, rulegen.YAMLQuoted(k.fun+"("+rulegen.ExprQuoted(v)+`) == "1"`), k.key, i)
			if _, err := compiler.Check("rules.yaml", []byte("rules:\n"+rule)); err != nil {
				continue
			}
			compiles[fmt.Sprint(k.key, i)] = true
			src.WriteString(rule)
		}
	}
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok")
	}), []byte(src.String()))
	for i, v := range list {
		var hs []string
		if compiles[fmt.Sprint("C", i)] {
			hs = append(hs, "Cookie", v+"=1")
		}
		if compiles[fmt.Sprint("H", i)] {
			hs = append(hs, v, "1")
		}
		path := "/"
		if compiles[fmt.Sprint("Q", i)] {
			path += "?" + url.QueryEscape(v) + "=1"
		}
		resp := e.get(t, path, hs...)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%d %q: status %d", i, v, resp.StatusCode)
			continue
		}
		for _, k := range kinds {
			for j, w := range list {
				same := v == w || k.key == "H" && strings.EqualFold(v, w)
				if got := resp.Header.Get(fmt.Sprintf("X-%s-%d", k.key, j)) != ""; got != (same && compiles[fmt.Sprint(k.key, j)]) {
					t.Errorf("%d %q: %s(%q) matched %v", i, v, k.fun, w, got)
				}
			}
		}
	}
}

// TestNaughtyMarkup appends each of the Big List of Naughty Strings as
// an html: literal, the rule author's markup: the checker refuses what
// does not finish what it starts (TestNaughtyLiterals checks it says
// where), and what it lets through leaves the page after it as it was,
// the element it went in and the next one both still the body's.
func TestNaughtyMarkup(t *testing.T) {
	var rules, page strings.Builder
	rules.WriteString("rules:\n  - name: r\n    actions:\n")
	page.WriteString("<!DOCTYPE html><html><head><title>t</title></head><body>\n")
	var ok []int
	list := naughtyStrings(t)
	for i, v := range list {
		a := fmt.Sprintf("      - append: { select: \"#a%d\", html: %s }\n", i, rulegen.YAMLQuoted(v))
		if _, err := compiler.Check("r.yaml", []byte("rules:\n  - name: r\n    actions:\n"+a)); err != nil {
			continue
		}
		ok = append(ok, i)
		rules.WriteString(a)
		fmt.Fprintf(&page, "<div id=\"a%d\"></div><p id=\"after%d\">after</p>\n", i, i)
	}
	page.WriteString("</body></html>")
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page.String())
	})
	e := newEnv(t, origin, []byte(rules.String()))
	r := e.get(t, "/")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status %d", r.StatusCode)
	}
	doc, err := html.Parse(strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	parent := map[string]string{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				if a.Key == "id" && n.Parent != nil {
					parent[a.Val] = n.Parent.Data
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	for _, i := range ok {
		if p := parent[fmt.Sprintf("after%d", i)]; p != "body" {
			t.Errorf("%d %q: after's parent %q", i, list[i], p)
		}
		if p := parent[fmt.Sprintf("a%d", i)]; p != "body" {
			t.Errorf("%d %q: div's parent %q", i, list[i], p)
		}
	}
}
