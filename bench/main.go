// Command bench measures bespoke against the origin, a plain Go reverse
// proxy and nginx, and runs the repository's micro-benchmarks.
//
//	go run ./bench [-quick] [-out bench/results] [-duration 5s] [-rounds 5]
//	               [-conns 32] [-targets a,b,c] [-page shop]
//
// Each target runs in its own process so its CPU time and peak memory can
// be read from /proc; rounds interleave the targets (A B C, A B C, ...) so
// that drift in the machine hits all of them alike. Results go to
// RESULTS.md, results.json, throughput.svg and latency.svg in -out. See
// bench/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		var err error
		switch os.Args[1] {
		case "origin":
			err = originMain(os.Args[2:])
		case "goproxy":
			err = goproxyMain(os.Args[2:])
		default:
			os.Exit(benchMain(os.Args[1:]))
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench %s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		return
	}
	os.Exit(benchMain(nil))
}

// options are the command-line flags of a benchmark run.
type options struct {
	Quick     bool          `json:"quick"`
	Out       string        `json:"out"`
	Duration  time.Duration `json:"duration_ns"`
	Warmup    time.Duration `json:"warmup_ns"`
	Rounds    int           `json:"rounds"`
	Conns     int           `json:"conns"`
	Targets   []string      `json:"targets"`
	Page      string        `json:"page"`
	Rate      float64       `json:"rate"`
	Wrk       bool          `json:"wrk"`
	Micro     bool          `json:"micro"`
	Count     int           `json:"bench_count"`
	BenchTime string        `json:"bench_time"`
	Bench     string        `json:"bench"`
	Keep      bool          `json:"-"`
	Bespoke   string        `json:"bespoke_binary,omitempty"`
	// Profile is where the CPU profiles of bespoke's throughput and
	// latency runs go ("": none are taken).
	Profile string `json:"profile_dir,omitempty"`
	// quickSet says the targets are -quick's, not the user's.
	quickSet bool
}

// flags returns the command's flags, which set o, and the two that are
// read after parsing: -targets and -wrk.
func flags(o *options) (fl *flag.FlagSet, targets, wrk *string) {
	fl = flag.NewFlagSet("bench", flag.ContinueOnError)
	fl.BoolVar(&o.Quick, "quick", false, "one round, 2s per target, the headline targets, short micro-benchmarks (about 3 minutes)")
	fl.StringVar(&o.Out, "out", "", "`directory` for RESULTS.md, results.json and the charts (default bench/results)")
	fl.DurationVar(&o.Duration, "duration", 5*time.Second, "how long each measurement lasts")
	fl.IntVar(&o.Rounds, "rounds", 5, "how many times every target is measured, interleaved")
	fl.IntVar(&o.Conns, "conns", 32, "keep-alive connections of the load generator")
	targets = fl.String("targets", "", "comma-separated `list` of targets (default all; "+targetNames()+")")
	fl.StringVar(&o.Page, "page", "shop", "page to serve: news, shop or article from testdata/pages, demo for the demo shop, or an .html `file`")
	fl.Float64Var(&o.Rate, "rate", 0, "offered `rate` (req/s) of the latency runs; 0 is 800, or half the slowest target's throughput in round 1 when that is lower")
	wrk = fl.String("wrk", "auto", "cross-check throughput with wrk in round 1: auto (when installed, not with -quick), on or off")
	fl.BoolVar(&o.Micro, "micro", true, "run the Go micro-benchmarks")
	fl.IntVar(&o.Count, "count", 5, "go test -count of the micro-benchmarks")
	fl.StringVar(&o.BenchTime, "benchtime", "300ms", "go test -benchtime of the micro-benchmarks")
	fl.StringVar(&o.Bench, "bench", ".", "go test -bench `regexp` of the micro-benchmarks (-quick: those the goals and ratios use)")
	fl.StringVar(&o.Bespoke, "bespoke", "", "use this bespoke `binary` instead of building ./host/cmd/bespoke")
	fl.BoolVar(&o.Keep, "keep", false, "keep the temporary directory (configurations and logs of every process)")
	fl.StringVar(&o.Profile, "profile", "", "write a CPU profile of every bespoke target's runs to `directory` (TARGET-rROUND.pprof under full load, TARGET-rROUND-fixed.pprof at the fixed rate, from its admin listener)")
	return fl, targets, wrk
}

func parseOptions(args []string) (options, error) {
	var o options
	fl, targets, wrk := flags(&o)
	if err := fl.Parse(args); err != nil {
		return o, err
	}
	if fl.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fl.Arg(0))
	}
	set := map[string]bool{}
	fl.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.Quick {
		if !set["duration"] {
			o.Duration = 2 * time.Second
		}
		if !set["rounds"] {
			o.Rounds = 1
		}
		if !set["count"] {
			o.Count = 3
		}
		if !set["benchtime"] {
			o.BenchTime = "100ms"
		}
		if !set["bench"] {
			o.Bench = goalBenchmarks
		}
		if !set["targets"] {
			*targets = strings.Join(quickTargets, ",")
			o.quickSet = true
		}
	}
	o.Warmup = min(time.Second, o.Duration/4)
	switch *wrk {
	case "auto":
		o.Wrk = !o.Quick
	case "on":
		o.Wrk = true
	case "off":
	default:
		return o, fmt.Errorf("-wrk %q: want auto, on or off", *wrk)
	}
	if o.Duration < 500*time.Millisecond || o.Rounds < 1 || o.Conns < 1 || o.Count < 1 {
		return o, errors.New("-duration must be at least 500ms, -rounds, -conns and -count at least 1")
	}
	if *targets == "" {
		*targets = targetNames()
	}
	for _, name := range strings.Split(*targets, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if findDef(name) == nil {
			return o, fmt.Errorf("-targets: unknown target %q (have %s)", name, targetNames())
		}
		o.Targets = append(o.Targets, name)
	}
	if len(o.Targets) == 0 {
		return o, errors.New("-targets: no target")
	}
	return o, nil
}

func targetNames() string {
	var n []string
	for _, d := range targetDefs {
		n = append(n, d.Name)
	}
	return strings.Join(n, ",")
}

func findDef(name string) *targetDef {
	for i := range targetDefs {
		if targetDefs[i].Name == name {
			return &targetDefs[i]
		}
	}
	return nil
}

func benchMain(args []string) int {
	o, err := parseOptions(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// After the first signal, a second one kills the harness at once;
	// the children still die with it (Pdeathsig).
	go func() { <-ctx.Done(); stop() }()

	h := &harness{opts: o, sup: &supervisor{}, started: time.Now(), command: commandLine(args)}
	err = h.run(ctx)
	h.sup.cleanup(o.Keep)
	switch {
	case ctx.Err() != nil:
		fmt.Fprintln(os.Stderr, "bench: interrupted; every child process was stopped")
		return 130
	case err != nil:
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return 1
	case h.failedRequests > 0:
		fmt.Fprintf(os.Stderr, "bench: %d requests failed (non-2xx/3xx or transport errors); the figures are suspect, see RESULTS.md\n", h.failedRequests)
		return 1
	case len(h.failedPackages) > 0:
		// A benchmark that fails checks that it measures what it names:
		// the package's figures are not to be read as such.
		fmt.Fprintf(os.Stderr, "bench: the micro-benchmarks of %s failed; see RESULTS.md\n", strings.Join(h.failedPackages, ", "))
		return 1
	}
	return 0
}

// commandLine is how the run was started, for the report.
func commandLine(args []string) string {
	parts := []string{"go", "run", "./bench"}
	for _, a := range args {
		if strings.ContainsAny(a, " \t'\"$") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// findRoot returns the module's root: the directory holding go.mod from
// the working directory up.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/bespoke-edge/bespoke\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the bespoke repository (no go.mod of github.com/bespoke-edge/bespoke above the working directory)")
		}
		dir = parent
	}
}
