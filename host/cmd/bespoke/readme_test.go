package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readmeExpect says what each curl command of the README's quick start
// must print, by a part of the command. Every command of the README must
// have an entry, so that an example cannot drift from what the demo does.
var readmeExpect = []struct {
	command string
	want    []string
}{
	{"-H 'CF-IPCountry: FR' localhost:8080/ | grep -E 'hero-title|currency|announce'", []string{"Équipez-vous pour la saison", "EUR €", "Free shipping across the EU on orders over €50"}},
	{"-H 'CF-IPCountry: US' localhost:8080/ | grep -E 'hero-title|announce'", []string{"Gear up for the season", "Free 2-day shipping anywhere in the US"}},
	{"CloudFront-Viewer-City: Lyon", []string{`class="app-banner"`, "Visit our Lyon store"}},
	{"Accept-Language: de-CH", []string{"Kostenloser Versand ab 50 CHF"}},
	{"-b 'club=gold'", []string{"Welcome back, member."}},
	{"-b 'cart_items=3'", []string{"You have unlocked free shipping."}},
	{"ref=newsletter-42", []string{"Thanks for reading our newsletter"}},
	{"utm_campaign=winter-sale", []string{"Winter sale: up to 40% off", "up to 40% off until January 7"}},
	{"grep -c 'New here?'", []string{"1"}},
	{"Googlebot", []string{"0"}},
	{"sale-2025", []string{"HTTP/1.1 301", "Location: /sale"}},
	{"grep -i '^x-bespoke'", []string{"X-Bespoke-Rules: french-hero, euro-prices", "X-Bespoke-Experiments: hero-test="}},
}

// TestReadmeExamples runs the README's curl examples, as written, against
// the demo served as `make run` serves it, and checks what each prints.
// It needs sh and curl (CI installs curl; elsewhere the test is skipped
// without it).
func TestReadmeExamples(t *testing.T) {
	for _, tool := range []string{"sh", "curl", "grep"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not installed", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	b, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	// The block after "See what each rule does": variables, then commands
	// each after its comment.
	_, block, _ := strings.Cut(string(b), "See what each rule does")
	_, block, _ = strings.Cut(block, "```sh\n")
	block, _, _ = strings.Cut(block, "```")
	var vars, commands []string
	for _, line := range strings.Split(block, "\n") {
		switch {
		case regexp.MustCompile(`^[A-Z]+=`).MatchString(line):
			vars = append(vars, line)
		case strings.HasPrefix(line, "curl "):
			commands = append(commands, line)
		}
	}
	if len(commands) < len(readmeExpect) {
		t.Fatalf("%d commands in the README, %d expected", len(commands), len(readmeExpect))
	}

	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- serveContext(ctx, []string{"--demo", "--rules", demoRules, "--listen", "127.0.0.1:0", "--admin", "",
			"--debug-headers", "--access-log=false", "--cache-dir", "-"}, pw, io.Discard)
		pw.Close()
	}()
	defer func() {
		cancel()
		<-done
	}()
	addr := ""
	sc := bufio.NewScanner(pr)
	for addr == "" && sc.Scan() {
		if _, u, ok := strings.Cut(sc.Text(), " through http://"); ok {
			addr = u
		}
	}
	go io.Copy(io.Discard, pr)
	if addr == "" {
		t.Fatal("serve did not say where it listens")
	}

	for _, cmd := range commands {
		var want []string
		for _, e := range readmeExpect {
			if strings.Contains(cmd, e.command) {
				want = e.want
				break
			}
		}
		if want == nil {
			t.Errorf("no expectation for the README's %q", cmd)
			continue
		}
		script := strings.Join(vars, "\n") + "\n" + strings.ReplaceAll(cmd, "localhost:8080", addr)
		cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, _ := exec.CommandContext(cctx, "sh", "-c", script).Output()
		ccancel()
		got := strings.ReplaceAll(string(out), "\r", "")
		for _, w := range want {
			if w == "0" || w == "1" {
				if strings.TrimSpace(got) != w {
					t.Errorf("%s\nprints %q, want %s", cmd, got, w)
				}
				continue
			}
			if !strings.Contains(strings.ToLower(got), strings.ToLower(w)) {
				t.Errorf("%s\nprints:\n%s\nwhich lacks %q", cmd, got, w)
			}
		}
	}
}
