package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/bespoke-edge/bespoke/host/internal/config"
	"github.com/bespoke-edge/bespoke/host/internal/server"
	"github.com/bespoke-edge/bespoke/internal/syncbuf"
)

// liveSite is a Live serving a configuration file on loopback.
type liveSite struct {
	live *server.Live
	url  string
	file string
	dir  string
	log  *syncbuf.Buffer
	done chan error
	head string // the settings every version of the file starts with
}

// startLive writes conf (a configuration without listen and admin) to a
// file and serves it, watching no file: reloads load it.
func startLive(t *testing.T, conf string, files map[string]string) *liveSite {
	t.Helper()
	return startLiveHead(t, "watch: 0\n", conf, files)
}

// startLiveHead is startLive with head before conf in every version of
// the file.
func startLiveHead(t *testing.T, head, conf string, files map[string]string) *liveSite {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ls := &liveSite{file: filepath.Join(dir, "bespoke.yaml"), dir: dir, log: &syncbuf.Buffer{}, done: make(chan error, 1), head: head}
	ls.write(t, conf)
	b, err := os.ReadFile(ls.file)
	if err != nil {
		t.Fatal(err)
	}
	load := func(b []byte) (*config.Config, error) { return config.LoadData(ls.file, b) }
	cfg, err := load(b)
	if err != nil {
		t.Fatal(err)
	}
	opt := server.Options{Logger: slog.New(slog.NewTextHandler(ls.log, nil)), Secret: []byte("0123456789abcdef0123456789abcdef")}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, opt)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ls.live = server.NewLive(srv, server.LiveOptions{File: ls.file, Data: b, Load: load, Options: opt})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ls.url = "http://" + ln.Addr().String()
	ls.live.Watch(ctx)
	go func() { ls.done <- ls.live.Serve(ctx, ln, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-ls.done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ls
}

func (ls *liveSite) write(t *testing.T, conf string) {
	t.Helper()
	if err := os.WriteFile(ls.file, []byte(ls.head+"cache_dir: \"-\"\nlog: { access: false }\nseen: { store: \"off\" }\n"+conf), 0o644); err != nil {
		t.Fatal(err)
	}
}

// reload reloads and returns the configuration's result.
func (ls *liveSite) reload(t *testing.T) server.RouteResult {
	t.Helper()
	res, err := ls.live.Reload(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(res) == 0 || res[0].Config == "" {
		t.Fatalf("the reload did not load the configuration: %+v", res)
	}
	return res[0]
}

// markedOrigin serves a page that names it: <p id="o">name</p>.
func markedOrigin(t *testing.T, name string) *httptest.Server {
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><body><p id="o">%s</p><h1 id="t">Hello</h1></body></html>`, name)
	}))
	t.Cleanup(o.Close)
	return o
}

// markRules sets #t to text.
func markRules(text string) string {
	return "rules:\n  - name: mark\n    actions:\n      - set_inner: { select: \"#t\", text: " + text + " }\n"
}

// counterValue is the value of the counter name whose labels include
// labels, 0 when there is none; gathering fails on a collector
// registered twice.
func counterValue(t *testing.T, live *server.Live, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := live.Server().Metrics.Registry.Gather()
	if err != nil {
		t.Fatalf("gathering the metrics: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.Metric {
			have := map[string]string{}
			for _, lp := range m.Label {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue metrics
				}
			}
			return value(m), true
		}
	}
	return 0, false
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

// TestConfigReloadUnderLoad: clients on loopback ask for pages for 2 s
// while the configuration file is loaded again and again, its route
// going from one origin and rule file to another: not one request fails,
// each page is wholly of one configuration (origin A with rule A's text,
// or B with B's), and the route's counters go on across the
// configurations: the requests counted are the requests served, and the
// plugin's generation counts every load.
func TestConfigReloadUnderLoad(t *testing.T) {
	a, b := markedOrigin(t, "A"), markedOrigin(t, "B")
	conf := func(o *httptest.Server, rules string) string {
		return "routes:\n  - { name: shop, origin: \"" + o.URL + "\", rules: " + rules + " }\n"
	}
	ls := startLive(t, conf(a, "a.yaml"), map[string]string{"a.yaml": markRules("rulesA"), "b.yaml": markRules("rulesB")})
	valid := map[string]bool{
		`<p id="o">A</p><h1 id="t">rulesA</h1>`: true,
		`<p id="o">B</p><h1 id="t">rulesB</h1>`: true,
	}
	var served, failed atomic.Int64
	var mu sync.Mutex
	var failures []string
	stop := underLoad(4, func(client *http.Client) {
		resp, err := client.Get(ls.url + "/")
		var body []byte
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		page := ""
		if i := strings.Index(string(body), `<p id="o">`); i >= 0 {
			page = strings.TrimSuffix(string(body[i:]), "</body></html>")
		}
		switch {
		case err != nil:
		case resp.StatusCode != http.StatusOK:
			err = fmt.Errorf("status %s", resp.Status)
		case !valid[page]:
			err = fmt.Errorf("a page of no one configuration: %s", body)
		}
		if err != nil {
			failed.Add(1)
			mu.Lock()
			failures = append(failures, err.Error())
			mu.Unlock()
			return
		}
		served.Add(1)
	})
	reloads := 0
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end) || reloads < 4; reloads++ {
		if reloads%2 == 0 {
			ls.write(t, conf(b, "b.yaml"))
		} else {
			ls.write(t, conf(a, "a.yaml"))
		}
		if res := ls.reload(t); res.Error != "" {
			t.Fatalf("reload %d: %s", reloads+1, res.Error)
		}
	}
	stop()
	t.Logf("%d requests served, %d failed, across %d configuration reloads", served.Load(), failed.Load(), reloads)
	if failed.Load() > 0 {
		t.Fatalf("%d requests failed across the reloads; the first: %s", failed.Load(), failures[0])
	}
	if served.Load() == 0 {
		t.Fatal("no request was served")
	}
	if got := ls.live.Generation(); got != int64(reloads+1) {
		t.Errorf("configuration generation %d after %d reloads, want %d", got, reloads, reloads+1)
	}
	count, _ := counterValue(t, ls.live, "bespoke_requests_total", map[string]string{"route": "shop", "outcome": "personalized"})
	if count != float64(served.Load()) {
		t.Errorf("bespoke_requests_total{route=shop} is %v, %d requests were served: a counter went back across the configurations", count, served.Load())
	}
	if gen, _ := counterValue(t, ls.live, "bespoke_plugin_generation", map[string]string{"route": "shop"}); gen != float64(reloads+1) {
		t.Errorf("bespoke_plugin_generation{route=shop} is %v after %d configurations, want %d", gen, reloads+1, reloads+1)
	}
	if n, _ := counterValue(t, ls.live, "bespoke_config_reloads_total", map[string]string{"result": "ok"}); n != float64(reloads) {
		t.Errorf("bespoke_config_reloads_total{result=ok} is %v, want %d", n, reloads)
	}
}

// TestConfigReloadLetsAResponseFinish: a page still coming from its
// origin when a new configuration is loaded ends on the configuration it
// started with (its origin, its rules), while the next request is served
// by the new one; the configuration replaced is closed once that page
// has ended, not before.
func TestConfigReloadLetsAResponseFinish(t *testing.T) {
	asked, release := make(chan struct{}), make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><html><body><p id="o">slow</p>`)
		w.(http.Flusher).Flush()
		close(asked)
		<-release
		io.WriteString(w, `<h1 id="t">Hello</h1></body></html>`)
	}))
	defer slow.Close()
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	defer free() // before the origin closes, which waits for its handler
	b := markedOrigin(t, "B")
	conf := func(o *httptest.Server, rules string) string {
		return "routes:\n  - { name: shop, origin: \"" + o.URL + "\", rules: " + rules + " }\n"
	}
	ls := startLive(t, conf(slow, "a.yaml"), map[string]string{"a.yaml": markRules("rulesA"), "b.yaml": markRules("rulesB")})
	type result struct {
		body string
		err  error
	}
	first := make(chan result, 1)
	go func() {
		resp, err := http.Get(ls.url + "/")
		if err != nil {
			first <- result{err: err}
			return
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		first <- result{string(body), err}
	}()
	<-asked
	ls.write(t, conf(b, "b.yaml"))
	if res := ls.reload(t); res.Error != "" || res.Generation != 2 {
		t.Fatalf("reload: %+v", res)
	}
	if got := do(t, "GET", ls.url+"/"); !strings.Contains(string(got.body), `<p id="o">B</p><h1 id="t">rulesB</h1>`) {
		t.Fatalf("the request after the reload was not served by the new configuration: %s", got.body)
	}
	const closed = `msg="closing the configuration replaced: its last request ended" generation=1`
	if strings.Contains(ls.log.String(), closed) {
		t.Fatal("the configuration replaced was closed with a response still coming")
	}
	free()
	r := <-first
	if r.err != nil {
		t.Fatalf("the page in flight across the reload: %v", r.err)
	}
	if !strings.Contains(r.body, `<p id="o">slow</p><h1 id="t">rulesA</h1>`) {
		t.Fatalf("the page in flight did not end on its configuration: %s", r.body)
	}
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(ls.log.String(), closed); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the configuration replaced was not closed once its last request ended:\n%s", ls.log)
		}
	}
	if n, ok := counterValue(t, ls.live, "bespoke_pool_instances", map[string]string{"route": "shop"}); !ok || n == 0 {
		t.Errorf("bespoke_pool_instances{route=shop} = %v (%v) once the configuration replaced closed, want the new one's", n, ok)
	}
}

// TestConfigFileWatched: with watch on, a configuration file written anew
// is loaded without a reload being asked for; one that does not load is
// rejected once, not at every look, and the configuration serving goes
// on until the file is fixed.
func TestConfigFileWatched(t *testing.T) {
	a, b := markedOrigin(t, "A"), markedOrigin(t, "B")
	conf := func(o *httptest.Server) string {
		return "routes:\n  - { name: shop, origin: \"" + o.URL + "\", rules: a.yaml }\n"
	}
	ls := startLiveHead(t, "watch: 10ms\n", conf(a), map[string]string{"a.yaml": markRules("rulesA")})
	page := func() string { return string(do(t, "GET", ls.url+"/").body) }
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s:\n%s", what, ls.log)
			}
		}
	}
	ls.write(t, conf(b))
	wait("the file written anew was not loaded", func() bool { return strings.Contains(page(), `<p id="o">B</p>`) })
	ls.write(t, conf(a)+"limits: { pool_sise: 2 }\n")
	const rejected = `msg="configuration rejected; the one serving goes on unchanged"`
	wait("the broken file was not rejected", func() bool { return strings.Contains(ls.log.String(), rejected) })
	if !strings.Contains(page(), `<p id="o">B</p>`) {
		t.Fatal("the configuration serving did not go on")
	}
	ls.write(t, conf(a))
	wait("the fixed file was not loaded", func() bool { return strings.Contains(page(), `<p id="o">A</p>`) })
	if n := strings.Count(ls.log.String(), rejected); n != 1 {
		t.Errorf("the broken file was rejected %d times, want once", n)
	}
	if got := ls.live.Generation(); got != 3 {
		t.Errorf("configuration generation %d, want 3", got)
	}
}

// TestConfigWithABrokenRuleFileRejected: a configuration whose route's
// rule file does not compile is rejected with the rule file's position,
// and the routes serving go on: the new route's series do not stay
// behind, and the plugin generation of the route kept is the one
// serving, though the configuration rejected had loaded its rules anew
// before it came to the broken ones. (The file watch loads it: a reload
// asked for would load the rule files of the routes serving too.)
func TestConfigWithABrokenRuleFileRejected(t *testing.T) {
	a := markedOrigin(t, "A")
	route := func(name, path, rules string) string {
		return "  - { name: " + name + ", path: " + path + ", origin: \"" + a.URL + "\", rules: " + rules + " }\n"
	}
	ls := startLiveHead(t, "watch: 10ms\n", "routes:\n"+route("shop", "/", "a.yaml"), map[string]string{
		"a.yaml":      markRules("rulesA"),
		"broken.yaml": "rules:\n  - name: x\n    actions:\n      - set_inner: { selekt: \"#t\", text: y }\n",
	})
	ls.write(t, "routes:\n"+route("shop", "/", "a.yaml")+route("blog", "/blog", "broken.yaml"))
	for deadline := time.Now().Add(20 * time.Second); ls.live.Status()[0].Config.LastReload == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the configuration was not loaded:\n%s", ls.log)
		}
	}
	st := ls.live.Status()
	if e := st[0].Config.LastReload.Error; !strings.Contains(e, filepath.Join(ls.dir, "broken.yaml")+":4:") {
		t.Errorf("the rejection does not give the rule file's position: %q", e)
	}
	if got := do(t, "GET", ls.url+"/blog/x"); !strings.Contains(string(got.body), `<h1 id="t">rulesA</h1>`) {
		t.Errorf("the configuration serving did not go on: %s", got.body)
	}
	if _, ok := counterValue(t, ls.live, "bespoke_reloads_total", map[string]string{"route": "blog"}); ok {
		t.Error("the route of the configuration rejected left series behind")
	}
	if n, _ := counterValue(t, ls.live, "bespoke_config_reloads_total", map[string]string{"result": "error"}); n != 1 {
		t.Errorf("bespoke_config_reloads_total{result=error} = %v, want 1", n)
	}
	if gen, _ := counterValue(t, ls.live, "bespoke_plugin_generation", map[string]string{"route": "shop"}); gen != float64(st[0].Generation) || gen != 1 {
		t.Errorf("bespoke_plugin_generation{route=shop} = %v, the plugin serving is of generation %d", gen, st[0].Generation)
	}
}

// TestConfigReloadIdleAtGraceZero: with shutdown_grace: 0 and no request
// in flight, each configuration replaced is closed as idle, not warned of
// as cut under requests: both were ready at once, and one reload in two
// logged requests=0 cut.
func TestConfigReloadIdleAtGraceZero(t *testing.T) {
	o := markedOrigin(t, "A")
	conf := func(i int) string {
		return fmt.Sprintf("# version %d\nshutdown_grace: 0s\nroutes:\n  - { name: shop, origin: %q }\n", i, o.URL)
	}
	ls := startLive(t, conf(0), nil)
	const n = 20
	for i := 1; i <= n; i++ {
		ls.write(t, conf(i))
		if res := ls.reload(t); res.Error != "" {
			t.Fatalf("reload %d: %s", i, res.Error)
		}
	}
	closed := fmt.Sprintf(`msg="closing the configuration replaced: its last request ended" generation=%d`, n)
	for range 1000 {
		if strings.Contains(ls.log.String(), closed) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	log := ls.log.String()
	if cut := strings.Count(log, "still had requests in flight"); cut > 0 {
		t.Errorf("%d of %d idle configurations replaced were said to be cut under requests:\n%s", cut, n, log)
	}
	if got := strings.Count(log, "its last request ended"); got != n {
		t.Errorf("%d of %d configurations replaced closed as idle", got, n)
	}
}

// TestConfigReloadOutlivesItsAsker: a reload whose asker goes away (a
// POST /_bespoke/reload whose client gave up while the rules compiled)
// still loads the configuration: it was rejected as "context canceled",
// counted as an error, and the file watch, which tries a content once,
// never loaded it.
func TestConfigReloadOutlivesItsAsker(t *testing.T) {
	a, b := markedOrigin(t, "A"), markedOrigin(t, "B")
	conf := func(o *httptest.Server) string {
		return "routes:\n  - { name: shop, origin: \"" + o.URL + "\", rules: a.yaml }\n"
	}
	ls := startLive(t, conf(a), map[string]string{"a.yaml": markRules("x")})
	ls.write(t, conf(b))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := ls.live.Reload(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(res) == 0 || res[0].Error != "" || res[0].Generation != 2 {
		t.Fatalf("the reload asked for by a client gone: %+v", res)
	}
	if got := do(t, "GET", ls.url+"/"); !strings.Contains(string(got.body), `<p id="o">B</p><h1 id="t">x</h1>`) {
		t.Fatalf("the configuration reloaded does not serve: %s", got.body)
	}
	if n, _ := counterValue(t, ls.live, "bespoke_config_reloads_total", map[string]string{"result": "error"}); n != 0 {
		t.Errorf("bespoke_config_reloads_total{result=error} = %v", n)
	}
}

// underLoad runs n clients on one pooled client, each calling do again
// and again until the stop it returns is called; stop waits for them.
func underLoad(n int, do func(client *http.Client)) (stop func()) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}, Timeout: 30 * time.Second}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				do(client)
			}
		}()
	}
	return func() {
		close(done)
		wg.Wait()
		client.CloseIdleConnections()
	}
}

// TestReloadOutlivesItsAsker: without a configuration file, a reload
// whose client gave up (POST /_bespoke/reload timed out while the rules
// compiled) still loads the rules: it failed as "context canceled",
// and the rule file, taken for tried, was not loaded by the watch
// either until it changed again.
func TestReloadOutlivesItsAsker(t *testing.T) {
	cfg, path := demoConfig(t, generationRules(1))
	r := start(t, cfg)
	if err := os.WriteFile(path, []byte(generationRules(2)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := r.srv.Reload(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Error != "" || res[0].Generation != 2 {
		t.Fatalf("the reload asked for by a client gone: %+v", res)
	}
	if got := do(t, "GET", r.url+"/").Header.Get("X-Rules-Generation"); got != "2" {
		t.Errorf("the rules reloaded do not serve: X-Rules-Generation %q", got)
	}
}

// TestConfigWatchFollowsTheConfiguration: the configuration file is
// watched at the interval of the configuration serving: one started
// with watch: 0 and reloaded with a watch has its file watched from
// then on, and one reloaded with watch: 0 has it watched no more. It
// was watched at the interval bespoke started with, or never.
func TestConfigWatchFollowsTheConfiguration(t *testing.T) {
	o := markedOrigin(t, "A")
	conf := func(watch, text string) string {
		return "watch: " + watch + "\nroutes:\n  - { name: shop, origin: \"" + o.URL + "\", rules: " + text + ".yaml }\n"
	}
	ls := startLiveHead(t, "", conf("0s", "a"), map[string]string{"a.yaml": markRules("a"), "b.yaml": markRules("b"), "c.yaml": markRules("c"), "d.yaml": markRules("d")})
	page := func() string {
		body := string(do(t, "GET", ls.url+"/").body)
		_, after, _ := strings.Cut(body, `<h1 id="t">`)
		text, _, _ := strings.Cut(after, "<")
		return text
	}
	waitFor := func(want string) bool {
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if page() == want {
				return true
			}
			time.Sleep(20 * time.Millisecond)
		}
		return false
	}
	ls.write(t, conf("20ms", "b"))
	if got := ls.reload(t); got.Error != "" {
		t.Fatal(got.Error)
	}
	if got := page(); got != "b" {
		t.Fatalf("after the reload: %q", got)
	}
	ls.write(t, conf("20ms", "c"))
	if !waitFor("c") {
		t.Fatalf("a configuration reloaded with watch: 20ms does not have its file watched: %q", page())
	}
	ls.write(t, conf("0s", "d"))
	if !waitFor("d") {
		t.Fatalf("the watch did not load watch: 0: %q", page())
	}
	ls.write(t, conf("0s", "a"))
	time.Sleep(300 * time.Millisecond) // fifteen looks at 20 ms
	if got := page(); got != "d" {
		t.Errorf("with watch: 0 serving, the file was still watched: %q", got)
	}
}
