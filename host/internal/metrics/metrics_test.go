package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bespoke-edge/bespoke/internal/version"
)

// value is the value of the series of name with the labels route and
// second (outcome or kind) in m's registry, and how many series of name
// it has; a histogram's value is its count.
func value(t *testing.T, m *Metrics, name, route, second string) (float64, int) {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	v, n := 0.0, 0
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			n++
			match := true
			for _, l := range s.GetLabel() {
				switch l.GetName() {
				case "route":
					match = match && l.GetValue() == route
				default:
					match = match && l.GetValue() == second
				}
			}
			if match {
				v += s.GetCounter().GetValue() + float64(s.GetHistogram().GetSampleCount())
			}
		}
	}
	return v, n
}

// TestRecorders: what the per-request recorders add is what the registry
// reports, series by series.
func TestRecorders(t *testing.T) {
	m := NewIn(prometheus.NewRegistry(), false)
	for range 3 {
		m.Request("shop", "personalized", time.Millisecond)
		m.Request("blog", "passed_through", time.Millisecond)
		m.Rewrite("shop", "html", 100, time.Microsecond)
		m.Decide("shop", time.Microsecond)
	}
	m.Rewrite("shop", "json", 7, time.Microsecond)
	for _, c := range []struct {
		name, route, second string
		want                float64
		series              int
	}{
		{"bespoke_requests_total", "shop", "personalized", 3, 2},
		{"bespoke_requests_total", "blog", "passed_through", 3, 2},
		{"bespoke_requests_total", "shop", "passed_through", 0, 2},
		{"bespoke_request_duration_seconds", "blog", "", 3, 2},
		{"bespoke_rewrite_bytes_total", "shop", "html", 300, 2},
		{"bespoke_rewrite_bytes_total", "shop", "json", 7, 2},
		{"bespoke_rewrite_duration_seconds", "shop", "json", 1, 2},
		{"bespoke_decide_duration_seconds", "shop", "", 3, 1},
	} {
		got, n := value(t, m, c.name, c.route, c.second)
		if got != c.want || n != c.series {
			t.Errorf("%s{%s,%s} = %v in %d series, want %v in %d", c.name, c.route, c.second, got, n, c.want, c.series)
		}
	}
}

// TestRecordAllocs: recording a request allocates nothing once its
// series exist (the label values of a vector's lookup do not escape).
func TestRecordAllocs(t *testing.T) {
	m := NewIn(prometheus.NewRegistry(), false)
	m.Request("shop", "personalized", time.Millisecond)
	m.Rewrite("shop", "html", 100, time.Microsecond)
	m.Decide("shop", time.Microsecond)
	if n := testing.AllocsPerRun(100, func() {
		m.Request("shop", "personalized", time.Millisecond)
		m.Rewrite("shop", "html", 100, time.Microsecond)
		m.Decide("shop", time.Microsecond)
	}); n != 0 {
		t.Errorf("%v allocations per request recorded, want 0", n)
	}
}

// BenchmarkRecord is what a request costs in metrics, with every core
// recording: most of it is the histograms' atomic counters, shared by
// the cores, not the lookup of the series.
func BenchmarkRecord(b *testing.B) {
	m := NewIn(prometheus.NewRegistry(), false)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Request("shop", "personalized", time.Millisecond)
			m.Decide("shop", time.Microsecond)
			m.Rewrite("shop", "html", 100, time.Microsecond)
		}
	})
}

// TestBuildInfo: one series, 1, labelled as bespoke version describes
// the build.
func TestBuildInfo(t *testing.T) {
	m := New()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := version.Get()
	for _, f := range fams {
		if f.GetName() != "bespoke_build_info" {
			continue
		}
		if len(f.GetMetric()) != 1 {
			t.Fatalf("%d series", len(f.GetMetric()))
		}
		s := f.GetMetric()[0]
		labels := map[string]string{}
		for _, l := range s.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if s.GetGauge().GetValue() != 1 || labels["version"] != want.Version || labels["revision"] != want.ShortRevision() || labels["goversion"] != want.Go {
			t.Errorf("bespoke_build_info %v = %v, want %+v", labels, s.GetGauge().GetValue(), want)
		}
		return
	}
	t.Fatal("no bespoke_build_info")
}

// TestRouteSeriesAtZero: a route's failure counters exist, at zero,
// before their first event.
func TestRouteSeriesAtZero(t *testing.T) {
	m := New()
	m.Route("shop", []LimitLabel{{Reason: "too_large", Result: "stopped"}})
	for _, c := range []struct {
		name, second string
		series       int
	}{
		{"bespoke_plugin_failures_total", "busy", 6},
		{"bespoke_upstream_errors_total", "502", 2},
		{"bespoke_refused_values_total", "", 1},
		{"bespoke_redirect_loops_total", "", 1},
		{"bespoke_seen_unrecorded_items_total", "", 1},
		{"bespoke_reloads_total", "error", 1},
	} {
		if v, n := value(t, m, c.name, "shop", c.second); v != 0 || n != c.series {
			t.Errorf("%s: %d series (value %v), want %d at zero", c.name, n, v, c.series)
		}
	}
	fams, _ := m.Registry.Gather()
	found := false
	for _, f := range fams {
		found = found || f.GetName() == "bespoke_body_limits_total" && len(f.GetMetric()) == 1
	}
	if !found {
		t.Error("no bespoke_body_limits_total series")
	}
}
