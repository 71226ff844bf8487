package reqctx_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/plugin"
)

func key(attr, arg string) string { return plugin.Slot{Attr: attr, Arg: arg}.Key() }

// TestOverridesDerive checks that what is computed from an overridden
// value follows it: the bucket from the visitor id, a JSON value from its
// cookie, the hour from the country's time zone.
func TestOverridesDerive(t *testing.T) {
	slots := []plugin.Slot{
		{Attr: "geo.country"},
		{Attr: "visitor.hour"},
		{Attr: "visitor.weekday"},
		{Attr: "bucket", Arg: "hero-test", From: &plugin.Slot{Attr: "visitor.id"}},
		{Attr: "json", Arg: "tier", From: &plugin.Slot{Attr: "cookie", Arg: "profile"}},
		{Attr: "cookie", Arg: "plan"},
		{Attr: "device.type"},
		{Attr: "device.bot"},
		{Attr: "visitor.new"},
		{Attr: "bucket", Arg: "other", From: &plugin.Slot{Attr: "visitor.id"}},
	}
	b := reqctx.NewBuilder(reqctx.Config{}, slots)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("CF-IPCountry", "US")
	ov := &reqctx.Overrides{
		Now: time.Date(2026, 12, 4, 23, 30, 0, 0, time.UTC),
		Values: map[string]string{
			key("geo.country", ""): "de", key("visitor.id", ""): "alice", key("cookie", "profile"): `{"tier":"gold"}`,
			key("cookie", "plan"): "pro", key("device.type", ""): "bot", key("visitor.new", ""): "true",
		},
		Buckets: map[string]int{slots[9].Key(): 42},
	}
	vals := b.Build(r, reqctx.Visitor{ID: "someone-else", Overrides: ov}, nil)
	want := []string{"DE", "0", "saturday", itoa(plugin.Bucket("hero-test", "alice")), "gold", "pro", "bot", "true", "true", "42"}
	for i, w := range want {
		if got := vals[i].Str; !vals[i].Present || got != w {
			t.Errorf("%s = %q (present %v), want %q", slots[i], got, vals[i].Present, w)
		}
	}
}

func itoa(n int) string { return reqctx.NumberValue(float64(n)).Str }

// TestCountryTimeZone: with only a country from the CDN, the local time is
// the country's when it keeps one time, UTC (the default) otherwise.
func TestCountryTimeZone(t *testing.T) {
	now := time.Date(2026, 12, 4, 23, 30, 0, 0, time.UTC) // a Friday
	b := reqctx.NewBuilder(reqctx.Config{Now: func() time.Time { return now }}, []plugin.Slot{{Attr: "visitor.weekday"}, {Attr: "visitor.hour"}})
	for country, want := range map[string][2]string{"DE": {"saturday", "0"}, "FR": {"saturday", "0"}, "GB": {"friday", "23"}, "US": {"friday", "23"}, "JP": {"saturday", "8"}} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "127.0.0.1:1234"
		r.Header.Set("CF-IPCountry", country)
		vals := b.Build(r, reqctx.Visitor{}, nil)
		if vals[0].Str != want[0] || vals[1].Str != want[1] {
			t.Errorf("%s: %s %s, want %s %s", country, vals[0].Str, vals[1].Str, want[0], want[1])
		}
	}
}

// TestOverridesFromContext: the proxy picks overrides up from the
// request's context, and only from there.
func TestOverridesFromContext(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	if v := reqctx.ResolveVisitor(r); v.Overrides != nil {
		t.Fatal("overrides without a context carrying them")
	}
	ov := &reqctx.Overrides{Buckets: map[string]int{"k": 1}}
	r = r.WithContext(reqctx.WithOverrides(context.Background(), ov))
	r.AddCookie(&http.Cookie{Name: reqctx.VisitorCookie, Value: "AAECAwQFBgcICQoLDA0ODw"})
	if v := reqctx.ResolveVisitor(r); v.Overrides != ov || v.ID != "AAECAwQFBgcICQoLDA0ODw" {
		t.Fatalf("visitor %+v", v)
	}
	for id, ok := range map[string]bool{"AAECAwQFBgcICQoLDA0ODw": true, "alice": false, "AAECAwQFBgcICQoLDA0OD!": false} {
		if reqctx.ValidID(id) != ok {
			t.Errorf("ValidID(%q) != %v", id, ok)
		}
	}
}

// TestCountryOverrideKeepsTheRequestsZone: a country given as an override
// (the preview's Country field, explain --set) replaces what came with
// another country the request named, and keeps what the request said of
// the location when it named none: a CDN's time zone still gives the
// visitor's hour.
func TestCountryOverrideKeepsTheRequestsZone(t *testing.T) {
	now := time.Date(2026, 12, 6, 1, 30, 0, 0, time.UTC)
	b := reqctx.NewBuilder(reqctx.Config{Now: func() time.Time { return now }}, []plugin.Slot{{Attr: "visitor.hour"}, {Attr: "geo.city"}, {Attr: "geo.continent"}})
	for _, tt := range []struct {
		headers    []string
		hour, city string
	}{
		{[]string{"CF-Timezone", "America/Denver", "CF-IPCity", "Denver"}, "18", "Denver"},
		{[]string{"CF-IPCountry", "US", "CF-Timezone", "America/Denver"}, "18", ""},
		{[]string{"CF-IPCountry", "FR", "CF-Timezone", "Europe/Paris", "CF-IPCity", "Lyon"}, "1", ""}, // the French zone and city go
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "127.0.0.1:1234"
		for i := 0; i < len(tt.headers); i += 2 {
			r.Header.Set(tt.headers[i], tt.headers[i+1])
		}
		ov := &reqctx.Overrides{Values: map[string]string{key("geo.country", ""): "US"}}
		vals := b.Build(r, reqctx.Visitor{Overrides: ov}, nil)
		if vals[0].Str != tt.hour || vals[1].Str != tt.city || vals[2].Str != "NA" {
			t.Errorf("%q with country US: hour %s, city %q, continent %q; want %s, %q, NA", tt.headers, vals[0].Str, vals[1].Str, vals[2].Str, tt.hour, tt.city)
		}
	}
}
