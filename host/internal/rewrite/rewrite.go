// Package rewrite is bespoke's streaming HTML rewriter. A Program holds a
// plugin's selectors, compiled once; for each response, NewRewriter
// returns an io.Writer that applies the request's edits to the HTML
// written to it and writes the result on.
//
// # Streaming
//
// The rewriter tokenizes the page without building a tree. It keeps the
// stack of open elements as a browser's tree builder keeps it: the end
// tags real-world HTML leaves implied, end tags that close several
// elements or none, insertion modes (tables, templates, head and body),
// the list of active formatting elements, forms, <select>, ruby, svg and
// MathML; what follows </body> or </html> is in the body. It matches
// selectors at each start tag from the element's ancestors and its
// position among its siblings, so that they select what they select in
// the browser, but for the differences listed in rules/SYNTAX.md: elements
// the browser creates without a tag in the page (an implied tbody, body,
// a copy of a formatting element) are not in bespoke's tree, and elements
// the browser moves (foster parenting, the adoption agency) stay where
// their tags are.
//
// Bytes that no edit touches are written on as soon as they are known not
// to be part of something being rewritten; text is never held back. (What
// follows </body> is held back while open elements have something to
// write at their end, so that Append content lands before </body>.) A
// tag, comment or attribute split across Write calls at any byte is
// handled. The page is otherwise left as it came: entities, case, quoting,
// whitespace, a byte order mark and invalid UTF-8 pass through untouched,
// and a page no edit matches comes out byte for byte as it went in,
// malformed or not.
//
// Every page costs time linear in its size, whatever its nesting and
// however it is split into writes: an open element holds what the tree
// builder's searches and the selectors need (the nearest element of each
// kind that bounds a search, and which selector prefixes match at or above
// it), and an unfinished tag is followed across writes without being read
// again.
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
// Write calls, waiting for its end; the output held for list edits and
// after </body>; the stack of open elements and the list of active
// formatting elements. (Comments, script and other raw text, long
// doctypes and bogus comments stream through and are never held whole.)
// When a rewrite would hold more, the rewriter stops rewriting,
// gracefully: it writes what it holds as it is (edits already applied
// stay applied; the pending list edits are not applied), and from then on
// copies the page through unchanged, so the visitor gets a page that is
// at worst partly personalized, never a truncated one. A page with more
// than a thousand distinct unknown tag names (or 64 KiB of them), or
// nested deeper than 65,535 elements, stops rewriting the same way.
// Applied tells what was done.
//
// # Edit maps
//
// What a Program's selectors find in a page does not depend on the
// visitor. A MapBuilder records it once (an EditMap, with a checksum per
// block of the page); a Splicer then writes what a Rewriter would for a
// later response of the same page, with any edits, checking each block
// before it uses the map there and handing over to a Rewriter at the
// first block that differs, with the same output (editmap.go, splice.go).
package rewrite

import (
	"io"
	"sync"
	"unsafe"
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
	// (SetInner, Prepend, Append); a code attribute (an event handler,
	// style, srcdoc, http-equiv ...); the src or href of a script, link
	// or base element; an attribute that decides whether a script or
	// style sheet runs, or how the page is decoded (a <script>'s type or
	// language, a <link>'s rel, a <meta>'s charset: see
	// escape.TagAttrCode); the content of a <meta> with http-equiv, the
	// page's or one the edits give it. The edit does not apply there
	// (Refused counts it). False means the edit is the rule author's
	// text.
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
// seen and nothing is recorded. The id given to either method is valid
// only for the time of the call (it is read from the Rewriter's own
// buffers): one that keeps an id keeps a copy (strings.Clone).
type SeenSet interface {
	// Recency reports whether and how recently the visitor was shown the
	// item: 0 for never, higher for more recently. Items of equal
	// recency are equally recent as far as the set knows, unless it is a
	// SeenRanker.
	Recency(id string) int
	// Shown is called for every item a HideSeen edit let through and
	// records (see Edit.MarkFirst), so that the caller can mark it seen.
	Shown(id string)
}

// SeenRanker is a SeenSet that can tell apart, among items of equal
// Recency, those it saw more often (ranked as more recent): asked only
// for the seen items of a list whose order decides what it shows (a
// Demote, or items a HideSeen brings back), since it costs more.
type SeenRanker interface {
	// Rank is Recency, higher for an item shown more often in the same
	// span.
	Rank(id string) int
}

// SeenLister is a SeenSet that answers for a list's members at once: a
// list asks the Recency of all its members, then records the ones it
// shows, and one call for them all costs the set one lock, where a call
// per member costs one each (a page lists dozens).
type SeenLister interface {
	// Recencies sets out[i] to Recency(ids[i]), for every i.
	Recencies(ids []string, out []int32)
	// ShownAll records ids as Shown would, one after the other.
	ShownAll(ids []string)
}

// seenRank is s's Rank of id, or recency (its Recency) when s cannot rank.
// A Splicer's log of the set ranks when the set does: so that a Rewriter
// replaying the log asks what the set was asked, and nothing more.
func seenRank(s SeenSet, id string, recency int32) int32 {
	if l, ok := s.(*seenLog); ok {
		if _, ranks := l.under.(SeenRanker); !ranks {
			return recency
		}
	}
	if rk, ok := s.(SeenRanker); ok {
		return int32(rk.Rank(id))
	}
	return recency
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
	// Decode, for a page not in UTF-8, appends to dst the UTF-8 of src,
	// bytes in the page's encoding (invalid ones as U+FFFD, as browsers
	// decode them). The values selectors compare (ids, classes,
	// attributes) and the items' ids of list edits are read through it,
	// so that .café selects class="caf\xe9" of a windows-1252 page, as in
	// the browser's DOM. nil for a UTF-8 page.
	Decode func(dst, src []byte) []byte
	// EncodeValue, for a page not in UTF-8 or one that declares no
	// encoding, appends v (a SetAttr edit's value, in UTF-8, quoted and
	// escaped by the rewriter; with Decode, a class list the edits
	// changed too) to dst in the page's encoding, with numeric character
	// references for what it cannot hold. nil writes values as they are.
	EncodeValue func(dst, v []byte) []byte
	// Direct is for a Splicer only: when no edit selects an element of
	// the map's page, the page is its own output while it matches, and
	// the caller takes it (Splicer.Take) instead of the Splicer copying
	// it to its writer.
	Direct bool
	// leftOut writes no end tag the page leaves out (see writeEnd): the
	// tests that read the rewriter's tree from markers an edit inserts
	// before and after every element want the page back without them.
	leftOut bool
}

// Scanner states.
const (
	stData      uint8 = iota
	stRawText         // up to </rawName
	stScript          // script data, with escapes (scriptEsc)
	stComment         // inside <!-- ... -->
	stPlaintext       // text to the end
	stBogus           // inside a bogus comment, to its '>'
	stCDATA           // inside a CDATA section (svg and math), to its "]]>"
)

// Rewriter rewrites one page. It is not safe for concurrent use. Get one
// from Program.NewRewriter, write the page to it, Close it, then Release
// it.
//
// Its state is in parts, each kept by the files that change it: the
// tokenizer's (scanner, scan.go), the tree builder's (tree, tree.go and
// afe.go), the selectors' (matcher, edits.go and tables.go), the list
// edits' (lists, list.go) and the output's (sink, here).
type Rewriter struct {
	prog  *Program
	edits []Edit
	seen  SeenSet
	max   int

	sink

	// Positions for edit maps (editmap.go): in is the bytes written so
	// far, base the offset in the page of src[0], pendAt that of
	// pending[0]. rec, when set, records what the page's structure asks
	// of the sink, and recHold is the holding a recorder follows (see
	// holdAfterBody).
	in, base, pendAt int
	rec              *recorder
	recHold          bool
	// syncing: keep, per open element, what a digest of the state reads
	// (syn; see resync.go), for a Splicer to take the map up again.
	syncing   bool
	syn       []syncEntry
	digestBuf []uint64

	scanner
	tree
	matcher
	lists

	// applied counts, per edit, the elements it changed (see Applied);
	// refused, the elements where it would have written values of the
	// request as code, and did not (see Refused).
	applied []int
	refused []int
	// work counts the steps of the rewrite's loops, with -tags
	// rewritework: the linearity tests read it.
	work int
	// adoptCut is where, in the page, the first tag is whose adoption
	// agency left more than maxAdoptWalk elements open that browsers
	// close (-1: none); the differential tests compare the trees up to
	// it.
	adoptCut int
	// dropCut is where, in the page, the first tag is whose adoption
	// agency took a formatting element out of the list past the third
	// step of its inner loop, which takes it off the stack too (-1:
	// none). x/net/html, the differential tests' reference, leaves such
	// an element open (browsers do not), so they compare the trees only
	// before it, and what it leaves in place (the elements closed by
	// then), and Chromium checks the rest (TestTreesChromium,
	// TestChromiumDifferential).
	dropCut int
	// framesetAt is where, in the page, the <frameset> is that replaced
	// the body (-1: none): browsers take the body out of the page, with
	// the elements the rewriter saw in it (see framesetIn).
	framesetAt int

	// Scratch for writing one start tag (edits.go): contentBuf also
	// holds decoded values; tagEdits resolves the attribute edits.
	contentBuf []byte
	tmpTag     []byte
	tagEdits   tagEdits
	// legacy is Options.Decode; legacyBuf its scratch. readBuf holds a
	// value with its newlines and NULs as the browser reads them (see
	// decode).
	legacy    func(dst, src []byte) []byte
	legacyBuf []byte
	readBuf   []byte
	// encodeValue is Options.EncodeValue.
	encodeValue func(dst, v []byte) []byte
	// classBuf holds the class list of the tag being written.
	classBuf []byte
	// foldBuf holds a class or id in lower case (see folded).
	foldBuf []byte
}

// sink is where the output goes: the underlying writer, what is held
// after </body>, the work elements leave for their end, and whether
// rewriting has given up.
type sink struct {
	w   io.Writer
	err error

	// stopped: rewriting has given up (or there is nothing to do) and the
	// rest is copied through. overflowed: it gave up at the memory or
	// depth bound (see Overflowed).
	stopped, overflowed bool
	// holding: what follows </body> is held, in afterBody (see
	// holdAfterBody).
	holding bool
	// skip is the depth of the element whose content is being dropped,
	// or -1.
	skip      int
	afterBody []byte

	// End-of-element work: acts (indexed by entry.act-1), with edit
	// indexes in actEdits; both grow and shrink with the stack.
	acts     []action
	actEdits []int32

	// implied holds the elements that the start tag at impliedAt (in
	// the page) ended as their own end tag would (impliesEnd: a <p>
	// before a <div>, an <li> before the next), and ends those whose end
	// tag an edit's output wrote at endsAt (see endImplied); below
	// droppedAt, the depth past which the elements ended there had no
	// start tag in the output (an edit dropped them with an ancestor's
	// content), or -1.
	impliedAt, endsAt int
	implied           []impliedEnd
	ends              []uint16
	droppedAt, below  int
	// endBlocked: the element popTo ends can have no end tag written
	// (writeEnd); wroteEnd: finish wrote one. leftAll holds the kinds of
	// the elements that ended at leftAt (in the page) without their end
	// tag in the output, leftPlain those of them no edit map records
	// (see popTo).
	endBlocked, wroteEnd bool
	leftAt               int
	leftAll, leftPlain   uint32
	leftOut              bool // Options.leftOut
	// nlAt is where, in the page, a newline is dropped (see
	// dropNewline), or -1.
	nlAt int
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
	bits   uint64 // the first 64 active compounds it matched (more in Rewriter.bits)
	seq    uint32 // its number, in the order elements open
	afe    int32  // 1 + the index of its entry in the list of active formatting elements, or 0
	ctx    uint64 // its selector notes (more in Rewriter.ctxBits)
	act    int32  // 1 + index in acts; 0: nothing to do at its end
	region int32  // 1 + index in regions: the region holding its children
	item   int32  // 1 + index in items: it is an item of its parent's region
	tag    uint16
	prev   uint16 // the depth of the previous open element of its tag and namespace kind
	// near holds, per kind (kSpecial, ...), the depth of the nearest open
	// element of that kind at or below it; for an element that left the
	// stack, at or below its parent.
	// (A lane of 16 bits per kind: see nearOf.)
	near    uint64
	spec    uint16 // the nearest special element at or below it, gone or not
	html    uint16 // for an svg or math element, the depth of its nearest HTML ancestor
	ns      uint8  // nsHTML, nsSVG, nsMath
	eflags  uint8  // eSlow, eIntegration
	open    uint8  // 1 + its counter in Rewriter.nOpen, or 0
	matched bool   // it matched some compound
	gone    bool   // it left the stack of open elements and is still open
	moded   bool   // it counts in Rewriter.nOpen[openMode]
	pin     uint8  // pinAFE, pinOther: something happens at its end (see popPlain)
	copies  uint8  // copies of formatting elements opened just above it (see afe.go)
	tmode   uint8  // for a template, the insertion mode of its content
	implied uint8  // for a table, section or template: impliedSection, impliedRow
}

// entrySize is what an entry costs, for the memory bound.
const entrySize = int(unsafe.Sizeof(entry{}))

// What an element's end must see to (entry.pin): its entry in the list of
// active formatting elements; anything else (the insertion mode's
// counter, a match, an action, a region).
const (
	pinAFE uint8 = 1 << iota
	pinOther
	// pinRec: an edit map records the element's end (see editmap.go).
	pinRec
)

const (
	nsHTML uint8 = iota
	nsSVG
	nsMath
)

const (
	// eSlow: a start tag whose current node is this element takes the
	// tree builder's slow path (svg and math, head, colgroup, a template
	// whose content is not known yet, frameset).
	eSlow uint8 = 1 << iota
	// eIntegration: an svg or math element whose content follows HTML's
	// rules.
	eIntegration
)

// childCount is an open element's counts for :nth-child and
// :nth-of-type.
type childCount struct {
	children int32 // element children so far
	types    int32 // where its children's per-type counts start in typeCounts
}

type typeCount struct {
	tag   uint16
	count int32
	prev  int32 // the index of the previous record of the same tag, or -1
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
	r.legacy, r.encodeValue = opt.Decode, opt.EncodeValue
	r.max = opt.MaxBuffer
	if r.max <= 0 {
		r.max = DefaultMaxBuffer
	}
	r.err = nil
	r.stopped, r.overflowed = false, false
	r.applied = resize(r.applied, len(edits))
	r.refused = resize(r.refused, len(edits))
	r.src, r.mark, r.pending, r.finding = nil, 0, r.pending[:0], false
	r.afterBody, r.holding = r.afterBody[:0], false
	r.state, r.scriptEsc, r.rawName = stData, 0, ""
	r.skip = -1
	r.acts, r.actEdits = r.acts[:0], r.actEdits[:0]
	r.impliedAt, r.endsAt, r.implied, r.ends, r.leftOut, r.nlAt = -1, -1, r.implied[:0], r.ends[:0], opt.leftOut, -1
	r.leftAt, r.leftAll, r.leftPlain = -1, 0, 0
	r.droppedAt, r.below = -1, -1
	r.buf, r.regions, r.items, r.itemEdits, r.ids = r.buf[:0], r.regions[:0], r.items[:0], r.itemEdits[:0], r.ids[:0]
	r.pend, r.pendIDs = r.pend[:0], r.pendIDs[:0]
	r.pieces, r.head, r.tail, r.cut, r.pageSrc = r.pieces[:0], -1, -1, false, false
	r.typeCounts = r.typeCounts[:0]
	clear(r.typeHeads)
	if r.names == nil || len(r.names) > maxNames/2 || r.nameBytes > maxNameBytes/2 {
		r.names, r.nameBytes = map[string]uint16{}, 0
	}
	r.nameBase = uint16(min(len(staticTags)+len(p.names), maxProgramNames))
	r.lastH, r.lastF = r.lastH[:0], r.lastF[:0]
	r.growChains()
	clear(r.lastH)
	clear(r.lastF)
	r.gone = 0
	r.afe, r.afeMarker, r.afeDead, r.seq = r.afe[:0], 0, 0, 1
	clear(r.afeLast)
	r.docMode, r.started, r.bodyStarted, r.htmlSeen, r.quirks, r.framesetBad = modeBeforeHead, false, false, false, true, false
	r.formSet, r.formDepth = false, 0
	r.work, r.adoptCut, r.dropCut, r.framesetAt = 0, -1, -1, -1
	r.in, r.base, r.pendAt, r.rec, r.recHold, r.commentAt, r.rawAt = 0, 0, 0, nil, false, -1, -1
	r.syncing, r.syn = false, r.syn[:0]

	r.selEpoch = resize(r.selEpoch, len(p.sels))
	r.selMatch = resize(r.selMatch, len(p.sels))
	r.epoch = 0
	r.badEdit = resize(r.badEdit, len(edits))
	r.key = resize(r.key, (len(p.sels)+63)/64)
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
		if !r.badEdit[i] {
			r.key[e.Selector>>6] |= 1 << (e.Selector & 63)
		}
	}
	r.tables = p.tablesFor(r.key)
	r.many = len(edits) >= manyEdits
	if r.many {
		r.selEdit = resize(r.selEdit, len(p.sels))
		r.editNext = resize(r.editNext, len(edits))
		r.cand = resize(r.cand, (len(edits)+63)/64)
		for i := len(edits) - 1; i >= 0; i-- {
			if !r.badEdit[i] {
				s := edits[i].Selector
				r.editNext[i], r.selEdit[s] = r.selEdit[s], int32(i+1)
			}
		}
	}
	r.nMatch = resize(r.nMatch, r.words*64)
	r.nOpen = [numOpen]int32{}
	r.openMask = 0
	r.live()
	r.stack = append(r.stack[:0], entry{})
	r.counts = append(r.counts[:0], childCount{})
	r.bits = resize(r.bits, r.words-1)
	r.ctxBits = resize(r.ctxBits, r.ctxWords-1)
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

// Refused returns, per edit index, how many elements the edit did not
// change because it would have written values of the request where they
// would be code (see Edit.Interpolated). The slice is the caller's;
// call Refused after Close for the whole page.
func (r *Rewriter) Refused() []int {
	return append([]int(nil), r.refused...)
}

// RefusedTotal is the sum of Refused, without a copy.
func (r *Rewriter) RefusedTotal() int {
	n := 0
	for _, k := range r.refused {
		n += k
	}
	return n
}

// Release returns r's buffers to a pool. r must not be used after.
func (r *Rewriter) Release() {
	r.prog, r.w, r.edits, r.seen, r.src = nil, nil, nil, nil, nil
	r.legacy, r.encodeValue = nil, nil
	r.tables = nil // the Program's: a pooled Rewriter does not keep it alive
	r.tag = nil
	if cap(r.buf) > 4*DefaultMaxBuffer || cap(r.pending) > 4*DefaultMaxBuffer || cap(r.afterBody) > 4*DefaultMaxBuffer || cap(r.stack) > 1<<16 {
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
	at := r.in
	r.in += n
	if r.stopped && len(r.pending) == 0 {
		r.raw(p)
		if r.err != nil {
			return 0, r.err
		}
		return n, nil
	}
	// An unfinished construct: add to it until it is finished, and scan
	// the rest of p where it is. A tag is followed to its end by r.find,
	// which reads each byte once; the other constructs held are a few
	// bytes long, added in steps that double.
	for len(r.pending) > 0 && len(p) > 0 && !r.stopped {
		if r.finding {
			end := r.find.feed(p)
			if trackWork {
				r.work += max(end+1, len(p))
			}
			if end < 0 {
				r.pending = append(r.pending, p...)
				p = nil
				if r.held() > r.max {
					r.overflow()
					r.raw(r.pending)
					r.pending, r.finding = r.pending[:0], false
				}
				break
			}
			r.pending = append(r.pending, p[:end+1]...)
			p = p[end+1:]
			r.finding = false
		} else {
			k := min(max(len(r.pending), 512), len(p))
			r.pending = append(r.pending, p[:k]...)
			p = p[k:]
		}
		r.base = r.pendAt
		r.run(r.pending, false)
	}
	if r.stopped && len(p) > 0 {
		r.raw(p)
		p = nil
	}
	if len(p) > 0 {
		r.base = at + n - len(p)
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
	if r.rec != nil {
		r.rec.final = true
	}
	if len(r.pending) > 0 {
		r.finding = false
		r.base = r.pendAt
		r.run(r.pending, true)
	}
	if !r.stopped {
		r.src, r.mark, r.base = nil, 0, r.in
		if r.rec != nil {
			r.rec.add(r, event{kind: evEnd, lt: int32(r.in)})
		}
		held := r.holding
		r.holding = false
		r.popTo(1, 0, 0, false)
		if !r.stopped && r.stack[0].region != 0 {
			r.closeRegion()
		}
		if held {
			r.raw(r.afterBody) // the end tags, after what the open elements wrote
		}
	}
	r.holding, r.afterBody = false, r.afterBody[:0]
	r.stopped = true
	return r.err
}

// run scans src; what is unfinished at its end is kept in pending.
func (r *Rewriter) run(src []byte, final bool) {
	if trackWork {
		r.work += len(src) // a construct scanned again shows here
	}
	r.src, r.mark = src, 0
	keep := len(src)
	if !r.stopped {
		keep = r.scan(final)
	}
	if r.stopped {
		r.raw(src[r.mark:])
		r.pending, r.finding = r.pending[:0], false
		r.src = nil
		return
	}
	r.pass(keep)
	if r.stopped {
		// The bound was reached as what was scanned was held (a list's
		// items): the rest, an unfinished tag with it, is copied through
		// now, before the next write's bytes, as Write copies them.
		r.raw(src[keep:])
		r.pending, r.finding = r.pending[:0], false
		r.src = nil
		return
	}
	r.pendAt = r.base + keep
	tail := src[keep:]
	if len(r.pending) > 0 && len(tail) > 0 && &tail[len(tail)-1] == &r.pending[len(r.pending)-1] {
		r.pending = r.pending[:copy(r.pending, tail)]
	} else {
		r.pending = append(r.pending[:0], tail...)
	}
	r.src = nil
	if r.held() > r.max {
		r.overflow()
		r.raw(r.pending)
		r.pending, r.finding = r.pending[:0], false
		return
	}
	// An unfinished tag: r.find follows it from here.
	if r.state == stData && len(tail) >= 2 && tail[0] == '<' {
		from := 1
		if tail[1] == '/' {
			from = 2
		}
		if from < len(tail) && isAlpha(tail[from]) {
			r.find.start()
			if trackWork {
				r.work += len(tail)
			}
			if r.find.feed(tail[from:]) < 0 {
				r.finding = true
			}
		}
	}
}

// held returns the bytes the rewrite holds, for the memory bound.
func (r *Rewriter) held() int {
	return len(r.pending) + len(r.buf) + len(r.pieces)*12 + len(r.ids) + len(r.stack)*entrySize + len(r.counts)*8 + len(r.items)*32 +
		len(r.pend)*12 + len(r.pendIDs) +
		len(r.afe)*24 + len(r.afterBody)
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
		r.hold(b)
		if r.held() > r.max {
			r.overflow()
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
	if r.nlAt >= 0 {
		r.dropNewline(to)
		if to <= r.mark {
			return
		}
	}
	switch {
	case r.holding:
		r.afterBody = append(r.afterBody, r.src[r.mark:to]...)
	case r.pageSrc && len(r.regions) > 0 && r.skip < 0:
		// A Splicer's page stays: held by reference. Its map was only
		// used because the rewrite surely stays within its memory bound
		// (Splicer.fits), so held need not be checked here.
		r.holdPage(r.mark, to)
	default:
		r.out(r.src[r.mark:to])
	}
	r.mark = to
}

// dropNewline drops, from the input up to to, the newline at nlAt (a CR,
// an LF, or both): a browser drops the one right after a <pre>,
// <listing> or <textarea> start tag, and a prepend to the element wrote
// one there before its content (see applyMatched).
func (r *Rewriter) dropNewline(to int) {
	for r.base+r.mark == r.nlAt && r.mark < to {
		switch r.src[r.mark] {
		case '\r':
			r.mark++
			r.nlAt++ // an LF after it goes with it
			continue
		case '\n':
			r.mark++
		}
		break
	}
	if r.base+r.mark != r.nlAt || r.mark < to {
		r.nlAt = -1
	}
}

// holdAfterBody starts holding what follows the </body> or </html> end
// tag at src[lt] (only space, comments and those end tags, usually),
// when elements still open have something to write at their end: they
// end with the page (browsers put what follows </body> in the body), and
// what they write goes before the end tags, where people expect it.
func (r *Rewriter) holdAfterBody(lt int) {
	if r.rec != nil {
		r.rec.add(r, event{kind: evHold, lt: int32(r.base + lt)})
		r.recHold = true
	}
	if r.holding || len(r.acts) == 0 && r.skip < 0 && len(r.regions) == 0 {
		return
	}
	r.pass(lt)
	r.holding = true
}

// unhold lets go of what follows </body>, before the content at src[lt]:
// the body goes on.
func (r *Rewriter) unhold(lt int) {
	if r.recHold {
		r.rec.add(r, event{kind: evUnhold, lt: int32(r.base + lt)})
		r.recHold = false
	}
	if !r.holding {
		return
	}
	r.pass(lt)
	r.holding = false
	r.out(r.afterBody)
	r.afterBody = r.afterBody[:0]
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
// overflow is stop at the memory or depth bound.
func (r *Rewriter) overflow() {
	if !r.stopped {
		r.overflowed = true
	}
	r.stop()
}

// Overflowed reports whether the rewrite gave up at its memory bound
// (Options.MaxBuffer: a list whose items hide_seen, limit or reorder
// hold, a tag or an element stack that large) or its depth bound: the
// edits made before stay, those of a list under way and after were not
// applied, and the rest of the page was copied through.
func (r *Rewriter) Overflowed() bool { return r.overflowed }

func (r *Rewriter) stop() {
	if r.stopped {
		return
	}
	if r.rec != nil {
		r.rec.failed = true
	}
	if len(r.regions) > 0 {
		r.writeHeld()
	}
	if r.holding {
		r.raw(r.afterBody)
		r.holding, r.afterBody = false, r.afterBody[:0]
	}
	r.stopped = true
	r.flushShown()
	r.buf, r.regions, r.items, r.itemEdits, r.ids = r.buf[:0], r.regions[:0], r.items[:0], r.itemEdits[:0], r.ids[:0]
	r.pieces, r.head, r.tail, r.cut = r.pieces[:0], -1, -1, false
	r.skip = -1
}
