package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
)

// defaults are the flags' defaults: the worked example of OPERATIONS.md.
var defaults = Inputs{RPS: 100000, PageKB: 150, Personalized: 0.3, NodeCores: 16, Utilization: 0.6, Spare: 1, Rules: 100,
	Visitors: 5e6, Capped: 0.2, ShardOps: 100000, ShardGB: 8, KeyOverhead: 100}

// medians reads what the worked example needs from the committed
// results with a reader of its own, so that the model's reading is
// checked too.
func medians(t *testing.T, b []byte) (pers, unpers, decide, call, pageBytes float64) {
	t.Helper()
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	pageBytes = raw["page_bytes"].(float64)
	for _, tg := range raw["targets"].([]any) {
		tm := tg.(map[string]any)
		cpu := tm["cpu_s_per_1k"].(map[string]any)["median"].(float64) / 1000
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
