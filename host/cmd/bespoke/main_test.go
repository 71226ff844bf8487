package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/plugin"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const demoRules = "../../../testdata/demo/rules.yaml"

const iPhone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"

// bespoke runs the command line in process and returns its exit code and
// output.
func bespoke(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		code  int
		wants []string // in stdout + stderr
	}{
		{"good file", []string{"check", demoRules}, 0, nil},
		{"every misspelt attribute", []string{"check", "testdata/misspelt.yaml"}, 1, []string{
			"testdata/misspelt.yaml:3:11:", `did you mean "geo.country"?`,
			"testdata/misspelt.yaml:7:11:", `did you mean "device.type"?`, "2 errors",
		}},
		{"misspelt action", []string{"check", "testdata/misspelt-action.yaml"}, 1, []string{
			"testdata/misspelt-action.yaml:5:9:", `did you mean "set_inner"?`,
		}},
		{"a configuration file", []string{"check", "testdata/config.yaml"}, 1, []string{
			"testdata/config.yaml is a configuration file, not a rule file: check it with bespoke serve --config testdata/config.yaml --check",
		}},
		{"missing file", []string{"check", "testdata/nope.yaml"}, 1, []string{"nope.yaml"}},
		{"no file", []string{"check"}, 2, []string{"check"}},
		{"unknown command", []string{"frobnicate"}, 2, []string{"frobnicate"}},
		{"misspelt command", []string{"chek", "x.yaml"}, 2, []string{`unknown command "chek"; did you mean "check"?`}},
		{"misspelt attribute in explain", []string{"explain", "--rules", demoRules, "--set", "geo.contry=NZ"}, 2, []string{`--set "geo.contry=NZ": unknown attribute "geo.contry"; did you mean "geo.country"?`}},
		{"unknown default zone in explain", []string{"explain", "--rules", demoRules, "--timezone", "Europe/Pari"}, 2, []string{`--timezone: unknown time zone Europe/Pari; write an IANA name (Europe/Paris, America/New_York, UTC)`}},
		{"unknown default zone in preview", []string{"preview", "--rules", demoRules, "--timezone", "Europe/Pari"}, 2, []string{`--timezone: unknown time zone Europe/Pari; write an IANA name (Europe/Paris, America/New_York, UTC)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := bespoke(tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			for _, w := range tt.wants {
				if !strings.Contains(out+errOut, w) {
					t.Errorf("output lacks %q:\n%s%s", w, out, errOut)
				}
			}
		})
	}
}

func TestCompileWritesAPlugin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "site.wasm")
	if code, out, errOut := bespoke("compile", demoRules, "-o", path); code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	art, err := plugin.ReadArtifact(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(art.Manifest.Rules) < 10 {
		t.Errorf("%d rules in the compiled demo", len(art.Manifest.Rules))
	}
}

func TestRuleFileTests(t *testing.T) {
	code, out, errOut := bespoke("test", demoRules)
	if code != 0 || !strings.Contains(out+errOut, "0 failed") {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
}

// TestExplain compares the explanation of a phone visitor from Lyon with
// testdata/explain-lyon-phone.txt (go test -run TestExplain -update
// rewrites it).
func TestExplain(t *testing.T) {
	code, out, errOut := bespoke("explain", "--rules", demoRules,
		"--header", "CF-IPCountry: FR", "--header", "CF-IPCity: Lyon",
		"--user-agent", iPhone, "--visitor", "AAECAwQFBgcICQoLDA0ODw",
		"--at", "2026-12-05T18:30:00+01:00")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	golden := "testdata/explain-lyon-phone.txt"
	if *update {
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("explain output differs from %s (rerun with -update if the change is intended):\n%s", golden, out)
	}
	for _, w := range []string{"french-hero", "app-banner", "nearby-store"} {
		if !strings.Contains(out, w) {
			t.Errorf("explain does not mention %s", w)
		}
	}
}

// TestExplainBase64: explain shows what base64(...) decodes, and what
// json() reads in it, beside the header they come from, as it shows
// other computed values; and no value where the header is not base64.
func TestExplainBase64(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	src := `rules:
  - name: gold
    when: json(base64(header("X-Userinfo")), "tier") == "gold" and base64(cookie("prefs")) contains "dark"
    actions:
      - add_class: { select: body, class: gold }
`
	if err := os.WriteFile(rules, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := bespoke("explain", "--rules", rules,
		"--header", "X-Userinfo: eyJzdWIiOiI4ZjFjIiwidGllciI6ImdvbGQifQ", "--cookie", "prefs=not base64")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	for _, want := range []string{
		`base64(header("X-Userinfo")) = "{\"sub\":\"8f1c\",\"tier\":\"gold\"}"`,
		`json(base64(header("X-Userinfo")), "tier") = "gold"`,
		`base64(cookie("prefs"))        (missing)`,
		`base64(cookie("prefs")) is missing`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explain does not say %s:\n%s", want, out)
		}
	}
}

func TestVersion(t *testing.T) {
	if code, out, _ := bespoke("version"); code != 0 || !strings.Contains(out, "bespoke") {
		t.Fatalf("exit %d: %q", code, out)
	}
}

// TestHelp: bespoke help, alone or with a command, answers on stdout
// with status 0, as -h after the command does (which answered on
// stderr: bespoke serve -h | less showed nothing).
func TestHelp(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"help"}, "Run 'bespoke COMMAND -h'"},
		{[]string{"--help"}, "Run 'bespoke COMMAND -h'"},
		{[]string{"help", "serve"}, "-edit-map-cache"},
		{[]string{"help", "compile"}, "Usage: bespoke compile"},
		{[]string{"help", "explain"}, "-cookie"},
		{[]string{"serve", "-h"}, "-edit-map-cache"},
		{[]string{"check", "--help"}, "Usage: bespoke check"},
		{[]string{"test", "-help"}, "Usage: bespoke test"},
	} {
		code, out, errOut := bespoke(c.args...)
		if code != 0 || !strings.Contains(out, c.want) || errOut != "" {
			t.Errorf("bespoke %s: exit %d, stdout %q, stderr %q: want 0 and %q on stdout",
				strings.Join(c.args, " "), code, out, errOut, c.want)
		}
	}
	if code, _, errOut := bespoke("help", "nonsense"); code != 2 || !strings.Contains(errOut, `unknown command "nonsense"`) {
		t.Errorf("bespoke help nonsense: exit %d, stderr %q: want 2 and the command named", code, errOut)
	}
	for cmd := range commands {
		if code, out, _ := bespoke("help", cmd); code != 0 || !strings.Contains(out, "Usage: bespoke "+cmd) {
			t.Errorf("bespoke help %s: exit %d, %q", cmd, code, out)
		}
	}
}

// TestCommandLineMistakes: a mistake in the command line says what is
// wrong once, names the option as it was typed, and exits 2; a file
// named as check, test and compile take it is what explain explains
// (it used to explain the demo's rules in its place, exit 0).
func TestCommandLineMistakes(t *testing.T) {
	rules := "../../../testdata/demo/rules.yaml"
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"check", "--nope", rules}, 2, "bespoke check: unknown option --nope (bespoke check -h lists the options)"},
		{[]string{"serve", "--watch", "5"}, 2, `--watch 5 is not a duration (write 250ms, 30s, 12h or 7d)`},
		{[]string{"serve", "-pool-size", "x"}, 2, `-pool-size x is not a whole number`},
		{[]string{"serve", "--access-log=maybe"}, 2, `--access-log maybe is not true or false`},
		{[]string{"serve", "--grace"}, 2, `--grace needs a value`},
		{[]string{"explain", rules, "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"explain", "--rules", rules, rules}, 2, `already given with --rules`},
		{[]string{"explain", "--rules", rules, "--plugin", "x.wasm"}, 2, `give --rules or --plugin, not both`},
		{[]string{"test", "--pages", "/nonexistent", rules}, 2, `--pages "/nonexistent": not a directory`},
		{[]string{"test", "/nonexistent.yaml"}, 3, `/nonexistent.yaml: no such file or directory`},
		{[]string{"serve", "--demo", "--cache-dir", "-", "--listen", "7720", "--check"}, 2, `bespoke serve: --listen "7720": missing port in address`},
		{[]string{"serve", "--demo", "--cache-dir", "-", "--log-format", "jsno", "--check"}, 2, `--log-format is text or json, not "jsno"`},
		{[]string{"serve", "--demo", "--cache-dir", "-", "--watch", "1d", "--grace", "2w", "--listen", "127.0.0.1:0", "--admin", "", "--check"}, 0, ""},
	} {
		var out, errOut bytes.Buffer
		code := run(tt.args, &out, &errOut)
		if code != tt.code || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("%q: exit %d, want %d; stderr %q, want it to hold %q", tt.args, code, tt.code, errOut.String(), tt.want)
		}
		if tt.code == 2 && strings.Contains(errOut.String(), "Options:") {
			t.Errorf("%q: a mistake prints every option: %q", tt.args, errOut.String())
		}
	}
	// The file given as an argument is explained, not the demo's rules.
	dir := t.TempDir()
	own := filepath.Join(dir, "own.yaml")
	os.WriteFile(own, []byte("version: 1\nrules:\n  - name: mine\n    when: geo.country == \"FR\"\n    actions: [ { remove: \"#x\" } ]\n"), 0o644)
	var out, errOut bytes.Buffer
	if code := run([]string{"explain", own, "--set", "geo.country=FR"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "✓ mine") || strings.Contains(out.String(), "french-hero") {
		t.Fatalf("explain FILE: exit %d\n%s%s", code, &out, &errOut)
	}
}

// TestExplainRecordsOnly: a rule that only records a view (mark_seen)
// leaves the page as the origin sends it, but the proxy serves it
// private, with the cookie that records the view: explain says both,
// and names the rule beside its action.
func TestExplainRecordsOnly(t *testing.T) {
	own := filepath.Join(t.TempDir(), "ms.yaml")
	os.WriteFile(own, []byte("rules:\n  - name: summer-promo-shown\n    actions: [ mark_seen: promo-summer ]\n"), 0o644)
	var out, errOut bytes.Buffer
	if code := run([]string{"explain", own}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, &out, &errOut)
	}
	for _, want := range []string{
		"the page as the origin sends it; this view is recorded:",
		`summer-promo-shown       mark seen "promo-summer"`,
		"not changed, but served with Cache-Control: private",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("explain does not say %q:\n%s", want, &out)
		}
	}
	if strings.Contains(out.String(), "none:") || strings.Contains(out.String(), "origin's caching headers are kept") {
		t.Errorf("explain says the view changes nothing:\n%s", &out)
	}
}

// TestExplainSameForAll: a rule that reads nothing of the visitor gives
// every visitor of the URL the same response, which the proxy serves
// with the origin's caching headers: explain says so, and says private
// where the rule reads the visitor's country.
func TestExplainSameForAll(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ when, want string }{
		{"", "personalized, the same for every visitor of this URL (the rules that changed it read the URL alone): the origin's caching headers are kept"},
		{"    when: geo.country == \"FR\"\n", "personalized for this visitor: served with Cache-Control: private"},
	} {
		own := filepath.Join(dir, "frames.yaml")
		os.WriteFile(own, []byte("rules:\n  - name: frames\n"+tc.when+"    actions: [ { set_header: { name: X-Frame-Options, value: SAMEORIGIN } } ]\n"), 0o644)
		var out, errOut bytes.Buffer
		if code := run([]string{"explain", own, "--header", "CF-IPCountry: FR"}, &out, &errOut); code != 0 {
			t.Fatalf("exit %d\n%s%s", code, &out, &errOut)
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("%q: explain does not say %q:\n%s", tc.when, tc.want, &out)
		}
	}
}

// TestExplainRedirect: a visitor a rule redirects gets the redirect, not
// the page: explain says it goes out as the proxy sends it, private,
// no-store, without the Vary of the page, which it does not carry.
func TestExplainRedirect(t *testing.T) {
	own := filepath.Join(t.TempDir(), "moved.yaml")
	os.WriteFile(own, []byte("rules:\n  - name: french-site\n    when: geo.country == \"FR\"\n    actions: [ redirect: /fr/ ]\n"), 0o644)
	var out, errOut bytes.Buffer
	if code := run([]string{"explain", own, "--header", "CF-IPCountry: FR"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, &out, &errOut)
	}
	for _, want := range []string{
		"french-site              redirect 302 to /fr/",
		"a redirect for this visitor, not the page: served with Cache-Control: private, no-store",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("explain does not say %q:\n%s", want, &out)
		}
	}
	if strings.Contains(out.String(), "Vary") || strings.Contains(out.String(), "personalized for this visitor") {
		t.Errorf("explain describes the page, which the visitor does not get:\n%s", &out)
	}
}

// TestExplainMovedPage: the redirect of a rule on the path alone is
// every visitor's, which caches may keep: explain says so.
func TestExplainMovedPage(t *testing.T) {
	own := filepath.Join(t.TempDir(), "moved.yaml")
	os.WriteFile(own, []byte("rules:\n  - name: moved\n    when: path == \"/sale-2025\"\n    actions: [ { redirect: { to: /sale, status: 301 } } ]\n"), 0o644)
	var out, errOut bytes.Buffer
	if code := run([]string{"explain", own, "--url", "/sale-2025"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, &out, &errOut)
	}
	if want := "a redirect for every visitor of this URL, not the page (the rules that made it read the URL alone): caches may keep it"; !strings.Contains(out.String(), want) {
		t.Errorf("explain does not say %q:\n%s", want, &out)
	}
}

// TestExplainHeldCaps: a capped rule that does not apply to a visitor
// who declines tracking, or to a prefetch, says why under the rule: its
// count read as its cap ("views of "popup" per 1d = 2"), as if the
// visitor had been shown it twice.
func TestExplainHeldCaps(t *testing.T) {
	own := filepath.Join(t.TempDir(), "caps.yaml")
	os.WriteFile(own, []byte("rules:\n  - name: popup\n    at_most: 2 per 1d\n    actions: [ { remove: \"#x\" } ]\n  - name: notice\n    at_most: { times: 2, per: 1d, untracked: show }\n    actions: [ { remove: \"#y\" } ]\n"), 0o644)
	const gpc = "    not for this visitor: the visitor declines tracking (Sec-GPC: 1), and a capped rule does not apply to a visitor it cannot count unless its at_most says untracked: show"
	const prefetch = "    not for this visitor: the request is a prefetch or prerender, which the browser may show without asking again: no capped rule applies to it, so that no showing goes uncounted"
	for _, c := range []struct {
		header        string
		popup, notice string // the rule's line, and what follows it
	}{
		{"", "✓ popup", "✓ notice"},
		{"Sec-GPC: 1", "✗ popup\n" + gpc, "✓ notice"},
		{"Sec-Purpose: prefetch", "✗ popup\n" + prefetch, "✗ notice\n" + prefetch},
	} {
		args := []string{"explain", own}
		if c.header != "" {
			args = append(args, "--header", c.header)
		}
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 0 {
			t.Fatalf("%q: exit %d\n%s%s", c.header, code, &out, &errOut)
		}
		// Each rule's line and the lines under it but its trace's.
		blocks := map[string]string{}
		name := ""
		for line := range strings.SplitSeq(out.String(), "\n") {
			switch {
			case strings.HasPrefix(line, "  ✓ ") || strings.HasPrefix(line, "  ✗ "):
				f := strings.Fields(line)
				name = f[1]
				blocks[name] = f[0] + " " + f[1]
			case name != "" && !strings.HasPrefix(line, "      "):
				name = ""
			case name != "" && strings.HasPrefix(line, "      not "):
				blocks[name] += "\n" + line[2:]
			}
		}
		if blocks["popup"] != c.popup || blocks["notice"] != c.notice {
			t.Errorf("%q:\n%s\n%s\nwant\n%s\n%s\n%s", c.header, blocks["popup"], blocks["notice"], c.popup, c.notice, &out)
		}
		// --json says it in its notes.
		out.Reset()
		if code := run(append(args, "--json"), &out, &errOut); code != 0 {
			t.Fatalf("%q --json: exit %d\n%s%s", c.header, code, &out, &errOut)
		}
		var j struct{ Notes []string }
		if err := json.Unmarshal(out.Bytes(), &j); err != nil {
			t.Fatal(err)
		}
		if held := strings.Contains(c.popup, "not for"); held != (len(j.Notes) == 1 && strings.Contains(j.Notes[0], "popup")) {
			t.Errorf("%q --json: notes %q", c.header, j.Notes)
		}
	}
}

// TestExplainTimeSpellings: every way of giving explain a time reads
// RFC 3339 as a rule's from and until do, T and Z in either case, and
// says the same visitor's hour.
func TestExplainTimeSpellings(t *testing.T) {
	for _, args := range [][]string{
		{"--at", "2026-12-05T20:30:00Z"},
		{"--at", "2026-12-05t20:30:00z"},
		{"--set", "now=2026-12-05T20:30:00Z"},
		{"--set", "now=2026-12-05t20:30:00z"},
		{"--set", "now=2026-12-05t21:30:00+01:00"},
	} {
		code, out, errOut := bespoke(append([]string{"explain", "--rules", demoRules, "--header", "CF-IPCountry: GB"}, args...)...)
		if code != 0 {
			t.Errorf("%q: exit %d: %s", args, code, errOut)
			continue
		}
		if !strings.Contains(out, "visitor.hour                 = 20") {
			t.Errorf("%q: the hour in London is not 20:\n%s", args, out)
		}
	}
}

// TestTestsTimezone: bespoke test reads the hour of a visitor whose
// location names no zone in --timezone, as the proxy does in its
// geo.timezone; UTC without it.
func TestTestsTimezone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "evening.yaml")
	src := `rules:
  - name: evening
    when: visitor.hour >= 18
    actions:
      - add_class: { select: body, class: evening }
tests:
  - name: half past six in Paris
    request: { at: 2026-12-04T17:30:00Z }
    expect: { match: [evening] }
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"test", path}, 1, "1 failed"},
		{[]string{"test", "--timezone", "Europe/Paris", path}, 0, "0 failed"},
		{[]string{"test", "--timezone", "Europe/Pari", path}, 2, "--timezone: unknown time zone Europe/Pari; write an IANA name"},
	} {
		code, out, errOut := bespoke(c.args...)
		if code != c.code || !strings.Contains(out+errOut, c.out) {
			t.Errorf("%q: exit %d, want %d with %q:\n%s%s", c.args, code, c.code, c.out, out, errOut)
		}
	}
}

// TestConsentOptions: bespoke test and explain take the proxy's consent
// settings (seen.consent_cookie, seen.consent_deny) as --consent-cookie
// and --consent-deny, and decide a visitor whose consent cookie declines
// as the proxy does: nothing recorded of what they are shown, capped
// rules as their untracked says. They took such a visitor for one who
// consents.
func TestConsentOptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "consent.yaml")
	src := `rules:
  - name: popup
    at_most: 2 per 1d
    actions:
      - add_class: { select: body, class: popup }
tests:
  - name: a visitor who declines
    request: { cookies: { consent: denied } }
    expect: { no_match: [popup] }
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	consent := []string{"--consent-cookie", "consent", "--consent-deny", "no", "--consent-deny", "denied"}
	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"test", path}, 1, "1 failed"},
		{append([]string{"test", path}, consent...), 0, "0 failed"},
		{[]string{"explain", path, "--cookie", "consent=denied"}, 0, "✓ popup"},
		{append([]string{"explain", path, "--cookie", "consent=denied"}, consent...), 0, "not for this visitor: the visitor declines tracking (their consent cookie)"},
		{append([]string{"explain", path, "--cookie", "consent=granted"}, consent...), 0, "✓ popup"},
		{[]string{"test", "--consent-cookie", "consent", path}, 2, "--consent-cookie is given without --consent-deny"},
		{[]string{"explain", "--consent-deny", "no", path}, 2, "--consent-deny is given without --consent-cookie"},
		{[]string{"test", "--consent-cookie", "con sent", "--consent-deny", "no", path}, 2, `--consent-cookie "con sent": not a cookie name`},
		{[]string{"test", "--consent-cookie", "consent", "--consent-deny", "a;b", path}, 2, `--consent-deny "a;b": no value a cookie holds`},
	} {
		code, out, errOut := bespoke(c.args...)
		if code != c.code || !strings.Contains(out+errOut, c.out) {
			t.Errorf("%q: exit %d, want %d with %q:\n%s%s", c.args, code, c.code, c.out, out, errOut)
		}
	}
}

// TestEmptyRulesOption: a rule file option given empty (a script's
// unset variable, --rules "$RULES") is a mistake, not a request for the
// demo's rules, which explain and preview used in its place (exit 0).
func TestEmptyRulesOption(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"explain", "--rules", ""}, `--rules names no file`},
		{[]string{"explain", "--rules="}, `--rules names no file`},
		{[]string{"explain", "-plugin", ""}, `-plugin names no file`},
		{[]string{"explain", "", "--set", "geo.country=FR"}, `an empty argument names no rule file`},
	} {
		code, out, errOut := bespoke(tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.want) || strings.Contains(out, "french-hero") {
			t.Errorf("%q: exit %d, want 2; stderr %q, want it to hold %q; stdout %.200q", tt.args, code, errOut, tt.want, out)
		}
	}
	// The preview, asked to stop before it starts: it would serve the
	// demo's rules until then.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	err := previewContext(ctx, []string{"--rules", "", "--listen", "127.0.0.1:0"}, &out, io.Discard)
	if !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "--rules names no file") {
		t.Errorf("preview --rules \"\": %v, want a usage error naming --rules; stdout %q", err, &out)
	}
}

// TestExplainSetYesNo: --set reads a yes/no attribute as a test's
// context does, true or yes, false or no; any other value is refused
// (visitor.new=yes and device.bot=1 were read as false, without a word).
func TestExplainSetYesNo(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	src := `rules:
  - name: newcomer
    when: visitor.new and not device.bot
    actions:
      - remove: "#promo"
`
	if err := os.WriteFile(rules, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		set  []string
		code int
		want string
	}{
		{[]string{"visitor.new=yes", "device.bot=no"}, 0, "✓ newcomer"},
		{[]string{"visitor.new=TRUE", "device.bot=False"}, 0, "✓ newcomer"},
		{[]string{"visitor.new=no"}, 0, "✗ newcomer"},
		{[]string{"device.bot=yes"}, 0, "✗ newcomer"},
		{[]string{"visitor.new=1"}, 2, `--set "visitor.new=1": visitor.new is yes/no: write true or false`},
		{[]string{"device.bot=maybe"}, 2, `--set "device.bot=maybe": device.bot is yes/no: write true or false`},
	} {
		args := []string{"explain", rules}
		for _, s := range tt.set {
			args = append(args, "--set", s)
		}
		code, out, errOut := bespoke(args...)
		if code != tt.code || !strings.Contains(out+errOut, tt.want) {
			t.Errorf("%q: exit %d, want %d with %q:\n%s%s", tt.set, code, tt.code, tt.want, out, errOut)
		}
	}
}

// TestExplainRequestOptionMistakes: a malformed --ip or --origin is a
// usage error that names the option and what to write, said before any
// explanation is printed (--ip said ParseAddr's error; --html --origin
// printed the explanation, then Go's "unsupported protocol scheme", exit 1).
func TestExplainRequestOptionMistakes(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--ip", "notanip"}, `--ip "notanip": write an IP address such as 203.0.113.7 or 2001:db8::7`},
		{[]string{"--ip", "203.0.113.7:4000"}, `--ip "203.0.113.7:4000": write an IP address such as 203.0.113.7 or 2001:db8::7`},
		{[]string{"--html", "--origin", "shop.example"}, `--origin "shop.example": write an absolute URL such as http://127.0.0.1:3000`},
		{[]string{"--html", "--origin", "/pages"}, `--origin "/pages": write an absolute URL such as http://127.0.0.1:3000`},
	} {
		code, out, errOut := bespoke(append([]string{"explain", demoRules}, tt.args...)...)
		if code != 2 || !strings.Contains(errOut, tt.want) || out != "" {
			t.Errorf("%q: exit %d, want 2; stderr %q, want it to hold %q; stdout %.100q, want none", tt.args, code, errOut, tt.want, out)
		}
	}
	if code, _, errOut := bespoke("explain", demoRules, "--ip", "2001:db8::7"); code != 0 {
		t.Errorf("--ip 2001:db8::7: exit %d: %s", code, errOut)
	}
}

// TestRuleFileNotThere: a rule file that is not there, a directory in
// its place and an empty argument are said the same way by every
// command that reads one, naming the file as typed, without Go's
// operation ("open : no such file or directory", "read rules: is a
// directory", "stat x.yaml: …").
func TestRuleFileNotThere(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "my rules.yaml")
	for _, tt := range []struct {
		path, want string
	}{
		{"", "an empty argument names no rule file"},
		{dir, dir + ": is a directory; give the rule file"},
		{missing, missing + ": no such file or directory"},
	} {
		for _, cmd := range [][]string{{"check"}, {"check", "--format", "json"}, {"compile"}, {"test"}, {"explain"}} {
			args := append(append([]string{}, cmd...), tt.path)
			code, out, errOut := bespoke(args...)
			said := errOut
			if slices.Contains(cmd, "json") {
				said = out
			}
			if code == 0 || !strings.Contains(said, tt.want) || strings.Contains(out+errOut, "open ") || strings.Contains(out+errOut, "stat ") || strings.Contains(out+errOut, "read ") {
				t.Errorf("%q: exit %d; stdout %q, stderr %q: want %q", args, code, out, errOut, tt.want)
			}
		}
	}
}

// TestHelpVersion: bespoke help version and bespoke help help answer as
// help for the other commands does (they said unknown command "version";
// did you mean "version"?, exit 2), version -h says what version prints,
// and an argument version does not take is a usage error rather than
// ignored.
func TestHelpVersion(t *testing.T) {
	for _, tt := range []struct {
		args []string
		code int
		out  string
		err  string
	}{
		{[]string{"help", "version"}, 0, "Usage: bespoke version", ""},
		{[]string{"version", "-h"}, 0, "Usage: bespoke version", ""},
		{[]string{"version", "--help"}, 0, "Usage: bespoke version", ""},
		{[]string{"help", "help"}, 0, "Run 'bespoke COMMAND -h'", ""},
		{[]string{"version"}, 0, "plugin ABI", ""},
		{[]string{"--version"}, 0, "plugin ABI", ""},
		{[]string{"version", "--json"}, 2, "", "bespoke version: unknown option --json"},
		{[]string{"version", "extra"}, 2, "", `bespoke version: unexpected argument "extra"`},
	} {
		code, out, errOut := bespoke(tt.args...)
		if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errOut, tt.err) || tt.err == "" && errOut != "" {
			t.Errorf("%q: exit %d, want %d; stdout %q, want %q; stderr %q, want %q", tt.args, code, tt.code, out, tt.out, errOut, tt.err)
		}
	}
}

// TestCompileToStdout: compile -o - writes the module to stdout, as
// tools read -, and says so on stderr; it wrote a file named "-".
// Beside --dump-ir or --dump-manifest, which print to stdout too, it
// is refused.
func TestCompileToStdout(t *testing.T) {
	t.Cleanup(func() { os.Remove("-") })
	code, out, errOut := bespoke("compile", demoRules, "-o", "-")
	if code != 0 || !strings.HasPrefix(out, "\x00asm") || !strings.Contains(errOut, "-> standard output") {
		t.Errorf("compile -o -: exit %d, stdout %.20q, stderr %q: want the module on stdout", code, out, errOut)
	}
	if _, err := os.Lstat("-"); err == nil {
		t.Errorf("compile -o - wrote a file named -")
	}
	for _, dump := range []string{"--dump-ir", "--dump-manifest"} {
		code, out, errOut := bespoke("compile", demoRules, "-o", "-", dump)
		if code != 2 || out != "" || !strings.Contains(errOut, "-o - writes the module to stdout, where "+dump+" prints too") {
			t.Errorf("compile -o - %s: exit %d, stdout %.20q, stderr %q: want a usage error", dump, code, out, errOut)
		}
	}
}

// TestExplainFilesNotThere: a --page or --plugin that cannot be read
// stops explain before it prints anything, naming the option, as serve
// names its files: --page printed the whole explanation, then Go's
// "open nope.html: no such file or directory"; --plugin that alone,
// without saying which command or option.
func TestExplainFilesNotThere(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{demoRules, "--page", missing + ".html"}, `bespoke explain: --page "` + missing + `.html": no such file or directory`},
		{[]string{demoRules, "--html", "--page", dir}, `bespoke explain: --page "` + dir + `": is a directory`},
		{[]string{"--plugin", missing + ".wasm"}, `bespoke explain: --plugin "` + missing + `.wasm": no such file or directory`},
		{[]string{missing + ".wasm"}, `bespoke explain: ` + missing + `.wasm: no such file or directory`},
	} {
		code, out, errOut := bespoke(append([]string{"explain"}, tt.args...)...)
		if code != 1 || errOut != tt.want+"\n" || out != "" {
			t.Errorf("%q: exit %d, want 1; stderr %q, want %q; stdout %.100q, want none", tt.args, code, errOut, tt.want, out)
		}
	}
}

// TestExplainHeaderAndCookieNames: a --header or --cookie whose name no
// request could carry is refused, naming it: --header ': FR', --header
// 'X Country: FR' and --cookie 'pl an=pro' explained a visitor without
// them, without a word.
func TestExplainHeaderAndCookieNames(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--header", ": FR"}, `--header ": FR": "" is not a header name`},
		{[]string{"--header", "X Country: FR"}, `--header "X Country: FR": "X Country" is not a header name`},
		{[]string{"--cookie", "=pro"}, `--cookie "=pro": "" is not a cookie name`},
		{[]string{"--cookie", "pl an=pro"}, `--cookie "pl an=pro": "pl an" is not a cookie name`},
	} {
		code, out, errOut := bespoke(append([]string{"explain", demoRules}, tt.args...)...)
		if code != 2 || !strings.Contains(errOut, tt.want) || out != "" {
			t.Errorf("%q: exit %d, want 2; stderr %q, want it to hold %q", tt.args, code, errOut, tt.want)
		}
	}
	if code, _, errOut := bespoke("explain", demoRules, "--header", " X-Preview : 1", "--cookie", " club=gold"); code != 0 {
		t.Errorf("names with spaces around them: exit %d: %s", code, errOut)
	}
}

// TestDoubleDash: after --, every argument is a file, however it
// starts: check -- a.yaml -b.yaml took -b.yaml for an unknown option.
func TestDoubleDash(t *testing.T) {
	dir := t.TempDir()
	src := []byte("rules:\n  - name: fr\n    when: geo.country == \"FR\"\n    actions: [ { remove: \"#promo\" } ]\n")
	for _, name := range []string{"a.yaml", "-b.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, name), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	for _, args := range [][]string{
		{"check", "--", "a.yaml", "-b.yaml"},
		{"check", "--format", "text", "--", "-b.yaml", "a.yaml"},
		{"test", "--", "a.yaml", "-b.yaml"},
	} {
		code, out, errOut := bespoke(args...)
		if code != 0 || strings.Contains(errOut, "unknown option") {
			t.Errorf("%q: exit %d\n%s%s", args, code, out, errOut)
		}
	}
}

// TestExplainVariantOfNoExperiment: --variant in rules that have no
// experiment says so (it said (experiments: ), an empty list), and
// names the experiments there are, with the nearest, otherwise.
func TestExplainVariantOfNoExperiment(t *testing.T) {
	own := filepath.Join(t.TempDir(), "own.yaml")
	os.WriteFile(own, []byte("rules:\n  - name: fr\n    when: geo.country == \"FR\"\n    actions: [ { remove: \"#promo\" } ]\n"), 0o644)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"explain", own, "--variant", "hero-test=bold"}, `--variant "hero-test=bold": the rules have no experiment`},
		{[]string{"explain", own, "--set", "variant(hero-test)=bold"}, `--set "variant(hero-test)=bold": the rules have no experiment`},
		{[]string{"explain", demoRules, "--variant", "hero-tset=bold"}, `--variant "hero-tset=bold": no experiment is named "hero-tset" (experiments: hero-test); did you mean "hero-test"?`},
	} {
		code, _, errOut := bespoke(tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%q: exit %d, stderr %q, want 2 and %q", tt.args, code, errOut, tt.want)
		}
	}
}

// TestExplainURLAndShownNamed: a --url that is not a path and a --shown
// naming a rule that is not there say which option is wrong (they said
// the URL "shop.example/x" is not a path, no rule is named "x").
func TestExplainURLAndShownNamed(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", "shop.example/sale"}, `--url "shop.example/sale": write a path such as /sale?ref=mail`},
		{[]string{"--url", "https://shop.example/sale"}, `--url "https://shop.example/sale": write the path, /sale, and --header 'Host: shop.example' for rules that read the host`},
		{[]string{"--shown", "newsletter-invit=1"}, `--shown "newsletter-invit=1": no rule is named "newsletter-invit"; did you mean "newsletter-invite"?`},
		{[]string{"--shown", "french-hero=1"}, `--shown "french-hero=1": rule french-hero has no at_most`},
	} {
		code, out, errOut := bespoke(append([]string{"explain", demoRules}, tt.args...)...)
		if code != 2 || !strings.Contains(errOut, tt.want) || out != "" {
			t.Errorf("%q: exit %d, want 2; stderr %q, want it to hold %q", tt.args, code, errOut, tt.want)
		}
	}
}

// TestCompileKeepsTheRuleFile: -o naming the rule file itself (or a
// link to it) is refused: the module overwrote the rules.
func TestCompileKeepsTheRuleFile(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	src := []byte("rules:\n  - name: fr\n    when: geo.country == \"FR\"\n    actions: [ { remove: \"#promo\" } ]\n")
	if err := os.WriteFile(rules, src, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.yaml")
	if err := os.Symlink(rules, link); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{rules, link, filepath.Join(dir, ".", "rules.yaml")} {
		code, _, errOut := bespoke("compile", rules, "-o", out)
		if code != 2 || !strings.Contains(errOut, "-o "+out+" is the rule file: give another file for the module") {
			t.Errorf("-o %s: exit %d, stderr %q: want a usage error", out, code, errOut)
		}
		if b, _ := os.ReadFile(rules); !bytes.Equal(b, src) {
			t.Fatalf("-o %s: the rule file was overwritten", out)
		}
	}
}

// TestExplainHTMLWithJSON: --html beside --json, which prints no page,
// was ignored without a word; it is a usage error.
func TestExplainHTMLWithJSON(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--html", "--json"}, "--html does not go with --json, which prints no page"},
		{[]string{"--json", "--html=true"}, "--html does not go with --json, which prints no page"},
		{[]string{"--json", "--page", "shop.html"}, "--page does not go with --json, which prints no page"},
		{[]string{"--origin", "http://127.0.0.1:1", "--json"}, "--origin does not go with --json, which prints no page"},
	} {
		code, out, errOut := bespoke(append([]string{"explain", demoRules}, tt.args...)...)
		if code != 2 || !strings.Contains(errOut, tt.want) || out != "" {
			t.Errorf("%q: exit %d, want 2; stderr %q, want it to hold %q", tt.args, code, errOut, tt.want)
		}
	}
}

// TestGeoIPNotThere: explain and preview say a --geoip file that is not
// there as other files are said (it was "--geoip: geoip database x:
// stat x: no such file or directory").
func TestGeoIPNotThere(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "City.mmdb")
	for _, cmd := range []string{"explain", "preview"} {
		code, _, errOut := bespoke(cmd, "--geoip", missing, "--listen", "127.0.0.1:0")
		want := `--geoip "` + missing + `": no such file or directory`
		if cmd == "explain" {
			code, _, errOut = bespoke(cmd, "--geoip", missing)
		}
		if code != 1 || !strings.Contains(errOut, want) || strings.Contains(errOut, "stat ") {
			t.Errorf("%s: exit %d, stderr %q, want 1 and %q", cmd, code, errOut, want)
		}
	}
}
