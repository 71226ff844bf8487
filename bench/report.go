package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/bespoke-edge/bespoke/bench/internal/gobench"
)

// targetSummary is a target over all rounds: medians with min and max.
type targetSummary struct {
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Skipped     string        `json:"skipped,omitempty"`
	Check       *verifyResult `json:"check,omitempty"`
	Rounds      int           `json:"rounds_measured"`
	RPS         gobench.Stat  `json:"rps"`
	// VsGoproxy is its req/s ÷ goproxy's, taken within each round (as
	// every ratio of the report) and summarized over the rounds.
	VsGoproxy gobench.Stat `json:"rps_vs_goproxy"`
	// RespKiB is the mean response body, in KiB.
	RespKiB gobench.Stat `json:"response_kib"`
	// Latencies at the fixed rate, in milliseconds.
	P50  gobench.Stat `json:"p50_ms"`
	P99  gobench.Stat `json:"p99_ms"`
	P999 gobench.Stat `json:"p999_ms"`
	Max  gobench.Stat `json:"max_ms"`
	// CPU seconds per 1,000 requests.
	CPUPer1k       gobench.Stat `json:"cpu_s_per_1k"`
	CPUPer1kAtRate gobench.Stat `json:"cpu_s_per_1k_at_rate"`
	OriginCPUPer1k gobench.Stat `json:"origin_cpu_s_per_1k"`
	ClientCPUPer1k gobench.Stat `json:"client_cpu_s_per_1k"`
	PeakRSSMiB     gobench.Stat `json:"peak_rss_mib"`
	Processes      int          `json:"processes"`
	WrkRPS         float64      `json:"wrk_rps,omitempty"`
	WrkProblem     string       `json:"wrk_problem,omitempty"`
	// Elsewhere is the most CPUs other processes kept busy during any of
	// the target's runs.
	Elsewhere float64  `json:"busy_elsewhere_cpus_max"`
	Failed    int64    `json:"failed_requests"`
	Errors    []string `json:"errors,omitempty"`
}

// comparison is a ratio or difference between two targets, computed round
// by round (the two ran minutes apart at most) and then summarized.
type comparison struct {
	Name     string       `json:"name"`
	A        string       `json:"a"`
	B        string       `json:"b"`
	Unit     string       `json:"unit"`
	Stat     gobench.Stat `json:"stat"`
	PerRound []float64    `json:"per_round"`
}

// goal is one target figure with its verdict.
type goal struct {
	Name   string  `json:"name"`
	Figure string  `json:"figure"`
	Value  float64 `json:"value,omitempty"`
	Want   string  `json:"want"`
	Status string  `json:"status"` // PASS, FAIL, n/a, or info (a figure with no goal of its own)
	Source string  `json:"source"`
}

// report is everything results.json holds.
type report struct {
	Started     time.Time         `json:"started"`
	Seconds     float64           `json:"seconds"`
	Command     string            `json:"command"`
	Options     options           `json:"options"`
	Machine     machineInfo       `json:"machine"`
	Page        pageInfo          `json:"page"`
	PageBytes   int               `json:"page_bytes"`
	PageItems   int               `json:"page_items"`
	Selectors   Selectors         `json:"selectors"`
	Rate        float64           `json:"latency_rate_rps"`
	RateNote    string            `json:"latency_rate_note"`
	Targets     []*targetSummary  `json:"targets"`
	Comparisons []comparison      `json:"comparisons"`
	Goals       []goal            `json:"goals"`
	Runs        []*runResult      `json:"runs"`
	Micro       *microResult      `json:"micro,omitempty"`
	Notes       []string          `json:"notes"`
	Files       map[string]string `json:"files"`
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func (h *harness) summarize() []*targetSummary {
	var out []*targetSummary
	goproxy := map[int]float64{} // its req/s by round
	for _, r := range h.runs {
		if r.Target == "goproxy" && r.Throughput != nil {
			goproxy[r.Round] = r.Throughput.Throughput
		}
	}
	for _, t := range h.targets {
		s := &targetSummary{Name: t.Name, Description: t.Desc, Skipped: t.skip, Check: t.verify}
		var rps, vs, kib, p50, p99, p999, mx, cpu, cpuRate, ocpu, ccpu, rss []float64
		for _, r := range h.runs {
			if r.Target != t.Name {
				continue
			}
			if r.Error != "" {
				s.Errors = append(s.Errors, fmt.Sprintf("round %d: %s", r.Round, r.Error))
			}
			s.Elsewhere = max(s.Elsewhere, r.Elsewhere, r.ElsewhereAtRate)
			if r.WrkRPS > 0 || r.WrkProblem != "" {
				s.WrkRPS, s.WrkProblem = r.WrkRPS, r.WrkProblem
			}
			if r.Throughput != nil {
				s.Rounds++
				s.Failed += r.Throughput.Failed()
				rps = append(rps, r.Throughput.Throughput)
				if g := goproxy[r.Round]; g > 0 {
					vs = append(vs, r.Throughput.Throughput/g)
				}
				if n := r.Throughput.OK + r.Throughput.BadStatus; n > 0 {
					kib = append(kib, float64(r.Throughput.Bytes)/float64(n)/1024)
				}
				cpu = append(cpu, r.CPUPer1k)
				ocpu = append(ocpu, r.OriginCPUPer1k)
				ccpu = append(ccpu, r.ClientCPUPer1k)
				rss = append(rss, float64(r.PeakRSSKiB)/1024)
				s.Processes = r.Processes
			}
			if l := r.Latency; l != nil {
				s.Failed += l.Failed()
				p50 = append(p50, ms(l.Latency.P50))
				p99 = append(p99, ms(l.Latency.P99))
				p999 = append(p999, ms(l.Latency.P999))
				mx = append(mx, ms(l.Latency.Max))
				cpuRate = append(cpuRate, r.CPUPer1kAtRate)
			}
		}
		s.RespKiB, s.VsGoproxy = gobench.Describe(kib), gobench.Describe(vs)
		s.RPS, s.P50, s.P99, s.P999, s.Max = gobench.Describe(rps), gobench.Describe(p50), gobench.Describe(p99), gobench.Describe(p999), gobench.Describe(mx)
		s.CPUPer1k, s.CPUPer1kAtRate = gobench.Describe(cpu), gobench.Describe(cpuRate)
		s.OriginCPUPer1k, s.ClientCPUPer1k, s.PeakRSSMiB = gobench.Describe(ocpu), gobench.Describe(ccpu), gobench.Describe(rss)
		out = append(out, s)
	}
	return out
}

// cpuUnit marks the comparisons of CPU time per request, a ratio.
const cpuUnit = "cpu×"

// The comparisons reported when both targets ran.
var (
	cpuRatios = [][2]string{{"bespoke-seen", "nginx-subfilter"}, {"bespoke-seen", "goproxy"}}
	rpsRatios = [][2]string{
		{"bespoke-seen", "goproxy"}, {"bespoke-seen", "nginx-subfilter"},
		{"bespoke-edits", "goproxy"}, {"bespoke-edits", "nginx-subfilter"},
		{"bespoke-none", "goproxy"}, {"bespoke-seen-varying", "goproxy"},
		{"bespoke-seen-varying", "bespoke-seen"}, {"bespoke-seen-rewrite", "goproxy"}, {"bespoke-seen-rewrite", "bespoke-seen"},
		{"bespoke-seen-text", "goproxy"}, {"bespoke-seen-text", "bespoke-seen"},
		{"bespoke-seen-nonce", "goproxy"}, {"bespoke-seen-nonce", "bespoke-seen"},
		{"bespoke-seen-streamed", "goproxy"}, {"bespoke-seen-streamed", "bespoke-seen"},
		{"goproxy", "nginx-plain"},
		{"nginx-subfilter", "nginx-plain"}, {"goproxy", "origin"},
		{"caddy-bespoke", "caddy-plain"}, {"caddy-bespoke", "bespoke-seen"}, {"caddy-plain", "goproxy"},
	}
	p99Deltas = [][2]string{
		{"bespoke-seen", "goproxy"}, {"bespoke-edits", "goproxy"}, {"bespoke-none", "goproxy"},
		{"bespoke-seen", "nginx-subfilter"}, {"nginx-subfilter", "nginx-plain"},
		{"caddy-bespoke", "caddy-plain"},
	}
)

func (h *harness) compare() []comparison {
	byRound := map[string]map[int]*runResult{}
	for _, r := range h.runs {
		if byRound[r.Target] == nil {
			byRound[r.Target] = map[int]*runResult{}
		}
		byRound[r.Target][r.Round] = r
	}
	var out []comparison
	add := func(name, a, b, unit string, f func(x, y *runResult) (float64, bool)) {
		var vals []float64
		for round := 1; round <= h.opts.Rounds; round++ {
			x, y := byRound[a][round], byRound[b][round]
			if x == nil || y == nil {
				continue
			}
			if v, ok := f(x, y); ok {
				vals = append(vals, v)
			}
		}
		if len(vals) > 0 {
			out = append(out, comparison{Name: name, A: a, B: b, Unit: unit, Stat: gobench.Describe(vals), PerRound: vals})
		}
	}
	for _, p := range rpsRatios {
		add(p[0]+" ÷ "+p[1]+" req/s", p[0], p[1], "×", func(x, y *runResult) (float64, bool) {
			if x.Throughput == nil || y.Throughput == nil || y.Throughput.Throughput == 0 {
				return 0, false
			}
			return x.Throughput.Throughput / y.Throughput.Throughput, true
		})
	}
	for _, p := range cpuRatios {
		add("CPU per request at the fixed rate, "+p[0]+" ÷ "+p[1], p[0], p[1], cpuUnit, func(x, y *runResult) (float64, bool) {
			if x.Latency == nil || y.Latency == nil || y.CPUPer1kAtRate <= 0 {
				return 0, false
			}
			return x.CPUPer1kAtRate / y.CPUPer1kAtRate, true
		})
	}
	for _, p := range p99Deltas {
		add("p99 added by "+p[0]+" over "+p[1], p[0], p[1], "ms", func(x, y *runResult) (float64, bool) {
			if x.Latency == nil || y.Latency == nil {
				return 0, false
			}
			return ms(x.Latency.Latency.P99) - ms(y.Latency.Latency.P99), true
		})
	}
	return out
}

func findComparison(cs []comparison, a, b, unit string) *comparison {
	for i := range cs {
		if cs[i].A == a && cs[i].B == b && cs[i].Unit == unit {
			return &cs[i]
		}
	}
	return nil
}

// whyMissing says in a few words why a target has no figure; the
// Targets table has the details.
func (h *harness) whyMissing(name string) string {
	for _, t := range h.targets {
		if t.Name == name {
			if t.skip != "" {
				parts := strings.SplitN(t.skip, ": ", 3)
				why := parts[0]
				if len(parts) > 1 && len(parts[1]) < 40 {
					why += ": " + parts[1]
				}
				return name + " skipped (" + why + ")"
			}
			return name + " has no measurement"
		}
	}
	return name + " not in -targets"
}

// goals evaluates every goal; a figure that was not measured is n/a.
func (h *harness) goals(cs []comparison) []goal {
	var gs []goal
	ratioGoal := func(name, a, b, unit string, limit float64, atMost bool) {
		want := fmt.Sprintf("≥ %.2f×", limit)
		if atMost {
			want = fmt.Sprintf("≤ %.2f×", limit)
		}
		g := goal{Name: name, Want: want, Source: "load, median of rounds"}
		if unit == cpuUnit {
			g.Source = fmt.Sprintf("load at %s req/s, median of rounds", thousands(h.rate))
		}
		if c := findComparison(cs, a, b, unit); c != nil {
			ok := c.Stat.Median >= limit
			if atMost {
				ok = c.Stat.Median <= limit
			}
			// Two decimals, or three when two would round a miss onto
			// the goal (0.846× is not 0.85×).
			format := "%.2f×"
			if fmt.Sprintf(format, c.Stat.Median) == fmt.Sprintf(format, limit) && !ok {
				format = "%.3f×"
			}
			g.Value, g.Figure = c.Stat.Median, statText(c.Stat, func(v float64) string { return fmt.Sprintf(format, v) })
			g.Status = verdict(ok)
			g.Figure += h.roundsAgree(c.PerRound, func(v float64) bool {
				if atMost {
					return v <= limit
				}
				return v >= limit
			})
		} else {
			var why []string
			for _, n := range []string{a, b} {
				if w := h.whyMissing(n); !strings.HasSuffix(w, "has no measurement") || len(why) == 0 {
					why = append(why, w)
				}
			}
			g.Status, g.Figure = "n/a", "n/a: "+strings.Join(why, "; ")
		}
		gs = append(gs, g)
	}
	// The goals of the issue "Personalization for the price of a copy".
	ratioGoal("bespoke-seen req/s vs nginx-subfilter", "bespoke-seen", "nginx-subfilter", "×", 1.20, false)
	ratioGoal("bespoke-seen req/s vs goproxy", "bespoke-seen", "goproxy", "×", 0.85, false)
	ratioGoal("bespoke-seen-varying req/s vs goproxy", "bespoke-seen-varying", "goproxy", "×", 0.60, false)
	ratioGoal("bespoke-none req/s vs goproxy", "bespoke-none", "goproxy", "×", 0.90, false)
	ratioGoal("CPU/request at the fixed rate, bespoke-seen vs nginx-subfilter", "bespoke-seen", "nginx-subfilter", cpuUnit, 1.00, true)
	g := goal{Name: "p99 added by bespoke-seen over goproxy", Want: "< 0.5 ms", Source: fmt.Sprintf("load at %s req/s, median of rounds", thousands(h.rate))}
	if c := findComparison(cs, "bespoke-seen", "goproxy", "ms"); c != nil {
		g.Value, g.Figure = c.Stat.Median, statText(c.Stat, func(v float64) string { return fmt.Sprintf("%+.2f ms", v) })
		g.Status = verdict(c.Stat.Median < 0.5)
		g.Figure += h.roundsAgree(c.PerRound, func(v float64) bool { return v < 0.5 })
	} else {
		g.Status, g.Figure = "n/a", "n/a: "+h.whyMissing("bespoke-seen")
	}
	gs = append(gs, g)

	micro := func(name, pkg, pattern, unit, want string, ok func(float64) bool, format func(float64) string) {
		g := goal{Name: name, Want: want}
		s, why := h.micro.find(pkg, regexp.MustCompile(pattern))
		if s == nil {
			why = h.whyNotFound(why, pattern)
			g.Status, g.Figure, g.Source = "n/a", "n/a ("+why+")", "benchmark matching "+pattern
			gs = append(gs, g)
			return
		}
		g.Source = "Benchmark" + s.Name + " in " + shortPkg(s.Pkg)
		v, has := s.Get(unit)
		if !has {
			g.Status, g.Figure = "n/a", "n/a (no "+unit+" reported)"
		} else {
			g.Value, g.Figure = v, statText(s.Metrics[unit], format)+h.micro.spellNote(s.Pkg)
			if ok == nil {
				g.Status = "info"
			} else {
				g.Status = verdict(ok(v))
			}
		}
		gs = append(gs, g)
	}
	// ratio is a goal on the ratio of two benchmarks' medians (ns/op),
	// a ÷ b, from the same run.
	ratio := func(name, pkg, a, b, want string, ok func(float64) bool) {
		g := goal{Name: name, Want: want}
		sa, why := h.micro.find(pkg, regexp.MustCompile(a))
		sb, whyB := h.micro.find(pkg, regexp.MustCompile(b))
		if sa == nil || sb == nil {
			why = h.whyNotFound(why, a)
			if sa != nil {
				why = h.whyNotFound(whyB, b)
			}
			g.Status, g.Figure, g.Source = "n/a", "n/a ("+why+")", "benchmarks matching "+a+" and "+b
			gs = append(gs, g)
			return
		}
		g.Source = "Benchmark" + sa.Name + " ÷ Benchmark" + sb.Name + " in " + shortPkg(sa.Pkg)
		va, okA := sa.Get("ns/op")
		vb, okB := sb.Get("ns/op")
		if !okA || !okB || vb <= 0 {
			g.Status, g.Figure = "n/a", "n/a (no ns/op reported)"
		} else {
			g.Value = va / vb
			g.Figure = fmt.Sprintf("%.2f× (%s ÷ %s)", g.Value, nsText(va), nsText(vb))
			g.Status = verdict(ok(g.Value))
		}
		gs = append(gs, g)
	}
	nsAsTime := nsText
	mbps := func(v float64) string { return fmt.Sprintf("%.0f MB/s", v) }
	micro("Wasm decide, demo rules", "/host/internal/site", `^DemoWasmCall/in-process$`, "ns/op", "< 2 µs", func(v float64) bool { return v < 2000 }, nsAsTime)
	micro("Wasm decide, 1,000 rules", "/host/internal/site", `^DecideRules/1000/in-process$`, "ns/op", "< 20 µs", func(v float64) bool { return v < 20000 }, nsAsTime)
	micro("Wasm decide, 10,000 rules", "/host/internal/site", `^DecideRules/10000/in-process$`, "ns/op", "< 100 µs", func(v float64) bool { return v < 100000 }, nsAsTime)
	// A plugin read from a .wasm file runs like one compiled in process
	// once the verifier has found it bounded (internal/bounded).
	ratio("decide from a .wasm file ÷ compiled in process, demo rules", "/host/internal/site", `^DemoWasmCall/from-file$`, `^DemoWasmCall/in-process$`, "≤ 1.20×", func(v float64) bool { return v <= 1.2 })
	// The slowest modules the verifier runs without a deadline (chains
	// of its slowest instructions, as long as their static cost allows)
	// decide within the deadline the others get.
	micro("slowest module run without a deadline: square roots", "/host/internal/engine", `^SlowestBoundedModules/square-roots$`, "ns/op", "< 50 ms", func(v float64) bool { return v < 50e6 }, nsAsTime)
	micro("slowest module run without a deadline: a pointer chase", "/host/internal/engine", `^SlowestBoundedModules/a-pointer-chase$`, "ns/op", "< 50 ms", func(v float64) bool { return v < 50e6 }, nsAsTime)
	// Loading a plugin: read the .wasm, verify it, compile it to machine
	// code (no cache), create its first instance.
	micro("load 10,000 rules from a .wasm file", "/host/internal/site", `^LoadRules/10000/from-file$`, "ns/op", "< 0.5 s", func(v float64) bool { return v < 0.5e9 }, nsAsTime)
	// The saved shop page, the one the load runs serve: real-world markup
	// has more tags per byte than a synthetic page, and costs more.
	micro("HTML rewrite, pass-through (shop page)", "/host/internal/rewrite", `^RewritePage/shop/passthrough$`, "MB/s", "≥ 2,000 MB/s", func(v float64) bool { return v >= 2000 }, mbps)
	micro("HTML rewrite, five edits (shop page)", "/host/internal/rewrite", `^RewritePage/shop/edits$`, "MB/s", "≥ 1,500 MB/s", func(v float64) bool { return v >= 1500 }, mbps)
	micro("HTML rewrite, five edits + hide_seen (shop page)", "/host/internal/rewrite", `^RewritePage/shop/hideseen$`, "MB/s", "≥ 1,000 MB/s", func(v float64) bool { return v >= 1000 }, mbps)
	// The same rewrites over a public corpus (Mozilla Readability's 134
	// test pages, fetched through the Go module proxy): pages as sites
	// send them, for scale; the goals are the shop page's.
	micro("HTML rewrite, pass-through (134 public pages)", "/host/internal/rewrite", `^RewriteCorpus/passthrough$`, "MB/s", "— (figure)", nil, mbps)
	micro("HTML rewrite, five edits (134 public pages)", "/host/internal/rewrite", `^RewriteCorpus/edits$`, "MB/s", "— (figure)", nil, mbps)
	micro("HTML rewrite, five edits + hide_seen (134 public pages)", "/host/internal/rewrite", `^RewriteCorpus/hideseen$`, "MB/s", "— (figure)", nil, mbps)
	micro("Compile 1,000 rules", "", `(?i)^CompileRules(/.+)?/1000(/.*)?$`, "ns/op", "< 50 ms", func(v float64) bool { return v < 50e6 }, nsAsTime)
	// A returning visitor's seen cookie: decode about 200 items, 50
	// tests, 10 adds (one call each, as a list makes them), encode and
	// sign.
	micro("seen cookie: decode, test, add, encode", "/host/internal/seen", `^CookieRequest/lists$`, "ns/op", "< 8 µs", func(v float64) bool { return v < 8000 }, nsAsTime)
	gs = append(gs, h.pathologicalGoal())

	found := false
	if h.micro != nil {
		for _, p := range h.micro.Pairs {
			if p.Kind != "wasm-vs-reference" {
				continue
			}
			found = true
			gs = append(gs, goal{Name: "Wasm vs reference evaluator, " + pairName(p.Key), Value: p.Ratio,
				Figure: fmt.Sprintf("%.2f× the reference's time", p.Ratio), Want: "≤ 1.00×", Status: verdict(p.Ratio <= 1),
				Source: "Benchmark" + p.A + " ÷ Benchmark" + p.B + " in " + shortPkg(p.Pkg)})
		}
	}
	if !found {
		why := "not present: no Wasm/reference benchmark pair"
		if h.micro == nil {
			why = "micro-benchmarks not run"
		} else if _, w := h.micro.find("/host/internal/site", regexp.MustCompile(`^DemoWasmCall/in-process$`)); w != "" {
			why = h.whyNotFound(w, "^DemoWasmCall")
		}
		gs = append(gs, goal{Name: "Wasm vs reference evaluator", Figure: "n/a (" + why + ")", Want: "≤ 1.00×", Status: "n/a",
			Source: "benchmarks named *Wasm* and *Reference*"})
	}
	return gs
}

// whyNotFound is why no benchmark matching pattern (a goal's: "^Name…")
// has a figure, given find's answer: a function -bench left out was not
// run, which is not the same as not there.
func (h *harness) whyNotFound(why, pattern string) string {
	if why != "not present" {
		return why
	}
	name := strings.TrimPrefix(strings.TrimPrefix(pattern, "(?i)"), "^")
	if i := strings.IndexFunc(name, func(r rune) bool {
		return !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}); i >= 0 {
		name = name[:i]
	}
	if re, err := topLevelFilter(h.opts.Bench); err == nil && name != "" && !re.MatchString(name) {
		return "not run: -bench leaves it out"
	}
	return why
}

// pathologicalGoal is the rewriter's cost on its pathological pages
// (testdata/pathological) against the shop page's: for each page and way
// of writing it (whole, or in 512-byte writes), the median ns/byte of
// its BenchmarkPathological runs over the median ns/byte of the shop
// page's runs written the same way, both from the package's one go test
// run; the worst page is the figure, with what one of its tags costs
// against one of the shop page's (the same ratio of their ns/tag).
//
// The ratio is taken here, of medians, because go test runs each
// sub-benchmark's -count runs back to back: every run of the shop page
// ends before the first of any other page, so there are no pairs of runs
// to divide, and a ratio taken in the benchmark divided every run of a
// page by the shop page's last run alone.
func (h *harness) pathologicalGoal() goal {
	g := goal{Name: "HTML rewrite, worst pathological page ns/byte ÷ shop page", Want: "≤ 3.00×", Source: "BenchmarkPathological in host/internal/rewrite"}
	if h.micro == nil {
		g.Status, g.Figure = "n/a", "n/a (micro-benchmarks not run)"
		return g
	}
	// The shop page's runs by package and way of writing.
	shop := map[[2]string]*gobench.Summary{}
	var pages []*gobench.Summary
	for i := range h.micro.Benchmarks {
		s := &h.micro.Benchmarks[i]
		rest, ok := strings.CutPrefix(s.Name, "Pathological/")
		if !strings.HasSuffix(s.Pkg, "/host/internal/rewrite") || !ok {
			continue
		}
		if _, ok := s.Get("ns/byte"); !ok {
			continue
		}
		if page, how, _ := strings.Cut(rest, "/"); page == "shop" {
			shop[[2]string{s.Pkg, how}] = s
		} else {
			pages = append(pages, s)
		}
	}
	var worst, base *gobench.Summary
	var v float64
	var noShop []string
	for _, s := range pages {
		how := s.Name[strings.LastIndexByte(s.Name, '/')+1:]
		b := shop[[2]string{s.Pkg, how}]
		if b == nil {
			if n := "BenchmarkPathological/shop/" + how; !slices.Contains(noShop, n) {
				noShop = append(noShop, n)
			}
			continue
		}
		x, _ := s.Get("ns/byte")
		y, _ := b.Get("ns/byte")
		if y > 0 && x/y > v {
			worst, base, v = s, b, x/y
		}
	}
	if worst == nil {
		why := "not present: no BenchmarkPathological results in host/internal/rewrite"
		if h.whyNotFound("not present", "^Pathological") != "not present" {
			why = "not run: -bench leaves it out"
		}
		if len(pages) > 0 && len(noShop) > 0 {
			// A -bench filter that leaves out the shop page leaves
			// nothing to divide by.
			why = "not present: " + strings.Join(noShop, ", ") + ", which the ratio divides by, did not run"
		}
		g.Status, g.Figure = "n/a", "n/a ("+why+")"
		return g
	}
	g.Value, g.Status = v, verdict(v <= 3)
	g3 := func(v float64) string { return fmt.Sprintf("%.3g", v) }
	g.Figure = fmt.Sprintf("%.2f× (%s: %s ÷ %s ns/byte, medians of %d and %d runs",
		v, strings.TrimPrefix(worst.Name, "Pathological/"), statText(worst.Metrics["ns/byte"], g3), statText(base.Metrics["ns/byte"], g3), worst.Runs, base.Runs)
	// Per tag, which says whether the page's tags cost more than the shop
	// page's or are only denser.
	if x, ok := worst.Get("ns/tag"); ok {
		if y, ok := base.Get("ns/tag"); ok && y > 0 {
			g.Figure += fmt.Sprintf("; a tag %.2f× the shop page's", x/y)
		}
	}
	g.Figure += ")"
	g.Source = "Benchmark" + worst.Name + " ÷ Benchmark" + base.Name + " in " + shortPkg(worst.Pkg)
	return g
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// roundsAgree says, after a load goal's figure, how many rounds met it
// when they do not all agree with the median, and that one round gives
// no verdict to rely on (-quick): the spread of a 2-CPU machine shared
// by the client, the origin and the proxy is often wider than the
// margin to a goal.
func (h *harness) roundsAgree(per []float64, ok func(float64) bool) string {
	if len(per) == 1 {
		return " (one round: indicative only)"
	}
	n := 0
	for _, v := range per {
		if ok(v) {
			n++
		}
	}
	if n == 0 || n == len(per) {
		return ""
	}
	return fmt.Sprintf(" (met in %d of %d rounds)", n, len(per))
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// writeResults writes RESULTS.md, results.json and the two charts.
func (h *harness) writeResults() error {
	sums := h.summarize()
	cs := h.compare()
	rep := &report{
		Started: h.started, Seconds: time.Since(h.started).Seconds(), Command: h.command, Options: h.opts,
		Machine: h.machine, Page: h.page, PageBytes: len(h.page.body), PageItems: countElements(h.page.body, h.sel.Card), Selectors: h.sel,
		Rate: h.rate, RateNote: h.rateNote, Targets: sums, Comparisons: cs, Goals: h.goals(cs), Runs: h.runs,
		Micro: h.micro, Notes: h.notes,
		Files: map[string]string{"markdown": "RESULTS.md", "json": "results.json", "throughput": "throughput.svg", "latency": "latency.svg"},
	}
	// The report's paths are the repository's, not this machine's.
	rep.Page.Dir = relTo(h.root, rep.Page.Dir)
	rep.Page.File = relTo(h.root, rep.Page.File)
	rep.Options.Out = relTo(h.root, h.out)
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	write := func(name string, data []byte) error {
		return os.WriteFile(filepath.Join(h.out, name), data, 0o644)
	}
	if err := write("results.json", append(b, '\n')); err != nil {
		return err
	}
	if err := write("throughput.svg", throughputSVG(rep)); err != nil {
		return err
	}
	if err := write("latency.svg", latencySVG(rep)); err != nil {
		return err
	}
	if err := write("RESULTS.md", []byte(markdown(rep))); err != nil {
		return err
	}
	h.logf("wrote %s/{RESULTS.md,results.json,throughput.svg,latency.svg}", h.out)
	printGoals(rep.Goals)
	return nil
}

func relTo(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// headlineGoals are the first goals: the two headline ratios and the
// page that differs in every response.
const headlineGoals = 3

func printGoals(gs []goal) {
	fmt.Println()
	fmt.Println("Headline:")
	for _, g := range gs[:min(headlineGoals, len(gs))] {
		fmt.Printf("  %-5s %-44s %-34s (want %s)\n", g.Status, g.Name, g.Figure, g.Want)
	}
	fmt.Println()
	fmt.Println("Goals:")
	for _, g := range gs {
		fmt.Printf("  %-5s %-44s %-34s (want %s)\n", g.Status, g.Name, g.Figure, g.Want)
	}
}

// statText formats a median with its range: "12,345 [12,001–12,800]".
func statText(s gobench.Stat, f func(float64) string) string {
	if s.N == 0 {
		return "–"
	}
	if s.N == 1 || s.Min == s.Max {
		return f(s.Median)
	}
	sep := "–"
	if strings.Contains(f(s.Min)+f(s.Max), " ") {
		sep = " – "
	}
	return f(s.Median) + " [" + f(s.Min) + sep + f(s.Max) + "]"
}

func msText(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func markdown(rep *report) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	o := rep.Options
	p("# Benchmark results")
	p("")
	p("Measured on %s in %s. Regenerate with `make bench` (or `make bench-quick`); this file is written by `bench/main.go`, see `bench/README.md` for how to read it.", rep.Started.UTC().Format("2006-01-02 15:04 MST"), (time.Duration(rep.Seconds) * time.Second).String())
	p("")
	p("Command: `%s`", rep.Command)
	p("")
	p("## Machine")
	p("")
	p("| | |")
	p("| --- | --- |")
	p("| CPU | %s, %d logical CPUs |", rep.Machine.CPU, rep.Machine.CPUs)
	p("| Memory | %s |", rep.Machine.Memory)
	p("| Kernel | %s |", rep.Machine.Kernel)
	p("| Go | %s |", rep.Machine.Go)
	p("| nginx | %s |", rep.Machine.Nginx)
	p("| wrk | %s |", rep.Machine.Wrk)
	p("")
	nginx := ""
	if rep.Machine.Nginx != "not installed" {
		nginx = fmt.Sprintf(" and nginx with `worker_processes %d`", targetProcs)
	}
	p("The load generator, the origin and the proxy under test share these %d CPUs: every figure is for the whole machine doing all three, and a proxy that uses less CPU also leaves more to the client and the origin. Go processes run with GOMAXPROCS=%d%s.", rep.Machine.CPUs, targetProcs, nginx)
	p("")
	p("Page: `%s` (%s bytes, %d items), served by `bench origin` from memory with Content-Type, Cache-Control and ETag.", rep.Page.File, thousands(float64(rep.PageBytes)), rep.PageItems)
	if rep.Page.Note != "" {
		p("Note: %s.", rep.Page.Note)
	}
	p("")

	p("## Goals")
	p("")
	p("| | goal | figure | want | from |")
	p("| --- | --- | --- | --- | --- |")
	for _, g := range rep.Goals {
		p("| **%s** | %s | %s | %s | %s |", g.Status, g.Name, mdEscape(g.Figure), g.Want, mdEscape(g.Source))
	}
	p("")

	p("## Throughput")
	p("")
	p("Closed loop: %d keep-alive connections, each sending its next request as soon as the previous answer arrives, %s per run after %s of warm-up, %s interleaving the targets. Median [min–max] over the rounds.", o.Conns, o.Duration, o.Warmup, plural(o.Rounds, "round"))
	p("")
	hasWrk := false
	for _, s := range rep.Targets {
		hasWrk = hasWrk || s.WrkRPS > 0 || s.WrkProblem != ""
	}
	wrkHead, wrkAlign := "", ""
	if hasWrk {
		wrkHead, wrkAlign = " wrk req/s (round 1) |", " ---: |"
	}
	p("| target | req/s | ÷ goproxy |%s KiB / response | CPU s / 1k req | at fixed rate | origin CPU s / 1k | client CPU s / 1k | peak RSS MiB | failed | CPUs busy elsewhere |", wrkHead)
	p("| --- | ---: | ---: |%s ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |", wrkAlign)
	f3 := func(v float64) string { return fmt.Sprintf("%.3f", v) }
	f1 := func(v float64) string { return fmt.Sprintf("%.1f", v) }
	for _, s := range rep.Targets {
		if s.Skipped != "" || s.Rounds == 0 {
			continue
		}
		ratio := "–"
		if s.VsGoproxy.N > 0 {
			ratio = fmt.Sprintf("%.2f×", s.VsGoproxy.Median)
		}
		wrk := ""
		if hasWrk {
			wrk = " – |"
			if s.WrkRPS > 0 {
				wrk = " " + thousands(s.WrkRPS) + " |"
			}
			if s.WrkProblem != "" {
				wrk = strings.TrimSuffix(wrk, " |") + " (" + mdEscape(s.WrkProblem) + ") |"
			}
		}
		rss := statText(s.PeakRSSMiB, f1)
		if s.Processes > 1 {
			rss += fmt.Sprintf(" (%d processes)", s.Processes)
		}
		busy := fmt.Sprintf("%.2f", s.Elsewhere)
		if s.Elsewhere >= noisyCPUs {
			busy = "**" + busy + "**"
		}
		p("| %s | %s | %s |%s %s | %s | %s | %s | %s | %s | %d | %s |", s.Name, statText(s.RPS, thousands), ratio, wrk,
			f1(s.RespKiB.Median), statText(s.CPUPer1k, f3), statText(s.CPUPer1kAtRate, f3), statText(s.OriginCPUPer1k, f3), statText(s.ClientCPUPer1k, f3), rss, s.Failed, busy)
	}
	p("")
	p("*÷ goproxy* is the median over the rounds of the ratio within each round, as every ratio of this report (the medians of the two columns need not have that ratio).")
	p("")
	p("CPU is user + system time of the target's processes (read from `/proc/PID/stat`) per 1,000 requests: at full load, and during the fixed-rate latency run, where every target serves the same requests per second and the figure is the fairest comparison of cost. The origin's and the client's (the load generator, this harness) columns are for the same throughput run: they are what every target's requests cost the rest of the machine. Peak RSS is `VmHWM` from `/proc/PID/status`, summed over the target's processes (nginx's master and workers share pages, so its sum overstates it a little). The origin target is the origin process itself. *CPUs busy elsewhere* is the most CPU that processes other than the target, the origin and the load generator used during any of the target's runs (from `/proc/stat`): above %.2f, another tenant was competing and the figure is noisy.", noisyCPUs)
	p("")
	p("![throughput](throughput.svg)")
	p("")

	p("## Latency at a fixed rate")
	p("")
	p("Open loop: %s req/s offered to every target (%s), %d connections, %s per run. Latency is measured from each request's intended send time (start + i / rate), so a stall is charged to every request that should have been sent during it (no coordinated omission). Milliseconds, median [min–max] over the rounds.", thousands(rep.Rate), rep.RateNote, o.Conns, o.Duration)
	p("")
	p("| target | p50 | p99 | p99.9 | max | p99 added over goproxy |")
	p("| --- | ---: | ---: | ---: | ---: | ---: |")
	for _, s := range rep.Targets {
		if s.Skipped != "" || s.P50.N == 0 {
			continue
		}
		added := "–"
		if c := findComparison(rep.Comparisons, s.Name, "goproxy", "ms"); c != nil {
			added = statText(c.Stat, func(v float64) string { return fmt.Sprintf("%+.2f", v) })
		}
		p("| %s | %s | %s | %s | %s | %s |", s.Name, statText(s.P50, msText), statText(s.P99, msText), statText(s.P999, msText), statText(s.Max, msText), added)
	}
	p("")
	p("![latency](latency.svg)")
	p("")

	if len(rep.Comparisons) > 0 {
		p("## Ratios")
		p("")
		p("Each ratio or difference is taken within a round, between runs made minutes apart at most, then summarized over the rounds.")
		p("")
		p("| comparison | median | min | max | per round |")
		p("| --- | ---: | ---: | ---: | --- |")
		for _, c := range rep.Comparisons {
			f := func(v float64) string { return fmt.Sprintf("%.3f×", v) }
			if c.Unit == "ms" {
				f = func(v float64) string { return fmt.Sprintf("%+.3f ms", v) }
			}
			var per []string
			for _, v := range c.PerRound {
				per = append(per, f(v))
			}
			p("| %s | %s | %s | %s | %s |", c.Name, f(c.Stat.Median), f(c.Stat.Min), f(c.Stat.Max), strings.Join(per, ", "))
		}
		p("")
	}

	p("## Targets")
	p("")
	p("What one request of a returning visitor got through each target, checked before measuring (the five edits are marked by their inserted text, classes and attributes; items are `%s` elements).", rep.Selectors.Card)
	p("")
	p("| target | what it is | check |")
	p("| --- | --- | --- |")
	for _, s := range rep.Targets {
		check := "–"
		switch {
		case s.Skipped != "":
			check = "**skipped**: " + mdEscape(s.Skipped)
		case s.Check != nil:
			check = mdEscape(s.Check.Summary())
			if s.Check.Problem != "" {
				check += "; **problem**: " + mdEscape(s.Check.Problem)
			}
		}
		for _, e := range s.Errors {
			check += "; **" + mdEscape(e) + "**"
		}
		p("| %s | %s | %s |", s.Name, s.Description, check)
	}
	p("")

	writeCost(&b, rep)
	writeMicro(&b, rep)

	p("## Notes")
	p("")
	notes := append([]string{}, rep.Notes...)
	for _, g := range rep.Goals {
		if g.Status == "FAIL" {
			notes = append(notes, fmt.Sprintf("Below its goal: %s is %s, want %s.", g.Name, g.Figure, g.Want))
		}
	}
	noisy := []string{}
	for _, s := range rep.Targets {
		if s.Elsewhere >= noisyCPUs {
			noisy = append(noisy, fmt.Sprintf("%s (%.1f CPUs)", s.Name, s.Elsewhere))
		}
	}
	if len(noisy) > 0 {
		notes = append(notes, "Other processes competed for the CPUs during some runs of "+strings.Join(noisy, ", ")+": those figures are noisy; rerun on a quiet machine.")
	}
	for _, s := range rep.Targets {
		if s.Failed > 0 {
			notes = append(notes, fmt.Sprintf("%s: %d requests failed (non-2xx/3xx or transport errors); its figures are suspect.", s.Name, s.Failed))
		}
	}
	if len(notes) == 0 {
		notes = append(notes, "Every goal measured is met and no request failed.")
	}
	for _, n := range notes {
		p("- %s", mdEscape(n))
	}
	p("- The machine is shared by the load generator, the origin and the proxy; absolute figures are for this %d-CPU machine and move with its neighbours, the ratios within a round much less.", rep.Machine.CPUs)
	p("- bespoke-seen does work nginx cannot (per-visitor seen filter, signed cookie updated on every response): its ratio to nginx-subfilter compares more work with less.")
	return b.String()
}

// costStages are the stages of one personalized request, each measured by
// a micro-benchmark, in the order a request goes through them; base
// names the benchmark a stage's row is compared with (a plain proxy
// measured the same way), "" for none.
var costStages = []struct{ stage, pkg, name, base, note string }{
	{"request → context (demo rules' slots)", "/host/internal/site", "DemoContext", "", "geo, device (cached), cookies, language, visitor id"},
	{"device: classify a User-Agent, uncached", "/host/internal/device", "ClassifyPublic", "", "the 7,013 public User-Agents in turn; the context above caches it"},
	{"decide: one call into the Wasm plugin", "/host/internal/site", "DemoWasmCall/in-process", "", "pooled instance, demo rules compiled in process"},
	{"decide: the same, plugin read from its .wasm file", "/host/internal/site", "DemoWasmCall/from-file", "", "verified at load, runs without a deadline"},
	{"decide: context + Wasm + plan", "/host/internal/site", "DemoDecide", "", "everything before the origin is asked"},
	{"a plugin instance: acquire from the pool and release", "/host/internal/engine", "PoolAcquire", "", ""},
	{"seen-filter: decode, 50 tests, 10 adds, encode", "/host/internal/seen", "CookieRequest/lists", "", "the signed cookie store; the tests and the adds one call each, as a list's (`CookieRequest/one-by-one`: a call per item)"},
	{"splice the shop page from its edit map, 5 edits", "/host/internal/rewrite", "Splice/edits/splice", "", "the page checked block by block against the map, the edits written at its offsets: what a page seen before costs"},
	{"splice, 5 edits + hide_seen", "/host/internal/rewrite", "Splice/hideseen/splice", "", ""},
	{"splice, 5 edits + hide_seen, new text near the page's top", "/host/internal/rewrite", "Splice/hideseen/splice-text", "", "a request number in the text and a class: values no selector reads"},
	{"splice, 5 edits + hide_seen, new elements near the page's top", "/host/internal/rewrite", "Splice/hideseen/resume", "", "rewritten in full to past the change, spliced from there"},
	{"build the page's edit map", "/host/internal/rewrite", "Splice/build", "", "a page's first view, or one that changed"},
	{"rewrite the shop page in full, 5 edits", "/host/internal/rewrite", "RewritePage/shop/edits", "", "156 KB through the tokenizer and tree builder: a page's first response, or one that changed"},
	{"rewrite in full, 5 edits + hide_seen", "/host/internal/rewrite", "RewritePage/shop/hideseen", "", ""},
	{"edit a 4.7 MB JSON response (20,000 items): json_hide_seen, then json_limit", "/host/internal/jsonrw", "Apply/pooled", "", ""},
	{"the proxy's handler alone, plain httputil.ReverseProxy", "/host/internal/proxy", "Handler/goproxy", "", "no sockets: the origin a RoundTripper answering from memory, the visitor a ResponseWriter; one goroutine, so its time is its CPU"},
	{"the proxy's handler alone, bespoke, no edit selects anything", "/host/internal/proxy", "Handler/none", "Handler/goproxy", "spliced from its edit map"},
	{"the proxy's handler alone, bespoke, 5 edits + hide_seen + seen cookie", "/host/internal/proxy", "Handler/seen", "Handler/goproxy", "spliced from its edit map"},
	{"the same, a page whose markup near its top changes with every response", "/host/internal/proxy", "Handler/seen-varying", "Handler/goproxy", "rewritten in full to past the change, spliced from there"},
	{"the same, without edit maps", "/host/internal/proxy", "Handler/seen-nomap", "Handler/goproxy", "rewritten in full"},
	{"whole request over loopback, plain httputil.ReverseProxy", "/host/internal/proxy", "ProxyEditMaps/goproxy", "", "client, proxy and origin in one process, over loopback TCP, one request at a time: how long a request takes from the client's side, waits included, not what it costs the machine (`ProxyEditMaps/…-parallel`, 32 clients at once, gives that)"},
	{"whole request over loopback, bespoke, 5 edits + hide_seen + seen cookie", "/host/internal/proxy", "ProxyEditMaps/splice", "ProxyEditMaps/goproxy", "spliced from its edit map"},
	{"whole request over loopback, bespoke, no edit selects anything", "/host/internal/proxy", "ProxyEditMaps/none", "ProxyEditMaps/goproxy", ""},
	{"whole request over loopback, bespoke, a page that changes with every response", "/host/internal/proxy", "ProxyEditMaps/rewrite-varying", "ProxyEditMaps/goproxy", "rewritten in full"},
}

// writeCost writes the cost of one request, stage by stage.
func writeCost(b *strings.Builder, rep *report) {
	m := rep.Micro
	if m == nil {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	p("## Cost per request, by stage")
	p("")
	p("Time per operation of each stage of one request of the shop page, from the micro-benchmarks below (median of the runs; one goroutine each, so the time is CPU time but for the whole-request rows, which wait on loopback sockets). The handler rows are the proxy's own work, without sockets; the whole-request rows add the client, the origin and the kernel, one request at a time: their time is a request's from end to end, which both CPUs shorten where client, proxy and origin overlap and waits on the sockets lengthen, not its cost to the machine. Each bespoke row is compared with the plain proxy measured the same way: the difference is what personalization adds.")
	p("")
	p("| stage | time | vs plain proxy | benchmark | |")
	p("| --- | ---: | ---: | --- | --- |")
	find := func(pkg, name string) (float64, *gobench.Summary) {
		s, _ := m.find(pkg, regexp.MustCompile("^"+regexp.QuoteMeta(name)+"$"))
		if s == nil {
			return 0, nil
		}
		v, _ := s.Get("ns/op")
		return v, s
	}
	// A stage whose benchmark function -bench leaves out (-quick runs
	// those of the goals and their ratios) was not run, which is not
	// the same as not there.
	ran := func(string) bool { return true }
	if re, err := topLevelFilter(rep.Options.Bench); err == nil {
		ran = func(name string) bool { top, _, _ := strings.Cut(name, "/"); return re.MatchString(top) }
	}
	for _, st := range costStages {
		v, s := find(st.pkg, st.name)
		if s == nil {
			why := "not present"
			if !ran(st.name) {
				why = "not run: -bench leaves it out"
			}
			p("| %s | n/a | | %s | %s |", st.stage, st.name, why)
			continue
		}
		rel := ""
		if st.base != "" {
			if base, bs := find(st.pkg, st.base); bs != nil && base > 0 {
				if v < base {
					rel = fmt.Sprintf("-%s (%.2f×)", nsText(base-v), v/base)
				} else {
					rel = fmt.Sprintf("+%s (%.2f×)", nsText(v-base), v/base)
				}
			}
		}
		p("| %s | %s | %s | `%s` in %s | %s |", st.stage, nsText(v), rel, st.name, shortPkg(s.Pkg), st.note)
	}
	p("")
}

func writeMicro(b *strings.Builder, rep *report) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format+"\n", args...) }
	p("## Micro-benchmarks")
	p("")
	m := rep.Micro
	if m == nil {
		p("Not run (`-micro=false`).")
		p("")
		return
	}
	p("`go test %s` on every package that has benchmarks (found with `go test -list '^Benchmark'` on the packages whose test files declare one), one package at a time. Median [min–max] of the runs; took %.0f s.", m.Flags, m.Seconds)
	p("")
	if m.Error != "" {
		p("Listing failed: %s", mdEscape(m.Error))
		p("")
	}
	if len(m.Benchmarks) > 0 {
		p("| package | benchmark | time/op | MB/s | B/op | allocs/op | other |")
		p("| --- | --- | ---: | ---: | ---: | ---: | --- |")
		for _, s := range m.Benchmarks {
			get := func(unit string, f func(float64) string) string {
				if st, ok := s.Metrics[unit]; ok {
					return statText(st, f)
				}
				return "–"
			}
			var other []string
			var units []string
			for u := range s.Metrics {
				switch u {
				case "ns/op", "MB/s", "B/op", "allocs/op":
				default:
					units = append(units, u)
				}
			}
			sort.Strings(units)
			for _, u := range units {
				other = append(other, fmt.Sprintf("%s %s", trimFloat(s.Metrics[u].Median), u))
			}
			p("| %s | %s | %s | %s | %s | %s | %s |", shortPkg(s.Pkg), s.Name,
				get("ns/op", nsText),
				get("MB/s", func(v float64) string { return fmt.Sprintf("%.0f", v) }),
				get("B/op", trimFloat), get("allocs/op", trimFloat), strings.Join(other, ", "))
		}
		p("")
	}
	if m.ProbeMedian > 0 {
		var slow []string
		for _, pk := range m.Packages {
			if f := m.slowdown(pk.Pkg); f >= slowSpell {
				slow = append(slow, fmt.Sprintf("`%s` %.2f×", shortPkg(pk.Pkg), f))
			}
		}
		what := "none"
		if len(slow) > 0 {
			what = strings.Join(slow, ", ") + ": compare their absolute figures with another run's (a ratio within a package, of the medians of each side's runs, moves only where the spell covered one side and not the other)"
		}
		p("Machine speed: a fixed CPU-bound probe (`bench/probe.go`) ran before and after each package, %s at the median; packages whose slower probe took %.2f× that or more ran in a slow spell of the machine: %s.", nsText(m.ProbeMedian), slowSpell, what)
		p("")
	}
	if len(m.Pairs) > 0 {
		p("| pair | ratio | meaning |")
		p("| --- | ---: | --- |")
		for _, pr := range m.Pairs {
			p("| %s: %s vs %s | %.3f | %s |", shortPkg(pr.Pkg), pr.A, pr.B, pr.Ratio, pr.Meaning)
		}
		p("")
	}
	var nb []string
	for pkg, why := range m.NotBuilt {
		nb = append(nb, fmt.Sprintf("`%s` (%s)", shortPkg(pkg), mdEscape(why)))
	}
	sort.Strings(nb)
	if len(nb) > 0 {
		p("Packages whose tests did not build, so their benchmarks, if any, are not here: %s.", strings.Join(nb, ", "))
		p("")
	}
	for _, pk := range m.Packages {
		if pk.Error != "" {
			p("- `%s` failed: %s", shortPkg(pk.Pkg), mdEscape(pk.Error))
		}
	}
}

// nsText formats nanoseconds with three significant digits.
func nsText(v float64) string {
	unit, div := "ns", 1.0
	switch {
	case v >= 1e9:
		unit, div = "s", 1e9
	case v >= 1e6:
		unit, div = "ms", 1e6
	case v >= 1e3:
		unit, div = "µs", 1e3
	}
	x := v / div
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0f %s", x, unit)
	case x >= 10:
		return fmt.Sprintf("%.1f %s", x, unit)
	default:
		return fmt.Sprintf("%.2f %s", x, unit)
	}
}

func trimFloat(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return thousands(v)
	}
	return fmt.Sprintf("%.3g", v)
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
