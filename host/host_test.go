package host_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host"
	"github.com/bespoke-edge/bespoke/rules"
)

var quiet = slog.New(slog.DiscardHandler)

const secret = "a test secret of at least 16 bytes"

func TestNewRejects(t *testing.T) {
	dir := t.TempDir()
	okHandler := http.NotFoundHandler()
	ruleFile := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(ruleFile, []byte(greeting), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  host.Config
		want string
	}{
		{"nothing", host.Config{}, "no upstream"},
		{"origin and next", host.Config{Origin: "http://x", Next: okHandler}, "not both"},
		{"transport with next", host.Config{Next: okHandler, Transport: http.DefaultTransport}, "cannot be given with Next"},
		{"relative origin", host.Config{Origin: "/x"}, "scheme"},
		{"ftp origin", host.Config{Origin: "ftp://x"}, "scheme"},
		{"no host", host.Config{Origin: "http://"}, "no host"},
		{"query", host.Config{Origin: "http://x/?a=1"}, "no query"},
		{"port past 65535", host.Config{Origin: "http://127.0.0.1:99999"}, "port 99999: give a port from 1 to 65535"},
		{"port 0", host.Config{Origin: "http://127.0.0.1:0"}, "port 0: give a port from 1 to 65535"},
		{"missing rule file", host.Config{Next: okHandler, RulesFile: filepath.Join(dir, "nope.yaml")}, "no such file"},
		{"rule file a directory", host.Config{Next: okHandler, RulesFile: dir}, "is a directory: give the rule file"},
		{"both rules", host.Config{Next: okHandler, RulesFile: "a.yaml", Rules: []byte("x")}, "not both"},
		{"bad rules", host.Config{Next: okHandler, Rules: []byte("version: 1\nrules: [{name: x, nope: 1}]\n")}, "nope"},
		{"bad plugin", host.Config{Next: okHandler, Rules: []byte("\x00asm\x01\x00\x00\x00")}, "rules"},
		{"short secret", host.Config{Next: okHandler, Secret: []byte("short")}, "16 bytes"},
		{"bad seen", host.Config{Next: okHandler, Seen: "memcached://x"}, "Seen: "},
		{"seen not a URL", host.Config{Next: okHandler, Seen: "redis"}, "a Redis URL"},
		{"metrics not made", host.Config{Next: okHandler, Metrics: &host.Metrics{}}, "NewMetrics"},
		{"watch without a file", host.Config{Next: okHandler, Watch: time.Second}, "Watch"},
		// Watch: 1 meant as a second is a nanosecond: the file read
		// without a pause, most of a core.
		{"watch of 1ns", host.Config{Next: okHandler, RulesFile: ruleFile, Watch: 1}, "Watch is at least 1ms, not 1ns"},
		{"bad trusted", host.Config{Next: okHandler, TrustedProxies: []string{"not-an-ip"}}, "not-an-ip"},
		{"negative", host.Config{Next: okHandler, PoolSize: -1}, "negative"},
		{"name not UTF-8", host.Config{Next: okHandler, Name: "shop\xff"}, `Name "shop\xff" is not valid UTF-8`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger, tc.cfg.CacheDir = quiet, "-"
			h, err := host.New(context.Background(), tc.cfg)
			if err == nil {
				h.Close(context.Background())
				t.Fatalf("New accepted %+v", tc.cfg)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// TestNewTellsEveryBadField: a Config with several bad fields gets an
// error naming each, as the package says (not the first alone).
func TestNewTellsEveryBadField(t *testing.T) {
	_, err := host.New(context.Background(), host.Config{
		Origin: "ftp://x", RulesFile: t.TempDir(), Secret: []byte("short"), Seen: "memcached://x",
		TrustedProxies: []string{"not-an-ip"}, PoolSize: -1, Logger: quiet, CacheDir: "-",
	})
	if err == nil {
		t.Fatal("New accepted a Config with six bad fields")
	}
	for _, want := range []string{"scheme must be http or https", "RulesFile", "16 bytes", "negative", "not-an-ip"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not tell %q:\n%v", want, err)
		}
	}
}

// TestNewTellsOnlyWhatIsWrong: an upstream given wrong (Next with a
// Transport) is told once, not again as an origin the embedder did not
// write.
func TestNewTellsOnlyWhatIsWrong(t *testing.T) {
	_, err := host.New(context.Background(), host.Config{Next: http.NotFoundHandler(), Transport: http.DefaultTransport, Logger: quiet, CacheDir: "-"})
	if err == nil || !strings.Contains(err.Error(), "cannot be given with Next") || strings.Contains(err.Error(), "route") || strings.Count(err.Error(), "\n") != 0 {
		t.Errorf("error %q, want Transport with Next told alone", err)
	}
}

// TestRulesFileByContent: RulesFile is a plugin or a rule file by its
// first bytes, as Rules is, whatever its name; Rules given as no bytes
// beside it is no rules given, as the docs say.
func TestRulesFileByContent(t *testing.T) {
	dir := t.TempDir()
	res, err := rules.Compile("site.yaml", []byte(greeting))
	if err != nil {
		t.Fatal(err)
	}
	wasm := res.Artifact.Wasm
	for name, content := range map[string][]byte{"SITE.WASM": wasm, "site.plugin": wasm, "site.rules": []byte(greeting)} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, content, 0o644)
		h, err := host.New(context.Background(), host.Config{Next: pageApp, RulesFile: path, Rules: []byte{}, Logger: quiet, CacheDir: "-", Secret: []byte(secret)})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if body := serveOne(t, h); !strings.Contains(body, "Thanks for reading") {
			t.Errorf("%s: not personalized: %s", name, body)
		}
		h.Close(context.Background())
	}
	// A deferred Close after a New that failed does nothing.
	var h *host.Handler
	if err := h.Close(context.Background()); err != nil {
		t.Errorf("Close of a nil Handler: %v", err)
	}
}

// TestNewAccepts: what the Config's docs offer is accepted: no rules
// given as no bytes (forwarded unchanged), and the Redis URL forms
// bespoke serve takes (a Cluster's seeds, a Sentinel master), which it
// refused.
func TestNewAccepts(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "origin") })
	for _, tc := range []struct {
		name string
		cfg  host.Config
	}{
		{"no rules, as no bytes", host.Config{Rules: []byte{}}},
		{"a Sentinel master", host.Config{Seen: "redis+sentinel://127.0.0.1:1/mymaster"}},
		{"a Cluster", host.Config{Seen: "redis+cluster://127.0.0.1:1"}},
		{"Cluster seeds", host.Config{Seen: "redis://127.0.0.1:1,redis://127.0.0.1:2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Next, tc.cfg.Logger, tc.cfg.CacheDir, tc.cfg.Secret = next, quiet, "-", []byte(secret)
			h, err := host.New(context.Background(), tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close(context.Background())
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			if rec.Code != 200 || rec.Body.String() != "origin" {
				t.Errorf("%d %q, want the origin's page", rec.Code, rec.Body)
			}
		})
	}
}

// TestMiddleware runs a rule file with a seen-filter in front of an
// in-process handler: the page is personalized, the seen cookie set and
// honoured on the next visit, and a reload of the file takes effect.
func TestMiddleware(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "site.yaml")
	write := func(greet string) {
		t.Helper()
		src := `version: 1
rules:
  - name: greet
    actions:
      - set_inner: { select: "#greet", text: "` + greet + `" }
  - name: fresh
    actions:
      - hide_seen: { select: "li.item", id: "@data-id" }
`
		if _, err := rules.Compile(file, []byte(src)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Hello from rules")
	var gotHost, gotForwarded, gotVia string
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotHost, gotForwarded, gotVia = r.Host, r.Header.Get("X-Forwarded-For"), r.Header.Get("Via")
		switch r.URL.Path {
		case "/boom":
			panic("the handler failed")
		case "/text":
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, `<p id="greet">plain</p>`)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<p id="greet">Hi</p><ul><li class="item" data-id="a">A</li><li class="item" data-id="b">B</li></ul>`)
	})
	metrics := host.NewMetrics()
	h, err := host.New(context.Background(), host.Config{
		Next: app, RulesFile: file, Secret: []byte(secret), CacheDir: "-", Logger: quiet, Metrics: metrics, Name: "shop",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	if g := h.Generation(); g != 1 {
		t.Fatalf("generation %d after New, want 1", g)
	}
	front := httptest.NewServer(h)
	defer front.Close()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", front.URL+path, nil)
		req.Header.Set("Sec-Fetch-Dest", "document")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	resp, body := get("/")
	if !strings.Contains(body, "Hello from rules") || !strings.Contains(body, `data-id="a"`) {
		t.Fatalf("first page: %s", body)
	}
	// Middleware is no hop: a proxy after it (Caddy's reverse_proxy) adds
	// the hop's forwarding headers, which had the peer twice in
	// X-Forwarded-For, and two Via.
	if via := resp.Header.Get("Via"); gotHost != strings.TrimPrefix(front.URL, "http://") || gotForwarded != "" || gotVia != "" || via != "" {
		t.Errorf("handler saw Host %q, X-Forwarded-For %q, Via %q; the visitor Via %q: want the visitor's Host, no forwarding header added", gotHost, gotForwarded, gotVia, via)
	}
	if !hasCookie(resp, "bsk_seen") {
		t.Fatalf("no seen cookie: %v", resp.Header["Set-Cookie"])
	}
	if _, body = get("/"); strings.Contains(body, `data-id="a"`) || strings.Contains(body, `data-id="b"`) {
		t.Fatalf("second page still shows the items seen: %s", body)
	}
	if _, body = get("/text"); body != `<p id="greet">plain</p>` {
		t.Fatalf("a text/plain body was changed: %s", body)
	}
	if resp, _ = get("/boom"); resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("a panicking handler answered %s, want 502", resp.Status)
	}

	write("Hello again")
	if err := h.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, body = get("/"); !strings.Contains(body, "Hello again") {
		t.Fatalf("after reload: %s", body)
	}
	if err := os.WriteFile(file, []byte("version: 1\nrules: [{name: x, when: nope, actions: [{remove: \"#x\"}]}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.Reload(context.Background()); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("a broken rule file reloaded: %v", err)
	}
	if _, body = get("/"); !strings.Contains(body, "Hello again") {
		t.Fatalf("a failed reload stopped the rules serving: %s", body)
	}
	if g := h.Generation(); g != 2 {
		t.Fatalf("generation %d, want 2", g)
	}

	rec := httptest.NewRecorder()
	metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{`bespoke_requests_total{outcome="passed_through",route="shop"}`, `bespoke_reloads_total{result="error",route="shop"} 1`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if _, err := host.New(context.Background(), host.Config{Next: app, Metrics: metrics, Name: "shop", Logger: quiet}); err == nil {
		t.Error("a second handler named shop in the same metrics was accepted")
	}
}

// TestOriginDown: an origin that cannot be reached is a 502.
func TestOriginDown(t *testing.T) {
	origin := httptest.NewServer(http.NotFoundHandler())
	url := origin.URL
	origin.Close()
	h, err := host.New(context.Background(), host.Config{Origin: url, Rules: []byte(greeting), CacheDir: "-", Logger: quiet, Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", rec.Code)
	}
}

func hasCookie(resp *http.Response, name string) bool {
	for _, c := range resp.Cookies() {
		if c.Name == name && c.Value != "" {
			return true
		}
	}
	return false
}

// TestMiddlewareStreams: the visitor reads the start of a page before the
// in-process handler has written its end.
func TestMiddlewareStreams(t *testing.T) {
	release := make(chan struct{})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<html><body><p id="greet">Hello</p>`+strings.Repeat("<p>filler</p>\n", 4096))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, `<p id="end">end</p></body></html>`)
	})
	h, err := host.New(context.Background(), host.Config{Next: app, Rules: []byte(greeting), CacheDir: "-", Logger: quiet, Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	front := httptest.NewServer(h)
	defer front.Close()
	resp, err := http.Get(front.URL + "/?ref=newsletter")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	head := make([]byte, 64)
	if _, err := io.ReadFull(resp.Body, head); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(head), "Thanks for reading") {
		t.Fatalf("the page starts %q", head)
	}
	close(release) // only now may the handler finish the page
	rest, err := io.ReadAll(resp.Body)
	if err != nil || !strings.HasSuffix(string(rest), `<p id="end">end</p></body></html>`) {
		t.Fatalf("the end of the page: %v, ...%q", err, rest[max(0, len(rest)-40):])
	}
}

// TestNewIgnoresServeSettings: a handler serves no admin API, so a short
// $BESPOKE_ADMIN_TOKEN, which bespoke serve refuses, is none of its
// business. New failed on it.
func TestNewIgnoresServeSettings(t *testing.T) {
	t.Setenv("BESPOKE_ADMIN_TOKEN", "short")
	h, err := host.New(context.Background(), host.Config{Next: http.NotFoundHandler(), Logger: quiet, CacheDir: "-", Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	h.Close(context.Background())
}

// TestRandomKeyPerProcess: without a secret, every handler of the process
// signs with one random key, so that one built anew (a Caddy config
// reload) reads the seen cookie the one before set: the items the first
// showed are seen by the second.
func TestRandomKeyPerProcess(t *testing.T) {
	t.Setenv("BESPOKE_SECRET", "")
	src := []byte(`rules:
  - name: fresh
    actions:
      - hide_seen: { select: "li.item", id: "@data-id", keep_at_least: 1 }
`)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<ul><li class="item" data-id="a">A</li><li class="item" data-id="b">B</li></ul>`)
	})
	var cookies []*http.Cookie
	var bodies []string
	for range 2 {
		h, err := host.New(context.Background(), host.Config{Next: app, Rules: src, CacheDir: "-", Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Sec-Fetch-Dest", "document")
		for _, c := range cookies {
			req.AddCookie(c)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		h.Close(context.Background())
		cookies = append(cookies, w.Result().Cookies()...)
		bodies = append(bodies, w.Body.String())
	}
	if len(cookies) == 0 {
		t.Fatal("no seen cookie was set")
	}
	// Both items shown once, then one of them: what keep_at_least keeps
	// of a list the visitor has seen whole.
	if strings.Count(bodies[0], "<li") != 2 || strings.Count(bodies[1], "<li") != 1 {
		t.Errorf("the second handler did not read the first's cookie: %s then %s", bodies[0], bodies[1])
	}
}

// TestTrustedProxiesList: a list given, even of blank entries (what
// strings.Split makes of an empty setting), names the peers trusted, and
// a blank list names none; only nil means loopback and private. A list of
// one blank entry trusted those.
func TestTrustedProxiesList(t *testing.T) {
	for _, c := range []struct {
		name    string
		trusted []string
		kept    bool // a CDN's header from a loopback peer reaches Next
	}{
		{"nil", nil, true},
		{"loopback", []string{"loopback"}, true},
		{"empty", []string{}, false},
		{"none", []string{"none"}, false},
		{"one blank entry", []string{""}, false},
		{"blank entries", []string{"", " "}, false},
		{"a blank entry and loopback", []string{"", "loopback"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got string
			app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.Header.Get("CF-IPCountry")
			})
			h, err := host.New(context.Background(), host.Config{Next: app, TrustedProxies: c.trusted, CacheDir: "-", Logger: quiet, Secret: []byte(secret)})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close(context.Background())
			front := httptest.NewServer(h)
			defer front.Close()
			req, _ := http.NewRequest("GET", front.URL+"/", nil)
			req.Header.Set("CF-IPCountry", "FR")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if kept := got == "FR"; kept != c.kept {
				t.Errorf("TrustedProxies %q: the loopback peer's CF-IPCountry reached Next: %v, want %v", c.trusted, kept, c.kept)
			}
		})
	}
}

// roundTripFunc is a Transport written as a function, as tests and
// caching transports write them.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestTransportsResponses: a Transport that builds its responses (a
// cache, a stub) need not set what only http.Client fills in (the
// response's Request); one that breaks RoundTripper's contract (no
// response and no error, a nil Header or Body) fails the request as an
// origin would, never the handler. The page of a response without its
// Request, and every request of the others, panicked the handler.
func TestTransportsResponses(t *testing.T) {
	const page = `<html><body><p id="greet">Hello</p></body></html>`
	for _, c := range []struct {
		name   string
		resp   func(r *http.Request) *http.Response
		status int
		// personal: the page is personalized (one without a header
		// has no type, and passes as it came)
		personal bool
	}{
		{"no Request", func(r *http.Request) *http.Response {
			return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/html"}}, Body: io.NopCloser(strings.NewReader(page)), ContentLength: -1}
		}, 200, true},
		{"no Header", func(r *http.Request) *http.Response {
			return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(page)), Request: r}
		}, 200, false},
		{"no Body", func(r *http.Request) *http.Response {
			return &http.Response{StatusCode: 204, Header: http.Header{}, Request: r}
		}, 204, false},
		{"no response", func(r *http.Request) *http.Response { return nil }, 502, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := roundTripFunc(func(r *http.Request) (*http.Response, error) { return c.resp(r), nil })
			h := newHandler(t, host.Config{Origin: "http://backend.invalid", Transport: tr, Rules: []byte(greeting)})
			front := httptest.NewServer(h)
			defer front.Close()
			for _, rng := range []string{"", "bytes=0-9"} {
				req, _ := http.NewRequest("GET", front.URL+"/?ref=newsletter", nil)
				if rng != "" {
					req.Header.Set("Range", rng)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("Range %q: %v", rng, err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != c.status {
					t.Errorf("Range %q: status %d, want %d", rng, resp.StatusCode, c.status)
				}
				if personal := strings.Contains(string(b), "Thanks for reading"); personal != c.personal {
					t.Errorf("Range %q: personalized %v, want %v: %s", rng, personal, c.personal, b)
				}
			}
		})
	}
}
