package site

import (
	"regexp"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/bespoke-edge/bespoke/plugin"
)

// Varies are the Vary lists of the responses to one request (see
// Site.Vary, VaryNonHTML and VaryAsset), narrowed to what the request's
// response can depend on.
type Varies struct {
	Page, NonHTML, Asset []string
}

// narrowing narrows the Vary lists for one request in two ways. A rule
// whose path guard (plugin.Rule.Path) does not hold on the request's
// path applies to no visitor of that URL, whatever else they send, so
// what only such rules read need not split a shared cache's copies of it
// (a redirect of "/old" for French visitors made every page and asset of
// the route vary with the country). And a rule that did not apply to the
// request does not depend on what only its actions' values read
// (plugin.Rule.ValueReads): a response names those only when the rule
// applied, each response carrying its own Vary, which a cache matches a
// request against (RFC 9111 4.1), so a header that names the country
// for editors previewing made every visitor's style sheet vary with the
// country.
type narrowing struct {
	s *Site
	// all are the lists with every rule, the Site's.
	all *Varies
	// exact maps a path to the guards of the "in" kind that hold of it;
	// the other guards are tested one by one.
	exact  map[string][]int
	inKind []bool
	guards []guard
	re     []*regexp.Regexp
	// valued are the rules that have value reads.
	valued []int
	// cache holds the lists by the rules narrowed (two bitsets, as a
	// string); at most maxVaries of them.
	cache  sync.Map
	cached atomic.Int32
}

// Varies returns the Vary lists of the responses to a request whose
// values are vals (Request.Values) and the plugin's decision d: without
// what only the rules that cannot apply on its path read, nor what only
// the values of rules that did not apply read. A nil d (no decision)
// keeps the rules' value reads.
func (s *Site) Varies(vals []plugin.Value, d *plugin.Decision) *Varies {
	if s.narrow == nil {
		return &s.allVaries
	}
	path, hasPath := "", false
	if s.pathSlot >= 0 && s.pathSlot < len(vals) {
		path, hasPath = vals[s.pathSlot].Str, true
	}
	return s.narrow.of(path, hasPath, d)
}

// guard is one rule's path guard.
type guard struct {
	rule int
	cond *plugin.PathCond
}

const maxVaries = 1024

// newNarrowing returns the narrowing of s's lists, nil when no rule has
// a path guard or value reads, or the manifest does not say what each
// rule reads.
func newNarrowing(s *Site) *narrowing {
	m := s.manifest
	if !m.RuleReads {
		return nil
	}
	for _, x := range m.Experiments {
		if len(x.Reads) == 0 {
			// Every variant has a bucket: a manifest without
			// them does not say what a page's variants depend on.
			return nil
		}
	}
	n := &narrowing{s: s, all: &s.allVaries, exact: map[string][]int{}}
	for ri, r := range m.Rules {
		if len(r.ValueReads) > 0 {
			n.valued = append(n.valued, ri)
		}
		if r.Path == nil {
			continue
		}
		g := len(n.guards)
		n.guards = append(n.guards, guard{rule: ri, cond: r.Path})
		in := r.Path.Op == "in"
		n.inKind = append(n.inKind, in)
		if in {
			for _, p := range r.Path.Args {
				if l := n.exact[p]; len(l) == 0 || l[len(l)-1] != g {
					n.exact[p] = append(l, g)
				}
			}
		}
	}
	if len(n.guards) == 0 && len(n.valued) == 0 {
		return nil
	}
	for _, p := range m.Patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil // the engine refuses such a plugin
		}
		n.re = append(n.re, re)
	}
	return n
}

// match is PathCond.Holds's pattern test.
func (n *narrowing) match(i int, s string) bool {
	return i >= 0 && i < len(n.re) && n.re[i].MatchString(s)
}

// of returns the lists for a request whose path is path (hasPath: the
// rules read it) and decision d.
func (n *narrowing) of(path string, hasPath bool, d *plugin.Decision) *Varies {
	words := (len(n.s.manifest.Rules) + 63) / 64
	var small [8]uint64
	bits := small[:0]
	if 2*words > len(small) {
		bits = make([]uint64, 0, 2*words)
	}
	bits = bits[:2*words]
	excluded, unapplied := bits[:words], bits[words:]
	some := false
	if hasPath {
		holdsIn := n.exact[path]
		for g, gd := range n.guards {
			var holds bool
			if n.inKind[g] {
				holds = contains(holdsIn, g)
			} else {
				holds = gd.cond.Holds(path, n.match)
			}
			if !holds {
				excluded[gd.rule/64] |= 1 << (gd.rule % 64)
				some = true
			}
		}
	}
	if d != nil {
		for _, ri := range n.valued {
			if !d.Has(ri) {
				unapplied[ri/64] |= 1 << (ri % 64)
				some = true
			}
		}
	}
	if !some {
		return n.all
	}
	key := unsafe.String((*byte)(unsafe.Pointer(&bits[0])), len(bits)*8)
	if v, ok := n.cache.Load(key); ok {
		return v.(*Varies)
	}
	v := n.narrowed(excluded, unapplied)
	if n.cached.Load() < maxVaries {
		// A copy of the key: bits may be on the stack.
		if _, loaded := n.cache.LoadOrStore(string([]byte(key)), v); !loaded {
			n.cached.Add(1)
		}
	}
	return v
}

func contains(l []int, g int) bool {
	for _, x := range l {
		if x == g {
			return true
		}
	}
	return false
}

// narrowed builds the lists without the rules excluded, and without the
// value reads of the rules unapplied (see narrowSlots).
func (n *narrowing) narrowed(excluded, unapplied []uint64) *Varies {
	s := n.s
	has := func(b []uint64, ri int) bool { return b[ri/64]&(1<<(ri%64)) != 0 }
	page, nonHTML, asset, nonHTMLSeen, assetSeen := narrowSlots(s.manifest,
		func(ri int) bool { return has(excluded, ri) }, func(ri int) bool { return has(unapplied, ri) },
		func(ri int) bool { return in(s.nonHTMLRules, ri) }, func(ri int) bool { return in(s.assetRules, ri) })
	return &Varies{
		Page:    s.builder.VaryOf(page, false),
		NonHTML: s.builder.VaryOf(nonHTML, nonHTMLSeen),
		Asset:   s.builder.VaryOf(asset, assetSeen),
	}
}

// narrowSlots returns the slots each list names without the rules out
// says are excluded, and without the value reads of those unapplied
// says did not apply: the page's, every slot but those only such rules
// and values read (a slot no rule reads stays, and so do those an
// experiment's variant depends on: a page names the visitor's variants
// whatever rules apply); the others', what the rules kept that nonHTML
// and asset say can change such responses read, and whether those ask
// the seen-filter.
func narrowSlots(m *plugin.Manifest, out, unapplied, nonHTMLRule, assetRule func(ri int) bool) (page, nonHTML, asset []int, nonHTMLSeen, assetSeen bool) {
	readBy := make([]int, len(m.Slots)) // rules kept (and experiments) reading each slot
	readAt := make([]bool, len(m.Slots))
	var kept []int
	for ri, r := range m.Rules {
		for _, i := range r.Reads {
			if i >= 0 && i < len(readAt) {
				readAt[i] = true
			}
		}
		if out(ri) {
			continue
		}
		kept = kept[:0]
		for _, i := range r.Reads {
			if i < 0 || i >= len(readBy) || unapplied(ri) && contains(r.ValueReads, i) {
				continue
			}
			readBy[i]++
			kept = append(kept, i)
		}
		if nonHTMLRule(ri) {
			nonHTML = append(nonHTML, kept...)
			nonHTMLSeen = nonHTMLSeen || r.ReadsSeen
		}
		if assetRule(ri) {
			asset = append(asset, kept...)
			assetSeen = assetSeen || r.ReadsSeen
		}
	}
	for _, x := range m.Experiments {
		for _, i := range x.Reads {
			if i >= 0 && i < len(readBy) {
				readBy[i]++
			}
		}
	}
	for i := range readBy {
		if !readAt[i] || readBy[i] > 0 {
			page = append(page, i)
		}
	}
	return page, nonHTML, asset, nonHTMLSeen, assetSeen
}
