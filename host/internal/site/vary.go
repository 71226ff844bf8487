package site

import (
	"regexp"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/bespoke-edge/bespoke/plugin"
)

// Varies are the Vary lists of the responses to one request (see
// Site.Vary, VaryNonHTML and VaryAsset), narrowed to the rules that may
// apply on its path.
type Varies struct {
	Page, NonHTML, Asset []string
}

// pathVaries narrows the Vary lists to the rules that may apply on a
// request's path: a rule whose path guard (plugin.Rule.Path) does not
// hold there applies to no visitor of that URL, whatever else they send,
// so what only such rules read need not split a shared cache's copies of
// it. A redirect of "/old" for French visitors made every page and asset
// of the route vary with the country.
type pathVaries struct {
	s *Site
	// all are the lists with every rule, the Site's.
	all *Varies
	// exact maps a path to the guards of the "in" kind that hold of it;
	// the other guards are tested one by one.
	exact  map[string][]int
	inKind []bool
	guards []guard
	re     []*regexp.Regexp
	// byExcluded caches the lists by the set of rules excluded, a
	// bitset as a string; at most maxVaries of them.
	byExcluded sync.Map
	cached     atomic.Int32
}

// Varies returns the Vary lists of the responses to a request whose
// values are vals (Request.Values), narrowed to the rules that may apply
// on its path.
func (s *Site) Varies(vals []plugin.Value) *Varies {
	if s.paths == nil || s.pathSlot < 0 || s.pathSlot >= len(vals) {
		return &s.allVaries
	}
	return s.paths.of(vals[s.pathSlot].Str)
}

// guard is one rule's path guard.
type guard struct {
	rule int
	cond *plugin.PathCond
}

const maxVaries = 1024

// newPathVaries returns the narrowing of s's lists, nil when no rule
// has a path guard or the manifest does not say what each rule reads.
func newPathVaries(s *Site) *pathVaries {
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
	pv := &pathVaries{s: s, all: &s.allVaries, exact: map[string][]int{}}
	for ri, r := range m.Rules {
		if r.Path == nil {
			continue
		}
		g := len(pv.guards)
		pv.guards = append(pv.guards, guard{rule: ri, cond: r.Path})
		in := r.Path.Op == "in"
		pv.inKind = append(pv.inKind, in)
		if in {
			for _, p := range r.Path.Args {
				if l := pv.exact[p]; len(l) == 0 || l[len(l)-1] != g {
					pv.exact[p] = append(l, g)
				}
			}
		}
	}
	if len(pv.guards) == 0 {
		return nil
	}
	for _, p := range m.Patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil // the engine refuses such a plugin
		}
		pv.re = append(pv.re, re)
	}
	return pv
}

// match is PathCond.Holds's pattern test.
func (pv *pathVaries) match(i int, s string) bool {
	return i >= 0 && i < len(pv.re) && pv.re[i].MatchString(s)
}

// of returns the lists for a request whose path is path.
func (pv *pathVaries) of(path string) *Varies {
	words := (len(pv.s.manifest.Rules) + 63) / 64
	var small [4]uint64
	excluded := small[:0]
	if words > len(small) {
		excluded = make([]uint64, 0, words)
	}
	excluded = excluded[:words]
	holdsIn := pv.exact[path]
	some := false
	for g, gd := range pv.guards {
		var holds bool
		if pv.inKind[g] {
			holds = contains(holdsIn, g)
		} else {
			holds = gd.cond.Holds(path, pv.match)
		}
		if !holds {
			excluded[gd.rule/64] |= 1 << (gd.rule % 64)
			some = true
		}
	}
	if !some {
		return pv.all
	}
	key := unsafe.String((*byte)(unsafe.Pointer(&excluded[0])), len(excluded)*8)
	if v, ok := pv.byExcluded.Load(key); ok {
		return v.(*Varies)
	}
	v := pv.narrow(excluded)
	if pv.cached.Load() < maxVaries {
		// A copy of the key: excluded may be on the stack.
		if _, loaded := pv.byExcluded.LoadOrStore(string([]byte(key)), v); !loaded {
			pv.cached.Add(1)
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

// narrow builds the lists without the rules excluded (see narrowSlots).
func (pv *pathVaries) narrow(excluded []uint64) *Varies {
	s := pv.s
	page, nonHTML, asset, nonHTMLSeen, assetSeen := narrowSlots(s.manifest, func(ri int) bool { return excluded[ri/64]&(1<<(ri%64)) != 0 },
		func(ri int) bool { return in(s.nonHTMLRules, ri) }, func(ri int) bool { return in(s.assetRules, ri) })
	return &Varies{
		Page:    s.builder.VaryOf(page, false),
		NonHTML: s.builder.VaryOf(nonHTML, nonHTMLSeen),
		Asset:   s.builder.VaryOf(asset, assetSeen),
	}
}

// narrowSlots returns the slots each list names without the rules out
// says are excluded: the page's, every slot but those only excluded
// rules read (a slot no rule reads stays, and so do those an
// experiment's variant depends on: a page names the visitor's variants
// whatever rules apply on its path); the others', what the rules kept
// that nonHTML and asset say can change such responses read, and
// whether those ask the seen-filter.
func narrowSlots(m *plugin.Manifest, out, nonHTMLRule, assetRule func(ri int) bool) (page, nonHTML, asset []int, nonHTMLSeen, assetSeen bool) {
	readBy := make([]int, len(m.Slots)) // rules kept (and experiments) reading each slot
	readAt := make([]bool, len(m.Slots))
	for ri, r := range m.Rules {
		for _, i := range r.Reads {
			if i < 0 || i >= len(readBy) {
				continue
			}
			readAt[i] = true
			if !out(ri) {
				readBy[i]++
			}
		}
		if out(ri) {
			continue
		}
		if nonHTMLRule(ri) {
			nonHTML = append(nonHTML, r.Reads...)
			nonHTMLSeen = nonHTMLSeen || r.ReadsSeen
		}
		if assetRule(ri) {
			asset = append(asset, r.Reads...)
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
