// Package rewrite is bespoke's streaming HTML rewriter. A Program holds a
// plugin's selectors, compiled once; for each response, NewRewriter
// returns an io.Writer that applies the request's edits to the HTML
// written to it and writes the result on.
//
// # Streaming
//
// The rewriter tokenizes the page without building a tree. It keeps the
// stack of open elements, with the end tags real-world HTML leaves
// implied (a <p> or a block closes an open p, <li> closes an open li, and
// so on for dd/dt, option, tr/td/th and table sections; an end tag closes
// the nearest matching open element and everything above it; an end tag
// with no matching open element is ignored), and matches selectors at each
// start tag from the element's ancestors and its position among its
// siblings. Bytes that no edit touches are written on as soon as they are
// known not to be part of something being rewritten; text is never held
// back. A tag, comment or attribute split across Write calls at any byte
// is handled. The page is otherwise left as it came: entities, case,
// quoting, whitespace, a byte order mark and invalid UTF-8 pass through
// untouched, and a page no edit matches comes out byte for byte as it went
// in, malformed or not.
//
// Raw text is scanned as browsers do: <script> (with its <!-- escapes),
// <style>, <xmp>, <iframe>, <noembed>, <noframes> and <noscript> content,
// and <textarea> and <title> content, is text up to the matching end tag;
// after <plaintext> everything is text. Comments (<!-- -->, and the bogus
// <? >, <! > and </ > kinds), <!DOCTYPE> and CDATA sections (in svg and
// math) are passed through. Void elements (img, br, input, ...) have no
// content; <div/> is an ordinary start tag, as in HTML, except in svg and
// math content, where it closes the element.
//
// # Edits and conflicts
//
// Edits are applied in priority order: an earlier edit wins. For one
// element:
//
//   - At most one of SetInner, Replace, Remove and RemoveKeepContent
//     applies: the first in edit order that applies to the element
//     (SetInner does not apply to a void element). Later ones are skipped.
//   - SetAttr and RemoveAttr of the same attribute name: the first wins.
//   - AddClass and RemoveClass all apply, in edit order, as do InsertBefore,
//     InsertAfter, Prepend and Append: several contents are inserted in
//     edit order.
//   - Replace and Remove take the element away: its attribute edits,
//     Prepend and Append do not apply; InsertBefore and InsertAfter still
//     insert around where it was. RemoveKeepContent drops the tags, so the
//     attribute edits do not apply. SetInner keeps the tags: attribute edits
//     apply, and Prepend and Append insert before and after the new
//     content.
//   - On a void element, SetInner, Prepend and Append do nothing, and
//     InsertAfter inserts right after its tag.
//   - Nothing applies inside content that is dropped or replaced (by
//     SetInner, Replace or Remove): such elements are not even matched.
//
// Limit, Reorder and HideSeen work on the matched children of one parent
// (the items): the rewriter holds the output from the first item to the
// parent's end, then writes the kept items in their new order. What lies
// between items (whitespace, other elements) stays in place; an item
// carries its InsertBefore and InsertAfter content with it. Several list
// edits on the same children compose in edit order: a later one sees the
// items an earlier one kept. HideSeen reports the items it finally let
// through (after every list edit of the parent, in the order shown; the
// first MarkFirst of them, or none with NoMark) to SeenSet.Shown.
//
// # Memory
//
// A rewrite holds at most Options.MaxBuffer bytes: a tag split across
// Write calls, waiting for its end; the output held for list edits; the
// stack of open elements. (Comments, script and other raw text stream
// through and are never held whole.) When a rewrite would hold more, the
// rewriter stops rewriting, gracefully: it writes what it holds as it is
// (edits already applied stay applied; the pending list edits are not
// applied), and from then on copies the page through unchanged, so the
// visitor gets a page that is at worst partly personalized, never a
// truncated one. A page with more than a thousand distinct unknown tag
// names stops rewriting the same way. Applied tells what was done.
package rewrite

import (
	"io"
	"sync"
)

// Op is what an edit does to the elements its selector matches.
type Op uint8

// The operations. The zero Op does nothing.
const (
	// SetInner replaces the element's content with Content.
	SetInner Op = iota + 1
	// Replace replaces the whole element with Content.
	Replace
	// Remove removes the element and its content.
	Remove
	// RemoveKeepContent removes the element's start and end tags and keeps
	// its content.
	RemoveKeepContent
	// InsertBefore inserts Content before the element's start tag.
	InsertBefore
	// InsertAfter inserts Content after the element's end (after its tag,
	// for a void element).
	InsertAfter
	// Prepend inserts Content right after the start tag.
	Prepend
	// Append inserts Content right before the end tag (where the element
	// ends, when its end tag is implied).
	Append
	// SetAttr sets attribute Attr to Value, adding it when absent.
	SetAttr
	// RemoveAttr removes attribute Attr.
	RemoveAttr
	// AddClass adds class Attr to the class attribute, unless present.
	AddClass
	// RemoveClass removes class Attr from the class attribute.
	RemoveClass
	// Limit keeps only the first N matched elements among the children of
	// one parent, and removes the rest.
	Limit
	// Reorder moves, among the matched children of one parent, those whose
	// id (the value of attribute Attr) is in Order to the front, in Order's
	// order; the others follow in document order.
	Reorder
	// HideSeen removes the matched elements whose id (attribute Attr) the
	// SeenSet reports seen, but keeps at least N of the matched children of
	// one parent: when hiding would leave fewer than N, the hidden ones
	// seen least recently stay (of equal recency, the earliest in document
	// order). With Demote it hides none: the seen ones move after the
	// others, least recently seen first. Items without an id are never
	// seen.
	HideSeen
)

var opNames = [...]string{
	SetInner: "set_inner", Replace: "replace", Remove: "remove", RemoveKeepContent: "remove_keep_content",
	InsertBefore: "insert_before", InsertAfter: "insert_after", Prepend: "prepend", Append: "append",
	SetAttr: "set_attr", RemoveAttr: "remove_attr", AddClass: "add_class", RemoveClass: "remove_class",
	Limit: "limit", Reorder: "reorder", HideSeen: "hide_seen",
}

// String returns the op's name in snake case, as in "set_inner".
func (op Op) String() string {
	if int(op) < len(opNames) && opNames[op] != "" {
		return opNames[op]
	}
	return "op(" + itoa(int(op)) + ")"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// Edit is one change to the page.
type Edit struct {
	// Selector is the index of the edit's selector in the Program. An
	// index out of range matches nothing.
	Selector int
	Op       Op
	// Content is the HTML that SetInner, Replace, InsertBefore,
	// InsertAfter, Prepend and Append insert, written as it is: the caller
	// has escaped what must be. nil inserts nothing.
	Content []byte
	// Attr is the attribute name for SetAttr and RemoveAttr, the class for
	// AddClass and RemoveClass, and the attribute holding an item's id for
	// Reorder and HideSeen (such as "data-item-id"). A name or class the
	// HTML syntax cannot hold (with spaces, quotes, '=', '<', '>' or '/')
	// makes the edit do nothing.
	Attr string
	// Value is SetAttr's new value, raw: the rewriter escapes it.
	Value string
	// Interpolated says Value or Content holds values of the request
	// (the visitor's). Such values are never written where they would be
	// or choose code the page runs: the text of a <script> or <style>
	// (SetInner, Prepend, Append), the src or href of a script, link or
	// base element, the content of a <meta http-equiv>; the edit does
	// not apply there. False means the edit is the rule author's text.
	Interpolated bool
	// N is how many items Limit keeps, and how many HideSeen keeps at
	// least. Negative is 0.
	N int
	// Order is Reorder's ids, in the wanted order.
	Order []string
	// Demote makes HideSeen move the seen items after the others instead
	// of hiding them.
	Demote bool
	// MarkFirst, when positive, is how many of the items HideSeen lets
	// through are recorded as shown, from the first shown; 0 records all.
	// NoMark records none.
	MarkFirst int
	NoMark    bool
}

// SeenSet answers and records "already seen" items for one visitor (a
// bloom filter in the host). A nil SeenSet in Options means nothing is
// seen and nothing is recorded.
type SeenSet interface {
	// Recency reports whether and how recently the visitor was shown the
	// item: 0 for never, higher for more recently. Items of equal
	// recency are equally recent as far as the set knows.
	Recency(id string) int
	// Shown is called for every item a HideSeen edit let through and
	// records (see Edit.MarkFirst), so that the caller can mark it seen.
	// It may keep id.
	Shown(id string)
}

// DefaultMaxBuffer is the memory bound of a rewrite when Options.MaxBuffer
// is 0.
const DefaultMaxBuffer = 1 << 20

// Options configure one rewrite. The zero Options are usable.
type Options struct {
	// MaxBuffer bounds the bytes a rewrite holds: an unfinished tag, the
	// output held for list edits, and the open elements. 0 or less means
	// DefaultMaxBuffer. See the package documentation for what happens
	// when a page needs more.
	MaxBuffer int
	// Seen is the visitor's seen-set, for HideSeen; nil means nothing is
	// seen and nothing is recorded.
	Seen SeenSet
}

// Scanner states.
const (
	stData      uint8 = iota
	stRawText         // up to </rawName
	stScript          // script data, with escapes (scriptEsc)
	stComment         // inside <!-- ... -->
	stPlaintext       // text to the end
)

// Rewriter rewrites one page. It is not safe for concurrent use. Get one
// from Program.NewRewriter, write the page to it, Close it, then Release
// it.
type Rewriter struct {
	prog  *Program
	w     io.Writer
	edits []Edit
	seen  SeenSet
	max   int
	err   error

	// stopped: rewriting has given up (or there is nothing to do) and the
	// rest is copied through.
	stopped bool
	applied []int

	// src is the input being scanned; src[:mark] has been written or
	// dropped. pending is an unfinished construct carried to the next
	// Write.
	src     []byte
	mark    int
	pending []byte

	state     uint8
	scriptEsc uint8  // script data: 0, escaped (after <!--), 2 double escaped
	rawName   string // the end tag name that ends raw text

	// The tree: stack[0] is the document. An element's matched
	// compounds are a bit set of words uint64s: the first in its entry,
	// the others (past 64 active compounds) in bits, words-1 per entry.
	stack      []entry
	bits       []uint64
	words      int
	typeCounts []typeCount
	// skip is the depth of the element whose content is being dropped,
	// or -1.
	skip int
	// nOpen counts the open p, a and button elements; nMatch counts, per
	// compound bit, the open elements that match it.
	nOpen  [numOpen]int32
	nMatch []int32
	// openMask has the bits (of the first 64) whose nMatch is not 0, and
	// rightNeed, per bit of a last compound, the bits that every
	// alternative ending with it needs matched by an open element: an
	// element whose last compounds' needs are not all open cannot be
	// selected, and apply, which would find that out, is not called
	// (a page has many a elements, and "#menu a" names few).
	openMask  uint64
	rightNeed [64]uint64
	// rightOnly has the bits (of the first 64) of the compounds that are
	// the last of some selector and never an ancestor in one: once their
	// selectors cannot match, nothing reads them (see dead).
	rightOnly uint64
	ancMask   uint64 // the bits of the compounds that are an ancestor in a selector
	// names interns the page's tag names no table knows; kept across
	// pages (within limits) so that custom elements cost nothing after the
	// first page.
	names map[string]uint16

	// What the edits need. local maps a program compound to its bit, or
	// -1; active lists the compounds to evaluate, in index order;
	// rightMask has the bits of the edits' selectors' last compounds.
	local   []int32
	active  []int32
	activeC []*ccompound
	// With dispatch, anyTag lists the active compounds (by bit) for any
	// element, and tagged those for one tag, grouped by tag, the group of
	// tag t starting at tagged[tagFirst[t]-1].
	dispatch bool
	anyTag   []anyCompound
	// anyFor tells, by what the element has (needID, needClass), whether
	// some compound of anyTag that is not dead may match it: most
	// elements have neither id nor class, and most compounds for any
	// element ask for one. tagLive tells, by tag, whether a compound of
	// tagged that is not dead is for it.
	anyFor    [4]bool
	tagLive   [256]bool
	tagged    []int32
	tagFirst  [256]int32
	rightMask []uint64
	// selRight has, per selector, the bits (of the first 64) of its
	// alternatives' last compounds.
	selRight []uint64
	// selEpoch and selMatch cache, per selector, whether it matches the
	// element being opened (valid when selEpoch equals epoch).
	selEpoch []uint32
	selMatch []bool
	epoch    uint32
	// badEdit marks edits whose Attr the HTML syntax cannot hold.
	badEdit []bool

	// The start tag being handled; tag is set only while it is matched.
	tag     []byte
	nameEnd int
	tagFacts
	attrs      []attr
	attrsRead  bool
	childPos   int
	typePos    int
	contentBuf []byte // scratch for rewritten tags and decoded values

	// End-of-element work: acts (indexed by entry.act-1), with edit
	// indexes in actEdits; both grow and shrink with the stack.
	acts     []action
	actEdits []int32

	// List regions: buf holds the output from the first item on (all
	// regions, nested ones after their enclosing one); items and their
	// edits; ids holds the items' ids.
	buf       []byte
	regions   []region
	items     []item
	itemEdits []itemEdit
	ids       []byte
	tmp       []byte
	order     []int32
	kept      []bool
	slots     []slotRef
	picked    []int32
	taken     []bool

	// Scratch for one start tag.
	needNth  bool // some active compound counts siblings
	needType bool // some active compound counts siblings by type
	matched  []int32
	winners  []int32
	doneBuf  []bool
	tmpTag   []byte
	classBuf []byte
}

// anyCompound is an active compound for any element, with what it
// needs the element to have, so that the matcher can pass it by without
// reading it.
type anyCompound struct {
	c    *ccompound
	bit  int32
	need uint8 // needID, needClass
}

const (
	needID uint8 = 1 << iota
	needClass
)

// entry is an open element.
type entry struct {
	tag      uint16
	ns       uint8  // nsHTML, nsSVG, nsMath
	eflags   uint8  // eSpecial, eScope, eIntegration: what the element is for the tree builder
	matched  bool   // it matched some compound
	open     uint8  // 1 + its counter in Rewriter.nOpen, or 0
	bits     uint64 // the first 64 active compounds it matched (more in Rewriter.bits)
	children int32  // element children so far, for :nth-child
	types    int32  // where its children's per-type counts start in typeCounts
	act      int32  // 1 + index in acts; 0: nothing to do at its end
	region   int32  // 1 + index in regions: the region holding its children
	item     int32  // 1 + index in items: it is an item of its parent's region
}

const entrySize = 40 // bytes an entry costs, for the memory bound

const (
	nsHTML uint8 = iota
	nsSVG
	nsMath
)

const (
	eSpecial uint8 = 1 << iota
	eScope
	eTableScope
	eIntegration
)

type typeCount struct {
	tag   uint16
	count int32
}

// attr is an attribute of the start tag being handled, by offsets in it.
type attr struct {
	nameLo, nameHi int32
	valLo, valHi   int32 // the raw value, without quotes; valLo < 0: no value
	end            int32 // just after the attribute
}

// action is what happens when an element ends.
type action struct {
	content          Op // SetInner, Replace, Remove, RemoveKeepContent, or 0
	appendLo, apHi   int32
	afterLo, afterHi int32
}

var pool = sync.Pool{New: func() any { return new(Rewriter) }}

// maxNames bounds the distinct unknown tag names a rewriter interns.
const maxNames = 1024

// NewRewriter returns a writer that rewrites the HTML written to it and
// writes the result to w. Edits are given in priority order (see the
// package documentation); the rewriter reads them, and the SeenSet, until
// it is closed. Only the selectors the edits use are matched.
func (p *Program) NewRewriter(w io.Writer, edits []Edit, opt Options) *Rewriter {
	r := pool.Get().(*Rewriter)
	r.prog, r.w, r.edits, r.seen = p, w, edits, opt.Seen
	r.max = opt.MaxBuffer
	if r.max <= 0 {
		r.max = DefaultMaxBuffer
	}
	r.err = nil
	r.stopped = false
	r.applied = resize(r.applied, len(edits))
	r.src, r.mark, r.pending = nil, 0, r.pending[:0]
	r.state, r.scriptEsc, r.rawName = stData, 0, ""
	r.skip = -1
	r.acts, r.actEdits = r.acts[:0], r.actEdits[:0]
	r.buf, r.regions, r.items, r.itemEdits, r.ids = r.buf[:0], r.regions[:0], r.items[:0], r.itemEdits[:0], r.ids[:0]
	r.typeCounts = r.typeCounts[:0]
	if r.names == nil || len(r.names) > maxNames/2 {
		r.names = map[string]uint16{}
	}

	// The compounds the edits' selectors need, in index order.
	r.local = resize(r.local, len(p.comps))
	for i := range r.local {
		r.local[i] = -1
	}
	r.active = r.active[:0]
	r.selEpoch = resize(r.selEpoch, len(p.sels))
	r.selMatch = resize(r.selMatch, len(p.sels))
	r.epoch = 0
	r.badEdit = resize(r.badEdit, len(edits))
	for i := range edits {
		e := &edits[i]
		if e.Selector < 0 || e.Selector >= len(p.sels) || e.Op == 0 || e.Op > HideSeen {
			r.badEdit[i] = true
			continue
		}
		switch e.Op {
		case SetAttr, RemoveAttr, AddClass, RemoveClass, Reorder, HideSeen:
			r.badEdit[i] = !validName(e.Attr)
		}
		if r.badEdit[i] {
			continue
		}
		for _, k := range p.sels[e.Selector].comps {
			if r.local[k] < 0 {
				r.local[k] = 0
				r.active = append(r.active, k)
			}
		}
	}
	sortInt32(r.active)
	r.activeC = r.activeC[:0]
	for i, k := range r.active {
		r.local[k] = int32(i)
		r.activeC = append(r.activeC, &p.comps[k])
	}
	r.needNth, r.needType = false, false
	for _, k := range r.active {
		for _, n := range p.comps[k].nth {
			r.needNth = true
			r.needType = r.needType || n.ofType
		}
	}
	// Without :not(), compounds can be evaluated in any order: index them
	// by tag, so that an element only meets the compounds it may match.
	r.dispatch = true
	r.anyTag, r.tagged = r.anyTag[:0], r.tagged[:0]
	clear(r.tagFirst[:])
	for i, c := range r.activeC {
		switch {
		case len(c.not) > 0 || int(c.tag) >= len(r.tagFirst):
			r.dispatch = false
		case c.tag == 0:
			var need uint8
			if c.ids != nil {
				need |= needID
			}
			if c.classes != nil {
				need |= needClass
			}
			r.anyTag = append(r.anyTag, anyCompound{c: c, bit: int32(i), need: need})
		default:
			r.tagged = append(r.tagged, int32(i))
		}
	}
	if r.dispatch {
		t := r.tagged
		for i := 1; i < len(t); i++ { // by tag, few
			for j := i; j > 0 && r.activeC[t[j]].tag < r.activeC[t[j-1]].tag; j-- {
				t[j], t[j-1] = t[j-1], t[j]
			}
		}
		for j := len(t) - 1; j >= 0; j-- {
			r.tagFirst[r.activeC[t[j]].tag] = int32(j + 1)
		}
	}
	r.words = (len(r.active) + 63) / 64
	if r.words == 0 {
		r.words = 1
	}
	r.rightMask = resize(r.rightMask, r.words)
	r.nMatch = resize(r.nMatch, r.words*64)
	r.nOpen = [numOpen]int32{}
	r.selRight = resize(r.selRight, len(p.sels))
	r.openMask = 0
	for i := range r.rightNeed {
		r.rightNeed[i] = ^uint64(0)
	}
	var anc uint64
	for i := range r.edits {
		if r.badEdit[i] {
			continue
		}
		s := edits[i].Selector
		for _, alt := range p.sels[s].alts {
			b := r.local[alt.comps[len(alt.comps)-1]]
			r.rightMask[b>>6] |= 1 << (b & 63)
			if b < 64 {
				r.selRight[s] |= 1 << b
				var need uint64
				for _, k := range alt.comps[:len(alt.comps)-1] {
					if l := r.local[k]; l < 64 {
						need |= 1 << l
					}
				}
				r.rightNeed[b] &= need
			}
			for _, k := range alt.comps[:len(alt.comps)-1] {
				if l := r.local[k]; l < 64 {
					anc |= 1 << l
				}
			}
		}
	}
	r.rightOnly, r.ancMask = r.rightMask[0]&^anc, anc
	r.live()
	r.stack = append(r.stack[:0], entry{eflags: eScope | eTableScope})
	r.bits = resize(r.bits, r.words-1)
	if len(r.active) == 0 {
		r.stopped = true // no edit can apply: copy through
	}
	return r
}

// validName reports whether s can be written as an attribute name or a
// class without breaking the tag.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\r', '\f', '"', '\'', '=', '<', '>', '/', '`', 0:
			return false
		}
	}
	return true
}

// resize returns s with length n, zeroed, reusing its array when it can.
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}

func sortInt32(s []int32) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// Applied returns, per edit index, how many elements the edit changed:
// for Limit and HideSeen the items removed, for Reorder the items that
// changed place, for AddClass, RemoveClass and RemoveAttr the elements
// whose attribute changed, for the others the elements it applied to
// (counted when applied: an element inside a list item that a list edit
// later removes still counts). The slice is the caller's, valid after
// Release; call Applied after Close for the whole page.
func (r *Rewriter) Applied() []int {
	return append([]int(nil), r.applied...)
}

// Release returns r's buffers to a pool. r must not be used after.
func (r *Rewriter) Release() {
	r.prog, r.w, r.edits, r.seen, r.src = nil, nil, nil, nil, nil
	clear(r.activeC)
	r.tag = nil
	if cap(r.buf) > 4*DefaultMaxBuffer || cap(r.pending) > 4*DefaultMaxBuffer || cap(r.stack) > 1<<16 {
		return // do not keep what one huge page grew
	}
	pool.Put(r)
}

// Write rewrites p and writes what is ready to the underlying writer. It
// returns len(p), or the underlying writer's error.
func (r *Rewriter) Write(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n := len(p)
	if r.stopped && len(r.pending) == 0 {
		r.raw(p)
		if r.err != nil {
			return 0, r.err
		}
		return n, nil
	}
	// An unfinished construct: add to it, in steps that double, until it
	// is finished (and the rest of p can be scanned where it is).
	for len(r.pending) > 0 && len(p) > 0 {
		k := min(max(len(r.pending), 512), len(p))
		r.pending = append(r.pending, p[:k]...)
		p = p[k:]
		r.run(r.pending, false)
	}
	if len(p) > 0 {
		r.run(p, false)
	}
	if r.err != nil {
		return 0, r.err
	}
	return n, nil
}

// Stop gives up rewriting, as when the memory bound is reached: what the
// rewrite holds is written as it is (edits already applied stay applied,
// pending list edits are not applied) and from then on Write copies the
// page through unchanged. A caller uses it to bound the bytes it
// rewrites. It returns the underlying writer's error.
func (r *Rewriter) Stop() error {
	if r.stopped {
		return r.err
	}
	r.stop()
	r.raw(r.pending)
	r.pending = r.pending[:0]
	return r.err
}

// Close finishes the page: an unfinished construct is written as it came,
// open elements end (their Append and InsertAfter content is written, and
// list edits are applied). It does not close the underlying writer.
func (r *Rewriter) Close() error {
	if r.err != nil {
		return r.err
	}
	if len(r.pending) > 0 {
		r.run(r.pending, true)
	}
	if !r.stopped {
		r.src, r.mark = nil, 0
		r.popTo(1, 0, 0, false)
		if !r.stopped && r.stack[0].region != 0 {
			r.closeRegion()
		}
	}
	r.stopped = true
	return r.err
}

// run scans src; what is unfinished at its end is kept in pending.
func (r *Rewriter) run(src []byte, final bool) {
	r.src, r.mark = src, 0
	keep := len(src)
	if !r.stopped {
		keep = r.scan(final)
	}
	if r.stopped {
		r.raw(src[r.mark:])
		r.pending = r.pending[:0]
		r.src = nil
		return
	}
	r.pass(keep)
	tail := src[keep:]
	if len(r.pending) > 0 && len(tail) > 0 && &tail[len(tail)-1] == &r.pending[len(r.pending)-1] {
		r.pending = r.pending[:copy(r.pending, tail)]
	} else {
		r.pending = append(r.pending[:0], tail...)
	}
	r.src = nil
	if r.held() > r.max {
		r.stop()
		r.raw(r.pending)
		r.pending = r.pending[:0]
	}
}

// held returns the bytes the rewrite holds, for the memory bound.
func (r *Rewriter) held() int {
	return len(r.pending) + len(r.buf) + len(r.ids) + len(r.stack)*entrySize + len(r.items)*32
}

// raw writes b to the underlying writer as it is.
func (r *Rewriter) raw(b []byte) {
	if len(b) == 0 || r.err != nil {
		return
	}
	_, r.err = r.w.Write(b)
}

// out writes output: nowhere while content is dropped, to the region
// buffer while list edits collect, else to the underlying writer.
func (r *Rewriter) out(b []byte) {
	switch {
	case len(b) == 0 || r.skip >= 0 || r.stopped:
	case len(r.regions) > 0:
		r.buf = append(r.buf, b...)
		if r.held() > r.max {
			r.stop()
		}
	default:
		r.raw(b)
	}
}

// pass writes the input up to to.
func (r *Rewriter) pass(to int) {
	if r.stopped || to <= r.mark {
		return
	}
	r.out(r.src[r.mark:to])
	r.mark = to
}

// drop skips the input up to to.
func (r *Rewriter) drop(to int) {
	if !r.stopped && to > r.mark {
		r.mark = to
	}
}

// put writes the content of edit i and counts it applied.
func (r *Rewriter) put(i int32) {
	if r.stopped {
		return
	}
	r.out(r.edits[i].Content)
	r.applied[i]++
}

// stop gives up rewriting: the output held for list edits is written as it
// is, and the rest of the page is copied through.
func (r *Rewriter) stop() {
	if r.stopped {
		return
	}
	if len(r.regions) > 0 {
		r.raw(r.buf)
	}
	r.stopped = true
	r.buf, r.regions, r.items, r.itemEdits, r.ids = r.buf[:0], r.regions[:0], r.items[:0], r.itemEdits[:0], r.ids[:0]
	r.skip = -1
}
