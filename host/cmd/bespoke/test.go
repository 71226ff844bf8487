package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/host/internal/ruletest"
	"github.com/bespoke-edge/bespoke/internal/ir"
	"go.yaml.in/yaml/v3"
)

// errNoCompile means a rule file did not compile, so its tests could not
// run: `bespoke test` exits with status 3, apart from failed tests (1).
var errNoCompile = errors.New("a rule file does not compile")

type testOptions struct {
	verbose  bool
	coverage bool
	pages    string
	// tz is the zone of a visitor whose location names none, as the
	// proxy's geo.timezone is; nil is UTC.
	tz *time.Location
	// consent are the proxy's consent settings.
	consent consentFlags
}

func testCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("test", stdout, "RULES.yaml... [-v] [--coverage] [--watch] [--pages DIR] [--timezone ZONE] [--consent-cookie NAME --consent-deny VALUE]")
	var opt testOptions
	fs.BoolVar(&opt.verbose, "v", false, "print every test, not only failures")
	fs.BoolVar(&opt.coverage, "coverage", false, "report the rules no test matches and the actions no test applies")
	fs.StringVar(&opt.pages, "pages", "", "`directory` of the origin's pages for tests that check the page (default: the file's pages:)")
	watch := fs.Bool("watch", false, "run the tests again whenever a rule file changes (Ctrl-C stops)")
	zone := fs.String("timezone", "UTC", "the visitors' time `zone` when their location gives none (IANA name): the proxy's geo.timezone")
	opt.consent.register(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := opt.consent.check(); err != nil {
		return err
	}
	if opt.tz, err = time.LoadLocation(*zone); err != nil {
		return usagef("--timezone: %v; write an IANA name (Europe/Paris, America/New_York, UTC)", err)
	}
	if len(pos) == 0 {
		return usagef("expected at least one rule file")
	}
	if opt.pages != "" {
		if st, err := os.Stat(opt.pages); err != nil || !st.IsDir() {
			return usagef("--pages %q: not a directory (give the directory of the origin's saved pages)", opt.pages)
		}
	}
	if *watch {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		watchTests(ctx, pos, opt, stdout, stderr, 300*time.Millisecond)
		return nil
	}
	return runTests(context.Background(), pos, opt, stdout, stderr)
}

// runTests runs the tests of every file and prints what failed. It returns
// errNoCompile when a file did not compile (its errors are printed) or
// could not be read, errReported when a test failed, nil when all passed:
// a script can tell a failed test (exit 1) from tests that did not run
// (3).
func runTests(ctx context.Context, paths []string, opt testOptions, stdout, stderr io.Writer) error {
	failed, total, broken := 0, 0, 0
	for _, path := range paths {
		if _, err := readRuleFile(path); err != nil {
			// No rule file to compile: said as such, as check says it.
			fmt.Fprintln(stderr, err)
			fmt.Fprintf(stdout, "%s: cannot be read, so no test ran\n", path)
			broken++
			continue
		}
		l, err := loadForCommand(ctx, stderr, path, "", reqctx.Config{TimeZone: opt.tz})
		if err != nil {
			if !errors.Is(err, errReported) {
				fmt.Fprintf(stderr, "%s: %v\n", path, err)
			}
			fmt.Fprintf(stdout, "%s: does not compile, so no test ran (the errors are above)\n", path)
			broken++
			continue
		}
		ro := ruletest.Options{Dir: filepath.Dir(path), ConsentCookie: opt.consent.cookie, ConsentDeny: opt.consent.deny}
		if opt.pages != "" {
			ro.Pages, ro.PagesName = os.DirFS(opt.pages), opt.pages+" (--pages)"
		} else if l.prog != nil {
			// What check says of the selectors on the pages: a typo no
			// test covers shows here too.
			warnings, _ := ruletest.CheckPages(l.prog, filepath.Dir(path))
			for _, w := range warnings {
				fmt.Fprintln(stderr, w)
			}
		}
		results, err := ruletest.RunWith(ctx, l.site, l.prog, ro)
		if err != nil {
			l.close()
			return err
		}
		if len(results) == 0 {
			fmt.Fprintf(stdout, "%s: no tests\n", path)
		}
		for _, r := range results {
			total++
			if r.Passed() {
				if opt.verbose {
					fmt.Fprintf(stdout, "ok    %s:%d:%d %s (matched: %s)\n", path, r.Test.Pos.Line, r.Test.Pos.Col, r.Test.Name, ruleList(r.Matched))
				}
				continue
			}
			failed++
			fmt.Fprintf(stdout, "FAIL  %s:%d:%d %s\n", path, r.Test.Pos.Line, r.Test.Pos.Col, r.Test.Name)
			for _, f := range r.Failures {
				fmt.Fprintf(stdout, "      %s\n", f)
			}
			for _, n := range r.Notes {
				fmt.Fprintf(stdout, "      note: %s\n", n)
			}
			if len(r.ThenMatched) == 0 {
				fmt.Fprintf(stdout, "      matched: %s\n", ruleList(r.Matched))
				continue
			}
			// Each view's own: a view fails by what it matched.
			fmt.Fprintf(stdout, "      view 1 matched: %s\n", ruleList(r.Matched))
			for i, m := range r.ThenMatched {
				fmt.Fprintf(stdout, "      view %d matched: %s\n", i+2, ruleList(m))
			}
		}
		if opt.coverage {
			printCoverage(stdout, path, ruletest.CoverageOf(l.prog, results))
		}
		l.close()
	}
	fmt.Fprintf(stdout, "%s, %d failed\n", count(total, "test"), failed)
	switch {
	case broken > 0:
		return errNoCompile
	case failed > 0:
		return errReported
	}
	return nil
}

func printCoverage(w io.Writer, path string, c ruletest.Coverage) {
	fmt.Fprintf(w, "%s: coverage: %d of %d rules matched by a test, %d of %d actions applied\n", path, c.RulesMatched, c.Rules, c.ActionsApplied, c.Actions)
	for _, r := range c.Unmatched {
		fmt.Fprintf(w, "  never matched: %s\n", r)
	}
	for _, a := range c.Unapplied {
		fmt.Fprintf(w, "  never applied: %s\n", a)
	}
}

// watchTests runs the tests, then again each time one of the files (or a
// page under their pages directories) changes, until ctx is done.
func watchTests(ctx context.Context, paths []string, opt testOptions, stdout, stderr io.Writer, every time.Duration) {
	last := ""
	for {
		if sum := watchSum(paths, opt); sum != last {
			if last != "" {
				// An editor saving by rename leaves no file for a moment,
				// and one writing in place a half-written one: wait until
				// the files read the same twice, 50 ms apart.
				for range 20 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(50 * time.Millisecond):
					}
					again := watchSum(paths, opt)
					if again == sum {
						break
					}
					sum = again
				}
			}
			if last != "" {
				fmt.Fprintf(stdout, "\n--- %s: a file changed, testing again\n", time.Now().Format("15:04:05"))
			}
			last = sum
			runTests(ctx, paths, opt, stdout, stderr)
			fmt.Fprintf(stdout, "watching %d file(s); Ctrl-C stops\n", len(paths))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// watchSum digests the rule files and the names, sizes and times of the
// files of the page directory, so that any change shows.
func watchSum(paths []string, opt testOptions) string {
	h := sha256.New()
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			fmt.Fprintf(h, "%s: %v\n", p, err)
			continue
		}
		h.Write(b)
		dirs := []string{}
		if opt.pages != "" {
			dirs = append(dirs, opt.pages)
		} else if d := pagesOf(b); d != "" {
			dirs = append(dirs, ir.FromFile(filepath.Dir(p), d))
		}
		for _, d := range dirs {
			filepath.WalkDir(d, func(f string, e fs.DirEntry, err error) error {
				if err == nil && !e.IsDir() {
					if info, err := e.Info(); err == nil {
						fmt.Fprintf(h, "%s %d %d\n", f, info.Size(), info.ModTime().UnixNano())
					}
				}
				return nil
			})
		}
	}
	return string(h.Sum(nil))
}

// pagesOf finds a rule file's `pages:` line without parsing the file, which
// may be broken while it is being edited: the line alone is read as YAML
// reads it (quotes, a trailing comment), after a byte order mark.
func pagesOf(src []byte) string {
	src = bytes.TrimPrefix(src, []byte("\uFEFF"))
	for _, line := range bytes.Split(src, []byte("\n")) {
		if !bytes.HasPrefix(line, []byte("pages:")) {
			continue
		}
		var v struct {
			Pages string `yaml:"pages"`
		}
		if yaml.Unmarshal(bytes.TrimRight(line, "\r"), &v) != nil {
			return ""
		}
		return v.Pages
	}
	return ""
}

// ruleList names the rules that matched, or says none did.
func ruleList(names []string) string {
	if len(names) == 0 {
		return "no rule"
	}
	return strings.Join(names, ", ")
}
