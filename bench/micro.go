package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bespoke-edge/bespoke/bench/internal/gobench"
)

// microResult is the outcome of the Go micro-benchmarks.
type microResult struct {
	Flags      string            `json:"flags"`
	Packages   []microPackage    `json:"packages"`
	NotBuilt   map[string]string `json:"not_built,omitempty"`
	Raw        []gobench.Result  `json:"raw"`
	Benchmarks []gobench.Summary `json:"benchmarks"`
	Pairs      []microPair       `json:"pairs"`
	Error      string            `json:"error,omitempty"`
	Seconds    float64           `json:"seconds"`
	// ProbeMedian is the median of the speed probes run between the
	// packages (see speedProbe), in nanoseconds.
	ProbeMedian float64 `json:"probe_median_ns,omitempty"`
}

// microPackage is one package whose benchmarks were run.
type microPackage struct {
	Pkg        string   `json:"pkg"`
	Benchmarks []string `json:"benchmarks"`
	Seconds    float64  `json:"seconds"`
	Error      string   `json:"error,omitempty"`
	// ProbeBefore and ProbeAfter are the speed probe's time just before
	// and just after the package's benchmarks ran, in nanoseconds.
	ProbeBefore float64 `json:"probe_before_ns,omitempty"`
	ProbeAfter  float64 `json:"probe_after_ns,omitempty"`
}

// microPair compares two benchmarks of one package.
type microPair struct {
	Kind string `json:"kind"`
	Pkg  string `json:"pkg"`
	A    string `json:"a"`
	B    string `json:"b"`
	// Key is what A and B share (pairKey), for a Wasm/reference pair.
	Key   string  `json:"key,omitempty"`
	Ratio float64 `json:"ratio"`
	// Says how to read Ratio.
	Meaning string `json:"meaning"`
}

// runMicro discovers the packages with benchmarks and runs them one
// package at a time, so that no two benchmarks share the cores.
func (h *harness) runMicro(ctx context.Context) *microResult {
	t0 := time.Now()
	m := &microResult{Flags: fmt.Sprintf("-run '^$' -bench '%s' -count %d -benchtime %s", h.opts.Bench, h.opts.Count, h.opts.BenchTime)}
	filter, err := topLevelFilter(h.opts.Bench)
	if err != nil {
		m.Error = "-bench: " + err.Error()
		return m
	}
	defer func() { m.Seconds = time.Since(t0).Seconds() }()
	// Listing ./... would build every test binary of the repository;
	// only packages whose test files declare a benchmark are listed.
	candidates := benchmarkPackages(h.root, filter)
	if len(candidates) == 0 {
		m.Error = "no test file declares a benchmark"
		return m
	}
	h.logf("micro-benchmarks: listing (go test -list '^Benchmark' on %d packages)", len(candidates))
	lctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	out, _ := run(lctx, h.root, nil, append([]string{"go", "test", "-list", "^Benchmark"}, candidates...)...)
	cancel()
	benches, failed, err := gobench.ParseList(bytes.NewReader(out))
	if err != nil {
		m.Error = err.Error()
		return m
	}
	m.NotBuilt = failed
	for pkg, why := range failed {
		h.logf("micro-benchmarks: %s does not build: %s", shortPkg(pkg), why)
	}
	var pkgs []string
	for p := range benches {
		if !strings.Contains(p, "/bench/") {
			pkgs = append(pkgs, p)
		}
	}
	sort.Strings(pkgs)
	// One probe between two packages is the one after the first and the
	// one before the second.
	probe := speedProbe()
	var probes []float64
	for _, pkg := range pkgs {
		if ctx.Err() != nil {
			break
		}
		mp := microPackage{Pkg: pkg}
		for _, b := range benches[pkg] {
			if filter.MatchString(strings.TrimPrefix(b, "Benchmark")) {
				mp.Benchmarks = append(mp.Benchmarks, b)
			}
		}
		if len(mp.Benchmarks) == 0 {
			continue
		}
		h.logf("micro-benchmarks: %s (%d benchmarks × %d)", shortPkg(pkg), len(mp.Benchmarks), h.opts.Count)
		pt := time.Now()
		pctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		out, err := run(pctx, h.root, nil, "go", "test", "-run", "^$", "-bench", h.opts.Bench, "-count", strconv.Itoa(h.opts.Count),
			"-benchtime", h.opts.BenchTime, "-timeout", "10m", pkg)
		cancel()
		mp.Seconds = time.Since(pt).Seconds()
		res, perr := gobench.Parse(bytes.NewReader(out))
		if err != nil {
			mp.Error = fmt.Sprintf("%v: %s", err, lastLines(out, 3))
			h.logf("micro-benchmarks: %s failed: %s", shortPkg(pkg), mp.Error)
			h.failedPackages = append(h.failedPackages, shortPkg(pkg))
		} else if perr != nil {
			mp.Error = perr.Error()
		}
		for i := range res {
			if res[i].Pkg == "" {
				res[i].Pkg = pkg
			}
		}
		mp.ProbeBefore, probe = probe, speedProbe()
		mp.ProbeAfter = probe
		probes = append(probes, mp.ProbeBefore)
		m.Raw = append(m.Raw, res...)
		m.Packages = append(m.Packages, mp)
	}
	if len(probes) > 0 {
		probes = append(probes, probe)
		m.ProbeMedian = gobench.Describe(probes).Median
	}
	m.Benchmarks = gobench.Summarize(m.Raw)
	m.Pairs = findPairs(m.Benchmarks)
	return m
}

// topLevelFilter is what a go test -bench pattern asks of a benchmark
// function's name (without "Benchmark"): go test splits the pattern at
// each "/" and "|" outside brackets and parentheses, matches the first
// element of each alternative against the function's name and the others
// against its sub-benchmarks' ("RewritePage/shop/passthrough" runs
// BenchmarkRewritePage, only its shop/passthrough part). The whole
// pattern, matched against a function's name, would select none of them.
func topLevelFilter(pattern string) (*regexp.Regexp, error) {
	var alts []string
	depth, class, first := 0, 0, 0
	inFirst := true
	for i := 0; i < len(pattern); i++ {
		switch pattern[i] {
		case '[':
			class++
		case ']':
			class = max(0, class-1)
		case '(':
			if class == 0 {
				depth++
			}
		case ')':
			if class == 0 {
				depth--
			}
		case '\\':
			i++
		case '/', '|':
			if class != 0 || depth != 0 {
				continue
			}
			if inFirst {
				alts = append(alts, pattern[first:i])
				inFirst = false
			}
			if pattern[i] == '|' {
				first, inFirst = i+1, true
			}
		}
	}
	if inFirst {
		alts = append(alts, pattern[first:])
	}
	for i, a := range alts {
		if _, err := regexp.Compile(a); err != nil {
			return nil, err
		}
		alts[i] = "(?:" + a + ")"
	}
	return regexp.Compile(strings.Join(alts, "|"))
}

// goalBenchmarks selects, for -quick, the benchmarks that the goals and the
// ratios use. go test splits -bench at "|" before compiling each part, so
// a leading (?i) would apply to the first alternative only.
const goalBenchmarks = `Wasm|Reference|Rewrite|Memmove|Copy|Decide|Compile|Proxy|Context|CookieRequest|LoadRules|Pathological`

// benchmarkPackages returns the packages (as ./dir patterns) of the
// module whose _test.go files declare a benchmark function whose name
// (without "Benchmark") filter matches.
func benchmarkPackages(root string, filter *regexp.Regexp) []string {
	seen := map[string]bool{}
	var pkgs []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		name := d.Name()
		if d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			if p != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor" || rel == "bench") {
				return filepath.SkipDir
			}
			// A module of its own (caddy/) is not a package of this
			// one: go test from the root cannot build it.
			if p != root {
				if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(name, "_test.go") {
			return nil
		}
		dir := filepath.Dir(p)
		if seen[dir] {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		match := false
		for _, m := range benchFunc.FindAllSubmatch(b, -1) {
			match = match || filter.Match(m[1])
		}
		if match {
			seen[dir] = true
			rel, _ := filepath.Rel(root, dir)
			pkgs = append(pkgs, "./"+filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(pkgs)
	return pkgs
}

var benchFunc = regexp.MustCompile(`(?m)^func Benchmark(\w*)\(`)

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// shortPkg drops the module path.
func shortPkg(p string) string {
	return strings.TrimPrefix(strings.TrimPrefix(p, "github.com/bespoke-edge/bespoke"), "/")
}

var (
	wasmWord = regexp.MustCompile(`(?i)wasm(call)?`)
	// refWord marks a benchmark of the reference evaluator
	// (DemoReference, ReferenceRules/N, a …/reference variant): the word
	// capitalized as a part of the name, or a path element, so that a
	// name that only holds the letters (Prefetch, HrefAttr, Preference)
	// stays in the goals' lookup.
	refWord = regexp.MustCompile(`Reference(?:[A-Z/]|$)|(?:^|/)reference(?:/|$)`)
	// decideRules is the Wasm side of BenchmarkDecideRules/N, which has
	// no Wasm in its name.
	decideRules = regexp.MustCompile(`^Decide(Rules/\d+)$`)
	slashes     = regexp.MustCompile(`/+`)
)

// pairKey is what a benchmark of the compiled module and the reference
// evaluator's benchmark of the same rules and contexts share, "" for a
// name that is neither: DemoWasmCall/in-process and DemoReference give
// "Demo", DecideRules/1000/in-process and ReferenceRules/1000 give
// "Rules/1000". The reference evaluator runs in process, so it pairs
// with the module compiled in process, not with one read from its
// .wasm file (…/from-file).
func pairKey(name string) (key string, wasm bool) {
	isRef := refWord.MatchString(name)
	name = strings.TrimSuffix(name, "/in-process")
	switch {
	case isRef && wasmWord.MatchString(name):
		return "", false
	case isRef:
		name = strings.NewReplacer("Reference", "", "reference", "").Replace(name)
	case wasmWord.MatchString(name):
		name, wasm = wasmWord.ReplaceAllString(name, ""), true
	case decideRules.MatchString(name):
		name, wasm = decideRules.ReplaceAllString(name, "$1"), true
	default:
		return "", false
	}
	return strings.Trim(slashes.ReplaceAllString(name, "/"), "/"), wasm
}

// pairName is a pair's key as the goals name it: "demo rules", "1,000
// rules".
func pairName(key string) string {
	if key == "Demo" {
		return "demo rules"
	}
	if n, ok := strings.CutPrefix(key, "Rules/"); ok {
		if v, err := strconv.ParseFloat(n, 64); err == nil {
			return thousands(v) + " rules"
		}
	}
	return key
}

// findPairs compares benchmarks that measure the same thing two ways:
// the Wasm module against the reference evaluator, and a rewrite against
// copying the same bytes (Memmove, IOCopy, Copy).
func findPairs(sums []gobench.Summary) []microPair {
	var pairs []microPair
	for _, a := range sums {
		ka, wasm := pairKey(a.Name)
		if ka == "" || !wasm {
			continue
		}
		for _, b := range sums {
			if kb, wasm := pairKey(b.Name); b.Pkg != a.Pkg || kb != ka || wasm {
				continue
			}
			an, ok1 := a.Get("ns/op")
			bn, ok2 := b.Get("ns/op")
			if ok1 && ok2 && bn > 0 {
				pairs = append(pairs, microPair{Kind: "wasm-vs-reference", Pkg: a.Pkg, A: a.Name, B: b.Name, Key: ka, Ratio: an / bn,
					Meaning: "Wasm time ÷ reference time (≤ 1: Wasm is as fast or faster)"})
			}
		}
	}
	for _, a := range sums {
		// Each rewrite beside a copy of the same input: the synthetic
		// page's (Rewrite/…: Memmove, IOCopy), a saved page's
		// (RewritePage/shop/…: RewritePage/shop/memmove, …/iocopy).
		// The copies themselves, and inputs no copy was timed on (the
		// corpus), pair with nothing.
		parts := strings.Split(a.Name, "/")
		if last := parts[len(parts)-1]; last == "memmove" || last == "iocopy" {
			continue
		}
		var bases []string
		switch {
		case strings.HasPrefix(a.Name, "Rewrite/"):
			bases = []string{"Memmove", "IOCopy", "Copy"}
		case strings.HasPrefix(a.Name, "RewritePage/") && len(parts) == 3:
			bases = []string{"RewritePage/" + parts[1] + "/memmove", "RewritePage/" + parts[1] + "/iocopy"}
		}
		for _, base := range bases {
			for _, b := range sums {
				if b.Pkg != a.Pkg || b.Name != base {
					continue
				}
				if r, ok := throughputRatio(a, b); ok {
					pairs = append(pairs, microPair{Kind: "rewrite-vs-copy", Pkg: a.Pkg, A: a.Name, B: b.Name, Ratio: r,
						Meaning: "rewrite throughput ÷ copy throughput"})
				}
			}
		}
	}
	return pairs
}

func throughputRatio(a, b gobench.Summary) (float64, bool) {
	if am, ok := a.Get("MB/s"); ok {
		if bm, ok := b.Get("MB/s"); ok && bm > 0 {
			return am / bm, true
		}
	}
	an, ok1 := a.Get("ns/op")
	bn, ok2 := b.Get("ns/op")
	if ok1 && ok2 && an > 0 {
		return bn / an, true
	}
	return 0, false
}

// find returns the benchmark of a package (matched by suffix, "" for
// any) whose name matches re, preferring a Wasm variant and never a
// reference one, or why there is none.
func (m *microResult) find(pkgSuffix string, re *regexp.Regexp) (*gobench.Summary, string) {
	if m == nil {
		return nil, "micro-benchmarks not run"
	}
	var best *gobench.Summary
	for i := range m.Benchmarks {
		s := &m.Benchmarks[i]
		if pkgSuffix != "" && !strings.HasSuffix(s.Pkg, pkgSuffix) {
			continue
		}
		if !re.MatchString(s.Name) || refWord.MatchString(s.Name) {
			continue
		}
		if best == nil || wasmWord.MatchString(s.Name) && !wasmWord.MatchString(best.Name) {
			best = s
		}
	}
	if best != nil {
		return best, ""
	}
	for pkg, why := range m.NotBuilt {
		if pkgSuffix != "" && strings.HasSuffix(pkg, pkgSuffix) {
			return nil, "not present: " + shortPkg(pkg) + " does not build (" + why + ")"
		}
	}
	for _, p := range m.Packages {
		if p.Error != "" && pkgSuffix != "" && strings.HasSuffix(p.Pkg, pkgSuffix) {
			return nil, "not present: " + shortPkg(p.Pkg) + " failed"
		}
	}
	return nil, "not present"
}
