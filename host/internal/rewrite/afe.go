package rewrite

// The list of active formatting elements, as browsers keep it. A
// formatting element (a, b, i, font, ...) that a block closes stays in the
// list; the next text or inline element reopens it, as a copy, wherever
// the page then is, and a later end tag of that name closes the copy (and
// what is open in it) instead of an element further up. The copies are
// not elements here (the page has no tags for them; selectors never see
// them): the list notes where each would be, as the stack height it
// opened at, so that end tags and the rules that look at the current node
// do what they do in browsers.

import "encoding/binary"

// afeEntry is an entry of the list: an element, a copy, or a marker (a
// td, th, caption, applet, marquee, object or template opened: the
// entries before it are out of reach until it ends).
type afeEntry struct {
	tag   uint16
	state uint8  // afeOpen, afeClosed, afeCopy, afeMarker, afeDead
	at    uint16 // afeOpen: the element's depth; afeCopy: the stack height it opened at
	gen   uint32 // afeCopy: the seq of the element under it (it ends when that one does)
	prev  int32  // 1 + the previous entry of the same tag; for a marker, 1 + the previous marker
	attrs uint64 // a hash of the start tag's attributes, for the Noah's ark clause
}

const (
	afeOpen uint8 = iota
	afeClosed
	afeCopy
	afeMarker
	afeDead
)

// maxReopen bounds the entries one reconstruction reopens: browsers reopen
// them all, and a page can leave thousands.
const maxReopen = 64

// attrPrint is a cheap fingerprint of a start tag's attribute bytes a,
// for the Noah's ark clause: the same attributes written the same way
// print the same (the clause compares them parsed: an approximation that
// costs nothing per tag). 0 is no attributes.
func attrPrint(a []byte) uint64 {
	n := len(a)
	var x, y uint64
	switch {
	case n == 0:
		return 0
	case n >= 8:
		x, y = binary.LittleEndian.Uint64(a), binary.LittleEndian.Uint64(a[n-8:])
	case n >= 4:
		x, y = uint64(binary.LittleEndian.Uint32(a)), uint64(binary.LittleEndian.Uint32(a[n-4:]))
	default:
		x, y = uint64(a[0])<<16|uint64(a[n>>1])<<8|uint64(a[n-1]), 0
	}
	// Up to 8 bytes, x, y and n say them all.
	h := (x*0xc2b2ae3d27d4eb4f ^ y*0x165667b19e3779f9) + uint64(n)*0x9e3779b97f4a7c15
	return h | 1
}

// afePush adds the formatting element just opened at depth d (its start
// tag is src[lt:end]) to the list.
func (r *Rewriter) afePush(d int, id uint16, lt, end int) {
	h := attrPrint(r.src[lt+r.nameEnd : end-1])
	// Noah's ark: of elements with the same tag and attributes after the
	// last marker, three at most stay; the earliest goes.
	// The walk compresses the chain past removed entries, and looks at
	// a few entries at most.
	n, earliest, live := 0, -1, -1
	for i, steps := r.afeLatest(id), 0; i >= int(r.afeMarker) && steps < 16; steps++ {
		if trackWork {
			r.work++
		}
		e := &r.afe[i]
		next := int(e.prev) - 1
		if e.state == afeDead {
			if live >= 0 {
				r.afe[live].prev = e.prev
			}
			i = next
			continue
		}
		if e.attrs == h {
			n++
			earliest = i
		}
		live, i = i, next
	}
	if n >= 3 {
		// The element stays open, out of the list: its stack entry must
		// not name the entry any more, which a later compaction or trim
		// may give to another element (its end tag then ends it as any
		// other end tag does).
		if e := &r.afe[earliest]; e.state == afeOpen && int(e.at) < len(r.stack) && r.stack[e.at].afe == int32(earliest+1) {
			r.stack[e.at].afe = 0
			r.stack[e.at].pin &^= pinAFE
		}
		r.afeRemove(earliest)
	}
	// Written in place, as the stack's entries are (see insert).
	k := len(r.afe)
	if k == cap(r.afe) {
		r.afe = append(r.afe, afeEntry{})
	} else {
		r.afe = r.afe[:k+1]
	}
	a := &r.afe[k]
	a.tag, a.state, a.at, a.gen, a.prev, a.attrs = id, afeOpen, uint16(d), 0, r.afeLast[id], h
	r.afeLast[id] = int32(k + 1)
	r.stack[d].afe = int32(k + 1)
	r.stack[d].pin |= pinAFE
}

// afePushMarker adds a marker for the element just opened at depth d.
func (r *Rewriter) afePushMarker(d int) {
	r.afe = append(r.afe, afeEntry{state: afeMarker, at: uint16(d), prev: r.afeMarker})
	r.afeMarker = int32(len(r.afe))
}

// afePop notes that the element e at depth d, which has an entry, ends.
// A formatting element that ends by its own end tag left the list
// already; one a block closes stays, closed. (A marker stays until the
// rules clear the list back to it: afeClear.)
func (r *Rewriter) afePop(e *entry, d int) {
	i := int(e.afe) - 1
	if i >= len(r.afe) {
		return
	}
	if a := &r.afe[i]; a.state == afeOpen && int(a.at) == d {
		a.state = afeClosed
	}
}

// afeClear clears the list back to, and with, the last marker: when a
// cell, a caption, an applet, marquee or object, or a template ends by the
// rules that end them.
func (r *Rewriter) afeClear() {
	for j := len(r.afe) - 1; j >= 0; j-- {
		if trackWork {
			r.work++
		}
		a := &r.afe[j]
		switch a.state {
		case afeMarker:
			r.afeMarker = a.prev
			r.afe = r.afe[:j]
			return
		case afeDead:
			r.afeDead--
		default:
			if a.state == afeCopy && r.copyOpen(a) {
				r.stack[a.at-1].copies--
			}
			if int(r.afeLast[a.tag]) == j+1 {
				r.afeLast[a.tag] = a.prev
			}
		}
	}
	r.afe = r.afe[:0]
}

// afeLatest returns the index of the latest entry of tag id, or -1.
// Entries removed from the middle of a chain are skipped (and the chain's
// head moved past them, so that each is skipped once).
func (r *Rewriter) afeLatest(id uint16) int {
	if int(id) >= len(r.afeLast) {
		return -1
	}
	i := int(r.afeLast[id]) - 1
	for i >= 0 && (i >= len(r.afe) || r.afe[i].state == afeDead) {
		if trackWork {
			r.work++
		}
		if i >= len(r.afe) {
			i = -1 // cleared with its marker
			break
		}
		i = int(r.afe[i].prev) - 1
	}
	r.afeLast[id] = int32(i + 1)
	return i
}

// afeFind returns the latest entry of tag id after the last marker, or
// -1.
func (r *Rewriter) afeFind(id uint16) int {
	i := r.afeLatest(id)
	if i < int(r.afeMarker) {
		return -1
	}
	return i
}

// afeRemove takes entry i out of the list.
func (r *Rewriter) afeRemove(i int) {
	a := &r.afe[i]
	if i == len(r.afe)-1 && a.state == afeOpen && int(r.afeLast[a.tag]) == i+1 {
		// The usual case: the element opened last ends by its end tag.
		// The chain's head goes back to the previous entry of the tag,
		// past those removed from the middle (the Noah's ark clause's),
		// which the trim below may drop.
		p := a.prev
		for p > 0 && r.afe[p-1].state == afeDead {
			p = r.afe[p-1].prev
		}
		r.afeLast[a.tag] = p
		r.afe = r.afe[:i]
		if i > 0 && r.afe[i-1].state == afeDead {
			r.afeTrim()
		}
		return
	}
	if a.state == afeCopy && r.copyOpen(a) {
		r.stack[a.at-1].copies--
	}
	r.afeUnlink(i)
	r.afeTrim()
}

// afeTrim drops the removed entries at the end of the list, and compacts
// it when removed entries are most of it.
func (r *Rewriter) afeTrim() {
	for len(r.afe) > 0 && r.afe[len(r.afe)-1].state == afeDead {
		r.afe = r.afe[:len(r.afe)-1]
		r.afeDead--
	}
	if r.afeDead > 16 && 2*r.afeDead > len(r.afe) {
		r.afeCompact()
	}
}

// afeUnlink marks entry i dead and unchains it when it heads its chain.
func (r *Rewriter) afeUnlink(i int) {
	a := &r.afe[i]
	if a.state == afeDead {
		return
	}
	if a.state != afeMarker && int(r.afeLast[a.tag]) == i+1 {
		r.afeLast[a.tag] = a.prev
	}
	a.state = afeDead
	r.afeDead++
}

// afeCompact drops the removed entries from the list (the Noah's ark
// clause removes them from its middle), so that walks along it pass each
// entry a bounded number of times.
func (r *Rewriter) afeCompact() {
	remap := r.afeRemap[:0]
	n := 0
	for i := range r.afe {
		if trackWork {
			r.work++
		}
		if r.afe[i].state == afeDead {
			remap = append(remap, 0)
			continue
		}
		remap = append(remap, int32(n+1))
		r.afe[n] = r.afe[i]
		n++
	}
	r.afe = r.afe[:n]
	r.afeRemap = remap
	// Chains and markers by the new indexes.
	for t := range r.afeLast[:min(len(r.afeLast), 256)] {
		r.afeLast[t] = 0
	}
	r.afeMarker = 0
	for i := range r.afe {
		a := &r.afe[i]
		if a.state == afeMarker {
			a.prev, r.afeMarker = r.afeMarker, int32(i+1)
			continue
		}
		a.prev, r.afeLast[a.tag] = r.afeLast[a.tag], int32(i+1)
		if a.state == afeOpen {
			r.stack[a.at].afe = int32(i + 1)
		}
	}
	r.afeDead = 0
}

// seqOf returns the number of the element at depth d, numbering it now:
// only the elements copies open on are numbered (an element opened since
// at the same depth has 0, which no copy holds).
func (r *Rewriter) seqOf(d int) uint32 {
	if r.stack[d].seq == 0 {
		r.stack[d].seq = r.seq
		r.seq++
	}
	return r.stack[d].seq
}

// copyOpen reports whether copy a is still open: the element under it has
// not ended.
func (r *Rewriter) copyOpen(a *afeEntry) bool {
	return int(a.at) <= len(r.stack) && r.stack[a.at-1].seq == a.gen
}

// isOpen reports whether entry a is an element or a copy still open.
func (r *Rewriter) isOpen(a *afeEntry) bool {
	return a.state == afeOpen || a.state == afeCopy && r.copyOpen(a)
}

// reconstruct reopens, as copies at the current node, the formatting
// elements after the last marker that are no longer open: browsers do it
// before text and before most inline elements.
func (r *Rewriter) reconstruct() {
	n := len(r.afe)
	if n == 0 {
		return
	}
	if a := &r.afe[n-1]; a.state == afeMarker || r.isOpen(a) {
		return
	}
	i := n - 1
	for steps := 0; i > 0 && steps < maxReopen; steps++ {
		if trackWork {
			r.work++
		}
		a := &r.afe[i-1]
		if a.state == afeMarker || a.state != afeDead && r.isOpen(a) {
			break
		}
		i--
	}
	h := len(r.stack)
	top := &r.stack[h-1]
	for ; i < n; i++ {
		if trackWork {
			r.work++
		}
		if a := &r.afe[i]; a.state != afeDead && a.state != afeMarker {
			a.state, a.at, a.gen = afeCopy, uint16(h), r.seqOf(h-1)
			top.copies++
		}
	}
}

// copyOnTop reports whether the current node, in browsers, is a copy of
// a formatting element (one opened since the last element here).
func (r *Rewriter) copyOnTop() bool {
	return r.stack[len(r.stack)-1].copies > 0
}

// formattingEnd handles the end tag of formatting element id, or the
// start tag of an a or nobr that ends one (explicit is then false): it
// finds the element's latest entry, and runs the adoption agency on it.
// It reports whether the agency ran.
func (r *Rewriter) formattingEnd(id uint16, lt, end int, explicit bool) bool {
	i := r.afeFind(id)
	if i < 0 {
		if explicit {
			// Not in the list: "any other end tag".
			if x := r.last(id); x > 0 && x >= r.nearTop(kSpecial) {
				r.popTo(x, lt, end, true)
			}
		}
		return false
	}
	a := &r.afe[i]
	switch {
	case a.state == afeClosed || a.state == afeCopy && !r.copyOpen(a):
		r.afeRemove(i) // not open: browsers only drop it from the list
		return false
	case a.state == afeOpen:
		f := int(a.at)
		if f < r.nearTop(kScope) {
			return false // not in scope
		}
		r.adopt(i, f, true, lt, end, explicit)
	default: // an open copy, between depths at-1 and at
		if int(a.at) <= r.nearTop(kScope) {
			return false
		}
		r.adopt(i, int(a.at)-1, false, lt, lt, false)
	}
	return true
}

// adopt is the adoption agency for entry i, whose element is at depth f
// (real) or is a copy just above depth f: it ends. When a special element
// was opened in it and is still open (the "furthest block"), browsers move
// that block out of it and go on, up to eight times, from a copy of the
// formatting element they put in the block: each time with the next
// special element above, and when there is none, what is open in the last
// block ends. Here the blocks stay where their tags are; the formatting
// element, and what lies between it and the blocks but formatting
// elements, leave the stack; the copies are noted in the list.
func (r *Rewriter) adopt(i, f int, real bool, lt, end int, explicit bool) {
	budget := maxAdoptWalk
	for n := 0; n < 8; n++ {
		fb := r.furthestBlock(f)
		if fb == 0 {
			if real && n == 0 {
				r.afeRemove(i)
				if explicit {
					r.popTo(f, lt, end, true)
				} else {
					r.popTo(f, lt, lt, false)
				}
				return
			}
			r.closeCopiesAfter(i)
			r.afeRemove(i)
			if f+1 < len(r.stack) {
				r.popTo(f+1, lt, lt, false) // what is open in the last block (or the copy)
			}
			return
		}
		if n == 0 && real {
			r.leave(f)
		}
		// What lies between leaves the stack, but formatting elements
		// near the block; past maxAdoptWalk elements, it stays (a page
		// nested that way is not written by people, and the walk would
		// cost more than the page).
		lo := f + 1 // a copy is above f: all of f+1..fb-1 is in it too
		if budget -= fb - lo; budget >= 0 {
			if r.adoptWalk(i, f, fb) && r.dropCut < 0 {
				r.dropCut = r.base + lt
			}
		} else if r.adoptCut < 0 {
			r.adoptCut = r.base + lt
		}
		// The formatting element's place in the list is now a copy in the
		// block.
		a := &r.afe[i]
		if a.state == afeCopy && r.copyOpen(a) {
			r.stack[a.at-1].copies--
		}
		a.state, a.at, a.gen = afeCopy, uint16(fb+1), r.seqOf(fb)
		r.stack[fb].copies++
		f, real = fb, false
	}
}

// adoptWalk takes out what lies between the formatting element of entry
// i (at depth f, or a copy above it) and the furthest block at depth fb,
// as browsers' inner loop does from the block down: an element leaves the
// stack, but a formatting element in the list among the first three
// (browsers put a copy of it around the block; here it stays open); past
// the third, formatting elements and copies opened there leave the list
// too. It reports whether it took one out that way.
func (r *Rewriter) adoptWalk(i, f, fb int) (dropped bool) {
	// The copies opened between come after entry i in the list: a few
	// at most are looked at.
	var copies [16]int
	nc := 0
	for j := i + 1; j < len(r.afe) && nc < len(copies); j++ {
		if trackWork {
			r.work++
		}
		if a := &r.afe[j]; a.state == afeCopy && int(a.at)-1 >= f && int(a.at)-1 < fb && r.copyOpen(a) {
			copies[nc] = j
			nc++
		}
	}
	count := 0
	for d := fb - 1; d >= f; d-- {
		for x := nc - 1; x >= 0; x-- { // the copies on d, latest first
			if j := copies[x]; int(r.afe[j].at)-1 == d {
				if count++; count > 3 {
					r.stack[d].copies--
					r.afeUnlink(j)
					dropped = true
				}
			}
		}
		if d == f {
			if r.stack[f].gone {
				// The formatting element left: the copies in it stay
				// open (browsers' copies of them hold the block now).
				r.rehomeCopies(copies[:nc], f)
			}
			break
		}
		if trackWork {
			r.work++
		}
		e := &r.stack[d]
		if e.gone {
			continue
		}
		count++
		listed := e.afe != 0 && int(e.afe) <= len(r.afe) && r.afe[e.afe-1].state == afeOpen && int(r.afe[e.afe-1].at) == d
		if listed && count <= 3 {
			continue
		}
		if listed {
			r.afeUnlink(int(e.afe) - 1)
			dropped = true
		}
		r.leave(d)
		r.rehomeCopies(copies[:nc], d)
	}
	return dropped
}

// rehomeCopies moves the copies among copies (indexes in the list) that
// are open on the element at depth d, which left the stack, onto the
// nearest element below it still there. Browsers put their copies of
// them in a chain, from the common ancestor down to the furthest block:
// they stay open after the element is gone, and the elements the block
// holds are still in them. Left on d, they would end when d's entry
// does.
func (r *Rewriter) rehomeCopies(copies []int, d int) {
	if r.stack[d].copies == 0 {
		return
	}
	to := d - 1
	for to > 0 && r.stack[to].gone {
		to--
	}
	for _, j := range copies {
		a := &r.afe[j]
		if a.state != afeCopy || int(a.at)-1 != d || !r.copyOpen(a) {
			continue
		}
		r.stack[d].copies--
		a.at, a.gen = uint16(to+1), r.seqOf(to)
		r.stack[to].copies++
	}
}

// closeCopiesAfter ends the copies opened in copy i, at the same place
// (after it, by the same reconstruction): they end with it.
func (r *Rewriter) closeCopiesAfter(i int) {
	a := &r.afe[i]
	if a.state != afeCopy || !r.copyOpen(a) {
		return
	}
	for j := i + 1; j < len(r.afe); j++ {
		if trackWork {
			r.work++
		}
		b := &r.afe[j]
		if b.state == afeDead {
			continue
		}
		if b.state != afeCopy || b.at != a.at || b.gen != a.gen {
			return
		}
		b.state = afeClosed
		r.stack[b.at-1].copies--
	}
}

// closeCopiesOn ends the copies opened on the element at depth d, the
// current node: what pops to it pops them too.
func (r *Rewriter) closeCopiesOn(d int) {
	e := &r.stack[d]
	for j := len(r.afe) - 1; j >= 0 && e.copies > 0; j-- {
		if trackWork {
			r.work++
		}
		a := &r.afe[j]
		if a.state == afeMarker {
			break
		}
		if a.state == afeCopy && int(a.at) == d+1 && r.copyOpen(a) {
			a.state = afeClosed
			e.copies--
		}
	}
}

// maxAdoptWalk bounds the elements between a formatting element and its
// furthest blocks that adopt takes off the stack, as maxReopen bounds
// what a reconstruction reopens: past it they stay open, where browsers
// close them (rules/SYNTAX.md says so), and each misnested tag costs at
// most this many steps.
const maxAdoptWalk = 64

// furthestBlock returns the depth of the lowest special element above
// depth f still on the stack, or 0. The nearest special element at or
// below a depth (entry.spec, which counts those that left the stack too)
// only grows with it: a binary search finds it.
func (r *Rewriter) furthestBlock(f int) int {
	for {
		lo, hi := f+1, len(r.stack) // the answer is in [lo, hi); hi: none
		for lo < hi {
			if trackWork {
				r.work++
			}
			mid := int(uint(lo+hi) >> 1)
			if int(r.stack[mid].spec) > f {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		if lo == len(r.stack) {
			return 0
		}
		if !r.stack[lo].gone {
			return lo
		}
		f = lo // a special element that left the stack: look above it
	}
}
