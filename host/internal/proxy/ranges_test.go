package proxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/metrics"
	"github.com/bespoke-edge/bespoke/host/internal/proxy"
)

// rangeOrigin serves a page, a text file, a style sheet, a video and a
// JSON document with http.ServeContent, which answers Range and If-Range,
// and records the Range of each request it was sent, by path.
type rangeOrigin struct {
	mu     sync.Mutex
	ranges map[string][]string
}

const rangePage = `<!doctype html><html><body><p id="x">Hello</p>` + "<p>some text</p>" + `</body></html>`

func (o *rangeOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.ranges[r.URL.Path] = append(o.ranges[r.URL.Path], r.Header.Get("Range"))
	o.mu.Unlock()
	types := map[string]string{
		"/": "text/html; charset=utf-8", "/a.txt": "text/plain", "/site.css": "text/css",
		"/clip.mp4": "video/mp4", "/api.json": "application/json", "/big.html": "text/html",
	}
	body := strings.Repeat("0123456789", 10)
	switch r.URL.Path {
	case "/":
		body = rangePage
	case "/api.json":
		body = `{"title":"Hello","pad":"` + strings.Repeat("x", 64) + `"}`
	case "/big.html":
		body = rangePage + strings.Repeat("<p>more text</p>", 100)
	}
	w.Header().Set("Content-Type", types[r.URL.Path])
	w.Header().Set("Etag", `"v1"`)
	http.ServeContent(w, r, "", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), strings.NewReader(body))
}

func (o *rangeOrigin) asked(path string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.ranges[path]...)
}

// TestRangesOfWhatNoRuleRewrites: a rule with no when: edits every
// page, and ranges of everything else it matches (text, style sheets,
// videos, a JSON document when no JSON edit applies) are the origin's
// 206: video seeking and resumed downloads work, and so do they on a
// page past max_rewrite_bytes, which passes untouched. A range of the
// page, or
// of the JSON document a JSON edit applies to, is asked of the origin,
// then the whole, and the visitor gets it rewritten, with a 200 that
// offers no ranges.
func TestRangesOfWhatNoRuleRewrites(t *testing.T) {
	o := &rangeOrigin{ranges: map[string][]string{}}
	e := newEnv(t, o, []byte(`rules:
  - name: everywhere
    actions:
      - set_inner: { select: "#x", text: Bonjour }
  - name: api
    when: query("edit") == "1"
    actions:
      - json_set: { path: title, value: Bonjour }
`), func(c *proxy.Config) { c.MaxRewriteBytes = 1000 })
	for _, path := range []string{"/a.txt", "/site.css", "/clip.mp4", "/api.json", "/big.html"} {
		whole := e.get(t, path)
		if whole.StatusCode != 200 || whole.Header.Get("Accept-Ranges") != "bytes" {
			t.Errorf("%s: %d, Accept-Ranges %q", path, whole.StatusCode, whole.Header.Get("Accept-Ranges"))
		}
		r := e.get(t, path, "Range", "bytes=0-4", "If-Range", `"v1"`)
		if r.StatusCode != http.StatusPartialContent || r.body != whole.body[:5] || r.Header.Get("Content-Range") != "bytes 0-4/"+strconv.Itoa(len(whole.body)) {
			t.Errorf("%s, bytes=0-4: %d %q, Content-Range %q", path, r.StatusCode, r.body, r.Header.Get("Content-Range"))
		}
		// Several ranges: their parts say what of, and the origin's
		// multipart answer goes on as it came (it was the whole, 200).
		before := len(o.asked(path))
		r = e.get(t, path, "Range", "bytes=0-4,10-12")
		if r.StatusCode != http.StatusPartialContent || !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/byteranges") ||
			!strings.Contains(r.body, whole.body[:5]) || strings.Contains(r.body, whole.body) {
			t.Errorf("%s, bytes=0-4,10-12: %d %s %q", path, r.StatusCode, r.Header.Get("Content-Type"), r.body)
		}
		if got := o.asked(path)[before:]; len(got) != 1 {
			t.Errorf("%s, bytes=0-4,10-12: the origin was asked for %q, want the ranges alone", path, got)
		}
		// A HEAD's several ranges come without the parts that say
		// what of: the whole's headers say, and the 206 is the
		// origin's.
		if h := e.request(t, http.MethodHead, path, "Range", "bytes=0-4,10-12"); h.StatusCode != http.StatusPartialContent ||
			!strings.HasPrefix(h.Header.Get("Content-Type"), "multipart/byteranges") {
			t.Errorf("%s, HEAD bytes=0-4,10-12: %d %s, want the origin's 206", path, h.StatusCode, h.Header.Get("Content-Type"))
		}
	}

	for _, path := range []string{"/", "/api.json?edit=1"} {
		whole := e.get(t, path)
		if !strings.Contains(whole.body, "Bonjour") || whole.Header.Get("Accept-Ranges") != "" {
			t.Fatalf("%s: %q, Accept-Ranges %q", path, whole.body, whole.Header.Get("Accept-Ranges"))
		}
		origin, _, _ := strings.Cut(path, "?")
		for _, rng := range []string{"bytes=0-4", "bytes=0-4,10-12"} {
			before := len(o.asked(origin))
			r := e.get(t, path, "Range", rng, "If-Range", `"v1"`)
			if r.StatusCode != 200 || r.body != whole.body || r.Header.Get("Accept-Ranges") != "" || r.Header.Get("Content-Range") != "" {
				t.Errorf("%s, %s: %d %q, Accept-Ranges %q", path, rng, r.StatusCode, r.body, r.Header.Get("Accept-Ranges"))
			}
			if got := o.asked(origin)[before:]; len(got) != 2 || got[0] != rng || got[1] != "" {
				t.Errorf("%s, %s: the origin was asked for %q, want the range then the whole", path, rng, got)
			}
			h := e.request(t, http.MethodHead, path, "Range", rng)
			if h.StatusCode != 200 || h.Header.Get("Content-Range") != "" || h.Header.Get("Etag") != whole.Header.Get("Etag") {
				t.Errorf("%s, HEAD %s: %d, Content-Range %q, ETag %q; want the rewritten page's headers", path, rng, h.StatusCode, h.Header.Get("Content-Range"), h.Header.Get("Etag"))
			}
		}
	}
}

// TestRangesOfARequestWithAWrappedBody: a server or a middleware in front
// may wrap the Body of a request that has none (Caddy wraps every one in
// a reader with an idle timeout): its Range still goes to the origin.
func TestRangesOfARequestWithAWrappedBody(t *testing.T) {
	o, e := editedRangeEnv(t)
	req := httptest.NewRequest("GET", "/clip.mp4", nil)
	req.Body = io.NopCloser(http.NoBody)
	req.Header.Set("Range", "bytes=0-4")
	w := httptest.NewRecorder()
	e.p.ServeHTTP(w, req)
	if w.Code != http.StatusPartialContent || w.Body.Len() != 5 {
		t.Errorf("%d, %d bytes: want the range, 206", w.Code, w.Body.Len())
	}
	if got := o.asked("/clip.mp4"); len(got) != 1 || got[0] != "bytes=0-4" {
		t.Errorf("the origin was asked for %q", got)
	}
}

// TestRangesOfARequestOfUnknownLength: a GET whose length is unknown
// (every HTTP/3 request without a Content-Length, as quic-go reads it)
// and whose body is empty keeps its Range; one with a body cannot be
// sent twice, and its Range goes.
func TestRangesOfARequestOfUnknownLength(t *testing.T) {
	o, e := editedRangeEnv(t)
	for _, c := range []struct {
		body  string
		want  string // the Range the origin was asked for
		code  int
		bytes int
	}{
		{"", "bytes=0-4", http.StatusPartialContent, 5},
		{"x", "", http.StatusOK, -1},
	} {
		req := httptest.NewRequest("GET", "/clip.mp4", nil)
		req.Proto, req.ProtoMajor, req.ProtoMinor = "HTTP/3.0", 3, 0
		req.Body, req.ContentLength = io.NopCloser(strings.NewReader(c.body)), -1
		req.Header.Set("Range", "bytes=0-4")
		w := httptest.NewRecorder()
		before := len(o.asked("/clip.mp4"))
		e.p.ServeHTTP(w, req)
		if w.Code != c.code || c.bytes >= 0 && w.Body.Len() != c.bytes {
			t.Errorf("body %q: %d, %d bytes; want %d", c.body, w.Code, w.Body.Len(), c.code)
		}
		if got := o.asked("/clip.mp4")[before:]; len(got) != 1 || got[0] != c.want {
			t.Errorf("body %q: the origin was asked for %q", c.body, got)
		}
	}
}

// editedRangeEnv is a proxy in front of a rangeOrigin, with a rule that
// edits every page.
func editedRangeEnv(t *testing.T, opts ...func(*proxy.Config)) (*rangeOrigin, *env) {
	o := &rangeOrigin{ranges: map[string][]string{}}
	return o, newEnv(t, o, []byte(editEverywhere), opts...)
}

const editEverywhere = `rules:
  - name: everywhere
    actions:
      - set_inner: { select: "#x", text: Bonjour }
`

// TestRangesKeepTheOriginsConnection: a range of a page the rules rewrite
// is answered with the whole page, asked of the origin again; the range
// is read to its end beside it, and its connection goes back to the pool
// (closed unread, every such request cost a dial).
func TestRangesKeepTheOriginsConnection(t *testing.T) {
	m := metrics.New()
	_, e := editedRangeEnv(t, func(c *proxy.Config) { c.Metrics = m })
	for i := range 5 {
		if r := e.get(t, "/", "Range", "bytes=0-4"); r.StatusCode != http.StatusOK || !strings.Contains(r.body, "Bonjour") {
			t.Fatalf("request %d: %d %q", i, r.StatusCode, r.body)
		}
		// Every connection opened is back in the pool once its range
		// is read.
		var got map[string]float64
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if got = metricValues(t, m); got["bespoke_origin_idle_connections"] == got["bespoke_origin_dials_total"] {
				break
			}
		}
		// A connection closed unread costs the next request a dial: five
		// requests would dial five times. (That each dialed is idle is
		// what the wait above looks for; on a loaded machine one may
		// still be on its way back, which is not what this tests.)
		if idle, dials := got["bespoke_origin_idle_connections"], got["bespoke_origin_dials_total"]; dials > 2 || idle == 0 {
			t.Fatalf("after range %d: %v of %v connections dialed are idle: want at most 2 dialed, and one idle", i, idle, dials)
		}
	}
}

// TestRangesOfAStalledRange: the whole page is asked for while the range
// the origin sent first stalls: reading it to its end is not the
// visitor's wait.
func TestRangesOfAStalledRange(t *testing.T) {
	release, rangeEnded := make(chan struct{}), make(chan struct{})
	beside := make(chan bool, 1)
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if r.Header.Get("Range") == "" {
			select {
			case <-rangeEnded:
				beside <- false
			default:
				beside <- true
			}
			io.WriteString(w, rangePage)
			return
		}
		defer close(rangeEnded)
		w.Header().Set("Content-Range", "bytes 0-9/"+strconv.Itoa(len(rangePage)))
		w.Header().Set("Content-Length", "10")
		w.WriteHeader(http.StatusPartialContent)
		io.WriteString(w, rangePage[:5])
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	e := newEnv(t, origin, []byte(editEverywhere))
	defer close(release)
	if r := e.get(t, "/", "Range", "bytes=0-9"); r.StatusCode != http.StatusOK || !strings.Contains(r.body, "Bonjour") {
		t.Fatalf("%d %q", r.StatusCode, r.body)
	}
	if !<-beside {
		t.Error("the whole page was asked for once the stalled range ended: the visitor waited for it")
	}
}
