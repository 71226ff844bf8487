// Command bespoke compiles personalization rules to WebAssembly and serves
// them in front of an origin.
//
//	bespoke serve    --origin URL (--rules FILE | --plugin FILE.wasm) [--listen :8080]
//	bespoke serve    ... --tls-cert FILE --tls-key FILE   HTTPS with HTTP/2
//	bespoke serve    --demo              serve the bundled demo site with its rules
//	bespoke preview  [--rules FILE] [--origin URL]   pick a visitor, see the page before and after
//	bespoke compile  RULES.yaml -o SITE.wasm [--dump-ir]
//	bespoke check    RULES.yaml... [--format json]   report every error, exit 1 if any
//	bespoke test     RULES.yaml... [-v] [--coverage] [--watch]   run the tests written next to the rules
//	bespoke explain  --rules FILE [--header 'K: V']... [--user-agent UA] [--cookie k=v]...
//	                 [--url /path] [--set attr=value]... [--variant exp=name]... [--html]
//	bespoke version
//
// 'bespoke COMMAND -h' lists the options of a command.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/config"
	"github.com/bespoke-edge/bespoke/host/internal/webguard"
	"github.com/bespoke-edge/bespoke/internal/codegen"
	"github.com/bespoke-edge/bespoke/internal/version"
	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/rules/diag"
)

const usage = `bespoke personalizes web pages at the edge.

Usage:
  bespoke serve    --origin URL (--rules FILE | --plugin FILE.wasm) [--listen :8080]
  bespoke serve    ... --tls-cert FILE --tls-key FILE   HTTPS with HTTP/2
  bespoke serve    --demo              serve the bundled demo site with its rules
  bespoke preview  [--rules FILE] [--origin URL]   pick a visitor, see the page
                   before and after, side by side, as the rule file changes
  bespoke compile  RULES.yaml -o SITE.wasm [--dump-ir]
  bespoke check    RULES.yaml... [--format json]   report every error, exit 1 if any
                   (- reads the rules from stdin)
  bespoke test     RULES.yaml... [-v] [--coverage] [--watch]   run the tests written
                   next to the rules; exit 1 if one fails, 3 if a file does not
                   compile or cannot be read
  bespoke explain  --rules FILE [--header 'K: V']... [--user-agent UA] [--cookie k=v]...
                   [--url /path] [--set attr=value]... [--variant exp=name]... [--html]
  bespoke version

Run 'bespoke COMMAND -h' for the options of a command.
`

// commandNames are the commands run knows, for suggestions.
var commandNames = []string{"serve", "preview", "compile", "check", "test", "explain", "version", "help"}

// didYouMean returns "; did you mean "x"?" naming the one of names
// nearest name, or "" when none is near.
func didYouMean(name string, names []string) string {
	if near := diag.Nearest(name, names); near != "" {
		return fmt.Sprintf("; did you mean %q?", near)
	}
	return ""
}

// count writes n and its noun, singular for one ("1 test", "2 tests").
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command and returns the exit status: 0 success, 1 the
// command found problems (errors in rules, failed tests), 2 bad usage, 3 a
// rule file whose tests were asked for does not compile.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "serve":
		err = serve(rest, stdout, stderr)
	case "compile":
		err = compileCmd(rest, stdout, stderr)
	case "check":
		err = checkCmd(rest, stdout, stderr)
	case "test":
		err = testCmd(rest, stdout, stderr)
	case "explain":
		err = explainCmd(rest, stdout, stderr)
	case "preview":
		err = previewCmd(rest, stdout, stderr)
	case "version", "--version", "-v":
		cmd = "version"
		err = versionCmd(rest, stdout)
	case "help", "-h", "--help":
		if len(rest) > 0 && commands[rest[0]] {
			return run([]string{rest[0], "-h"}, stdout, stderr)
		}
		if len(rest) > 0 && rest[0] == "help" {
			fmt.Fprint(stdout, usage)
			return 0
		}
		if len(rest) > 0 {
			fmt.Fprintf(stderr, "bespoke help: unknown command %q%s\n\n%s", rest[0], didYouMean(rest[0], commandNames), usage)
			return 2
		}
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "bespoke: unknown command %q%s\n\n%s", cmd, didYouMean(cmd, commandNames), usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "bespoke %s: %v\n", cmd, err)
		return 2
	case errors.Is(err, errNoCompile):
		return 3
	case errors.Is(err, errReported):
		return 1
	default:
		fmt.Fprintf(stderr, "bespoke %s: %v\n", cmd, err)
		return 1
	}
}

// commands are the commands that answer -h with their own usage.
var commands = map[string]bool{"serve": true, "compile": true, "check": true, "test": true, "explain": true, "preview": true, "version": true}

// versionCmd prints the version, the plugin ABI this binary loads and
// the compiler that writes its plugins. It takes no argument: one would
// be a mistake, which a script should hear of.
func versionCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bespoke version", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprint(stdout, "Usage: bespoke version\n\nPrints the version of bespoke, the plugin ABI it loads and the rule compiler it has.\n")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	fmt.Fprintf(stdout, "bespoke %s\nplugin ABI %d, compiler %s\n", version.Get(), plugin.ABIVersion, codegen.Compiler)
	return nil
}

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// errReported means the command already printed what went wrong.
var errReported = errors.New("reported")

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ", ") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// hostsFlag is a repeatable --admin-host or --preview-host: each value
// must name a Host a request could send (see webguard.Check), or the
// listener would refuse the very host it was given.
type hostsFlag []string

func (h *hostsFlag) String() string { return strings.Join(*h, ", ") }
func (h *hostsFlag) Set(s string) error {
	if err := webguard.Check(s); err != nil {
		return err
	}
	*h = append(*h, s)
	return nil
}

// newFlagSet returns the options of command name. Its usage, printed
// for -h alone (see parseFlags), goes to stdout: help asked for is the
// command's output, which a pager or grep reads, as the top level's is;
// mistakes go to stderr.
func newFlagSet(name string, stdout io.Writer, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("bespoke "+name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: bespoke %s %s\n\nOptions:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args with fs. The usage is printed for -h alone: a
// mistake is a usage error (status 2) that says what was wrong once,
// naming the option as it was typed, and where the options are listed,
// rather than the flag package's message followed by every option.
func parseFlags(fs *flag.FlagSet, args []string) error {
	usage, out := fs.Usage, fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.Usage = usage
	fs.SetOutput(out)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		usage()
		return err
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		msg = "unknown option " + typed(args, name)
	} else if rest, ok := strings.CutPrefix(msg, "invalid value "); ok {
		// invalid value "5" for flag -watch: parse error
		if v, f, ok := strings.Cut(rest, " for flag -"); ok {
			name, why, _ := strings.Cut(f, ": ")
			v = bare(v)
			switch {
			case why == "parse error" && isBoolFlag(fs, name):
				why = "is not true or false"
			case why == "parse error":
				why = "is not a whole number"
			}
			if strings.HasPrefix(why, "is ") {
				msg = typed(args, name) + " " + v + " " + why
			} else {
				msg = typed(args, name) + " " + v + ": " + why
			}
		}
	} else if rest, ok := strings.CutPrefix(msg, "invalid boolean value "); ok {
		// invalid boolean value "maybe" for -access-log: parse error
		if v, f, ok := strings.Cut(rest, " for -"); ok {
			name, _, _ := strings.Cut(f, ": ")
			msg = typed(args, name) + " " + bare(v) + " is not true or false"
		}
	} else if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		msg = typed(args, name) + " needs a value"
	}
	return usagef("%s (bespoke %s -h lists the options)", msg, strings.TrimPrefix(fs.Name(), "bespoke "))
}

// bare is a quoted value as it was typed, when that reads unambiguously
// (no space, nothing escaped).
func bare(q string) string {
	if v, err := strconv.Unquote(q); err == nil && v != "" && strconv.Quote(v) == q && !strings.ContainsAny(v, " \t") {
		return v
	}
	return q
}

// isBoolFlag reports whether fs's option name is a yes/no one.
func isBoolFlag(fs *flag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// typed is option name as args wrote it: --name or -name.
func typed(args []string, name string) string {
	for _, a := range args {
		if a == "-"+name || strings.HasPrefix(a, "-"+name+"=") {
			return "-" + name
		}
	}
	return "--" + name
}

// parseInterspersed parses flags that may come after positional arguments
// (bespoke compile rules.yaml -o out.wasm), as editors type them. After
// --, every argument is positional (a file named -x.yaml).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// givenEmpty returns a usage error naming the first of names that args
// set to nothing (--rules "$RULES" with the variable unset): taken for an
// option left out, it would stand for something else (the bundled
// demo's rules, no configuration file), which must not be used in place
// of a file the command line meant to name. instead says what to do.
func givenEmpty(fs *flag.FlagSet, args []string, instead string, names ...string) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		if err == nil && slices.Contains(names, f.Name) && f.Value.String() == "" {
			err = usagef("%s names no file: %s", typed(args, f.Name), strings.ReplaceAll(instead, "OPTION", typed(args, f.Name)))
		}
	})
	return err
}

// durationFlag is a duration option read as the configuration file reads
// one (250ms, 30s, 12h, 7d, 2w), so that a value the file takes, the
// option takes too.
type durationFlag time.Duration

func (d *durationFlag) String() string { return time.Duration(*d).String() }
func (d *durationFlag) Get() any       { return time.Duration(*d) }

func (d *durationFlag) Set(s string) error {
	v, err := config.ParseDuration(s)
	if err != nil {
		// The value is named by the flag package's message.
		return errors.New(strings.TrimPrefix(strings.TrimPrefix(err.Error(), strconv.Quote(s)+": "), strconv.Quote(s)+" "))
	}
	*d = durationFlag(v)
	return nil
}

// durationVar defines a duration option (see durationFlag).
func durationVar(fs *flag.FlagSet, name string, value time.Duration, usage string) *time.Duration {
	d := durationFlag(value)
	fs.Var(&d, name, usage)
	return (*time.Duration)(&d)
}
