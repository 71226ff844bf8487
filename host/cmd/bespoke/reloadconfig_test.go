package main

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/internal/syncbuf"
)

// TestReloadTellsOfAChangedConfigFile: bespoke serve reads its
// configuration file at start only; SIGHUP and POST /_bespoke/reload
// reload the rule and plugin files. An operator who edits the
// configuration (a limit, a route) and reloads is told, at Warn, that
// the file changed and takes effect at a restart, rather than seeing
// only "plugin loaded" and taking the change for applied.
func TestReloadTellsOfAChangedConfigFile(t *testing.T) {
	origin := newRecordingOrigin(t)
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, []byte(helloRules), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "bespoke.yaml")
	write := func(poolSize int) {
		src := "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\ncache_dir: \"-\"\nlog: { access: false }\n" +
			"limits: { pool_size: " + string(rune('0'+poolSize)) + " }\n" +
			"routes:\n  - { name: shop, origin: \"" + origin.URL + "\", rules: rules.yaml }\n"
		if err := os.WriteFile(conf, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(2)
	cmd := exec.Command(binary(t), "serve", "--config", conf, "--watch", "0")
	cmd.Env = append(os.Environ(), "BESPOKE_SECRET=0123456789abcdef0123456789abcdef")
	stderr := &syncbuf.Buffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && !servingLine.MatchString(sc.Text()) {
	}
	// The log reaches stderr's buffer through a pipe of its own, copied
	// apart from stdout's: it may come after the line serving printed.
	adminLine := regexp.MustCompile(`msg="admin listening" addr=(\S+)`)
	var m []string
	for deadline := time.Now().Add(20 * time.Second); m == nil; time.Sleep(10 * time.Millisecond) {
		if m = adminLine.FindStringSubmatch(stderr.String()); m == nil && time.Now().After(deadline) {
			t.Fatalf("no admin listener:\n%s", stderr)
		}
	}
	reload := func() {
		t.Helper()
		resp, err := http.Post("http://"+m[1]+"/_bespoke/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("reload: %s", resp.Status)
		}
	}
	const warning = `msg="the configuration file changed: it is read at start only; restart bespoke to apply it`
	reload()
	if strings.Contains(stderr.String(), warning) {
		t.Fatalf("a reload with the configuration unchanged warned of a change:\n%s", stderr)
	}
	write(3)
	reload()
	if got := strings.Count(stderr.String(), warning); got != 1 {
		t.Fatalf("after the configuration changed, a reload logged %d warnings of it, want 1:\n%s", got, stderr)
	}
	// SIGHUP, the same: its log line comes once the reload is done.
	cmd.Process.Signal(syscall.SIGHUP)
	for deadline := time.Now().Add(20 * time.Second); strings.Count(stderr.String(), warning) < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("a SIGHUP after the configuration changed did not warn of it:\n%s", stderr)
		}
	}
	if !strings.Contains(stderr.String(), "config="+conf) {
		t.Errorf("the warning does not name the file:\n%s", stderr)
	}
}
