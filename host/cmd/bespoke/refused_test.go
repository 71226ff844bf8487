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

// TestExplainCookieNotSet: `bespoke explain` says why a cookie from a
// value of the request is not set on a request without that value.
func TestExplainCookieNotSet(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "ref.yaml")
	os.WriteFile(rules, []byte("rules:\n  - name: keep-ref\n    actions:\n      - set_cookie: { name: ref, value: '{{ query(\"ref\") }}', max_age: 30d }\n"), 0o644)
	code, out, errOut := bespoke("explain", "--rules", rules, "--url", "/next")
	if code != 0 || strings.Contains(out, "cookie ref=") || !strings.Contains(out, `not applied: keep-ref action 1, cookie ref not set: query("ref") is missing and has no default`) {
		t.Errorf("exit %d:\n%s%s", code, out, errOut)
	}
	code, out, errOut = bespoke("explain", "--rules", rules, "--url", "/?ref=mail")
	if code != 0 || !strings.Contains(out, "cookie ref=mail;") {
		t.Errorf("exit %d:\n%s%s", code, out, errOut)
	}
}
