package server_test

// HTTP semantics end to end: the real server on loopback in front of a
// real origin, one test per behaviour an operator relies on.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/config"
	"github.com/bespoke-edge/bespoke/internal/syncbuf"
)

// ruleConfig serves origin with the rules given, no seen-store, on one
// route named "r".
func ruleConfig(t *testing.T, origin, rules string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	access := false
	return &config.Config{
		CacheDir: "-",
		Log:      config.Log{Access: &access},
		Seen:     config.Seen{Store: "off"},
		Routes:   []config.Route{{Name: "r", Origin: origin, Rules: path}},
	}
}

// rawClient neither asks for nor decodes compression by itself, and does
// not follow redirects: the test sees the bytes the proxy sent.
var rawClient = &http.Client{
	Transport:     &http.Transport{DisableCompression: true},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       60 * time.Second,
}

type got struct {
	*http.Response
	body []byte
	err  error // reading the body
}

func do(t *testing.T, method, url string, headers ...string) got {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if strings.EqualFold(headers[i], "Host") {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, rerr := io.ReadAll(resp.Body)
	return got{resp, b, rerr}
}

func gzipped(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// limitCount reads bespoke_body_limits_total for a reason and result.
func limitCount(t *testing.T, admin, reason, result string) string {
	t.Helper()
	want := fmt.Sprintf(`bespoke_body_limits_total{reason=%q,result=%q,route="r"} 1`, reason, result)
	if m := scrapeUntil(t, admin, want); !strings.Contains(m, want) {
		t.Errorf("metrics lack %s:\n%s", want, grep(m, "bespoke_body_limits_total"))
	}
	return want
}

// TestDeepJSONPassesUntouched: an origin's JSON nested 8 million levels
// deep (8 MB, under the rewrite limit) on a route that edits JSON is sent
// as it came and counted; the process lives on.
func TestDeepJSONPassesUntouched(t *testing.T) {
	doc := []byte(`{"a":` + strings.Repeat("[", 8_000_000))
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/small.json" {
			io.WriteString(w, `{"a":[[1]],"debug":true}`)
			return
		}
		w.Write(doc)
	}))
	defer origin.Close()
	r := start(t, ruleConfig(t, origin.URL, "rules:\n  - name: r\n    actions:\n      - json_remove: debug\n"))
	g := do(t, "GET", r.url+"/deep.json")
	if g.err != nil || g.StatusCode != 200 || !bytes.Equal(g.body, doc) {
		t.Fatalf("status %d, %d bytes (want the origin's %d), err %v", g.StatusCode, len(g.body), len(doc), g.err)
	}
	limitCount(t, r.admin, "json_depth", "untouched")
	// Still serving, and still editing what is within the limit.
	if g := do(t, "GET", r.url+"/small.json"); string(g.body) != `{"a":[[1]]}` {
		t.Fatalf("after the deep document: %q", g.body)
	}
}

// TestDecompressionBomb: a gzip body that inflates a thousandfold passes
// untouched, in its original encoding, whatever the visitor accepts.
func TestDecompressionBomb(t *testing.T) {
	bomb := gzipped(t, append([]byte(`<html><body><h1 id="t">x</h1>`), make([]byte, 64<<20)...))
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Encoding", "gzip")
		// Chunked: no length to judge it by before decoding.
		for b := bomb; len(b) > 0; b = b[min(len(b), 4096):] {
			w.Write(b[:min(len(b), 4096)])
			w.(http.Flusher).Flush()
		}
	}))
	defer origin.Close()
	r := start(t, ruleConfig(t, origin.URL, "rules:\n  - name: r\n    actions:\n      - set_inner: { select: \"#t\", text: personalized }\n"))
	for _, accept := range []string{"gzip", ""} {
		g := do(t, "GET", r.url+"/", "Accept-Encoding", accept)
		if g.err != nil || g.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(g.body, bomb) {
			t.Fatalf("Accept-Encoding %q: Content-Encoding %q, %d bytes (the origin sent %d), err %v", accept, g.Header.Get("Content-Encoding"), len(g.body), len(bomb), g.err)
		}
	}
	m := scrape(t, r.admin)
	if !strings.Contains(m, `bespoke_body_limits_total{reason="decode_ratio",result="untouched",route="r"} 2`) {
		t.Errorf("bombs not counted:\n%s", grep(m, "bespoke_body_limits_total"))
	}
}

// TestLateDecompressionBomb: a page that starts as a page and turns into
// a bomb once streaming is cut there, not inflated to the end.
func TestLateDecompressionBomb(t *testing.T) {
	page := []byte(`<html><body><h1 id="t">x</h1>` + variedText(2000))
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Encoding", "gzip")
		zw, _ := gzip.NewWriterLevel(w, gzip.BestCompression)
		zw.Write(page)
		zeros := make([]byte, 1<<20)
		for range 1024 { // a gibibyte, if anyone read it all
			if _, err := zw.Write(zeros); err != nil {
				return
			}
		}
		zw.Close()
	}))
	defer origin.Close()
	r := start(t, ruleConfig(t, origin.URL, "rules:\n  - name: r\n    actions:\n      - set_inner: { select: \"#t\", text: personalized }\n"))
	g := do(t, "GET", r.url+"/")
	if g.err == nil {
		t.Fatalf("the transfer of a bomb ended normally, %d bytes", len(g.body))
	}
	if len(g.body) > 64<<20 {
		t.Errorf("%d bytes sent before the cut", len(g.body))
	}
	if !bytes.HasPrefix(g.body, []byte(`<html><body><h1 id="t">personalized</h1>`)) {
		t.Errorf("the page before the bomb was not rewritten: %.60q", g.body)
	}
	limitCount(t, r.admin, "decode_ratio", "cut")
}

// variedText is n paragraphs that compress as pages do (about 3:1), not a
// thousandfold as repeated text does.
func variedText(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "<p>paragraph %d: %x</p>", i, uint64(i)*0x9e3779b97f4a7c15)
	}
	return b.String()
}

// TestRewriteLimitOnStreamedBodies: max_rewrite_bytes counts decoded
// bytes, chunked or compressed: past it the page is copied through, whole.
func TestRewriteLimitOnStreamedBodies(t *testing.T) {
	filler := variedText(4000)
	page := `<html><body><h1 id="a">first</h1>` + filler + `<h1 id="b">last</h1></body></html>`
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if r.URL.Path == "/gzip" {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gzipped(t, []byte(page)))
			return
		}
		for i := 0; i < len(page); i += 8192 { // chunked
			w.Write([]byte(page[i:min(len(page), i+8192)]))
			w.(http.Flusher).Flush()
		}
	}))
	defer origin.Close()
	cfg := ruleConfig(t, origin.URL, "rules:\n  - name: r\n    actions:\n      - set_inner: { select: \"#a\", text: A }\n      - set_inner: { select: \"#b\", text: B }\n")
	cfg.Limits.MaxRewriteBytes = 64 << 10
	r := start(t, cfg)
	for _, path := range []string{"/chunked", "/gzip"} {
		g := do(t, "GET", r.url+path, "Accept-Encoding", "gzip")
		body := g.body
		if g.Header.Get("Content-Encoding") == "gzip" {
			body = gunzip(t, body)
		}
		want := strings.Replace(page, `<h1 id="a">first</h1>`, `<h1 id="a">A</h1>`, 1)
		if g.err != nil || string(body) != want {
			t.Errorf("%s: %d bytes, err %v; want the first edit only, and the whole page", path, len(body), g.err)
		}
	}
	m := scrape(t, r.admin)
	if !strings.Contains(m, `bespoke_body_limits_total{reason="too_large",result="stopped",route="r"} 2`) {
		t.Errorf("not counted:\n%s", grep(m, "bespoke_body_limits_total"))
	}
}

// TestJSONKeepsItsEncoding: edited JSON goes back in the origin's
// encoding to a visitor who takes it; unchanged JSON is the origin's
// bytes.
func TestJSONKeepsItsEncoding(t *testing.T) {
	doc := []byte(`{"items":[1,2,3],"debug":{"trace":"x"}}`)
	enc := gzipped(t, doc)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Etag", `"doc1"`)
		w.Write(enc)
	}))
	defer origin.Close()
	r := start(t, ruleConfig(t, origin.URL, `rules:
  - name: r
    when: header("X-Edit") == "yes"
    actions:
      - json_remove: debug
`))
	g := do(t, "GET", r.url+"/api", "Accept-Encoding", "gzip", "X-Edit", "yes")
	if g.Header.Get("Content-Encoding") != "gzip" || string(gunzip(t, g.body)) != `{"items":[1,2,3]}` {
		t.Fatalf("edited: Content-Encoding %q, body %q", g.Header.Get("Content-Encoding"), g.body)
	}
	if g.Header.Get("Content-Length") != fmt.Sprint(len(g.body)) || !strings.HasPrefix(g.Header.Get("Etag"), `W/"doc1-bsk`) {
		t.Errorf("edited: Content-Length %q for %d bytes, ETag %q", g.Header.Get("Content-Length"), len(g.body), g.Header.Get("Etag"))
	}
	g = do(t, "GET", r.url+"/api", "X-Edit", "yes")
	if g.Header.Get("Content-Encoding") != "" || string(g.body) != `{"items":[1,2,3]}` {
		t.Fatalf("to a visitor without gzip: Content-Encoding %q, body %q", g.Header.Get("Content-Encoding"), g.body)
	}
	g = do(t, "GET", r.url+"/api", "Accept-Encoding", "gzip", "X-Edit", "no")
	if !bytes.Equal(g.body, enc) || g.Header.Get("Etag") != `"doc1"` {
		t.Fatalf("unchanged: %d bytes (origin %d), ETag %q", len(g.body), len(enc), g.Header.Get("Etag"))
	}
}

// TestNotReallyGzip: a body that says gzip and is not reaches the visitor
// as the origin sent it, whole (a plain reverse proxy passes it on too).
func TestNotReallyGzip(t *testing.T) {
	page := `<!doctype html><html><head><title>t</title></head><body><h1 id="t">plain, not gzip</h1>` + strings.Repeat("<p>x</p>", 90) + `</body></html>`
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		if strings.HasSuffix(r.URL.Path, ".json") {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"debug":true,"not":"gzip"}`)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, page)
	}))
	defer origin.Close()
	r := start(t, ruleConfig(t, origin.URL, "rules:\n  - name: r\n    actions:\n      - set_inner: { select: \"#t\", text: personalized }\n      - json_remove: debug\n"))
	for path, want := range map[string]string{"/": page, "/a.json": `{"debug":true,"not":"gzip"}`} {
		g := do(t, "GET", r.url+path, "Accept-Encoding", "gzip")
		if g.err != nil || string(g.body) != want || g.Header.Get("Content-Encoding") != "gzip" || g.Header.Get("Content-Length") != fmt.Sprint(len(want)) {
			t.Errorf("%s: %d bytes of %d, Content-Encoding %q, Content-Length %q, err %v", path, len(g.body), len(want), g.Header.Get("Content-Encoding"), g.Header.Get("Content-Length"), g.err)
		}
	}
}

// validatorOrigin serves one page with http.ServeContent, which honours
// Range, If-Range, If-None-Match and If-Modified-Since, and records the
// conditional headers it was sent.
func validatorOrigin(t *testing.T, seen *[]http.Header) *httptest.Server {
	page := `<!doctype html><html><body><h1 id="t">Hello</h1>` + strings.Repeat("<p>some text</p>", 40) + `</body></html>`
	modified := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := http.Header{}
		for _, k := range []string{"Range", "If-Range", "If-None-Match", "If-Modified-Since"} {
			if v := r.Header.Get(k); v != "" {
				h.Set(k, v)
			}
		}
		*seen = append(*seen, h)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Etag", `"v1"`)
		w.Header().Set("Cache-Control", "public, max-age=60")
		http.ServeContent(w, r, "page.html", modified, strings.NewReader(page))
	}))
	t.Cleanup(origin.Close)
	return origin
}

// TestValidators: a personalized page carries no validator of the
// origin's bytes, HEAD answers as GET, ranges are not spliced across
// documents, and revalidation of the personalized copy works.
func TestValidators(t *testing.T) {
	var seen []http.Header
	origin := validatorOrigin(t, &seen)
	cfg := ruleConfig(t, origin.URL, `rules:
  - name: fr
    when: geo.country == "FR"
    actions:
      - set_inner: { select: "#t", text: Bonjour }
`)
	r := start(t, cfg)
	fr := []string{"CF-IPCountry", "FR"}

	get := do(t, "GET", r.url+"/", fr...)
	if get.StatusCode != 200 || !strings.Contains(string(get.body), "Bonjour") {
		t.Fatalf("GET: %d %q", get.StatusCode, get.body)
	}
	etag := get.Header.Get("Etag")
	if !strings.HasPrefix(etag, `W/"v1-bsk`) {
		t.Errorf("ETag %q, want a weak one derived from the origin's", etag)
	}
	for _, k := range []string{"Accept-Ranges", "Last-Modified"} {
		if v := get.Header.Get(k); v != "" {
			t.Errorf("the personalized page has the origin's %s: %q", k, v)
		}
	}
	// A length, if any, is the personalized page's own (net/http counts
	// a short body that ends before its first flush).
	if cl := get.Header.Get("Content-Length"); cl != "" && cl != fmt.Sprint(len(get.body)) {
		t.Errorf("Content-Length %s for %d bytes", cl, len(get.body))
	}
	head := do(t, "HEAD", r.url+"/", fr...)
	for _, k := range []string{"Etag", "Accept-Ranges", "Last-Modified", "Cache-Control", "Content-Encoding", "Vary", "Content-Type"} {
		if head.Header.Get(k) != get.Header.Get(k) {
			t.Errorf("HEAD %s %q, GET %q", k, head.Header.Get(k), get.Header.Get(k))
		}
	}
	// HEAD cannot know the personalized length, and must not give the
	// origin's.
	if cl := head.Header.Get("Content-Length"); cl != "" {
		t.Errorf("HEAD has Content-Length %s", cl)
	}

	// A resumed download gets the personalized page whole: the origin's
	// range of it is not sent, the page is asked for again whole.
	seen = nil
	rng := do(t, "GET", r.url+"/", append(fr, "Range", "bytes=100-160", "If-Range", "Mon, 01 Jan 2024 00:00:00 GMT")...)
	if rng.StatusCode != 200 || !bytes.Equal(rng.body, get.body) || rng.Header.Get("Accept-Ranges") != "" {
		t.Errorf("ranged GET: %d, %d bytes, Accept-Ranges %q", rng.StatusCode, len(rng.body), rng.Header.Get("Accept-Ranges"))
	}
	if len(seen) != 2 || seen[0].Get("Range") != "bytes=100-160" || seen[1].Get("Range") != "" || seen[1].Get("If-Range") != "" {
		t.Errorf("the origin was sent %v", seen)
	}

	// Revalidating the personalized copy: 304 with its own weak ETag.
	seen = nil
	rev := do(t, "GET", r.url+"/", append(fr, "If-None-Match", etag)...)
	if rev.StatusCode != 304 || rev.Header.Get("Etag") != etag || !strings.HasPrefix(rev.Header.Get("Cache-Control"), "private") {
		t.Errorf("revalidation: %d, ETag %q, Cache-Control %q", rev.StatusCode, rev.Header.Get("Etag"), rev.Header.Get("Cache-Control"))
	}
	if len(seen) != 1 || seen[0].Get("If-None-Match") != `"v1"` {
		t.Errorf("the origin was sent %v, want the tag it issued", seen)
	}
	// A date names a copy made without the edits (the personalized page
	// has no Last-Modified): the page comes afresh, personalized.
	seen = nil
	ims := do(t, "GET", r.url+"/", append(fr, "If-Modified-Since", "Tue, 02 Jan 2024 00:00:00 GMT")...)
	if ims.StatusCode != 200 || !bytes.Equal(ims.body, get.body) || ims.Header.Get("Etag") != etag {
		t.Errorf("by date: %d, ETag %q", ims.StatusCode, ims.Header.Get("Etag"))
	}
	if len(seen) != 1 || seen[0].Get("If-Modified-Since") != "" {
		t.Errorf("the origin was sent %v", seen)
	}
	// A copy made for other edits is not revalidated: the page comes anew.
	de := do(t, "GET", r.url+"/", "CF-IPCountry", "DE", "If-None-Match", etag)
	if de.StatusCode != 200 || strings.Contains(string(de.body), "Bonjour") || de.Header.Get("Etag") != `"v1"` {
		t.Errorf("another visitor revalidating the French copy: %d, ETag %q", de.StatusCode, de.Header.Get("Etag"))
	}
}

// TestSharedCaches: a page nothing changed keeps the origin's caching and
// gets no cookie; a cookie is only ever set on a private response; Vary
// names the headers the rules' attributes come from.
func TestSharedCaches(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		if strings.HasSuffix(r.URL.Path, ".css") {
			w.Header().Set("Content-Type", "text/css")
			io.WriteString(w, "body{}")
			return
		}
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, `<html><body><h1 id="t">Hello</h1></body></html>`)
	}))
	defer origin.Close()

	t.Run("country only", func(t *testing.T) {
		cfg := ruleConfig(t, origin.URL, "rules:\n  - name: fr\n    when: geo.country == \"FR\"\n    actions:\n      - set_inner: { select: \"#t\", text: Bonjour }\n")
		cfg.Geo.Providers = "cloudflare"
		r := start(t, cfg)
		us := do(t, "GET", r.url+"/", "CF-IPCountry", "US")
		if cc := us.Header.Get("Cache-Control"); cc != "public, max-age=60" || len(us.Header.Values("Set-Cookie")) > 0 {
			t.Errorf("untouched page: Cache-Control %q, Set-Cookie %q", cc, us.Header.Values("Set-Cookie"))
		}
		if v := strings.Join(us.Header.Values("Vary"), ", "); v != "Cf-Ipcountry" {
			t.Errorf("Vary %q, want only Cf-Ipcountry", v)
		}
		fr := do(t, "GET", r.url+"/", "CF-IPCountry", "FR")
		if v := strings.Join(fr.Header.Values("Vary"), ", "); v != "Cf-Ipcountry, Accept-Encoding" || !strings.HasPrefix(fr.Header.Get("Cache-Control"), "private") {
			t.Errorf("personalized page: Vary %q, Cache-Control %q", v, fr.Header.Get("Cache-Control"))
		}
	})

	t.Run("experiment", func(t *testing.T) {
		r := start(t, ruleConfig(t, origin.URL, `experiments:
  - name: hero
    when: path == "/"
    variants: { a: 50, b: 50 }
rules:
  - name: b
    when: variant("hero") == "b"
    actions:
      - set_inner: { select: "#t", text: B }
`))
		// A new visitor on a page nothing else changes: the id cookie,
		// so the response is private.
		other := do(t, "GET", r.url+"/other")
		if len(other.Header.Values("Set-Cookie")) == 0 || !strings.HasPrefix(other.Header.Get("Cache-Control"), "private") {
			t.Errorf("new visitor: Set-Cookie %q, Cache-Control %q", other.Header.Values("Set-Cookie"), other.Header.Get("Cache-Control"))
		}
		// The same visitor, returning, on a page the experiment does not
		// cover: nothing changed, the origin's caching.
		cookie := strings.SplitN(other.Header.Get("Set-Cookie"), ";", 2)[0]
		back := do(t, "GET", r.url+"/other", "Cookie", cookie)
		if len(back.Header.Values("Set-Cookie")) > 0 || back.Header.Get("Cache-Control") != "public, max-age=60" || back.Header.Get("X-Bespoke-Experiments") != "" {
			t.Errorf("returning visitor: Set-Cookie %q, Cache-Control %q", back.Header.Values("Set-Cookie"), back.Header.Get("Cache-Control"))
		}
		// Enrolled on "/": the page names the variant, private.
		home := do(t, "GET", r.url+"/", "Cookie", cookie)
		if home.Header.Get("X-Bespoke-Experiments") == "" || !strings.HasPrefix(home.Header.Get("Cache-Control"), "private") {
			t.Errorf("enrolled: X-Bespoke-Experiments %q, Cache-Control %q", home.Header.Get("X-Bespoke-Experiments"), home.Header.Get("Cache-Control"))
		}
		// An asset, to a new visitor: no cookie, still shared-cacheable.
		css := do(t, "GET", r.url+"/site.css")
		if len(css.Header.Values("Set-Cookie")) > 0 || css.Header.Get("Cache-Control") != "public, max-age=60" {
			t.Errorf("asset: Set-Cookie %q, Cache-Control %q", css.Header.Values("Set-Cookie"), css.Header.Get("Cache-Control"))
		}
	})
}

// TestPageCharsets: inserted text is written in the page's declared
// encoding; a UTF-16 page is left alone and counted.
func TestPageCharsets(t *testing.T) {
	sjisMeta := "<html><head><meta charset=\"shift_jis\"></head><body><h1 id=\"t\">x</h1><p>\x93\x8c\x8b\x9e</p></body></html>"
	utf16 := []byte{0xFF, 0xFE}
	for _, c := range `<html><body><h1 id="t">x</h1></body></html>` {
		utf16 = append(utf16, byte(c), 0)
	}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/latin1":
			w.Header().Set("Content-Type", "text/html; charset=iso-8859-1")
			io.WriteString(w, "<html><body><h1 id=\"t\">x</h1><p>caf\xe9</p></body></html>")
		case "/sjis":
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, sjisMeta)
		case "/utf16":
			w.Header().Set("Content-Type", "text/html; charset=utf-16")
			w.Write(utf16)
		}
	}))
	defer origin.Close()
	r := start(t, ruleConfig(t, origin.URL, `rules:
  - name: r
    actions:
      - set_inner: { select: "#t", text: "Été à 東京" }
      - set_attr: { select: "#t", name: title, value: "à bientôt" }
`))
	latin1 := do(t, "GET", r.url+"/latin1")
	if want := "<h1 id=\"t\" title=\"\xe0 bient\xf4t\">\xc9t\xe9 \xe0 &#26481;&#20140;</h1><p>caf\xe9</p>"; !strings.Contains(string(latin1.body), want) {
		t.Errorf("ISO-8859-1 page: %q, want it to contain %q", latin1.body, want)
	}
	sjis := do(t, "GET", r.url+"/sjis")
	// What Shift_JIS cannot hold is a reference, in the value as in the text.
	if want := "<h1 id=\"t\" title=\"&#224; bient&#244;t\">&#201;t&#233; &#224; \x93\x8c\x8b\x9e</h1>"; !strings.Contains(string(sjis.body), want) {
		t.Errorf("Shift_JIS page: %q, want it to contain %q", sjis.body, want)
	}
	u16 := do(t, "GET", r.url+"/utf16")
	if !bytes.Equal(u16.body, utf16) {
		t.Errorf("UTF-16 page changed: %q", u16.body)
	}
	limitCount(t, r.admin, "charset", "untouched")
}

// echoOrigin answers with the request headers it got, as JSON.
func echoOrigin(t *testing.T) *httptest.Server {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		json.NewEncoder(w).Encode(r.Header)
	}))
	t.Cleanup(origin.Close)
	return origin
}

// TestForwardingHeaders: behind a trusted proxy the forwarding chain goes
// on and the visitor's scheme is kept (and cookies get Secure), in
// X-Forwarded-* and Forwarded alike, whichever of them the proxy wrote;
// from an untrusted peer the headers are replaced and CDN headers
// stripped.
func TestForwardingHeaders(t *testing.T) {
	origin := echoOrigin(t)
	rules := "experiments:\n  - name: e\n    variants: { a: 100 }\nrules:\n  - name: r\n    actions:\n      - set_header: { name: X-Seen, value: yes }\n"
	sent := []string{
		"X-Forwarded-For", "203.0.113.7", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "shop.example",
		"Forwarded", "for=203.0.113.7;proto=https", "CF-Connecting-IP", "203.0.113.7", "True-Client-IP", "203.0.113.7",
		"CF-IPCountry", "FR", "CloudFront-Viewer-Country", "FR", "Via", "1.1 cdn",
	}
	headers := func(g got) http.Header {
		var h http.Header
		if err := json.Unmarshal(g.body, &h); err != nil {
			t.Fatalf("%v: %q", err, g.body)
		}
		return h
	}
	secureCookie := func(g got) bool {
		for _, c := range g.Cookies() {
			if c.Name == "bsk_vid" {
				return c.Secure
			}
		}
		t.Fatal("no visitor cookie")
		return false
	}

	t.Run("trusted", func(t *testing.T) {
		r := start(t, ruleConfig(t, origin.URL, rules)) // loopback is trusted by default
		g := do(t, "GET", r.url+"/", sent...)
		h := headers(g)
		for k, want := range map[string]string{
			"X-Forwarded-For": "203.0.113.7, 127.0.0.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "shop.example",
			"Forwarded":        `for=203.0.113.7;host=shop.example;proto=https, for=127.0.0.1;host="` + strings.TrimPrefix(r.url, "http://") + `";proto=http`,
			"Cf-Connecting-Ip": "203.0.113.7", "Cf-Ipcountry": "FR", "Via": "1.1 cdn, 1.1 bespoke",
		} {
			if got := h.Get(k); got != want {
				t.Errorf("origin got %s %q, want %q", k, got, want)
			}
		}
		if !secureCookie(g) {
			t.Error("the visitor cookie lacks Secure behind a trusted proxy that says https")
		}
		if v := g.Header.Get("Via"); v != "1.1 bespoke" {
			t.Errorf("response Via %q", v)
		}
	})
	t.Run("trusted, Forwarded alone", func(t *testing.T) {
		r := start(t, ruleConfig(t, origin.URL, rules))
		g := do(t, "GET", r.url+"/", "Forwarded", "for=1.2.3.4;proto=https;host=shop.example.com")
		h := headers(g)
		for k, want := range map[string]string{
			"X-Forwarded-For": "1.2.3.4, 127.0.0.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "shop.example.com",
			"Forwarded": `for=1.2.3.4;proto=https;host=shop.example.com, for=127.0.0.1;host="` + strings.TrimPrefix(r.url, "http://") + `";proto=http`,
		} {
			if got := h.Get(k); got != want {
				t.Errorf("origin got %s %q, want %q", k, got, want)
			}
		}
		if !secureCookie(g) {
			t.Error("the visitor cookie lacks Secure behind a trusted proxy whose Forwarded says https")
		}
	})
	t.Run("untrusted", func(t *testing.T) {
		cfg := ruleConfig(t, origin.URL, rules)
		cfg.Geo.TrustedProxies = "10.0.0.0/8"
		r := start(t, cfg)
		g := do(t, "GET", r.url+"/", sent...)
		h := headers(g)
		for k, want := range map[string]string{
			"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http", "X-Forwarded-Host": strings.TrimPrefix(r.url, "http://"),
			"Forwarded": `for=127.0.0.1;host="` + strings.TrimPrefix(r.url, "http://") + `";proto=http`, "Via": "1.1 cdn, 1.1 bespoke",
			"Cf-Connecting-Ip": "", "True-Client-Ip": "", "Cf-Ipcountry": "", "Cloudfront-Viewer-Country": "",
		} {
			if got := h.Get(k); got != want {
				t.Errorf("origin got %s %q, want %q", k, got, want)
			}
		}
		if secureCookie(g) {
			t.Error("an untrusted peer's X-Forwarded-Proto made the cookie Secure")
		}
	})
}

// TestAdminRefusesWebPages: the admin API refuses what a web page could
// send it (a foreign Origin, a cross-site fetch, a DNS-rebound Host) and,
// with a token, anyone without it.
func TestAdminRefusesWebPages(t *testing.T) {
	cfg := faultConfig(t, faultOrigin(t))
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("s3cret-admin-token-1234\n"), 0o600)
	cfg.AdminTokenFile = tokenFile
	cfg.AdminHosts = []string{"admin.internal", "10.1.0.0/16"}
	r := start(t, cfg)
	bearer := "Bearer s3cret-admin-token-1234"
	tests := []struct {
		name    string
		method  string
		path    string
		headers []string
		want    int
	}{
		{"metrics with the token", "GET", "/metrics", []string{"Authorization", bearer}, 200},
		{"metrics without", "GET", "/metrics", nil, 401},
		{"a wrong token", "GET", "/_bespoke/status", []string{"Authorization", "Bearer nope"}, 401},
		// RFC 9110 11.1: the scheme is case-insensitive.
		{"the scheme in lower case", "GET", "/metrics", []string{"Authorization", "bearer s3cret-admin-token-1234"}, 200},
		{"the scheme in capitals, two spaces", "GET", "/metrics", []string{"Authorization", "BEARER  s3cret-admin-token-1234"}, 200},
		{"another scheme", "GET", "/metrics", []string{"Authorization", "Basic s3cret-admin-token-1234"}, 401},
		{"the scheme alone", "GET", "/metrics", []string{"Authorization", "Bearer"}, 401},
		{"health checks need none", "GET", "/healthz", nil, 200},
		{"readiness needs none", "GET", "/readyz", nil, 200},
		{"reload from a foreign origin", "POST", "/_bespoke/reload", []string{"Authorization", bearer, "Origin", "http://evil.example"}, 403},
		{"reload from a cross-site form", "POST", "/_bespoke/reload", []string{"Authorization", bearer, "Sec-Fetch-Site", "cross-site"}, 403},
		{"a DNS-rebound host name", "GET", "/_bespoke/status", []string{"Authorization", bearer, "Host", "evil.example"}, 403},
		{"a configured host name", "GET", "/_bespoke/status", []string{"Authorization", bearer, "Host", "admin.internal:9090"}, 200},
		{"an address nobody configured", "GET", "/metrics", []string{"Authorization", bearer, "Host", "192.0.2.10:9090"}, 403},
		{"an address in a configured prefix", "GET", "/metrics", []string{"Authorization", bearer, "Host", "10.1.2.3:9090"}, 200},
		{"probes answer under any Host", "GET", "/healthz", []string{"Host", "192.0.2.10:9090"}, 200},
		{"localhost", "GET", "/_bespoke/status", []string{"Authorization", bearer, "Host", "localhost"}, 200},
		{"profiles with the token", "GET", "/debug/pprof/heap?debug=1", []string{"Authorization", bearer}, 200},
		{"profiles without", "GET", "/debug/pprof/heap", nil, 401},
		{"profiles from a cross-site fetch", "GET", "/debug/pprof/goroutine", []string{"Authorization", bearer, "Sec-Fetch-Site", "cross-site"}, 403},
		{"reload, same origin", "POST", "/_bespoke/reload", []string{"Authorization", bearer, "Origin", r.admin, "Sec-Fetch-Site", "same-origin"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if g := do(t, tt.method, r.admin+tt.path, tt.headers...); g.StatusCode != tt.want {
				t.Errorf("status %d, want %d: %s", g.StatusCode, tt.want, g.body)
			}
		})
	}
}

// TestAdminRequestsLogged: an admin request refused (a wrong token, a
// foreign Host) is logged with where it came from, a few lines in a
// period however many come, so that someone guessing the token shows;
// a reload asked over the API is logged with who asked it. They were
// not logged at all. No token, right or guessed, is ever written.
func TestAdminRequestsLogged(t *testing.T) {
	cfg := faultConfig(t, faultOrigin(t))
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("s3cret-admin-token-1234\n"), 0o600)
	cfg.AdminTokenFile = tokenFile
	var buf syncbuf.Buffer
	r := startWithHandler(t, cfg, slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for i := range 30 {
		if g := do(t, "GET", r.admin+"/_bespoke/status", "Authorization", fmt.Sprintf("Bearer guess-%d-abcdefghijkl", i)); g.StatusCode != 401 {
			t.Fatalf("status %d, want 401", g.StatusCode)
		}
	}
	if g := do(t, "GET", r.admin+"/metrics", "Authorization", "Bearer s3cret-admin-token-1234", "Host", "evil.example"); g.StatusCode != 403 {
		t.Fatalf("status %d, want 403", g.StatusCode)
	}
	if g := do(t, "POST", r.admin+"/_bespoke/reload?route=fault", "Authorization", "Bearer s3cret-admin-token-1234"); g.StatusCode != 200 {
		t.Fatalf("reload: status %d, want 200: %s", g.StatusCode, g.body)
	}
	var refused, hosts, reloads int
	for _, l := range strings.Split(buf.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(l), &rec) != nil {
			continue
		}
		switch {
		case rec["msg"] == "admin request refused" && rec["reason"] == "token":
			refused++
			if rec["remote"] != "127.0.0.1" || rec["path"] != "/_bespoke/status" || rec["level"] != "WARN" {
				t.Errorf("refusal line %v", rec)
			}
		case rec["msg"] == "admin request refused" && rec["reason"] == "host":
			hosts++
		case rec["msg"] == "reload asked over the admin API":
			reloads++
			if rec["remote"] != "127.0.0.1" || rec["route"] != "fault" {
				t.Errorf("reload line %v", rec)
			}
		}
	}
	if refused == 0 || refused > 10 || hosts != 1 || reloads != 1 {
		t.Errorf("%d lines of refused tokens (want 1 to 10 for 30), %d of a foreign Host (want 1), %d reloads (want 1):\n%s", refused, hosts, reloads, &buf)
	}
	if strings.Contains(buf.String(), "s3cret") || strings.Contains(buf.String(), "guess-") {
		t.Errorf("a token in the log:\n%s", &buf)
	}
}

// TestAccessLine: the access line says who asked (the visitor through a
// trusted proxy, and the proxy), for which host and query, and how many
// bytes of body went back; a query's secret-looking values are hidden.
// It had the route, method, path, status and outcome alone.
func TestAccessLine(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, `<html><body><h1 id="t">Hello</h1></body></html>`)
	}))
	defer origin.Close()
	cfg := ruleConfig(t, origin.URL, "rules:\n  - name: hello\n    actions:\n      - set_inner: { select: \"#t\", text: Bonjour }\n")
	access := true
	cfg.Log.Access = &access
	cfg.H2C = true
	var buf syncbuf.Buffer
	r := startWithHandler(t, cfg, slog.NewJSONHandler(&buf, nil))
	tests := []struct {
		name    string
		target  string
		headers []string
		want    map[string]any
		absent  []string
	}{
		{"a visitor behind a trusted proxy, with a query", "/p?q=shoes&access_token=abc&apiKey=k1&page=2&bsk_preview=tok",
			[]string{"Host", "shop.example", "X-Forwarded-For", "203.0.113.7"},
			map[string]any{"client": "203.0.113.7", "peer": "127.0.0.1", "host": "shop.example", "proto": "HTTP/1.1",
				"query": "q=shoes&access_token=xxxxx&apiKey=xxxxx&page=2&bsk_preview=xxxxx"}, nil},
		{"a visitor on its own, no query", "/", []string{"Host", "www.example"},
			map[string]any{"client": "127.0.0.1", "host": "www.example", "proto": "HTTP/1.1"}, []string{"peer", "query"}},
		{"over HTTP/2", "/h2", []string{"Host", "www.example", "h2", ""},
			map[string]any{"client": "127.0.0.1", "host": "www.example", "proto": "HTTP/2.0"}, []string{"peer", "query"}},
	}
	h2 := &http.Transport{Protocols: new(http.Protocols)}
	h2.Protocols.SetUnencryptedHTTP2(true)
	defer h2.CloseIdleConnections()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _, _ := strings.Cut(tt.target, "?")
			var g got
			if len(tt.headers) > 2 && tt.headers[2] == "h2" {
				req, _ := http.NewRequest("GET", r.url+tt.target, nil)
				req.Host = tt.headers[1]
				resp, err := (&http.Client{Transport: h2, Timeout: 20 * time.Second}).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				g = got{resp, b, rerr}
			} else {
				g = do(t, "GET", r.url+tt.target, tt.headers...)
			}
			if g.StatusCode != 200 || !bytes.Contains(g.body, []byte("Bonjour")) {
				t.Fatalf("status %d: %s", g.StatusCode, g.body)
			}
			var line map[string]any
			for deadline := time.Now().Add(10 * time.Second); line == nil && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				for _, l := range strings.Split(buf.String(), "\n") {
					var rec map[string]any
					if json.Unmarshal([]byte(l), &rec) == nil && rec["msg"] == "request" && rec["path"] == path {
						line = rec
					}
				}
			}
			if line == nil {
				t.Fatalf("no access line in\n%s", &buf)
			}
			for k, want := range tt.want {
				if line[k] != want {
					t.Errorf("%s = %v, want %v", k, line[k], want)
				}
			}
			for _, k := range tt.absent {
				if v, ok := line[k]; ok {
					t.Errorf("%s = %v, want none", k, v)
				}
			}
			if n, _ := line["bytes"].(float64); int(n) != len(g.body) {
				t.Errorf("bytes = %v, want the %d of the body", line["bytes"], len(g.body))
			}
			if line["route"] != "r" || line["outcome"] != "personalized" {
				t.Errorf("the proxy's fields: %v", line)
			}
		})
	}
}

// TestAccessLineCorrelates: a request's X-Request-Id and the trace id of
// its W3C traceparent go on to the origin and are written in the access
// line, so that its line is found from the origin's logs or a trace; a
// traceparent that is not one is not read, and an id is cut at 128 bytes.
func TestAccessLineCorrelates(t *testing.T) {
	origin := echoOrigin(t)
	cfg := ruleConfig(t, origin.URL, "rules:\n  - name: hello\n    actions:\n      - set_header: { name: X-Seen, value: yes }\n")
	access := true
	cfg.Log.Access = &access
	var buf syncbuf.Buffer
	r := startWithHandler(t, cfg, slog.NewJSONHandler(&buf, nil))
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	long := strings.Repeat("a", 300)
	tests := []struct {
		path    string
		headers []string
		request any // request_id in the line, nil for none
		trace   any // trace_id in the line, nil for none
	}{
		{"/both", []string{"X-Request-Id", "req-41", "Traceparent", tp}, "req-41", "0af7651916cd43dd8448eb211c80319c"},
		{"/none", nil, nil, nil},
		{"/long", []string{"X-Request-Id", long}, long[:128], nil},
		{"/future-version", []string{"Traceparent", "cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-more"}, nil, "0af7651916cd43dd8448eb211c80319c"},
		{"/bad", []string{"Traceparent", "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"}, nil, nil},
		{"/zero", []string{"Traceparent", "00-00000000000000000000000000000000-b7ad6b7169203331-01"}, nil, nil},
		{"/v00-more", []string{"Traceparent", tp + "-more"}, nil, nil},
		{"/ff", []string{"Traceparent", "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}, nil, nil},
		{"/short", []string{"Traceparent", "00-0af7651916cd43dd"}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			g := do(t, "GET", r.url+tt.path, tt.headers...)
			if g.StatusCode != 200 {
				t.Fatalf("status %d: %s", g.StatusCode, g.body)
			}
			var sent http.Header
			if err := json.Unmarshal(g.body, &sent); err != nil {
				t.Fatalf("%v: %s", err, g.body)
			}
			for i := 0; i+1 < len(tt.headers); i += 2 {
				if v := sent.Get(tt.headers[i]); v != tt.headers[i+1] {
					t.Errorf("the origin got %s %q, want %q", tt.headers[i], v, tt.headers[i+1])
				}
			}
			line := accessLine(t, &buf, tt.path)
			if line["request_id"] != tt.request {
				t.Errorf("request_id = %v, want %v", line["request_id"], tt.request)
			}
			if line["trace_id"] != tt.trace {
				t.Errorf("trace_id = %v, want %v", line["trace_id"], tt.trace)
			}
		})
	}
}

// TestAccessLineOfRefusals: a request answered before any route took it
// (its Host matches no route, it smuggles, its head is too long) has its
// access line, as every other request does; it had none, so a flood of
// them showed nowhere in the log. A request a route served has one line.
func TestAccessLineOfRefusals(t *testing.T) {
	origin := echoOrigin(t)
	cfg := ruleConfig(t, origin.URL, "rules:\n  - name: hello\n    actions:\n      - set_header: { name: X-Seen, value: yes }\n")
	cfg.Routes[0].Host = "shop.example"
	cfg.Limits.MaxHeaderBytes = 8 << 10
	access := true
	cfg.Log.Access = &access
	var buf syncbuf.Buffer
	r := startWithHandler(t, cfg, slog.NewJSONHandler(&buf, nil))
	addr := strings.TrimPrefix(r.url, "http://")
	tests := []struct {
		path, raw string // raw: the request after its request line
		status    int
		outcome   string
	}{
		{"/served", "Host: shop.example\r\n", 200, "personalized"},
		{"/elsewhere", "Host: other.example\r\nX-Request-Id: r-1\r\n", 404, "no_route"},
		{"/smuggled", "Host: shop.example\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n", 400, "refused"},
		{"/long-head", "Host: shop.example\r\nX-Big: " + strings.Repeat("x", 10<<10) + "\r\n", 431, "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			method := "GET"
			if strings.Contains(tt.raw, "Transfer-Encoding") {
				method = "POST"
			}
			io.WriteString(c, method+" "+tt.path+" HTTP/1.1\r\nConnection: close\r\n"+tt.raw+"\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			line := accessLine(t, &buf, tt.path)
			if line["status"] != float64(tt.status) || line["outcome"] != tt.outcome || line["method"] != method || line["client"] != "127.0.0.1" {
				t.Errorf("access line %v, want status %d, outcome %s, method %s, client 127.0.0.1", line, tt.status, tt.outcome, method)
			}
			if tt.status == 404 && (line["host"] != "other.example" || line["request_id"] != "r-1") {
				t.Errorf("access line %v, want host other.example, request_id r-1", line)
			}
			// One line, not a second one for a request a route logged.
			if n := strings.Count(buf.String(), `"path":"`+tt.path+`"`); n != 1 {
				t.Errorf("%d lines for %s, want 1:\n%s", n, tt.path, &buf)
			}
		})
	}
}

// TestDebugLinesNameTheRequest: at log.level debug, the line that says a
// visitor left before the origin answered names the request (its
// client, host and X-Request-Id) as its warnings and access line do.
func TestDebugLinesNameTheRequest(t *testing.T) {
	release := make(chan struct{})
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer origin.Close()
	defer close(release)
	cfg := ruleConfig(t, origin.URL, "rules:\n  - name: hello\n    actions:\n      - set_header: { name: X-Seen, value: yes }\n")
	access := true
	cfg.Log.Access = &access
	var buf syncbuf.Buffer
	r := startWithHandler(t, cfg, slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	req, _ := http.NewRequest("GET", r.url+"/slow", nil)
	req.Host = "shop.example"
	req.Header.Set("X-Request-Id", "req-9")
	(&http.Client{Timeout: 200 * time.Millisecond}).Do(req)
	var line map[string]any
	for deadline := time.Now().Add(10 * time.Second); line == nil && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		for _, l := range strings.Split(buf.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(l), &rec) == nil && rec["msg"] == "the visitor left before the origin answered" {
				line = rec
			}
		}
	}
	if line == nil {
		t.Fatalf("no debug line in\n%s", &buf)
	}
	for k, want := range map[string]any{"client": "127.0.0.1", "host": "shop.example", "request_id": "req-9", "path": "/slow"} {
		if line[k] != want {
			t.Errorf("%s = %v, want %v", k, line[k], want)
		}
	}
}

// TestAccessLineUpstream: the access line says what the origin answered
// and how long it took to (upstream_status, upstream_duration, from the
// request sent to the origin's headers), so that a slow or failing
// origin is told from a slow plugin or a status bespoke made; a request
// the origin never answered has neither.
func TestAccessLineUpstream(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if r.URL.Path == "/missing" {
			w.WriteHeader(http.StatusNotFound)
		}
		io.WriteString(w, `<html><body><h1 id="t">Hello</h1></body></html>`)
	}))
	defer origin.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	rules := "rules:\n  - name: hello\n    actions:\n      - set_inner: { select: \"#t\", text: Bonjour }\n"
	cfg := ruleConfig(t, origin.URL, rules)
	cfg.Routes[0].Host = "shop.example"
	down := ruleConfig(t, gone.URL, rules).Routes[0]
	down.Name, down.Host = "down", "down.example"
	cfg.Routes = append(cfg.Routes, down)
	access := true
	cfg.Log.Access = &access
	var buf syncbuf.Buffer
	r := startWithHandler(t, cfg, slog.NewJSONHandler(&buf, nil))
	tests := []struct {
		host, path string
		status     int
		upstream   any // upstream_status, nil for none
	}{
		{"shop.example", "/found", 200, 200.0},
		{"shop.example", "/missing", 404, 404.0},
		{"down.example", "/unreachable", 502, nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if g := do(t, "GET", r.url+tt.path, "Host", tt.host); g.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", g.StatusCode, tt.status)
			}
			line := accessLine(t, &buf, tt.path)
			if line["upstream_status"] != tt.upstream {
				t.Errorf("upstream_status = %v, want %v", line["upstream_status"], tt.upstream)
			}
			took, ok := line["upstream_duration"].(float64)
			if tt.upstream == nil {
				if ok {
					t.Errorf("upstream_duration = %v, want none", took)
				}
				return
			}
			if total, _ := line["duration"].(float64); !ok || took <= 0 || took > total {
				t.Errorf("upstream_duration = %v, want more than 0 and at most duration %v", line["upstream_duration"], line["duration"])
			}
		})
	}
}

// accessLine is the JSON access line of the request for path in buf,
// waited for.
func accessLine(t *testing.T, buf *syncbuf.Buffer, path string) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		for _, l := range strings.Split(buf.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(l), &rec) == nil && rec["msg"] == "request" && rec["path"] == path {
				return rec
			}
		}
	}
	t.Fatalf("no access line for %s in\n%s", path, buf)
	return nil
}

// TestWarningsNameTheRequest: with the access log on, a warning about one
// request (an origin that cannot be reached) names the visitor and the
// host, as its access line does. It had the route and path alone.
func TestWarningsNameTheRequest(t *testing.T) {
	origin := httptest.NewServer(http.NotFoundHandler())
	gone := origin.URL
	origin.Close()
	cfg := ruleConfig(t, gone, "rules:\n  - name: hello\n    actions:\n      - set_inner: { select: \"#t\", text: Bonjour }\n")
	access := true
	cfg.Log.Access = &access
	var buf syncbuf.Buffer
	r := startWithHandler(t, cfg, slog.NewJSONHandler(&buf, nil))
	if g := do(t, "GET", r.url+"/down?q=1", "Host", "shop.example", "X-Request-Id", "req-7"); g.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502: %s", g.StatusCode, g.body)
	}
	var warning map[string]any
	for deadline := time.Now().Add(10 * time.Second); warning == nil && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		for _, l := range strings.Split(buf.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(l), &rec) == nil && rec["msg"] == "origin request failed" {
				warning = rec
			}
		}
	}
	if warning == nil {
		t.Fatalf("no warning in\n%s", &buf)
	}
	for k, want := range map[string]any{"client": "127.0.0.1", "host": "shop.example", "query": "q=1", "path": "/down", "level": "WARN", "request_id": "req-7"} {
		if warning[k] != want {
			t.Errorf("%s = %v, want %v", k, warning[k], want)
		}
	}
}
