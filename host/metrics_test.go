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
