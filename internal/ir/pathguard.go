package ir

import "github.com/bespoke-edge/bespoke/plugin"

// PathGuard returns a condition on the request path alone that holds
// whenever rule ri applies, or nil when every path may see it apply: the
// condition's parts on the path that all of it needs (a conjunct, or one
// per alternative of a disjunction), its segments' included. A path
// where it does not hold sees the rule apply to no visitor, whatever
// else they send, so the host's Vary of that URL need not name what
// only such rules read (a redirect of "/old" for French visitors does
// not make every page vary with the country).
func (p *Program) PathGuard(ri int) *plugin.PathCond {
	path := -1
	for i, s := range p.Slots {
		if s.Attr == "path" && s.From == nil {
			path = i
			break
		}
	}
	if path < 0 || ri < 0 || ri >= len(p.Rules) {
		return nil
	}
	g := guards{p: p, path: path}
	return g.needed(p.Rules[ri].Cond, 0)
}

// guards builds path guards; depth bounds the segments followed (the
// checker refuses cycles, but a guard is no place to find one).
type guards struct {
	p    *Program
	path int
}

const maxGuardDepth = 64

// needed returns a path condition that n implies (nil: none narrower
// than any path).
func (g guards) needed(n Node, depth int) *plugin.PathCond {
	if depth > maxGuardDepth {
		return nil
	}
	switch n := n.(type) {
	case *And:
		var xs []*plugin.PathCond
		for _, x := range n.X {
			c := g.needed(x, depth+1)
			switch {
			case c == nil:
			case c.Op == "false":
				return c
			default:
				xs = append(xs, c)
			}
		}
		return join("and", xs)
	case *Or:
		var xs []*plugin.PathCond
		for _, x := range n.X {
			c := g.needed(x, depth+1)
			switch {
			case c == nil:
				return nil // that alternative may hold on any path
			case c.Op == "false":
			default:
				xs = append(xs, c)
			}
		}
		if len(xs) == 0 {
			return &plugin.PathCond{Op: "false"}
		}
		return join("or", xs)
	case *Not:
		if c := g.exact(n.X, depth+1); c != nil {
			return &plugin.PathCond{Op: "not", X: []*plugin.PathCond{c}}
		}
		return nil
	case *SegmentRef:
		if n.Index >= 0 && n.Index < len(g.p.Segments) {
			return g.needed(g.p.Segments[n.Index].Cond, depth+1)
		}
		return nil
	case *Const:
		if !n.Value {
			return &plugin.PathCond{Op: "false"}
		}
		return nil
	}
	return g.exact(n, depth)
}

// exact returns the path condition n is, when it is one (its every part
// a test of the path), else nil.
func (g guards) exact(n Node, depth int) *plugin.PathCond {
	if depth > maxGuardDepth {
		return nil
	}
	switch n := n.(type) {
	case *And, *Or:
		var xs []Node
		op := "and"
		if o, ok := n.(*Or); ok {
			xs, op = o.X, "or"
		} else {
			xs = n.(*And).X
		}
		out := &plugin.PathCond{Op: op}
		for _, x := range xs {
			c := g.exact(x, depth+1)
			if c == nil {
				return nil
			}
			out.X = append(out.X, c)
		}
		return out
	case *Not:
		if c := g.exact(n.X, depth+1); c != nil {
			return &plugin.PathCond{Op: "not", X: []*plugin.PathCond{c}}
		}
	case *SegmentRef:
		if n.Index >= 0 && n.Index < len(g.p.Segments) {
			return g.exact(g.p.Segments[n.Index].Cond, depth+1)
		}
	case *SymIn:
		if n.Slot == g.path {
			c := &plugin.PathCond{Op: "in", Args: []string{}}
			for _, s := range n.Syms {
				if s < 0 || s >= len(g.p.Symbols) {
					return nil
				}
				c.Args = append(c.Args, g.p.Symbols[s])
			}
			return c
		}
	case *StrTest:
		if n.Slot == g.path {
			op := map[StrOp]string{Prefix: "starts_with", Suffix: "ends_with", Contains: "contains"}[n.Op]
			if op == "" {
				return nil
			}
			return &plugin.PathCond{Op: op, Args: []string{n.Arg}}
		}
	case *Match:
		if n.Slot == g.path {
			return &plugin.PathCond{Op: "matches", Pattern: n.Pattern}
		}
	}
	return nil
}

// join is op of xs, or xs' one, or nil for none.
func join(op string, xs []*plugin.PathCond) *plugin.PathCond {
	switch len(xs) {
	case 0:
		return nil
	case 1:
		return xs[0]
	}
	return &plugin.PathCond{Op: op, X: xs}
}
