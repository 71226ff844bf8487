package caps

import (
	"fmt"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCountsRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	s, err := New([]byte("k"), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	week := 7 * 24 * time.Hour
	c := s.Load(httptest.NewRequest("GET", "/", nil))
	for range 3 {
		c.Hit("604800:promo", week)
	}
	c.Hit("3600:other", time.Hour)
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(c.Cookie(week, false))
	c2 := s.Load(r)
	if c2.Dropped != "" || c2.Count("604800:promo", week) != 3 || c2.Count("3600:other", time.Hour) != 1 {
		t.Fatalf("after round trip: %+v", c2)
	}
	// Two hours later the hourly window has passed, the weekly one has not.
	now = now.Add(2 * time.Hour)
	if c2.Count("3600:other", time.Hour) != 0 || c2.Count("604800:promo", week) != 3 {
		t.Fatal("windows not applied")
	}
	c2.Hit("3600:other", time.Hour)
	if c2.Count("3600:other", time.Hour) != 1 {
		t.Fatal("an expired window did not restart")
	}
}

func TestBadCookiesAreDropped(t *testing.T) {
	s, _ := New([]byte("k"), nil)
	c := s.Load(httptest.NewRequest("GET", "/", nil))
	c.Hit("a", time.Hour)
	good := c.Cookie(time.Hour, false).Value
	tampered := []byte(good)
	tampered[3] ^= 1
	for name, tt := range map[string]struct{ value, want string }{
		"garbage":   {"%%%", "malformed"},
		"short":     {"AQ", "malformed"},
		"tampered":  {string(tampered), "tampered"},
		"truncated": {good[:len(good)-4], "tampered"},
		"version":   {"Ag" + strings.Repeat("A", 30), "old-format"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", CookieName+"="+tt.value)
		got := s.Load(r)
		if got.Dropped != tt.want || got.Count("a", time.Hour) != 0 {
			t.Errorf("%s: dropped %q, want %q", name, got.Dropped, tt.want)
		}
	}
	other, _ := New([]byte("other key"), nil)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", CookieName+"="+good)
	if other.Load(r).Dropped != "tampered" {
		t.Error("a cookie signed with another key was accepted")
	}
}

func TestEntriesAreBounded(t *testing.T) {
	s, _ := New([]byte("k"), nil)
	c := s.Load(httptest.NewRequest("GET", "/", nil))
	for i := range 200 {
		c.Hit(strings.Repeat("x", i), time.Hour)
	}
	if len(c.entries) != maxEntries {
		t.Fatalf("%d entries", len(c.entries))
	}
	if n := len(c.Cookie(time.Hour, false).Value); n > 1024 {
		t.Fatalf("cookie of %d bytes", n)
	}
}

// TestSeveralCookies: of several caps cookies (a browser sends one for
// each path and domain that set one, RFC 6265 5.4), the first valid one
// holds the counts, as the visitor id and the seen-filter are read. The
// first alone was read: a stale or foreign copy sent first reset the
// counts on every request, and a capped rule showed on every page.
func TestSeveralCookies(t *testing.T) {
	s, _ := New([]byte("k"), nil)
	c := s.Load(httptest.NewRequest("GET", "/", nil))
	c.Hit("a", time.Hour)
	c.Hit("a", time.Hour)
	good := c.Cookie(time.Hour, false).Value
	other, _ := New([]byte("another key"), nil)
	foreign := other.Load(httptest.NewRequest("GET", "/", nil))
	foreign.Hit("a", time.Hour)
	stale := foreign.Cookie(time.Hour, false).Value
	for _, tt := range []struct {
		name, header string
		count        int
		dropped      string
	}{
		{"one", CookieName + "=" + good, 2, ""},
		{"a foreign copy first", CookieName + "=" + stale + "; " + CookieName + "=" + good, 2, ""},
		{"a malformed copy first", CookieName + "=%%%; other=1; " + CookieName + "=" + good, 2, ""},
		{"the valid one first", CookieName + "=" + good + "; " + CookieName + "=" + stale, 2, ""},
		{"none valid", CookieName + "=" + stale + "; " + CookieName + "=AQ", 0, "tampered"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", tt.header)
		got := s.Load(r)
		if got.Count("a", time.Hour) != tt.count || got.Dropped != tt.dropped {
			t.Errorf("%s: count %d, dropped %q; want %d, %q", tt.name, got.Count("a", time.Hour), got.Dropped, tt.count, tt.dropped)
		}
	}
}

func FuzzLoad(f *testing.F) {
	f.Add("AQ")
	f.Add("")
	s, _ := New([]byte("k"), nil)
	f.Fuzz(func(t *testing.T, v string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", CookieName+"="+v)
		c := s.Load(r)
		if c.Dropped == "" && v != "" && len(c.entries) > maxEntries {
			t.Fatal("too many entries accepted")
		}
	})
}

// FuzzFromShared: whatever bytes a shared store returns (a key another
// release wrote, one cut short, one written over), the counts read from
// them take hits and are written back as counts that read the same: at
// most maxEntries entries, counts up to 255, and nothing panics on the
// way, in the eviction of a full set neither.
func FuzzFromShared(f *testing.F) {
	now := time.Date(2026, 12, 5, 20, 0, 0, 0, time.UTC)
	s, err := New([]byte("k"), func() time.Time { return now })
	if err != nil {
		f.Fatal(err)
	}
	c := s.FromShared(nil, nil)
	for i := range maxEntries {
		c.Hit(fmt.Sprintf("3600:r%d", i), time.Hour)
	}
	f.Add(c.encode(version), "3600:r1", "60:x")
	f.Add(c.encode(versionNew)[:20], "604800:promo", "3600:r0")
	f.Add([]byte{version}, "", "0:z")
	f.Add([]byte{version, 1, 2, 3, 4, 255, 0xff, 0xff, 0xff, 0xff}, "a", "b")
	rules := NewRules(map[string]time.Duration{"3600:r1": time.Hour, "604800:promo": 7 * 24 * time.Hour})
	f.Fuzz(func(t *testing.T, b []byte, key1, key2 string) {
		c := s.FromShared(b, nil)
		c.Rules = rules
		if c.Dropped != "" {
			if len(c.entries) != 0 {
				t.Fatalf("dropped (%s) with %d entries", c.Dropped, len(c.entries))
			}
			return
		}
		for _, k := range []string{key1, key2, key1} {
			w := time.Hour
			if secs, _, ok := strings.Cut(k, ":"); ok {
				if n, err := strconv.Atoi(secs); err == nil && n > 0 && n < 1<<20 {
					w = time.Duration(n) * time.Second
				}
			}
			before := c.Count(k, w)
			c.Hit(k, w)
			if after := c.Count(k, w); after != min(before+1, 255) && w >= time.Minute {
				t.Fatalf("Count(%q) %d after a hit, %d before", k, after, before)
			}
		}
		if len(c.entries) > maxEntries {
			t.Fatalf("%d entries", len(c.entries))
		}
		enc := c.encode(version)
		again := s.FromShared(enc, nil)
		if again.Dropped != "" || !slices.Equal(again.entries, c.entries) {
			t.Fatalf("written back as %x, read as %+v (%s)", enc, again.entries, again.Dropped)
		}
	})
}

// TestClockSetBack: a window that starts later than the clock's now, by
// more than hosts' clocks differ, was started by a clock since set back
// (bespoke serve --dev-clock on an earlier day, a host's clock
// corrected): it holds no view of now's, and the next view starts a new
// window. Hosts a minute or two apart still share a window.
func TestClockSetBack(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 20, 0, 0, 0, time.UTC)
	week := 7 * 24 * time.Hour
	for _, c := range []struct {
		back time.Duration
		want int
	}{
		{0, 3},
		{time.Minute, 3},
		{2 * time.Minute, 3},
		{5 * time.Minute, 3},
		{10 * time.Minute, 0},
		{time.Hour, 0},
		{30 * 24 * time.Hour, 0},
		{-6 * 24 * time.Hour, 3},
		{-week, 0},
	} {
		now := t0
		s, err := New([]byte("k"), func() time.Time { return now })
		if err != nil {
			t.Fatal(err)
		}
		counts := s.Load(httptest.NewRequest("GET", "/", nil))
		for range 3 {
			counts.Hit("604800:promo", week)
		}
		now = t0.Add(-c.back)
		if got := counts.Count("604800:promo", week); got != c.want {
			t.Errorf("clock moved %v back: count %d, want %d", c.back, got, c.want)
		}
		counts.Hit("604800:promo", week)
		if got := counts.Count("604800:promo", week); got != c.want+1 {
			t.Errorf("clock moved %v back, one more view: count %d, want %d", c.back, got, c.want+1)
		}
	}
}

// TestEvictionDropsDeadEntriesFirst: a visitor's counts are full (64
// entries) when a rule needs a new one. The entry that goes is one that
// counts nothing any more (its rule's window has passed, or the plugin
// no longer has the rule), before any live count, however old: the
// oldest window went, and with it a live count while dead entries stayed.
func TestEvictionDropsDeadEntriesFirst(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	week := 7 * 24 * time.Hour
	for _, tt := range []struct {
		name string
		// dead says what the newest of the 63 other entries is: "expired"
		// (a rule of the plugin's whose window has passed), "removed" (a
		// rule the plugin no longer has), or "" (live like the rest).
		dead string
		// gone is the key expected to be dropped for the new one.
		gone string
	}{
		{name: "expired", dead: "expired", gone: "3600:dead"},
		{name: "removed", dead: "removed", gone: "3600:dead"},
		{name: "all live", dead: "", gone: "604800:oldest"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := now
			s, _ := New([]byte("k"), func() time.Time { return clock })
			windows := map[string]time.Duration{"604800:oldest": week, "604800:new": week}
			c := s.Load(httptest.NewRequest("GET", "/", nil))
			// The oldest entry: a live weekly count, at its cap.
			for range 3 {
				c.Hit("604800:oldest", week)
			}
			clock = clock.Add(time.Hour)
			for i := range 62 {
				key := fmt.Sprintf("604800:live-%d", i)
				windows[key] = week
				c.Hit(key, week)
			}
			// The newest entry, hit two hours ago by the clock below.
			c.Hit("3600:dead", time.Hour)
			switch tt.dead {
			case "expired":
				windows["3600:dead"] = time.Hour
			case "":
				windows["3600:dead"] = week
			}
			clock = clock.Add(2 * time.Hour)
			c.Rules = NewRules(windows)
			c.Hit("604800:new", week)
			if len(c.entries) != maxEntries {
				t.Fatalf("%d entries, want %d", len(c.entries), maxEntries)
			}
			for _, key := range []string{"604800:oldest", "3600:dead", "604800:new"} {
				has := slices.ContainsFunc(c.entries, func(e entry) bool { return e.hash == keyHash(key) })
				if has == (key == tt.gone) {
					t.Errorf("entry %s kept %v, want %v", key, has, key != tt.gone)
				}
			}
			if tt.gone != "604800:oldest" && c.Count("604800:oldest", week) != 3 {
				t.Errorf("the live count went: %d, want 3", c.Count("604800:oldest", week))
			}
		})
	}
}
