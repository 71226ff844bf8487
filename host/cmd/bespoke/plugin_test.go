package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/internal/guest"
	"github.com/bespoke-edge/bespoke/plugin"
)

// TestServeRefusesAnEditedPlugin: serve --plugin refuses a compiled
// plugin whose manifest was edited by hand to write a value of the
// request into a header the checker refuses (a lower-case refresh, the
// proxy's Set-Cookie), naming the rule and why; the plugin as compiled
// loads.
func TestServeRefusesAnEditedPlugin(t *testing.T) {
	src := `rules:
  - name: r
    actions:
      - set_header: { name: X-Rrrrrrrrrr, value: "{{ query('v') }}" }
`
	res, err := compiler.Compile("rules.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	serve := func(name string, wasm []byte) (int, string) {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, wasm, 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := bespoke("serve", "--plugin", path, "--origin", "http://127.0.0.1:18700", "--listen", "127.0.0.1:0", "--admin", "", "--check")
		return code, out + errOut
	}
	if code, out := serve("compiled.wasm", res.Artifact.Wasm); code != 0 {
		t.Fatalf("the plugin as compiled: exit %d\n%s", code, out)
	}
	for _, tt := range []struct{ name, want string }{
		{"refresh", `manifest rule "r" action 0 (set_header at 4:9): a value from the request cannot go in the Refresh header`},
		{"Set-Cookie", `rules cannot set the Set-Cookie header`},
		{"Set-Cookie  ", `"Set-Cookie  " is not a header name`},
	} {
		wasm, err := guest.Patch(res.Artifact.Wasm, func(m *plugin.Manifest) { m.Rules[0].Actions[0].Name = tt.name })
		if err != nil {
			t.Fatal(err)
		}
		code, out := serve("edited.wasm", wasm)
		if code == 0 || !strings.Contains(out, `edited.wasm: manifest rule "r" action 0`) || !strings.Contains(out, tt.want) {
			t.Errorf("%q: exit %d, want an error saying %q\n%s", tt.name, code, tt.want, out)
		}
	}
}
