package site_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/host/internal/site"
)

func loadRules(t *testing.T, src string) *site.Site {
	t.Helper()
	s, _ := loadSite(t, "exp.yaml", []byte(src))
	return s
}

// assign returns the experiments header each visitor gets.
func assign(t *testing.T, s *site.Site, ids []string) []string {
	t.Helper()
	out := make([]string, len(ids))
	r := s.NewRequest()
	defer s.Release(r)
	for i, id := range ids {
		hr := httptest.NewRequest("GET", "/", nil)
		hr.Header.Set("Cookie", reqctx.VisitorCookie+"="+id)
		v := reqctx.ResolveVisitor(hr)
		if v.New {
			t.Fatalf("visitor id %q not accepted", id)
		}
		s.Decide(context.Background(), hr, v, false, nil, r)
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		out[i] = r.Plan.Experiments
	}
	return out
}

// TestExperimentSimulation: 10,000 visitors through the compiled plugin
// land in each variant within 1.5 points of its weight; then, with the
// last variant's weight lowered and a new variant added at the end, only
// visitors of the changed ranges move.
func TestExperimentSimulation(t *testing.T) {
	const n = 10000
	// Fixed ids, so the test gives the same figures on every run.
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]string, n)
	for i := range ids {
		var b [16]byte
		binary.LittleEndian.PutUint64(b[:8], rng.Uint64())
		binary.LittleEndian.PutUint64(b[8:], rng.Uint64())
		ids[i] = base64.RawURLEncoding.EncodeToString(b[:])
	}
	before := assign(t, loadRules(t, `experiments:
  - name: checkout
    variants: { a: 50, b: 30, c: 20 }
rules:
  - name: b
    when: variant("checkout") == "b"
    actions: [{ add_class: { select: body, class: b } }]
`), ids)
	counts := map[string]int{}
	for _, v := range before {
		counts[v]++
	}
	for name, weight := range map[string]float64{"checkout=a": 50, "checkout=b": 30, "checkout=c": 20} {
		share := float64(counts[name]) / n * 100
		t.Logf("%s: %.2f%% (weight %.0f%%)", name, share, weight)
		if math.Abs(share-weight) > 1.5 {
			t.Errorf("%s holds %.2f%% of visitors, weight %.0f%%", name, share, weight)
		}
	}

	after := assign(t, loadRules(t, `experiments:
  - name: checkout
    variants: { a: 50, b: 30, c: 10, d: 10 }
rules:
  - name: b
    when: variant("checkout") == "b"
    actions: [{ add_class: { select: body, class: b } }]
`), ids)
	moved := 0
	for i := range ids {
		if before[i] == after[i] {
			continue
		}
		moved++
		if before[i] != "checkout=c" || after[i] != "checkout=d" {
			t.Fatalf("visitor %s moved from %q to %q; only c's upper half may move, to d", ids[i], before[i], after[i])
		}
	}
	if share := float64(moved) / n * 100; math.Abs(share-10) > 1.5 {
		t.Errorf("%.2f%% of visitors moved, want about 10%%", share)
	}
}

// TestRenamedExperiment: an experiment's name is its seed, so renaming it
// deals every visitor again, half of a 50/50 split into the other arm;
// renamed with its old name as seed:, it keeps each visitor's variant.
func TestRenamedExperiment(t *testing.T) {
	const n = 2000
	rng := rand.New(rand.NewPCG(3, 4))
	ids := make([]string, n)
	for i := range ids {
		var b [16]byte
		binary.LittleEndian.PutUint64(b[:8], rng.Uint64())
		binary.LittleEndian.PutUint64(b[8:], rng.Uint64())
		ids[i] = base64.RawURLEncoding.EncodeToString(b[:])
	}
	// Both experiments are declared, each under its name or the other,
	// so that the rules testing both compile.
	rules := func(first, second string) string {
		return `experiments:
  - name: ` + first + `
    variants: { a: 50, b: 50 }
  - name: ` + second + `
    variants: { a: 50, b: 50 }
rules:
  - name: b
    when: variant("checkout") == "b" or variant("checkout-v2") == "b"
    actions: [{ add_class: { select: body, class: b } }]
`
	}
	before := assign(t, loadRules(t, rules("checkout", "checkout-v2\n    seed: unused")), ids)
	renamed := assign(t, loadRules(t, rules("checkout-v2", "checkout\n    seed: unused")), ids)
	seeded := assign(t, loadRules(t, rules("checkout-v2\n    seed: checkout", "checkout\n    seed: unused")), ids)
	arm := func(header, name string) string {
		for part := range strings.SplitSeq(header, ", ") {
			if v, ok := strings.CutPrefix(part, name+"="); ok {
				return v
			}
		}
		return ""
	}
	moved := 0
	for i := range ids {
		was := arm(before[i], "checkout")
		if arm(renamed[i], "checkout-v2") != was {
			moved++
		}
		if got := arm(seeded[i], "checkout-v2"); got != was {
			t.Fatalf("visitor %s was in %q, and in %q once the experiment was renamed with seed: checkout", ids[i], was, got)
		}
	}
	if share := float64(moved) / n * 100; math.Abs(share-50) > 5 {
		t.Errorf("renamed without a seed, %.1f%% of visitors changed arm, want about half", share)
	}
}
