package rewrite

import (
	"bytes"
	"cmp"
	"slices"
)

// lists is the state of the list edits (see list.go).
type lists struct {
	// List regions: buf holds the output from the first item on (all
	// regions, nested ones after their enclosing one), in pieces linked
	// from head to tail (see list.go; cut starts a new piece); items and
	// their edits; ids holds the items' ids.
	buf    []byte
	pieces []piece
	// pageSrc: src is the whole page so far, at the page's offsets, and
	// stays readable until the page ends (a Splicer's Rewriter): page
	// bytes are then held as references to it, not copied into buf.
	pageSrc   bool
	head      int32
	tail      int32
	cut       bool
	segs      []struct{ first, last int32 }
	regions   []region
	items     []item
	itemEdits []itemEdit
	ids       []byte
	order     []int32
	kept      []bool
	slots     []slotRef
	picked    []int32
	taken     []bool
	// seenIDs and seenRec carry a list's ids to a SeenLister and its
	// answers back.
	seenIDs []string
	seenRec []int32
	// pend and pendIDs hold the ids shown inside items of lists still
	// open, until those lists keep or hide the items (settleShown).
	pend    []pendShown
	pendIDs []byte
}

// The output held for list edits is a linked list of pieces of buf (the
// bytes are appended to buf and never move): closing a region relinks its
// items' pieces in their new order, so that each byte is copied once,
// however deep regions nest, and written out when the outermost region
// closes.

// piece is buf[lo:hi] (src[lo:hi] when page is set), followed by piece
// next (-1: none).
type piece struct {
	lo, hi, next int32
	page         bool
}

// region collects the output of one parent's children, from its first
// item to its end, for the list edits (Limit, Reorder, HideSeen).
type region struct {
	before    int32 // the piece before its output (-1: none)
	items     int32 // its first item in items
	itemEdits int32 // its first entry in itemEdits
	ids       int32 // its first byte in ids
	// owner is the innermost item still open of the regions around it
	// (an index in items), -1 when none is: the region lives inside it,
	// so it is fixed when the region opens.
	owner int32
}

// item is a matched child in a region: the pieces after piece before, to
// piece last.
type item struct {
	before, last int32 // last is -2 while the item is open
	lo, hi       int32 // its list edits, in itemEdits
	// shown and shownLast are the first and last entries of pend (-1:
	// none) of the ids HideSeen let through inside the item, which are
	// seen only if its list shows it.
	shown, shownLast int32
	// ends is the piece of the end tags its start tag implied (see
	// addItem), -1: none.
	ends int32
}

// hold appends b to the held output.
func (r *Rewriter) hold(b []byte) {
	lo := int32(len(r.buf))
	r.buf = append(r.buf, b...)
	if t := r.tail; !r.cut && t >= 0 && !r.pieces[t].page && r.pieces[t].hi == lo {
		r.pieces[t].hi = int32(len(r.buf))
		return
	}
	r.link(piece{lo: lo, hi: int32(len(r.buf)), next: -1})
}

// holdPage appends src[lo:hi] to the held output, by reference (see
// pageSrc): the bytes are written from the page when the region closes.
func (r *Rewriter) holdPage(lo, hi int) {
	if t := r.tail; !r.cut && t >= 0 && r.pieces[t].page && r.pieces[t].hi == int32(lo) {
		r.pieces[t].hi = int32(hi)
		return
	}
	r.link(piece{lo: int32(lo), hi: int32(hi), next: -1, page: true})
}

// link appends p to the held output's pieces.
func (r *Rewriter) link(p piece) {
	r.pieces = append(r.pieces, p)
	n := int32(len(r.pieces) - 1)
	if r.tail >= 0 {
		r.pieces[r.tail].next = n
	} else {
		r.head = n
	}
	r.tail, r.cut = n, false
}

// writeHeld writes the held output, in its order, and lets it go.
func (r *Rewriter) writeHeld() {
	for p := r.head; p >= 0 && r.err == nil; p = r.pieces[p].next {
		if trackWork {
			r.work += int(r.pieces[p].hi-r.pieces[p].lo) + 1
		}
		b := r.buf
		if r.pieces[p].page {
			b = r.src
		}
		r.raw(b[r.pieces[p].lo:r.pieces[p].hi])
	}
	r.buf, r.pieces, r.head, r.tail, r.cut = r.buf[:0], r.pieces[:0], -1, -1, false
}

// nextOf returns the piece after p (p -1: the first).
func (r *Rewriter) nextOf(p int32) int32 {
	if p < 0 {
		return r.head
	}
	return r.pieces[p].next
}

// itemEdit is a list edit that matched an item, with the item's id.
type itemEdit struct {
	edit       int32
	idLo, idHi int32 // in ids
	hasID      bool
}

// addItem makes the element opened at depth d an item of its parent's
// region, for the list edits among m.
func (r *Rewriter) addItem(d int, m []int32, lt int) {
	p := &r.stack[d-1]
	if p.region == 0 {
		owner := int32(-1)
		if q := len(r.regions) - 1; q >= 0 {
			owner = r.regions[q].owner
			if n := int32(len(r.items)); n > r.regions[q].items && r.items[n-1].last == -2 {
				owner = n - 1
			}
		}
		r.regions = append(r.regions, region{
			before:    r.tail,
			items:     int32(len(r.items)),
			itemEdits: int32(len(r.itemEdits)),
			ids:       int32(len(r.ids)),
			owner:     owner,
		})
		p.region = int32(len(r.regions))
		p.pin |= pinOther
	}
	// The elements its start tag ends as their end tags would (a <p>
	// before a <div>) end there whatever the list edits do: once the
	// item is hidden or moved, what takes its place would go inside
	// them. Their end tags are held on their own, before the item, and
	// dropped if it stays where it is.
	ends := int32(-1)
	if r.impliedAt == r.base+lt && len(r.implied) > 0 {
		r.cut = true
		n := len(r.pieces)
		r.endImplied(lt)
		if r.stopped {
			return
		}
		if len(r.pieces) > n {
			ends = r.tail
		}
	}
	it := item{before: r.tail, last: -2, lo: int32(len(r.itemEdits)), shown: -1, shownLast: -1, ends: ends}
	r.cut = true
	for _, i := range m {
		e := &r.edits[i]
		if !isListOp(e.Op) {
			continue
		}
		ie := itemEdit{edit: i, idLo: int32(len(r.ids))}
		if e.Op != Limit {
			if j := r.findAttrFold(e.Attr); j >= 0 {
				r.ids = append(r.ids, bytes.TrimSpace(r.value(j))...)
				ie.hasID = true
			}
		}
		ie.idHi = int32(len(r.ids))
		r.itemEdits = append(r.itemEdits, ie)
	}
	it.hi = int32(len(r.itemEdits))
	r.items = append(r.items, it)
	r.stack[d].item = int32(len(r.items))
	r.stack[d].pin |= pinOther
}

// closeRegion applies the list edits to the innermost region and writes
// the result where the region's output goes: the enclosing region, or the
// underlying writer.
func (r *Rewriter) closeRegion() {
	reg := r.regions[len(r.regions)-1]
	items := r.items[reg.items:]
	n := len(items)
	for i := range items {
		if items[i].last == -2 {
			items[i].last = r.tail
		}
	}
	// order[s] is the item shown in item s's place; kept[i] whether item
	// i is shown at all.
	order := resize(r.order, n)
	kept := resize(r.kept, n)
	for i := range order {
		order[i] = int32(i)
		kept[i] = true
	}
	// The items' ids, for the SeenSet: read in place, as the SeenSet
	// keeps none (a copy would cost an allocation per list and page).
	ids := bstr(r.ids[reg.ids:])
	id := func(ie *itemEdit) string {
		if !ie.hasID {
			return ""
		}
		return ids[ie.idLo-reg.ids : ie.idHi-reg.ids]
	}
	for ei := range r.edits {
		e := &r.edits[ei]
		if !isListOp(e.Op) || r.badEdit[ei] {
			continue
		}
		// The edit's members, in their current order: slots and the
		// item's entry for this edit.
		slots := r.slots[:0]
		for s, it := range order {
			if !kept[it] {
				continue
			}
			if ie := r.itemEdit(&items[it], ei); ie != nil {
				slots = append(slots, slotRef{slot: int32(s), ie: ie})
			}
		}
		r.slots = slots
		if len(slots) == 0 {
			continue
		}
		want := max(e.N, 0)
		switch e.Op {
		case Limit:
			for _, m := range slots[min(want, len(slots)):] {
				kept[order[m.slot]] = false
				r.applied[ei]++
			}
		case HideSeen:
			if r.seen == nil {
				continue
			}
			r.hideSeen(e, slots, order, kept, id, ei)
		case Reorder:
			// The members named in Order first, in Order's order (an id
			// named twice takes its next member), then the others as
			// they were.
			picked := r.picked[:0]
			taken := resize(r.taken, len(slots))
			if len(e.Order)*len(slots) <= reorderScan {
				for _, want := range e.Order {
					for k, m := range slots {
						if !taken[k] && m.ie.hasID && bstr(r.ids[m.ie.idLo:m.ie.idHi]) == want {
							taken[k] = true
							picked = append(picked, order[m.slot])
							break
						}
					}
				}
			} else {
				// A long Order (it may come from the visitor) over a long
				// list: each id's members in document order, and how many
				// of them Order took, so that the work is linear.
				byID := make(map[string][]int, len(slots))
				for k, m := range slots {
					if m.ie.hasID {
						id := bstr(r.ids[m.ie.idLo:m.ie.idHi])
						byID[id] = append(byID[id], k)
					}
				}
				for _, want := range e.Order {
					if ks := byID[want]; len(ks) > 0 {
						taken[ks[0]] = true
						picked = append(picked, order[slots[ks[0]].slot])
						byID[want] = ks[1:]
					}
				}
			}
			for k, m := range slots {
				if !taken[k] {
					picked = append(picked, order[m.slot])
				}
			}
			for k, m := range slots {
				if order[m.slot] != picked[k] {
					order[m.slot] = picked[k]
					r.applied[ei]++
				}
			}
			r.picked, r.taken = picked, taken
		}
	}
	// The items HideSeen let through are now seen: once every list edit
	// of the parent is done, in the order they are shown, the first
	// MarkFirst of each edit's. Inside an item of an enclosing list, they
	// are seen once that list keeps the item: they wait until it closes.
	if r.seen != nil {
		owner := reg.owner
		for ei := range r.edits {
			e := &r.edits[ei]
			if e.Op != HideSeen || r.badEdit[ei] || e.NoMark {
				continue
			}
			shown := r.seenIDs[:0]
			for _, it := range order {
				if e.MarkFirst > 0 && len(shown) >= e.MarkFirst {
					break
				}
				if !kept[it] {
					continue
				}
				if ie := r.itemEdit(&items[it], ei); ie != nil && ie.hasID && len(id(ie)) > 0 {
					shown = append(shown, id(ie))
				}
			}
			if owner >= 0 {
				r.deferShown(owner, shown)
			} else {
				r.recordShown(shown)
			}
			clear(shown)
			r.seenIDs = shown[:0]
		}
		r.settleShown(items, order, kept, owner)
	}
	// Each item's place gets the item shown there; what lies between
	// items stays.
	if trackWork {
		r.work += 2*n + 1 + n*len(r.edits)
	}
	// Each item's place gets the item shown there; what lies between
	// items stays. The region's pieces are relinked in that order: its
	// segments (gap 0, item 0, gap 1, ..., gap n) are read first, as
	// (first, last) pieces, before any link changes.
	type seg struct{ first, last int32 }
	segs := r.segs[:0]
	after := reg.before
	for i := range items {
		segs = append(segs, r.segment(after, items[i].before))
		segs = append(segs, r.segment(items[i].before, items[i].last))
		after = items[i].last
	}
	segs = append(segs, r.segment(after, r.tail))
	r.segs = segs
	last := reg.before
	link := func(g seg) {
		if g.first < 0 {
			return
		}
		if last >= 0 {
			r.pieces[last].next = g.first
		} else {
			r.head = g.first
		}
		last = g.last
	}
	for s := 0; s < n; s++ {
		if e := items[s].ends; e >= 0 && order[s] == int32(s) && kept[s] {
			r.pieces[e].hi = r.pieces[e].lo
		}
		link(seg(segs[2*s]))
		if it := order[s]; kept[it] {
			link(seg(segs[2*it+1]))
		}
	}
	link(seg(segs[2*n]))
	if last >= 0 {
		r.pieces[last].next = -1
	} else {
		r.head = -1
	}
	r.tail, r.cut = last, true
	r.order, r.kept = order, kept

	r.items = r.items[:reg.items]
	r.itemEdits = r.itemEdits[:reg.itemEdits]
	r.ids = r.ids[:reg.ids]
	r.regions = r.regions[:len(r.regions)-1]
	if len(r.regions) == 0 {
		r.writeHeld()
		r.pend, r.pendIDs = r.pend[:0], r.pendIDs[:0]
	}
}

// pendShown is an id a HideSeen let through inside an item of an
// enclosing list, pendIDs[lo:hi], and the next of its item's (-1: none).
type pendShown struct {
	lo, hi, next int32
}

// recordShown tells the SeenSet that ids were shown.
func (r *Rewriter) recordShown(ids []string) {
	if len(ids) == 0 {
		return
	}
	if l, ok := r.seen.(SeenLister); ok {
		l.ShownAll(ids)
	} else {
		for _, x := range ids {
			r.seen.Shown(x)
		}
	}
}

// deferShown keeps ids, shown inside item owner, until its list closes.
func (r *Rewriter) deferShown(owner int32, ids []string) {
	it := &r.items[owner]
	if trackWork {
		r.work += len(ids)
	}
	for _, id := range ids {
		lo := int32(len(r.pendIDs))
		r.pendIDs = append(r.pendIDs, id...)
		r.pend = append(r.pend, pendShown{lo: lo, hi: int32(len(r.pendIDs)), next: -1})
		n := int32(len(r.pend) - 1)
		if it.shownLast >= 0 {
			r.pend[it.shownLast].next = n
		} else {
			it.shown = n
		}
		it.shownLast = n
	}
}

// settleShown settles the ids waiting in items, those of the list that
// closes: the ids of the items it keeps are shown, in the order the
// items are, and wait for the enclosing list's item owner when there is
// one (-1: recorded now); those of the items it hides were not shown.
// Each item's ids are linked, so an id moves out of a list in one step
// however deep lists nest.
func (r *Rewriter) settleShown(items []item, order []int32, kept []bool, owner int32) {
	first, last := int32(-1), int32(-1)
	for _, it := range order {
		if x := &items[it]; kept[it] && x.shown >= 0 {
			if last >= 0 {
				r.pend[last].next = x.shown
			} else {
				first = x.shown
			}
			last = x.shownLast
		}
	}
	if trackWork {
		r.work += len(order) + 1
	}
	if first < 0 {
		return
	}
	if owner >= 0 {
		o := &r.items[owner]
		if o.shownLast >= 0 {
			r.pend[o.shownLast].next = first
		} else {
			o.shown = first
		}
		o.shownLast = last
		return
	}
	shown := r.seenIDs[:0]
	for p := first; p >= 0; p = r.pend[p].next {
		shown = append(shown, bstr(r.pendIDs[r.pend[p].lo:r.pend[p].hi]))
	}
	if trackWork {
		r.work += len(shown)
	}
	r.recordShown(shown)
	clear(shown)
	r.seenIDs = shown[:0]
}

// flushShown records the ids still waiting, in the items of the lists
// still open: the list edits around them will not apply (the rewrite
// stops), so their items are shown.
func (r *Rewriter) flushShown() {
	if r.seen != nil && len(r.pend) > 0 {
		var ids []string
		for i := range r.items {
			for p := r.items[i].shown; p >= 0; p = r.pend[p].next {
				ids = append(ids, string(r.pendIDs[r.pend[p].lo:r.pend[p].hi]))
			}
		}
		r.recordShown(ids)
	}
	r.pend, r.pendIDs = r.pend[:0], r.pendIDs[:0]
}

// segment returns the pieces after piece after, to piece last, as
// (first, last), or (-1, -1) when there are none.
func (r *Rewriter) segment(after, last int32) struct{ first, last int32 } {
	if after == last {
		return struct{ first, last int32 }{-1, -1}
	}
	return struct{ first, last int32 }{r.nextOf(after), last}
}

// slotRef is a member of a list edit: its slot and its entry.
type slotRef struct {
	slot int32
	// recency is the item's SeenSet.Recency (HideSeen); 0 without an id.
	recency int32
	// item is the item in the slot before a Demote moves it.
	item int32
	ie   *itemEdit
}

// hideSeen applies HideSeen edit e (index ei) to its members, slots, in
// their current order: it hides the seen ones, keeping at least e.N and
// bringing back the least recently seen first, or with e.Demote moves
// them after the others, least recently seen first.
func (r *Rewriter) hideSeen(e *Edit, slots []slotRef, order []int32, kept []bool, id func(*itemEdit) string, ei int) {
	if l, ok := r.seen.(SeenLister); ok {
		// Asked in one call, in the members' order, as one by one.
		ids := r.seenIDs[:0]
		for k := range slots {
			if slots[k].ie.hasID {
				ids = append(ids, id(slots[k].ie))
			}
		}
		rec := resize(r.seenRec, len(ids))
		l.Recencies(ids, rec)
		j := 0
		for k := range slots {
			if slots[k].ie.hasID {
				slots[k].recency = rec[j]
				j++
			}
		}
		clear(ids) // (the ids are the page's bytes: not kept past the list)
		r.seenIDs, r.seenRec = ids[:0], rec
	} else {
		for k := range slots {
			if m := &slots[k]; m.ie.hasID {
				m.recency = int32(r.seen.Recency(id(m.ie)))
			}
		}
	}
	seen := 0
	for k := range slots {
		if slots[k].recency > 0 {
			seen++
		}
	}
	if seen == 0 {
		return
	}
	// byAge lists the seen members, least recently seen first, of equal
	// recency in their current order. Their order decides what the list
	// shows when they are demoted, or when some come back: the set then
	// ranks them more finely.
	byAge := r.picked[:0]
	refine := e.Demote || len(slots)-seen < max(e.N, 0)
	for k := range slots {
		if slots[k].recency > 0 {
			if refine {
				slots[k].recency = seenRank(r.seen, id(slots[k].ie), slots[k].recency)
			}
			byAge = append(byAge, int32(k))
		}
	}
	slices.SortStableFunc(byAge, func(a, b int32) int { return cmp.Compare(slots[a].recency, slots[b].recency) })
	r.picked = byAge
	if e.Demote {
		// The unseen members in their order, then the seen ones by age,
		// in the members' slots.
		for k := range slots {
			slots[k].item = order[slots[k].slot]
		}
		j := 0
		place := func(it int32) {
			if s := slots[j].slot; order[s] != it {
				order[s] = it
				r.applied[ei]++
			}
			j++
		}
		for k := range slots {
			if slots[k].recency == 0 {
				place(slots[k].item)
			}
		}
		for _, k := range byAge {
			place(slots[k].item)
		}
		return
	}
	visible := len(slots) - seen
	want := max(e.N, 0)
	for _, k := range byAge {
		if visible >= want {
			break
		}
		slots[k].recency = 0 // brought back
		visible++
	}
	for _, m := range slots {
		if m.recency > 0 {
			kept[order[m.slot]] = false
			r.applied[ei]++
		}
	}
}

// itemEdit returns the item's entry for edit ei, or nil.
func (r *Rewriter) itemEdit(it *item, ei int) *itemEdit {
	for k := it.lo; k < it.hi; k++ {
		if int(r.itemEdits[k].edit) == ei {
			return &r.itemEdits[k]
		}
	}
	return nil
}

// AppliedCount is Applied()[i] without a copy, for a caller that watches
// an edit while the page streams: how many elements edit i changed so
// far. It is 0 for an index out of range.
func (r *Rewriter) AppliedCount(i int) int {
	if i < 0 || i >= len(r.applied) {
		return 0
	}
	return r.applied[i]
}

// reorderScan bounds the Order ids times list members that Reorder
// matches by scanning, which allocates nothing; past it, a map of the
// members by id keeps the work linear.
var reorderScan = 1 << 12
