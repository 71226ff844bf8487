package proxy_test

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/caps"
	"github.com/bespoke-edge/bespoke/host/internal/proxy"
	"github.com/bespoke-edge/bespoke/host/internal/seen"
	"github.com/bespoke-edge/bespoke/internal/rulegen"
)

// exchange is one request through the proxy, as it came and went: the
// path and query, the Cookie headers, the status and the Set-Cookie
// lines.
type exchange struct {
	uri       string
	cookies   []string
	status    int
	setCookie []string
}

// recorder serves h and keeps what went in and out of each request.
type recorder struct {
	h  http.Handler
	mu sync.Mutex
	ex []exchange
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw := httptest.NewRecorder()
	rec.h.ServeHTTP(rw, r)
	for k, v := range rw.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rw.Code)
	w.Write(rw.Body.Bytes())
	rec.mu.Lock()
	rec.ex = append(rec.ex, exchange{uri: r.URL.RequestURI(), cookies: r.Header["Cookie"], status: rw.Code, setCookie: rw.Header()["Set-Cookie"]})
	rec.mu.Unlock()
}

// pages returns the exchanges of the page loads (not the icon).
func (rec *recorder) pages() []exchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []exchange
	for _, e := range rec.ex {
		if strings.HasPrefix(e.uri, "/list") || strings.HasPrefix(e.uri, "/p/") {
			out = append(out, e)
		}
	}
	return out
}

// sentCookie returns the first value of name in the Cookie header lines
// a browser sent, split as a page's script splits document.cookie.
func sentCookie(lines []string, name string) (string, bool) {
	for _, line := range lines {
		for _, p := range strings.Split(line, "; ") {
			if k, v, ok := strings.Cut(p, "="); ok && k == name {
				return v, true
			}
		}
	}
	return "", false
}

var listItem = regexp.MustCompile(`<li data-item-id="([^"]+)"`)

// TestBrowserKeepsBespokeCookies loads pages through the proxy in
// headless Chromium, one profile for all: every Set-Cookie the proxy
// sends (the visitor id, the caps' counts, the seen filter as it grows
// to the most its cookie may hold, a rule's cookie of 4,096 bytes, and
// rules' cookies whose values the visitor chose in the query, from the
// Big List of Naughty Strings and up to the 1,024 bytes allowed) is
// stored by the browser and sent back unchanged with the next page's
// request; the seen filter remembers, from one load to the next, the
// items a page showed, which hide_seen then hides.
func TestBrowserKeepsBespokeCookies(t *testing.T) {
	b := newBrowser(t)
	const maxBytes = 4000 - len(seen.DefaultCookieName)
	store, capStore := cookieStores(t, seen.CookieConfig{MaxBytes: maxBytes, Params: seen.Params{Capacity: 8000}})
	// (The rules that write cookies are the list's: the browser asks for
	// /favicon.ico after each page, whose response need set none.)
	const perPage, ruleCookies = 1500, 120
	var rules strings.Builder
	rules.WriteString(ownCookieRules("100 per 1d", "yes") + `  - name: chosen
    when: path == "/list"
    actions:
`)
	// The longest cookie a browser keeps: 4,096 bytes of name and value.
	fmt.Fprintf(&rules, "      - set_cookie: { name: edge, value: %s, max_age: 1d }\n", strings.Repeat("x", 4096-len("edge")))
	for i := range ruleCookies {
		fmt.Fprintf(&rules, "      - set_cookie: { name: r%d, value: \"{{ query(\\\"v%d\\\") }}\", max_age: 1d }\n", i, i)
	}
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/list" {
			http.NotFound(w, r)
			return
		}
		from, _ := strconv.Atoi(r.URL.Query().Get("from"))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!DOCTYPE html><html><head><title>l</title></head><body><ul class=\"l\">")
		for i := from; i < from+perPage; i++ {
			fmt.Fprintf(w, `<li data-item-id="i%d">%d</li>`, i, i)
		}
		io.WriteString(w, "</ul></body></html>")
	})
	e := newEnv(t, origin, []byte(rules.String()), func(c *proxy.Config) { c.Seen = store; c.Caps = capStore })
	rec := &recorder{h: e.p}
	srv := httptest.NewServer(rec)
	defer srv.Close()

	values := naughtyStrings(t)
	values = append(values, strings.Repeat("é", (1024-len("r0"))/6), strings.Repeat("%", (1024-len("r0"))/3), `"quoted"`, " spaces ", "a=b", "x,y;z")
	var shown [][]string
	loads := []int{0, 0, perPage, 2 * perPage, 3 * perPage}
	for n, from := range loads {
		q := url.Values{"from": {strconv.Itoa(from)}}
		for i := range ruleCookies {
			q.Set(fmt.Sprintf("v%d", i), values[(n*ruleCookies+i)%len(values)])
		}
		dom := b.dom(t, srv.URL+"/list?"+q.Encode())
		var ids []string
		for _, m := range listItem.FindAllStringSubmatch(dom, -1) {
			ids = append(ids, m[1])
		}
		shown = append(shown, ids)
	}
	if len(shown[0]) != perPage || len(shown[1]) != 0 {
		t.Errorf("the first load showed %d items, the same list again %d: the second should hide every item the first showed", len(shown[0]), len(shown[1]))
	}

	pages := rec.pages()
	if len(pages) != len(loads) {
		t.Fatalf("%d page requests, want %d", len(pages), len(loads))
	}
	longest, checked := 0, 0
	for n, p := range pages {
		if p.status != http.StatusOK {
			t.Errorf("load %d answered %d", n+1, p.status)
		}
		if n+1 == len(pages) {
			break
		}
		for _, line := range p.setCookie {
			c, err := http.ParseSetCookie(line)
			if err != nil {
				t.Errorf("load %d: Set-Cookie %q: %v", n+1, line, err)
				continue
			}
			if c.Name == seen.DefaultCookieName {
				longest = max(longest, len(c.Name)+len(c.Value))
			}
			checked++
			got, ok := sentCookie(pages[n+1].cookies, c.Name)
			if !ok || got != c.Value {
				t.Errorf("load %d set %s (%d bytes of name and value), the next request sent %q (%v), want %q", n+1, c.Name, len(c.Name)+len(c.Value), got, ok, c.Value)
			}
		}
	}
	if longest < maxBytes*9/10 {
		t.Errorf("the seen cookie grew to %d bytes, short of the %d it may take", longest, maxBytes)
	}
	t.Logf("%d Set-Cookie compared; the seen cookie at its longest: %d bytes of name and value", checked, longest)
}

// TestBrowserReadsCookiesThroughProxy: cookies of real sites' shapes
// and names (spaces, commas, quotes, letters outside ASCII: no RFC 6265
// token), of the Big List of Naughty Strings' values, and hostile copies of
// bespoke's own (a seen filter, visitor id and caps counts no proxy
// wrote) are stored in headless Chromium by a page of the origin; the
// next page, through the proxy, has rules write cookie("...") and
// json(cookie("..."), "...") of each into its text. Each reads what the
// page's own script reads (document.cookie's first value of the name,
// with decodeURIComponent; JSON.parse), the page answers 200, and
// bespoke's hostile cookies are replaced.
func TestBrowserReadsCookiesThroughProxy(t *testing.T) {
	b := newBrowser(t)
	store, capStore := cookieStores(t, seen.CookieConfig{})
	hostile := map[string]string{
		seen.DefaultCookieName: "AAAA" + strings.Repeat("-_", 40) + "%00%FF",
		"bsk_vid":              "../../etc/passwd",
		caps.CookieName:        `{"a":1}`,
	}
	cookies := []string{
		"_ga=GA1.1.1234567890.1700000000",
		"OptanonConsent=isGpcEnabled=0&datestamp=Mon+Dec+07+2026&groups=C0001%3A1%2CC0002%3A0",
		"CookieConsent={stamp:%27nE4qqM3N+5ZkJ1kTcmI2UA==%27%2Cnecessary:true%2Cmarketing:false}",
		"euconsent-v2=CP1_2m0P1_2m0AcABBENAZEsAP_gAEPgAAwIg1NX_H__bX9j-_5_aft0eY1P9",
		`cc_cookie={"categories":["necessary","analytics"],"consent_uuid":"9a1b","data":{"tier":"gold <b>&amp;</b>"}}`,
		"cc_url=%7B%22level%22%3A%5B%22necessary%22%5D%2C%22tier%22%3A%22silver%22%7D",
		`broken={"a":`,
		"spaces=a  b c",
		"pct=50%",
		"utf8=été 東京 🍪",
		"eq=a=b==",
		"empty=",
		// Names that are no RFC 6265 token, which browsers store and send.
		"cart items=3",
		"préférences=sombre",
		`a\b=backslash`,
		`x"y=quote`,
		"a,b=comma",
		"AMCV_98DC73AE%40AdobeOrg=MCMID|123",
	}
	for k, v := range hostile {
		cookies = append(cookies, k+"="+v)
	}
	strs := naughtyStrings(t)
	for i := 0; i < len(strs); i += 4 {
		cookies = append(cookies, fmt.Sprintf("n%d=%s", i, strs[i]))
	}
	var names []string
	for _, c := range cookies {
		if n, _, _ := strings.Cut(c, "="); !strings.HasPrefix(n, "bsk_") {
			names = append(names, n)
		}
	}
	jsonReads := [][2]string{{"cc_cookie", "consent_uuid"}, {"cc_cookie", "data.tier"}, {"cc_cookie", "categories.1"}, {"cc_url", "tier"}, {"broken", "a"}, {"CookieConsent", "necessary"}}

	var rules, show strings.Builder
	rules.WriteString(`experiments:
  - name: hero
    variants: { a: 50, b: 50 }
rules:
  - name: fresh
    actions:
      - hide_seen: { select: "ul.l > li", id: "@data-item-id", keep_at_least: 0 }
  - name: hero
    when: variant("hero") exists
    actions:
      - set_attr: { select: "ul.l", name: data-hero, value: "{{ variant(\"hero\") }}" }
  - name: capped
    at_most: 5 per 1d
    actions:
      - set_attr: { select: "ul.l", name: data-capped, value: "yes" }
  - name: read
    actions:
`)
	show.WriteString(`<!DOCTYPE html><html><head><title>s</title></head><body><ul class="l"><li data-item-id="a">a</li><li data-item-id="b">b</li></ul>` + "\n")
	for i, n := range names {
		fmt.Fprintf(&rules, "      - set_inner: { select: \"#c%d\", text: %s }\n", i, rulegen.YAMLQuoted("{{ cookie("+rulegen.ExprQuoted(n)+") }}"))
		fmt.Fprintf(&show, "<p id=\"c%d\">-</p>\n", i)
	}
	for i, jr := range jsonReads {
		fmt.Fprintf(&rules, "      - set_inner: { select: \"#j%d\", text: \"{{ json(cookie(\\\"%s\\\"), \\\"%s\\\") }}\" }\n", i, jr[0], jr[1])
		fmt.Fprintf(&show, "<p id=\"j%d\">-</p>\n", i)
	}
	namesJSON, _ := json.Marshal(names)
	readsJSON, _ := json.Marshal(jsonReads)
	fmt.Fprintf(&show, `<pre id="js"></pre><script>
var names = %s, reads = %s, first = Object.create(null);
document.cookie.split("; ").forEach(function (p) {
  var i = p.indexOf("=");
  if (i < 0) return;
  var k = p.slice(0, i), v = p.slice(i + 1);
  if (k in first) return;
  try { v = decodeURIComponent(v); } catch (e) {}
  first[k] = v;
});
var out = {cookies: names.map(function (n) { return n in first ? first[n] : null; }),
  json: reads.map(function (r) {
    if (!(r[0] in first)) return null;
    var v;
    try { v = JSON.parse(first[r[0]]); } catch (e) { return null; }
    r[1].split(".").forEach(function (k) { v = v !== null && typeof v === "object" && Object.prototype.hasOwnProperty.call(v, k) ? v[k] : undefined; });
    return typeof v === "string" ? v : null;
  })};
document.getElementById("js").textContent = JSON.stringify(out);
</script></body></html>`, namesJSON, readsJSON)

	setPage := `<!DOCTYPE html><html><body><script>`
	for _, c := range cookies {
		q, _ := json.Marshal(c + "; max-age=3600; path=/")
		setPage += "document.cookie = " + string(q) + ";\n"
	}
	setPage += `document.body.setAttribute("data-done", "yes");</script></body></html>`
	var (
		mu        sync.Mutex
		originGot []string
	)
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch r.URL.Path {
		case "/p/set":
			io.WriteString(w, setPage)
		case "/p/show":
			mu.Lock()
			originGot = r.Header["Cookie"]
			mu.Unlock()
			io.WriteString(w, show.String())
		default:
			http.NotFound(w, r)
		}
	})
	e := newEnv(t, origin, []byte(rules.String()), func(c *proxy.Config) { c.Seen = store; c.Caps = capStore })
	rec := &recorder{h: e.p}
	srv := httptest.NewServer(rec)
	defer srv.Close()

	// Cookies are the host's, whatever its port: the origin's page
	// stores them for the proxy's.
	if dom := b.dom(t, e.origin.URL+"/p/set"); !strings.Contains(dom, `data-done="yes"`) {
		t.Fatalf("the page that stores the cookies did not run:\n%s", dom)
	}
	dom := b.dom(t, srv.URL+"/p/show")
	m := regexp.MustCompile(`(?s)<pre id="js">(.*?)</pre>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the page's script wrote nothing:\n%s", dom)
	}
	var page struct {
		Cookies []*string `json:"cookies"`
		JSON    []*string `json:"json"`
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &page); err != nil {
		t.Fatal(err)
	}
	text := func(id string) string {
		m := regexp.MustCompile(`<p id="` + id + `">(.*?)</p>`).FindStringSubmatch(dom)
		if m == nil {
			return "(no element)"
		}
		return html.UnescapeString(m[1])
	}
	compared := 0
	for i, n := range names {
		want := page.Cookies[i]
		if want == nil {
			continue // not stored: Chromium refuses a value with a control character
		}
		if len(*want) >= 2 && (*want)[0] == '"' && (*want)[len(*want)-1] == '"' {
			continue // read without its quotes, as SYNTAX.md says
		}
		compared++
		if got := text(fmt.Sprintf("c%d", i)); got != *want {
			t.Errorf("cookie(%q) wrote %q; the page's script reads %q", n, got, *want)
		}
	}
	for i, jr := range jsonReads {
		want := ""
		if page.JSON[i] != nil {
			want = *page.JSON[i]
		}
		if got := text(fmt.Sprintf("j%d", i)); got != want {
			t.Errorf("json(cookie(%q), %q) wrote %q; the page's JSON.parse reads %q", jr[0], jr[1], got, want)
		}
	}
	if compared < len(names)*3/4 {
		t.Errorf("only %d of %d cookies compared", compared, len(names))
	}
	pages := rec.pages()
	if len(pages) != 1 {
		t.Fatalf("%d requests for the page through the proxy, want 1", len(pages))
	}
	p := pages[0]
	if p.status != http.StatusOK {
		t.Errorf("the page with hostile cookies answered %d", p.status)
	}
	// The origin gets the cookies the browser sent, as it sent them, but
	// the proxy's own seen filter and caps.
	var want []string
	for _, line := range p.cookies {
		for _, pair := range strings.Split(line, "; ") {
			if n, _, _ := strings.Cut(pair, "="); n != seen.DefaultCookieName && n != caps.CookieName {
				want = append(want, pair)
			}
		}
	}
	mu.Lock()
	got := strings.Split(strings.Join(originGot, "; "), "; ")
	mu.Unlock()
	if !slices.Equal(got, want) {
		t.Errorf("the origin got the cookies\n%q\nwant\n%q", got, want)
	}
	for name, v := range hostile {
		if got, ok := sentCookie(p.cookies, name); !ok || got != v {
			t.Errorf("the browser sent %s=%q, %v; want the hostile %q", name, got, ok, v)
		}
		replaced := false
		for _, line := range p.setCookie {
			if c, err := http.ParseSetCookie(line); err == nil && c.Name == name && c.Value != v && c.Value != "" {
				replaced = true
			}
		}
		if !replaced {
			t.Errorf("the hostile %s was not replaced: Set-Cookie %q", name, p.setCookie)
		}
	}
	t.Logf("%d cookies and %d json() reads compared", compared, len(jsonReads))
}

// cookieStores returns the stores of the proxy's own cookies, the seen
// filter's (cfg, with a key of the tests') and the caps'.
func cookieStores(t *testing.T, cfg seen.CookieConfig) (*seen.CookieStore, *caps.Store) {
	t.Helper()
	cfg.Key = []byte("browser-test-key-0123456789abcdef")
	store, err := seen.NewCookieStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	capStore, err := caps.New([]byte("browser-test-caps-key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return store, capStore
}

// ownCookieRules are rules that have the proxy set each cookie of its
// own on the list page: the seen filter (hide_seen), the caps' counts
// (a rule capped at atMost, which writes capped into the list) and the
// visitor's variant of an experiment.
func ownCookieRules(atMost, capped string) string {
	return `experiments:
  - name: hero
    variants: { a: 50, b: 50 }
rules:
  - name: fresh
    actions:
      - hide_seen: { select: "ul.l > li", id: "@data-item-id" }
  - name: capped
    at_most: ` + atMost + `
    actions:
      - set_attr: { select: "ul.l", name: data-capped, value: "` + capped + `" }
  - name: hero
    when: variant("hero") exists
    actions:
      - set_attr: { select: "ul.l", name: data-hero, value: "{{ variant(\"hero\") }}" }
`
}

// TestHostileBespokeCookies sends each of the Big List of Naughty
// Strings, and longer and repeated cookies, as the seen filter, the
// visitor id, the caps' counts and a JSON cookie a rule reads: every
// page answers 200, and the proxy replaces its own cookies with ones it
// can read back.
func TestHostileBespokeCookies(t *testing.T) {
	store, capStore := cookieStores(t, seen.CookieConfig{})
	rules := ownCookieRules("5 per 1d", `{{ json(cookie(\"p\"), \"tier\") }}`)
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!DOCTYPE html><html><body><ul class="l"><li data-item-id="a">a</li><li data-item-id="b">b</li></ul></body></html>`)
	})
	e := newEnv(t, origin, []byte(rules), func(c *proxy.Config) { c.Seen = store; c.Caps = capStore })
	values := append(naughtyStrings(t), strings.Repeat("A", 5000), strings.Repeat("%", 3000), `"`+strings.Repeat("\\", 100)+`"`, `{"tier":`+strings.Repeat("[", 5000))
	own := []string{seen.DefaultCookieName, "bsk_vid", caps.CookieName}
	for _, v := range values {
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
			continue // no client sends it: Go's refuses it, and browsers store none
		}
		req, _ := http.NewRequest("GET", e.proxy.URL+"/", nil)
		for _, name := range append(own, "p") {
			req.Header.Add("Cookie", name+"="+v+"; "+name+"=x")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%q: status %d", v, resp.StatusCode)
			continue
		}
		set := map[string]string{}
		for _, c := range resp.Cookies() {
			set[c.Name] = c.Value
		}
		for _, name := range own {
			if got, ok := set[name]; !ok || got == v || got == "" {
				t.Errorf("%q as %s: the proxy set %q, %v", v, name, got, ok)
			}
		}
	}
}
