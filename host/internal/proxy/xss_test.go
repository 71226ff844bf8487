package proxy_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/internal/chromium"
	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/internal/escape"
)

// xssPage is the origin's page. Its own script, once the page has
// loaded, does what a visitor would: clicks the buy link (letting a
// javascript: link run, and keeping any other from navigating away),
// moves the mouse over the geo link, waits, and marks the page done.
// The payloads mark the page pwned, which only running script can do.
// Its head has a <meta> of metadata and an inert script (a template a
// page script reads), whose meaning other attributes would change.
const xssPage = `<!DOCTYPE html><html><head><title>shop</title>
<meta id="m2" name="description" content="shop">
<script id="tpl" type="text/plain">` + pwn + `</script>
</head><body>
<a class="buy" href="/buy">Buy</a>
<a id="geo" href=/x title=>link</a>
<iframe id="f" title="frame"></iframe>
<div id="greet">Hello</div>
<p id="theme">theme</p>
<svg width="10" height="10"><rect id="icon" width="10" height="10" fill="red"/></svg>
<script>
window.addEventListener('load', function () {
  var buy = document.querySelector('a.buy');
  buy.addEventListener('click', function (e) { if (buy.protocol !== 'javascript:') e.preventDefault(); });
  buy.click();
  document.getElementById('geo').dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
  setTimeout(function () { document.body.setAttribute('data-done', 'yes'); }, 500);
});
</script>
</body></html>`

// pwn is script that marks the page as pwned, which pwned finds.
const pwn = `top.document.documentElement.setAttribute('data-pwned','yes')`

var pwned = regexp.MustCompile(`<html[^>]* data-pwned="yes"`)

// xssCases are the reported exploits: a rule file as an editor wrote it,
// the request that carries the payload, and, for a rule file the checker
// now refuses (with an error naming refused), the rule file that does
// what the editor meant and is accepted.
var xssCases = []struct {
	name    string
	rules   string
	query   string
	refused string
	fixed   string
	// want is a fragment of the document the browser built.
	want string
}{
	{
		name:    "javascript: href from a query parameter",
		rules:   `- set_attr: { select: a.buy, name: href, value: "{{ query('u') or '/buy' }}" }`,
		query:   "u=javascript:" + pwn,
		refused: "the URL in href starts with {{ }}",
		fixed:   `- set_attr: { select: a.buy, name: href, value: "{{ query('u') or '/buy' }}", schemes: [https, relative] }`,
		want:    `<a class="buy" href="/buy">`,
	},
	{
		name:    "srcdoc with an onerror image",
		rules:   `- set_attr: { select: "#f", name: srcdoc, value: "<p>Hi {{ query('n') }}</p>" }`,
		query:   "n=<img src=x onerror=" + pwn + ">",
		refused: "cannot go in srcdoc",
		fixed:   `- set_inner: { select: "#greet", text: "Hi {{ query('n') }}" }`,
		want:    `<div id="greet">Hi &lt;img src=x onerror=`,
	},
	{
		name:  "attribute injection through an empty unquoted value",
		rules: `- set_attr: { select: "#geo", name: data-geo, value: "{{ query('g') }}" }`,
		query: "g=Paris onmouseover=" + pwn + "//", // the comment swallows the closing quote
		want:  `title="" data-geo="Paris onmouseover=`,
	},
	{
		// Both actions are accepted: the selector does not say the
		// element is a <meta>. The content is written where the page
		// has none of http-equiv, and an edit gives it one: the
		// rewriter decides with the attributes the edits leave.
		name: "meta refresh from a content another action makes http-equiv",
		rules: `- set_attr: { select: "#m2", name: http-equiv, value: "refresh" }
      - set_attr: { select: "#m2", name: content, value: "{{ query('v') }}" }`,
		query: "v=0;url=/leak",
		want:  `<meta id="m2" name="description" content="shop" http-equiv="refresh">`,
	},
	{
		name:  "the type of an inert script",
		rules: `- set_attr: { select: "#tpl", name: type, value: "{{ query('t') }}" }`,
		query: "t=text/javascript",
		want:  `<script id="tpl" type="text/plain">`,
	},
	{
		name:    "style from a cookie-like value",
		rules:   `- set_attr: { select: "#theme", name: style, value: "color: {{ query('c') }}" }`,
		query:   "c=red;background:url(/leak)",
		refused: "cannot go in style",
		fixed:   `- set_attr: { select: "#theme", name: data-color, value: "{{ query('c') }}" }`,
		want:    `data-color="red;background:url(/leak)"`,
	},
	{
		name:    "an SVG fill loading a URL",
		rules:   `- set_attr: { select: "#icon", name: fill, value: "{{ query('c') }}" }`,
		query:   "c=url(/leak#p)",
		refused: "cannot go in fill",
		fixed:   `- set_attr: { select: "#icon", name: data-color, value: "{{ query('c') }}" }`,
		want:    `data-color="url(/leak#p)"`,
	},
}

// TestBrowserBlocksInjection serves each exploit through the real proxy
// to headless Chromium, lets the page's script click and hover, and
// reads the document the browser built: the page's own script ran to
// the end, and no payload did (no data-pwned mark, no request for
// /leak).
func TestBrowserBlocksInjection(t *testing.T) {
	bin := chromium.Path(t)
	for _, tc := range xssCases {
		t.Run(tc.name, func(t *testing.T) {
			src := "rules:\n  - name: r\n    actions:\n      " + tc.rules + "\n"
			if _, err := compiler.Compile("rules.yaml", []byte(src)); err != nil {
				if tc.refused == "" || !strings.Contains(err.Error(), tc.refused) {
					t.Fatalf("the rule file is refused with %v, want %q", err, tc.refused)
				}
				src = "rules:\n  - name: r\n    actions:\n      " + tc.fixed + "\n"
			} else if tc.refused != "" {
				t.Errorf("the rule file compiles; want it refused with %q", tc.refused)
			}
			var leaks atomic.Int64
			origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/leak" {
					leaks.Add(1)
				}
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				io.WriteString(w, xssPage)
			})
			e := newEnv(t, origin, []byte(src))
			dom := dumpDOM(t, bin, e.proxy.URL+"/?"+queryOf(tc.query))
			if !strings.Contains(dom, `data-done="yes"`) {
				t.Fatalf("the page's script did not run to the end:\n%s", dom)
			}
			if pwned.MatchString(dom) {
				t.Errorf("the payload ran:\n%s", dom)
			}
			if n := leaks.Load(); n > 0 {
				t.Errorf("the browser requested /leak %d times", n)
			}
			if !strings.Contains(dom, tc.want) {
				t.Errorf("the document lacks %s:\n%s", tc.want, dom)
			}
		})
	}
}

// queryOf encodes "k=v" as a query string.
func queryOf(kv string) string {
	k, v, _ := strings.Cut(kv, "=")
	return url.Values{k: {v}}.Encode()
}

// dumpDOM loads u in a fresh headless Chromium, lets its timers run (in
// virtual time), and returns the document it built.
func dumpDOM(t *testing.T, bin, u string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	return chromium.Run(ctx, t, bin, t.TempDir(), "--user-agent="+desktopChrome, "--virtual-time-budget=5000", "--dump-dom", u)
}

// TestBrowserAgreesOnOrigins compares escape.OriginOf with Chromium's
// own URL parser (new URL(u, base)) on hostile spellings: where OriginOf
// says relative without a host, the browser must resolve the URL on the
// page's own origin; where it gives a scheme and host, the browser's
// must match.
func TestBrowserAgreesOnOrigins(t *testing.T) {
	bin := chromium.Path(t)
	urls := []string{
		"/buy", "buy", "?q=1", "#x", "//evil.example/", `/\evil.example`, `\\evil.example`, `\/evil.example`,
		"https:evil.example", "https:/\\evil.example/x", "HTTPS://Evil.Example:8443/x", " \t//evil.example",
		"/\t/evil.example", "java\tscript:alert(1)", "\x01javascript:alert(1)", "JaVaScRiPt:alert(1)",
		"%6Aavascript:alert(1)", "javascript%3Aalert(1)", "/p/%2F%2Fevil.example", "./x:y", "a b:c",
		"mailto:a@b.example", "foo://host/x", "http:///evil.example", "/%5Cevil.example",
	}
	var js strings.Builder
	for i, u := range urls {
		fmt.Fprintf(&js, "try { var u = new URL(%q, location.href); out.push('R|%d|' + u.protocol + '|' + u.host + '|'); } catch (e) { out.push('R|%d|error||'); }\n", u, i, i)
	}
	page := "<!DOCTYPE html><html><body><pre id=out></pre><script>var out = [];\n" + js.String() +
		"document.getElementById('out').textContent = out.join('\\n');</script></body></html>"
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	}), nil)
	dom := dumpDOM(t, bin, e.origin.URL+"/")
	base, _ := url.Parse(e.origin.URL)
	_, results, _ := strings.Cut(dom, `<pre id="out">`)
	results, _, _ = strings.Cut(results, "</pre>")
	lines := regexp.MustCompile(`R\|(\d+)\|([^|]*)\|([^|]*)\|`).FindAllStringSubmatch(results, -1)
	if len(lines) != len(urls) {
		t.Fatalf("%d results for %d URLs:\n%s", len(lines), len(urls), dom)
	}
	for _, l := range lines {
		var i int
		fmt.Sscan(l[1], &i)
		if l[2] == "error" {
			continue // not a URL for the browser: it goes nowhere
		}
		o := escape.OriginOf(urls[i])
		wantScheme, wantHost := o.Scheme, o.Authority
		if o.Scheme == "" {
			wantScheme = "http" // the page's
			if !o.HasAuthority {
				wantHost = base.Host
			}
		}
		if scheme, host := strings.TrimSuffix(l[2], ":"), strings.ToLower(l[3]); scheme != wantScheme || host != wantHost {
			t.Errorf("%q: bespoke reads %s://%s, Chromium %s://%s", urls[i], wantScheme, wantHost, scheme, host)
		}
	}
}

// TestRedirectValues: a redirect target's values never make browsers go
// to another host ("/\" + a value is refused; a value that starts the
// target must be a relative URL when the rule says so), and '&' and '='
// in a value stay inside its query parameter.
func TestRedirectValues(t *testing.T) {
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<p>origin</p>")
	})
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(t *testing.T, e *env, query string) (int, string) {
		t.Helper()
		resp, err := noFollow.Get(e.proxy.URL + "/go?" + query)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Location")
	}

	t.Run("backslash", func(t *testing.T) {
		src := "rules:\n  - name: r\n    actions:\n      - redirect: '/\\{{ query(\"next\") }}'\n"
		if _, err := compiler.Compile("rules.yaml", []byte(src)); err == nil || !strings.Contains(err.Error(), "two slashes") {
			// Served as written, the target must still not name a host.
			e := newEnv(t, origin, []byte(src))
			if _, loc := get(t, e, "next=evil.example"); escape.OriginOf(loc).HasAuthority {
				t.Fatalf("Location: %s (compile error: %v)", loc, err)
			}
			return
		}
		e := newEnv(t, origin, []byte("rules:\n  - name: r\n    actions:\n      - redirect: { to: \"{{ query('next') }}\", schemes: [relative] }\n"))
		for _, next := range []string{`/\evil.example`, "//evil.example", "https://evil.example/", "\t//evil.example", "javascript:alert(1)"} {
			if status, loc := get(t, e, url.Values{"next": {next}}.Encode()); status != http.StatusOK || loc != "" {
				t.Errorf("next=%q: %d, Location %q; want the page, unredirected", next, status, loc)
			}
		}
		if status, loc := get(t, e, "next=/account?tab=orders"); status != http.StatusFound || loc != "/account?tab=orders" {
			t.Errorf("next=/account: %d, Location %q", status, loc)
		}
	})

	t.Run("characters no URI holds", func(t *testing.T) {
		// Written by the rule, they leave encoded, as a browser encodes
		// them when it follows the redirect; the visitor's value, as
		// its template encodes it.
		e := newEnv(t, origin, []byte("rules:\n  - name: r\n    actions:\n      - redirect: '/menú?q=red shoes|\"x\"&r={{ query(\"r\") }}#a b'\n"))
		status, loc := get(t, e, url.Values{"r": {"a b"}}.Encode())
		if want := "/men%C3%BA?q=red%20shoes%7C%22x%22&r=a%20b#a%20b"; status != http.StatusFound || loc != want {
			t.Errorf("%d, Location %q, want %q", status, loc, want)
		}
	})

	t.Run("query value", func(t *testing.T) {
		e := newEnv(t, origin, []byte("rules:\n  - name: r\n    actions:\n      - redirect: '/search?q={{ query(\"q\") }}&lang=fr'\n"))
		const q = "a&admin=1=x#y"
		status, loc := get(t, e, url.Values{"q": {q}}.Encode())
		u, err := url.Parse(loc)
		if status != http.StatusFound || err != nil {
			t.Fatalf("%d, Location %q (%v)", status, loc, err)
		}
		if got := u.Query(); len(got) != 2 || got.Get("q") != q || got.Get("lang") != "fr" || u.Fragment != "" {
			t.Errorf("Location %q: query %v, fragment %q", loc, got, u.Fragment)
		}
	})
}

// TestBrowserISO2022JP: ASCII escape sequences switch a page that the
// browser reads as ISO-2022-JP into two-byte characters, which swallow
// the quote that closes an attribute, so that the page's next quotes
// pair off one place later and a value becomes attributes. A page that
// declares that encoding (in a <meta>, or in a Content-Type whose quoted
// parameter hides another charset) passes untouched; elsewhere the
// request's control characters, ESC among them, are dropped. Each is
// checked in Chromium.
func TestBrowserISO2022JP(t *testing.T) {
	bin := chromium.Path(t)
	const page = `<html><head>%s<title>Shop</title></head><body><img id=a alt="x"><p id=b>B</p>` +
		`<p id=c title="y">C</p><p class="footer">end</p><script>setTimeout(function(){document.body.setAttribute('data-done','yes')},100)</script></body></html>`
	rules := []byte(`rules:
  - name: r
    actions:
      - set_attr: { select: "#a", name: alt, value: "{{ query('a') }}" }
      - set_inner: { select: "#b", text: "{{ query('b') }}" }
      - set_attr: { select: "#c", name: title, value: "{{ query('c') }}" }
`)
	query := "a=%1B$B&b=%1B(B&c=%20src=x%20onerror=" + url.QueryEscape(pwn) + "%20x="
	for _, c := range []struct {
		name, contentType, meta string
		untouched               bool
	}{
		{"meta charset", "text/html", `<meta charset="iso-2022-jp">`, true},
		{"a charset hidden in a quoted parameter", `text/html;foo=";charset=utf-8";charset=iso-2022-jp`, "", true},
		{"no declaration", "text/html", "", false},
		{"declared UTF-8", "text/html; charset=utf-8", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := fmt.Sprintf(page, c.meta)
			origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", c.contentType)
				io.WriteString(w, body)
			})
			e := newEnv(t, origin, rules)
			resp, err := http.Get(e.proxy.URL + "/?" + query)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if c.untouched && string(got) != body {
				t.Errorf("the page was rewritten:\n%s", got)
			}
			if !c.untouched && (strings.Contains(string(got), "\x1b") || !strings.Contains(string(got), `alt="$B"`)) {
				t.Errorf("the page holds the request's ESC, or lacks its edit:\n%q", got)
			}
			dom := dumpDOM(t, bin, e.proxy.URL+"/?"+query)
			if !strings.Contains(dom, `data-done="yes"`) {
				t.Fatalf("the page's script did not run to the end:\n%s", dom)
			}
			if pwned.MatchString(dom) || strings.Contains(dom, "onerror") && !strings.Contains(dom, `title=" src=x onerror=`) {
				t.Errorf("the payload became markup:\n%s", dom)
			}
		})
	}
}

// TestBrowserInsertedTextReads: text and values the rules insert read in
// Chromium as written, on a page that declares no encoding (which
// Chromium reads as windows-1252 when its bytes are ASCII) and on a
// windows-1252 page, characters it cannot hold included.
func TestBrowserInsertedTextReads(t *testing.T) {
	bin := chromium.Path(t)
	rules := []byte(`rules:
  - name: r
    actions:
      - set_inner: { select: "#t", text: "Été 東京 😀" }
      - set_attr: { select: "#t", name: title, value: "Grüße 日本" }
`)
	for _, c := range []struct{ name, contentType, page string }{
		{"no declaration", "text/html", `<!DOCTYPE html><html><head><title>x</title></head><body><p id=t>caf&eacute;</p></body></html>`},
		{"windows-1252", "text/html; charset=windows-1252", "<!DOCTYPE html><html><head><title>x</title></head><body><p id=t>caf\xe9</p></body></html>"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", c.contentType)
				io.WriteString(w, c.page)
			}), rules)
			dom := dumpDOM(t, bin, e.proxy.URL+"/")
			if !strings.Contains(dom, `<p id="t" title="Grüße 日本">Été 東京 😀</p>`) {
				t.Errorf("Chromium reads:\n%s", dom)
			}
		})
	}
}
