package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckRefusesInjection: `bespoke check` names the value that would
// choose a link's scheme, with its position and the fix; `bespoke
// explain` shows a value the allow-list refused, and the default used.
func TestCheckRefusesInjection(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("rules:\n  - name: buy\n    actions:\n      - set_attr: { select: a.buy, name: href, value: \"{{ query('u') or '/buy' }}\" }\n"), 0o644)
	code, out, errOut := bespoke("check", bad)
	if code != 1 || !strings.Contains(out+errOut, "bad.yaml:4:56: the URL in href starts with {{ }}") || !strings.Contains(out+errOut, "schemes: [https, relative]") {
		t.Errorf("exit %d:\n%s%s", code, out, errOut)
	}

	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("rules:\n  - name: buy\n    actions:\n      - set_attr: { select: a.buy, name: href, value: \"{{ query('u') or '/buy' }}\", schemes: [https, relative] }\n"), 0o644)
	code, out, errOut = bespoke("explain", "--rules", good, "--url", "/?u=javascript:alert(1)")
	if code != 0 || !strings.Contains(out, `href="/buy"`) || !strings.Contains(out, "refused: buy action 1, value replaced by its default") {
		t.Errorf("exit %d:\n%s%s", code, out, errOut)
	}
}
