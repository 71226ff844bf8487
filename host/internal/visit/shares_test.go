package visit_test

import (
	"context"
	"encoding/base64"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/visit"
)

// chiSquare999 are the 99.9% quantiles of the chi-square distribution by
// degrees of freedom: a statistic above one is a deviation that chance
// gives once in a thousand runs.
var chiSquare999 = map[int]float64{1: 10.828, 2: 13.816, 3: 16.266, 4: 18.467}

// chiSquare is Pearson's statistic of counts against expected counts.
func chiSquare(obs []int, exp []float64) float64 {
	s := 0.0
	for i := range obs {
		d := float64(obs[i]) - exp[i]
		s += d * d / exp[i]
	}
	return s
}

// TestSharesMatchWeights runs 20,000 visitors through the compiled rules,
// as the proxy decides them, for each shape of id the proxy meets (its
// own random ids, and account ids a site buckets by), and holds what
// SYNTAX promises to a chi-square test at the 0.001 level (the visitors
// are drawn from a fixed seed, so a run gives the same counts every
// time): each experiment's variants take their weights' shares (50/50,
// 90/10, 1/99, 50/30/20); two experiments, a rollout of 10% and one of
// 50% under a variant split visitors independently of each other (the
// variant of one tells nothing of the other; half of variant a's 50% is
// 25%); and a visitor gets the same variants on the next request.
func TestSharesMatchWeights(t *testing.T) {
	s, prog := load(t, []byte(`
experiments:
  - name: half
    variants: { a: 50, b: 50 }
  - name: ninety
    variants: { big: 90, small: 10 }
  - name: tiny
    variants: { one: 1%, rest: 99% }
  - name: three
    variants: { control: 50, bold: 30, photo: 20 }
  - name: other
    variants: { x: 50, y: 50 }
rules:
  - name: ten
    rollout: 10%
    actions:
      - add_class: { select: body, class: ten }
  - name: half-of-a
    when: variant("half") == "a"
    rollout: 50%
    actions:
      - add_class: { select: body, class: ha }
`))
	weights := map[string][]float64{"half": {50, 50}, "ninety": {90, 10}, "tiny": {1, 99}, "three": {50, 30, 20}, "other": {50, 50}}
	const n = 20_000
	ctx := context.Background()
	for _, shape := range []string{"proxy", "account"} {
		t.Run(shape, func(t *testing.T) {
			r := rand.New(rand.NewPCG(2026, 12))
			counts := map[string][]int{}
			for name, w := range weights {
				counts[name] = make([]int, len(w))
			}
			var joint [2][2]int   // half × other
			var rollout [2][2]int // half × ten
			var nested [2][2]int  // half × half-of-a
			for i := range n {
				var id string
				if shape == "proxy" {
					var b [16]byte
					for j := range b {
						b[j] = byte(r.Uint32())
					}
					id = base64.RawURLEncoding.EncodeToString(b[:])
				} else {
					id = "account-" + strconv.Itoa(100_000+i)
				}
				spec := visit.Spec{Visitor: id}
				v, err := visit.Run(ctx, s, prog, spec)
				if err != nil {
					t.Fatal(err)
				}
				got := map[string]int{}
				for xi, x := range prog.Experiments {
					vi := slices.Index(x.Variants, v.Variant(xi))
					if vi < 0 {
						t.Fatalf("visitor %s is not enrolled in %s", id, x.Name)
					}
					got[x.Name] = vi
					counts[x.Name][vi]++
				}
				matched := v.Matched()
				joint[got["half"]][got["other"]]++
				rollout[got["half"]][b2i(slices.Contains(matched, "ten"))]++
				nested[got["half"]][b2i(slices.Contains(matched, "half-of-a"))]++
				if i%100 == 0 {
					again, err := visit.Run(ctx, s, prog, spec)
					if err != nil {
						t.Fatal(err)
					}
					for xi := range prog.Experiments {
						if again.Variant(xi) != v.Variant(xi) {
							t.Fatalf("visitor %s: %s, then %s", id, v.Variant(xi), again.Variant(xi))
						}
					}
				}
			}
			for _, name := range slices.Sorted(maps.Keys(weights)) {
				w := weights[name]
				exp := make([]float64, len(w))
				for i := range w {
					exp[i] = n * w[i] / 100
				}
				stat, crit := chiSquare(counts[name], exp), chiSquare999[len(w)-1]
				t.Logf("%s: %v for weights %v, chi-square %.2f (%d df, 0.001 level at %.2f)", name, counts[name], w, stat, len(w)-1, crit)
				if stat > crit {
					t.Errorf("%s: %v for weights %v: chi-square %.2f > %.2f", name, counts[name], w, stat, crit)
				}
			}
			// Independence: the 2×2 tables against the product of their
			// margins (1 df); the rollouts' margins against their
			// shares too.
			for _, tc := range []struct {
				name  string
				table [2][2]int
				share float64 // of the second factor's "in", 0 for the margins' own
			}{{"half × other", joint, 0}, {"half × ten", rollout, 0.10}} {
				stat := independence(tc.table)
				t.Logf("%s: %v, chi-square %.2f (1 df)", tc.name, tc.table, stat)
				if stat > chiSquare999[1] {
					t.Errorf("%s: %v are not independent: chi-square %.2f > %.2f", tc.name, tc.table, stat, chiSquare999[1])
				}
				if tc.share > 0 {
					in := tc.table[0][1] + tc.table[1][1]
					if stat := chiSquare([]int{in, n - in}, []float64{n * tc.share, n * (1 - tc.share)}); stat > chiSquare999[1] {
						t.Errorf("%s: %d of %d in, for %.0f%%: chi-square %.2f", tc.name, in, n, 100*tc.share, stat)
					}
				}
			}
			// The nested rollout: half of variant a, none of b.
			if nested[1][1] != 0 {
				t.Errorf("half-of-a matched %d visitors of variant b", nested[1][1])
			}
			a := nested[0][0] + nested[0][1]
			stat := chiSquare(nested[0][:], []float64{float64(a) / 2, float64(a) / 2})
			t.Logf("half-of-a: %d of variant a's %d (%.2f%% of all), chi-square %.2f (1 df)", nested[0][1], a, 100*float64(nested[0][1])/n, stat)
			if stat > chiSquare999[1] {
				t.Errorf("half-of-a: %d of variant a's %d: chi-square %.2f", nested[0][1], a, stat)
			}
		})
	}
}

// independence is the chi-square statistic of a 2×2 table against the
// product of its margins.
func independence(tab [2][2]int) float64 {
	var rows, cols [2]float64
	total := 0.0
	for i := range 2 {
		for j := range 2 {
			rows[i] += float64(tab[i][j])
			cols[j] += float64(tab[i][j])
			total += float64(tab[i][j])
		}
	}
	s := 0.0
	for i := range 2 {
		for j := range 2 {
			e := rows[i] * cols[j] / total
			d := float64(tab[i][j]) - e
			s += d * d / e
		}
	}
	return s
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
