package reqctx

import (
	"net/http"
	"slices"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/geo"
	"github.com/bespoke-edge/bespoke/plugin"
)

// TestVary: Vary names the headers the slots' values can come from, for
// the providers configured, and nothing else.
func TestVary(t *testing.T) {
	trusted, _ := geo.ParsePrefixes("loopback")
	cloudflare := Config{Geo: geo.New(geo.Config{TrustedProxies: trusted, Providers: []geo.Provider{geo.Cloudflare}})}
	visitorID := plugin.Slot{Attr: "visitor.id"}
	userinfo := plugin.Slot{Attr: "base64", From: &plugin.Slot{Attr: "header", Arg: "X-Userinfo"}}
	prefs := plugin.Slot{Attr: "base64", From: &plugin.Slot{Attr: "cookie", Arg: "prefs"}}
	tests := []struct {
		name        string
		cfg         Config
		slots       []plugin.Slot
		want        []string
		readsVisitr bool
	}{
		{"country, Cloudflare", cloudflare, []plugin.Slot{{Attr: "geo.country"}}, []string{"Cf-Ipcountry"}, false},
		{"country and continent", cloudflare, []plugin.Slot{{Attr: "geo.country"}, {Attr: "geo.continent"}}, []string{"Cf-Ipcontinent", "Cf-Ipcountry"}, false},
		{"visitor hour reads the time zone", cloudflare, []plugin.Slot{{Attr: "visitor.hour"}}, []string{"Cf-Ipcity", "Cf-Ipcountry", "Cf-Region-Code", "Cf-Timezone"}, false},
		{"language", cloudflare, []plugin.Slot{{Attr: "language"}}, []string{"Accept-Language"}, false},
		{"a header", cloudflare, []plugin.Slot{{Attr: "header", Arg: "X-Plan"}}, []string{"X-Plan"}, false},
		{"a cookie", cloudflare, []plugin.Slot{{Attr: "cookie", Arg: "plan"}}, []string{"Cookie"}, false},
		{"an experiment buckets the visitor id", cloudflare, []plugin.Slot{{Attr: "bucket", Arg: "hero", From: &visitorID}}, []string{"Cookie", "Sec-Gpc"}, true},
		{"the path reads no header", cloudflare, []plugin.Slot{{Attr: "path"}}, nil, false},
		{"a header in base64", cloudflare, []plugin.Slot{userinfo}, []string{"X-Userinfo"}, false},
		{"JSON in a header in base64", cloudflare, []plugin.Slot{{Attr: "json", Arg: "tier", From: &userinfo}}, []string{"X-Userinfo"}, false},
		{"a cookie in base64", cloudflare, []plugin.Slot{{Attr: "semver", From: &prefs}}, []string{"Cookie"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBuilder(tt.cfg, tt.slots)
			if got := b.Vary(); !slices.Equal(got, tt.want) {
				t.Errorf("Vary = %q, want %q", got, tt.want)
			}
			if b.ReadsVisitor() != tt.readsVisitr {
				t.Errorf("ReadsVisitor = %v", b.ReadsVisitor())
			}
		})
	}
}

// TestVaryNamesAreCanonical: the names Vary and VaryOf return are in the
// form net/http stores fields under, however the rules spelled them, so
// that the proxy adds them to a response's Vary as they are (and a name
// twice is the same string twice).
func TestVaryNamesAreCanonical(t *testing.T) {
	trusted, _ := geo.ParsePrefixes("loopback")
	cfg := Config{Geo: geo.New(geo.Config{TrustedProxies: trusted, Providers: []geo.Provider{geo.Cloudflare, geo.CloudFront, geo.Vercel}})}
	slots := []plugin.Slot{
		{Attr: "geo.country"}, {Attr: "geo.city"}, {Attr: "visitor.hour"}, {Attr: "device.type"},
		{Attr: "language"}, {Attr: "cookie", Arg: "plan"},
		{Attr: "header", Arg: "x-plan"}, {Attr: "header", Arg: "X-PLAN"}, {Attr: "header", Arg: "sec-ch-ua-mobile"},
		{Attr: "header", Arg: "x-forwarded-for"},
	}
	b := NewBuilder(cfg, slots)
	all := make([]int, len(slots))
	for i := range all {
		all[i] = i
	}
	for _, list := range [][]string{b.Vary(), b.VaryOf(all, true), b.VaryOf([]int{6, 7}, false)} {
		if len(list) == 0 {
			t.Fatal("no names")
		}
		for i, k := range list {
			if c := http.CanonicalHeaderKey(k); c != k {
				t.Errorf("%q is stored as %q", k, c)
			}
			if slices.Contains(list[:i], k) {
				t.Errorf("%q twice in %q", k, list)
			}
		}
	}
	if got := b.VaryOf([]int{6, 7}, false); !slices.Equal(got, []string{"X-Plan"}) {
		t.Errorf("VaryOf(x-plan, X-PLAN) = %q", got)
	}
}

// TestVaryOfWhileBuilding: VaryOf, which a site calls while it serves
// (narrowing each path's Vary lists the first time it comes), changes
// nothing Build reads: it recorded again what the builder needs, the
// same values, racing with every request built meanwhile (the race
// detector, under the proxy's browser tests).
func TestVaryOfWhileBuilding(t *testing.T) {
	trusted, _ := geo.ParsePrefixes("loopback")
	cfg := Config{Geo: geo.New(geo.Config{TrustedProxies: trusted, Providers: []geo.Provider{geo.Cloudflare}})}
	slots := []plugin.Slot{
		{Attr: "geo.country"}, {Attr: "visitor.hour"}, {Attr: "device.type"}, {Attr: "visitor.new"},
		{Attr: "header", Arg: "X-Forwarded-For"}, {Attr: "now"},
	}
	b := NewBuilder(cfg, slots)
	r, _ := http.NewRequest("GET", "http://shop/", nil)
	r.RemoteAddr = "127.0.0.1:1"
	r.Header.Set("Cf-Ipcountry", "FR")
	r.Header.Set("User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148")
	before, facts := b.BuildFacts(r, Visitor{}, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			b.VaryOf([]int{i % len(slots), (i + 1) % len(slots)}, i%2 == 0)
		}
	}()
	for range 200 {
		b.BuildFacts(r, Visitor{}, nil)
	}
	<-done
	after, facts2 := b.BuildFacts(r, Visitor{}, nil)
	if facts != facts2 || len(before) != len(after) {
		t.Fatalf("facts %+v, then %+v", facts, facts2)
	}
	for i := range before {
		if before[i].Str != after[i].Str || before[i].Present != after[i].Present {
			t.Errorf("slot %d: %q, then %q", i, before[i].Str, after[i].Str)
		}
	}
}
