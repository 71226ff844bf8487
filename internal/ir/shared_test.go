package ir_test

import (
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/plugin"
)

// describe prints a shared node, its operands by what they test, for
// readable expectations.
func describe(p *ir.Program, s *ir.Shared, k int) string {
	n := s.Nodes[k]
	switch n.Op {
	case ir.SConst:
		if n.Value {
			return "true"
		}
		return "false"
	case ir.SLeaf:
		return p.Format(n.Leaf)
	case ir.SNot:
		if x := s.Nodes[n.X[0]]; x.Op == ir.SAnd || x.Op == ir.SOr {
			return "not (" + describe(p, s, n.X[0]) + ")"
		}
		return "not " + describe(p, s, n.X[0])
	}
	op := " and "
	if n.Op == ir.SOr {
		op = " or "
	}
	parts := make([]string, len(n.X))
	for i, x := range n.X {
		parts[i] = describe(p, s, x)
		if s.Nodes[x].Op == ir.SAnd || s.Nodes[x].Op == ir.SOr {
			parts[i] = "(" + parts[i] + ")"
		}
	}
	return strings.Join(parts, op)
}

func TestShare(t *testing.T) {
	fr := &ir.SymIn{Slot: 0, Syms: []int{0}}
	eu := &ir.SymIn{Slot: 0, Syms: []int{1, 0, 1}} // written unsorted, with a repeat
	mobile := &ir.SymIn{Slot: 1, Syms: []int{2}}
	shop := &ir.Match{Slot: 2, Pattern: 0}
	base := func() *ir.Program {
		return &ir.Program{
			Slots:    []plugin.Slot{{Attr: "geo.country"}, {Attr: "device.type"}, {Attr: "path"}},
			Symbols:  []string{"FR", "DE", "mobile"},
			Patterns: []string{"^/shop"},
			Segments: []*ir.Segment{{Name: "eu", Cond: eu}},
		}
	}
	tests := []struct {
		name  string
		rules []ir.Node
		want  []string // each rule's shared condition
		uses  map[string]int
		nodes int // distinct nodes rules need
	}{
		{
			name:  "one test in two rules is one node used twice",
			rules: []ir.Node{fr, &ir.SymIn{Slot: 0, Syms: []int{0}}},
			want:  []string{`geo.country == "FR"`, `geo.country == "FR"`},
			uses:  map[string]int{`geo.country == "FR"`: 2},
			nodes: 1,
		},
		{
			name:  "a segment is its condition; in lists are sets",
			rules: []ir.Node{&ir.SegmentRef{Index: 0}, &ir.SymIn{Slot: 0, Syms: []int{0, 1}}},
			want:  []string{`geo.country in ["FR", "DE"]`, `geo.country in ["FR", "DE"]`},
			uses:  map[string]int{`geo.country in ["FR", "DE"]`: 2},
			nodes: 1,
		},
		{
			name: "and of and is one and, without repeats",
			rules: []ir.Node{
				&ir.And{X: []ir.Node{fr, &ir.And{X: []ir.Node{mobile, fr}}, shop}},
			},
			want:  []string{`geo.country == "FR" and device.type == "mobile" and path matches "^/shop"`},
			nodes: 4,
		},
		{
			name: "shared sub-conditions",
			rules: []ir.Node{
				&ir.Or{X: []ir.Node{&ir.And{X: []ir.Node{fr, mobile}}, shop}},
				&ir.And{X: []ir.Node{fr, mobile}},
				&ir.Not{X: &ir.And{X: []ir.Node{fr, mobile}}},
			},
			want: []string{
				`(geo.country == "FR" and device.type == "mobile") or path matches "^/shop"`,
				`geo.country == "FR" and device.type == "mobile"`,
				`not (geo.country == "FR" and device.type == "mobile")`,
			},
			uses:  map[string]int{`geo.country == "FR" and device.type == "mobile"`: 3, `geo.country == "FR"`: 1, `path matches "^/shop"`: 1},
			nodes: 6,
		},
		{
			name: "constants fold, double negations cancel",
			rules: []ir.Node{
				&ir.And{X: []ir.Node{&ir.Const{Value: true}, shop}},
				&ir.Or{X: []ir.Node{shop, &ir.Const{Value: true}}},
				&ir.And{X: []ir.Node{fr, &ir.Not{X: &ir.Const{Value: true}}}},
				&ir.Not{X: &ir.Not{X: mobile}},
				&ir.Or{X: []ir.Node{&ir.Const{Value: false}, &ir.Const{Value: false}}},
			},
			want:  []string{`path matches "^/shop"`, "true", "false", `device.type == "mobile"`, "false"},
			nodes: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base()
			for _, r := range tt.rules {
				p.Rules = append(p.Rules, &ir.Rule{Cond: r})
			}
			s := ir.Share(p)
			for i, want := range tt.want {
				if got := describe(p, s, s.Rules[i]); got != want {
					t.Errorf("rule %d: %s, want %s", i, got, want)
				}
			}
			used := 0
			for k, n := range s.Nodes {
				if n.Uses > 0 {
					used++
				}
				// Operands come first.
				for _, x := range n.X {
					if x >= k {
						t.Errorf("node %d has operand %d after it", k, x)
					}
				}
				if want, ok := tt.uses[describe(p, s, k)]; ok && n.Uses != want {
					t.Errorf("%s: %d uses, want %d", describe(p, s, k), n.Uses, want)
				}
			}
			if used != tt.nodes {
				t.Errorf("%d nodes in use, want %d", used, tt.nodes)
			}
		})
	}
}

// TestShareUnusedSegment: a segment no rule refers to has a node, but
// nothing is counted as used on its behalf.
func TestShareUnusedSegment(t *testing.T) {
	p := &ir.Program{
		Slots:    []plugin.Slot{{Attr: "path"}},
		Patterns: []string{"x"},
		Segments: []*ir.Segment{{Name: "unused", Cond: &ir.Match{Slot: 0, Pattern: 0}}},
		Rules:    []*ir.Rule{{Cond: &ir.Const{Value: true}}},
	}
	s := ir.Share(p)
	if n := s.Nodes[s.Segments[0]]; n.Uses != 0 {
		t.Fatalf("unused segment's node has %d uses", n.Uses)
	}
}
