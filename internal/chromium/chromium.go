// Package chromium runs headless Chromium for the tests that check what a
// real browser makes of what bespoke serves: the document it builds, the
// scripts it lets run, a screenshot.
package chromium

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"testing"
)

// flags are every run's: headless, without the sandbox (CI runs as
// root), and nothing in the background that would reach the network.
var flags = []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync"}

// Path returns the path of a headless-capable Chromium, or skips the
// test when there is none, except in CI, which installs one (`.ci/run`):
// there a missing browser is a failure.
func Path(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not installed (apt-get install chromium)")
	}
	t.Skip("chromium not installed (apt-get install chromium)")
	return ""
}

// Run runs bin with profile as its user data directory and args (the
// page last), and returns what it wrote (--dump-dom: the document it
// built).
//
// Headless Chromium now and then dies of a signal, most often on a
// machine busy with other tests: a whole document (up to its </html>)
// dumped before it died is still the browser's answer, and a run that
// died before is run again, twice at most. What the page's visits leave
// (cookies) is in the profile only once the browser wrote it, so a run
// again sees what the lost one would have seen, and a state it changed
// before dying shows as a failed assertion, not a pass. Every crash is
// logged.
func Run(ctx context.Context, t testing.TB, bin, profile string, args ...string) string {
	t.Helper()
	argv := append(append(append([]string{}, flags...), "--user-data-dir="+profile), args...)
	for try := 1; ; try++ {
		out, err := exec.CommandContext(ctx, bin, argv...).Output()
		var exit *exec.ExitError
		if err == nil || !errors.As(err, &exit) || exit.Exited() {
			if err != nil {
				t.Fatalf("chromium %v: %v", args, err)
			}
			return string(out)
		}
		if bytes.HasSuffix(bytes.TrimSpace(out), []byte("</html>")) {
			t.Logf("chromium %v: %v after dumping the whole document: kept", args, err)
			return string(out)
		}
		if try == 3 {
			t.Fatalf("chromium %v: %v, %d times", args, err, try)
		}
		t.Logf("chromium %v: %v before its answer: run again", args, err)
	}
}

// Command is the command that runs bin with every run's flags, profile
// as its user data directory and args, for a test that drives the
// browser itself (over --remote-debugging-pipe) rather than through Run.
func Command(ctx context.Context, bin, profile string, args ...string) *exec.Cmd {
	argv := append(append(append([]string{}, flags...), "--user-data-dir="+profile), args...)
	return exec.CommandContext(ctx, bin, argv...)
}

// DumpPage serves page (HTML, with header's headers besides its
// Content-Type) from a server of its own, loads it in bin with a fresh
// profile, and returns the document the browser built (Run's
// --dump-dom): for tests that ask the browser to compute something in a
// script and write it into the page.
func DumpPage(ctx context.Context, t testing.TB, bin, page string, header http.Header) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(page))
	}))
	defer srv.Close()
	return Run(ctx, t, bin, t.TempDir(), "--dump-dom", srv.URL+"/")
}

var answer = regexp.MustCompile(`(?s)<pre id="out">(.*?)</pre>`)

// Answer reads into v the JSON a test's script wrote as the text of the
// page's <pre id="out">, in the document Run's --dump-dom (or DumpPage)
// returned, where it is escaped as text is. It fails t when the document
// has no answer or the answer is not v's JSON: the script failed before
// it wrote it.
func Answer(t testing.TB, dom string, v any) {
	t.Helper()
	m := answer.FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("no answer from Chromium in its document:\n%.2000s", dom)
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), v); err != nil {
		t.Fatalf("Chromium's answer: %v\n%.2000s", err, m[1])
	}
}
