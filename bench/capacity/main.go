// Command capacity prints bespoke's capacity model from the figures of a
// `make bench` run (bench/results/results.json): requests per core by page
// size and by rule count, memory per plugin instance and per open
// connection, what Redis does per request for each seen-store, the
// cookie bytes a visitor carries over time, and a worked example sizing a
// fleet (nodes, Redis Cluster, bandwidth).
//
//	go run ./bench/capacity [-results bench/results/results.json] [-rps 100000 -page-kb 150 -personalized 0.3 ...] [-json]
//
// Every figure comes from the results file or from the code itself (the
// cookie and Redis value sizes are computed by encoding a visitor's state
// with host/internal/seen and host/internal/caps); what is an input rather than a
// measurement (how many cores a node has, what one Redis primary serves)
// is a flag, printed with the result. A figure the results file lacks is
// named with the benchmark that provides it.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
)

// Results is the part of bench's results.json the model reads.
type Results struct {
	Started string `json:"started"`
	Machine struct {
		CPU  string `json:"cpu"`
		CPUs int    `json:"cpus"`
	} `json:"machine"`
	Page struct {
		Name string `json:"name"`
	} `json:"page"`
	PageBytes float64  `json:"page_bytes"`
	Rate      float64  `json:"latency_rate_rps"`
	Targets   []Target `json:"targets"`
	Micro     struct {
		Benchmarks []Benchmark `json:"benchmarks"`
	} `json:"micro"`
}

// Target is one load target's medians: CPU seconds per 1,000 requests
// at full load (the throughput runs) and at the fixed rate (the latency
// runs).
type Target struct {
	Name           string `json:"name"`
	RPS            Stat   `json:"rps"`
	CPUPer1k       Stat   `json:"cpu_s_per_1k"`
	CPUPer1kAtRate Stat   `json:"cpu_s_per_1k_at_rate"`
	PeakRSSMiB     Stat   `json:"peak_rss_mib"`
}

// Benchmark is one Go micro-benchmark's metrics.
type Benchmark struct {
	Pkg     string          `json:"pkg"`
	Name    string          `json:"name"`
	Metrics map[string]Stat `json:"metrics"`
}

// Stat is a figure over rounds or runs; the model uses the median.
type Stat struct {
	Median float64 `json:"median"`
	N      int     `json:"n"`
}

func (r *Results) target(name string) (Target, bool) {
	for _, t := range r.Targets {
		if t.Name == name && t.CPUPer1k.N > 0 {
			return t, true
		}
	}
	return Target{}, false
}

// micro returns a micro-benchmark's median metric; pkg is the package's
// last element.
func (r *Results) micro(pkg, name, metric string) (float64, bool) {
	for _, b := range r.Micro.Benchmarks {
		if b.Name == name && (b.Pkg == pkg || strings.HasSuffix(b.Pkg, "/"+pkg)) {
			if s, ok := b.Metrics[metric]; ok {
				return s.Median, true
			}
		}
	}
	return 0, false
}

// Inputs are the worked example's load and the deployment's givens.
type Inputs struct {
	RPS          float64 `json:"rps"`
	PageKB       float64 `json:"page_kb"`
	Personalized float64 `json:"personalized"`
	NodeCores    int     `json:"node_cores"`
	Utilization  float64 `json:"utilization"`
	Spare        int     `json:"spare_nodes"`
	Rules        int     `json:"rules"`
	Visitors     float64 `json:"visitors"`
	Capped       float64 `json:"capped"`
	ShardOps     float64 `json:"redis_shard_ops"`
	ShardGB      float64 `json:"redis_shard_gb"`
	KeyOverhead  float64 `json:"redis_key_overhead"`
}

// Model is everything the program prints.
type Model struct {
	Source  string   `json:"source"`
	Inputs  Inputs   `json:"inputs"`
	PageKB  float64  `json:"measured_page_kb"`
	Missing []string `json:"missing,omitempty"`

	// Core-seconds per request on the measured page: personalized
	// (bespoke-seen), unpersonalized (bespoke-none, an upper bound: the
	// decided page is checked against its edit map and copied through),
	// and the decision alone. The first two are what the model sizes
	// with: the larger of the figure at full load and the one at the
	// fixed rate, below.
	CPUPersonalized, CPUUnpersonalized, CPUDecide float64
	// The two measurements of each: with the machine saturated (32
	// connections, as fast as the target answers), and at the latency
	// runs' fixed rate (Rate requests per second), where a Go process's
	// threads sleep and wake for each request and its CPU per request is
	// more than twice as high (bench/README.md, "At the fixed rate").
	CPUPersonalizedFullLoad, CPUUnpersonalizedFullLoad float64
	CPUPersonalizedAtRate, CPUUnpersonalizedAtRate     float64 // 0 when missing
	Rate                                               float64
	// Sizing says which figure the model sizes with, and why.
	Sizing string `json:"sizing"`
	// CPUDemoCall is the demo rules' Wasm call alone (DemoWasmCall), the
	// part of CPUDecide that the DecideRules/N figures replace.
	CPUDemoCall                    float64
	PerCore                        []PerCoreRow  `json:"per_core"`
	ByRules                        []RulesRow    `json:"by_rules"`
	BytesPerInstance, BytesPerConn float64       // 0 when missing
	PeakRSSMiB                     float64       `json:"peak_rss_mib"`
	Redis                          RedisFigures  `json:"redis"`
	Cookies                        []CookieRow   `json:"cookies"`
	Example                        WorkedExample `json:"example"`
}

// PerCoreRow is requests per second one core serves at a page size.
type PerCoreRow struct {
	PageKB                   float64
	Personalized, Unpersonal float64
}

// RulesRow is personalized requests per core at the example's page size
// with a rule file of Rules rules.
type RulesRow struct {
	Rules           int
	DecideNs        float64
	RequestsPerCore float64
}

// RedisFigures are what Redis does per request.
type RedisFigures struct {
	CmdsPerRequest, RoundTripsPerRequest, BytesPerRequest float64 // from BenchmarkRedisRequest; 0 when missing
	LatencyNs                                             float64 // one view (read, tests, write queued) on loopback
	CookieBytes                                           float64 // BenchmarkCookieRequest's cookie
}

// CookieRow is one visitor's state after some days.
type CookieRow struct {
	Day          int
	Items        int // distinct items shown so far
	SeenCookie   int // bytes of the bsk_seen value
	CapsCookie   int // bytes of the bsk_caps value
	RedisValue   int // bytes of the seen-state in Redis
	CookieHeader int // the whole Cookie header bespoke adds (names, values, separators, visitor id)
}

// WorkedExample sizes a fleet for Inputs.
type WorkedExample struct {
	CPUPersonalized, CPUUnpersonalized float64 // core-seconds per request at PageKB
	Cores                              float64
	Nodes                              int
	RedisReads, RedisWrites, RedisOps  float64 // per second
	RedisValueBytes                    float64 // a visitor's seen-state after 30 days
	RedisBytesPerVisitor               float64 // both keys, values and Redis's overhead
	RedisMemoryGB                      float64 // primaries' data, all visitors
	RedisPrimaries                     int
	EgressGbps, OriginGbps, RedisMbps  float64
	MemoryPerNodeMiB                   float64 // 0 when a figure is missing
}

func main() {
	resultsFile := flag.String("results", "bench/results/results.json", "`file` written by make bench")
	asJSON := flag.Bool("json", false, "print the model as JSON")
	var in Inputs
	flag.Float64Var(&in.RPS, "rps", 100000, "worked example: requests per second")
	flag.Float64Var(&in.PageKB, "page-kb", 150, "worked example: page size, KB")
	flag.Float64Var(&in.Personalized, "personalized", 0.3, "worked example: share of requests that go through rules using the seen-store")
	flag.IntVar(&in.NodeCores, "node-cores", 16, "input: cores of one node")
	flag.Float64Var(&in.Utilization, "utilization", 0.6, "input: the CPU share a node may use at peak (headroom for spikes and GC)")
	flag.IntVar(&in.Spare, "spare", 1, "input: nodes added so that one can fail or be drained")
	flag.IntVar(&in.Rules, "rules", 100, "worked example: rules in the rule file")
	flag.Float64Var(&in.Visitors, "visitors", 5e6, "worked example: distinct visitors within the seen window (30 days)")
	flag.Float64Var(&in.Capped, "capped", 0.2, "worked example: share of personalized views where a capped rule applies (a caps write)")
	flag.Float64Var(&in.ShardOps, "redis-shard-ops", 100000, "input: commands per second one Redis primary serves at your latency target (measure with redis-benchmark -t get,set)")
	flag.Float64Var(&in.ShardGB, "redis-shard-gb", 8, "input: data per Redis primary, GB")
	flag.Float64Var(&in.KeyOverhead, "redis-key-overhead", 100, "input: Redis's bytes per key beyond key and value (dict entry, object headers, TTL); MEMORY USAGE shows yours")
	flag.Parse()
	b, err := os.ReadFile(*resultsFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "capacity:", err)
		os.Exit(1)
	}
	m, err := Build(b, *resultsFile, in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "capacity:", err)
		os.Exit(1)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(m)
		return
	}
	m.Print(os.Stdout)
}

// Build computes the model from a results.json's bytes.
func Build(resultsJSON []byte, source string, in Inputs) (*Model, error) {
	var r Results
	if err := json.Unmarshal(resultsJSON, &r); err != nil {
		return nil, fmt.Errorf("%s: %v", source, err)
	}
	if r.PageBytes <= 0 {
		return nil, fmt.Errorf("%s: no page_bytes: not a results file of make bench", source)
	}
	if in.RPS <= 0 || in.PageKB <= 0 || in.Personalized < 0 || in.Personalized > 1 || in.NodeCores <= 0 ||
		in.Utilization <= 0 || in.Utilization > 1 || in.ShardOps <= 0 || in.ShardGB <= 0 {
		return nil, fmt.Errorf("inputs out of range: %+v", in)
	}
	m := &Model{Source: source, Inputs: in, PageKB: r.PageBytes / 1000}
	pers, ok1 := r.target("bespoke-seen")
	unpers, ok2 := r.target("bespoke-none")
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%s: the load targets bespoke-seen and bespoke-none are needed (go run ./bench -targets bespoke-seen,bespoke-none)", source)
	}
	m.CPUPersonalizedFullLoad = pers.CPUPer1k.Median / 1000
	m.CPUUnpersonalizedFullLoad = unpers.CPUPer1k.Median / 1000
	m.CPUPersonalized, m.CPUUnpersonalized = m.CPUPersonalizedFullLoad, m.CPUUnpersonalizedFullLoad
	m.Sizing = "at full load: the results file has no figure at a fixed rate"
	if pers.CPUPer1kAtRate.N > 0 && unpers.CPUPer1kAtRate.N > 0 {
		// A node planned for a share of its CPU (-utilization) runs
		// below full load, where a request costs more CPU than with
		// every thread busy; how much more at that share was not
		// measured, so the model sizes with the larger of the two
		// figures, which is the one at the fixed rate in every run so far.
		m.CPUPersonalizedAtRate = pers.CPUPer1kAtRate.Median / 1000
		m.CPUUnpersonalizedAtRate = unpers.CPUPer1kAtRate.Median / 1000
		m.Rate = r.Rate
		m.CPUPersonalized = math.Max(m.CPUPersonalizedFullLoad, m.CPUPersonalizedAtRate)
		m.CPUUnpersonalized = math.Max(m.CPUUnpersonalizedFullLoad, m.CPUUnpersonalizedAtRate)
		m.Sizing = "the larger of the two, for a node planned for a share of its CPU runs below full load, where a request costs more CPU (how much more at that share was not measured)"
	} else {
		m.Missing = append(m.Missing, "CPU per request at a fixed rate, which the model sizes with when it is the larger: cpu_s_per_1k_at_rate of bespoke-seen and bespoke-none (make bench's latency runs)")
	}
	m.PeakRSSMiB = pers.PeakRSSMiB.Median
	if ns, ok := r.micro("site", "DemoDecide", "ns/op"); ok {
		m.CPUDecide = ns / 1e9
	} else {
		m.Missing = append(m.Missing, "the decision's cost: BenchmarkDemoDecide (host/internal/site)")
	}
	if ns, ok := r.micro("site", "DemoWasmCall/in-process", "ns/op"); ok {
		m.CPUDemoCall = ns / 1e9
	} else {
		m.Missing = append(m.Missing, "the demo rules' Wasm call: BenchmarkDemoWasmCall/in-process (host/internal/site)")
	}

	for _, kb := range []float64{25, 50, 100, 150, m.PageKB, 300, 500, 1000} {
		m.PerCore = append(m.PerCore, PerCoreRow{PageKB: kb,
			Personalized: 1 / m.cpuAt(m.CPUPersonalized, kb), Unpersonal: 1 / m.cpuAt(m.CPUUnpersonalized, kb)})
	}
	for _, n := range []int{10, 100, 1000, 10000} {
		// The rules compiled in process; a plugin read from its .wasm file
		// decides as fast once verified (the from-file rows).
		ns, ok := r.micro("site", fmt.Sprintf("DecideRules/%d/in-process", n), "ns/op")
		if !ok {
			ns, ok = r.micro("site", fmt.Sprintf("DecideRules/%d", n), "ns/op")
		}
		if !ok {
			m.Missing = append(m.Missing, fmt.Sprintf("deciding with %d rules: BenchmarkDecideRules/%d/in-process (host/internal/site)", n, n))
			continue
		}
		m.ByRules = append(m.ByRules, RulesRow{Rules: n, DecideNs: ns, RequestsPerCore: 1 / m.cpuWithRules(in.PageKB, ns)})
	}

	if v, ok := r.micro("engine", "InstanceMemory", "bytes/instance"); ok {
		m.BytesPerInstance = v
	} else {
		m.Missing = append(m.Missing, "memory per plugin instance: BenchmarkInstanceMemory (host/internal/engine), recorded by make bench from this version on")
	}
	if v, ok := r.micro("proxy", "ConnMemory", "bytes/conn"); ok {
		m.BytesPerConn = v
	} else {
		m.Missing = append(m.Missing, "memory per open connection: BenchmarkConnMemory (host/internal/proxy), recorded by make bench from this version on")
	}

	m.Redis.LatencyNs, _ = r.micro("seen", "RedisRequest", "ns/op")
	m.Redis.CookieBytes, _ = r.micro("seen", "CookieRequest/lists", "cookie-bytes")
	if v, ok := r.micro("seen", "RedisRequest", "redis-cmds/op"); ok {
		m.Redis.CmdsPerRequest = v
		m.Redis.RoundTripsPerRequest, _ = r.micro("seen", "RedisRequest", "redis-round-trips/op")
		m.Redis.BytesPerRequest, _ = r.micro("seen", "RedisRequest", "redis-bytes/op")
	} else {
		m.Missing = append(m.Missing, "Redis commands, round trips and bytes per request: BenchmarkRedisRequest's redis-* metrics (host/internal/seen), recorded by make bench from this version on")
	}

	for _, day := range []int{1, 7, 14, 30, 60, 90} {
		metric := func(name string) (int, bool) {
			v, ok := r.micro("caps", "VisitorState", fmt.Sprintf("%s/day-%d", name, day))
			return int(v), ok
		}
		var c CookieRow
		var ok [5]bool
		c.Day = day
		c.Items, ok[0] = metric("items")
		c.SeenCookie, ok[1] = metric("seen-B")
		c.CapsCookie, ok[2] = metric("caps-B")
		c.CookieHeader, ok[3] = metric("cookie-header-B")
		c.RedisValue, ok[4] = metric("redis-B")
		if ok != [5]bool{true, true, true, true, true} {
			m.Cookies = nil
			m.Missing = append(m.Missing, "a visitor's state over time: BenchmarkVisitorState (host/internal/caps), recorded by make bench from this version on")
			break
		}
		m.Cookies = append(m.Cookies, c)
	}
	m.example()
	return m, nil
}

// cpuAt scales a per-request cost measured on the bench page to a page
// of kb: the decision is fixed, everything else (reading, rewriting,
// writing the body) grows with the bytes.
func (m *Model) cpuAt(measured, kb float64) float64 {
	return m.CPUDecide + (measured-m.CPUDecide)*kb/m.PageKB
}

// cpuWithRules is a personalized request's cost at kb with a Wasm call
// costing decideNs (DecideRules/N: the call alone) in place of the demo
// rules' (DemoWasmCall; the context and plan around it stay).
func (m *Model) cpuWithRules(kb, decideNs float64) float64 {
	return m.cpuAt(m.CPUPersonalized, kb) + math.Max(0, decideNs/1e9-m.CPUDemoCall)
}

// example fills the worked example.
func (m *Model) example() {
	in, e := m.Inputs, &m.Example
	e.CPUPersonalized = m.cpuAt(m.CPUPersonalized, in.PageKB)
	for _, row := range m.ByRules {
		if row.Rules == in.Rules {
			e.CPUPersonalized = m.cpuWithRules(in.PageKB, row.DecideNs)
		}
	}
	e.CPUUnpersonalized = m.cpuAt(m.CPUUnpersonalized, in.PageKB)
	e.Cores = in.RPS * (in.Personalized*e.CPUPersonalized + (1-in.Personalized)*e.CPUUnpersonalized)
	e.Nodes = int(math.Ceil(e.Cores/(float64(in.NodeCores)*in.Utilization))) + in.Spare

	// Each personalized request reads the visitor's state (one GET or
	// MGET); at most each page view writes it back, and capped views the
	// caps too.
	e.RedisReads = in.RPS * in.Personalized
	e.RedisWrites = e.RedisReads * (1 + in.Capped)
	e.RedisOps = e.RedisReads + e.RedisWrites
	var last CookieRow
	for _, c := range m.Cookies {
		if c.Day <= 30 {
			last = c
		}
	}
	e.RedisValueBytes = float64(last.RedisValue)
	const keyBytes = len("bespoke:{") + 22 + len("}:seen")
	capsValue := 1 + 9*2 // two capped rules
	e.RedisBytesPerVisitor = e.RedisValueBytes + float64(capsValue) + 2*(float64(keyBytes)+in.KeyOverhead)
	e.RedisMemoryGB = in.Visitors * e.RedisBytesPerVisitor / 1e9
	byOps := int(math.Ceil(e.RedisOps / in.ShardOps))
	byMem := int(math.Ceil(e.RedisMemoryGB / in.ShardGB))
	e.RedisPrimaries = max(3, byOps, byMem)

	page := in.PageKB * 1000
	e.EgressGbps = in.RPS * page * 8 / 1e9
	e.OriginGbps = e.EgressGbps
	readBytes := e.RedisValueBytes + float64(capsValue) + 2*float64(keyBytes)
	writeBytes := e.RedisValueBytes + float64(keyBytes)
	e.RedisMbps = (e.RedisReads*readBytes + e.RedisWrites*writeBytes) * 8 / 1e6
	if m.BytesPerConn > 0 && m.BytesPerInstance > 0 {
		// Open connections per node: each request in flight, and idle
		// keep-alive connections; Little's law with the page's service
		// time bounds the former, the latter is the load balancer's pool.
		conns := 10000.0
		instances := 2 * float64(in.NodeCores)
		e.MemoryPerNodeMiB = m.PeakRSSMiB + (conns*m.BytesPerConn+instances*m.BytesPerInstance)/(1<<20)
	}
}

// sizedWith names the measurements the model sized with.
func (m *Model) sizedWith() string {
	at := func(sized, rate float64) bool { return rate > 0 && sized == rate }
	switch p, u := at(m.CPUPersonalized, m.CPUPersonalizedAtRate), at(m.CPUUnpersonalized, m.CPUUnpersonalizedAtRate); {
	case p && u:
		return fmt.Sprintf("CPU per request at %.0f req/s, the dearer measurement", m.Rate)
	case !p && !u:
		return "CPU per request at full load"
	default:
		return "the dearer of CPU per request at full load and at a fixed rate"
	}
}

// Print writes the model as text.
func (m *Model) Print(w io.Writer) {
	in, e := m.Inputs, m.Example
	fmt.Fprintf(w, "bespoke capacity model, from %s\n", m.Source)
	fmt.Fprintf(w, "Measured page %.0f KB; core-seconds per request, personalized (bespoke-seen) and unpersonalized (bespoke-none, an upper bound):\n", m.PageKB)
	fmt.Fprintf(w, "  at full load (32 connections, the machine saturated): %.3f and %.3f ms\n", m.CPUPersonalizedFullLoad*1e3, m.CPUUnpersonalizedFullLoad*1e3)
	if m.CPUPersonalizedAtRate > 0 {
		fmt.Fprintf(w, "  at a fixed %.0f req/s (the latency runs; bespoke-seen kept %.2f of a core busy): %.3f and %.3f ms\n",
			m.Rate, m.Rate*m.CPUPersonalizedAtRate, m.CPUPersonalizedAtRate*1e3, m.CPUUnpersonalizedAtRate*1e3)
		fmt.Fprintf(w, "  sized with the larger of each: a node planned for %.0f%% of its CPU (-utilization) runs below full load, where a Go\n", m.Inputs.Utilization*100)
		fmt.Fprintln(w, "  process's threads sleep and wake for each request and a request costs more CPU than with every thread busy;")
		fmt.Fprintln(w, "  how much more at that share was not measured, so the model takes the dearer figure")
	} else {
		fmt.Fprintln(w, "  sized with the figure at full load (the results file has none at a fixed rate): this underestimates a node that is not saturated")
	}
	fmt.Fprintf(w, "Decision: %.1f µs (DemoDecide).\n\n", m.CPUDecide*1e6)

	fmt.Fprintln(w, "Requests per second per core, by page size (the decision is fixed, the rest scales with the bytes):")
	fmt.Fprintf(w, "  %9s  %13s  %15s\n", "page KB", "personalized", "unpersonalized")
	for _, r := range m.PerCore {
		fmt.Fprintf(w, "  %9.0f  %13.0f  %15.0f\n", r.PageKB, r.Personalized, r.Unpersonal)
	}
	fmt.Fprintf(w, "\nPersonalized requests per second per core at %.0f KB, by rule count (DecideRules):\n", in.PageKB)
	for _, r := range m.ByRules {
		fmt.Fprintf(w, "  %6d rules  decide %8.1f µs  %6.0f req/s/core\n", r.Rules, r.DecideNs/1e3, r.RequestsPerCore)
	}

	fmt.Fprintln(w, "\nMemory:")
	if m.BytesPerInstance > 0 {
		fmt.Fprintf(w, "  per plugin instance: %.0f KiB (BenchmarkInstanceMemory); a route's pool holds 2 × cores\n", m.BytesPerInstance/1024)
	}
	if m.BytesPerConn > 0 {
		fmt.Fprintf(w, "  per open connection: %.1f KiB (BenchmarkConnMemory)\n", m.BytesPerConn/1024)
	}
	fmt.Fprintf(w, "  one bespoke process under load (32 connections, bespoke-seen): %.1f MiB peak RSS\n", m.PeakRSSMiB)

	fmt.Fprintln(w, "\nRedis per request, by seen-store:")
	fmt.Fprintf(w, "  cookie: no Redis; the state travels in the request and the response (%.0f bytes of cookie value in BenchmarkCookieRequest/lists)\n", m.Redis.CookieBytes)
	fmt.Fprintln(w, "  redis:  1 command and 1 round trip on the request's path (GET; MGET of two keys in one slot with caps);")
	fmt.Fprintln(w, "          plus 1 SET per page view that showed items (each showing is counted, so such a view changes the state) and 1 per capped view,")
	fmt.Fprintln(w, "          queued and pipelined by the writers, off the request's path")
	if m.Redis.CmdsPerRequest > 0 {
		fmt.Fprintf(w, "          measured (BenchmarkRedisRequest, a returning visitor's view, its read and its write, one at a time on loopback): %.0f µs,\n", m.Redis.LatencyNs/1e3)
		fmt.Fprintf(w, "          %.2f commands, %.2f round trips, %.0f bytes of keys and values per view\n",
			m.Redis.CmdsPerRequest, m.Redis.RoundTripsPerRequest, m.Redis.BytesPerRequest)
	} else if m.Redis.LatencyNs > 0 {
		fmt.Fprintf(w, "          measured (BenchmarkRedisRequest, a returning visitor's view, its read and its write, one at a time on loopback): %.0f µs\n", m.Redis.LatencyNs/1e3)
	}

	fmt.Fprintln(w, "\nOne visitor's state over time (BenchmarkVisitorState: 3 page views a day of 12 new items; default store: 1,000 items, 30-day window, 3,072-byte cookie cap; two capped rules):")
	fmt.Fprintf(w, "  %4s  %6s  %11s  %11s  %12s  %14s\n", "day", "items", "bsk_seen B", "bsk_caps B", "Cookie hdr B", "Redis value B")
	for _, c := range m.Cookies {
		fmt.Fprintf(w, "  %4d  %6d  %11d  %11d  %12d  %14d\n", c.Day, c.Items, c.SeenCookie, c.CapsCookie, c.CookieHeader, c.RedisValue)
	}

	fmt.Fprintf(w, "\nWorked example: %.0f req/s of %.0f KB pages, %.0f%% personalized (seen-store and %d rules), %.1f M visitors a month\n",
		in.RPS, in.PageKB, in.Personalized*100, in.Rules, in.Visitors/1e6)
	fmt.Fprintf(w, "  CPU: %.0f × (%.2f × %.3f ms + %.2f × %.3f ms) = %.1f cores (%s)\n",
		in.RPS, in.Personalized, e.CPUPersonalized*1e3, 1-in.Personalized, e.CPUUnpersonalized*1e3, e.Cores, m.sizedWith())
	fmt.Fprintf(w, "  nodes: ceil(%.1f / (%d cores × %.0f%%)) + %d spare = %d nodes of %d cores\n",
		e.Cores, in.NodeCores, in.Utilization*100, in.Spare, e.Nodes, in.NodeCores)
	if e.MemoryPerNodeMiB > 0 {
		fmt.Fprintf(w, "  memory per node: about %.0f MiB with 10,000 open connections\n", e.MemoryPerNodeMiB)
	}
	fmt.Fprintf(w, "  Redis: %.0f reads/s + %.0f writes/s = %.0f commands/s; a visitor's seen-state after 30 days %.0f bytes\n",
		e.RedisReads, e.RedisWrites, e.RedisOps, e.RedisValueBytes)
	fmt.Fprintf(w, "         data %.0f M visitors × %.0f bytes (both keys and values, %.0f bytes of overhead per key) = %.1f GB\n",
		in.Visitors/1e6, e.RedisBytesPerVisitor, in.KeyOverhead, e.RedisMemoryGB)
	fmt.Fprintf(w, "         Cluster: %d primaries + %d replicas (max of 3, ceil(%.0f / %.0f commands/s), ceil(%.1f / %.0f GB))\n",
		e.RedisPrimaries, e.RedisPrimaries, e.RedisOps, in.ShardOps, e.RedisMemoryGB, in.ShardGB)
	fmt.Fprintf(w, "  bandwidth: %.0f Gbit/s to visitors and %.0f Gbit/s from the origin (uncompressed; compression divides both), %.0f Mbit/s to Redis\n",
		e.EgressGbps, e.OriginGbps, e.RedisMbps)
	if len(m.Missing) > 0 {
		fmt.Fprintln(w, "\nNot in this results file (run make bench to record them):")
		for _, s := range m.Missing {
			fmt.Fprintln(w, "  -", s)
		}
	}
}
