package proxy_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/metrics"
	"github.com/bespoke-edge/bespoke/host/internal/proxy"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/plugin"
)

// TestEditedManifestsAreNotApplied: the reported plugins, compiled from
// rule files the checker accepts and then edited by hand, served through
// the real proxy on loopback with a manifest that was never validated
// (ReadArtifact refuses them: TestReadArtifactRefusesEditedManifests):
// no action the checker would refuse is applied, whatever the request
// says, and each is counted as refused. The visitor's id cookie stays
// the proxy's.
func TestEditedManifestsAreNotApplied(t *testing.T) {
	const evil = "0;url=https://evil.example/"
	tests := []struct {
		name   string
		action string
		edit   func(a *plugin.Action)
		path   string
		// check looks at the response for what the edited action would
		// have done.
		check func(t *testing.T, r *http.Response, body string)
	}{
		{"refresh in lower case", `- set_header: { name: X-Rrrrr, value: "{{ query('v') }}" }`,
			func(a *plugin.Action) { a.Name = "refresh" }, "/?v=" + url.QueryEscape(evil),
			func(t *testing.T, r *http.Response, _ string) {
				if v := r.Header.Values("Refresh"); len(v) > 0 {
					t.Errorf("Refresh: %q", v)
				}
			}},
		{"access-control-allow-origin", `- set_header: { name: X-Rrrrr, value: "{{ query('v') }}" }`,
			func(a *plugin.Action) { a.Name = "access-control-allow-origin" }, "/?v=https://evil.example",
			func(t *testing.T, r *http.Response, _ string) {
				if v := r.Header.Values("Access-Control-Allow-Origin"); len(v) > 0 {
					t.Errorf("Access-Control-Allow-Origin: %q", v)
				}
			}},
		{"Set-Cookie", `- set_header: { name: X-Rrrrrrrrrr, value: "bsk_vid={{ query('v') }}; Path=/" }`,
			func(a *plugin.Action) { a.Name = "Set-Cookie" }, "/?v=AAAAAAAAAAAAAAAAAAAAAA",
			func(t *testing.T, r *http.Response, _ string) {
				for _, c := range r.Header.Values("Set-Cookie") {
					if strings.Contains(c, "AAAAAAAAAAAAAAAAAAAAAA") {
						t.Errorf("Set-Cookie: %s", c)
					}
				}
			}},
		{"bespoke's cookie", `- set_cookie: { name: plan, value: "{{ query('v') }}" }`,
			func(a *plugin.Action) { a.Name = reqctx.VisitorCookie }, "/?v=AAAAAAAAAAAAAAAAAAAAAA",
			func(t *testing.T, r *http.Response, _ string) {
				for _, c := range r.Cookies() {
					if c.Value == "AAAAAAAAAAAAAAAAAAAAAA" {
						t.Errorf("cookie %s=%s", c.Name, c.Value)
					}
				}
			}},
		{"raw JSON from a value", `- json_set: { path: user, value: "{{ query('v') }}" }`,
			func(a *plugin.Action) { a.JSON = true }, "/api?v=" + url.QueryEscape(`{"admin":true}`),
			func(t *testing.T, _ *http.Response, body string) {
				if strings.Contains(body, `"admin":true`) || body != `{"user":{"name":"ann"}}` {
					t.Errorf("body %s", body)
				}
			}},
		{"an unclosed script before a value", `- append: { select: "#a", html: "<b>hi</b>" }`,
			func(a *plugin.Action) { a.Content[0].Text = "<script>" }, "/",
			func(t *testing.T, _ *http.Response, body string) {
				if strings.Contains(body, "<script>") {
					t.Errorf("body %s", body)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "rules:\n  - name: r\n    actions:\n      " + tt.action + "\n"
			res, err := compiler.Compile("rules.yaml", []byte(src))
			if err != nil {
				t.Fatalf("the rule file is refused: %v", err)
			}
			tt.edit(&res.Artifact.Manifest.Rules[0].Actions[0])
			m := metrics.New()
			e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/api" {
					w.Header().Set("Content-Type", "application/json")
					io.WriteString(w, `{"user":{"name":"ann"}}`)
					return
				}
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, `<p id="a">a</p><p id="b">b</p>`)
			}), nil, func(c *proxy.Config) { c.Metrics, c.Route = m, "shop" })
			e.loadArtifact(t, res.Artifact)
			r := e.get(t, tt.path)
			tt.check(t, r.Response, r.body)
			if got := routeCounter(t, m, "bespoke_refused_values_total", "shop"); got != 1 {
				t.Errorf("bespoke_refused_values_total{route=shop} = %v, want 1", got)
			}
		})
	}
}
