package proxy_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// semanticsRules edit every page and every JSON document, for every
// visitor.
var semanticsRules = []byte(`rules:
  - name: everyone
    actions:
      - set_inner: { select: "#x", text: Bonjour }
      - json_set: { path: greeting, value: '"bonjour"' }
`)

// personalRules are semanticsRules for the visitors who ask for a
// document alone: a rule that reads nothing of the visitor gives every
// visitor the same page, which stays shareable (TestSameForAllStaysShared).
var personalRules = []byte(`rules:
  - name: documents
    when: header("Sec-Fetch-Dest") == "document"
    actions:
      - set_inner: { select: "#x", text: Bonjour }
`)

// TestPreconditionsOfChanges: the preconditions of a PUT, POST, PATCH or
// DELETE reach the origin, which alone can check them (RFC 9110 13.2.1):
// If-None-Match: * makes a create that must not overwrite, and If-Match
// with the tag a visitor read, derived for its edited copy, is the
// origin's tag again.
func TestPreconditionsOfChanges(t *testing.T) {
	got := make(chan http.Header, 1)
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			got <- r.Header.Clone()
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Etag", `"j1"`)
		io.WriteString(w, `{"greeting":"hello"}`)
	})
	e := newEnv(t, origin, semanticsRules)
	read := e.get(t, "/api")
	derived := read.Header.Get("Etag")
	if !strings.Contains(read.body, "bonjour") || !strings.HasPrefix(derived, `W/"j1-bsk`) {
		t.Fatalf("GET: %q, ETag %q", read.body, derived)
	}
	modified := "Mon, 01 Jan 2024 00:00:00 GMT"
	for _, tt := range []struct {
		method     string
		send, want []string // header, value pairs
	}{
		{"PUT", []string{"If-None-Match", "*"}, []string{"If-None-Match", "*"}},
		{"PUT", []string{"If-Match", derived}, []string{"If-Match", `"j1"`}},
		{"PATCH", []string{"If-Match", `"j0", ` + derived}, []string{"If-Match", `"j0", "j1"`}},
		{"DELETE", []string{"If-Match", `"j1"`}, []string{"If-Match", `"j1"`}},
		{"POST", []string{"If-None-Match", derived}, []string{"If-None-Match", `"j1"`}},
		{"PUT", []string{"If-None-Match", `"j0", ` + strings.TrimPrefix(derived, "W/")}, []string{"If-None-Match", `"j0", "j1"`}},
		{"PUT", []string{"If-Match", strings.TrimPrefix(derived, "W/")}, []string{"If-Match", strings.TrimPrefix(derived, "W/")}},
		{"PUT", []string{"If-Unmodified-Since", modified}, []string{"If-Unmodified-Since", modified}},
		{"POST", []string{"If-Modified-Since", modified}, []string{"If-Modified-Since", modified}},
	} {
		req, _ := http.NewRequest(tt.method, e.proxy.URL+"/api", strings.NewReader(`{}`))
		req.Header.Set(tt.send[0], tt.send[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := <-got
		if v := h.Get(tt.want[0]); v != tt.want[1] {
			t.Errorf("%s with %s: %q: the origin got %s: %q, want %q", tt.method, tt.send[0], tt.send[1], tt.want[0], v, tt.want[1])
		}
	}
}

// TestPersonalizedNotForSharedCaches: a personalized page keeps none of
// the origin's instructions to CDNs, which they follow ahead of
// Cache-Control (RFC 9213), and a no-store on a second Cache-Control
// line stays.
func TestPersonalizedNotForSharedCaches(t *testing.T) {
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Add("Cache-Control", "public, max-age=60")
		if r.URL.Path == "/two" {
			h.Add("Cache-Control", "no-store")
		}
		for _, k := range []string{"CDN-Cache-Control", "Cloudflare-CDN-Cache-Control", "Vercel-CDN-Cache-Control",
			"Surrogate-Control", "Edge-Control", "X-Accel-Expires"} {
			h.Set(k, "max-age=3600")
		}
		io.WriteString(w, `<p id="x">Hello</p>`)
	})
	e := newEnv(t, origin, personalRules)
	r := e.get(t, "/", "Sec-Fetch-Dest", "document")
	if !strings.Contains(r.body, "Bonjour") {
		t.Fatalf("not personalized: %q", r.body)
	}
	for k := range r.Header {
		if k := strings.ToLower(k); strings.Contains(k, "cdn-cache-control") || k == "surrogate-control" || k == "edge-control" || k == "x-accel-expires" {
			t.Errorf("%s: %q kept on a personalized page", k, r.Header.Get(k))
		}
	}
	if cc := r.Header.Get("Cache-Control"); cc != "private, max-age=60" {
		t.Errorf("Cache-Control %q", cc)
	}
	two := e.get(t, "/two", "Sec-Fetch-Dest", "document")
	if cc := strings.Join(two.Header.Values("Cache-Control"), ", "); !strings.Contains(cc, "no-store") || !strings.HasPrefix(cc, "private") {
		t.Errorf("two lines public, max-age=60 and no-store: Cache-Control %q", cc)
	}
}

// TestPersonalizedOverridesServerCacheHeaders: caching instructions a
// handler before the proxy set on the visitor's response (Caddy's header
// directive, a program's middleware) are read as the response's: a
// personalized page goes out with one Cache-Control, private, and none
// of them for CDNs; a response the rules do not touch keeps them as set.
// They used to go out beside the proxy's "private", first.
func TestPersonalizedOverridesServerCacheHeaders(t *testing.T) {
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/style.css" {
			w.Header().Set("Content-Type", "text/css")
			io.WriteString(w, "p{}")
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<p id="x">Hello</p>`)
	})
	e := newEnv(t, origin, personalRules)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("CDN-Cache-Control", "max-age=600")
		e.p.ServeHTTP(w, r)
	}))
	defer front.Close()
	t.Cleanup(e.proxy.Close)
	e.proxy = front
	r := e.get(t, "/", "Sec-Fetch-Dest", "document")
	if !strings.Contains(r.body, "Bonjour") {
		t.Fatalf("not personalized: %q", r.body)
	}
	if cc := r.Header.Values("Cache-Control"); len(cc) != 1 || cc[0] != "private, max-age=60" {
		t.Errorf("personalized page: Cache-Control %q, want one line, private, max-age=60", cc)
	}
	if v := r.Header.Values("CDN-Cache-Control"); len(v) > 0 {
		t.Errorf("personalized page: CDN-Cache-Control %q kept", v)
	}
	css := e.get(t, "/style.css")
	if cc := css.Header.Values("Cache-Control"); len(cc) != 1 || cc[0] != "public, max-age=60" {
		t.Errorf("style sheet: Cache-Control %q, want the server's", cc)
	}
	if v := css.Header.Get("CDN-Cache-Control"); v != "max-age=600" {
		t.Errorf("style sheet: CDN-Cache-Control %q, want the server's", v)
	}
}

// TestEncodingOnTwoLines: a Content-Encoding given on two lines is one
// list, as on one line: gzip twice passes untouched, and decodes.
func TestEncodingOnTwoLines(t *testing.T) {
	page := []byte(`<p id="x">Hello</p>`)
	var once, twice bytes.Buffer
	zw := gzip.NewWriter(&once)
	zw.Write(page)
	zw.Close()
	zw = gzip.NewWriter(&twice)
	zw.Write(once.Bytes())
	zw.Close()
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Add("Content-Encoding", "gzip")
		w.Header().Add("Content-Encoding", "gzip")
		w.Write(twice.Bytes())
	})
	e := newEnv(t, origin, semanticsRules)
	req, _ := http.NewRequest("GET", e.proxy.URL+"/", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	codings := strings.Join(resp.Header.Values("Content-Encoding"), ", ")
	for range strings.Count(codings, "gzip") {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("Content-Encoding %q: %v", codings, err)
		}
		body, _ = io.ReadAll(zr)
	}
	if !bytes.Equal(body, page) {
		t.Errorf("Content-Encoding %q decodes to %q, want the page", codings, body)
	}
}

// TestDigestTrailerOfAChangedBody: the origin's digest of its bytes, sent
// as a trailer, does not follow a body the proxy changed.
func TestDigestTrailerOfAChangedBody(t *testing.T) {
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Trailer", "Content-Digest, X-Served-By")
		io.WriteString(w, `<p id="x">Hello</p>`)
		w.Header().Set("Content-Digest", "sha-256=:AAAA:")
		w.Header().Set("X-Served-By", "origin-1")
	})
	e := newEnv(t, origin, semanticsRules)
	resp, err := http.Get(e.proxy.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "Bonjour") {
		t.Fatalf("not rewritten: %q", body)
	}
	if v := resp.Trailer.Get("Content-Digest"); v != "" {
		t.Errorf("Content-Digest trailer %q after a changed body", v)
	}
	if v := resp.Trailer.Get("X-Served-By"); v != "origin-1" {
		t.Errorf("X-Served-By trailer %q, want the origin's", v)
	}
}

// TestRangePastTheOriginsLength: a range past the origin's length may
// be within the rewritten page, which answers a range whole: the
// visitor gets it with a 200, not the origin's 416. A download that is
// not rewritten keeps its 416.
func TestRangePastTheOriginsLength(t *testing.T) {
	page := `<p id="x">Hi</p>`
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/file.bin" {
			w.Header().Set("Content-Type", "application/octet-stream")
			http.ServeContent(w, r, "", time.Time{}, strings.NewReader("0123456789"))
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader(page))
	})
	e := newEnv(t, origin, semanticsRules)
	r := e.get(t, "/", "Range", "bytes="+strconv.Itoa(len(page))+"-")
	if r.StatusCode != 200 || !strings.Contains(r.body, "Bonjour") {
		t.Errorf("a range past the origin's length: %d %q, want the rewritten page", r.StatusCode, r.body)
	}
	if f := e.get(t, "/file.bin", "Range", "bytes=10-"); f.StatusCode != http.StatusRequestedRangeNotSatisfiable || f.Header.Get("Content-Range") != "bytes */10" {
		t.Errorf("a download's range past its end: %d, Content-Range %q", f.StatusCode, f.Header.Get("Content-Range"))
	}
}

// TestHeadersOfASlowPageWithoutCharset: a page that does not name its
// encoding waits for the 1024 bytes the browser's prescan reads before
// its first byte is rewritten; while a slow origin pauses, the visitor
// has the status and headers already.
func TestHeadersOfASlowPageWithoutCharset(t *testing.T) {
	release := make(chan struct{})
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, `<!doctype html><title>slow</title>`)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, `<p id="x">Hello</p>`)
	})
	e := newEnv(t, origin, semanticsRules)
	defer close(release)
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.proxy.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: shop.test\r\nSec-Fetch-Dest: document\r\n\r\n")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil || !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 200")) {
		t.Fatalf("while the origin pauses: %q, %v; want the status and headers", buf[:n], err)
	}
}

// TestQueryReachesTheOriginAsSent: the request target's query goes to
// the origin byte for byte (RFC 9110 7.7), as the visitor sent it and as
// the rules' query() read it: a ";", a "%" that begins no escape, keys
// in their order. httputil.ReverseProxy drops the pairs url.ParseQuery
// cannot read and sorts the rest once one is there.
func TestQueryReachesTheOriginAsSent(t *testing.T) {
	got := make(chan string, 1)
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		got <- r.RequestURI
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, `<p id="x">hello</p>`)
	})
	for _, rules := range []struct {
		name string
		src  []byte
	}{{"no plugin", nil}, {"rules that edit", semanticsRules}} {
		e := newEnv(t, origin, rules.src)
		for _, tt := range []struct{ method, target string }{
			{"GET", "/p?a=1;b=2"},
			{"GET", "/p?q=50%&z=1&a=2"},
			{"GET", "/p?b=1&a=%zz&b=3&&c"},
			{"GET", "/p?x=%3B&y=a;b"},
			{"GET", "/p?plain=1&plain=2"},
			{"POST", "/p?a=1;b=2&c=%"},
			{"HEAD", "/p?s=a;b"},
		} {
			req, _ := http.NewRequest(tt.method, e.proxy.URL+tt.target, strings.NewReader(""))
			if tt.method != "POST" {
				req.Body = nil
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			select {
			case uri := <-got:
				if uri != tt.target {
					t.Errorf("%s: %s %s: the origin got %s", rules.name, tt.method, tt.target, uri)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: %s %s: no request reached the origin (%d)", rules.name, tt.method, tt.target, resp.StatusCode)
			}
		}
	}
}

// TestUntypedBodyStaysUntyped: a response the origin sent without a
// Content-Type goes on without one (RFC 9110 8.3: the recipient decides
// what it is), as nginx passes it; net/http's server would otherwise
// guess one from the first bytes, "text/html; charset=utf-8" for a
// page, whose charset then overrides the page's own <meta> for the
// browser.
func TestUntypedBodyStaysUntyped(t *testing.T) {
	page := "<!doctype html><html><head><meta charset=windows-1252></head><body><p id=\"x\">caf\xe9</p></body></html>"
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil // the origin sends none
		if r.URL.Query().Has("chunked") {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
		} else {
			w.Header().Set("Content-Length", strconv.Itoa(len(page)))
		}
		io.WriteString(w, page)
	})
	for _, rules := range []struct {
		name string
		src  []byte
	}{{"no plugin", nil}, {"rules that edit", semanticsRules}} {
		e := newEnv(t, origin, rules.src)
		for _, path := range []string{"/p", "/p?chunked"} {
			for _, proto := range []string{"HTTP/1.1", "HTTP/2"} {
				client := http.DefaultClient
				url := e.proxy.URL
				if proto == "HTTP/2" {
					srv := httptest.NewUnstartedServer(e.p)
					srv.EnableHTTP2 = true
					srv.StartTLS()
					defer srv.Close()
					client, url = srv.Client(), srv.URL
				}
				resp, err := client.Get(url + path)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if ct, ok := resp.Header["Content-Type"]; ok || string(b) != page || resp.ProtoMajor != int(proto[5]-'0') {
					t.Errorf("%s: %s over %s: Content-Type %q (sent: %v), body %q", rules.name, path, resp.Proto, ct, ok, b)
				}
			}
		}
	}
}

// TestRedirectNotForSharedCaches: a rule's redirect, made for the visitor
// who asked (French visitors sent to /fr/), goes out without the
// instructions to CDNs a handler before the proxy set (Caddy's header
// directive) or a rule's set_header gave it, which a CDN follows ahead
// of Cache-Control: private, no-store, and would give that redirect to
// every visitor.
func TestRedirectNotForSharedCaches(t *testing.T) {
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<p id="x">Hello</p>`)
	})
	e := newEnv(t, origin, []byte(`rules:
  - name: french-site
    when: geo.country == "FR" and not path starts_with "/fr/"
    actions:
      - redirect: /fr/
      - set_header: { name: Edge-Control, value: "cache-maxage=1h" }
`))
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		for _, k := range []string{"CDN-Cache-Control", "Cloudflare-CDN-Cache-Control", "Surrogate-Control", "X-Accel-Expires"} {
			w.Header().Set(k, "max-age=600")
		}
		e.p.ServeHTTP(w, r)
	}))
	defer front.Close()
	t.Cleanup(e.proxy.Close)
	e.proxy = front
	r := e.get(t, "/", "CF-IPCountry", "FR")
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/fr/" {
		t.Fatalf("status %d, Location %q", r.StatusCode, r.Header.Get("Location"))
	}
	if cc := r.Header.Values("Cache-Control"); len(cc) != 1 || cc[0] != "private, no-store" {
		t.Errorf("Cache-Control %q, want one line, private, no-store", cc)
	}
	for k, v := range r.Header {
		if k := strings.ToLower(k); strings.Contains(k, "cdn-cache-control") || k == "surrogate-control" || k == "edge-control" || k == "x-accel-expires" {
			t.Errorf("%s: %q kept on a redirect", k, v)
		}
	}
}

// TestSameForAllStaysShared: a rule that reads nothing of the visitor
// (no condition, or one on the path or the query) gives every visitor
// of the URL the same response, which a CDN may keep: a rule that set
// X-Frame-Options on every response made every style sheet and image of
// the site private, and the CDN asked the origin for each of them. What
// reads the visitor (a condition on the country, a template of their
// cookie, an experiment's variant) keeps the response private.
func TestSameForAllStaysShared(t *testing.T) {
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".css") {
			w.Header().Set("Content-Type", "text/css")
			w.Header().Set("Cache-Control", "public, max-age=3600")
			io.WriteString(w, "body{}")
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=60")
		io.WriteString(w, `<h1 id="hero">Hello</h1>`)
	})
	for _, tc := range []struct {
		name, rule, path, cc string
	}{
		{"no condition, a header", "    actions:\n      - set_header: { name: X-Frame-Options, value: SAMEORIGIN }\n", "/static/site.css", "public, max-age=3600"},
		{"on the path, a header", "    when: path starts_with \"/static/\"\n    actions:\n      - set_header: { name: X-Frame-Options, value: SAMEORIGIN }\n", "/static/site.css", "public, max-age=3600"},
		{"on the query, an edit", "    when: query(\"ref\") == \"news\"\n    actions:\n      - set_inner: { select: \"#hero\", text: Welcome }\n", "/?ref=news", "public, max-age=60"},
		{"on the path, the query in the edit", "    when: path == \"/\"\n    actions:\n      - set_inner: { select: \"#hero\", text: \"Hi {{ query(\\\"ref\\\") }}\" }\n", "/?ref=news", "public, max-age=60"},
		{"on the country", "    when: geo.country == \"FR\"\n    actions:\n      - set_header: { name: X-Frame-Options, value: SAMEORIGIN }\n", "/static/site.css", "private, max-age=3600"},
		{"the visitor's cookie in the edit", "    when: path == \"/\"\n    actions:\n      - set_inner: { select: \"#hero\", text: \"Hi {{ cookie(\\\"name\\\") }}\" }\n", "/", "private, max-age=60"},
		{"a rollout", "    rollout: 50%\n    actions:\n      - set_header: { name: X-Frame-Options, value: SAMEORIGIN }\n", "/static/site.css", "private, max-age=3600"},
	} {
		e := newEnv(t, origin, []byte("rules:\n  - name: r\n"+tc.rule))
		var r response
		for range 20 { // a rollout's half: until the rule applies
			r = e.get(t, tc.path, "CF-IPCountry", "FR", "Cookie", "name=Ann")
			if r.Header.Get("X-Frame-Options") != "" || strings.Contains(r.body, "Hi") || strings.Contains(r.body, "Welcome") {
				break
			}
		}
		if got := r.Header.Get("Cache-Control"); got != tc.cc {
			t.Errorf("%s: Cache-Control %q, want %q", tc.name, got, tc.cc)
		}
	}
}

// TestMovedPageRedirectIsShared: a redirect of a rule on the path alone
// (a page moved: /sale-2025 to /sale) is every visitor's, and caches may
// keep it as they keep the origin's redirects, apart by what the other
// rules that may apply there read (one sends French visitors to
// /fr/soldes); it went out private, no-store, and the CDN passed every
// request of the old address on. A redirect of a rule that reads the
// visitor stays private.
func TestMovedPageRedirectIsShared(t *testing.T) {
	e := newEnv(t, http.NotFoundHandler(), []byte(`rules:
  - name: french-sale
    when: geo.country == "FR" and path starts_with "/sale"
    actions:
      - redirect: /fr/soldes
  - name: moved
    when: path == "/sale-2025"
    actions:
      - redirect: { to: /sale, status: 301 }
`))
	for _, tc := range []struct {
		path, country, location, cc string
		vary                        bool
	}{
		{"/sale-2025", "US", "/sale", "", true},
		{"/sale-2025", "FR", "/fr/soldes", "private, no-store", false},
		{"/sale-2024", "FR", "/fr/soldes", "private, no-store", false},
	} {
		r := e.get(t, tc.path, "CF-IPCountry", tc.country)
		if r.Header.Get("Location") != tc.location {
			t.Fatalf("%s from %s: %d to %q", tc.path, tc.country, r.StatusCode, r.Header.Get("Location"))
		}
		if got := r.Header.Get("Cache-Control"); got != tc.cc {
			t.Errorf("%s from %s: Cache-Control %q, want %q", tc.path, tc.country, got, tc.cc)
		}
		if vary := strings.Join(r.Header.Values("Vary"), ", "); strings.Contains(vary, "Cf-Ipcountry") != tc.vary {
			t.Errorf("%s from %s: Vary %q", tc.path, tc.country, vary)
		}
	}
}
