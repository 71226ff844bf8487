package server_test

// Load, reload-under-load and fault tests. They run short (seconds) in
// `make test`; `make soak` runs them long (BESPOKE_SOAK=1) and prints the
// figures host/OPERATIONS.md's reliability section reports. All traffic stays on
// 127.0.0.1 and every run is bounded in time.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/config"
	"github.com/bespoke-edge/bespoke/host/internal/demo"
	"github.com/bespoke-edge/bespoke/host/internal/server"
)

// soak reports whether the long forms run.
func soak() bool { return os.Getenv("BESPOKE_SOAK") != "" }

// pick returns short in `make test`, long in `make soak`.
func pick[T any](short, long T) T {
	if soak() {
		return long
	}
	return short
}

// durationOf is d as a configuration's duration, set.
func durationOf(d time.Duration) *config.Duration {
	v := config.Duration(d)
	return &v
}

// running is a bespoke server on loopback.
type running struct {
	srv   *server.Server
	url   string
	admin string
	stop  func()
}

// start serves cfg (its routes' origins already set) on loopback ports.
func start(t testing.TB, cfg *config.Config) *running {
	t.Helper()
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.New(ctx, cfg, server.Options{Logger: log})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	aln, _ := net.Listen("tcp", "127.0.0.1:0")
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, aln) }()
	r := &running{srv: srv, url: "http://" + ln.Addr().String(), admin: "http://" + aln.Addr().String()}
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	t.Cleanup(r.stop)
	return r
}

// demoConfig serves the demo site with rules from a file in a temp dir.
func demoConfig(t testing.TB, rules string) (*config.Config, string) {
	t.Helper()
	origin, stop, err := demo.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(path, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	access := false
	cfg := &config.Config{
		CacheDir: "-",
		Log:      config.Log{Access: &access, DebugHeaders: true},
		Seen:     config.Seen{Store: "cookie"},
		Routes:   []config.Route{{Name: "demo", Origin: origin, Rules: path}},
	}
	return cfg, path
}

// generationRules stamps every response with the plugin generation that
// made it, so a test can tell which plugin served each request.
func generationRules(gen int) string {
	return fmt.Sprintf(`rules:
  - name: stamp
    actions:
      - set_header: { name: X-Rules-Generation, value: "%d" }
  - name: french-hero
    when: geo.country == "FR"
    actions:
      - set_inner: { select: "#hero .hero-title", text: "Bonjour (generation %d)" }
  - name: phones
    when: device.type == "mobile"
    actions:
      - add_class: { select: body, class: phone }
`, gen, gen)
}

// load sends requests from conns goroutines for d, varying the context,
// and calls check on each response. It returns the latencies.
type loadResult struct {
	requests, errors int64
	latencies        []time.Duration
	firstError       atomic.Value
}

func (r *loadResult) p(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	slices.Sort(r.latencies)
	return r.latencies[min(len(r.latencies)-1, int(q*float64(len(r.latencies))))]
}

var countries = []string{"FR", "US", "DE", "CH", "BE", "JP", "", "GB"}
var agents = []string{
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
}

func runLoad(t testing.TB, url string, conns int, d time.Duration, check func(*http.Response, []byte) error) *loadResult {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res := &loadResult{}
	var mu sync.Mutex
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(c), 7))
			var lat []time.Duration
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest("GET", url+"/", nil)
				if cc := countries[rnd.IntN(len(countries))]; cc != "" {
					req.Header.Set("CF-IPCountry", cc)
				}
				req.Header.Set("User-Agent", agents[rnd.IntN(len(agents))])
				if rnd.IntN(2) == 0 {
					req.Header.Set("Cookie", "club=gold; cart_items="+strconv.Itoa(rnd.IntN(5)))
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				var body []byte
				if err == nil {
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				if err == nil {
					err = check(resp, body)
				}
				lat = append(lat, time.Since(t0))
				atomic.AddInt64(&res.requests, 1)
				if err != nil {
					atomic.AddInt64(&res.errors, 1)
					res.firstError.CompareAndSwap(nil, err.Error())
				}
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return res
}

func rssKB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// TestLoad: mixed contexts at many connections, zero errors, memory flat.
func TestLoad(t *testing.T) {
	cfg, _ := demoConfig(t, generationRules(1))
	r := start(t, cfg)
	conns, d := pick(32, 256), pick(3*time.Second, 60*time.Second)
	// Warm up at the full concurrency (connections, buffers and pools
	// reach their working size), then measure memory around the run:
	// what must stay flat is memory per request served, not per
	// connection opened.
	runLoad(t, r.url, conns, pick(500*time.Millisecond, 5*time.Second), func(*http.Response, []byte) error { return nil })
	rssStart := rssKB()
	res := runLoad(t, r.url, conns, d, func(resp *http.Response, body []byte) error {
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		if resp.Header.Get("X-Rules-Generation") != "1" {
			return fmt.Errorf("generation header %q", resp.Header.Get("X-Rules-Generation"))
		}
		return nil
	})
	rssEnd := rssKB()
	t.Logf("load: %d connections for %v: %d requests (%.0f/s), %d errors, p50 %v p99 %v, RSS %d -> %d KiB",
		conns, d, res.requests, float64(res.requests)/d.Seconds(), res.errors, res.p(0.5), res.p(0.99), rssStart, rssEnd)
	if res.errors != 0 {
		t.Fatalf("%d errors, first: %v", res.errors, res.firstError.Load())
	}
	if res.requests == 0 {
		t.Fatal("no requests completed")
	}
	// Memory must not grow with the number of requests served; allow for
	// the garbage collector's slack.
	if rssEnd > rssStart*2+64<<10 {
		t.Errorf("RSS grew from %d to %d KiB", rssStart, rssEnd)
	}
}

// TestReloadUnderLoad: a new plugin every interval during a load run;
// zero failed requests, and every response made by exactly one plugin
// generation.
func TestReloadUnderLoad(t *testing.T) {
	cfg, path := demoConfig(t, generationRules(1))
	r := start(t, cfg)
	d, every := pick(4*time.Second, 30*time.Second), pick(500*time.Millisecond, time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var reloads atomic.Int64
	// Waited for before the test ends: a rule file written after
	// t.TempDir's cleanup listed the directory fails its removal.
	reloading := make(chan struct{})
	defer func() { cancel(); <-reloading }()
	go func() {
		defer close(reloading)
		gen := 1
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			gen++
			os.WriteFile(path, []byte(generationRules(gen)), 0o644)
			resp, err := http.Post(r.admin+"/_bespoke/reload", "", nil)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					reloads.Add(1)
				}
			}
		}
	}()
	var seen sync.Map
	res := runLoad(t, r.url, pick(16, 64), d, func(resp *http.Response, body []byte) error {
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		gens := resp.Header.Values("X-Rules-Generation")
		if len(gens) != 1 {
			return fmt.Errorf("generation headers %q", gens)
		}
		// The page was rewritten by the same generation that set the
		// header: never half one plugin, half another.
		if strings.Contains(string(body), "Bonjour (generation") && !strings.Contains(string(body), "Bonjour (generation "+gens[0]+")") {
			return fmt.Errorf("header says generation %s, the page another", gens[0])
		}
		seen.Store(gens[0], true)
		return nil
	})
	cancel()
	n := 0
	seen.Range(func(any, any) bool { n++; return true })
	t.Logf("reload under load: %d requests, %d errors, %d reloads, %d generations seen serving, p99 %v", res.requests, res.errors, reloads.Load(), n, res.p(0.99))
	if res.errors != 0 {
		t.Fatalf("%d failed requests during reloads, first: %v", res.errors, res.firstError.Load())
	}
	if reloads.Load() < 2 || n < 2 {
		t.Fatalf("only %d reloads and %d generations seen", reloads.Load(), n)
	}
}

// TestBadReloadKeepsServing: a broken rule file is rejected with its
// position; the previous plugin keeps serving.
func TestBadReloadKeepsServing(t *testing.T) {
	cfg, path := demoConfig(t, generationRules(1))
	r := start(t, cfg)
	os.WriteFile(path, []byte("rules:\n  - name: x\n    when: geo.contry == \"FR\"\n    actions: [remove: p]\n"), 0o644)
	resp, err := http.Post(r.admin+"/_bespoke/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), "rules.yaml:3:11") || !strings.Contains(string(body), "geo.country") {
		t.Fatalf("reload answered %d: %s", resp.StatusCode, body)
	}
	got, err := http.Get(r.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	got.Body.Close()
	if got.StatusCode != 200 || got.Header.Get("X-Rules-Generation") != "1" {
		t.Fatalf("after a rejected reload: status %d generation %q", got.StatusCode, got.Header.Get("X-Rules-Generation"))
	}
}

// TestWatchedRules: a configuration file that does not set watch has its
// rule files watched (every config.DefaultWatch), and a new content of
// the file serves, through the watcher alone, without a failed request.
func TestWatchedRules(t *testing.T) {
	origin, stop, err := demo.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(generationRules(1)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("bespoke.yaml", []byte(fmt.Sprintf(
		"cache_dir: \"-\"\nlog: { access: false }\nroutes: [{ name: demo, origin: %q, rules: %q }]\n", origin, path)))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.WatchEvery(); got != config.DefaultWatch {
		t.Fatalf("watch is %v without a watch key, want %v", got, config.DefaultWatch)
	}
	r := start(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.srv.Watch(ctx)
	// Renamed into place, as editors and deployments save: the watcher
	// never reads half a file.
	if err := os.WriteFile(path+".new", []byte(generationRules(2)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * config.DefaultWatch)
	for {
		resp, err := http.Get(r.url + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d while the file was watched", resp.StatusCode)
		}
		if resp.Header.Get("X-Rules-Generation") == "2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the changed rule file was not served after %v (generation %d)", 10*config.DefaultWatch, r.srv.Status()[0].Generation)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
