package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/bench/internal/gobench"
)

func wellFormed(t *testing.T, name string, svg []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(svg))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v\n%s", name, err, svg)
		}
	}
}

func TestChartsAndMarkdown(t *testing.T) {
	st := func(vs ...float64) gobench.Stat { return gobench.Describe(vs) }
	rep := &report{
		Options: options{Conns: 32, Duration: 5 * time.Second, Rounds: 3},
		Machine: machineInfo{CPU: "Test CPU <&>", CPUs: 2, Nginx: "nginx/1.22.1"},
		Rate:    1000,
		Targets: []*targetSummary{
			{Name: "goproxy", RPS: st(5000, 5200, 4800), P50: st(1, 1.1, 0.9), P99: st(3, 4, 2), P999: st(5, 6, 4), Rounds: 3},
			// One noisy round: its whisker is cut at the axis.
			{Name: "nginx-subfilter", RPS: st(4000, 4100, 3900), P50: st(1.2, 1.3, 1.1), P99: st(2.7, 2.5, 1272), P999: st(5, 4, 1319), Rounds: 3},
			{Name: "bespoke-seen", Skipped: "not available: x"},
		},
	}
	for name, svg := range map[string][]byte{"throughput": throughputSVG(rep), "latency": latencySVG(rep)} {
		wellFormed(t, name, svg)
		if strings.Contains(string(svg), "bespoke-seen") {
			t.Errorf("%s shows a skipped target", name)
		}
	}
	lat := string(latencySVG(rep))
	if !strings.Contains(lat, "worst 1272 ms") {
		t.Errorf("the cut whisker's value is not written out:\n%s", lat)
	}
	md := markdown(rep)
	for _, want := range []string{"| goproxy | 5,000 [4,800–5,200] |", "**skipped**: not available: x", "## Goals"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	wellFormed(t, "empty", throughputSVG(&report{}))
}

// TestRedrawCharts redraws the charts of a results.json given in
// BENCH_REDRAW, for looking at them without running the benchmarks.
func TestRedrawCharts(t *testing.T) {
	file := os.Getenv("BENCH_REDRAW")
	if file == "" {
		t.Skip("BENCH_REDRAW=path/to/results.json redraws its charts next to it")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	dir := strings.TrimSuffix(file, "results.json")
	os.WriteFile(dir+"throughput.svg", throughputSVG(&rep), 0o644)
	os.WriteFile(dir+"latency.svg", latencySVG(&rep), 0o644)
	os.WriteFile(dir+"RESULTS.md", []byte(markdown(&rep)), 0o644)
}
