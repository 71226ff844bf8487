package site_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
)

// TestVariesByPath: the Vary lists of a request leave out what only the
// rules that cannot apply on its path read: a redirect of "/old" for
// French visitors, a banner of the shop's pages for phones. They named
// it on every URL of the route, so that a shared cache kept a copy of
// the home page and of every style sheet per country.
func TestVariesByPath(t *testing.T) {
	s := loadRules(t, `rules:
  - name: old-fr
    when: path == "/old" and geo.country == "FR"
    actions:
      - redirect: { to: "/fr/" }
  - name: shop-phones
    when: path starts_with "/shop/" and device.type == "mobile"
    actions:
      - insert_before: { select: h1, html: "<p>app</p>" }
  - name: api-lang
    when: (path == "/api/cards" or path matches "^/api/v[0-9]+/cards$") and language == "de"
    actions:
      - json_set: { path: title, value: Hallo }
  - name: club
    when: cookie("club") == "gold"
    actions:
      - set_inner: { select: h1, text: Welcome }
`)
	tests := []struct {
		path                 string
		page, nonHTML, asset string
	}{
		{"/", "Cookie", "", ""},
		{"/old", "Cf-Ipcountry", "Cf-Ipcountry", "Cf-Ipcountry"},
		{"/shop/tents", "User-Agent", "", ""},
		{"/api/cards", "Accept-Language", "Accept-Language", ""},
		{"/api/v2/cards", "Accept-Language", "Accept-Language", ""},
		{"/api/v2/cards/1", "", "", ""},
	}
	r := s.NewRequest()
	defer s.Release(r)
	for _, tt := range tests {
		hr := httptest.NewRequest("GET", tt.path, nil)
		s.Decide(context.Background(), hr, reqctx.ResolveVisitor(hr), false, nil, r)
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		v := r.Varies
		if v == nil {
			t.Fatalf("%s: no Varies", tt.path)
		}
		lists := map[string][]string{"page": v.Page, "non-HTML": v.NonHTML, "asset": v.Asset}
		for name, want := range map[string]string{"page": tt.page, "non-HTML": tt.nonHTML, "asset": tt.asset} {
			got := strings.Join(lists[name], ", ")
			for _, h := range strings.Split(want, ", ") {
				if h != "" && !strings.Contains(got, h) {
					t.Errorf("%s: the %s Vary %q lacks %s", tt.path, name, got, h)
				}
			}
			for _, h := range []string{"Cf-Ipcountry", "User-Agent", "Accept-Language"} {
				if strings.Contains(got, h) && !strings.Contains(want, h) {
					t.Errorf("%s: the %s Vary %q names %s, which no rule that may apply there reads", tt.path, name, got, h)
				}
			}
		}
		// Every list of the path is within the site's.
		for _, h := range v.Page {
			if !strings.Contains(strings.Join(s.Vary(), ","), h) {
				t.Errorf("%s: the page Vary names %s, which the site's does not", tt.path, h)
			}
		}
	}
}

// TestVariesByPathKeepExperiments: a page names the visitor's variants
// whatever rules apply on its path, so its Vary names what the variant
// depends on (the experiment's condition, its bucket) on every path,
// even where the only rule that reads the variant cannot apply: a
// shared cache's copy of a visitor outside the experiment would go to
// one in it, who would see no variant named.
func TestVariesByPathKeepExperiments(t *testing.T) {
	s := loadRules(t, `experiments:
  - name: fr-test
    when: geo.country == "FR"
    variants: { a: 50, b: 50 }
rules:
  - name: fr-b
    when: path == "/promo" and variant("fr-test") == "b"
    actions:
      - set_inner: { select: h1, text: B }
  - name: shop-phones
    when: path starts_with "/shop/" and device.type == "mobile"
    actions:
      - insert_before: { select: h1, html: "<p>app</p>" }
`)
	r := s.NewRequest()
	defer s.Release(r)
	hr := httptest.NewRequest("GET", "/", nil)
	s.Decide(context.Background(), hr, reqctx.ResolveVisitor(hr), false, nil, r)
	if r.Err != nil || r.Varies == nil {
		t.Fatalf("err %v, varies %v", r.Err, r.Varies)
	}
	page := strings.Join(r.Varies.Page, ", ")
	if !strings.Contains(page, "Cf-Ipcountry") || !strings.Contains(page, "Cookie") {
		t.Errorf("/: the page Vary %q lacks what the experiment's variant depends on (the country, the visitor cookie)", page)
	}
	if strings.Contains(page, "User-Agent") {
		t.Errorf("/: the page Vary %q names the device, which only a rule of /shop/ reads", page)
	}
}

// TestVariesByDecision: a value only a rule's actions insert (a header
// naming the country, for editors previewing) is named in the Vary of
// the responses the rule applied to, not of every response: every
// visitor's style sheet varied with the country.
func TestVariesByDecision(t *testing.T) {
	s := loadRules(t, `rules:
  - name: preview-header
    when: header("X-Preview") == "1"
    actions:
      - set_header: { name: X-Bespoke-Preview, value: "on; country={{ geo.country or 'unknown' }}" }
  - name: greet
    when: cookie("club") == "gold"
    actions:
      - set_inner: { select: h1, text: "Bonjour {{ header('X-Name') or '' }}" }
`)
	r := s.NewRequest()
	defer s.Release(r)
	for _, tt := range []struct {
		name    string
		headers []string
		asset   string // what the asset list must name ("" for nothing)
		named   bool   // the page's names X-Name
	}{
		{"a visitor", nil, "X-Preview", false},
		{"an editor previewing", []string{"X-Preview", "1"}, "Cf-Ipcountry", false},
		{"a club member", []string{"Cookie", "club=gold"}, "X-Preview", true},
	} {
		hr := httptest.NewRequest("GET", "/style.css", nil)
		for i := 0; i+1 < len(tt.headers); i += 2 {
			hr.Header.Set(tt.headers[i], tt.headers[i+1])
		}
		s.Decide(context.Background(), hr, reqctx.ResolveVisitor(hr), false, nil, r)
		if r.Err != nil || r.Varies == nil {
			t.Fatalf("%s: err %v, varies %v", tt.name, r.Err, r.Varies)
		}
		asset := strings.Join(r.Varies.Asset, ", ")
		if !strings.Contains(asset, tt.asset) || !strings.Contains(asset, "X-Preview") {
			t.Errorf("%s: the asset Vary %q lacks %s or X-Preview", tt.name, asset, tt.asset)
		}
		if tt.asset != "Cf-Ipcountry" && strings.Contains(asset, "Cf-Ipcountry") {
			t.Errorf("%s: the asset Vary %q names the country, which only the value of a rule that did not apply reads", tt.name, asset)
		}
		page := strings.Join(r.Varies.Page, ", ")
		if got := strings.Contains(page, "X-Name"); got != tt.named {
			t.Errorf("%s: the page Vary %q names X-Name: %v, want %v", tt.name, page, got, tt.named)
		}
	}
}
