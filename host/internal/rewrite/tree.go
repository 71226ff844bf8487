package rewrite

// The tree builder: the stack of open elements, kept as HTML's tree
// construction keeps it, so that each element's ancestors and position
// among its siblings are the browser's. It follows the standard's rules
// for where start and end tags are ignored, what they close, tables,
// templates, forms, select and ruby, foreign content and what follows
// </body>. What it does not do, by design: create elements that have no
// start tag in the page (an implied tbody or body), copy formatting
// elements (reconstruction), or move elements (the adoption agency,
// foster parenting): each element stays where its tags are. Where the
// standard removes an element from the stack while its content stays
// open (a misnested </b> or </form>), the element is marked gone: the
// rules no longer see it, and it ends with the last element above it.
//
// Every lookup the rules make costs the same whatever the nesting: each
// entry knows the nearest open element of each kind that bounds a search
// (special, scope boundaries, insertion mode), and open elements of one
// tag are chained, so that nothing walks the stack.

import (
	"bytes"
	"math/bits"
)

// tree is the tree builder's state: the stack of open elements, what
// the insertion rules look up, the list of active formatting elements,
// the document's mode, and the counts for :nth-child and :nth-of-type.
type tree struct {
	// The tree: stack[0] is the document.
	stack      []entry
	typeCounts []typeCount
	// counts holds, per open element (by depth), its element children so
	// far and where their per-type counts start in typeCounts: kept only
	// for :nth-child and :nth-of-type.
	counts    []childCount
	typeHeads []int32 // per tag id, 1 + the index of its last record in typeCounts
	// nOpen counts the open p, a, button, select and template elements.
	nOpen [numOpen]int32
	// lastH and lastF chain the open HTML and the open svg and math
	// elements by tag: per tag id, the depth of the nearest (each entry
	// holds the previous one's). gone counts the elements that left the
	// stack while still open (see tree.go).
	lastH, lastF []uint16
	gone         int
	// The list of active formatting elements (afe.go): afeLast chains its
	// entries by tag (1 + index), afeMarker is 1 + the last marker's
	// index, and seq numbers the elements as they open.
	afe       []afeEntry
	afeLast   []int32
	afeMarker int32
	afeDead   int     // removed entries still in afe
	afeRemap  []int32 // scratch for afeCompact
	seq       uint32
	// The document: the insertion mode before the body starts, whether it
	// has, whether an <html> tag was an element, whether the page is in
	// quirks mode (no doctype), and the form element pointer (formDepth
	// is 0 when the form is no longer open).
	docMode     uint8
	started     bool // a doctype, a tag or text came: a doctype no longer counts
	bodyStarted bool
	// framesetBad is the parser's frameset-ok flag set to "not ok": since
	// the body started, a <body> tag, text that is not space, or one of
	// the elements of framesetOff came. Until then a <frameset> replaces
	// the body.
	framesetBad bool
	htmlSeen    bool
	quirks      bool
	formSet     bool
	formDepth   int
	// The element being opened: its position among its siblings, and
	// among those of its type.
	childPos, typePos int
}

// Counters of open elements for the start tags that look for one, so that
// the search costs nothing when there is none.
const (
	openP = iota
	openA
	openButton
	openSelect
	openTemplate
	openMode // table parts, template, head, colgroup, frameset: the body's rules may not apply
	numOpen
)

// hotOf holds, by tag, what opening an HTML element of it sets: the lanes
// of entry.near its kinds take, its kinds (kindMask), 1 + its counter in
// nOpen (at openShift), and whether it counts in nOpen[openMode] (hotMode:
// it can make the insertion mode other than the body's).
var hotOf [256]struct {
	lanes uint64
	info  uint16
}

const (
	kindMask  = 1<<numKinds - 1
	openShift = 8
	hotMode   = 1 << 12
)

// initHot fills hotOf, from kindsOf.
func initHot() {
	for i := range staticTags {
		h := kindsOf[i]
		if o := openIndex(uint16(i)); o >= 0 {
			h |= uint16(o+1) << openShift
		}
		if tagFlags[i]&fMode != 0 && uint16(i) != tagBody && uint16(i) != tagHTML {
			h |= hotMode
		}
		hotOf[i].info, hotOf[i].lanes = h, nearLanes[h&kindMask]
	}
}

func openIndex(id uint16) int {
	switch id {
	case tagP:
		return openP
	case tagA:
		return openA
	case tagButton:
		return openButton
	case tagSelect:
		return openSelect
	case tagTemplate:
		return openTemplate
	}
	return -1
}

// The kinds of open element a search stops at. Each entry holds, per
// kind, the depth of the nearest open element of that kind at or below it
// (0, the document, when there is none).
const (
	kSpecial = iota // HTML's special elements: "any other end tag" stops there
	kLiStop         // special, but address, div and p: where <li> and <dd> stop looking
	kScope          // bounds "has an element in scope"
	kMode           // decides the insertion mode: table parts, template, head, body, html
	numKinds
)

// nearLanes holds, by a set of kinds, the lanes of entry.near they take:
// an element's kinds set them to its depth in one step.
var nearLanes [1 << numKinds]uint64

func init() {
	for s := range nearLanes {
		for k := 0; k < numKinds; k++ {
			if s&(1<<k) != 0 {
				nearLanes[s] |= 0xffff << (16 * k)
			}
		}
	}
}

// nearOf returns e's near for kind k.
func (e *entry) nearOf(k int) int { return int(uint16(e.near >> (16 * k))) }

// setNear sets e's near for kind k.
func (e *entry) setNear(k, d int) {
	e.near = e.near&^(0xffff<<(16*k)) | uint64(d)<<(16*k)
}

// The scopes of "has an element in scope", by what bounds them: the
// default scope's boundaries (kScope), and for the button and list item
// scopes a button, or an ol or ul, too; the table scope's are html, table
// and template. (Those are found by tag: the entries hold only the kinds
// that most elements need.)
const (
	scopeDefault = iota
	scopeButton
	scopeList
	scopeTable
)

// kindsOf holds, by static tag id, the kinds an HTML element of that tag
// is (a bit per kind); tags the table does not know are of none.
var kindsOf [256]uint16

// foreignKinds are the kinds of svg's foreignObject, desc and title and
// MathML's mi, mo, mn, ms, mtext and annotation-xml, which bound scopes.
const foreignKinds = 1<<kSpecial | 1<<kLiStop | 1<<kScope

func init() {
	for i := range staticTags {
		f := tagFlags[i]
		k := uint16(0)
		if f&fSpecial != 0 {
			k |= 1 << kSpecial
			if i != int(tagAddress) && i != int(tagDiv) && i != int(tagP) {
				k |= 1 << kLiStop
			}
		}
		if f&fScope != 0 {
			k |= 1 << kScope
		}
		if f&fMode != 0 {
			k |= 1 << kMode
		}
		kindsOf[i] = k
	}
	initHot()
}

// Insertion modes, as far as they decide where elements go.
const (
	modeBeforeHead uint8 = iota // nothing yet, or only <html>
	modeInHead                  // in <head>, or in the head the page implies
	modeAfterHead               // after </head>, before the body starts
	modeBody
	modeTable
	modeSection // tbody, thead, tfoot
	modeRow
	modeCell
	modeCaption
	modeColgroup
	modeTemplate // a template whose content has not yet shown what it holds
	modeFrameset
)

// startTag handles the start tag at src[lt] and returns its length, or 0
// when it is unfinished.
func (r *Rewriter) startTag(lt int) int {
	b := r.src[lt:]
	i, key := scanName(b, 1)
	if i >= len(b) {
		return 0
	}
	r.nameEnd, r.attrsRead = i, false
	gt := scanAttrs(b, i, &r.tagFacts, nil)
	if gt < 0 {
		return 0
	}
	var id uint16
	if key != 0 {
		id = keyLookup(key)
	}
	if id == 0 {
		id = r.lookup(b[1:i], true)
	}
	if !r.stopped {
		if r.rec != nil && r.rec.look {
			r.recordVolatile(lt, lt+gt+1)
		}
		r.open(id, lt, lt+gt+1)
	}
	return gt + 1
}

// endTag handles the end tag at src[lt] and returns its length, or 0 when
// it is unfinished.
func (r *Rewriter) endTag(lt int) int {
	b := r.src[lt:]
	i, key := scanName(b, 2)
	if i >= len(b) {
		return 0
	}
	gt := i
	if b[i] != '>' {
		var t tagFacts
		if gt = scanAttrs(b, i, &t, nil); gt < 0 {
			return 0
		}
	}
	var id uint16
	if key != 0 {
		id = keyLookup(key)
	}
	if id == 0 {
		id = r.lookup(b[2:i], false)
	}
	if !r.stopped {
		// The end tag of a name no element has (0: never interned) closes
		// none, but does what any end tag does: in a column group it ends
		// the group, after </body> it means the body goes on. Whether a
		// name is interned depends on the pages a pooled Rewriter read
		// before, so the two take the same path.
		r.close(id, lt, lt+gt+1)
	}
	return gt + 1
}

// scanName returns the end of the tag name that starts at b[i], and the
// name lower-cased and packed in a uint64 when it has at most 8 bytes,
// all letters, digits or '-' (else 0), for keyLookup.
func scanName(b []byte, i int) (int, uint64) {
	start := i
	var key uint64
	ok := true
	for i < len(b) {
		c := b[i]
		if byteClass[c]&cNameEnd != 0 {
			break
		}
		l := lowerName[c]
		ok = ok && l != 0
		key = key<<8 | uint64(l)
		i++
	}
	if !ok || i-start > 8 {
		key = 0
	}
	return i, key
}

// maxNameBytes bounds the bytes of the unknown tag names a rewriter
// interns (with maxNames, their number).
const maxNameBytes = 64 << 10

// lookup returns the id of a tag name. Names no table knows are interned
// when intern is set (start tags); otherwise they get 0, which no open
// element has.
func (r *Rewriter) lookup(name []byte, intern bool) uint16 {
	if trackWork {
		r.work += len(name)
	}
	var low [32]byte
	for i, c := range name {
		if c >= 'A' && c <= 'Z' {
			var l []byte
			if len(name) <= len(low) {
				l = low[:len(name)]
			} else {
				l = make([]byte, len(name))
			}
			copy(l, name)
			for j := i; j < len(l); j++ {
				l[j] = lowerByte(l[j])
			}
			name = l
			break
		}
	}
	if id := staticLookup(name); id != 0 {
		return id
	}
	if id, ok := r.prog.names[string(name)]; ok {
		return id
	}
	if k, ok := r.names[string(name)]; ok {
		return r.nameBase + k
	}
	if !intern {
		return 0
	}
	if len(r.names) >= maxNames || r.nameBytes+len(name) > maxNameBytes {
		r.stop() // the page is not HTML as people write it
		return 0
	}
	k := uint16(len(r.names))
	r.names[string(name)] = k
	r.nameBytes += len(name)
	r.growChains()
	return r.nameBase + k
}

// growChains makes room in the per-tag chains for every id the rewriter
// can give.
func (r *Rewriter) growChains() {
	n := int(r.nameBase) + len(r.names)
	for len(r.lastH) < n {
		r.lastH = append(r.lastH, 0)
		r.lastF = append(r.lastF, 0)
	}
	for len(r.afeLast) < 256 {
		r.afeLast = append(r.afeLast, 0)
	}
}

// near returns the depth of the nearest element of kind k at or below the
// element at depth d that has not left the stack.
func (r *Rewriter) near(d int, k int) int {
	x := r.stack[d].nearOf(k)
	if r.gone != 0 {
		return r.nearGone(x, k)
	}
	return x
}

// nearGone is near when some elements left the stack: x is the value
// the entry holds.
func (r *Rewriter) nearGone(x, k int) int {
	if !r.stack[x].gone {
		return x
	}
	return r.skipGone(x, k)
}

// skipGone follows, from x, which left the stack, the entries of kind k
// below it to one that has not. An entry that left the stack holds in
// near[k] the nearest below it (see leave); the way is compressed, so that
// each is passed a few times at most. Entries still on the stack keep
// their own values, which only grow with depth (FB's search needs that).
func (r *Rewriter) skipGone(x int, k int) int {
	y := x
	for y != 0 && r.stack[y].gone {
		if trackWork {
			r.work++
		}
		y = r.stack[y].nearOf(k)
	}
	for x != y {
		next := r.stack[x].nearOf(k)
		r.stack[x].setNear(k, y)
		x = next
	}
	return y
}

// nearTop is near for the current node.
func (r *Rewriter) nearTop(k int) int { return r.near(len(r.stack)-1, k) }

// last returns the depth of the nearest open HTML element id, or 0.
func (r *Rewriter) last(id uint16) int {
	x := int(r.lastH[id])
	if r.gone == 0 || !r.stack[x].gone {
		return x
	}
	// As skipGone, along the chain of the tag.
	y := x
	for y != 0 && r.stack[y].gone {
		if trackWork {
			r.work++
		}
		y = int(r.stack[y].prev)
	}
	for x != y {
		next := int(r.stack[x].prev)
		r.stack[x].prev = uint16(y)
		x = next
	}
	r.lastH[id] = uint16(y)
	return y
}

// lastForeign returns the depth of the nearest open svg or math element
// id, or 0.
func (r *Rewriter) lastForeign(id uint16) int {
	return int(r.lastF[id]) // foreign elements never leave the stack early
}

// inScope returns the depth of the nearest open HTML element id when no
// boundary of the scope comes first, else 0.
func (r *Rewriter) inScope(id uint16, scope int) int {
	d := r.last(id)
	if d == 0 || d < r.boundary(scope) {
		return 0
	}
	return d
}

// boundary returns the depth of the nearest boundary of a scope.
func (r *Rewriter) boundary(scope int) int {
	switch scope {
	case scopeButton:
		return max(r.nearTop(kScope), r.last(tagButton))
	case scopeList:
		return max(r.nearTop(kScope), r.last(tagOL), r.last(tagUL))
	case scopeTable:
		return max(r.last(tagHTML), r.last(tagTable), r.last(tagTemplate))
	}
	return r.nearTop(kScope)
}

// mode returns the insertion mode, found as browsers reset it: from the
// nearest element that decides it.
func (r *Rewriter) mode() uint8 {
	d := r.nearTop(kMode)
	e := &r.stack[d]
	if (e.tag == tagBody || d == 0 || e.tag == tagHTML) && r.bodyStarted {
		return modeBody // most tags, most pages
	}
	switch e.tag {
	case tagTD, tagTH:
		return modeCell
	case tagTR:
		return modeRow
	case tagTBody, tagTHead, tagTFoot:
		return modeSection
	case tagCaption:
		return modeCaption
	case tagColgroup:
		return modeColgroup
	case tagTable:
		return modeTable
	case tagTemplate:
		return e.tmode
	case tagHead:
		return modeInHead
	case tagFrameset:
		return modeFrameset
	}
	if r.bodyStarted {
		return modeBody
	}
	return r.docMode
}

// open handles a start tag: the end tags it implies, then the element.
func (r *Rewriter) open(id uint16, lt, end int) {
	if r.holding || r.recHold {
		r.unhold(lt)
	}
	if r.gone != 0 {
		r.settleGone(lt)
	}
	flags := flagsOf(id)
	top := &r.stack[len(r.stack)-1]
	if top.eflags&eSlow == 0 && r.bodyStarted && flags&(fStartRule|fClosesP) == 0 && r.afeQuiet() {
		// Most tags: an HTML element in the body that implies nothing.
		r.insert(id, nsHTML, flags, lt, end)
		return
	}
	if top.eflags&eSlow == 0 && r.bodyStarted && flags&(fStartRule|fHeading) == 0 && r.nOpen[openP] == 0 &&
		id != tagLI && id != tagDD && id != tagDT && r.afeQuiet() {
		// A block that would close an open p, and there is none.
		r.insert(id, nsHTML, flags, lt, end)
		return
	}
	r.started = true
	if top.eflags&eSlow == 0 && r.bodyStarted && r.nOpen[openMode] == 0 {
		// The body's rules, whatever the element: no table, template or
		// head says otherwise.
		r.inBody(id, flags, lt, end)
		return
	}
	if top.ns != nsHTML && top.copies == 0 && !r.htmlRules(top, id) {
		// Foreign content.
		if flags&fBreakout == 0 && !(id == tagFont && r.fontBreaks(lt, end)) {
			r.insert(id, top.ns, flags, lt, end)
			return
		}
		// An HTML element closes the svg or math content, to an HTML
		// element or an integration point, and follows HTML's rules.
		d := len(r.stack) - 1
		for d >= 1 && r.stack[d].ns != nsHTML && r.stack[d].eflags&eIntegration == 0 {
			if trackWork {
				r.work++
			}
			d--
		}
		r.popTo(d+1, lt, lt, false)
		if r.stopped {
			return
		}
	}
	r.htmlStart(id, flags, lt, end)
}

// afeQuiet reports whether no formatting element waits to be reopened
// (see afe.go): the last entry of the list is open, or a marker.
func (r *Rewriter) afeQuiet() bool {
	n := len(r.afe)
	return n == 0 || r.afe[n-1].state == afeOpen || r.afe[n-1].state == afeMarker
}

// htmlRules reports whether a start tag of id, with top the current svg
// or math element, follows HTML's rules: in HTML integration points, and
// in MathML's text integration points except for mglyph and malignmark.
func (r *Rewriter) htmlRules(top *entry, id uint16) bool {
	if top.ns == nsMath && top.tag == tagAnnotationXML && id == tagSVG {
		return true // svg in annotation-xml is svg, by HTML's rules
	}
	if top.eflags&eIntegration == 0 {
		return false
	}
	if top.ns == nsMath && top.tag != tagAnnotationXML {
		return id != tagMglyph && id != tagMalignmark
	}
	return true
}

// fontBreaks reports whether the <font> start tag src[lt:end] leaves
// foreign content: it does with a color, face or size attribute.
func (r *Rewriter) fontBreaks(lt, end int) bool {
	r.tag = r.src[lt:end]
	ok := r.findAttr("color") >= 0 || r.findAttr("face") >= 0 || r.findAttr("size") >= 0
	r.tag = nil
	return ok
}

// htmlStart handles a start tag by HTML's rules, in the current mode.
// Steps that close elements change the mode: it is found again after
// each.
func (r *Rewriter) htmlStart(id uint16, flags uint32, lt, end int) {
	for !r.stopped {
		switch m := r.mode(); m {
		case modeBeforeHead, modeInHead, modeAfterHead:
			if !r.beforeBody(m, id, flags, lt, end) {
				return
			}
			continue // the body has started: by its rules
		case modeTable, modeSection, modeRow:
			switch r.inTable(m, id, lt, end) {
			case done:
				return
			case again:
				continue
			}
		case modeCell:
			if flags&fTablePart != 0 {
				// A table part ends the cell, if there is one, and goes on
				// in the row.
				d := max(r.inScope(tagTD, scopeTable), r.inScope(tagTH, scopeTable))
				if d == 0 {
					return
				}
				r.popTo(d, lt, lt, false)
				r.afeClear()
				continue
			}
		case modeCaption:
			if flags&fTablePart != 0 {
				d := r.inScope(tagCaption, scopeTable)
				if d == 0 {
					return
				}
				r.popTo(d, lt, lt, false)
				r.afeClear()
				continue
			}
		case modeColgroup:
			if id == tagCol {
				r.insert(id, nsHTML, flags, lt, end)
				return
			}
			if id == tagTemplate || id == tagHTML {
				break
			}
			if top := len(r.stack) - 1; r.stack[top].tag != tagColgroup || r.copyOnTop() {
				return
			}
			r.popTo(len(r.stack)-1, lt, lt, false)
			continue
		case modeTemplate:
			t := &r.stack[r.nearTop(kMode)]
			switch {
			case flagsOf(id)&fHeadOK != 0 && id != tagNoscript:
				r.insert(id, nsHTML, flags, lt, end)
				return
			case id == tagCaption || id == tagColgroup || id == tagTBody || id == tagTHead || id == tagTFoot:
				t.tmode = modeTable
			case id == tagCol:
				t.tmode = modeColgroup
			case id == tagTR:
				t.tmode = modeSection
			case id == tagTD || id == tagTH:
				t.tmode = modeRow
			default:
				t.tmode = modeBody
			}
			if t.tmode != modeColgroup {
				t.eflags &^= eSlow // in a column group, only col is an element
			}
			continue
		case modeFrameset:
			// In a frameset, framesets, frames and noframes (raw
			// text); after the last frameset ended, noframes alone.
			if id == tagNoframes || (id == tagFrameset || id == tagFrame) && r.last(tagFrameset) != 0 {
				r.insert(id, nsHTML, flags, lt, end)
			}
			return
		}
		r.inBody(id, flags, lt, end)
		return
	}
}

// What inTable did with a start tag.
const (
	done  = iota // handled
	body         // to be handled by the body's rules
	again        // to be handled again, in the mode the stack now has
)

// inTable handles a start tag in a table, a table section or a row.
func (r *Rewriter) inTable(m uint8, id uint16, lt, end int) int {
	switch id {
	case tagCaption, tagColgroup, tagCol, tagTBody, tagTHead, tagTFoot, tagTR, tagTD, tagTH:
	case tagTable:
		// A table in a table ends it.
		if d := r.inScope(tagTable, scopeTable); d > 0 {
			r.popTo(d, lt, lt, false)
			return again
		}
		return done
	case tagForm:
		// In a table, a form is empty: what follows is not in it.
		if r.nOpen[openTemplate] == 0 && !r.formSet {
			r.formSet, r.formDepth = true, 0
			r.insertVoid(id, lt, end)
		}
		return done
	case tagInput:
		// A hidden input goes where it is, and ends nothing (a select,
		// say, as other inputs do).
		if !r.hiddenInput(lt, end) {
			return body
		}
		r.insert(id, nsHTML, flagsOf(id), lt, end)
		return done
	default:
		return body
	}
	// A table part: close what it ends, then open it. Where browsers
	// imply a tbody or a tr, here the part goes where it is written, and
	// the table (or section) notes the one implied, for the end tags that
	// close it.
	switch m {
	case modeTable:
		r.clearTo(scopeTable, lt)
		t := &r.stack[r.nearTop(kMode)]
		switch id {
		case tagTD, tagTH:
			t.implied = impliedSection | impliedRow
		case tagTR:
			t.implied = impliedSection
		default:
			t.implied = 0
		}
	case modeSection:
		if id != tagTR && id != tagTD && id != tagTH {
			d := max(r.inScope(tagTBody, scopeTable), r.inScope(tagTHead, scopeTable), r.inScope(tagTFoot, scopeTable))
			if d == 0 {
				// No section to end (in a template): a row browsers
				// imply ends all the same.
				if t := r.impliedHolder(impliedRow); t > 0 {
					r.stack[t].implied &^= impliedRow
					r.popAbove(t, lt)
				}
				return done
			}
			r.popTo(d, lt, lt, false)
			return again
		}
		r.clearToSection(lt)
		t := &r.stack[r.nearTop(kMode)]
		if id == tagTR {
			t.implied &^= impliedRow
		} else {
			t.implied |= impliedRow
		}
	case modeRow:
		if id != tagTD && id != tagTH {
			d := r.inScope(tagTR, scopeTable)
			if d == 0 {
				return done
			}
			r.popTo(d, lt, lt, false)
			return again
		}
		r.clearToRow(lt)
	}
	if !r.stopped {
		r.insert(id, nsHTML, flagsOf(id), lt, end)
	}
	return done
}

// beforeBody handles a start tag before the body starts. It reports
// whether the body started and the tag is to be handled by the body's
// rules.
func (r *Rewriter) beforeBody(m uint8, id uint16, flags uint32, lt, end int) bool {
	switch {
	case id == tagHTML:
		if r.docMode == modeBeforeHead && !r.htmlSeen && len(r.stack) == 1 {
			r.htmlSeen = true
			r.insert(id, nsHTML, flags, lt, end)
		}
		return false
	case id == tagHead:
		if m == modeBeforeHead {
			r.docMode = modeInHead
			r.insert(id, nsHTML, flags, lt, end)
		}
		return false
	case flags&fHeadOK != 0:
		// Browsers put it in the head, even after </head>; here it stays
		// where it is written, by design.
		if m == modeBeforeHead {
			r.docMode = modeInHead // an implied head
		}
		r.insert(id, nsHTML, flags, lt, end)
		return false
	}
	// Anything else ends the head and starts the body.
	if m == modeInHead && r.stack[len(r.stack)-1].tag == tagHead {
		r.popTo(len(r.stack)-1, lt, lt, false)
	}
	r.docMode = modeAfterHead
	switch id {
	case tagBody:
		r.startBody()
		r.framesetBad = true
		r.insert(id, nsHTML, flags, lt, end)
		return false
	case tagFrameset:
		r.docMode = modeFrameset
		r.insert(id, nsHTML, flags, lt, end)
		return false
	}
	r.startBody()
	return true
}

// notElement handles, in the body, a start tag that is not an element
// there, and is ignored: a second <html> or <body> (the browser adds its
// attributes to the first), <head>, <frame>, a table part. But the page's
// <body> tag, after content that started the body without it (an
// iframe or text in the head), opens the body when nothing but html is
// open (the body the browser implied is then the current node, and gets
// the tag's attributes): as when the tag comes first, selectors see the
// body and what it holds from there. (Not inlined: inBody, which most
// tags pass through, stays as it was.)
//
//go:noinline
func (r *Rewriter) notElement(id uint16, flags uint32, lt, end int) {
	if r.nOpen[openTemplate] == 0 {
		// (In a template, browsers ignore both.)
		switch {
		case id == tagBody:
			r.framesetBad = true
		case id == tagFrameset && !r.framesetBad:
			r.framesetIn(flags, lt, end)
			return
		}
	}
	top := len(r.stack) - 1
	if id == tagBody && r.last(tagBody) == 0 && (top == 0 || top == 1 && r.stack[1].tag == tagHTML && r.stack[1].ns == nsHTML) {
		r.insert(id, nsHTML, flags, lt, end)
	}
}

// framesetIn handles a <frameset> in a body that nothing has yet
// made a body of a page (see framesetBad): the browser takes the body
// out of the page, with all it holds, and the frameset takes its place.
// What the body held was written already; its elements end here.
func (r *Rewriter) framesetIn(flags uint32, lt, end int) {
	d := 1 // the first element above the html element
	if len(r.stack) > 1 && r.stack[1].tag == tagHTML && r.stack[1].ns == nsHTML {
		d = 2
	}
	if d < len(r.stack) {
		r.popTo(d, lt, lt, false)
	}
	if r.stopped {
		return
	}
	r.bodyStarted, r.docMode = false, modeFrameset
	if r.framesetAt < 0 {
		r.framesetAt = r.base + lt
	}
	r.insert(tagFrameset, nsHTML, flags, lt, end)
}

// framesetText notes text of the body (or that starts it): text that is
// not space (nor NUL, which browsers drop) sets framesetBad. With refs,
// t is text whose character references browsers decode (not CDATA's),
// and those that decode to space are space.
func (r *Rewriter) framesetText(t []byte, refs bool) {
	if ink(t, refs) {
		r.framesetBad = true
	}
}

// ink reports whether the text t holds a character that is neither space
// nor NUL; with refs, a character reference that decodes to space is
// space (CDATA has none).
func ink(t []byte, refs bool) bool {
	for i := 0; i < len(t); i++ {
		if c := t[i]; isSpace(c) || c == 0 {
			continue
		}
		if refs {
			if n := spaceRef(t[i:]); n > 0 {
				i += n - 1
				continue
			}
		}
		return true
	}
	return false
}

// onlyNUL reports whether t is NULs alone (or empty): text the body's
// rules drop.
func onlyNUL(t []byte) bool {
	for _, c := range t {
		if c != 0 {
			return false
		}
	}
	return true
}

// tableText reports whether text in a table mode, with e the current
// node, is "in table text": in a table part (or a template), not in an
// element that went before the table.
func tableText(e *entry) bool {
	switch e.tag {
	case tagTable, tagTBody, tagTHead, tagTFoot, tagTR, tagTemplate:
		return e.ns == nsHTML
	}
	return false
}

// startBody notes that the body has started (with a <body> tag, or
// implied by content).
func (r *Rewriter) startBody() {
	r.bodyStarted = true
	r.docMode = modeBody
	// A body that starts without a tag may still become a frameset
	// (browsers allow it whatever the head held: a template there is
	// not the body's).
	r.framesetBad = false
}

// Where browsers have a tbody or a tr that the page has no tag for,
// entry.implied of the table (or section, or template) under it notes it.
const (
	impliedSection uint8 = 1 << iota
	impliedRow
)

// impliedHolder returns the depth of the nearest table, section or
// template, when it holds an implied part of kind what, or 0.
func (r *Rewriter) impliedHolder(what uint8) int {
	d := r.nearTop(kMode)
	for d > 0 {
		e := &r.stack[d]
		switch e.tag {
		case tagTable, tagTBody, tagTHead, tagTFoot, tagTemplate:
			if e.implied&what != 0 {
				return d
			}
			return 0
		case tagTD, tagTH, tagTR, tagCaption, tagColgroup:
			d = r.near(d-1, kMode) // look under the cell, row, caption
		default:
			return 0
		}
	}
	return 0
}

// clearTo pops the elements above the nearest boundary of a scope (the
// table, for a table context).
func (r *Rewriter) clearTo(scope int, lt int) {
	r.popAbove(r.boundary(scope), lt)
}

// popAbove pops the elements above depth d, and the copies of formatting
// elements opened on it: the element at d is then the current node.
func (r *Rewriter) popAbove(d int, lt int) {
	if d+1 < len(r.stack) {
		r.popTo(d+1, lt, lt, false)
	}
	if !r.stopped && d+1 == len(r.stack) && r.stack[d].copies > 0 {
		r.closeCopiesOn(d)
	}
}

// clearToSection pops the elements above the nearest table section (or
// template, or html; or table, when the section is one browsers imply).
func (r *Rewriter) clearToSection(lt int) {
	r.popAbove(max(r.last(tagTBody), r.last(tagTHead), r.last(tagTFoot), r.last(tagTemplate), r.last(tagHTML), r.last(tagTable)), lt)
}

// clearToRow pops the elements above the nearest row (or template, or
// html).
func (r *Rewriter) clearToRow(lt int) {
	r.popAbove(max(r.last(tagTR), r.last(tagTemplate), r.last(tagHTML), r.last(tagTable)), lt)
}

// insertVoid opens element id for the start tag src[lt:end] and ends it
// at once.
func (r *Rewriter) insertVoid(id uint16, lt, end int) {
	if r.gone != 0 {
		r.settleGone(lt)
	}
	d := len(r.stack)
	r.insert(id, nsHTML, flagsOf(id), lt, end)
	if !r.stopped && len(r.stack) > d {
		r.popTo(d, end, end, false)
	}
}

// closeP closes an open p in button scope.
func (r *Rewriter) closeP(lt int) {
	if r.nOpen[openP] > 0 {
		if d := r.inScope(tagP, scopeButton); d > 0 {
			r.noteImplied(lt, tagP, d)
			if d < len(r.stack)-1 || !r.popPlain(d) {
				r.popTo(d, lt, lt, false)
			} else {
				r.leftPlainly(lt, tagP)
			}
		}
	}
}

// noteImplied notes that the start tag at src[lt] ends the element at
// depth d, named tag (one of impliesEnd), as its end tag would: an edit
// that writes before that start tag, or drops it, writes the end tag
// first (endImplied), so that what it writes, or what follows the tag
// it drops, is not inside the element.
func (r *Rewriter) noteImplied(lt int, tag uint16, d int) {
	if at := r.base + lt; r.impliedAt != at {
		r.impliedAt, r.implied = at, r.implied[:0]
	}
	r.implied = append(r.implied, impliedEnd{tag: tag, d: int32(d)})
}

// impliedEnd is an element a start tag ends as its end tag would.
type impliedEnd struct {
	tag uint16
	d   int32
}

// impliesEnd holds, by tag, whether an element ends by the end tags
// impliedEnds generates; endTags, the end tags of the elements that a
// start tag may end as their own end tag would (those, and headings,
// which a heading ends), for writeEnd.
var (
	impliesEnd [256]bool
	endTags    [256][]byte
)

func init() {
	for _, id := range []uint16{tagDD, tagDT, tagLI, tagOptgroup, tagOption, tagP, tagRb, tagRp, tagRt, tagRtc} {
		impliesEnd[id] = true
		endTags[id] = []byte("</" + staticTags[id].name + ">")
	}
	for id := range min(len(staticTags), 256) {
		if staticTags[id].flags&fHeading != 0 {
			endTags[id] = []byte("</" + staticTags[id].name + ">")
		}
	}
}

// impliedEnds pops the elements whose end tags can be left out (dd, dt,
// li, optgroup, option, p, rb, rp, rt, rtc) from the top of the stack,
// except one named except. They are HTML elements: an svg or math
// element of such a name stays (as in Chromium; x/net/html pops it).
func (r *Rewriter) impliedEnds(except uint16, lt int) {
	for len(r.stack) > 1 && !r.stopped && !r.copyOnTop() {
		top := len(r.stack) - 1
		if r.stack[top].ns != nsHTML {
			return
		}
		switch t := r.stack[top].tag; t {
		case tagDD, tagDT, tagLI, tagOptgroup, tagOption, tagP, tagRb, tagRp, tagRt, tagRtc:
			if t == except {
				return
			}
			r.noteImplied(lt, t, top)
			if !r.popPlain(top) {
				r.popTo(top, lt, lt, false)
			} else {
				r.leftPlainly(lt, t)
			}
			continue
		}
		return
	}
}

// inBody handles a start tag by the body's rules.
func (r *Rewriter) inBody(id uint16, flags uint32, lt, end int) {
	rule := ruleNone
	if id < uint16(len(bodyRules)) {
		rule = bodyRules[id]
	}
	switch rule {
	case ruleNotElement:
		r.notElement(id, flags, lt, end)
		return
	case ruleListItem:
		// An li closes the nearest li, unless a special element other
		// than address, div and p comes first; dd and dt close either.
		stop := r.nearTop(kLiStop)
		d := r.last(id)
		if id != tagLI {
			d = max(r.last(tagDD), r.last(tagDT))
		}
		if d > 0 && d >= stop {
			if e := &r.stack[d]; e.ns == nsHTML {
				r.noteImplied(lt, e.tag, d)
			}
			r.popTo(d, lt, lt, false)
		}
		r.closeP(lt)
	case ruleHeading:
		r.closeP(lt)
		if top := &r.stack[len(r.stack)-1]; top.ns == nsHTML && flagsOf(top.tag)&fHeading != 0 && !r.copyOnTop() {
			r.noteImplied(lt, top.tag, len(r.stack)-1)
			r.popTo(len(r.stack)-1, lt, lt, false)
		}
	case ruleForm:
		if r.formSet && r.nOpen[openTemplate] == 0 {
			return // a form in a form is not an element
		}
		r.closeP(lt)
		if !r.stopped && r.nOpen[openTemplate] == 0 {
			r.formSet = true
			r.formDepth = len(r.stack)
		}
	case ruleTable:
		if !r.quirks {
			r.closeP(lt)
		}
	case ruleButton:
		if d := r.inScope(tagButton, scopeDefault); d > 0 {
			r.popTo(d, lt, lt, false)
		}
	case ruleA:
		if i := r.afeFind(tagA); i >= 0 {
			// An a in an a: the first ends, and leaves the stack.
			if !r.formattingEnd(tagA, lt, lt, false) && i < len(r.afe) && r.afe[i].state != afeDead {
				if a := &r.afe[i]; a.state == afeOpen {
					r.leave(int(a.at))
				}
				r.afeRemove(i)
			}
		}
	case ruleNobr:
		r.reconstruct()
		if i := r.afeFind(tagNobr); i >= 0 && r.isOpen(&r.afe[i]) {
			r.formattingEnd(tagNobr, lt, lt, false)
			r.reconstruct()
		}
	case ruleInput:
		if d := r.selectInScope(); d > 0 {
			r.popTo(d, lt, lt, false)
		}
	case ruleHr:
		r.closeP(lt)
		if r.selectInScope() > 0 {
			r.impliedEnds(0, lt)
		}
	case ruleImage:
		id, flags = tagImg, flagsOf(tagImg)
	case ruleSelect:
		if d := r.selectInScope(); d > 0 {
			r.popTo(d, lt, lt, false)
			return // a select in a select only ends it
		}
	case ruleOption:
		if t := r.stack[len(r.stack)-1].tag; r.selectInScope() > 0 && (t < 256 && impliesEnd[t] || r.copyOnTop()) {
			except := tagOptgroup
			if id == tagOptgroup {
				except = 0
			}
			r.impliedEnds(except, lt)
		} else if top := len(r.stack) - 1; r.stack[top].tag == tagOption && r.stack[top].ns == nsHTML && !r.copyOnTop() {
			r.noteImplied(lt, tagOption, top)
			r.popTo(top, lt, lt, false)
		}
	case ruleRuby:
		if r.inScope(tagRuby, scopeDefault) > 0 {
			except := uint16(0)
			if id == tagRp || id == tagRt {
				except = tagRtc
			}
			r.impliedEnds(except, lt)
		}
	case ruleClosesP:
		r.closeP(lt)
	}
	if r.stopped {
		return
	}
	if flags&fNoRebuild == 0 && len(r.afe) > 0 {
		r.reconstruct()
	}
	ns := nsHTML
	switch id {
	case tagSVG:
		ns = nsSVG
	case tagMath:
		ns = nsMath
	}
	r.insert(id, ns, flags, lt, end)
}

// The rules of the body for a start tag, by tag (bodyRules): most tags
// have none.
const (
	ruleNone uint8 = iota
	ruleNotElement
	ruleListItem
	ruleHeading
	ruleForm
	ruleTable
	ruleButton
	ruleA
	ruleNobr
	ruleInput
	ruleHr
	ruleImage
	ruleSelect
	ruleOption
	ruleRuby
	ruleClosesP
)

var bodyRules [256]uint8

func init() {
	for i := range staticTags {
		id, f := uint16(i), tagFlags[i]
		r := ruleNone
		switch {
		case id == tagHTML || id == tagBody || id == tagHead || id == tagFrameset || id == tagFrame || f&fTablePart != 0:
			r = ruleNotElement
		case f&fHeadOK != 0:
		case id == tagLI || id == tagDD || id == tagDT:
			r = ruleListItem
		case f&fHeading != 0:
			r = ruleHeading
		case id == tagForm:
			r = ruleForm
		case id == tagTable:
			r = ruleTable
		case id == tagButton:
			r = ruleButton
		case id == tagA:
			r = ruleA
		case id == tagNobr:
			r = ruleNobr
		case id == tagInput:
			r = ruleInput
		case id == tagHr:
			r = ruleHr
		case id == tagImage:
			r = ruleImage
		case id == tagSelect:
			r = ruleSelect
		case id == tagOption || id == tagOptgroup:
			r = ruleOption
		case id == tagRb || id == tagRtc || id == tagRp || id == tagRt:
			r = ruleRuby
		case f&fClosesP != 0:
			r = ruleClosesP
		}
		bodyRules[i] = r
	}
}

// selectInScope returns the depth of an open select in scope, or 0.
func (r *Rewriter) selectInScope() int {
	if r.nOpen[openSelect] == 0 {
		return 0
	}
	return r.inScope(tagSelect, scopeDefault)
}

// insert opens element id, counts it among its parent's children,
// matches it, and ends it at once when it is void. (Opening and matching
// are one function: a call less at every tag.)
func (r *Rewriter) insert(id uint16, ns uint8, flags uint32, lt, end int) {
	if trackWork {
		r.work++
	}
	if r.gone != 0 {
		// The tag's rules may have closed the last copy open in an
		// element that left the stack.
		r.settleGone(lt)
	}
	void := ns == nsHTML && flags&fVoid != 0 || ns != nsHTML && r.selfClose
	// Only :nth-child and :nth-of-type read the counts: without them,
	// they are not kept.
	if r.needNth {
		r.countChild(id)
	}
	// The entry is written in place: a composite literal appended is
	// built on the stack and copied, and that copy's wide loads stall on
	// the narrow stores that just built it, a cost paid at every tag.
	n := len(r.stack)
	if n == cap(r.stack) {
		r.stack = append(r.stack, entry{})
	} else {
		r.stack = r.stack[:n+1]
		r.stack[n] = entry{}
	}
	e := &r.stack[n]
	parent := &r.stack[n-1]
	e.tag, e.ns = id, ns
	if r.syncing {
		r.noteSync(n, id, lt, end)
	}
	if r.needNth {
		r.counts = append(r.counts[:n], childCount{types: int32(len(r.typeCounts))})
	}
	var kinds, info uint16
	var lanes uint64
	if ns == nsHTML {
		if id < uint16(len(hotOf)) {
			h := &hotOf[id]
			info, lanes = h.info, h.lanes
			kinds = info & kindMask
		}
		e.prev = r.lastH[id]
		r.lastH[id] = uint16(n)
		if flags&(fMode|fStartRule) != 0 {
			switch id {
			case tagHead, tagColgroup, tagFrameset:
				e.eflags = eSlow
			case tagTemplate:
				e.eflags, e.tmode = eSlow, modeTemplate
			}
		}
	} else {
		e.eflags = eSlow
		if ns == nsSVG && (id == tagForeignObject || id == tagDesc || id == tagTitle) ||
			ns == nsMath && (flags&fIntegration != 0 || id == tagAnnotationXML) {
			kinds, lanes = foreignKinds, nearLanes[foreignKinds]
			if id != tagAnnotationXML || r.htmlAnnotation(lt, end) {
				e.eflags |= eIntegration
			}
		}
		e.prev = r.lastF[id]
		r.lastF[id] = uint16(n)
		// An svg or math element keeps its nearest HTML ancestor (only
		// the end tags of foreign content read it).
		e.html = parent.html
		if parent.ns == nsHTML {
			e.html = uint16(n - 1)
		}
	}
	// Its kinds' lanes of near are its depth; the others, its parent's.
	e.near = parent.near&^lanes | lanes&(uint64(n)*0x0001_0001_0001_0001)
	e.spec = parent.spec
	if kinds&(1<<kSpecial) != 0 {
		e.spec = uint16(n)
	}
	if info&^kindMask != 0 {
		if o := uint8(info >> openShift & 7); o != 0 {
			e.open = o
			r.nOpen[o-1]++
		}
		if info&hotMode != 0 {
			e.moded = true
			e.pin = pinOther
			r.nOpen[openMode]++
		}
	}
	if !r.framesetBad && ns == nsHTML && id < 256 && framesetOff[id&0xff] && (id != tagInput || !r.hiddenInput(lt, end)) {
		r.framesetBad = true
	}
	if ns == nsHTML && flags&(fFormatting|fMarker) != 0 {
		if flags&fMarker != 0 {
			r.afePushMarker(n)
		} else {
			r.afePush(n, id, lt, end)
		}
	}
	for i := 1; i < r.words; i++ {
		r.bits = append(r.bits, 0)
	}
	if n >= maxDepth || n*entrySize > r.max/2 && r.held() > r.max {
		r.overflow()
	}
	if r.stopped {
		return
	}
	if r.rec != nil {
		r.rec.peak(r)
	}
	d := n
	if r.hasNotes {
		r.inherit(d)
	}
	if r.skip < 0 && r.mayMatch(id) {
		r.tag = r.src[lt:end] // for the matcher alone: most tags skip it
		r.tagSerial++
		r.match(d, id, lt, end, void)
		r.tag = nil
	}
	if void {
		// A void element ends at once.
		if !r.popPlain(d) {
			r.popTo(d, end, end, false)
		}
		return
	}
	if ns == nsHTML {
		switch {
		case flags&fScript != 0:
			r.state, r.rawName, r.scriptEsc = stScript, staticTags[id].name, 0
		case flags&fRawText != 0:
			r.state, r.rawName = stRawText, staticTags[id].name
		case flags&fPlaintext != 0:
			r.state = stPlaintext
		}
		if (r.state == stScript || r.state == stRawText) && r.rec != nil && r.rec.look {
			r.rawAt = r.base + end
		}
	}
}

// hiddenInput reports whether the input start tag src[lt:end] has
// type=hidden.
func (r *Rewriter) hiddenInput(lt, end int) bool {
	r.tag = r.src[lt:end]
	defer func() { r.tag = nil }()
	j := r.findAttr("type")
	return j >= 0 && equalFold(r.value(j), "hidden")
}

// htmlAnnotation reports whether the annotation-xml start tag src[lt:end]
// makes an HTML integration point: its encoding is HTML.
func (r *Rewriter) htmlAnnotation(lt, end int) bool {
	r.tag = r.src[lt:end]
	defer func() { r.tag = nil }()
	j := r.findAttr("encoding")
	if j < 0 {
		return false
	}
	v := r.value(j)
	return equalFold(v, "text/html") || equalFold(v, "application/xhtml+xml")
}

// maxDepth bounds the stack: its entries hold depths in 16 bits.
const maxDepth = 1<<16 - 1

// countChild counts the element id being opened among its parent's
// children, in all and of its type, for :nth-child and :nth-of-type.
func (r *Rewriter) countChild(id uint16) {
	p := &r.counts[len(r.stack)-1]
	p.children++
	r.childPos = int(p.children)
	r.typePos = 1
	if r.needType {
		// The parent's counts are the records from p.types on; the last
		// record of each tag is found by its chain, in one step.
		if h := r.typeHead(id); h >= p.types {
			r.typeCounts[h].count++
			r.typePos = int(r.typeCounts[h].count)
		} else {
			r.typeCounts = append(r.typeCounts, typeCount{tag: id, count: 1, prev: h})
			r.setTypeHead(id, int32(len(r.typeCounts)-1))
		}
	}
}

// typeHead returns the index of the last type count record of tag id, or
// -1.
func (r *Rewriter) typeHead(id uint16) int32 {
	if int(id) >= len(r.typeHeads) {
		return -1
	}
	return r.typeHeads[id] - 1
}

func (r *Rewriter) setTypeHead(id uint16, i int32) {
	for int(id) >= len(r.typeHeads) {
		r.typeHeads = append(r.typeHeads, 0)
	}
	r.typeHeads[id] = i + 1
}

// dropTypes drops the type count records from i on, as their parent
// ends.
func (r *Rewriter) dropTypes(i int32) {
	for j := len(r.typeCounts) - 1; j >= int(i); j-- {
		if trackWork {
			r.work++
		}
		tc := &r.typeCounts[j]
		r.typeHeads[tc.tag] = tc.prev + 1
	}
	r.typeCounts = r.typeCounts[:i]
}

// utf8BOM is the byte order mark of a UTF-8 page.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// text handles the text src[lo:hi] where text changes the tree: before
// the body starts, and in a column group.
func (r *Rewriter) text(lo, hi int) {
	if r.gone != 0 {
		r.settleGone(lo)
	}
	t := r.src[lo:hi]
	if trackWork {
		r.work += len(t)
	}
	i := 0
	if r.base+lo == 0 && bytes.HasPrefix(t, utf8BOM) {
		// A UTF-8 byte order mark: the browser's decoder drops it, so
		// it is no text of the document (else the body would start
		// here, before the page's <head>). It is written on as it is.
		i = len(utf8BOM)
	}
	all := t[i:] // the text, without a byte order mark
	i += spaceEnd(all)
	// Text reopens formatting elements by the body's rules, unless it is
	// only NULs, which they drop. In a table part, text goes before the
	// table only when it holds more than space and NULs ("in table
	// text"); an element written in a table that went before it follows
	// the body's rules. (A template in the head holds content by the
	// body's rules too.)
	if top := &r.stack[len(r.stack)-1]; !r.afeQuiet() && (r.bodyStarted || r.nOpen[openTemplate] > 0) && (top.ns == nsHTML || top.eflags&eIntegration != 0) {
		switch r.mode() {
		case modeBody, modeCell, modeCaption, modeTemplate:
			if !onlyNUL(all) {
				r.reconstruct()
			}
		case modeTable, modeSection, modeRow:
			if tableText(top) && ink(all, true) || !tableText(top) && !onlyNUL(all) {
				r.reconstruct()
			}
		}
	}
	if i == len(t) {
		return
	}
	r.started = true
	top := len(r.stack) - 1
	switch {
	case !r.bodyStarted && r.last(tagTemplate) == 0:
		// (Text in a template in the head is the template's: the head
		// goes on.)
		if r.mode() == modeFrameset {
			return
		}
		if r.stack[top].tag == tagHead && r.stack[top].ns == nsHTML {
			r.popTo(top, lo+i, lo+i, false)
		}
		r.startBody()
	case r.stack[top].tag == tagColgroup && r.stack[top].ns == nsHTML:
		r.popTo(top, lo+i, lo+i, false)
	}
}

// close handles the end tag of element id at src[lt:end].
func (r *Rewriter) close(id uint16, lt, end int) {
	if trackWork {
		r.work++
	}
	if r.gone != 0 {
		r.settleGone(lt)
	}
	top := len(r.stack) - 1
	flags := flagsOf(id)
	if e := &r.stack[top]; e.tag == id && top > 0 && flags&(fEndRule|fFormatting|fMarker) == 0 && !r.holding && !r.recHold && e.ns == nsHTML && r.popPlain(top) {
		// The end tag of the current node, which ends plainly.
		return
	}
	if (r.holding || r.recHold) && id != tagBody && id != tagHTML {
		r.unhold(lt)
	}
	// An svg or math element with copies of formatting elements opened on
	// it (an integration point) is not the current node: a copy, HTML, is.
	foreign := r.stack[top].ns != nsHTML && r.stack[top].copies == 0
	if r.stack[top].tag == id && top > 0 && flags&fEndRule == 0 && (foreign || r.stack[top].ns == nsHTML) &&
		(flags&fFormatting == 0 || r.stack[top].ns != nsHTML || r.stack[top].afe != 0 && int32(r.afeLatest(id)+1) == r.stack[top].afe) {
		// The end tag of the current node: every rule below agrees (for a
		// formatting element, when it is the latest of its tag in the
		// list).
		html := r.stack[top].ns == nsHTML
		if flags&fFormatting != 0 && html {
			r.afeRemove(int(r.stack[top].afe) - 1)
			r.stack[top].afe = 0 // ended by its own end tag: nothing to note
			r.stack[top].pin &^= pinAFE
		}
		if !r.popPlain(top) {
			r.popTo(top, lt, end, true)
		}
		if flags&fMarker != 0 && html {
			r.afeClear() // a cell, caption, applet, marquee or object ends
		}
		return
	}
	if foreign && (id == tagP || id == tagBR) {
		// </p> and </br> close the svg or math content, to an HTML
		// element or an integration point, and follow HTML's rules
		// there (no svg or math element is named p or br: those start
		// tags leave foreign content).
		d := top
		for d >= 1 && r.stack[d].ns != nsHTML && r.stack[d].eflags&eIntegration == 0 {
			if trackWork {
				r.work++
			}
			d--
		}
		if d < top {
			r.popTo(d+1, lt, lt, false)
			if r.stopped {
				return
			}
		}
	} else if foreign {
		// In svg or math: the nearest open foreign element of that name,
		// above the nearest HTML element.
		if d := r.lastForeign(id); d > 0 && d > int(r.stack[top].html) {
			r.popTo(d, lt, end, true)
			return
		}
	}
	r.htmlEnd(id, flags, lt, end)
}

// htmlEnd handles an end tag by HTML's rules.
func (r *Rewriter) htmlEnd(id uint16, flags uint32, lt, end int) {
	r.started = true
	m := r.mode()
	switch m {
	case modeBeforeHead, modeInHead, modeAfterHead:
		switch id {
		case tagHead:
			if m == modeInHead {
				if top := len(r.stack) - 1; r.stack[top].tag == tagHead {
					r.popTo(top, lt, end, true)
				}
			}
			if m != modeAfterHead {
				r.docMode = modeAfterHead // the head, implied or not, ends
			}
			return
		case tagBody, tagHTML, tagBR:
			if m == modeInHead {
				if top := len(r.stack) - 1; r.stack[top].tag == tagHead {
					r.popTo(top, lt, lt, false)
				}
			}
			r.startBody()
		case tagTemplate:
		default:
			return
		}
	case modeTemplate:
		if id != tagTemplate {
			return
		}
	case modeColgroup:
		if id == tagColgroup || id == tagTemplate || id == tagCol {
			break
		}
		if top := len(r.stack) - 1; r.stack[top].tag == tagColgroup {
			r.popTo(top, lt, lt, false)
			r.htmlEnd(id, flags, lt, end)
		}
		return
	case modeFrameset:
		if id == tagFrameset {
			if top := len(r.stack) - 1; r.stack[top].tag == tagFrameset {
				r.popTo(top, lt, end, true)
			}
		}
		return
	}
	d, clear := 0, false
	switch {
	case id == tagBody || id == tagHTML:
		// The body goes on: what follows is in it, as browsers have it.
		r.holdAfterBody(lt)
		return
	case id == tagTemplate:
		d, clear = r.last(tagTemplate), true
	case flags&fTablePart != 0 || id == tagTable:
		switch {
		case id == tagCol:
		case id == tagColgroup:
			if top := len(r.stack) - 1; m == modeColgroup && r.stack[top].tag == tagColgroup {
				d = top
			}
		case id == tagCaption:
			if m == modeCaption {
				d, clear = r.inScope(id, scopeTable), true
			}
		case id == tagTD || id == tagTH:
			if m == modeCell {
				d, clear = r.inScope(id, scopeTable), true
			}
		case id == tagTR:
			if m == modeRow || m == modeCell {
				d, clear = r.inScope(id, scopeTable), m == modeCell
			}
			if t := r.impliedHolder(impliedRow); d == 0 && t > 0 {
				r.stack[t].implied &^= impliedRow
				r.popAbove(t, lt)
				if m == modeCell {
					r.afeClear()
				}
				return
			}
		case id == tagTable:
			// In a caption, a row or a section, </table> first ends those
			// (even when no table is in scope: in a template).
			switch m {
			case modeCaption:
				if c := r.inScope(tagCaption, scopeTable); c > 0 {
					r.popTo(c, lt, lt, false)
					r.afeClear()
				}
			case modeRow, modeSection:
				// The row ends, then its section.
				c := max(r.inScope(tagTBody, scopeTable), r.inScope(tagTHead, scopeTable), r.inScope(tagTFoot, scopeTable))
				if c == 0 {
					c = r.inScope(tagTR, scopeTable)
				}
				if c > 0 {
					r.popTo(c, lt, lt, false)
				}
			case modeCell:
				if r.inScope(id, scopeTable) == 0 {
					return
				}
				clear = true // the cell ends first
			}
			if t := r.impliedHolder(impliedSection | impliedRow); t > 0 && !r.stopped {
				// A row or a section browsers imply ends first.
				r.stack[t].implied = 0
				r.popAbove(t, lt)
			}
			if !r.stopped {
				d = r.inScope(id, scopeTable)
			}
		default: // tbody, thead, tfoot
			if m == modeSection || m == modeRow || m == modeCell {
				d, clear = r.inScope(id, scopeTable), m == modeCell
			}
			if d == 0 && id == tagTBody {
				if t := r.impliedHolder(impliedSection); t > 0 {
					r.stack[t].implied = 0
					r.popAbove(t, lt)
					if m == modeCell {
						r.afeClear()
					}
					return
				}
			}
		}
	case id == tagForm:
		if r.nOpen[openTemplate] > 0 {
			d = r.inScope(id, scopeDefault)
			break
		}
		f := r.formDepth
		r.formSet, r.formDepth = false, 0
		if f == 0 || r.inScope(id, scopeDefault) != f {
			return
		}
		r.impliedEnds(0, lt)
		if r.stopped {
			return
		}
		if f == len(r.stack)-1 && r.stack[f].copies == 0 {
			d = f
		} else {
			// It leaves the stack; what is open in it stays open, copies
			// of formatting elements too: what follows goes into them,
			// in the form.
			r.leave(f)
			return
		}
	case flags&fBlockEnd != 0 || id == tagDD || id == tagDT:
		d = r.inScope(id, scopeDefault)
	case id == tagApplet || id == tagMarquee || id == tagObject:
		d, clear = r.inScope(id, scopeDefault), true
	case id == tagP:
		if d = r.inScope(id, scopeButton); d == 0 {
			r.phantomStart(id, lt) // browsers make an empty p
		}
	case id == tagLI:
		d = r.inScope(id, scopeList)
	case flags&fHeading != 0:
		for _, h := range headings {
			if x := r.last(h); x > d {
				d = x
			}
		}
		if d < r.nearTop(kScope) {
			d = 0
		}
	case flags&fFormatting != 0:
		r.formattingEnd(id, lt, end, true)
		return
	case id == tagBR:
		// Browsers make a <br>: by design not an element here, but what
		// its start tag does is done (it reopens formatting elements,
		// and a <frameset> no longer replaces the body).
		r.framesetBad = true
		r.phantomStart(id, lt)
		if !r.stopped {
			r.reconstruct()
		}
		return
	default:
		// "Any other end tag": the nearest open element of that name,
		// unless a special element comes first.
		if x := r.last(id); x > 0 && x >= r.nearTop(kSpecial) {
			d = x
		}
	}
	if d > 0 {
		r.popTo(d, lt, end, true)
		if clear {
			r.afeClear()
		}
	}
	// Otherwise browsers ignore the end tag; its bytes pass.
}

var headings []uint16

func init() {
	for _, h := range []string{"h1", "h2", "h3", "h4", "h5", "h6"} {
		headings = append(headings, staticLookup([]byte(h)))
	}
}

// phantomStart does what the start tag of id, which browsers make from
// an end tag (an empty p for </p> when none is open, a br for </br>), does
// to the stack before it opens: it ends svg or math content.
func (r *Rewriter) phantomStart(id uint16, lt int) {
	top := &r.stack[len(r.stack)-1]
	if top.ns == nsHTML || r.htmlRules(top, id) {
		return
	}
	d := len(r.stack) - 1
	for d >= 1 && r.stack[d].ns != nsHTML && r.stack[d].eflags&eIntegration == 0 {
		if trackWork {
			r.work++
		}
		d--
	}
	r.popTo(d+1, lt, lt, false)
}

// leave takes the element at depth d off the stack of open elements while
// it stays open: the rules no longer see it, and it ends when it is the
// current node again (with the last element above it).
func (r *Rewriter) leave(d int) {
	e := &r.stack[d]
	if e.gone {
		return
	}
	e.gone = true
	r.gone++
	// Its kinds now point below it, for near's compression.
	below := &r.stack[d-1]
	for k := 0; k < numKinds; k++ {
		if e.nearOf(k) == d {
			e.setNear(k, below.nearOf(k))
		}
	}
	if e.open != 0 {
		r.nOpen[e.open-1]--
		e.open = 0
	}
	if e.ns == nsHTML && int(r.lastH[e.tag]) == d {
		r.lastH[e.tag] = e.prev
	}
}

// popPlain closes the current node, at depth top, when nothing happens
// at its end and nothing counts it (most elements), and reports whether
// it did; popTo does the rest. Elements end a few thousand times a page:
// this costs less.
func (r *Rewriter) popPlain(top int) bool {
	e := &r.stack[top]
	if e.pin != 0 || !r.plainPop || r.gone != 0 || r.skip == top {
		return false
	}
	if e.ns == nsHTML {
		r.lastH[e.tag] = e.prev
	} else {
		r.lastF[e.tag] = e.prev
	}
	if e.open != 0 {
		r.nOpen[e.open-1]--
	}
	r.stack = r.stack[:top]
	return true
}

// popTo closes the open elements at depth d and above, and then those
// that left the stack and are now the current node. The element at d ends
// with the end tag src[lt:end] when explicit is set; the others end where
// the end tag (or the start tag that implies their end) starts.
func (r *Rewriter) popTo(d, lt, end int, explicit bool) {
	// While an element's end may write its end tag (writeEnd), the
	// kinds of the elements that end here without one are gathered
	// (leftAll): they are still open when the browser reads an end tag
	// written here, and may take it. (An edit map records them, for the
	// edits it will splice.)
	track := len(r.regions) > 0 || len(r.acts) > 0 || r.rec != nil
	for len(r.stack) > 1 && (len(r.stack) > d || r.goneTop()) {
		if trackWork {
			r.work++
		}
		top := len(r.stack) - 1
		e := &r.stack[top]
		target := explicit && top == d
		if track && !target {
			r.leftHere(r.base + lt)
			if b := endBlocks(e); b != 0 {
				r.endBlocked = r.leftAll&b != 0
			}
		}
		if e.pin&pinRec != 0 && r.rec != nil {
			r.recordClose(top, lt, end, target)
		}
		r.wroteEnd = false
		if e.act != 0 || e.region != 0 || e.item != 0 || r.skip == top {
			if target {
				r.finish(top, lt, end, true)
			} else {
				r.finish(top, lt, lt, false)
			}
		}
		r.endBlocked = false
		if r.stopped {
			return
		}
		if track && !target {
			k := leftKinds(e)
			if !r.wroteEnd {
				r.leftAll |= k
			}
			if e.pin&pinRec == 0 {
				r.leftPlain |= k
			}
		}
		r.pop(top)
	}
}

// leftHere starts gathering the elements left open at at, the page's
// offset, when it is another place than before.
func (r *Rewriter) leftHere(at int) {
	if r.leftAt != at {
		r.leftAt, r.leftAll, r.leftPlain = at, 0, 0
	}
}

// leftPlainly notes that the HTML element of tag, which nothing
// pinned, ended at src[lt] without its end tag (see popTo).
func (r *Rewriter) leftPlainly(lt int, tag uint16) {
	if len(r.regions) > 0 || len(r.acts) > 0 || r.rec != nil {
		r.leftHere(r.base + lt)
		r.leftAll |= leftBits[tag]
		r.leftPlain |= leftBits[tag]
	}
}

// The kinds of open elements an end tag written for another element
// cannot pass (leftBits, endBlocks): any element; a default scope's
// boundary (kScope, and svg and MathML elements); ul and ol; button;
// headings; li, dd, dt.
const (
	leftAny uint32 = 1 << iota
	leftScope
	leftList
	leftButton
	leftHeading
	leftLI
	leftDD
	leftDT
)

// leftBits holds the kinds of an HTML element, by tag; endBlocksOf, by
// tag, the kinds of open elements that keep its end tag from ending it
// as its implied end does: the end tag of an li ends the nearest li in
// list item scope, a p's needs the p in button scope, an option's is
// ignored unless the option is the current node.
var leftBits, endBlocksOf [256]uint32

func init() {
	for i := range leftBits {
		leftBits[i] = leftAny
		if kindsOf[i]&(1<<kScope) != 0 {
			leftBits[i] |= leftScope
		}
		if i < len(staticTags) && staticTags[i].flags&fHeading != 0 {
			leftBits[i] |= leftHeading
			endBlocksOf[i] = leftScope | leftHeading
		}
	}
	for t, b := range map[uint16]uint32{tagUL: leftList, tagOL: leftList, tagButton: leftButton, tagLI: leftLI, tagDD: leftDD, tagDT: leftDT} {
		leftBits[t] |= b
	}
	for t, b := range map[uint16]uint32{
		tagLI: leftScope | leftList | leftLI, tagP: leftScope | leftButton, tagDD: leftScope | leftDD, tagDT: leftScope | leftDT,
		tagUL: leftScope | leftList, tagOL: leftScope | leftList,
		tagOption: leftAny, tagOptgroup: leftAny, tagRb: leftAny, tagRp: leftAny, tagRt: leftAny, tagRtc: leftAny,
	} {
		endBlocksOf[t] = b
	}
}

// leftKinds returns the kinds of the open element e (see leftBits).
func leftKinds(e *entry) uint32 {
	switch {
	case e.ns != nsHTML:
		return leftAny | leftScope
	case e.tag >= 256:
		return leftAny
	}
	return leftBits[e.tag]
}

// endBlocks returns the kinds of open elements that keep e's end tag,
// written where e ends without one, from ending it (see endBlocksOf).
func endBlocks(e *entry) uint32 {
	if e.ns != nsHTML || e.tag >= 256 {
		return 0
	}
	return endBlocksOf[e.tag]
}

// goneTop reports whether the entry on top of the stack is an element
// that left the stack and holds no open copy of a formatting element:
// browsers' current node is below it.
func (r *Rewriter) goneTop() bool {
	e := &r.stack[len(r.stack)-1]
	return e.gone && e.copies == 0
}

// settleGone closes, before a tag or text at src[lt], the elements on
// top of the stack that left it and whose copies of formatting elements
// all closed since (a form ended by </form> while a copy was open in it
// stays until then).
func (r *Rewriter) settleGone(lt int) {
	if len(r.stack) > 1 && r.goneTop() {
		r.popTo(len(r.stack), lt, lt, false)
	}
}

// pop removes the current node, at depth top, from the stack.
func (r *Rewriter) pop(top int) {
	e := &r.stack[top]
	if e.afe != 0 {
		r.afePop(e, top)
	}
	if e.open != 0 {
		r.nOpen[e.open-1]--
	}
	if e.moded {
		r.nOpen[openMode]--
	}
	if e.gone {
		r.gone--
	}
	if e.ns == nsHTML {
		if int(r.lastH[e.tag]) == top {
			r.lastH[e.tag] = e.prev
		}
	} else {
		r.lastF[e.tag] = e.prev
	}
	if e.matched {
		// Its compounds no longer match an open element.
		for w := 0; w < r.words; w++ {
			for b := *r.word(top, w); b != 0; b &= b - 1 {
				k := w*64 + bits.TrailingZeros64(b)
				if r.nMatch[k]--; r.nMatch[k] == 0 && k < 64 {
					r.openMask &^= 1 << k
					r.deadMask |= r.neededBy[k] // no longer live (see revive)
				}
			}
		}
	}
	if r.needType {
		r.dropTypes(r.counts[top].types)
	}
	if r.words > 1 {
		r.bits = r.bits[:top*(r.words-1)]
	}
	if r.ctxWords > 1 {
		r.ctxBits = r.ctxBits[:top*(r.ctxWords-1)]
	}
	r.stack = r.stack[:top]
}
