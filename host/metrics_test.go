package host_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bespoke-edge/bespoke/host"
)

// pageApp serves the examples' page.
var pageApp = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, page)
})

// serveOne sends one request for the newsletter greeting through h.
func serveOne(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/?ref=newsletter", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	return rec.Body.String()
}

// TestMetricsOutliveHandlers: a program that replaces a handler by a new
// one of the same name (its own reload, say) keeps one Metrics: the name
// is free again once the old handler is closed, the series read from the
// old handler's state leave with it, and its counters go on.
func TestMetricsOutliveHandlers(t *testing.T) {
	m := host.NewMetrics()
	for round := 1; round <= 3; round++ {
		h, err := host.New(context.Background(), host.Config{
			Next: pageApp, Rules: []byte(greeting), Metrics: m, Name: "shop", CacheDir: "-", Logger: quiet, Secret: []byte(secret),
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if body := serveOne(t, h); !strings.Contains(body, "Thanks for reading") {
			t.Fatalf("round %d: not personalized: %s", round, body)
		}
		h.Close(context.Background())
	}
	fams, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatalf("gathering after three handlers of one name: %v", err)
	}
	for _, f := range fams {
		if f.GetName() == "bespoke_requests_total" {
			if got := f.GetMetric()[0].GetCounter().GetValue(); got != 3 {
				t.Errorf("bespoke_requests_total is %v after three handlers served one request each, want 3", got)
			}
		}
		if (strings.HasPrefix(f.GetName(), "bespoke_pool_") || f.GetName() == "bespoke_plugin_generation") && len(f.GetMetric()) != 0 {
			t.Errorf("%s still reads a closed handler's pool", f.GetName())
		}
	}
}

// TestNewMetricsIn: bespoke's metrics join a registry the program already
// serves, with its own runtime collectors, for every handler of the
// program.
func TestNewMetricsIn(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := host.NewMetricsIn(reg)
	for _, name := range []string{"shop", "blog"} {
		h, err := host.New(context.Background(), host.Config{
			Next: pageApp, Rules: []byte(greeting), Metrics: m, Name: name, CacheDir: "-", Logger: quiet, Secret: []byte(secret),
		})
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close(context.Background())
		serveOne(t, h)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range fams {
		switch f.GetName() {
		case "bespoke_requests_total", "bespoke_pool_instances", "go_goroutines":
			n += len(f.GetMetric())
		}
	}
	// One request and one pool per handler, and the program's own series.
	if n != 5 {
		t.Errorf("%d series of bespoke_requests_total, bespoke_pool_instances and go_goroutines, want 5", n)
	}
}

// TestMetricsAfterAFailedNew: a handler that fails to build (a mistake in
// its rules) leaves nothing registered, so that the program, once the
// file is fixed, builds one of the same name with the same Metrics.
func TestMetricsAfterAFailedNew(t *testing.T) {
	m := host.NewMetrics()
	cfg := host.Config{Next: pageApp, Metrics: m, Name: "shop", CacheDir: "-", Logger: quiet, Secret: []byte(secret)}
	bad := cfg
	bad.Rules = []byte("rules:\n  - name: x\n    when: geo.contry == \"FR\"\n    actions: [remove: p]\n")
	if _, err := host.New(context.Background(), bad); err == nil {
		t.Fatal("a file with a mistake was accepted")
	}
	fams, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), "bespoke_pool_") || strings.HasPrefix(f.GetName(), "bespoke_editmap_cache_") || f.GetName() == "bespoke_origin_idle_connections" {
			if len(f.GetMetric()) != 0 {
				t.Errorf("%s reads the state of a handler that failed to build", f.GetName())
			}
		}
	}
	good := cfg
	good.Rules = []byte(greeting)
	h, err := host.New(context.Background(), good)
	if err != nil {
		t.Fatalf("after a failed New: %v", err)
	}
	defer h.Close(context.Background())
	if body := serveOne(t, h); !strings.Contains(body, "Thanks for reading") {
		t.Fatalf("not personalized: %s", body)
	}
}

// TestGathererMerges: a handler's metrics gathered into a program's own
// registry, which has its Go runtime and process collectors, come once
// each, and Handler serves them with the runtime's. NewMetrics's Gatherer
// held its own runtime collectors, so prometheus.Gatherers failed on
// every go_ and process_ series ("collected before with the same name
// and label values") and promhttp answered /metrics with a 500.
func TestGathererMerges(t *testing.T) {
	withRuntime := prometheus.NewRegistry()
	withRuntime.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, c := range []struct {
		name string
		own  prometheus.Gatherer // the program's registry
	}{
		{"prometheus's default", prometheus.DefaultGatherer},
		{"a registry with the runtime's collectors", withRuntime},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := host.NewMetrics()
			h, err := host.New(context.Background(), host.Config{Next: pageApp, Rules: []byte(greeting), Metrics: m, CacheDir: "-", Logger: quiet, Secret: []byte(secret)})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close(context.Background())
			serveOne(t, h)
			srv := httptest.NewServer(promhttp.HandlerFor(prometheus.Gatherers{c.own, m.Gatherer()}, promhttp.HandlerOpts{}))
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("the merged registry: %s: %.300s", resp.Status, b)
			}
			for _, want := range []string{"\ngo_goroutines ", "\nbespoke_requests_total{"} {
				if n := strings.Count(string(b), want); n != 1 {
					t.Errorf("%q %d times in the merged registry, want once", strings.TrimSpace(want), n)
				}
			}
		})
	}
	m := host.NewMetrics()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{"\ngo_goroutines ", "\nprocess_", "\nbespoke_build_info{"} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("Handler does not serve %s", strings.TrimSpace(want))
		}
	}
}
