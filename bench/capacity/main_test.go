package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// defaults are the flags' defaults: the worked example of OPERATIONS.md.
var defaults = Inputs{RPS: 100000, PageKB: 150, Personalized: 0.3, NodeCores: 16, Utilization: 0.6, Spare: 1, Rules: 100,
	Visitors: 5e6, Capped: 0.2, ShardOps: 100000, ShardGB: 8, KeyOverhead: 100}

// medians reads what the worked example needs from the committed
// results with a reader of its own, so that the model's reading is
// checked too: pers and unpers are the CPU per request it sizes with,
// the larger of the figures at full load and at the fixed rate.
func medians(t *testing.T, b []byte) (pers, unpers, decide, call, pageBytes float64) {
	t.Helper()
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	pageBytes = raw["page_bytes"].(float64)
	for _, tg := range raw["targets"].([]any) {
		tm := tg.(map[string]any)
		full := tm["cpu_s_per_1k"].(map[string]any)["median"].(float64) / 1000
		atRate := tm["cpu_s_per_1k_at_rate"].(map[string]any)["median"].(float64) / 1000
		cpu := max(full, atRate)
		switch tm["name"] {
		case "bespoke-seen":
			pers = cpu
		case "bespoke-none":
			unpers = cpu
		}
	}
	for _, bm := range raw["micro"].(map[string]any)["benchmarks"].([]any) {
		bmm := bm.(map[string]any)
		switch bmm["name"] {
		case "DemoDecide":
			decide = bmm["metrics"].(map[string]any)["ns/op"].(map[string]any)["median"].(float64) / 1e9
		case "DemoWasmCall/in-process":
			call = bmm["metrics"].(map[string]any)["ns/op"].(map[string]any)["median"].(float64) / 1e9
		}
	}
	if pers == 0 || unpers == 0 || decide == 0 || call == 0 {
		t.Fatalf("committed results lack a figure: %v %v %v %v", pers, unpers, decide, call)
	}
	return
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// The model on the committed bench/results/results.json: the worked
// example's arithmetic, recomputed here from the file.
func TestWorkedExample(t *testing.T) {
	b, err := os.ReadFile("../results/results.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Build(b, "results.json", defaults)
	if err != nil {
		t.Fatal(err)
	}
	pers, unpers, decide, call, pageBytes := medians(t, b)
	scale := 150 / (pageBytes / 1000)
	cPers := decide + (pers-decide)*scale
	for _, r := range m.ByRules {
		// The rules' Wasm call in place of the demo's: the context and
		// the plan around it stay.
		if r.Rules == 100 && r.DecideNs/1e9 > call {
			cPers += r.DecideNs/1e9 - call
		}
	}
	cUnpers := decide + (unpers-decide)*scale
	e := m.Example
	if !near(e.CPUPersonalized, cPers) || !near(e.CPUUnpersonalized, cUnpers) {
		t.Errorf("per-request CPU %v, %v; want %v, %v", e.CPUPersonalized, e.CPUUnpersonalized, cPers, cUnpers)
	}
	cores := 100000 * (0.3*cPers + 0.7*cUnpers)
	if !near(e.Cores, cores) {
		t.Errorf("cores %v, want %v", e.Cores, cores)
	}
	if nodes := int(math.Ceil(cores/(16*0.6))) + 1; e.Nodes != nodes {
		t.Errorf("nodes %d, want %d", e.Nodes, nodes)
	}
	if !near(e.RedisReads, 30000) || !near(e.RedisWrites, 36000) || !near(e.RedisOps, 66000) {
		t.Errorf("Redis reads %v, writes %v, ops %v; want 30000, 36000, 66000", e.RedisReads, e.RedisWrites, e.RedisOps)
	}
	if !near(e.EgressGbps, 100000*150000*8/1e9) {
		t.Errorf("egress %v Gbit/s, want 120", e.EgressGbps)
	}
	perVisitor := e.RedisValueBytes + 19 + 2*(float64(len("bespoke:{}:seen")+22)+100)
	if !near(e.RedisMemoryGB, 5e6*perVisitor/1e9) {
		t.Errorf("Redis data %v GB, want %v", e.RedisMemoryGB, 5e6*perVisitor/1e9)
	}
	if want := max(3, int(math.Ceil(66000/100000.0)), int(math.Ceil(e.RedisMemoryGB/8))); e.RedisPrimaries != want {
		t.Errorf("%d primaries, want %d", e.RedisPrimaries, want)
	}
	// Requests per core at the measured size are the measurement itself.
	for _, r := range m.PerCore {
		if r.PageKB == pageBytes/1000 && (!near(r.Personalized, 1/pers) || !near(r.Unpersonal, 1/unpers)) {
			t.Errorf("at the measured size: %v, %v req/s/core; want %v, %v", r.Personalized, r.Unpersonal, 1/pers, 1/unpers)
		}
	}

	var out bytes.Buffer
	m.Print(&out)
	for _, want := range []string{"Worked example: 100000 req/s of 150 KB pages, 30% personalized", "nodes of 16 cores", "primaries", "Gbit/s to visitors", "Cookie hdr B"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output lacks %q:\n%s", want, out.String())
		}
	}
	t.Logf("\n%s", out.String())

	// The worked example in the operators' reference is this output.
	doc, err := os.ReadFile("../../host/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(doc), "as the program prints it:\n\n```\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("host/OPERATIONS.md has no worked example")
	}
	example, _, _ := strings.Cut(out.String()[strings.Index(out.String(), "Worked example:"):], "\n\n")
	if strings.TrimSpace(block) != strings.TrimSpace(example) {
		t.Errorf("host/OPERATIONS.md's worked example differs from the program's; update it to:\n%s", example)
	}
}

func TestBuildErrors(t *testing.T) {
	b, _ := os.ReadFile("../results/results.json")
	for _, tt := range []struct {
		name string
		json string
		in   Inputs
		want string
	}{
		{"not JSON", "{", defaults, "results.json"},
		{"not bench's", `{"targets": []}`, defaults, "page_bytes"},
		{"no bespoke targets", `{"page_bytes": 1000, "targets": [{"name": "origin", "cpu_s_per_1k": {"median": 1, "n": 1}}]}`, defaults, "bespoke-seen"},
		{"bad input", string(b), Inputs{RPS: 1, PageKB: 1, Personalized: 2, NodeCores: 1, Utilization: 1, ShardOps: 1, ShardGB: 1}, "out of range"},
	} {
		if _, err := Build([]byte(tt.json), "results.json", tt.in); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
}

// TestSizingFigure: the model sizes with the larger of each target's CPU
// per request at full load and at the fixed rate, says which, and falls
// back to the figure at full load, saying so, when the file has none at
// a fixed rate.
func TestSizingFigure(t *testing.T) {
	target := func(name string, full, atRate float64) string {
		s := `{"name": "` + name + `", "cpu_s_per_1k": {"median": ` + strconv.FormatFloat(full, 'g', -1, 64) + `, "n": 5}`
		if atRate > 0 {
			s += `, "cpu_s_per_1k_at_rate": {"median": ` + strconv.FormatFloat(atRate, 'g', -1, 64) + `, "n": 5}`
		}
		return s + "}"
	}
	for _, tc := range []struct {
		name                                       string
		persFull, persRate, unpersFull, unpersRate float64
		wantPers, wantUnpers                       float64 // ms
		wantSaid                                   string
		wantMissing                                bool
	}{
		{"dearer at the fixed rate", 0.231, 0.573, 0.202, 0.512, 0.573, 0.512, "CPU per request at 800 req/s, the dearer measurement", false},
		{"dearer at full load", 0.4, 0.3, 0.35, 0.25, 0.4, 0.35, "CPU per request at full load", false},
		{"one of each", 0.2, 0.5, 0.35, 0.25, 0.5, 0.35, "the dearer of CPU per request at full load and at a fixed rate", false},
		{"no fixed rate", 0.231, 0, 0.202, 0, 0.231, 0.202, "CPU per request at full load", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			js := `{"page_bytes": 150000, "latency_rate_rps": 800, "targets": [` +
				target("bespoke-seen", tc.persFull, tc.persRate) + ", " + target("bespoke-none", tc.unpersFull, tc.unpersRate) + "]}"
			m, err := Build([]byte(js), "results.json", defaults)
			if err != nil {
				t.Fatal(err)
			}
			if !near(m.CPUPersonalized*1e3, tc.wantPers) || !near(m.CPUUnpersonalized*1e3, tc.wantUnpers) {
				t.Errorf("sized with %v and %v ms, want %v and %v", m.CPUPersonalized*1e3, m.CPUUnpersonalized*1e3, tc.wantPers, tc.wantUnpers)
			}
			var out bytes.Buffer
			m.Print(&out)
			if !strings.Contains(out.String(), "cores ("+tc.wantSaid+")") {
				t.Errorf("the worked example does not say %q:\n%s", tc.wantSaid, out.String())
			}
			missing := strings.Contains(strings.Join(m.Missing, "\n"), "cpu_s_per_1k_at_rate")
			if missing != tc.wantMissing {
				t.Errorf("names the figure at a fixed rate as missing: %v, want %v (%q)", missing, tc.wantMissing, m.Missing)
			}
		})
	}
}
