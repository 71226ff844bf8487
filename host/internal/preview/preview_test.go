package preview_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/demo"
	"github.com/bespoke-edge/bespoke/host/internal/preview"
	"github.com/bespoke-edge/bespoke/host/internal/visit"
)

var pages = fstest.MapFS{
	"index.html": {Data: []byte(`<!DOCTYPE html><html lang="en"><head><title>Shop</title><link rel="stylesheet" href="/site.css"></head><body>
<section id="hero"><h1>Hello</h1><a class="cta" href="/sale">Shop</a></section>
<aside id="promo"><p>Join</p></aside>
</body></html>`)},
	"stores.html":    {Data: []byte(`<!DOCTYPE html><html><head></head><body><h1>Stores</h1></body></html>`)},
	"api/items.json": {Data: []byte(`{"items":[1,2,3]}`)},
}

const rulesV1 = `experiments:
  - name: hero-test
    variants: { control: 50, bold: 50 }
rules:
  - name: french
    when: geo.country == "FR"
    actions:
      - set_inner: { select: "#hero h1", text: "Bonjour" }
      - insert_before: { select: "#hero", html: '<div class="banner">Soldes</div>' }
  - name: phones
    when: device.type == "mobile"
    actions:
      - remove: "#promo"
  - name: bold
    when: variant("hero-test") == "bold"
    actions:
      - add_class: { select: "#hero", class: bold }
  - name: api
    actions:
      - json_limit: { path: items, n: 2 }
`

type env struct {
	file   string
	srv    *httptest.Server
	origin *httptest.Server
	pv     *preview.Server
}

func newEnv(t *testing.T, src string, links *preview.Links, proxy string) *env {
	t.Helper()
	return newEnvWith(t, src, links, proxy, preview.Options{}, preview.StaticOrigin(pages))
}

// newEnvWith is newEnv with options (Poll is set) and the origin's
// handler.
func newEnvWith(t *testing.T, src string, links *preview.Links, proxy string, opt preview.Options, origin http.Handler) *env {
	t.Helper()
	e := &env{file: filepath.Join(t.TempDir(), "rules.yaml")}
	e.write(t, src)
	e.origin = httptest.NewServer(origin)
	t.Cleanup(e.origin.Close)
	u, _ := url.Parse(e.origin.URL)
	opt.Poll = 20 * time.Millisecond
	pv, err := preview.New([]preview.Target{{File: "rules.yaml", Read: func() ([]byte, error) { return os.ReadFile(e.file) }, Origin: u, Links: links, Proxy: proxy}}, opt)
	if err != nil {
		t.Fatal(err)
	}
	e.pv = pv
	e.srv = httptest.NewServer(pv)
	t.Cleanup(func() {
		e.srv.Close()
		pv.Close()
	})
	return e
}

func (e *env) write(t *testing.T, src string) {
	t.Helper()
	if err := os.WriteFile(e.file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (e *env) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get(e.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}

// events opens the page's event stream, as a page of version v does,
// and returns the data of each event; the stream closes with the test.
func (e *env) events(t *testing.T, v int) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/events?v="+strconv.Itoa(v), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
	})
	events := make(chan string, 8)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				events <- data
			}
		}
		close(events)
	}()
	return events
}

func (e *env) state(t *testing.T, query string) preview.State {
	t.Helper()
	var st preview.State
	if err := json.Unmarshal([]byte(e.get(t, "/state?"+query)), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestPageShowsRulesAndFrames(t *testing.T) {
	e := newEnv(t, rulesV1, nil, "")
	page := e.get(t, "/?country=FR&device=phone")
	for _, want := range []string{
		`<li class="rule matched" data-rule="0" data-name="french">`,
		`<li class="rule matched" data-rule="1" data-name="phones">`,
		`<iframe id="before" title="before" sandbox="allow-same-origin" src="/frame?side=before&amp;country=FR&amp;device=phone`,
		`<iframe id="after" title="after" sandbox="allow-same-origin" src="/frame?side=after&amp;country=FR&amp;device=phone`,
		`<option value="phone" selected>`,
		`new EventSource("/events?v=1")`,
		// An icon of its own: no request for /favicon.ico on each load.
		`<link rel="icon" href="data:,">`,
		// Examples, not values.
		`placeholder="e.g. FR"`, `placeholder="e.g. alice"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	st := e.state(t, "country=FR&device=phone")
	if strings.Join(st.Matched, ",") != "french,phones,api" && strings.Join(st.Matched, ",") != "french,phones,bold,api" {
		t.Errorf("matched %v", st.Matched)
	}
}

func TestFramesHighlightEdits(t *testing.T) {
	e := newEnv(t, rulesV1, nil, "")
	after := e.get(t, "/frame?side=after&country=FR&device=phone&v.hero-test=bold")
	for _, want := range []string{
		`<base href="` + e.origin.URL + `/">`,
		`<h1 class="bsk-edit bsk-r0">Bonjour</h1>`,
		`<bespoke-edit class="bsk-ins bsk-r0 bsk-block"><div class="banner">Soldes</div></bespoke-edit>`,
		`<section id="hero" class="bold bsk-edit bsk-r2">`,
		`id="bespoke-preview-style"`,
	} {
		if !strings.Contains(after, want) {
			t.Errorf("the after frame lacks %q:\n%s", want, after)
		}
	}
	if strings.Contains(after, `id="promo"`) {
		t.Error("the after frame still holds the removed #promo")
	}
	before := e.get(t, "/frame?side=before&country=FR&device=phone")
	for _, want := range []string{`<h1 class="bsk-target bsk-r0">Hello</h1>`, `<aside id="promo" class="bsk-removed bsk-r1">`} {
		if !strings.Contains(before, want) {
			t.Errorf("the before frame lacks %q:\n%s", want, before)
		}
	}
	js := e.get(t, "/frame?side=after&url=/api/items.json")
	if !strings.Contains(js, "[\n    1,\n    2\n  ]") {
		t.Errorf("the JSON frame: %s", js)
	}
}

// TestFramesMarkListItems: the items of a list that a rule filters by
// what the visitor has seen, limits or reorders are marked in both
// frames, with the rule, so that side by side they show which went and
// which moved; the items gone are not in the after frame.
func TestFramesMarkListItems(t *testing.T) {
	list := fstest.MapFS{"index.html": {Data: []byte(`<!DOCTYPE html><html><head></head><body><ul class="recs">` +
		`<li data-item-id="a">A</li><li data-item-id="b">B</li><li data-item-id="c">C</li><li data-item-id="d">D</li></ul></body></html>`)}}
	e := newEnvWith(t, `rules:
  - name: fresh
    actions:
      - hide_seen: { select: "ul.recs > li", id: "@data-item-id" }
      - limit: { select: "ul.recs > li", n: 2 }
`, nil, "", preview.Options{}, preview.StaticOrigin(list))
	after := e.get(t, "/frame?side=after&seen=a")
	if want := `<ul class="recs"><li data-item-id="b" class="bsk-list bsk-r0 bsk-key-data-item-id">B</li><li data-item-id="c" class="bsk-list bsk-r0 bsk-key-data-item-id">C</li></ul>`; !strings.Contains(after, want) {
		t.Errorf("the after frame lacks %q:\n%s", want, after)
	}
	before := e.get(t, "/frame?side=before&seen=a")
	for _, id := range []string{"a", "b", "c", "d"} {
		if want := `<li data-item-id="` + id + `" class="bsk-list bsk-r0 bsk-key-data-item-id">`; !strings.Contains(before, want) {
			t.Errorf("the before frame lacks %q:\n%s", want, before)
		}
	}
}

// TestFramesAreSandboxed: every answer of /frame (a page before and
// after, JSON, a message) says Content-Security-Policy: sandbox with
// what the page's iframes allow, so that a frame opened on its own, out
// of its iframe, runs none of the origin's scripts on the preview's
// origin. It said nothing, and only the iframe's attribute held them.
func TestFramesAreSandboxed(t *testing.T) {
	rules := rulesV1 + `  - name: away
    when: path == "/old"
    actions:
      - redirect: { to: /stores }
`
	e := newEnv(t, rules, nil, "")
	page := e.get(t, "/?country=FR")
	m := regexp.MustCompile(`<iframe id="after" title="after" sandbox="([^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the page has no sandboxed after frame")
	}
	want := strings.TrimSpace("sandbox " + m[1])
	for _, path := range []string{
		"/frame?side=before&country=FR",
		"/frame?side=after&country=FR",
		"/frame?side=after&url=/api/items.json",
		"/frame?side=after&url=/old",          // redirected: a message
		"/frame?side=after&url=/nothing-here", // the origin's 404 page
	} {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Content-Security-Policy"); got != want {
			t.Errorf("%s: Content-Security-Policy %q, want %q", path, got, want)
		}
	}
	if msg := e.get(t, "/frame?side=after&url=/old"); !strings.Contains(msg, "Redirected (") {
		t.Errorf("the redirected visitor's frame: %s", msg)
	}
	if !strings.Contains(page, `<iframe id="before" title="before" sandbox="`+m[1]+`"`) {
		t.Error("the before frame is not sandboxed as the after frame")
	}
}

// TestReloadsOnChange edits the rule file while the page listens: an
// event announces each change; a broken edit shows its errors and keeps
// the last version that compiled; fixing it clears them.
func TestReloadsOnChange(t *testing.T) {
	e := newEnv(t, rulesV1, nil, "")
	events := e.events(t, 1)
	// wait waits for an event announcing a change, then for the state to
	// show it (a poll may have caught the file halfway through its write).
	wait := func(what string, ok func(preview.State) bool) preview.State {
		t.Helper()
		select {
		case <-events:
		case <-time.After(10 * time.Second):
			t.Fatalf("no event announcing %s", what)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			st := e.state(t, "country=FR")
			if ok(st) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("the preview does not show %s: %+v", what, st)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	e.write(t, strings.Replace(rulesV1, `"Bonjour"`, `"Salut"`, 1))
	wait("the edit", func(st preview.State) bool { return st.Version > 1 && !st.Stale })
	if after := e.get(t, "/frame?side=after&country=FR"); !strings.Contains(after, ">Salut</h1>") {
		t.Error("the after frame does not show the edit")
	}
	broken := strings.Replace(rulesV1, `geo.country == "FR"`, `geo.country == FR`, 1)
	broken = strings.Replace(broken, `select: "#promo"`, `select: #promo`, 1)
	e.write(t, strings.Replace(broken, `remove: "#promo"`, `remove: #promo`, 1))
	st := wait("the broken edit", func(st preview.State) bool { return st.Stale && len(st.Errors) == 2 })
	if er := st.Errors[0]; er.Line != 6 || er.Col != 26 || !strings.Contains(er.Message, "FR is not quoted") {
		t.Errorf("first error %+v", er)
	}
	if er := st.Errors[1]; er.Line != 13 || er.Col != 17 || er.Code != "yaml-comment" {
		t.Errorf("second error %+v", er)
	}
	if !strings.Contains(strings.Join(st.Matched, ","), "french") {
		t.Error("the last version that compiled is no longer shown")
	}
	page := e.get(t, "/?country=FR")
	for _, want := range []string{`id="errors"`, "rules.yaml does not compile: 2 errors", "rules.yaml:6:26", "does not compile · showing the version of", `<pre class="src" tabindex="0">    when: geo.country == FR`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	e.write(t, rulesV1)
	wait("the fix", func(st preview.State) bool { return !st.Stale && len(st.Errors) == 0 })
}

// TestPreviewRefusesWebPages: the preview answers only to a Host that
// names it and refuses what a page of another site sent, on every
// endpoint, before the origin is asked anything. It answered any Host
// and any site: a DNS-rebinding page read the rules and the origin's
// pages fetched with the headers it chose, and any page could make it
// fetch them.
func TestPreviewRefusesWebPages(t *testing.T) {
	var asked sync.Map // what the origin was asked for, by the header the case sends
	origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Store(r.Header.Get("X-Case"), true)
		preview.StaticOrigin(pages).ServeHTTP(w, r)
	})
	e := newEnvWith(t, rulesV1, nil, "", preview.Options{Hosts: []string{"preview.internal", "10.1.0.0/16"}}, origin)
	own := e.srv.URL
	tests := []struct {
		name    string
		path    string
		headers []string
		want    int
	}{
		{"the page on loopback", "/", nil, 200},
		{"the frame on loopback", "/frame?side=before", nil, 200},
		{"typed in the address bar", "/", []string{"Sec-Fetch-Site", "none"}, 200},
		{"the page's own frame", "/frame?side=after", []string{"Sec-Fetch-Site", "same-origin", "Origin", own}, 200},
		{"localhost", "/state", []string{"Host", "localhost:8081"}, 200},
		{"IPv6 loopback", "/state", []string{"Host", "[::1]:8081"}, 200},
		{"a configured name", "/frame?side=before", []string{"Host", "preview.internal:8081"}, 200},
		{"an address in a configured prefix", "/state", []string{"Host", "10.1.2.3:8081"}, 200},
		{"the frame under a DNS-rebound name", "/frame?side=before&headers=Authorization:%20x", []string{"Host", "attacker.example:8081"}, 403},
		{"the page under a DNS-rebound name", "/", []string{"Host", "attacker.example"}, 403},
		{"the rules under a DNS-rebound name", "/state", []string{"Host", "attacker.example"}, 403},
		{"the events under a DNS-rebound name", "/events", []string{"Host", "attacker.example"}, 403},
		{"an address nobody configured", "/state", []string{"Host", "192.0.2.10:8081"}, 403},
		{"a cross-site frame", "/frame?side=after", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"a cross-site link to the page", "/?headers=Authorization:%20x", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		// Another port of localhost is another program.
		{"a same-site fetch", "/state", []string{"Sec-Fetch-Site", "same-site"}, 403},
		{"a foreign Origin", "/frame?side=before", []string{"Origin", "http://attacker.example:8081"}, 403},
		{"the Origin of a sandboxed page", "/state", []string{"Origin", "null"}, 403},
		{"a rebound name with its own Origin", "/frame?side=before", []string{"Host", "attacker.example:8081", "Origin", "http://attacker.example:8081", "Sec-Fetch-Site", "same-origin"}, 403},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+tt.path, nil)
			id := strconv.Itoa(i)
			for j := 0; j+1 < len(tt.headers); j += 2 {
				if tt.headers[j] == "Host" {
					req.Host = tt.headers[j+1]
				} else {
					req.Header.Set(tt.headers[j], tt.headers[j+1])
				}
			}
			// The case's id reaches the origin in the context's headers.
			q := req.URL.Query()
			if strings.HasPrefix(tt.path, "/frame") {
				q.Set("headers", q.Get("headers")+"\nX-Case: "+id)
				req.URL.RawQuery = q.Encode()
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(tt.path, "/events") {
				cancel() // an event stream that answered goes on
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %.200s", resp.StatusCode, tt.want, b)
			}
			_, fetched := asked.Load(id)
			if tt.want == 403 && fetched {
				t.Error("the origin was asked for a refused request")
			}
			if tt.want == 200 && strings.HasPrefix(tt.path, "/frame") && !fetched {
				t.Error("the origin was not asked for the frame")
			}
		})
	}
}

func TestContextProblems(t *testing.T) {
	e := newEnv(t, rulesV1, nil, "")
	st := e.state(t, "at=tomorrow&lat=north&cookies=noequals&v.unknown=x&shown.nope=2")
	if len(st.Problems) != 3 {
		t.Errorf("problems %v", st.Problems)
	}
	if st := e.state(t, "cookies=bsk_vid%3Dalice"); len(st.Problems) != 1 || !strings.Contains(st.Problems[0], "not a visitor id") {
		t.Errorf("problems %v", st.Problems)
	}
	// Values no visitor can have, as explain --set refuses them.
	for q, want := range map[string]string{
		"country=France":            `did you mean "FR"`,
		"country=UK":                `did you mean "GB"`,
		"region=FR-IDF":             `write geo.region == "IDF"`,
		"country=FR&lat=45&lon=364": "longitude from -180 to 180",
	} {
		if st := e.state(t, q); len(st.Problems) != 1 || !strings.Contains(st.Problems[0], want) {
			t.Errorf("%s: problems %q, want one saying %q", q, st.Problems, want)
		}
	}
	if st := e.state(t, "country=fr&region=idf&lat=45.76&lon=4.83"); len(st.Problems) != 0 {
		t.Errorf("a visitor that exists: problems %q", st.Problems)
	}
}

func TestStaticOrigin(t *testing.T) {
	srv := httptest.NewServer(preview.StaticOrigin(pages))
	defer srv.Close()
	for path, want := range map[string]string{"/": "Hello", "/stores": "Stores", "/api/items.json": "items"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d %s", path, resp.StatusCode, b)
		}
	}
}

// TestHammerWhileEditing requests the page, frames and state from several
// goroutines while the rule file changes back and forth (and breaks):
// every answer is whole, from one version, and nothing races.
func TestHammerWhileEditing(t *testing.T) {
	e := newEnv(t, rulesV1, nil, "")
	versions := []string{rulesV1, strings.Replace(rulesV1, `"Bonjour"`, `"Salut"`, 1), strings.Replace(rulesV1, `== "FR"`, `== FR`, 1)}
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(15 * time.Millisecond):
			}
			os.WriteFile(e.file, []byte(versions[i%len(versions)]), 0o644)
		}
	}()
	errs := make(chan error, 64)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				path := []string{"/?country=FR", "/frame?side=after&country=FR", "/frame?side=before&device=phone", "/state?v.hero-test=bold"}[(g+i)%4]
				resp, err := http.Get(e.srv.URL + path)
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || (strings.HasPrefix(path, "/frame?side=after") && !strings.Contains(string(b), "</html>")) {
					errs <- fmt.Errorf("%s: %d %.200s", path, resp.StatusCode, b)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-writerDone
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestFramesAsTheBrowserGetsThem: the frames keep what the origin's page
// needs to display as behind the proxy: its charset, relative URLs that
// resolve against its own URL, and, when a rule redirects the visitor,
// the origin's page before.
func TestFramesAsTheBrowserGetsThem(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/latin":
			w.Header().Set("Content-Type", "text/html; charset=iso-8859-1")
			w.Write([]byte("<!DOCTYPE html><html><head></head><body><h1>caf\xe9 cr\xe8me</h1></body></html>"))
		case "/utf16":
			// UTF-16LE with its byte order mark, a page the proxy leaves
			// alone: shown decoded, the base injected readable.
			w.Header().Set("Content-Type", "text/html")
			b := []byte{0xFF, 0xFE}
			for _, c := range "<!DOCTYPE html><html><head></head><body><h1>café</h1></body></html>" {
				b = append(b, byte(c), byte(c>>8))
			}
			w.Write(b)
		default:
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte(`<!DOCTYPE html><html><head></head><body><h1>Page</h1><a href="local.css">x</a></body></html>`))
		}
	}))
	defer origin.Close()
	u, _ := url.Parse(origin.URL + "/")
	src := []byte("rules:\n  - name: away\n    when: path == \"/old\"\n    actions:\n      - redirect: /new\n")
	pv, err := preview.New([]preview.Target{{File: "rules.yaml", Read: func() ([]byte, error) { return src, nil }, Origin: u}}, preview.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pv.Close()
	srv := httptest.NewServer(pv)
	defer srv.Close()
	for _, tc := range []struct {
		name, query, contentType string
		want                     []string
	}{
		{"charset", "side=after&url=/latin", "text/html; charset=iso-8859-1", []string{"caf\xe9 cr\xe8me"}},
		{"UTF-16", "side=after&url=/utf16", "text/html; charset=utf-8", []string{"<h1>café</h1>", `<base href="` + origin.URL + `/utf16">`}},
		{"base below /", "side=after&url=/journal/rel?x=1", "text/html", []string{`<base href="` + origin.URL + `/journal/rel?x=1">`}},
		{"redirect before", "side=before&url=/old", "text/html", []string{"<h1>Page</h1>", `<base href="` + origin.URL + `/old">`}},
		{"redirect after", "side=after&url=/old", "text/html; charset=utf-8", []string{"Redirected (302)", "/new"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get(srv.URL + "/frame?" + tc.query)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if ct := resp.Header.Get("Content-Type"); ct != tc.contentType {
				t.Errorf("Content-Type %q, want %q", ct, tc.contentType)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("the frame lacks %q:\n%s", w, b)
				}
			}
		})
	}
}

// TestOriginAnswersOtherThanThePage: when the origin does not answer
// 200, the page says so, and the edits, which the proxy does not apply
// then, are listed as not applied; edits that selected nothing, or lost
// their element to another, are too. A whole URL is taken for its path,
// and its host for the visitor's Host, with a warning when it is not the
// origin's.
func TestOriginAnswersOtherThanThePage(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved":
			w.Header().Set("Location", "/stores")
			w.WriteHeader(http.StatusMovedPermanently)
			w.Write([]byte(`<!DOCTYPE html><html><body><h1>Moved</h1></body></html>`))
		case "/broken":
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`<!DOCTYPE html><html><body><h1>Oops</h1></body></html>`))
		case "/keep":
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Cache-Control", "no-transform")
			w.Write([]byte(`<!DOCTYPE html><html><body><h1>Kept</h1></body></html>`))
		case "/logo.svg":
			w.Header().Set("Content-Type", "image/svg+xml")
			w.Write([]byte(`<svg xmlns="http://www.w3.org/2000/svg"><h1>not a heading</h1></svg>`))
		case "/list":
			w.Write([]byte(`<!DOCTYPE html><html><body><h1>List</h1><ul><li data-id="a">A</li><li data-id="b">B</li></ul></body></html>`))
		case "/cards":
			w.Write([]byte(`<!DOCTYPE html><html><body><h1>Cards</h1><ul><li><div class="card">A</div></li><li><div class="card">B</div></li><li><div class="card">C</div></li></ul></body></html>`))
		case "/big":
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte(`<!DOCTYPE html><html><body><h1>Big</h1>` + strings.Repeat("<p>x</p>", 9<<20/8)))
		default:
			w.Write([]byte(`<!DOCTYPE html><html><body><h1>Page ` + r.URL.RequestURI() + `</h1></body></html>`))
		}
	}))
	defer origin.Close()
	u, _ := url.Parse(origin.URL)
	src := []byte(`rules:
  - name: first
    actions:
      - set_inner: { select: h1, text: One }
  - name: second
    actions:
      - set_inner: { select: h1, text: Two }
      - remove: "#nothing"
  - name: shop
    when: host == "shop.example.com"
    actions:
      - remove: "#gone"
  - name: fresh
    actions:
      - hide_seen: { select: "ul > li", id: "@data-id" }
      - limit: { select: "ul > li", n: 5 }
  - name: two-cards
    when: path == "/cards"
    actions:
      - limit: { select: .card, n: 2 }
`)
	pv, err := preview.New([]preview.Target{{File: "rules.yaml", Read: func() ([]byte, error) { return src, nil }, Origin: u}}, preview.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pv.Close()
	get := func(path string) string {
		rec := httptest.NewRecorder()
		pv.ServeHTTP(rec, loopbackRequest(path))
		return rec.Body.String()
	}
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/?url=/broken", []string{`id="origin-status"`, "The origin answered 500 Internal Server Error", "first: set_inner h1 (not applied: the origin answered 500)"}},
		{"/?url=/moved", []string{"The origin answered 301 Moved Permanently to /stores"}},
		// What the proxy passes untouched, the preview shows untouched.
		{"/?url=/keep", []string{"The proxy passes this page as the origin sent it (its Cache-Control says no-transform)", "first: set_inner h1 (not applied: the page passes untouched, no_transform)"}},
		{"/frame?side=after&url=/keep", []string{"<h1>Kept</h1>"}},
		// Selects items, and had nothing to do with them.
		{"/?url=/list", []string{`fresh: hide_seen ul &gt; li (not applied: none of its items was seen before)`, `fresh: limit ul &gt; li (not applied: the page has no more items than it keeps)`}},
		// Selects more items than it keeps, each alone in its list.
		{"/?url=/cards", []string{`two-cards: limit .card (not applied: it selects 3 elements, but counts the items of each list, the children of one parent, and no parent here holds more than 2 of them; select the list&#39;s items themselves: ul.cards &gt; li, not the cards inside them)`}},
		{"/?url=/list&seen=a", []string{`<li>fresh: hide_seen ul &gt; li</li>`}},
		{"/?url=/logo.svg", []string{"The proxy passes this page as the origin sent it (it is not an HTML page)", "first: set_inner h1 (not applied: the page passes untouched, type)"}},
		{"/frame?side=after&url=/logo.svg", []string{`<svg xmlns="http://www.w3.org/2000/svg"><h1>not a heading</h1></svg>`}},
		{"/?url=/big", []string{"larger than limits.max_rewrite_bytes", "(not applied: the page passes untouched, too_large)"}},
		{"/frame?side=before&url=/moved", []string{"The origin redirects (301 Moved Permanently)", "to /stores"}},
		{"/?url=/", []string{"<li>first: set_inner h1</li>", "second: set_inner h1 (not applied: first&#39;s set_inner h1 took its element)", "second: remove #nothing (not applied: its selector selects nothing on this page)"}},
		{"/?url=https://shop.example.com/stores?x=1", []string{`id="url" name="url" value="https://shop.example.com/stores?x=1"`,
			"the address names shop.example.com: the page comes from this preview&#39;s origin, " + origin.URL + ", at /stores?x=1, and the rules see Host: shop.example.com",
			`class="rule matched" data-rule="2" data-name="shop"`}},
		{"/?url=https://shop.example.com/stores&headers=Host:+other.example", []string{"and the rules see Host: other.example", `class="rule unmatched" data-rule="2"`}},
		{"/?url=" + origin.URL + "/stores", []string{`class="rule unmatched" data-rule="2"`}},
		{"/frame?side=before&url=https://shop.example.com/stores?x=1", []string{"Page /stores?x=1"}},
	} {
		page := get(tc.path)
		for _, w := range tc.want {
			if !strings.Contains(page, w) {
				t.Errorf("%s lacks %q", tc.path, w)
			}
		}
		if strings.HasPrefix(tc.path, "/?url="+origin.URL) && strings.Contains(page, "the address names") {
			t.Errorf("%s: a warning for the origin's own address", tc.path)
		}
		if strings.Contains(page, "<h1>Moved</h1>") {
			t.Errorf("%s shows the redirect's body as the page", tc.path)
		}
	}
}

// loopbackRequest is a GET of target as a browser on the preview's
// machine sends it: to a loopback Host, which the preview answers.
func loopbackRequest(target string) *http.Request {
	r := httptest.NewRequest("GET", target, nil)
	r.Host = "127.0.0.1"
	return r
}

// TestOriginSeesWhatTheProxySends: the frames ask the origin for the
// path as the proxy would, an escaped slash kept escaped, and with the
// Host the visitor would send: the route's, else the proxy's, else the
// origin's, not a made-up one, so that an origin that writes links
// from X-Forwarded-Host writes them to a site that exists.
func TestOriginSeesWhatTheProxySends(t *testing.T) {
	for _, proxy := range []string{"http://127.0.0.1:7631", "", "route"} {
		var mu sync.Mutex
		var paths, hosts []string
		origin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			paths = append(paths, r.URL.EscapedPath())
			hosts = append(hosts, r.Header.Get("X-Forwarded-Host"))
			mu.Unlock()
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, `<!DOCTYPE html><p id="hero"><h1>x</h1></p>`)
		})
		var e *env
		want := strings.TrimPrefix(proxy, "http://")
		if proxy == "route" {
			// A route of a host: the Host its visitors send.
			srv := httptest.NewServer(origin)
			defer srv.Close()
			u, _ := url.Parse(srv.URL)
			pv, err := preview.New([]preview.Target{{File: "rules.yaml", Read: func() ([]byte, error) { return []byte(rulesV1), nil }, Origin: u, Proxy: "http://127.0.0.1:7631", Host: "shop.test"}}, preview.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer pv.Close()
			e = &env{origin: srv, srv: httptest.NewServer(pv), pv: pv}
			defer e.srv.Close()
			want = "shop.test"
		} else {
			e = newEnvWith(t, rulesV1, nil, proxy, preview.Options{}, origin)
		}
		e.get(t, "/frame?side=after&url="+url.QueryEscape("/api/projects/group%2Fproject"))
		if proxy == "" {
			want = strings.TrimPrefix(e.origin.URL, "http://")
		}
		mu.Lock()
		if len(paths) == 0 || paths[0] != "/api/projects/group%2Fproject" || hosts[0] != want {
			t.Errorf("proxy %q: the origin was asked %q, X-Forwarded-Host %q; want %q", proxy, paths, hosts, want)
		}
		mu.Unlock()
	}
}

// TestNextVisit follows the page's "next visit" link three times over the
// demo shop: each view shows cards the previous ones did not, the capped
// newsletter invitation is counted on the first two and gone on the
// third, and the visitor is the same, returning.
func TestNextVisit(t *testing.T) {
	e := newEnvWith(t, string(demo.Rules()), nil, "", preview.Options{}, demo.Handler())
	nextRE := regexp.MustCompile(`<a id="next-visit" href="([^"]+)"`)
	query := "?url=/"
	var shown []string
	for n := 1; n <= 3; n++ {
		page := e.get(t, "/"+query)
		m := nextRE.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("view %d has no next-visit link", n)
		}
		frame := e.get(t, "/frame?side=after&"+strings.TrimPrefix(query, "?"))
		cards := regexp.MustCompile(`data-item-id="(sku-\d+)"`).FindAllStringSubmatch(frame, -1)
		if len(cards) == 0 {
			t.Fatalf("view %d shows no cards", n)
		}
		first := cards[0][1]
		for _, s := range shown {
			if s == first {
				t.Errorf("view %d starts with %s, shown on an earlier view", n, first)
			}
		}
		shown = append(shown, first)
		invite := strings.Contains(page, "newsletter-invite counted once more")
		if invite != (n <= 2) {
			t.Errorf("view %d: newsletter invitation counted %v, want %v", n, invite, n <= 2)
		}
		q, err := url.ParseQuery(strings.TrimPrefix(html.UnescapeString(m[1]), "?"))
		if err != nil {
			t.Fatal(err)
		}
		if q.Get("returning") != "on" || q.Get("visitor") == "" || q.Get("url") != "/" {
			t.Errorf("view %d: the next visit is %v, want the same visitor, returning, on the same page", n, q)
		}
		query = "?" + q.Encode()
	}
	// A visitor who declines tracking is kept nothing: the next visit
	// is a new visitor's again, with nothing seen.
	page := e.get(t, "/?url=/&headers="+url.QueryEscape("Sec-GPC: 1"))
	m := nextRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no next-visit link for a visitor who declines tracking")
	}
	q, _ := url.ParseQuery(strings.TrimPrefix(html.UnescapeString(m[1]), "?"))
	if q.Has("returning") || q.Has("visitor") || q.Has("seen") || !strings.Contains(page, "nothing kept: the visitor declines tracking") {
		t.Errorf("the next visit of a visitor who declines tracking is %v", q)
	}
}

// TestRecordOnlyRule: a rule that only records the view (mark_seen) is
// listed with what it does, not as "Nothing", though the page is the
// origin's.
func TestRecordOnlyRule(t *testing.T) {
	e := newEnvWith(t, "rules:\n  - name: summer-promo-shown\n    actions: [ mark_seen: promo-summer ]\n", nil, "", preview.Options{}, demo.Handler())
	page := e.get(t, "/?url=/")
	if !strings.Contains(page, "summer-promo-shown: mark seen &#34;promo-summer&#34;") || strings.Contains(page, "Nothing: the page as the origin sends it") {
		t.Errorf("the view does not list the rule's mark_seen:\n%s", page)
	}
}

// TestVersionComesWithItsBuild: the version a page and /state give is
// never newer than the rules they show. The version moved when a change
// was seen, before it compiled: a page rendered meanwhile showed the
// rules before under the new version, so its event stream, already at
// that version, never announced the change, and the page kept showing
// rules that compiled while the file no longer did.
func TestVersionComesWithItsBuild(t *testing.T) {
	e := newEnv(t, rulesV1, nil, "")
	broken := strings.Replace(rulesV1, `== "FR"`, `== FR`, 1)
	for round := range 6 {
		base := e.state(t, "").Version
		wantStale := round%2 == 0
		e.write(t, map[bool]string{true: broken, false: rulesV1}[wantStale])
		deadline := time.Now().Add(10 * time.Second)
		for {
			st := e.state(t, "")
			if st.Version > base {
				if st.Stale != wantStale {
					t.Fatalf("round %d: version %d shows stale %v, the rules before it", round, st.Version, st.Stale)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the change was not seen", round)
			}
		}
	}
}

// TestForcedVariantRenamed: a variant the editor forced that the rules
// no longer have (renamed or removed in an edit, while the preview is
// open) is dropped with a note, as a forced experiment the rules no
// longer have is. It made the visit fail: the page and both frames
// showed only "this visitor cannot be simulated".
func TestForcedVariantRenamed(t *testing.T) {
	e := newEnv(t, strings.ReplaceAll(rulesV1, "bold", "strong"), nil, "")
	st := e.state(t, "country=FR&v.hero-test=bold")
	if len(st.Problems) != 1 || !strings.Contains(st.Problems[0], `experiment hero-test has no variant "bold"`) {
		t.Errorf("problems %q, want one naming the variant", st.Problems)
	}
	if !strings.Contains(strings.Join(st.Matched, ","), "french") || st.Variants["hero-test"] == "" {
		t.Errorf("the visitor is not shown: matched %v, variants %v", st.Matched, st.Variants)
	}
	if after := e.get(t, "/frame?side=after&country=FR&v.hero-test=bold"); !strings.Contains(after, ">Bonjour</h1>") {
		t.Errorf("the after frame does not show the page:\n%s", after)
	}
	if page := e.get(t, "/?country=FR&v.hero-test=bold"); !strings.Contains(page, `id="summary"`) {
		t.Error("the page shows no result")
	}
}

// TestEditsOfTheOtherKindNotApplied: a JSON response gets no page edit,
// and a page no JSON edit, as through the proxy: the preview lists them
// as not applied. It listed them as what the visitor gets.
func TestEditsOfTheOtherKindNotApplied(t *testing.T) {
	e := newEnv(t, rulesV1, nil, "")
	for path, want := range map[string][]string{
		"/?country=FR&url=/api/items.json": {
			"french: set_inner #hero h1 (not applied: the response is JSON, not HTML)",
			"<li>api: json_limit items</li>",
		},
		"/?country=FR": {
			"<li>french: set_inner #hero h1</li>",
			"api: json_limit items (not applied: the response is not JSON)",
		},
	} {
		page := html.UnescapeString(e.get(t, path))
		for _, w := range want {
			if !strings.Contains(page, w) {
				t.Errorf("%s: the page lacks %q", path, w)
			}
		}
	}
}

// TestSetTargets: the preview follows a proxy's reload, which adds and
// takes out routes: the page lists the new targets, the pages open are
// told to reload, a target kept keeps its build, and an empty list is
// refused with the preview unchanged.
func TestSetTargets(t *testing.T) {
	e := newEnv(t, rulesV1, nil, "")
	u, _ := url.Parse(e.origin.URL)
	first := preview.Target{File: "rules.yaml", Read: func() ([]byte, error) { return os.ReadFile(e.file) }, Origin: u}
	blog := preview.Target{Name: "blog", File: "blog.yaml", Path: "/blog/", Origin: u, Read: func() ([]byte, error) {
		return []byte("rules:\n  - name: blog-hello\n    actions:\n      - set_inner: { select: h1, text: Blog }\n"), nil
	}}
	before := e.state(t, "country=FR")

	events := e.events(t, before.Version)

	if err := e.pv.SetTargets([]preview.Target{first, blog}); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-events:
		if n, _ := strconv.Atoi(v); n <= before.Version {
			t.Errorf("event announces version %s, not past %d", v, before.Version)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event told the open page that the targets changed")
	}
	if page := e.get(t, "/?t=1"); !strings.Contains(page, "blog") || !strings.Contains(page, "blog-hello") {
		t.Errorf("the page does not show the new target and its rules")
	}
	if st := e.state(t, "t=1"); !slices.Contains(st.Matched, "blog-hello") {
		t.Errorf("the new target's rules: matched %v", st.Matched)
	}
	if st := e.state(t, "country=FR"); !slices.Contains(st.Matched, "french") || st.Version <= before.Version {
		t.Errorf("the target kept: matched %v, version %d (before %d)", st.Matched, st.Version, before.Version)
	}

	// Taken out: the page lists only what is left, whatever target an
	// old link names.
	if err := e.pv.SetTargets([]preview.Target{blog}); err != nil {
		t.Fatal(err)
	}
	if st := e.state(t, "t=1"); !slices.Contains(st.Matched, "blog-hello") || slices.Contains(st.Matched, "french") {
		t.Errorf("after taking the first out, matched %v", st.Matched)
	}
	if page := e.get(t, "/"); strings.Contains(page, "rules.yaml") {
		t.Error("the page still lists the target taken out")
	}

	if err := e.pv.SetTargets(nil); err == nil {
		t.Error("SetTargets(nil) is accepted")
	}
	if err := e.pv.SetTargets([]preview.Target{{File: "x.yaml"}}); err == nil {
		t.Error("a target without Read or Origin is accepted")
	}
	if st := e.state(t, ""); !slices.Contains(st.Matched, "blog-hello") {
		t.Errorf("a refused SetTargets changed the preview: matched %v", st.Matched)
	}
}

// TestHeldCapsNoted: a capped rule that does not apply to a visitor who
// declines tracking says why, as a note: its count read as its cap, so
// the preview showed it at 2 views of 2, as if the visitor had been
// shown it.
func TestHeldCapsNoted(t *testing.T) {
	e := newEnv(t, `rules:
  - name: popup
    at_most: 2 per 1d
    actions:
      - add_class: { select: body, class: popup }
  - name: notice
    at_most: { times: 2, per: 1d, untracked: show }
    actions:
      - add_class: { select: body, class: notice }
`, nil, "")
	st := e.state(t, "headers="+url.QueryEscape("Sec-GPC: 1"))
	want := []string{"popup: not for this visitor: " + visit.HeldUntracked}
	if !slices.Equal(st.Notes, want) {
		t.Errorf("notes %q, want %q", st.Notes, want)
	}
	if st := e.state(t, ""); len(st.Notes) != 0 {
		t.Errorf("a visitor counted as usual: notes %q", st.Notes)
	}
	page := html.UnescapeString(e.get(t, "/?headers="+url.QueryEscape("Sec-GPC: 1")))
	if !strings.Contains(page, want[0]) {
		t.Errorf("the page does not say %q", want[0])
	}
}
