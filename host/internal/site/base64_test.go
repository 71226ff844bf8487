package site_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/internal/eval"
)

// TestBase64Decides: rules on base64(...) compiled by the real compiler,
// decided by the Wasm module in this process and from its .wasm file,
// on values the context builder computes from requests; the reference
// evaluator agrees, and the page's Vary names the header decoded.
func TestBase64Decides(t *testing.T) {
	const rules = `rules:
  - name: gold
    when: json(base64(header("X-Userinfo")), "tier") == "gold"
    actions:
      - add_class: { select: body, class: gold }
  - name: staff
    when: json(base64(header("X-Userinfo")), "email") ends_with "@example.com"
    actions:
      - add_class: { select: body, class: staff }
  - name: dark
    when: base64(cookie("prefs")) contains "theme=dark"
    actions:
      - add_class: { select: body, class: dark }
  - name: many
    when: base64(query("n")) >= 3
    actions:
      - add_class: { select: body, class: many }
`
	// {"email":"ana@example.com","tier":"gold"}, standard and padded;
	// {"email":"bo@example.org","tier":"silver","name":"??>"}, URL-safe
	// and unpadded, as a JWT's payload.
	const ana = "eyJlbWFpbCI6ImFuYUBleGFtcGxlLmNvbSIsInRpZXIiOiJnb2xkIn0="
	const bo = "eyJlbWFpbCI6ImJvQGV4YW1wbGUub3JnIiwidGllciI6InNpbHZlciIsIm5hbWUiOiI_Pz4ifQ"
	tests := []struct {
		name, url, userinfo, cookie string
		match                       []string
	}{
		{"a gold member", "/", ana, "", []string{"gold", "staff"}},
		{"a silver member elsewhere", "/", bo, "", nil},
		{"a member of the staff", "/", strings.Replace(bo, "ImJvQGV4YW1wbGUub3Jn", "ImJvQGV4YW1wbGUuY29t", 1), "", []string{"staff"}}, // bo@example.com
		{"JSON not in base64", "/", `{"tier":"gold"}`, "", nil},
		{"base64 with spaces around", "/", "  " + ana + " ", "", []string{"gold", "staff"}},
		{"base64 cut short", "/", ana[:len(ana)-3], "", nil},
		{"a cookie in base64", "/", "", "prefs=dGhlbWU9ZGFyaztmb250PWxhcmdl", []string{"dark"}},
		{"a cookie not in base64", "/", "", "prefs=theme=dark", nil},
		{"a number in a query parameter", "/?n=NA", "", "", []string{"many"}}, // "4"
		{"a small number", "/?n=Mg==", "", "", nil},                           // "2"
	}
	for _, how := range modes {
		t.Run(string(how), func(t *testing.T) {
			s, res := loadSiteAs(t, how, "b64.yaml", []byte(rules))
			ev, err := eval.New(res.Program)
			if err != nil {
				t.Fatal(err)
			}
			r := s.NewRequest()
			defer s.Release(r)
			for _, tt := range tests {
				hr := httptest.NewRequest("GET", tt.url, nil)
				if tt.userinfo != "" {
					hr.Header.Set("X-Userinfo", tt.userinfo)
				}
				if tt.cookie != "" {
					hr.Header.Set("Cookie", tt.cookie)
				}
				s.Decide(context.Background(), hr, reqctx.ResolveVisitor(hr), false, nil, r)
				if r.Err != nil {
					t.Fatal(r.Err)
				}
				var got []string
				ref := ev.Eval(&eval.Env{Values: r.Values})
				for i, rule := range res.Program.Rules {
					if r.Decision.Has(i) {
						got = append(got, rule.Name)
					}
					if r.Decision.Has(i) != ref.Has(i) {
						t.Errorf("%s: %s: the module says %v, the reference evaluator %v", tt.name, rule.Name, r.Decision.Has(i), ref.Has(i))
					}
				}
				if !slices.Equal(got, tt.match) {
					t.Errorf("%s: matched %q, want %q", tt.name, got, tt.match)
				}
				for _, h := range []string{"X-Userinfo", "Cookie"} {
					if !slices.Contains(r.Varies.Page, h) {
						t.Errorf("%s: the page's Vary %q does not name %s", tt.name, r.Varies.Page, h)
					}
				}
			}
		})
	}
}
