package caps_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/caps"
	"github.com/bespoke-edge/bespoke/host/internal/seen"
)

// stateRow is one visitor's tracking state after some days.
type stateRow struct {
	day, items                int
	seenCookie, capsCookie    int // bytes of the bsk_seen and bsk_caps values
	redisValue, cookieHeaders int // the seen-state in Redis; the Cookie header bespoke adds
}

// stateDays are the days visitorState reports.
var stateDays = []int{1, 7, 14, 30, 60, 90}

// visitorState follows one visitor for 90 days: three page views a day,
// each showing 12 items not shown before, with the default cookie store
// (1,000 items, 30-day window) and two capped rules. The capacity model
// (bench/capacity) sizes Redis and the Cookie header from it.
func visitorState() ([]stateRow, error) {
	const viewsPerDay, itemsPerView = 3, 12
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	now := t0
	clock := func() time.Time { return now }
	key := []byte("capacity-model-key-0123456789abc")
	store, err := seen.NewCookieStore(seen.CookieConfig{Key: key, Params: seen.Params{Now: clock}})
	if err != nil {
		return nil, err
	}
	capStore, err := caps.New(key, clock)
	if err != nil {
		return nil, err
	}
	var rows []stateRow
	cookie, capsCookie, item := "", "", 0
	const vid = "AAAAAAAAAAAAAAAAAAAAAA"
	next := 0
	for day := 1; day <= 90; day++ {
		now = t0.Add(time.Duration(day-1) * 24 * time.Hour)
		for v := range viewsPerDay {
			now = now.Add(time.Duration(v) * time.Hour)
			r, _ := http.NewRequest("GET", "/", nil)
			if cookie != "" {
				r.AddCookie(&http.Cookie{Name: seen.DefaultCookieName, Value: cookie})
			}
			if capsCookie != "" {
				r.AddCookie(&http.Cookie{Name: caps.CookieName, Value: capsCookie})
			}
			set, _ := store.Load(context.Background(), r, vid)
			for range itemsPerView {
				item++
				set.Shown(fmt.Sprintf("sku-%d", item))
			}
			h := http.Header{}
			if err := store.Save(context.Background(), h, vid, set, true); err != nil {
				return nil, err
			}
			redisValue := set.EncodedLen()
			set.Release()
			for _, c := range (&http.Response{Header: h}).Cookies() {
				if c.Name == seen.DefaultCookieName {
					cookie = c.Value
				}
			}
			counts := capStore.Load(r)
			counts.Hit("1d:newsletter", 24*time.Hour)
			counts.Hit("7d:offer", 7*24*time.Hour)
			capsCookie = counts.Cookie(30*24*time.Hour, true).Value
			if next < len(stateDays) && day == stateDays[next] && v == viewsPerDay-1 {
				header := len("bsk_vid=") + len(vid) + len("; bsk_seen=") + len(cookie) + len("; bsk_caps=") + len(capsCookie)
				rows = append(rows, stateRow{day: day, items: item, seenCookie: len(cookie), capsCookie: len(capsCookie), redisValue: redisValue, cookieHeaders: header})
				next++
			}
		}
	}
	return rows, nil
}

// A visitor's state grows with what was shown, and the cookie stays under
// its cap however long the visitor stays.
func TestVisitorStateOverTime(t *testing.T) {
	rows, err := visitorState()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(stateDays) {
		t.Fatalf("%d rows", len(rows))
	}
	for i, r := range rows {
		if r.items != r.day*36 || r.seenCookie <= 0 || r.seenCookie > 3072 || r.redisValue <= 0 || r.cookieHeaders <= r.seenCookie {
			t.Errorf("day %d: %+v", r.day, r)
		}
		if i > 0 && r.day <= 30 && r.seenCookie <= rows[i-1].seenCookie {
			t.Errorf("day %d: the cookie did not grow (%d after %d)", r.day, r.seenCookie, rows[i-1].seenCookie)
		}
	}
}

// BenchmarkVisitorState reports the sizes of one visitor's tracking
// state over 90 days of visits (see visitorState), so that make bench
// records them for the capacity model: bytes of the seen cookie, the caps
// cookie, the Cookie header bespoke adds and the seen-state in Redis, on
// days 1, 7, 14, 30, 60 and 90. The sizes do not depend on the machine;
// ns/op is the cost of simulating the 90 days.
func BenchmarkVisitorState(b *testing.B) {
	var rows []stateRow
	for b.Loop() {
		var err error
		if rows, err = visitorState(); err != nil {
			b.Fatal(err)
		}
	}
	for _, r := range rows {
		b.ReportMetric(float64(r.items), fmt.Sprintf("items/day-%d", r.day))
		b.ReportMetric(float64(r.seenCookie), fmt.Sprintf("seen-B/day-%d", r.day))
		b.ReportMetric(float64(r.capsCookie), fmt.Sprintf("caps-B/day-%d", r.day))
		b.ReportMetric(float64(r.cookieHeaders), fmt.Sprintf("cookie-header-B/day-%d", r.day))
		b.ReportMetric(float64(r.redisValue), fmt.Sprintf("redis-B/day-%d", r.day))
	}
}
