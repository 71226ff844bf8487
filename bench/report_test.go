package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/bench/internal/gobench"
)

// TestDecisionGoals: the decision goals read the benchmarks that measure
// what they name, in-process and from-file kept apart.
func TestDecisionGoals(t *testing.T) {
	out := `pkg: github.com/bespoke-edge/bespoke/host/internal/site
BenchmarkDemoWasmCall/in-process-2    1000000    200.0 ns/op
BenchmarkDemoWasmCall/in-process-2    1000000    210.0 ns/op
BenchmarkDemoWasmCall/from-file-2     1000000    220.0 ns/op
BenchmarkDemoWasmCall/from-file-2     1000000    230.0 ns/op
BenchmarkDemoReference-2              1000000    400.0 ns/op
BenchmarkDecideRules/1000/in-process-2   100000  5000 ns/op
BenchmarkDecideRules/1000/from-file-2    100000  9000 ns/op
BenchmarkDecideRules/10000/in-process-2  10000   150000 ns/op
BenchmarkDecideRules/10000/from-file-2   10000   60000 ns/op
BenchmarkLoadRules/10000/in-process-2    2       900000000 ns/op
BenchmarkLoadRules/10000/from-file-2     3       300000000 ns/op
BenchmarkReferenceRules/1000-2           10000   40000 ns/op
BenchmarkReferenceRules/10000-2          1000    100000 ns/op
`
	res, err := gobench.Parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	sums := gobench.Summarize(res)
	h := &harness{micro: &microResult{Raw: res, Benchmarks: sums, Pairs: findPairs(sums)}}
	want := map[string]struct{ status, figure, source string }{
		"Wasm decide, demo rules":                                    {"PASS", "205 ns", "BenchmarkDemoWasmCall/in-process"},
		"Wasm decide, 1,000 rules":                                   {"PASS", "5.00 µs", "BenchmarkDecideRules/1000/in-process"},
		"Wasm decide, 10,000 rules":                                  {"FAIL", "150 µs", "BenchmarkDecideRules/10000/in-process"},
		"decide from a .wasm file ÷ compiled in process, demo rules": {"PASS", "1.10×", "BenchmarkDemoWasmCall/from-file ÷ BenchmarkDemoWasmCall/in-process"},
		"load 10,000 rules from a .wasm file":                        {"PASS", "300 ms", "BenchmarkLoadRules/10000/from-file"},
		"Wasm vs reference evaluator, demo rules":                    {"PASS", "0.51×", "BenchmarkDemoWasmCall/in-process ÷ BenchmarkDemoReference"},
		"Wasm vs reference evaluator, 1,000 rules":                   {"PASS", "0.12×", "BenchmarkDecideRules/1000/in-process ÷ BenchmarkReferenceRules/1000"},
		"Wasm vs reference evaluator, 10,000 rules":                  {"FAIL", "1.50×", "BenchmarkDecideRules/10000/in-process ÷ BenchmarkReferenceRules/10000"},
	}
	got := map[string]goal{}
	for _, g := range h.goals(nil) {
		got[g.Name] = g
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("no goal %q", name)
			continue
		}
		if g.Status != w.status || !strings.HasPrefix(g.Figure, w.figure) || !strings.HasPrefix(g.Source, w.source) {
			t.Errorf("%s: %s %q from %q; want %s %q from %q", name, g.Status, g.Figure, g.Source, w.status, w.figure, w.source)
		}
	}
}

// TestRatioGoalPrecision: a ratio that misses its goal by less than the
// last digit shown gets a third decimal, so that a FAIL never reads as
// the goal itself; one that meets it, or misses clearly, keeps two.
func TestRatioGoalPrecision(t *testing.T) {
	h := &harness{}
	for _, tc := range []struct {
		median   float64
		status   string
		figStart string
	}{
		{0.8462, "FAIL", "0.846× ["},
		{0.8512, "PASS", "0.85× ["},
		{0.77, "FAIL", "0.77× ["},
	} {
		cs := []comparison{{A: "bespoke-seen", B: "goproxy", Unit: "×", Stat: gobench.Stat{Median: tc.median, Min: 0.8, Max: 0.87, N: 3}}}
		found := false
		for _, g := range h.goals(cs) {
			if g.Name != "bespoke-seen req/s vs goproxy" {
				continue
			}
			found = true
			if g.Status != tc.status || !strings.HasPrefix(g.Figure, tc.figStart) {
				t.Errorf("median %v: %s %q, want %s and a figure starting %q", tc.median, g.Status, g.Figure, tc.status, tc.figStart)
			}
		}
		if !found {
			t.Fatal("no goal bespoke-seen req/s vs goproxy")
		}
	}
}

// TestPathologicalGoal: the goal is the worst page's median ns/byte over
// the shop page's median ns/byte, both from the same run of the package
// and written the same way (whole or in small writes), never a ratio the
// benchmark reported (which divided by the shop page's last run); the
// same per tag; and without the shop page's runs there is nothing to
// divide by, which the goal says.
func TestPathologicalGoal(t *testing.T) {
	// The shop page's runs in the order go test makes them: their last
	// (3.0 whole, 1.6 chunked) is not their median.
	const shop = `pkg: github.com/bespoke-edge/bespoke/host/internal/rewrite
BenchmarkPathological/shop/whole-2          100  400000 ns/op  2.0 ns/byte  80 ns/tag
BenchmarkPathological/shop/whole-2          100  400000 ns/op  2.5 ns/byte  80 ns/tag
BenchmarkPathological/shop/whole-2          100  400000 ns/op  3.0 ns/byte  80 ns/tag
BenchmarkPathological/shop/chunked-2        100  400000 ns/op  4.0 ns/byte  100 ns/tag
BenchmarkPathological/shop/chunked-2        100  400000 ns/op  4.0 ns/byte  100 ns/tag
BenchmarkPathological/shop/chunked-2        100  400000 ns/op  1.6 ns/byte  100 ns/tag
`
	const pages = `BenchmarkPathological/deep-divs/whole-2     100  900000 ns/op  9.0 ns/byte  70 ns/tag
BenchmarkPathological/deep-divs/chunked-2   100  900000 ns/op  10.0 ns/byte  75 ns/tag  99 ×shop  9.9 ×shop/tag
BenchmarkPathological/many-siblings/whole-2 100  900000 ns/op  16.0 ns/byte  96 ns/tag
BenchmarkPathological/many-siblings/whole-2 100  900000 ns/op  17.5 ns/byte  96 ns/tag
BenchmarkPathological/many-siblings/whole-2 100  900000 ns/op  18.0 ns/byte  96 ns/tag
`
	for _, tc := range []struct {
		name, out              string
		status, figure, source string
	}{
		{"medians of the same run", shop + pages, "FAIL",
			"7.00× (many-siblings/whole: 17.5 [16–18] ÷ 2.5 [2–3] ns/byte, medians of 3 and 3 runs; a tag 1.20× the shop page's)",
			"BenchmarkPathological/many-siblings/whole ÷ BenchmarkPathological/shop/whole in host/internal/rewrite"},
		{"whole against whole, chunked against chunked", strings.Replace(shop, "4.0 ns/byte", "1.0 ns/byte", 2) + pages, "FAIL",
			"10.00× (deep-divs/chunked: 10 ÷ 1 [1–1.6] ns/byte, medians of 1 and 3 runs; a tag 0.75× the shop page's)",
			"BenchmarkPathological/deep-divs/chunked ÷ BenchmarkPathological/shop/chunked in host/internal/rewrite"},
		{"met", shop + "BenchmarkPathological/deep-divs/whole-2  100  900000 ns/op  5.0 ns/byte\n", "PASS",
			"2.00× (deep-divs/whole: 5 ÷ 2.5 [2–3] ns/byte, medians of 1 and 3 runs)",
			"BenchmarkPathological/deep-divs/whole ÷ BenchmarkPathological/shop/whole in host/internal/rewrite"},
		{"no shop page", "pkg: github.com/bespoke-edge/bespoke/host/internal/rewrite\n" + pages, "n/a",
			"n/a (not present: BenchmarkPathological/shop/whole, BenchmarkPathological/shop/chunked, which the ratio divides by, did not run)",
			"BenchmarkPathological in host/internal/rewrite"},
		{"no pathological page", shop, "n/a",
			"n/a (not present: no BenchmarkPathological results in host/internal/rewrite)",
			"BenchmarkPathological in host/internal/rewrite"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := gobench.Parse(strings.NewReader(tc.out))
			if err != nil {
				t.Fatal(err)
			}
			h := &harness{micro: &microResult{Raw: res, Benchmarks: gobench.Summarize(res)}}
			g := h.pathologicalGoal()
			if g.Status != tc.status || g.Figure != tc.figure || g.Source != tc.source {
				t.Errorf("%s %q from %q\nwant %s %q from %q", g.Status, g.Figure, g.Source, tc.status, tc.figure, tc.source)
			}
		})
	}
}

// TestSlowSpell: a goal read from a package whose speed probes took much
// longer than the run's median says it ran in a slow spell, and the
// micro-benchmarks section names that package; a package that ran at the
// usual speed gets no note.
func TestSlowSpell(t *testing.T) {
	out := `pkg: github.com/bespoke-edge/bespoke/host/internal/rewrite
BenchmarkRewritePage/shop/passthrough-2   1000   374000 ns/op   418.00 MB/s
pkg: github.com/bespoke-edge/bespoke/host/internal/seen
BenchmarkCookieRequest/lists-2   200000   5070 ns/op
`
	res, err := gobench.Parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	const rw, sn = "github.com/bespoke-edge/bespoke/host/internal/rewrite", "github.com/bespoke-edge/bespoke/host/internal/seen"
	m := &microResult{Raw: res, Benchmarks: gobench.Summarize(res), ProbeMedian: 2e6, Packages: []microPackage{
		{Pkg: rw, ProbeBefore: 2.1e6, ProbeAfter: 3.9e6},
		{Pkg: sn, ProbeBefore: 3.9e6 / 2, ProbeAfter: 2e6},
	}}
	h := &harness{micro: m}
	figures := map[string]string{}
	for _, g := range h.goals(nil) {
		figures[g.Name] = g.Figure
	}
	if f := figures["HTML rewrite, pass-through (shop page)"]; !strings.Contains(f, "slow spell: the speed probe took 1.95× its median") {
		t.Errorf("the rewrite goal does not say it ran in a slow spell: %q", f)
	}
	if f := figures["seen cookie: decode, test, add, encode"]; strings.Contains(f, "slow spell") {
		t.Errorf("the seen goal, from a package that ran at the usual speed, says %q", f)
	}
	var b strings.Builder
	writeMicro(&b, &report{Micro: m})
	if !strings.Contains(b.String(), "ran in a slow spell of the machine: `host/internal/rewrite` 1.95×:") {
		t.Errorf("the micro-benchmarks section does not name the slow package:\n%s", b.String())
	}
	if speedProbe() <= 0 {
		t.Error("the speed probe measured no time")
	}
}

// TestPairKey: the Wasm module's benchmarks pair with the reference
// evaluator's on the same rules (the module compiled in process, as the
// evaluator runs), and a name that only holds the letters of "ref" is
// neither side.
func TestPairKey(t *testing.T) {
	for _, tc := range []struct {
		name, key string
		wasm      bool
	}{
		{"DemoWasmCall/in-process", "Demo", true},
		{"DemoWasmCall", "Demo", true},
		{"DemoReference", "Demo", false},
		{"DecideRules/1000/in-process", "Rules/1000", true},
		{"ReferenceRules/1000", "Rules/1000", false},
		{"Decide/reference", "Decide", false},
		{"DecideRules/1000/from-file", "", false},
		{"DemoWasmCall/from-file", "Demo/from-file", true},
		{"Prefetch", "", false},
		{"RewritePage/shop/hrefs", "", false},
		{"Preference/in-process", "", false},
		{"DemoDecide", "", false},
	} {
		key, wasm := pairKey(tc.name)
		if key != tc.key || wasm != tc.wasm {
			t.Errorf("pairKey(%q) = %q, %v; want %q, %v", tc.name, key, wasm, tc.key, tc.wasm)
		}
	}
	// The goals' lookup skips reference benchmarks, and only those.
	sums := []gobench.Summary{
		{Pkg: "x/prefetch", Name: "Prefetch", Metrics: map[string]gobench.Stat{"ns/op": {Median: 1, N: 1}}},
		{Pkg: "x/prefetch", Name: "PrefetchReference", Metrics: map[string]gobench.Stat{"ns/op": {Median: 2, N: 1}}},
	}
	m := &microResult{Benchmarks: sums}
	if s, why := m.find("/prefetch", regexp.MustCompile(`^Prefetch`)); s == nil || s.Name != "Prefetch" {
		t.Errorf("find: %v, %q; want Prefetch", s, why)
	}
}

// TestCostNotRun: a stage of the cost table whose benchmark -bench left
// out (as -quick leaves out the splices and the handler) says it was not
// run; one that -bench asked for and no package reported is not present.
func TestCostNotRun(t *testing.T) {
	res, err := gobench.Parse(strings.NewReader(`pkg: github.com/bespoke-edge/bespoke/host/internal/rewrite
BenchmarkRewritePage/shop/edits-2   1000   209000 ns/op   748.00 MB/s
`))
	if err != nil {
		t.Fatal(err)
	}
	rep := &report{Options: options{Bench: goalBenchmarks}, Micro: &microResult{Raw: res, Benchmarks: gobench.Summarize(res)}}
	var b strings.Builder
	writeCost(&b, rep)
	out := b.String()
	for _, want := range []string{
		"| Splice/edits/splice | not run: -bench leaves it out |",
		"| Handler/seen | not run: -bench leaves it out |",
		"| RewritePage/shop/hideseen | not present |",
		"| ProxyEditMaps/goproxy | not present |",
		"| 209 µs |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the cost table lacks %q:\n%s", want, out)
		}
	}
	// Without a -bench (results of an older run), nothing was left out.
	rep.Options.Bench = ""
	b.Reset()
	writeCost(&b, rep)
	if strings.Contains(b.String(), "not run") {
		t.Errorf("with every benchmark run, a stage says it was not:\n%s", b.String())
	}
}

// TestGoalsNotRun: a goal whose benchmark -bench left out says it was not
// run; one whose benchmark -bench asked for and no package reported is
// not present.
func TestGoalsNotRun(t *testing.T) {
	res, err := gobench.Parse(strings.NewReader(`pkg: github.com/bespoke-edge/bespoke/host/internal/rewrite
BenchmarkRewritePage/shop/passthrough-2   1000   185000 ns/op   845.00 MB/s
`))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{opts: options{Bench: "RewritePage|CookieRequest/lists"}, micro: &microResult{Raw: res, Benchmarks: gobench.Summarize(res)}}
	figures := map[string]string{}
	for _, g := range h.goals(nil) {
		figures[g.Name] = g.Figure
	}
	for name, want := range map[string]string{
		"Wasm decide, demo rules":                                    "n/a (not run: -bench leaves it out)",
		"Compile 1,000 rules":                                        "n/a (not run: -bench leaves it out)",
		"HTML rewrite, pass-through (shop page)":                     "845 MB/s",
		"HTML rewrite, five edits (shop page)":                       "n/a (not present)",
		"seen cookie: decode, test, add, encode":                     "n/a (not present)",
		"decide from a .wasm file ÷ compiled in process, demo rules": "n/a (not run: -bench leaves it out)",
		"HTML rewrite, worst pathological page ns/byte ÷ shop page":  "n/a (not run: -bench leaves it out)",
		"Wasm vs reference evaluator":                                "n/a (not run: -bench leaves it out)",
	} {
		if got := figures[name]; got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}
