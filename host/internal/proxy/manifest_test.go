package proxy_test

import (
	"fmt"
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

// TestValuesAsCodeOnTheElement: the reported rule file, which the
// checker accepts (its selectors do not say which elements they
// select), served through the real proxy on loopback: one action gives
// a <meta name="description"> http-equiv="refresh", the other its
// content from the query, and the content is not written, in either
// order of the actions; a value from the query does not become the type
// of an inert <script>. Each element refused is counted in
// bespoke_refused_values_total, with edit maps (a page spliced from its
// map) as without.
func TestValuesAsCodeOnTheElement(t *testing.T) {
	page := `<!DOCTYPE html><html><head><meta id="m2" name="description" content="shop">` +
		`<script id="tpl" type="text/plain">alert(1)</script></head><body><p id="p">x</p></body></html>`
	equiv := `- set_attr: { select: "#m2", name: http-equiv, value: "refresh" }`
	content := `- set_attr: { select: "#m2", name: content, value: "{{ query('v') }}" }`
	typ := `- set_attr: { select: "#tpl", name: type, value: "{{ query('t') }}" }`
	text := `- set_inner: { select: "#p", text: "{{ query('v') }}" }`
	want := `<meta id="m2" name="description" content="shop" http-equiv="refresh">` +
		`<script id="tpl" type="text/plain">alert(1)</script></head><body><p id="p">0;url=https://evil.example/</p>`
	for _, order := range []struct {
		name    string
		actions []string
	}{{"http-equiv first", []string{equiv, content, typ, text}}, {"content first", []string{content, typ, text, equiv}}} {
		for _, maps := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, maps %v", order.name, maps), func(t *testing.T) {
				m := metrics.New()
				opts := []func(*proxy.Config){func(c *proxy.Config) { c.Metrics, c.Route = m, "shop" }}
				if maps {
					opts = append(opts, func(c *proxy.Config) { c.EditMapCache = 4 << 20 })
				}
				src := "rules:\n  - name: r\n    actions:\n      " + strings.Join(order.actions, "\n      ") + "\n"
				e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/html; charset=utf-8")
					io.WriteString(w, page)
				}), []byte(src), opts...)
				const requests = 3
				for range requests {
					r := e.get(t, "/?"+url.Values{"v": {"0;url=https://evil.example/"}, "t": {"module"}}.Encode())
					if !strings.Contains(r.body, want) {
						t.Errorf("got  %s\nwant %s", r.body, want)
					}
				}
				if maps && e.p.EditMapStats().Hits.Load() == 0 {
					t.Error("no page was spliced from its map")
				}
				// The content and the type, on each page.
				if got := routeCounter(t, m, "bespoke_refused_values_total", "shop"); got != 2*requests {
					t.Errorf("bespoke_refused_values_total{route=shop} = %v, want %d", got, 2*requests)
				}
			})
		}
	}
}
