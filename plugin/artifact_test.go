package plugin_test

import (
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/internal/guest"
	"github.com/bespoke-edge/bespoke/plugin"
)

// TestReadArtifactRefusesEditedManifests: a plugin compiled from a rule
// file the checker accepts, whose manifest was then edited by hand to
// say what the checker refuses, is refused when the host reads it
// (serve --plugin x.wasm), naming the rule and the action. The edits are
// those reported: a policy header in lower case, a header or cookie that
// is the proxy's, raw JSON from a value; and the other checks of the
// rule checker that keep a visitor's value from becoming code (a
// redirect's status, markup that does not finish what it starts).
func TestReadArtifactRefusesEditedManifests(t *testing.T) {
	tests := []struct {
		name   string
		action string // the action of the rule file, as the checker accepts it
		edit   func(a *plugin.Action)
		want   string
	}{
		{"refresh in lower case", `- set_header: { name: X-Rrrrr, value: "{{ query('v') }}" }`,
			func(a *plugin.Action) { a.Name = "refresh" }, `manifest rule "r" action 0 (set_header at 4:9): a value from the request cannot go in the Refresh header`},
		{"location in lower case", `- set_header: { name: X-Rrrrr, value: "/{{ query('v') }}" }`,
			func(a *plugin.Action) { a.Name = "location" }, "cannot go in the Location header"},
		{"CORS in lower case", `- set_header: { name: X-Rrrrr, value: "{{ query('v') }}" }`,
			func(a *plugin.Action) { a.Name = "access-control-allow-origin" }, "cannot go in the Access-Control-Allow-Origin header"},
		{"CSP in lower case", `- set_header: { name: X-Rrrrr, value: "{{ query('v') }}" }`,
			func(a *plugin.Action) { a.Name = "content-security-policy" }, "cannot go in the Content-Security-Policy header"},
		{"a CORS header not listed", `- set_header: { name: X-Rrrrr, value: "{{ query('v') }}" }`,
			func(a *plugin.Action) { a.Name = "Access-Control-Max-Age" }, "cannot go in the Access-Control-Max-Age header"},
		{"reporting endpoints", `- set_header: { name: X-Rrrrr, value: "{{ query('v') }}" }`,
			func(a *plugin.Action) { a.Name = "Reporting-Endpoints" }, "cannot go in the Reporting-Endpoints header"},
		{"Set-Cookie", `- set_header: { name: X-Rrrrrrrrrr, value: "bsk_vid={{ query('v') }}" }`,
			func(a *plugin.Action) { a.Name = "Set-Cookie" }, "rules cannot set the Set-Cookie header: use the set_cookie action"},
		{"Set-Cookie with spaces", `- set_header: { name: X-Rrrrrrrrrr, value: "bsk_vid={{ query('v') }}" }`,
			func(a *plugin.Action) { a.Name = "Set-Cookie  " }, `"Set-Cookie  " is not a header name`},
		{"Content-Length in lower case", `- set_header: { name: X-Rrrrr, value: "0" }`,
			func(a *plugin.Action) { a.Name = "content-length" }, "rules cannot set the Content-Length header"},
		{"Host of the request", `- set_header: { name: X-Rrrrr, value: "{{ query('v') }}", on: request }`,
			func(a *plugin.Action) { a.Name = "host" }, "rules cannot set the Host header"},
		{"a header line", `- set_header: { name: X-Rrrrr, value: "1" }`,
			func(a *plugin.Action) { a.Name = "X-A: b\r\nRefresh" }, "is not a header name"},
		{"bespoke's cookie", `- set_cookie: { name: plan, value: "{{ query('v') }}" }`,
			func(a *plugin.Action) { a.Name = "bsk_vid" }, "cookie names starting with bsk_ belong to bespoke"},
		{"a cookie name with =", `- set_cookie: { name: plan, value: "{{ query('v') }}" }`,
			func(a *plugin.Action) { a.Name = "a=b; Domain" }, "is not a cookie name"},
		{"raw JSON from a value", `- json_set: { path: user, value: "{{ query('v') }}" }`,
			func(a *plugin.Action) { a.JSON = true }, "raw JSON cannot interpolate values"},
		{"raw JSON that is not JSON", `- json_set: { path: user, json: '{"a": 1}' }`,
			func(a *plugin.Action) { a.Value[0].Text = `{"a": ` }, "is not valid JSON"},
		{"a redirect that is not one", `- redirect: /fr/`,
			func(a *plugin.Action) { a.Status = 0 }, "redirect status 0 is not a redirect"},
		{"an unclosed script", `- append: { select: "#a", html: "<b>hi</b>" }`,
			func(a *plugin.Action) { a.Content[0].Text = "<script>" }, "<script>"},
		{"an unclosed quote", `- append: { select: "#a", html: "<b>hi</b>" }`,
			func(a *plugin.Action) { a.Content[0].Text = `<b title="` }, "quote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "rules:\n  - name: r\n    actions:\n      " + tt.action + "\n"
			res, err := compiler.Compile("rules.yaml", []byte(src))
			if err != nil {
				t.Fatalf("the rule file is refused: %v", err)
			}
			if _, err := plugin.ReadArtifact(res.Artifact.Wasm); err != nil {
				t.Fatalf("the plugin as compiled is refused: %v", err)
			}
			wasm, err := guest.Patch(res.Artifact.Wasm, func(m *plugin.Manifest) { tt.edit(&m.Rules[0].Actions[0]) })
			if err != nil {
				t.Fatal(err)
			}
			_, err = plugin.ReadArtifact(wasm)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ReadArtifact: %v, want an error saying %q", err, tt.want)
			}
		})
	}
}
