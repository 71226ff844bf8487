package rewrite

import (
	"fmt"
	"hash/maphash"
	"maps"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/bespoke-edge/bespoke/internal/selector"
)

// Program holds the selectors of one plugin, compiled once when the plugin
// loads. It is safe for concurrent use by any number of Rewriters; its
// selectors do not change, and it keeps, for the last few dozen sets of
// selectors its rewrites used, the tables the matcher needs, so that a
// request with a set seen before does not build them again.
type Program struct {
	sels []csel
	// comps are the distinct compound selectors of all selectors,
	// including those inside :not(); a compound's :not() arguments come
	// before it, so evaluating compounds in index order has what it needs.
	comps []ccompound
	// names interns the type selectors' tag names the static table does
	// not know (custom elements), with ids from len(staticTags).
	names map[string]uint16
	// ncplx counts the complex selectors, :not() arguments included; each
	// has its index in ccomplex.id.
	ncplx int32
	// tabs caches the tables of the sets of selectors rewrites use (see
	// tables.go).
	tabs atomic.Pointer[tableCache]
	// read holds the lower-cased names of the attributes whose values a
	// rewrite may read: those the selectors test, and those ReadAttrs
	// adds (the ids of list edits). An edit map takes the values of the
	// other attributes for volatile (see volatile.go).
	read map[string]bool
	// classWords and idWords are the classes and ids the compounds
	// name, each once: what of a tag's class list and id the matcher
	// reads. An edit map takes a class list or id for volatile when
	// which of them it holds is all that changed (see volatile.go);
	// wordsFit says there are at most 64 of each, for a bit each.
	classWords, idWords []string
	wordsFit            bool
	// src are the selectors as compiled, and fp a hash of them and of
	// read: two Programs with the same are interchangeable for an edit
	// map (SameSelectors).
	src []string
	fp  uint64
	// set is src, fp and read, which is what an edit map keeps of the
	// Program it was made for: the Program's tables would otherwise live
	// on in the maps of pages not seen since a reload replaced it.
	set *selectorSet
	// kids is what a selector reads of an element's earlier siblings:
	// nothing (kidsNone), how many there are (kidsCount, :nth-child),
	// or how many of each name (kidsNames, :nth-of-type). What a digest
	// of a rewrite's state holds of them (see resync.go).
	kids uint8
}

// What Program.kids says selectors read of earlier siblings.
const (
	kidsNone uint8 = iota
	kidsCount
	kidsNames
)

// csel is one compiled selector list.
type csel struct {
	alts []ccomplex
	// comps lists every compound the list uses, :not() arguments included.
	comps []int32
}

// ccomplex is a compiled complex selector: compounds left to right.
type ccomplex struct {
	id    int32 // its index among the Program's complex selectors
	comps []int32
	combs []selector.Combinator
}

// ccompound is a compound selector prepared for matching at a start tag.
type ccompound struct {
	tag     uint16 // 0: any element
	ids     []string
	classes []string
	attrs   []selector.Attr
	nth     []cnth
	not     []ccomplex
	// never is set when the compound cannot match (two different ids).
	never bool
	// kind says when the compound is one simple test that the matcher
	// can do inline: kindClass (one class), kindID (one id), kindTag (a
	// type alone); 0 is anything else.
	kind uint8
}

const (
	kindClass uint8 = iota + 1
	kindID
	kindTag
)

type cnth struct {
	ofType bool
	n      selector.Nth
}

// Compile compiles parsed selectors; index i of the Program is
// selectors[i], the index Edit.Selector refers to. An empty List is an
// error.
func Compile(selectors []selector.List) (*Program, error) {
	p := &Program{names: map[string]uint16{}, read: map[string]bool{}}
	seen := map[string]int32{}
	for i, l := range selectors {
		if err := check(l); err != nil {
			return nil, fmt.Errorf("rewrite: selector %d: %w", i, err)
		}
		var s csel
		s.alts = p.list(l, seen, &s.comps)
		p.sels = append(p.sels, s)
		p.src = append(p.src, l.String())
	}
	words := map[string]bool{}
	for i := range p.comps {
		for _, w := range p.comps[i].classes {
			if !words["."+w] {
				words["."+w] = true
				p.classWords = append(p.classWords, w)
			}
		}
		for _, w := range p.comps[i].ids {
			if !words["#"+w] {
				words["#"+w] = true
				p.idWords = append(p.idWords, w)
			}
		}
	}
	p.wordsFit = len(p.classWords) <= 64 && len(p.idWords) <= 64
	for i := range p.comps {
		for _, n := range p.comps[i].nth {
			p.kids = max(p.kids, kidsCount)
			if n.ofType {
				p.kids = kidsNames
			}
		}
	}
	p.fingerprint()
	return p, nil
}

// fpSeed seeds the Programs' fingerprints; they never leave the process.
var fpSeed = maphash.MakeSeed()

// fingerprint computes p.fp from its selectors and the attributes it reads.
func (p *Program) fingerprint() {
	var h maphash.Hash
	h.SetSeed(fpSeed)
	for _, s := range p.src {
		h.WriteString(s)
		h.WriteByte(0)
	}
	h.WriteByte(1)
	for _, n := range slices.Sorted(maps.Keys(p.read)) {
		h.WriteString(n)
		h.WriteByte(0)
	}
	p.fp = h.Sum64()
	p.set = &selectorSet{src: p.src, fp: p.fp, read: p.read}
}

// selectorSet is what makes two Programs interchangeable for an edit map
// (see SameSelectors). Each Program has its own: the one an edit map
// holds says which Program it is for, as a pointer to the Program did.
type selectorSet struct {
	src  []string
	fp   uint64
	read map[string]bool
}

// same reports whether s and o name the same selectors and attributes.
func (s *selectorSet) same(o *selectorSet) bool {
	return s == o || o != nil && s.fp == o.fp && slices.Equal(s.src, o.src) && maps.Equal(s.read, o.read)
}

// SameSelectors reports whether q has p's selectors, index for index,
// and reads the values of the same attributes: an edit map made with
// either serves the other (EditMap.For). A reload that changed rules but
// not what they select keeps its pages' maps.
func (p *Program) SameSelectors(q *Program) bool {
	return p == q || q != nil && p.set.same(q.set)
}

// check rejects lists that selector.Parse does not make: empty ones, and
// complex selectors whose combinators do not join their compounds.
func check(l selector.List) error {
	if len(l) == 0 {
		return fmt.Errorf("empty selector list")
	}
	for _, c := range l {
		if len(c.Compounds) == 0 || len(c.Combinators) != len(c.Compounds)-1 {
			return fmt.Errorf("malformed complex selector %q", c.String())
		}
		for _, comp := range c.Compounds {
			for _, ps := range comp.Pseudos {
				if ps.Kind == selector.Not {
					if err := check(ps.Not); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// CompileStrings parses and compiles selectors; see Compile. The error
// names the selector that does not parse and wraps its *selector.Error.
func CompileStrings(selectors []string) (*Program, error) {
	ls := make([]selector.List, len(selectors))
	for i, s := range selectors {
		l, err := selector.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("rewrite: selector %d %q: %w", i, s, err)
		}
		ls[i] = l
	}
	return Compile(ls)
}

// Len returns the number of selectors.
func (p *Program) Len() int { return len(p.sels) }

// ReadAttrs tells p that edits may read the values of the attributes
// named (the ids of Reorder and HideSeen edits), so that edit maps check
// them byte for byte. It must be called before p is used. An edit that
// reads an attribute p was not told of gets no splice from a map that
// took some values for volatile: the page is rewritten in full.
func (p *Program) ReadAttrs(names ...string) {
	for _, n := range names {
		p.read[asciiLower(n)] = true
	}
	p.fingerprint()
}

// asciiLower lower-cases the ASCII letters of s, as the tokenizer does
// attribute names.
func asciiLower(s string) string {
	for i := range len(s) {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lowerByte(b[j])
			}
			return string(b)
		}
	}
	return s
}

func (p *Program) list(l selector.List, seen map[string]int32, uses *[]int32) []ccomplex {
	out := make([]ccomplex, 0, len(l))
	for i := range l {
		c := &l[i]
		cc := ccomplex{id: p.ncplx, combs: c.Combinators}
		p.ncplx++
		for j := range c.Compounds {
			cc.comps = append(cc.comps, p.compound(&c.Compounds[j], seen, uses))
		}
		out = append(out, cc)
	}
	return out
}

// compound compiles c, or finds it compiled already: a compound shared by
// several selectors is evaluated once per element.
func (p *Program) compound(c *selector.Compound, seen map[string]int32, uses *[]int32) int32 {
	key := c.String()
	if k, ok := seen[key]; ok {
		p.use(k, uses)
		return k
	}
	cc := ccompound{tag: p.tagID(c.Type), attrs: c.Attrs}
	for _, a := range c.Attrs {
		p.read[asciiLower(a.Name)] = true
	}
	for _, id := range c.IDs {
		if len(cc.ids) > 0 && cc.ids[0] != id {
			cc.never = true
		}
		cc.ids = append(cc.ids, id)
	}
	cc.classes = c.Classes
	for _, ps := range c.Pseudos {
		switch ps.Kind {
		case selector.Not:
			cc.not = append(cc.not, p.list(ps.Not, seen, uses)...)
		case selector.NthOfType:
			cc.nth = append(cc.nth, cnth{ofType: true, n: ps.Nth})
		default:
			cc.nth = append(cc.nth, cnth{n: ps.Nth})
		}
	}
	if len(cc.attrs)+len(cc.nth)+len(cc.not) == 0 && !cc.never {
		switch {
		case cc.tag == 0 && len(cc.ids) == 0 && len(cc.classes) == 1 && !strings.Contains(cc.classes[0], "&"):
			cc.kind = kindClass
		case cc.tag == 0 && len(cc.ids) == 1 && len(cc.classes) == 0:
			cc.kind = kindID
		case cc.tag != 0 && len(cc.ids)+len(cc.classes) == 0:
			cc.kind = kindTag
		}
	}
	k := int32(len(p.comps))
	p.comps = append(p.comps, cc)
	seen[key] = k
	p.use(k, uses)
	return k
}

// use adds compound k, and the compounds its :not() arguments use, to
// uses once each.
func (p *Program) use(k int32, uses *[]int32) {
	for _, u := range *uses {
		if u == k {
			return
		}
	}
	for _, n := range p.comps[k].not {
		for _, j := range n.comps {
			p.use(j, uses)
		}
	}
	*uses = append(*uses, k)
}

func (p *Program) tagID(name string) uint16 {
	if name == "" {
		return 0
	}
	name = strings.ToLower(name)
	if id := staticLookup([]byte(name)); id != 0 {
		return id
	}
	if id, ok := p.names[name]; ok {
		return id
	}
	id := uint16(len(staticTags) + len(p.names))
	if len(staticTags)+len(p.names) >= maxProgramNames {
		id = maxProgramNames - 1 // absurdly many names: they share an id and may over-match
	}
	p.names[name] = id
	return id
}
