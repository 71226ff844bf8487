package site_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/engine"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/host/internal/site"
	"github.com/bespoke-edge/bespoke/internal/compiler"
)

// TestPluginsOfEarlierReleases: a plugin an earlier release compiled
// (testdata/compat: each directory a rule file and the .wasm that
// release made of it, never made again) loads from its file, runs
// without a deadline, and decides what the rule file compiled today
// decides, for 3,000 visitors: operators keep the .wasm files their
// pipeline built when they upgrade bespoke. A change of the manifest or
// of the ABI that older plugins cannot follow fails here; one that
// means to leave them behind says so in testdata/compat/README.md and
// moves the fixture with the version.
func TestPluginsOfEarlierReleases(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("..", "..", "..", "testdata", "compat", "*", "plugin.wasm"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no plugins of earlier releases in testdata/compat (%v)", err)
	}
	for _, wasm := range dirs {
		dir := filepath.Dir(wasm)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(dir, "rules.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var now atomic.Pointer[time.Time]
			rc := reqctx.Config{Now: func() time.Time { return *now.Load() }}
			eng, err := engine.New(engine.Config{CacheDir: "-"})
			if err != nil {
				t.Fatal(err)
			}
			defer eng.Close(context.Background())
			old, err := site.LoadFile(context.Background(), eng, wasm, rc)
			if err != nil {
				t.Fatalf("the plugin of an earlier release does not load: %v", err)
			}
			defer old.Close(context.Background())
			if ok, why := old.Module().Bounded(); !ok {
				t.Errorf("the plugin of an earlier release runs with a deadline: %v", why)
			}
			res, err := compiler.Compile(filepath.Join(dir, "rules.yaml"), src)
			if err != nil {
				t.Fatalf("its rule file does not compile today: %v", err)
			}
			today, err := site.Load(context.Background(), eng, "today", res.Artifact, rc)
			if err != nil {
				t.Fatal(err)
			}
			defer today.Close(context.Background())

			rng := rand.New(rand.NewPCG(7, 11))
			applied := map[string]bool{}
			for i := range 3000 {
				hr, at := compatVisitor(rng)
				now.Store(&at)
				v := reqctx.ResolveVisitor(hr)
				a, b := old.NewRequest(), today.NewRequest()
				old.Decide(context.Background(), hr, v, true, nil, a)
				today.Decide(context.Background(), hr, v, true, nil, b)
				if a.Err != nil || b.Err != nil {
					t.Fatalf("visitor %d: %v / %v", i, a.Err, b.Err)
				}
				pa, pb := describePlan(old, a), describePlan(today, b)
				if pa != pb {
					t.Fatalf("visitor %d (%s %v, %q at %s): the earlier release's plugin decides\n%s\ntoday's\n%s",
						i, hr.URL, hr.Header, hr.Header.Get("Cookie"), at.Format(time.RFC3339), pa, pb)
				}
				for _, r := range a.Plan.Matched {
					applied[old.Manifest().Rules[r].Name] = true
				}
				old.Release(a)
				today.Release(b)
			}
			var never []string
			for _, r := range old.Manifest().Rules {
				if !applied[r.Name] {
					never = append(never, r.Name)
				}
			}
			t.Logf("%d of %d rules applied to some visitor", len(applied), len(old.Manifest().Rules))
			if len(never) > 0 {
				t.Errorf("rules no visitor of the test applied to, so not compared: %v", never)
			}
		})
	}
}

// compatVisitor returns a request of a random visitor, and when it
// comes: what the demo's rules read (location, device, language,
// cookies, query, path, headers, time), each often absent.
func compatVisitor(rng *rand.Rand) (*http.Request, time.Time) {
	path := pick(rng, "/", "/", "/sale-2025", "/stores", "/products/lamp", "/api/recommendations")
	var query []string
	if rng.IntN(3) == 0 {
		query = append(query, "utm_campaign="+pick(rng, "winter-sale", "summer", ""))
	}
	if rng.IntN(4) == 0 {
		query = append(query, "ref="+pick(rng, "newsletter-42", "newsletter-", "newsletter-7x", "ads"))
	}
	if len(query) > 0 {
		path += "?" + strings.Join(query, "&")
	}
	hr := httptest.NewRequest("GET", path, nil)
	// A CDN in front, on loopback: its location headers are believed.
	hr.RemoteAddr = "127.0.0.1:40000"
	if rng.IntN(5) > 0 {
		hr.Header.Set("CF-IPCountry", pick(rng, "FR", "US", "CH", "DE", "BE", "JP", "AT", "GB"))
	}
	if rng.IntN(2) == 0 {
		hr.Header.Set("Cf-Ipcity", pick(rng, "Lyon", "Paris", "Seattle", "Berlin", "Zurich", "Osaka"))
	}
	if rng.IntN(3) == 0 {
		at := pick(rng, [2]string{"45.76", "4.84"}, [2]string{"45.9", "5.1"}, [2]string{"48.85", "2.35"}, [2]string{"47.6", "-122.3"})
		hr.Header.Set("Cf-Iplatitude", at[0])
		hr.Header.Set("Cf-Iplongitude", at[1])
	}
	if rng.IntN(4) > 0 {
		hr.Header.Set("Accept-Language", pick(rng, "fr-FR,fr;q=0.9,en;q=0.8", "de-CH,de;q=0.9", "en-US,en;q=0.9", "ja", "de"))
	}
	hr.Header.Set("User-Agent", pick(rng,
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		"Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
	))
	if rng.IntN(4) == 0 {
		hr.Header.Set("X-Northwind-App", pick(rng, "3.2.0", "3.1.9", "4.0", "garbage"))
	}
	if rng.IntN(6) == 0 {
		hr.Header.Set("X-Preview", pick(rng, "1", "0"))
	}
	var cookies []string
	if rng.IntN(2) == 0 {
		// A returning visitor: the id cookie, from a few visitors, so
		// that experiments' buckets differ.
		cookies = append(cookies, "bsk_vid="+pick(rng, "AAAAAAAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBBBBBBB", "q83vEjRWeJq83vEjRWeJqw", "zzzzzzzzzzzzzzzzzzzzzz"))
	}
	if rng.IntN(3) == 0 {
		cookies = append(cookies, "club="+pick(rng, "member", "gold", "silver"))
	}
	if rng.IntN(3) == 0 {
		cookies = append(cookies, "cart_items="+pick(rng, "0", "2", "3", "12", "x"))
	}
	if rng.IntN(5) == 0 {
		cookies = append(cookies, "app_banner=1")
	}
	if len(cookies) > 0 {
		hr.Header.Set("Cookie", strings.Join(cookies, "; "))
	}
	at := pick(rng,
		time.Date(2026, 11, 30, 18, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC),
		time.Date(2026, 12, 12, 19, 15, 0, 0, time.UTC),
		time.Date(2027, 6, 1, 22, 0, 0, 0, time.UTC),
	)
	return hr, at
}

func pick[T any](rng *rand.Rand, xs ...T) T { return xs[rng.IntN(len(xs))] }

// describePlan renders what a plan does in the names of its manifest
// (rules, selectors), so that two compilations of one rule file compare.
func describePlan(s *site.Site, r *site.Request) string {
	m := s.Manifest()
	var b strings.Builder
	rule := func(i int) string {
		if i >= 0 && i < len(m.Rules) {
			return m.Rules[i].Name
		}
		return fmt.Sprint(i)
	}
	sel := func(i int) string {
		if i >= 0 && i < len(m.Selectors) {
			return m.Selectors[i]
		}
		return fmt.Sprintf("#%d", i-len(m.Selectors))
	}
	p := &r.Plan
	names := make([]string, len(p.Matched))
	for i, ri := range p.Matched {
		names[i] = rule(ri)
	}
	fmt.Fprintf(&b, "matched %v\n", names)
	if p.Redirect != nil {
		fmt.Fprintf(&b, "redirect %d %s (%s)\n", p.Redirect.Status, p.Redirect.Location, rule(p.Redirect.Rule))
	}
	for _, h := range p.RequestHeaders {
		fmt.Fprintf(&b, "request header %s: %s (%s)\n", h.Name, h.Value, rule(h.Rule))
	}
	for _, h := range p.ResponseHeaders {
		fmt.Fprintf(&b, "response header %s: %s (%s)\n", h.Name, h.Value, rule(h.Rule))
	}
	for _, c := range p.Cookies {
		fmt.Fprintf(&b, "cookie %s (%s)\n", c.Cookie.String(), rule(c.Rule))
	}
	for i, e := range p.Edits {
		fmt.Fprintf(&b, "edit %s %v %q %q %q n=%d (%s)\n", sel(e.Selector), e.Op, e.Content, e.Attr, e.Value, e.N, rule(p.EditRules[i]))
	}
	for i, e := range p.JSONEdits {
		fmt.Fprintf(&b, "json %v %s %s (%s)\n", e.Op, e.Path, e.Value, rule(p.JSONRules[i]))
	}
	for i, id := range p.MarkSeen {
		fmt.Fprintf(&b, "mark seen %s (%s)\n", id, rule(p.MarkSeenRules[i]))
	}
	for _, sk := range p.Skipped {
		fmt.Fprintf(&b, "skipped %s action %d for %s: %s\n", rule(sk.Rule), sk.Action, rule(sk.Winner), sk.Reason)
	}
	capped := make([]string, len(p.Capped))
	for i, ri := range p.Capped {
		capped[i] = rule(ri)
	}
	slices.Sort(capped)
	fmt.Fprintf(&b, "capped %v\nexperiments %q\n", capped, p.Experiments)
	return b.String()
}
