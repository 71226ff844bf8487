package seen

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

const day = 24 * time.Hour

// clock is a settable clock for Params.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func newCookieStore(t testing.TB, cfg CookieConfig) *CookieStore {
	t.Helper()
	if cfg.Key == nil {
		cfg.Key = testKey
	}
	c, err := NewCookieStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// visitor is a browser: it keeps the cookies responses set and sends them.
type visitor struct {
	cookies map[string]string
}

func (v *visitor) request() *http.Request {
	r, _ := http.NewRequest("GET", "https://shop.example/", nil)
	for name, value := range v.cookies {
		r.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	return r
}

func (v *visitor) keep(h http.Header) {
	if v.cookies == nil {
		v.cookies = map[string]string{}
	}
	for _, c := range (&http.Response{Header: h}).Cookies() {
		v.cookies[c.Name] = c.Value
	}
}

// visit loads v's state, shows ids and saves, as one request does.
func (v *visitor) visit(t testing.TB, st Store, ids ...string) (*Set, LoadInfo) {
	t.Helper()
	s, info := st.Load(context.Background(), v.request(), "visitor-1")
	for _, id := range ids {
		s.Shown(id)
	}
	h := http.Header{}
	if err := st.Save(context.Background(), h, "visitor-1", s, true); err != nil {
		t.Fatalf("Save: %v", err)
	}
	v.keep(h)
	return s, info
}

// nextRequest makes s record as a new request would: what this request
// recorded is forgotten (not the filters).
func (s *Set) nextRequest() {
	s.shown, s.shownIdx, s.unrecorded = nil, digestSet{}, 0
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

func TestSeenCountShown(t *testing.T) {
	tests := []struct {
		name     string
		maxCount int
		visits   [][]string
		want     map[string]int // Count on the next visit; Seen is Count > 0
	}{
		{"nothing shown", 0, nil, map[string]int{"a": 0}},
		{"shown once", 0, [][]string{{"a"}}, map[string]int{"a": 1, "b": 0}},
		{"twice in one page counts once", 0, [][]string{{"a", "a", "a"}}, map[string]int{"a": 1}},
		{"once per visit", 0, [][]string{{"a"}, {"a"}, {"a"}}, map[string]int{"a": 3}},
		{"capped at MaxCount", 0, [][]string{{"a"}, {"a"}, {"a"}, {"a"}, {"a"}, {"a"}}, map[string]int{"a": DefaultMaxCount}},
		{"MaxCount 8", 8, [][]string{{"a"}, {"a"}, {"a"}, {"a"}, {"a"}, {"a"}, {"b"}}, map[string]int{"a": 6, "b": 1}},
		{"MaxCount 1 keeps seen only", 1, [][]string{{"a"}, {"a"}, {"a", "b"}}, map[string]int{"a": 1, "b": 1, "c": 0}},
		{"items counted apart", 0, [][]string{{"a", "b"}, {"b", "c"}, {"b"}}, map[string]int{"a": 1, "b": 3, "c": 1, "d": 0}},
		{"empty id is an id", 0, [][]string{{""}}, map[string]int{"": 1, " ": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newCookieStore(t, CookieConfig{Params: Params{MaxCount: tt.maxCount}})
			var v visitor
			for _, ids := range tt.visits {
				v.visit(t, st, ids...)
			}
			s, info := st.Load(context.Background(), v.request(), "")
			if len(tt.visits) > 0 && info.Source != SourceCookie {
				t.Fatalf("LoadInfo %+v, want the cookie", info)
			}
			for id, want := range tt.want {
				if got := s.Count(id); got != want {
					t.Errorf("Count(%q) = %d, want %d", id, got, want)
				}
				if got := s.Seen(id); got != (want > 0) {
					t.Errorf("Seen(%q) = %v, want %v", id, got, want > 0)
				}
			}
			if s.Changed() {
				t.Error("a loaded set reports Changed before Shown")
			}
		})
	}
}

func TestShownWithinRequest(t *testing.T) {
	st := newCookieStore(t, CookieConfig{})
	var v visitor
	v.visit(t, st, "old")
	s, _ := st.Load(context.Background(), v.request(), "")

	// An item seen before: showing it again counts once more, once.
	s.Shown("old")
	s.Shown("old")
	if got := s.Count("old"); got != 2 {
		t.Errorf("Count(old) after two Shown in one request = %d, want 2", got)
	}
	// A new item is seen by the rest of the page once shown.
	if s.Seen("new") {
		t.Fatal("Seen(new) before Shown")
	}
	s.Shown("new")
	if !s.Seen("new") || s.Count("new") != 1 || !s.Changed() {
		t.Errorf("after Shown(new): Seen %v, Count %d, Changed %v", s.Seen("new"), s.Count("new"), s.Changed())
	}
}

func TestNilAndZeroSet(t *testing.T) {
	for name, s := range map[string]*Set{"nil": nil, "zero": {}} {
		s.Shown("a")
		if s.Seen("a") || s.Count("a") != 0 || s.Changed() {
			t.Errorf("%s set: Seen %v, Count %d, Changed %v", name, s.Seen("a"), s.Count("a"), s.Changed())
		}
		st := newCookieStore(t, CookieConfig{})
		h := http.Header{}
		if err := st.Save(context.Background(), h, "", s, false); err != nil || len(h) != 0 {
			t.Errorf("%s set: Save = %v, header %v", name, err, h)
		}
	}
}

// TestAging walks one visitor through time; each step is a request that
// loads the cookie the step before saved.
func TestAging(t *testing.T) {
	type step struct {
		at      time.Duration // since the first visit
		show    []string
		seen    []string
		notSeen []string
		counts  map[string]int
		dropped string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"kept within half a window", []step{
			{at: 0, show: []string{"a"}},
			{at: 15*day - time.Second, seen: []string{"a"}},
		}},
		{"moves to the previous generation at half a window", []step{
			{at: 0, show: []string{"a"}},
			{at: 15 * day, seen: []string{"a"}, show: []string{"b"}},
			{at: 29 * day, seen: []string{"a", "b"}},
		}},
		{"previous generation forgotten a window after it started", []step{
			{at: 0, show: []string{"a"}},
			{at: 15 * day, show: []string{"b"}},
			{at: 30 * day, seen: []string{"b"}, notSeen: []string{"a"}},
		}},
		{"an item shown late in a generation is kept half a window", []step{
			{at: 0, show: []string{"a"}},
			{at: 15*day - time.Minute, show: []string{"b"}},
			{at: 30*day - time.Minute - time.Second, seen: []string{"a", "b"}},
		}},
		{"previous generation forgotten while the current one is young", []step{
			{at: 0, show: []string{"a"}},
			{at: 17 * day, show: []string{"b"}},
			{at: 30*day - time.Second, seen: []string{"a", "b"}},
			{at: 30 * day, seen: []string{"b"}, notSeen: []string{"a"}},
		}},
		{"all expired after a window", []step{
			{at: 0, show: []string{"a"}},
			{at: 30 * day, notSeen: []string{"a"}, dropped: DroppedExpired},
		}},
		{"expired state replaced by a new one", []step{
			{at: 0, show: []string{"a"}},
			{at: 40 * day, notSeen: []string{"a"}, dropped: DroppedExpired, show: []string{"b"}},
			{at: 41 * day, seen: []string{"b"}, notSeen: []string{"a"}},
		}},
		{"counts add across generations", []step{
			{at: 0, show: []string{"a"}},
			{at: day, show: []string{"a"}},
			{at: 16 * day, counts: map[string]int{"a": 2}, show: []string{"a"}},
			{at: 17 * day, counts: map[string]int{"a": 3}},
			{at: 31 * day, counts: map[string]int{"a": 1}},
		}},
		{"a visitor back after long rotates once", []step{
			{at: 0, show: []string{"a"}},
			{at: 20 * day, show: []string{"b"}},
			{at: 20*day + time.Hour, seen: []string{"a", "b"}},
			{at: 35*day + time.Hour, seen: []string{"b"}, notSeen: []string{"a"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			start := clk.Now()
			st := newCookieStore(t, CookieConfig{Params: Params{Now: clk.Now}})
			var v visitor
			for i, sp := range tt.steps {
				clk.Set(start.Add(sp.at))
				s, info := v.visit(t, st, sp.show...)
				if info.Dropped != sp.dropped {
					t.Errorf("step %d: Dropped %q, want %q", i, info.Dropped, sp.dropped)
				}
				// The checks are about what was stored before: a showing
				// in this step is visible now, which the checks exclude.
				for _, id := range sp.seen {
					if !s.Seen(id) {
						t.Errorf("step %d (%v): %q not seen", i, sp.at, id)
					}
				}
				for _, id := range sp.notSeen {
					if s.Seen(id) && !contains(sp.show, id) {
						t.Errorf("step %d (%v): %q still seen", i, sp.at, id)
					}
				}
				for id, want := range sp.counts {
					if contains(sp.show, id) {
						want++
					}
					if got := s.Count(id); got != want {
						t.Errorf("step %d (%v): Count(%q) = %d, want %d", i, sp.at, id, got, want)
					}
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestFalsePositiveRate measures the rate at the default capacity, with the
// items in one generation and spread over both.
func TestFalsePositiveRate(t *testing.T) {
	const items, probes = DefaultCapacity, 100_000
	for _, split := range []int{items, items / 2, items / 10} {
		t.Run(fmt.Sprintf("%d in the previous generation", items-split), func(t *testing.T) {
			clk := newClock()
			start := clk.Now()
			st := newCookieStore(t, CookieConfig{Params: Params{Now: clk.Now, RecordLimit: items}})
			var v visitor
			shown := ids("shown", items)
			v.visit(t, st, shown[split:]...)
			clk.Set(start.Add(16 * day)) // the first ones are now the previous generation
			v.visit(t, st, shown[:split]...)
			s, info := st.Load(context.Background(), v.request(), "")
			if info.Source != SourceCookie {
				t.Fatalf("LoadInfo %+v", info)
			}
			for _, id := range shown {
				if !s.Seen(id) {
					t.Fatalf("false negative: %q", id)
				}
			}
			fp := 0
			for _, id := range ids("other", probes) {
				if s.Seen(id) {
					fp++
				}
			}
			rate := float64(fp) / probes
			t.Logf("false positives: %d of %d (%.3f%%) with %d items, %d of them in the previous generation", fp, probes, 100*rate, items, items-split)
			if rate > 0.015 {
				t.Errorf("false-positive rate %.3f%% > 1.5%%", 100*rate)
			}
		})
	}
}

// TestFalsePositiveRateGrowsInProportion holds the false-positive rate
// to what RATIONALE states: 1% at the capacity of 1,000 items, growing in
// proportion past it (2.5% at 2,500, the most a cookie keeps in a half
// window, and nearly 10% at 10,000, which a Redis store keeps). The rate
// of a filter of m bits holding n items is 1-(1-1/m)^n; it is measured
// over 20 keys (each a filter of other bits) and 20,000 probes each, and
// must lie within the 99.9% interval of that (z = 3.29; the probes of
// one key share its filter, whose rate varies a little around the mean
// too, which a normal interval on 400,000 probes leaves room for).
func TestFalsePositiveRateGrowsInProportion(t *testing.T) {
	const keys, probes = 20, 20_000
	l, err := Params{}.layout(testKey)
	if err != nil {
		t.Fatal(err)
	}
	m := float64(l.bits[0])
	for _, items := range []int{DefaultCapacity, 2500, 10_000} {
		fp := 0
		for k := range keys {
			// The layout alone: a cookie store would lower the record
			// limit to what its cookie holds.
			lk, err := Params{RecordLimit: items}.layout([]byte(fmt.Sprintf("false-positives-%02d", k)))
			if err != nil {
				t.Fatal(err)
			}
			s := lk.newSet(lk.nowSec())
			s.ShownAll(ids(fmt.Sprint("shown-", k), items))
			for _, id := range ids(fmt.Sprint("probe-", k), probes) {
				if s.Seen(id) {
					fp++
				}
			}
			s.Release()
		}
		want := 1 - math.Pow(1-1/m, float64(items))
		n := float64(keys * probes)
		got, half := float64(fp)/n, 3.29*math.Sqrt(want*(1-want)/n)
		t.Logf("%d items: %.3f%% taken as seen (%d of %.0f), expected %.3f%% ± %.3f", items, 100*got, fp, n, 100*want, 100*half)
		if math.Abs(got-want) > half {
			t.Errorf("%d items: %.3f%% taken as seen, outside %.3f%% ± %.3f", items, 100*got, 100*want, 100*half)
		}
		if stated := DefaultFalsePositive * float64(items) / DefaultCapacity; math.Abs(want-stated) > stated*0.05 {
			t.Errorf("%d items: expected %.3f%%, not within 5%% of the %.2f%% the capacity states", items, 100*want, 100*stated)
		}
	}
}

// TestCookieSize reports the cookie's size and holds the default capacity
// within 2 KiB when every item was shown once.
func TestCookieSize(t *testing.T) {
	tests := []struct {
		name  string
		items int
		prev  int // of items, shown in the previous generation
		twice int // of items, shown once more
		max   int // bytes; 0 for no bound
	}{
		{name: "0 items", items: 0, max: 64},
		{name: "100 items", items: 100, max: 400},
		{name: "1000 items", items: 1000, max: 2047},
		{name: "1000 items, 500 in the previous generation", items: 1000, prev: 500, max: 2047},
		{name: "1000 items, 250 shown twice", items: 1000, twice: 250},
		// The counts take room too: shown again, as a rotating list's
		// items are, a thousand items no longer fit in 2 KiB.
		{name: "1000 items, all shown twice", items: 1000, twice: 1000, max: DefaultMaxBytes},
		{name: "2000 items", items: 2000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			start := clk.Now()
			st := newCookieStore(t, CookieConfig{Params: Params{Now: clk.Now, RecordLimit: tt.items}})
			shown := ids("sku", tt.items)
			s := st.l.newSet(st.l.nowSec())
			if tt.prev > 0 {
				var v visitor
				v.visit(t, st, shown[:tt.prev]...)
				clk.Set(start.Add(16 * day))
				s, _ = st.Load(context.Background(), v.request(), "")
			}
			for _, id := range shown[tt.prev:] {
				s.Shown(id)
			}
			if tt.twice > 0 {
				var v visitor
				h := http.Header{}
				if err := st.Save(context.Background(), h, "", s, false); err != nil {
					t.Fatal(err)
				}
				v.keep(h)
				s, _ = st.Load(context.Background(), v.request(), "")
				for _, id := range shown[:tt.twice] {
					s.Shown(id)
				}
			}
			v, err := st.value(s)
			if err != nil {
				t.Fatal(err)
			}
			ck := (&http.Cookie{Name: st.CookieName(), Value: v, Path: "/", MaxAge: st.maxAge, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode}).String()
			t.Logf("%s: value %d bytes, Set-Cookie %d bytes", tt.name, len(v), len(ck))
			if tt.max > 0 && len(v) > tt.max {
				t.Errorf("value %d bytes, want at most %d", len(v), tt.max)
			}
		})
	}
}

func TestParamsErrors(t *testing.T) {
	tests := []struct {
		name   string
		cfg    CookieConfig
		want   string
		params bool // the Params are wrong, for the Redis store too
	}{
		{"no key", CookieConfig{Key: []byte{}}, "signing key", false},
		{"short key", CookieConfig{Key: []byte("short")}, "16 or more", false},
		{"bad name", CookieConfig{Name: "a b"}, "cookie name", false},
		{"negative MaxBytes", CookieConfig{MaxBytes: -1}, "MaxBytes", false},
		{"MaxBytes past browsers", CookieConfig{MaxBytes: 4096}, "MaxBytes", false},
		{"negative capacity", CookieConfig{Params: Params{Capacity: -1}}, "Capacity", true},
		{"false positive 1", CookieConfig{Params: Params{FalsePositive: 1}}, "FalsePositive", true},
		{"false positive negative", CookieConfig{Params: Params{FalsePositive: -0.1}}, "FalsePositive", true},
		{"tiny window", CookieConfig{Params: Params{Window: time.Second}}, "Window", true},
		{"negative window", CookieConfig{Params: Params{Window: -time.Hour}}, "Window", true},
		{"too many levels", CookieConfig{Params: Params{MaxCount: 17}}, "MaxCount", true},
		{"filters too large", CookieConfig{Params: Params{Capacity: 1_000_000, FalsePositive: 0.001}}, "bits per filter", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.cfg.Key == nil {
				tt.cfg.Key = testKey
			}
			_, err := NewCookieStore(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one about %q", err, tt.want)
			}
			if !tt.params {
				return
			}
			if _, err := NewRedisStore(RedisConfig{URL: "redis://127.0.0.1:1", Params: tt.cfg.Params}); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("the Redis store: error %v, want one about %q", err, tt.want)
			}
		})
	}
	if _, err := NewRedisStore(RedisConfig{URL: "http://nope"}); err == nil {
		t.Error("the Redis store accepted an http URL")
	}
	if _, err := NewRedisStore(RedisConfig{URL: "redis://127.0.0.1:1", Queue: -1}); err == nil {
		t.Error("the Redis store accepted a negative queue")
	}
}

// TestConfigCopied: changing the config or key after building does not
// change the store.
func TestConfigCopied(t *testing.T) {
	key := append([]byte(nil), testKey...)
	cfg := CookieConfig{Key: key}
	st := newCookieStore(t, cfg)
	var v visitor
	v.visit(t, st, "a")
	key[0] ^= 1
	cfg.Name = "other"
	if s, info := st.Load(context.Background(), v.request(), ""); !s.Seen("a") || info.Dropped != "" {
		t.Errorf("after changing the config: Seen %v, %+v", s.Seen("a"), info)
	}
}

// TestHammer loads and saves for many visitors at once, and shares one Set
// between goroutines, for the race detector.
func TestHammer(t *testing.T) {
	st := newCookieStore(t, CookieConfig{Params: Params{RecordLimit: 800}})
	const workers, rounds = 16, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var v visitor
			for i := range rounds {
				s, _ := st.Load(context.Background(), v.request(), "")
				for j := range i {
					if !s.Seen(fmt.Sprintf("w%d-%d", w, j)) {
						t.Errorf("worker %d round %d: item %d not seen", w, i, j)
						return
					}
				}
				s.Shown(fmt.Sprintf("w%d-%d", w, i))
				h := http.Header{}
				if err := st.Save(context.Background(), h, "", s, false); err != nil {
					t.Error(err)
					return
				}
				v.keep(h)
			}
		}()
	}
	// One Set used from several goroutines, as a streaming rewriter may.
	s, _ := st.Load(context.Background(), (&visitor{}).request(), "")
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				id := fmt.Sprintf("shared-%d-%d", w, i)
				s.Shown(id)
				// Count can be 2: a false positive at level 0 puts the
				// item at level 1.
				if !s.Seen(id) || s.Count(id) < 1 {
					t.Errorf("%s: Seen %v, Count %d", id, s.Seen(id), s.Count(id))
				}
				if i%50 == 0 {
					if _, err := st.value(s); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
}

// TestFilterTestAgrees: a filter answers as the set of the bits added
// says, below, at and above the size where it starts keeping its words
// (sparseSearch), for items added and not; once kept, its words hold
// exactly those bits; and a filter back in its pool has none set.
func TestFilterTestAgrees(t *testing.T) {
	l, err := Params{}.layout(testKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 40, sparseSearch - 1, sparseSearch, sparseSearch + 1, 900} {
		f := l.newFilter(0)
		set := map[uint]bool{}
		for i := range n {
			d := l.digest(fmt.Sprintf("in-%d-%d", n, i))
			f.add(d)
			set[location(d, f.m)] = true
		}
		if len(f.pos) != len(set) {
			t.Fatalf("%d items set %d bits, want %d", n, len(f.pos), len(set))
		}
		if f.dense != (len(f.pos) > sparseSearch) {
			t.Fatalf("%d bits: dense %v", len(f.pos), f.dense)
		}
		for i := range 2 * n {
			for _, id := range []string{fmt.Sprintf("in-%d-%d", n, i), fmt.Sprintf("out-%d", i)} {
				d := l.digest(id)
				loc := location(d, f.m)
				if got := f.test(d); got != set[loc] {
					t.Fatalf("%d items: test(%q) = %v, want %v", n, id, got, set[loc])
				}
				if f.dense && f.bf.BitSet().Test(loc) != set[loc] {
					t.Fatalf("%d items: the words say %v for %q, want %v", n, f.bf.BitSet().Test(loc), id, set[loc])
				}
				if i < n && strings.HasPrefix(id, "in-") && !f.test(d) {
					t.Fatalf("%d items: %q was added and tests absent", n, id)
				}
			}
		}
		g := generation{n: 1}
		g.levels[0] = f
		l.putFilters(&g)
		if f.bf != nil {
			if c := f.bf.BitSet().Count(); c != 0 {
				t.Fatalf("%d items: the pooled filter has %d bits", n, c)
			}
		}
		if len(f.pos) != 0 || f.dense {
			t.Fatalf("%d items: the pooled filter has %d positions, dense %v", n, len(f.pos), f.dense)
		}
	}
}

// TestReleasedSetForgets: a Set that indexed a long page's items goes
// back to the pool and comes out empty for the next visitor, whose
// items are all recorded and counted once.
func TestReleasedSetForgets(t *testing.T) {
	st := newCookieStore(t, CookieConfig{})
	items := ids("card", 3*shownScan)
	for round := range 4 {
		var v visitor
		s, _ := st.Load(context.Background(), v.request(), "")
		for _, id := range items {
			s.Shown(id)
			s.Shown(id)
		}
		if s.Unrecorded() != 0 {
			t.Fatalf("round %d: %d unrecorded", round, s.Unrecorded())
		}
		for _, id := range items {
			if got := s.Count(id); got != 1 {
				t.Fatalf("round %d: Count(%s) = %d, want 1", round, id, got)
			}
		}
		if len(s.shown) != len(items) {
			t.Fatalf("round %d: %d recorded, want %d", round, len(s.shown), len(items))
		}
		s.Release()
	}
}

// TestRankAcrossGenerations: a list shown three items at a time,
// fewest-shown first, keeps turning when a generation turns mid-round
// (SYNTAX's fresh-first table: A B C, D E F, G H I, A B C, D E F ...).
// Rank used to count the current generation alone: after the turn the
// round that brought A B C back made them look as fresh as D E F, and
// TestRankRoundAfterRound: a visitor who goes through a list round after
// round within one generation, more times than counts go (MaxCount), goes
// on being shown the items seen least often first: when an item shown as
// many times as counts go is shown again, the others' counts go one
// down (theirs of this request stay), so the items do not all tie, and
// the list does not stop on its first items. With MaxCount 2 and 4, with
// the cookie store, and with Redis, where each save merges the request's
// showings into the stored state (the same counting, on that state).
func TestRankRoundAfterRound(t *testing.T) {
	items := make([]string, 20)
	for i := range items {
		items[i] = fmt.Sprintf("item-%02d", i)
	}
	// journey runs 40 visits of 5 items each, load and save given.
	journey := func(t *testing.T, load func() *Set, save func(*Set)) {
		for visit := range 40 {
			s := load()
			order := slices.Clone(items)
			slices.SortStableFunc(order, func(a, b string) int { return s.Rank(a) - s.Rank(b) })
			want := items[visit%4*5 : visit%4*5+5]
			if !slices.Equal(order[:5], want) {
				t.Fatalf("visit %d shows %v, want %v", visit+1, order[:5], want)
			}
			for _, id := range order[:5] {
				s.Shown(id)
			}
			save(s)
			for _, id := range items {
				if !s.Seen(id) && visit >= 3 {
					t.Fatalf("visit %d: %s is no longer seen", visit+1, id)
				}
			}
			s.Release()
		}
	}
	for _, maxCount := range []int{2, 4} {
		t.Run(fmt.Sprintf("cookie/%d", maxCount), func(t *testing.T) {
			st := newCookieStore(t, CookieConfig{Params: Params{MaxCount: maxCount}})
			var v visitor
			journey(t, func() *Set {
				s, _ := st.Load(context.Background(), v.request(), "")
				return s
			}, func(s *Set) {
				h := http.Header{}
				if err := st.Save(context.Background(), h, "", s, false); err != nil {
					t.Fatal(err)
				}
				v.keep(h)
			})
		})
		t.Run(fmt.Sprintf("redis/%d", maxCount), func(t *testing.T) {
			st := newRedisStore(t, RedisConfig{Params: Params{MaxCount: maxCount}})
			id := fmt.Sprintf("rounds-%d-%d", maxCount, time.Now().UnixNano())
			journey(t, func() *Set {
				s, _ := st.Load(context.Background(), nil, id)
				return s
			}, func(s *Set) {
				if err := st.Save(context.Background(), nil, id, s, false); err != nil || !st.Flush(5*time.Second) {
					t.Fatalf("save: %v", err)
				}
			})
		})
	}
}

// A B C came again.
func TestRankAcrossGenerations(t *testing.T) {
	clk := newClock()
	start := clk.Now()
	st := newCookieStore(t, CookieConfig{Params: Params{Now: clk.Now}})
	items := []string{"A", "B", "C", "D", "E", "F", "G", "H", "I"}
	var v visitor
	var got []string
	for visit := range 7 {
		if visit == 1 {
			clk.Set(start.Add(DefaultWindow/2 + time.Hour)) // the generation turns
		}
		s, _ := st.Load(context.Background(), v.request(), "")
		order := slices.Clone(items)
		// Least recently and least often seen first, page order among
		// equals, as the rewriter orders a fresh-first list.
		slices.SortStableFunc(order, func(a, b string) int { return s.Rank(a) - s.Rank(b) })
		shown := order[:3]
		got = append(got, strings.Join(shown, ""))
		for _, id := range shown {
			s.Shown(id)
		}
		h := http.Header{}
		if err := st.Save(context.Background(), h, "", s, false); err != nil {
			t.Fatal(err)
		}
		v.keep(h)
		s.Release()
	}
	if want := "ABC DEF GHI ABC DEF GHI ABC"; strings.Join(got, " ") != want {
		t.Fatalf("visits showed %s, want %s", strings.Join(got, " "), want)
	}
}

// TestRankRotationIsEven: a list whose length is not a multiple of what
// a page shows rotates evenly past MaxCount rounds: when counts age, the
// items the same page showed age too. (Kept whole, they outranked the
// items the page showed after them: of 7 items shown 3 at a time, 5
// were shown every second visit and 2 every fourth.)
func TestRankRotationIsEven(t *testing.T) {
	for _, tc := range []struct{ items, per, maxCount, visits int }{{7, 3, 4, 200}, {10, 3, 4, 200}, {20, 5, 4, 400}, {100, 10, 4, 400}, {50, 7, 2, 300}} {
		t.Run(fmt.Sprintf("%d items, %d a page, MaxCount %d", tc.items, tc.per, tc.maxCount), func(t *testing.T) {
			items := make([]string, tc.items)
			for i := range items {
				items[i] = fmt.Sprintf("item-%03d", i)
			}
			st := newCookieStore(t, CookieConfig{Params: Params{MaxCount: tc.maxCount}})
			var v visitor
			shown := map[string]int{}
			for range tc.visits {
				s, _ := st.Load(context.Background(), v.request(), "")
				order := slices.Clone(items)
				slices.SortStableFunc(order, func(a, b string) int { return s.Rank(a) - s.Rank(b) })
				for _, id := range order[:tc.per] {
					s.Shown(id)
					shown[id]++
				}
				h := http.Header{}
				if err := st.Save(context.Background(), h, "", s, false); err != nil {
					t.Fatal(err)
				}
				v.keep(h)
				s.Release()
			}
			even := float64(tc.visits*tc.per) / float64(tc.items)
			for _, id := range items {
				if n := float64(shown[id]); n < even*0.9 || n > even*1.1 {
					t.Errorf("%s shown %v times; an even share is %.1f", id, n, even)
				}
			}
		})
	}
}

// TestDigestSet: the set of recorded digests answers as a map does,
// across its growth, with digests that share their low bits and the
// digest 0, and holds nothing once reset.
func TestDigestSet(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 31, 32, 33, 100, 1000} {
		var ds digestSet
		want := map[digest]bool{}
		for i := range n {
			d := digest(r.Uint64())
			switch i % 5 {
			case 1:
				d = 0
			case 2:
				d = d << 20 // many share their low bits: long probes
			}
			ds.add(d)
			want[d] = true
		}
		for d := range want {
			if !ds.has(d) {
				t.Fatalf("%d digests: %x missing", n, d)
			}
		}
		for range 1000 {
			if d := digest(r.Uint64()); ds.has(d) != want[d] {
				t.Fatalf("%d digests: has(%x) = %v", n, d, !want[d])
			}
		}
		if ds.has(0) != want[0] {
			t.Fatalf("%d digests: has(0) = %v", n, !want[0])
		}
		ds.reset()
		for d := range want {
			if ds.has(d) {
				t.Fatalf("%d digests: %x kept after reset", n, d)
			}
		}
	}
}

// TestListCalls: Recencies and ShownAll answer and record as Recency and
// Shown called for each id in turn, duplicates and the record limit
// included, and a nil or zero Set answers never seen.
func TestListCalls(t *testing.T) {
	st := newCookieStore(t, CookieConfig{Params: Params{RecordLimit: 40}})
	old := ids("old", 30)
	value := validValue(t, st, old...)
	load := func() *Set {
		r, _ := http.NewRequest("GET", "https://shop.example/", nil)
		r.AddCookie(&http.Cookie{Name: st.CookieName(), Value: value})
		s, info := st.Load(context.Background(), r, "")
		if info.Source != SourceCookie {
			t.Fatalf("%+v", info)
		}
		return s
	}
	one, all := load(), load()
	defer one.Release()
	defer all.Release()
	asked := append(append(ids("old", 40), ids("new", 20)...), "old-3", "new-1")
	shown := append(append(ids("new", 30), ids("old", 20)...), "new-2", "")
	want := make([]int32, len(asked))
	for i, id := range asked {
		want[i] = int32(one.Recency(id))
	}
	got := make([]int32, len(asked))
	all.Recencies(asked, got)
	if !slices.Equal(got, want) {
		t.Fatalf("Recencies %v, want %v", got, want)
	}
	for _, id := range shown {
		one.Shown(id)
	}
	all.ShownAll(shown)
	if one.Unrecorded() != all.Unrecorded() || one.Unrecorded() == 0 {
		t.Fatalf("unrecorded: %d one by one, %d at once (the limit is to be reached)", one.Unrecorded(), all.Unrecorded())
	}
	if a, b := one.encode(), all.encode(); !bytes.Equal(a, b) {
		t.Fatalf("states differ: one by one %x, at once %x", a, b)
	}
	all.Recencies(asked, got)
	for i, id := range asked {
		want[i] = int32(one.Recency(id))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("after recording: Recencies %v, want %v", got, want)
	}
	var none *Set
	got[0] = 7
	none.Recencies(asked[:1], got[:1])
	none.ShownAll(asked)
	if got[0] != NotSeen {
		t.Fatalf("nil set: %d", got[0])
	}
}

// TestFilterSearch: search finds what a binary search finds, in random
// positions (where it starts near the place) and in positions crowded at
// one end, where it must fall back to the binary search.
func TestFilterSearch(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 3000 {
		m := uint(64 + rng.IntN(1<<16))
		n := rng.IntN(600)
		var pos []uint32
		for range n {
			p := rng.IntN(int(m))
			switch i % 3 {
			case 1:
				p /= 50 // crowded at the start
			case 2:
				p = int(m) - 1 - p/50 // at the end
			}
			pos = append(pos, uint32(p))
		}
		slices.Sort(pos)
		pos = slices.Compact(pos)
		f := &filter{m: m, pos: pos}
		for range 50 {
			d := digest(rng.Uint64())
			loc := uint32(location(d, m))
			if rng.IntN(3) == 0 && len(pos) > 0 {
				// A present one: a digest whose location is a position.
				loc = pos[rng.IntN(len(pos))]
			}
			wi, wf := slices.BinarySearch(pos, loc)
			if gi, gf := f.search(d, loc); gi != wi || gf != wf {
				t.Fatalf("m %d, %d positions, loc %d: search %d %v, binary search %d %v", m, len(pos), loc, gi, gf, wi, wf)
			}
		}
	}
}
