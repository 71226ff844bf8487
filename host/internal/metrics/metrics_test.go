package metrics

import (
	"sync"
	"sync/atomic"
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

// gauge is the value of the gauge or counter func of name, and whether
// the registry has it.
func gauge(t *testing.T, m *Metrics, name string) (float64, bool) {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err) // a collector registered twice fails here
	}
	for _, f := range fams {
		if f.GetName() == name {
			s := f.GetMetric()[0]
			return s.GetGauge().GetValue() + s.GetCounter().GetValue(), true
		}
	}
	return 0, false
}

// TestScopesShareARoute: two scopes (a configuration and the one that
// replaces it) feed one route's pool, edit map and origin collectors,
// registered once: a counter is the sum of both, does not go back when
// the first leaves, and its series go when the last does; a gauge counts
// the scopes still there. The generation stays while a scope serves the
// route, and Remove takes a route's series out once none does.
func TestScopesShareARoute(t *testing.T) {
	m := NewIn(prometheus.NewRegistry(), false)
	one, two := m.Scope(), m.Scope()
	for i, s := range []*Metrics{one, two} {
		n := int64(i + 1)
		s.Route("shop", nil)
		s.Pool("shop", func() PoolStats { return PoolStats{Instances: n, Waits: 10 * n} })
		s.EditMaps("shop", func() EditMapStats { return EditMapStats{Hits: 100 * n, Bytes: n} })
		s.OriginPool("shop", func() OriginPoolStats { return OriginPoolStats{Dials: 1000 * n, Idle: n} })
		s.Reload("shop", true, n)
	}
	steps := []struct {
		name  string
		do    func()
		want  map[string]float64
		feeds bool // the pool's, edit map's and origin's series are there
		gen   bool
		total bool // bespoke_requests_total{route=shop} is there
	}{
		{"both", func() {}, map[string]float64{
			"bespoke_pool_instances": 3, "bespoke_pool_waits_total": 30, "bespoke_editmap_hits_total": 300,
			"bespoke_editmap_cache_bytes": 3, "bespoke_origin_dials_total": 3000, "bespoke_origin_idle_connections": 3,
		}, true, true, true},
		{"the first leaves", func() { one.Forget("shop") }, map[string]float64{
			"bespoke_pool_instances": 2, "bespoke_pool_waits_total": 30, "bespoke_editmap_hits_total": 300,
			"bespoke_editmap_cache_bytes": 2, "bespoke_origin_dials_total": 3000, "bespoke_origin_idle_connections": 2,
		}, true, true, true},
		{"removed while served", func() { m.Remove("shop") }, map[string]float64{"bespoke_pool_waits_total": 30}, true, true, true},
		{"the last leaves", func() { two.Forget("shop") }, nil, false, false, true},
		{"removed", func() { m.Remove("shop") }, nil, false, false, false},
	}
	m.Request("shop", Personalized, time.Millisecond)
	for _, st := range steps {
		st.do()
		for _, name := range []string{"bespoke_pool_instances", "bespoke_pool_waits_total", "bespoke_editmap_hits_total",
			"bespoke_editmap_cache_bytes", "bespoke_origin_dials_total", "bespoke_origin_idle_connections"} {
			want, present := st.want[name]
			got, ok := gauge(t, m, name)
			if ok != st.feeds {
				t.Errorf("%s: %s present %v", st.name, name, ok)
			}
			if present && got != want {
				t.Errorf("%s: %s = %v, want %v", st.name, name, got, want)
			}
		}
		if _, n := value(t, m, "bespoke_plugin_generation", "shop", ""); (n == 1) != st.gen {
			t.Errorf("%s: %d generation series, want one: %v", st.name, n, st.gen)
		}
		if v, _ := value(t, m, "bespoke_requests_total", "shop", Personalized); (v == 1) != st.total {
			t.Errorf("%s: bespoke_requests_total{route=shop} = %v, want it there: %v", st.name, v, st.total)
		}
	}
}

// TestHeldBytesSharedBudget: a budget two servers share counts once; each
// server's share leaves with it.
func TestHeldBytesSharedBudget(t *testing.T) {
	m := NewIn(prometheus.NewRegistry(), false)
	budget, other := new(int), new(int)
	used := func() int64 { return 5 }
	forget1 := m.HeldBytes(budget, used, 100)
	forget2 := m.Scope().HeldBytes(budget, used, 100)
	forget3 := m.HeldBytes(other, used, 50)
	for _, c := range []struct {
		step        func()
		used, limit float64
	}{
		{func() {}, 10, 150},
		{forget1, 10, 150},
		{forget2, 5, 50},
		{forget3, 0, 0},
	} {
		c.step()
		if u, _ := gauge(t, m, "bespoke_held_bytes"); u != c.used {
			t.Errorf("bespoke_held_bytes = %v, want %v", u, c.used)
		}
		if l, _ := gauge(t, m, "bespoke_held_bytes_limit"); l != c.limit {
			t.Errorf("bespoke_held_bytes_limit = %v, want %v", l, c.limit)
		}
	}
}

// TestScopeLeavesAsAnotherComes: a server closing the last scope of a
// route while the server of the next configuration builds a route of that
// name, over and over: the collectors of the route are registered once
// at a time, no registration panics, and the last scope's are the ones
// gathered.
func TestScopeLeavesAsAnotherComes(t *testing.T) {
	m := NewIn(prometheus.NewRegistry(), false)
	var wg sync.WaitGroup
	var panics atomic.Int64
	var last [2]*Metrics
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if recover() != nil {
					panics.Add(1)
				}
			}()
			for i := range 300 {
				s := m.Scope()
				s.Route("shop", nil)
				s.EditMaps("shop", func() EditMapStats { return EditMapStats{Bytes: 7} })
				if i == 299 {
					last[w] = s
					return
				}
				s.Forget("shop")
			}
		}()
	}
	wg.Wait()
	if n := panics.Load(); n > 0 {
		t.Fatalf("%d registrations panicked", n)
	}
	if got, ok := gauge(t, m, "bespoke_editmap_cache_bytes"); got != 14 {
		t.Errorf("bespoke_editmap_cache_bytes = %v (present %v), want 14: two scopes serve the route", got, ok)
	}
	last[0].Forget("shop")
	if got, ok := gauge(t, m, "bespoke_editmap_cache_bytes"); got != 7 {
		t.Errorf("bespoke_editmap_cache_bytes = %v (present %v), want 7: one scope serves the route", got, ok)
	}
}
