package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bespoke-edge/bespoke/host/internal/ruletest"
	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/rules/diag"
	"go.yaml.in/yaml/v3"
)

// stdin is what check - reads.
var stdin io.Reader = os.Stdin

// stdinName names the rules check - read from stdin in what it says.
const stdinName = "<stdin>"

func checkCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", stdout, "RULES.yaml... [--format text|json]   (- reads the rules from stdin)")
	format := fs.String("format", "text", "output `format`: text (file:line:col: message; hint), or json (one object a line: file, line, col, severity, message, suggestion, code) for editors")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("expected at least one rule file")
	}
	if *format != "text" && *format != "json" {
		return usagef("--format %q: write text or json", *format)
	}
	if i := slices.Index(pos, "-"); i >= 0 && slices.Contains(pos[i+1:], "-") {
		return usagef("stdin can be read once: give - once")
	}
	failed := false
	enc := json.NewEncoder(stdout)
	for _, path := range pos {
		var src []byte
		var err error
		if path == "-" {
			// An editor's buffer: its pages: is read from the current
			// directory.
			path = stdinName
			src, err = io.ReadAll(stdin)
		} else {
			src, err = readRuleFile(path)
		}
		if err != nil {
			if *format == "json" {
				enc.Encode(diag.JSON{File: path, Severity: "error", Message: err.Error()})
			} else {
				fmt.Fprintf(stderr, "%v\n", err)
			}
			failed = true
			continue
		}
		p, diags := compiler.Diagnose(path, src)
		if p == nil {
			failed = true
		} else {
			// The pages the file names: selectors that select nothing
			// there are warned of.
			more, err := ruletest.CheckPages(p, filepath.Dir(path))
			if err != nil {
				more.Add(diag.Warningf(diag.Pos{File: path}, "the pages could not be read: %v", err))
			}
			if len(more.Errors()) > 0 {
				// A test's page that is not there: the file compiles, and
				// its tests cannot pass.
				failed = true
			}
			diags = append(diags, more...)
			diags.Sort()
		}
		if *format == "json" {
			for _, d := range diags {
				enc.Encode(d.JSON())
			}
			continue
		}
		printDiagnostics(stderr, diags)
		if p == nil && isConfigFile(src) {
			fmt.Fprintf(stderr, "%s is a configuration file, not a rule file: check it with bespoke serve --config %s --check\n", path, path)
		}
		if p != nil && len(diags.Errors()) == 0 {
			fmt.Fprintf(stdout, "%s: ok (%s, %s, %s)\n", path, count(len(p.Rules), "rule"), count(len(p.Segments), "segment"), count(len(p.Tests), "test"))
		}
	}
	if failed {
		return errReported
	}
	return nil
}

// readRuleFile reads the rule file path. What is wrong is said as
// "path: reason", path as it was typed: Go's errors name the operation
// that failed ("open : no such file or directory" for an empty argument,
// "read rules: is a directory"), which is not what an editor did.
func readRuleFile(path string) ([]byte, error) {
	if path == "" {
		return nil, errors.New("an empty argument names no rule file")
	}
	src, err := os.ReadFile(path)
	if err == nil {
		return src, nil
	}
	if st, serr := os.Stat(path); serr == nil && st.IsDir() {
		return nil, fmt.Errorf("%s: is a directory; give the rule file", path)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("%s: %w", path, pe.Err)
	}
	return nil, err
}

// printDiagnostics prints errors and warnings one a line, file:line:col
// first, with a count when there are several.
func printDiagnostics(w io.Writer, diags diag.List) {
	for _, d := range diags {
		fmt.Fprintln(w, d.Error())
	}
	if len(diags) > 1 {
		fmt.Fprintln(w, diagCount(len(diags.Errors()), len(diags.Warnings())))
	}
}

// diagCount says how many errors and warnings there are: "1 error, 5
// warnings", "2 errors", "3 warnings".
func diagCount(errs, warns int) string {
	var parts []string
	for _, c := range []struct {
		n    int
		what string
	}{{errs, "error"}, {warns, "warning"}} {
		switch {
		case c.n == 1:
			parts = append(parts, "1 "+c.what)
		case c.n > 1:
			parts = append(parts, fmt.Sprintf("%d %ss", c.n, c.what))
		}
	}
	return strings.Join(parts, ", ")
}

// isRuleFile reports whether src reads as a rule file (rules, and no
// routes), which operators may hand to serve --config.
func isRuleFile(src []byte) bool {
	var top map[string]any
	if yaml.Unmarshal(src, &top) != nil {
		return false
	}
	_, routes := top["routes"]
	_, rules := top["rules"]
	return rules && !routes
}

// isConfigFile reports whether src reads as bespoke serve's
// configuration (routes, and no rules), which editors may hand to check.
func isConfigFile(src []byte) bool {
	var top map[string]any
	if yaml.Unmarshal(src, &top) != nil {
		return false
	}
	_, routes := top["routes"]
	_, rules := top["rules"]
	return routes && !rules
}
