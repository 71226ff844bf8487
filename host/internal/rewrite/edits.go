package rewrite

import (
	"bytes"
	"encoding/binary"
	"html"
	mbits "math/bits"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/bespoke-edge/bespoke/internal/selector"
)

// matcher is the selectors' state: the tables of the selectors in use,
// and per open element the compounds it matched and its selector notes.
type matcher struct {
	// What the edits' selectors need, shared with every rewrite of the
	// Program with the same selectors in use (see tables.go); key is
	// those selectors, a bit each.
	*tables
	key []uint64
	// deadMask has the bits of the dead compounds (see dead).
	deadMask uint64
	// The last name mayHave looked for, in the tag of the element that
	// tagSerial numbers, and its answer: a rule file that tests one
	// attribute against many values ([data-slot=hero],
	// [data-slot=promo], …) looks once per tag.
	tagSerial, mayAt uint32
	mayName          string
	mayOK            bool
	// selEpoch and selMatch cache, per selector, whether it matches the
	// element being opened (valid when selEpoch equals epoch).
	selEpoch []uint32
	selMatch []bool
	epoch    uint32
	// badEdit marks edits whose Attr the HTML syntax cannot hold.
	badEdit []bool

	// An element's matched compounds are a bit set of words uint64s
	// (see tables): the first in its entry, the others (past 64 active
	// compounds) in bits, words-1 per entry; its selector notes likewise,
	// ctxWords of them (the first in the entry, the others in ctxBits).
	bits    []uint64
	ctxBits []uint64
	// nMatch counts, per compound bit, the open elements that match it.
	nMatch []int32
	// openMask has the bits (of the first 64) whose nMatch is not 0 (see
	// tables.rightNeed).
	openMask uint64
	// Scratch for one start tag.
	matched []int32

	// With many edits (manyEdits or more), apply tests only the edits of
	// the selectors that may select the element (see selCandidates):
	// selEdit has, per selector, 1 + its first edit (0: none), editNext,
	// per edit, 1 + the next of its selector; cand marks the edits to
	// test, a bit each, and is zero between start tags; cands is scratch.
	many     bool
	selEdit  []int32
	editNext []int32
	cand     []uint64
	cands    []int32
}

// manyEdits is how many edits a rewrite must have for apply to find the
// ones to test from the element rather than test each: with fewer, the
// test of each selector's last compounds against the element's
// (selRight) costs less. A variable for TestCandidatesDifferential.
var manyEdits = 16

// match evaluates the active compounds on the element just pushed at
// depth d (its start tag is src[lt:end], attributes in r.attrs), notes
// the selector prefixes it completes, and applies the edits whose
// selectors match.
func (r *Rewriter) match(d int, tag uint16, lt, end int, void bool) {
	any := false
	if r.dispatch {
		// Only the compounds for any element and those for this tag.
		var have uint8
		if r.idLo >= 0 {
			have |= needID
		}
		if r.classLo >= 0 {
			have |= needClass
		}
		cands := r.anyFor[have]
		live := r.anyBits[have]&^r.deadMask != 0 || r.anyHigh[have]
		if !live {
			cands = nil
		}
		if trackWork {
			r.work += len(cands) + 1
		}
		for k := range cands {
			a := &cands[k]
			if r.dead(a.bit) {
				continue
			}
			c, i := a.c, a.bit
			var ok bool
			switch c.kind {
			case kindClass:
				v := r.tag[r.classLo:r.classHi]
				ok = r.rawWord(v, c.classes[0]) || (r.quirks || !r.plain(v)) && r.classHas(v, c.classes[0])
			case kindID:
				ok = r.spanIs(r.idLo, r.idHi, c.ids[0])
			default:
				ok = r.matchCompound(c, d)
			}
			if ok {
				*r.word(d, int(i>>6)) |= 1 << (i & 63)
				any = true
			}
		}
		if live && (have&needClass != 0 && r.byClass != nil || have&needID != 0 && r.byID != nil) && r.matchWords(d, have) {
			any = true
		}
		if live && r.byAttr != nil && r.matchAttrs(d) {
			any = true
		}
		if tag < uint16(len(r.tagFirst)) && r.tagFirst[tag] > 0 {
			for _, i := range r.tagged[r.tagFirst[tag]-1 : r.tagEnd[tag]] { // (the looked-up ones end it, past tagEnd)
				if trackWork {
					r.work++
				}
				if r.dead(i) {
					continue
				}
				if c := r.activeC[i]; c.kind == kindTag || r.matchCompound(c, d) {
					*r.word(d, int(i>>6)) |= 1 << (i & 63)
					any = true
				}
			}
		}
		if wt := r.tagWords[tag]; wt != nil && r.classLo >= 0 && r.lookClasses(d, wt.exact, wt.fold) {
			any = true
		}
		// The compounds with :not(), once the bits they read are set:
		// those for any element with what this one has, and those for
		// its tag, in index order (an argument before the :not() that
		// reads it).
		la := r.lateFor[have]
		var lt []int32
		if tag < uint16(len(r.lateFirst)) && r.lateFirst[tag] > 0 {
			lt = r.lateTagged[r.lateFirst[tag]-1 : r.lateEnd[tag]]
		}
		for len(la) > 0 || len(lt) > 0 {
			var i int32
			if len(lt) == 0 || len(la) > 0 && la[0] < lt[0] {
				i, la = la[0], la[1:]
			} else {
				i, lt = lt[0], lt[1:]
			}
			if trackWork {
				r.work++
			}
			if !r.dead(i) && r.matchCompound(r.activeC[i], d) {
				*r.word(d, int(i>>6)) |= 1 << (i & 63)
				any = true
			}
		}
	} else {
		// In index order, so that :not() arguments are evaluated first.
		if trackWork {
			r.work += len(r.activeC)
		}
		for i, c := range r.activeC {
			if c.tag != 0 && c.tag != tag || c.ids != nil && r.idLo < 0 || c.classes != nil && r.classLo < 0 {
				continue
			}
			if r.matchCompound(c, d) {
				*r.word(d, i>>6) |= 1 << (i & 63)
				any = true
			}
		}
	}
	if !any {
		return
	}
	r.stack[d].matched = true
	r.stack[d].pin |= pinOther
	hit := false
	for w := 0; w < r.words; w++ {
		b := *r.word(d, w)
		hit = hit || b&r.rightMask[w] != 0
		for b != 0 {
			k := w*64 + mbits.TrailingZeros64(b)
			r.nMatch[k]++
			if r.posFirst[k] != r.posFirst[k+1] {
				r.prefixes(d, k)
			}
			b &= b - 1
		}
	}
	b0, was := r.stack[d].bits, r.openMask
	r.openMask |= b0
	if on := r.openMask &^ was & r.ancMask; on != 0 {
		r.revive(on)
	}
	if hit && r.words == 1 {
		hit = false
		for b := b0 & r.rightMask[0]; b != 0 && !hit; b &= b - 1 {
			hit = r.rightNeed[mbits.TrailingZeros64(b)]&^r.openMask == 0
		}
	}
	if hit {
		if r.rec != nil {
			r.recordOpen(d, lt, end, void)
			return
		}
		r.apply(d, lt, end, void)
	}
}

// The selector memo. A complex selector's compounds 0..i, with compound
// i on an element, are its prefix i; the element at depth d notes, per
// prefix that is not a whole selector (a position), whether the prefix
// matches with its last compound on the element itself (when a child
// combinator follows it) or on the element or an ancestor (when a
// descendant combinator follows). An element reads only its parent's
// notes, so matching costs the same whatever the nesting, and an element
// that matches no compound copies its parent's descendant notes.

// posRef is a position, listed under the compound it ends with.
type posRef struct {
	bit  int32 // its bit in the notes
	need int32 // the bit of the prefix before it, which the parent must have; -1 for the first
}

// altRef is a complex selector of an edit's selector list: its last
// compound (local bit) and the position before it (-1 for one compound).
type altRef struct {
	last, prev int32
}

// ctxWord returns word w of the notes of the element at depth d.
func (r *Rewriter) ctxWord(d, w int) *uint64 {
	if w == 0 {
		return &r.stack[d].ctx
	}
	return &r.ctxBits[d*(r.ctxWords-1)+w-1]
}

// ctxHas reports whether the element at depth d has note bit b.
func (r *Rewriter) ctxHas(d int, b int32) bool {
	return *r.ctxWord(d, int(b>>6))&(1<<(b&63)) != 0
}

// inherit starts the notes of the element at depth d from its parent's:
// the positions a descendant combinator follows.
func (r *Rewriter) inherit(d int) {
	r.stack[d].ctx = r.stack[d-1].ctx & r.descMask[0]
	for w := 1; w < r.ctxWords; w++ {
		r.ctxBits = append(r.ctxBits, *r.ctxWord(d-1, w)&r.descMask[w])
	}
}

// prefixes notes the positions that compound bit k, which the element at
// depth d matched, completes.
func (r *Rewriter) prefixes(d, k int) {
	for _, p := range r.posList[r.posFirst[k]:r.posFirst[k+1]] {
		if trackWork {
			r.work++
		}
		if p.need < 0 || r.ctxHas(d-1, p.need) {
			*r.ctxWord(d, int(p.bit>>6)) |= 1 << (p.bit & 63)
		}
	}
}

// complexAt reports whether the complex selector whose last compound has
// local bit last, and whose position before it is prev, matches the
// element at depth d.
func (r *Rewriter) complexAt(last, prev int32, d int) bool {
	return r.hasLocal(d, last) && (prev < 0 || r.ctxHas(d-1, prev))
}

// dead reports whether compound bit i need not be evaluated: it is only
// ever the last compound of a selector (never an ancestor, nor in a :not()
// argument), and an ancestor that every such selector needs matches no
// open element, so no selector can use it. For dispatch only (the
// evaluation of every compound in index order does not skip).
func (r *Rewriter) dead(i int32) bool {
	return i < 64 && r.deadMask&(1<<i) != 0
}

// live computes deadMask, the compounds dead (see dead), when the
// ancestors open change.
func (r *Rewriter) live() {
	var m uint64
	for b := r.rightOnly; b != 0; b &= b - 1 {
		i := mbits.TrailingZeros64(b)
		if r.rightNeed[i]&^r.openMask != 0 {
			m |= 1 << i
		}
	}
	r.deadMask = m
}

// revive updates deadMask when the ancestor bits on begin to match an
// open element: of the compounds that need one of them, those that need
// nothing else unmatched live. (When one stops matching, the compounds
// that need it die: deadMask |= neededBy.) The others keep their state,
// so that the cost is that of the compounds involved, not of all.
func (r *Rewriter) revive(on uint64) {
	var may uint64
	for b := on; b != 0; b &= b - 1 {
		may |= r.neededBy[mbits.TrailingZeros64(b)]
	}
	for b := may & r.deadMask; b != 0; b &= b - 1 {
		if i := mbits.TrailingZeros64(b); r.rightNeed[i]&^r.openMask == 0 {
			r.deadMask &^= 1 << i
		}
	}
}

// mayMatch reports whether match could find a compound matching the
// start tag of element id being handled: with dispatch, most elements
// meet no compound that is not dead, and are not worth the call. The
// compounds for any element are told apart by what they need the element
// to have (needID, needClass).
func (r *Rewriter) mayMatch(id uint16) bool {
	if !r.dispatch || id < uint16(len(r.tagBits)) && (r.tagBits[id]&^r.deadMask != 0 || r.tagHigh[id]) {
		return true
	}
	var have uint8
	if r.idLo >= 0 {
		have |= needID
	}
	if r.classLo >= 0 {
		have |= needClass
	}
	return r.anyBits[have]&^r.deadMask != 0 || r.anyHigh[have]
}

// word returns word w of the compound bits of the element at depth d:
// the first lives in the entry, the others (past 64 active compounds) in
// r.bits.
func (r *Rewriter) word(d, w int) *uint64 {
	if w == 0 {
		return &r.stack[d].bits
	}
	return &r.bits[d*(r.words-1)+w-1]
}

// hasLocal reports whether the element at depth d matched the compound of
// local bit l.
func (r *Rewriter) hasLocal(d int, l int32) bool {
	if l < 64 {
		return r.stack[d].bits&(1<<l) != 0
	}
	return r.bits[d*(r.words-1)+int(l>>6)-1]&(1<<(l&63)) != 0
}

// selects reports whether selector s matches the element at depth d,
// once per element.
func (r *Rewriter) selects(s, d int) bool {
	if r.selEpoch[s] == r.epoch {
		return r.selMatch[s]
	}
	m := false
	for _, a := range r.altList[r.altFirst[s]:r.altFirst[s+1]] {
		if r.complexAt(a.last, a.prev, d) {
			m = true
			break
		}
	}
	r.selEpoch[s], r.selMatch[s] = r.epoch, m
	return m
}

// matchWords sets, on the element at depth d, the bits of the compounds
// of byClass and byID it matches: those of each of its classes, and of
// its id, looked up. A value with a character reference (or not in
// UTF-8) is decoded first, once; a page in quirks mode (where .content
// selects class="Content") looks the words up with their ASCII letters
// in lower case, in byClassFold and byIDFold. (Both once had every
// compound test the value: a page without a doctype and a rule file
// naming 200 classes cost 15 times the page with one.)
func (r *Rewriter) matchWords(d int, have uint8) bool {
	any := false
	if have&needClass != 0 && r.byClass != nil {
		any = r.lookClasses(d, r.byClass, r.byClassFold)
	}
	if have&needID != 0 && r.byID != nil {
		v := r.tag[r.idLo:r.idHi]
		if !r.plain(v) {
			v = r.decode(v)
		}
		if r.quirks {
			any = r.setBits(d, r.byIDFold[r.folded(v)]) || any
		} else {
			any = r.setBits(d, r.byID[string(v)]) || any
		}
	}
	return any
}

// lookClasses sets, on the element at depth d, the bits of the compounds
// that exact (or fold, in quirks mode) has for each of its classes, and
// reports whether there was one.
func (r *Rewriter) lookClasses(d int, exact, fold map[string][]anyCompound) bool {
	any := false
	v := r.tag[r.classLo:r.classHi]
	if !r.plain(v) {
		v = r.decode(v)
	}
	for i := 0; i < len(v); {
		for i < len(v) && isSpace(v[i]) {
			i++
		}
		j := i
		for j < len(v) && !isSpace(v[j]) {
			j++
		}
		if j > i {
			if trackWork {
				r.work++
			}
			if r.quirks {
				any = r.setBits(d, fold[r.folded(v[i:j])]) || any
			} else {
				any = r.setBits(d, exact[string(v[i:j])]) || any
			}
		}
		i = j
	}
	return any
}

// folded returns w with its ASCII letters in lower case, valid until the
// next call (w itself when it has none in upper case).
func (r *Rewriter) folded(w []byte) string {
	for _, c := range w {
		if 'A' <= c && c <= 'Z' {
			r.foldBuf = appendFolded(r.foldBuf[:0], w)
			return bstr(r.foldBuf)
		}
	}
	return bstr(w)
}

// matchAttrs evaluates the groups of byAttr on the element at depth d:
// a group whose attribute's name is not in the tag's bytes, none of its
// compounds can match. The compounds that test the value for equality
// are looked up by the value, read once: [data-sku=a], [data-sku=b] ...
// cost what one of them does (each once read the attribute and compared
// its value: 500 such selectors made the shop page's rewrite six times
// slower).
func (r *Rewriter) matchAttrs(d int) bool {
	any := false
	for g := range r.byAttr {
		grp := &r.byAttr[g]
		if trackWork {
			r.work += len(grp.list) + 1
		}
		if !r.attrsRead {
			// Noted as matchCompound notes it, which then need not look.
			r.mayAt, r.mayName, r.mayOK = r.tagSerial, grp.name, mayHave(r.tag[r.nameEnd:], grp.name)
			if !r.mayOK {
				continue
			}
		}
		if (grp.eq != nil || grp.eqFold != nil) && (r.stack[d].ns == nsHTML || !namespacedInForeign(grp.name)) {
			// (As matchCompound reads it, where a namespaced
			// attribute of svg or math is no match.)
			if j := r.findAttr(grp.name); j >= 0 {
				v := r.value(j)
				if grp.eq != nil {
					any = r.setBits(d, grp.eq[bstr(v)]) || any
				}
				if grp.eqFold != nil {
					any = r.setBits(d, grp.eqFold[r.folded(v)]) || any
				}
			}
		}
		for k := range grp.list {
			if a := &grp.list[k]; !r.dead(a.bit) && r.matchCompound(a.c, d) {
				*r.word(d, int(a.bit>>6)) |= 1 << (a.bit & 63)
				any = true
			}
		}
	}
	return any
}

// setBits sets, on the element at depth d, the bits of the compounds of
// list that are not dead, and reports whether there was one.
func (r *Rewriter) setBits(d int, list []anyCompound) bool {
	if trackWork {
		r.work += len(list) + 1
	}
	any := false
	for k := range list {
		if a := &list[k]; !r.dead(a.bit) {
			*r.word(d, int(a.bit>>6)) |= 1 << (a.bit & 63)
			any = true
		}
	}
	return any
}

// matchCompound tests compound c on the element being opened at depth d.
func (r *Rewriter) matchCompound(c *ccompound, d int) bool {
	if c.tag != 0 && c.tag != r.stack[d].tag || c.never {
		return false
	}
	for _, n := range c.nth {
		pos := r.childPos
		if n.ofType {
			pos = r.typePos
		}
		if !n.n.Matches(pos) {
			return false
		}
	}
	if len(c.ids) > 0 {
		if r.idLo < 0 || !r.spanIs(r.idLo, r.idHi, c.ids[0]) {
			return false
		}
	}
	if len(c.classes) > 0 {
		if r.classLo < 0 {
			return false
		}
		v := r.tag[r.classLo:r.classHi]
		for _, cl := range c.classes {
			if !(r.rawWord(v, cl) && strings.IndexByte(cl, '&') < 0) && !((r.quirks || !r.plain(v)) && r.classHas(v, cl)) {
				return false
			}
		}
	}
	for i := range c.attrs {
		a := &c.attrs[i]
		var v []byte
		switch a.Name {
		case "id", "class":
			// The tokenizer noted where the first of each is: the tag's
			// attributes need not be read again.
			lo, hi := r.idLo, r.idHi
			if a.Name == "class" {
				lo, hi = r.classLo, r.classHi
			}
			if lo < 0 {
				return false
			}
			if a.Op != selector.Exists {
				v = r.decode(r.tag[lo:hi])
			}
		default:
			if r.stack[d].ns != nsHTML && namespacedInForeign(a.Name) {
				// In svg and math, the parser gives xmlns, xlink:href,
				// xml:lang ... a namespace, and an attribute selector
				// without one matches only attributes that have none.
				return false
			}
			// A compound of any element (such as [data-slot=hero]) looks
			// first whether the tag can have the attribute: most have
			// not. One of a tag (a[href^="/sale"]) reads it at once.
			if c.tag == 0 && !r.attrsRead {
				if r.mayAt != r.tagSerial || r.mayName != a.Name {
					r.mayAt, r.mayName, r.mayOK = r.tagSerial, a.Name, mayHave(r.tag[r.nameEnd:], a.Name)
				}
				if !r.mayOK {
					return false
				}
			}
			j := r.findAttr(a.Name)
			if j < 0 {
				return false
			}
			if a.Op != selector.Exists {
				v = r.value(j)
			}
		}
		if a.Op != selector.Exists && !a.MatchesOn(bstr(v), r.stack[d].ns == nsHTML) {
			return false
		}
	}
	for i := range c.not {
		n := &c.not[i]
		prev := int32(-1)
		if len(n.comps) > 1 {
			prev = r.cbase[n.id] - 1 + int32(len(n.comps)) - 2
		}
		if r.complexAt(r.local[n.comps[len(n.comps)-1]], prev, d) {
			return false
		}
	}
	return true
}

// namespacedInForeign reports whether an attribute named name (lower
// case) of an svg or math element is put in a namespace by the parser
// (HTML's "adjust foreign attributes"): the XLink attributes, xml:lang,
// xml:space, xmlns and xmlns:xlink.
func namespacedInForeign(name string) bool {
	switch name {
	case "xlink:actuate", "xlink:arcrole", "xlink:href", "xlink:role", "xlink:show", "xlink:title", "xlink:type",
		"xml:lang", "xml:space", "xmlns", "xmlns:xlink":
		return true
	}
	return false
}

// findAttr returns the index of the first attribute named name (lower
// case) in the start tag, or -1.
func (r *Rewriter) findAttr(name string) int {
	if !r.attrsRead {
		// Read only up to it (as findAttrFold, to which a lower-case
		// name is the same).
		return r.findAttrFold(name)
	}
	for i, a := range r.attrs {
		if int(a.nameHi-a.nameLo) == len(name) && equalFold(r.tag[a.nameLo:a.nameHi], name) {
			return i
		}
	}
	return -1
}

// mayHave reports whether the attributes b (a start tag after its name)
// may hold one named name (lower-case): whether those bytes are in b,
// with ASCII letters in any case, as findAttr compares names. It is what
// a selector that tests an attribute of every element (such as
// [data-slot=hero]) asks of most tags, and looking costs less than
// reading their attributes (which added half again to a rewrite of the
// shop page, which has no such attribute).
//
// It looks at eight places at a time for the name's first and last
// bytes, in words whose letters are lower-cased by setting 0x20 (which
// can only make more bytes look alike), then compares the whole name at
// each place found.
func mayHave(b []byte, name string) bool {
	if len(name) < 2 {
		return true // one-byte names are rare: read the attributes
	}
	last := len(b) - len(name) // the last place the name can start
	if last < 0 {
		return false
	}
	const lo, hi, fold = 0x0101010101010101, 0x8080808080808080, 0x2020202020202020
	end := len(name) - 1
	p0, p1 := lo*uint64(name[0]|0x20), lo*uint64(name[end]|0x20)
	// at tests places i to i+7; it reads b[i:i+8] and b[i+end:i+end+8].
	at := func(i int) bool {
		x := (binary.LittleEndian.Uint64(b[i:]) | fold) ^ p0
		y := (binary.LittleEndian.Uint64(b[i+end:]) | fold) ^ p1
		// A zero byte in both is a place (and, by a borrow, a few
		// others are flagged, which the comparison turns down).
		for m := (x - lo) &^ x & ((y - lo) &^ y) & hi; m != 0; m &= m - 1 {
			if k := i + mbits.TrailingZeros64(m)>>3; k <= last && equalFold(b[k:k+len(name)], name) {
				return true
			}
		}
		return false
	}
	if last < 7 {
		for k := 0; k <= last; k++ {
			if equalFold(b[k:k+len(name)], name) {
				return true
			}
		}
		return false
	}
	i := 0
	for ; i+7 <= last; i += 8 {
		if at(i) {
			return true
		}
	}
	// The places after the last whole window: the window that ends at
	// the last place covers them.
	return i <= last && at(last-7)
}

// findAttrFold is findAttr for a name in any case. Unless the tag's
// attributes were read already, it reads them only up to the first of
// that name (a list item's id, most often near the start of its tag);
// a later attributes() reads them all.
func (r *Rewriter) findAttrFold(name string) int {
	if !r.attrsRead {
		var t tagFacts
		r.attrs = r.attrs[:0]
		if readAttrs(r.tag, r.nameEnd, &t, &r.attrs, name) == attrsStopped {
			return len(r.attrs) - 1
		}
		r.attrsRead = true
	}
	for i, a := range r.attrs {
		if int(a.nameHi-a.nameLo) == len(name) && asciiFold(r.tag[a.nameLo:a.nameHi], name) {
			return i
		}
	}
	return -1
}

// asciiFold reports whether b and s are equal with ASCII letters in any
// case, the way the tokenizer folds attribute names (other bytes, and
// non-ASCII letters, must be equal).
func asciiFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lowerByte(b[i]) != lowerByte(s[i]) {
			return false
		}
	}
	return true
}

// value returns attribute i's value with character references decoded,
// as selectors compare it. It is only valid until the next call.
func (r *Rewriter) value(i int) []byte {
	a := &r.attrs[i]
	if a.valLo < 0 {
		return nil
	}
	return r.decode(r.tag[a.valLo:a.valHi])
}

// decode decodes an attribute value as the browser reads it, from the
// page's encoding (see Options.Decode), its newlines, NULs and
// character references, into a buffer valid until the next call.
func (r *Rewriter) decode(v []byte) []byte {
	if r.legacy != nil && !isASCII(v) {
		r.legacyBuf = r.legacy(r.legacyBuf[:0], v)
		v = r.legacyBuf
	}
	if bytes.IndexByte(v, '\r') >= 0 || bytes.IndexByte(v, 0) >= 0 {
		// The browser reads the page's CR LF, and CR alone, as LF
		// before it reads tags (a CR written &#13; stays), and a NUL
		// in a value as U+FFFD.
		r.readBuf = appendAsRead(r.readBuf[:0], v)
		v = r.readBuf
	}
	if bytes.IndexByte(v, '&') < 0 {
		return v
	}
	r.contentBuf = appendUnescapedAttr(r.contentBuf[:0], v)
	return r.contentBuf
}

// appendAsRead appends v with each CR LF and each CR alone as LF, and
// each NUL as U+FFFD.
func appendAsRead(dst, v []byte) []byte {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\r':
			dst = append(dst, '\n')
			if i+1 < len(v) && v[i+1] == '\n' {
				i++
			}
		case 0:
			dst = append(dst, "\uFFFD"...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// plain reports whether the value v reads as its bytes: no character
// reference, no CR or NUL, and UTF-8 or ASCII.
func (r *Rewriter) plain(v []byte) bool {
	return bytes.IndexByte(v, '&') < 0 && bytes.IndexByte(v, '\r') < 0 && bytes.IndexByte(v, 0) < 0 && (r.legacy == nil || isASCII(v))
}

// rawWord is hasWord(v, w) where the bytes of w in v are w: always in
// UTF-8, and for an ASCII w in any encoding the rewriter reads (whose
// multi-byte characters hold no space, so a word of v equal to an
// ASCII w is ASCII).
func (r *Rewriter) rawWord(v []byte, w string) bool {
	return (r.legacy == nil || isASCIIString(w)) && hasWord(v, w)
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func isASCIIString(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// appendUnescapedAttr appends v, an attribute value, with its character
// references decoded as HTML's tokenizer decodes them in an attribute,
// which is not as in text (html.UnescapeString's way): a named reference
// without its ';' is decoded only when the whole name is one of the
// legacy names (&copy, &amp), and not when '=' follows it. In a URL,
// "?a=1&sectionId=2" keeps "&sect" and "&region=eu" keeps "&reg", where
// in text they would read "§ionId" and "®ion": [href*="region=eu"]
// selects the link in browsers.
func appendUnescapedAttr(dst, v []byte) []byte {
	for {
		i := bytes.IndexByte(v, '&')
		if i < 0 {
			return append(dst, v...)
		}
		dst = append(dst, v[:i]...)
		v = v[i:]
		if len(v) > 1 && v[1] == '#' {
			var n int
			dst, n = appendNumericRef(dst, v)
			v = v[n:]
			continue
		}
		j := 1
		for j < len(v) && isAlnum(v[j]) {
			j++
		}
		semi := j < len(v) && v[j] == ';'
		if semi {
			j++
		}
		if semi {
			// The references URLs and text are full of, without the
			// allocations of the general case.
			if c, ok := commonRefs[string(v[1:j])]; ok {
				dst = append(dst, c)
				v = v[j:]
				continue
			}
		}
		ref := string(v[:j])
		d := html.UnescapeString(ref)
		if !semi && j < len(v) && v[j] == '=' ||
			// Text's way decodes the longest name that starts the run and
			// keeps the rest: a name that is not all of it.
			strings.ContainsFunc(d, func(r rune) bool { return r < utf8.RuneSelf && isAlnum(byte(r)) }) {
			d = ref
		}
		dst = append(dst, d...)
		v = v[j:]
	}
}

// appendNumericRef decodes the numeric character reference v starts
// with, as in text and attributes alike, and returns how many bytes it
// read; "&#" without a digit stays as it is. html.UnescapeString decodes
// the code point, from the reference written in full: it leaves a
// one-digit reference without ';' as it is, where HTML decodes it.
func appendNumericRef(dst, v []byte) ([]byte, int) {
	n, j := numericRef(v)
	if j == 0 {
		j = 2
		if len(v) > 2 && v[2]|0x20 == 'x' {
			j = 3
		}
		return append(dst, v[:j]...), j
	}
	switch {
	case n >= 0x80 && n <= 0x9f:
		// windows-1252's characters, by the standard's table.
		return append(dst, html.UnescapeString("&#"+strconv.Itoa(n)+";")...), j
	case n == 0 || n > utf8.MaxRune || n >= 0xd800 && n <= 0xdfff:
		return utf8.AppendRune(dst, utf8.RuneError), j
	}
	return utf8.AppendRune(dst, rune(n)), j
}

// numericRef reads the numeric character reference v starts with
// ("&#65;", "&#x41", with or without its ';', any leading zeros): its
// value, 0x110000 for any past Unicode, and its length, 0 when "&#" (or
// "&#x") has no digit.
func numericRef(v []byte) (n, size int) {
	j, hex := 2, len(v) > 2 && v[2]|0x20 == 'x'
	if hex {
		j = 3
	}
	from := j
	for ; j < len(v); j++ {
		d := digitValue(v[j], hex)
		if d < 0 {
			break
		}
		if hex {
			n = min(n<<4|d, 0x110000)
		} else {
			n = min(n*10+d, 0x110000)
		}
	}
	if j == from {
		return 0, 0
	}
	if j < len(v) && v[j] == ';' {
		j++
	}
	return n, j
}

// commonRefs are the named references pages use most, with their ';'.
var commonRefs = map[string]byte{"amp;": '&', "lt;": '<', "gt;": '>', "quot;": '"', "apos;": '\''}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// spanIs reports whether the value tag[lo:hi] is want.
func (r *Rewriter) spanIs(lo, hi int32, want string) bool {
	v := r.tag[lo:hi]
	if !r.plain(v) {
		// (Not its bytes: id="a&amp;b" is a&b, whatever a selector
		// written #a\&amp\; wants.)
		v = r.decode(v)
	}
	return string(v) == want || r.quirks && asciiFold(v, want)
}

// classHas reports whether the class list v (as the tag has it) holds
// class w. In quirks mode (a page without a doctype, or with an old
// one) class and id selectors compare ASCII case-insensitively, as in
// browsers: .content selects class="Content".
//
// The matcher asks hasWord first, inline, and this only when that fails
// and the page is in quirks mode or the list has a character reference.
func (r *Rewriter) classHas(v []byte, w string) bool {
	if (r.rawWord(v, w) || r.quirks && (r.legacy == nil || isASCIIString(w)) && selector.HasWord(bstr(v), w, true)) && strings.IndexByte(w, '&') < 0 {
		// A raw word equal to a class without '&' is that class.
		return true
	}
	if r.plain(v) {
		return false
	}
	d := r.decode(v)
	return hasWord(d, w) || r.quirks && selector.HasWord(bstr(d), w, true)
}

// bstr views b as a string, for comparisons that do not keep it.
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// hasWord reports whether the whitespace-separated list v holds w.
func hasWord(v []byte, w string) bool {
	if len(w) == 0 {
		return false
	}
	if len(v) == len(w) {
		return string(v) == w
	}
	for i := 0; i+len(w) <= len(v); i++ {
		j := indexByte(v[i:], w[0])
		if j < 0 {
			return false
		}
		i += j
		end := i + len(w)
		if end > len(v) {
			return false
		}
		// A word starts at the list's start or after a space, and ends
		// at its end or before one.
		if (i == 0 || isSpace(v[i-1])) && (end == len(v) || isSpace(v[end])) && string(v[i:end]) == w {
			return true
		}
	}
	return false
}

func isContentOp(op Op) bool { return op >= SetInner && op <= RemoveKeepContent }
func isListOp(op Op) bool    { return op >= Limit && op <= HideSeen }
func isAttrOp(op Op) bool    { return op >= SetAttr && op <= RemoveClass }

// apply applies the matching edits to the element opened at depth d.
func (r *Rewriter) apply(d, lt, end int, void bool) {
	r.epoch++
	m := r.matched[:0]
	if r.many {
		r.matched = r.applyCandidates(d, m)
		r.applyMatched(d, lt, end, void)
		return
	}
	if trackWork {
		r.work += len(r.edits)
	}
	w0 := r.stack[d].bits
	for i := range r.edits {
		if r.badEdit[i] {
			continue
		}
		s := r.edits[i].Selector
		if r.words == 1 && w0&r.selRight[s] == 0 {
			continue // the last compound of none of its alternatives matched
		}
		if r.selects(s, d) && r.admit(i) {
			m = append(m, int32(i))
		}
	}
	r.matched = m
	r.applyMatched(d, lt, end, void)
}

// applyCandidates appends to m, in order, the edits that select the
// element at depth d, asking only those of the selectors that may (see
// selCandidates).
func (r *Rewriter) applyCandidates(d int, m []int32) []int32 {
	cs := r.selCandidates(d, r.cands[:0])
	r.cands = cs
	if len(cs) == 0 {
		return m
	}
	for _, s := range cs {
		for i := r.selEdit[s]; i != 0; i = r.editNext[i-1] {
			r.cand[(i-1)>>6] |= 1 << ((i - 1) & 63)
		}
	}
	return r.takeCandidates(m, d)
}

// takeCandidates appends to m, in order, the edits cand marks that
// select the element at depth d (all of them for d < 0: the splicer's,
// which its map says select it) and are admitted, and clears cand.
func (r *Rewriter) takeCandidates(m []int32, d int) []int32 {
	for w, b := range r.cand {
		if b == 0 {
			continue
		}
		r.cand[w] = 0
		for ; b != 0; b &= b - 1 {
			i := w*64 + mbits.TrailingZeros64(b)
			if trackWork {
				r.work++
			}
			if (d < 0 || r.selects(r.edits[i].Selector, d)) && r.admit(i) {
				m = append(m, int32(i))
			}
		}
	}
	return m
}

// selCandidates appends to out the selectors that may select the element
// at depth d, whose compounds are matched: those with an alternative of
// one compound that it matched, and those with one whose position before
// its last compound its parent notes. No other can (see complexAt). A
// selector may be appended more than once.
func (r *Rewriter) selCandidates(d int, out []int32) []int32 {
	for w := 0; w < r.words; w++ {
		for b := *r.word(d, w) & r.rightMask[w]; b != 0; b &= b - 1 {
			k := w*64 + mbits.TrailingZeros64(b)
			out = append(out, r.lastSels[r.lastFirst[k]:r.lastFirst[k+1]]...)
		}
	}
	if r.hasNotes {
		for w := 0; w < r.ctxWords; w++ {
			for b := *r.ctxWord(d-1, w) & r.prevMask[w]; b != 0; b &= b - 1 {
				p := w*64 + mbits.TrailingZeros64(b)
				out = append(out, r.prevSels[r.prevFirst[p]:r.prevFirst[p+1]]...)
			}
		}
	}
	if trackWork {
		// (Words of bits are not counted, here or anywhere: a step is a
		// test of a compound or a selector.)
		r.work += len(out)
	}
	return out
}

// applyMatched applies the edits r.matched, which match the element
// opened at depth d, whose start tag is src[lt:end].
func (r *Rewriter) applyMatched(d, lt, end int, void bool) {
	m := r.matched
	if len(m) == 0 {
		return
	}
	content := int32(-1)
	listed := false
	for _, i := range m {
		op := r.edits[i].Op
		if content < 0 && isContentOp(op) && !(void && op == SetInner) {
			content = i
		}
		listed = listed || isListOp(op)
	}
	var cop Op
	if content >= 0 {
		cop = r.edits[content].Op
	}
	r.pass(lt)
	if r.stopped {
		return // what was held is out; the rest of the page passes as it is
	}
	if r.impliedAt == r.base+lt {
		// What is written here, or follows the tag dropped, goes after
		// the elements the tag ends, not in them.
		before := cop == Replace || cop == Remove || cop == RemoveKeepContent
		for _, i := range m {
			before = before || r.edits[i].Op == InsertBefore
		}
		if before {
			r.endImplied(lt)
		}
	}
	if listed {
		r.addItem(d, m, lt)
	}
	for _, i := range m {
		if r.edits[i].Op == InsertBefore {
			r.put(i)
		}
	}
	switch cop {
	case Replace:
		r.put(content)
		r.drop(end)
	case Remove, RemoveKeepContent:
		r.applied[content]++
		r.drop(end)
	default:
		r.writeStartTag(end, m)
		r.pass(end)
	}
	gone := cop == Replace || cop == Remove
	if !void && !gone {
		nl := false
		for _, i := range m {
			if r.edits[i].Op == Prepend {
				if !nl && r.stack[d].ns == nsHTML && (r.stack[d].tag == tagPre || r.stack[d].tag == tagListing || r.stack[d].tag == tagTextarea) && cop != SetInner && cop != RemoveKeepContent {
					// A browser drops a newline right after the start tag:
					// the page's, which would follow the content, goes,
					// and one is written before it instead.
					nl = true
					r.out(newline)
					r.nlAt = r.base + end
				}
				r.put(i)
			}
		}
	}
	if cop == SetInner {
		r.put(content)
	}
	if !void && (cop == SetInner || gone) {
		r.skip = d
	}
	// What happens at the element's end.
	lo := int32(len(r.actEdits))
	a := action{content: cop, appendLo: lo}
	if !void && !gone {
		for _, i := range m {
			if r.edits[i].Op == Append {
				r.actEdits = append(r.actEdits, i)
			}
		}
	}
	a.apHi = int32(len(r.actEdits))
	a.afterLo = a.apHi
	for _, i := range m {
		if r.edits[i].Op == InsertAfter {
			r.actEdits = append(r.actEdits, i)
		}
	}
	a.afterHi = int32(len(r.actEdits))
	if a.afterHi > lo || cop != 0 && !void {
		r.acts = append(r.acts, a)
		r.stack[d].act = int32(len(r.acts))
		r.stack[d].pin |= pinOther
	}
}

// finish does what happens at the end of the element at depth d: the
// output before src[lt] is written (or dropped), list edits on its
// children apply, then Append content, its end tag src[lt:end] (when
// target), and InsertAfter content.
func (r *Rewriter) finish(d, lt, end int, target bool) {
	r.pass(lt)
	e := &r.stack[d]
	if r.skip == d {
		r.skip = -1
	}
	if e.region != 0 && !r.stopped {
		r.closeRegion()
		if !target && len(r.regions) > 0 && e.ns == nsHTML && (e.tag == tagUL || e.tag == tagOL) && !r.endBlocked && !r.leftOut {
			// A list the page leaves open inside an item of another
			// list: the browser's </li> that ends the item (writeEnd) is
			// ignored while it is open, and the items moved after it
			// would go into it.
			if e.tag == tagUL {
				r.out(endUL)
			} else {
				r.out(endOL)
			}
			r.wroteEnd = true
		}
	}
	e.region = 0
	var a *action
	if e.act != 0 {
		a = &r.acts[e.act-1]
		for _, i := range r.actEdits[a.appendLo:a.apHi] {
			r.put(i)
		}
	}
	if target {
		if a != nil && (a.content == Replace || a.content == Remove || a.content == RemoveKeepContent) {
			r.drop(end)
		} else {
			r.pass(end)
		}
	}
	if a != nil && (a.content == Replace || a.content == Remove || a.content == SetInner) {
		// What was in it is not in the output: the elements it held
		// that end here need no end tag (see endImplied).
		if at := r.base + lt; r.droppedAt != at || d < r.below {
			r.droppedAt, r.below = at, d
		}
	}
	ended := false
	if a != nil && !target {
		// The element ends where the page leaves its end tag out: what
		// goes after it would be in it. (Without its start tag, it has
		// no end to write, here or before the tag that ends it.)
		if dropped := a.content == Replace || a.content == Remove || a.content == RemoveKeepContent; dropped || a.afterHi > a.afterLo {
			r.writeEnd(lt, e, !dropped)
			ended = true
		}
	}
	if e.item != 0 && !target && !ended {
		// A list item the page leaves open: once the list edits move or
		// hide the items, what follows it in the page (a text, a
		// <span>, another item) is no longer what ended it, and would go
		// inside it. It carries its end tag.
		r.writeEnd(lt, e, true)
	}
	if a != nil {
		for _, i := range r.actEdits[a.afterLo:a.afterHi] {
			r.put(i)
		}
		r.actEdits = r.actEdits[:a.appendLo]
		r.acts = r.acts[:e.act-1]
		e.act = 0
	}
	if e.item != 0 && !r.stopped {
		r.items[e.item-1].last = r.tail
		r.cut = true
		e.item = 0
	}
}

// writeEnd writes, at src[lt], the end tag of the element e, which ends
// there without one, when it is one that ends by the same steps as by
// its end tag (impliesEnd): a browser reads what follows as after it.
// (Another, a formatting element's, would end otherwise.) Nor when an
// element that ends here too without its end tag would take it
// (endBlocked: an li inside it, a button around a p's end). Without
// write, it only notes that the element needs none (its start tag was
// dropped), for endImplied.
func (r *Rewriter) writeEnd(lt int, e *entry, write bool) {
	if e.ns != nsHTML || e.tag >= 256 || endTags[e.tag] == nil || r.stopped || r.leftOut || r.endBlocked {
		return
	}
	if at := r.base + lt; r.endsAt != at {
		r.endsAt, r.ends = at, r.ends[:0]
	}
	r.ends = append(r.ends, e.tag)
	if write {
		r.out(endTags[e.tag])
		r.wroteEnd = true
	}
}

var newline = []byte{'\n'}

// endUL and endOL end a list the page leaves open (see finish).
var endUL, endOL = []byte("</ul>"), []byte("</ol>")

// endImplied writes, at src[lt], the end tags of the elements that the
// start tag there ends without them (see noteImplied), but for those an
// edit wrote already (writeEnd).
func (r *Rewriter) endImplied(lt int) {
	at := r.base + lt
	if r.impliedAt != at || r.leftOut {
		return
	}
	for _, t := range r.implied {
		if r.droppedAt == at && int(t.d) > r.below {
			continue // its start tag went with an ancestor's content
		}
		if r.endsAt == at {
			if i := slices.Index(r.ends, t.tag); i >= 0 {
				r.ends = slices.Delete(r.ends, i, i+1)
				continue
			}
		}
		r.out(endTags[t.tag])
	}
	r.implied = r.implied[:0]
}

// writeStartTag writes the start tag src[mark:end] with the attribute
// edits among m applied; other attributes keep their bytes. Without an
// attribute edit that changes something, the tag passes as it is.
//
// A changed tag is written so that a browser's tokenizer splits it into
// exactly the attributes meant (see tagWriter): an attribute is never
// appended where the tokenizer would read it as part of the previous
// attribute's value or name.
func (r *Rewriter) writeStartTag(end int, m []int32) {
	// Most matched tags have no attribute edit (a list's items, an
	// element whose content changes): they pass as they are, without
	// reading their attributes.
	attrEdits := false
	for _, i := range m {
		attrEdits = attrEdits || isAttrOp(r.edits[i].Op)
	}
	if !attrEdits {
		return
	}
	t := &r.tagEdits
	tag := r.tag
	names := t.names[:0]
	for _, a := range r.attributes() {
		names = append(names, tag[a.nameLo:a.nameHi])
	}
	t.names = names
	var class []byte
	for _, i := range m {
		if op := r.edits[i].Op; op == AddClass || op == RemoveClass {
			if j := r.findAttr("class"); j >= 0 {
				// A copy: the name of a <meta>, read next, may be
				// decoded into the same buffer.
				r.classBuf = append(r.classBuf[:0], r.value(j)...)
				class = r.classBuf
			}
			break
		}
	}
	var metaName string
	if tn := r.tagName(); len(tn) == 4 && equalFold(tn, "meta") {
		if j := r.findAttr("name"); j >= 0 {
			metaName = string(r.value(j)) // a copy: class may be in the same buffer
		}
	}
	ok := t.resolve(r.edits, m, names, class, r.tagName(), metaName)
	for _, i := range t.refused {
		r.refused[i]++
	}
	if !ok {
		return
	}
	for _, i := range t.applied {
		r.applied[i]++
	}
	if !t.changed {
		return
	}
	nameEnd := 1
	for nameEnd < len(tag) && byteClass[tag[nameEnd]]&cNameEnd == 0 {
		nameEnd++
	}
	w := tagWriter{b: append(r.tmpTag[:0], tag[:nameEnd]...), enc: r.encodeValue, legacy: r.legacy != nil}
	value := func(edit int32) []byte {
		if edit < 0 {
			return t.class
		}
		return []byte(r.edits[edit].Value)
	}
	last := int32(nameEnd)
	for ai, op := range t.ops {
		a := &r.attrs[ai]
		gap := tag[last:a.nameLo]
		switch {
		case op.set:
			w.attr(gap, names[ai], value(op.edit), op.edit >= 0)
		case !op.drop:
			w.copy(gap, tag, a)
		}
		last = a.end
	}
	for _, n := range t.add {
		name := classAttr
		if n.edit >= 0 {
			name = []byte(r.edits[n.edit].Attr)
		}
		w.attr(space, name, value(n.edit), n.edit >= 0)
	}
	w.tail(tag[last:])
	r.tmpTag = w.b
	r.out(w.b)
	r.drop(end)
}

var space, classAttr = []byte{' '}, []byte("class")

// admit reports whether edit i, whose selector matches the element
// being opened, may apply to it: not when it would write values of the
// request into its text where they would be code (intoCode), which is
// counted refused.
func (r *Rewriter) admit(i int) bool {
	if r.intoCode(&r.edits[i]) {
		r.refused[i]++
		return false
	}
	return true
}

// intoCode reports whether edit e would write values of the request
// into the text of the <script> or <style> element being opened, where
// they would be code whatever their escaping.
func (r *Rewriter) intoCode(e *Edit) bool {
	if !e.Interpolated || e.Op != SetInner && e.Op != Prepend && e.Op != Append {
		return false
	}
	name := r.tagName()
	return equalFold(name, "script") || equalFold(name, "style")
}

// tagName returns the name of the start tag being handled, as written.
func (r *Rewriter) tagName() []byte {
	tag := r.tag[1:]
	n := 0
	for n < len(tag) && byteClass[tag[n]]&cNameEnd == 0 {
		n++
	}
	return tag[:n]
}

// tagWriter writes a start tag attribute by attribute, tracking where a
// browser's tokenizer would be after the bytes written so far (the HTML
// standard's tokenization states), so that every attribute it writes
// starts a new attribute for the browser too. Copied bytes keep their
// meaning: a separator is added only where the original one, after an
// attribute that was removed or changed, would no longer separate.
type tagWriter struct {
	b  []byte
	st tagState
	// enc is Options.EncodeValue; legacy says the page is not in UTF-8
	// (Options.Decode).
	enc    func(dst, v []byte) []byte
	legacy bool
}

// tagState is what the next byte of a start tag would continue.
type tagState uint8

const (
	// afterTagName: "<a"; a name byte would extend the tag's name.
	afterTagName tagState = iota
	// afterName: "<a b"; whitespace then '=' would give b a value.
	afterName
	// afterUnquoted: "<a b=c"; any byte but whitespace or '>' extends c.
	afterUnquoted
	// afterQuoted: `<a b="c"`; nothing extends the attribute.
	afterQuoted
)

// sep writes gap (the whitespace and slashes that preceded the
// attribute starting with byte next in the original tag) or, when gap
// would not end what was written before, a separator that does.
func (w *tagWriter) sep(gap []byte, next byte) {
	safe := false
	switch w.st {
	case afterQuoted:
		safe = true
	case afterTagName:
		safe = len(gap) > 0
	case afterUnquoted:
		safe = len(gap) > 0 && isSpace(gap[0])
	case afterName:
		// After whitespace, '=' would start b's value; a slash ends b.
		safe = len(gap) > 0 && (next != '=' || bytes.IndexByte(gap, '/') >= 0)
	}
	if !safe {
		if w.st == afterName && next == '=' {
			w.b = append(w.b, `=""`...)
		}
		w.b = append(w.b, ' ')
	}
	w.b = append(w.b, gap...)
}

// attr writes name="v", with v escaped for a double-quoted value.
func (w *tagWriter) attr(gap, name, v []byte, edited bool) {
	w.sep(gap, name[0])
	w.b = append(w.b, name...)
	if w.enc != nil && (edited || w.legacy) && !isASCII(v) {
		// An edit's value, in UTF-8, goes in the page's encoding once
		// escaped: what the encoding cannot hold becomes a character
		// reference, which the escaping would otherwise have escaped.
		// A class list, the page's classes (as read, in UTF-8) and the
		// edits', goes so in a page not in UTF-8; in one that declares
		// no encoding, the page's own classes stay as they are.
		w.b = w.enc(w.b, appendValue(nil, v))
	} else {
		w.b = appendValue(w.b, v)
	}
	w.st = afterQuoted
}

// copy writes attribute a of tag as it is, except that an unquoted empty
// value ("a=" before '>', which the tokenizer reads as a value that would
// swallow what is appended) is written a="".
func (w *tagWriter) copy(gap, tag []byte, a *attr) {
	w.sep(gap, tag[a.nameLo])
	switch {
	case a.valLo < 0:
		w.b = append(w.b, tag[a.nameLo:a.end]...)
		w.st = afterName
	case a.end > a.valHi:
		w.b = append(w.b, tag[a.nameLo:a.end]...)
		w.st = afterQuoted
	case a.valHi > a.valLo:
		w.b = append(w.b, tag[a.nameLo:a.end]...)
		w.st = afterUnquoted
	default:
		w.b = append(w.b, tag[a.nameLo:a.nameHi]...)
		w.b = append(w.b, `=""`...)
		w.st = afterQuoted
	}
}

// tail writes the end of the tag: whitespace and slashes, then '>'. A
// slash right after an unquoted value would join the value.
func (w *tagWriter) tail(t []byte) {
	if w.st == afterUnquoted && len(t) > 0 && t[0] == '/' {
		w.b = append(w.b, ' ')
	}
	w.b = append(w.b, t...)
}

// appendValue appends ="v" with v escaped for a double-quoted attribute.
func appendValue(b, v []byte) []byte {
	b = append(b, '=', '"')
	for {
		i := bytes.IndexAny(v, `&"`)
		if i < 0 {
			break
		}
		b = append(b, v[:i]...)
		if v[i] == '&' {
			b = append(b, "&amp;"...)
		} else {
			b = append(b, "&quot;"...)
		}
		v = v[i+1:]
	}
	b = append(b, v...)
	return append(b, '"')
}

// removeWord removes every occurrence of the word w from the list v, with
// the space before it (or after it, for the first word).
func removeWord(v []byte, w string) []byte {
	out := v[:0]
	i := 0
	for i < len(v) {
		j := i
		for j < len(v) && isSpace(v[j]) {
			j++
		}
		k := j
		for k < len(v) && !isSpace(v[k]) {
			k++
		}
		if string(v[j:k]) != w {
			if len(out) > 0 && j > i {
				out = append(out, ' ')
			} else if len(out) > 0 {
				out = append(out, ' ')
			}
			out = append(out, v[j:k]...)
		}
		i = k
	}
	return bytes.TrimRight(out, " ")
}
