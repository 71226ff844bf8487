package rewrite

// The tree builder: the stack of open elements and HTML's implied end
// tags, enough to know where each element ends on real pages.

import "math/bits"

// Counters of open elements for the start tags that look for one, so that
// the search costs nothing when there is none.
const (
	openP = iota
	openA
	openButton
	numOpen
)

func openIndex(id uint16) int {
	switch id {
	case tagP:
		return openP
	case tagA:
		return openA
	case tagButton:
		return openButton
	}
	return -1
}

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
	if id != 0 {
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

// lookup returns the id of a tag name. Names no table knows are interned
// when intern is set (start tags); otherwise they get 0, which no open
// element has.
func (r *Rewriter) lookup(name []byte, intern bool) uint16 {
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
	if id, ok := r.names[string(name)]; ok {
		return id
	}
	if !intern {
		return 0
	}
	if len(r.names) >= maxNames {
		r.stop() // the page is not HTML as people write it
		return 0
	}
	id := uint16(dynamicBase + len(r.names))
	r.names[string(name)] = id
	return id
}

// open handles a start tag: the end tags it implies, then the element.
func (r *Rewriter) open(id uint16, lt, end int) {
	flags := flagsOf(id)
	top := &r.stack[len(r.stack)-1]
	if top.ns == nsHTML && top.tag != tagHead && flags&(fStartRule|fClosesP) == 0 {
		// Most tags: an HTML element that implies nothing.
		r.insert(id, nsHTML, flags, lt, end)
		return
	}
	if top.ns == nsHTML && top.tag != tagHead && flags&fStartRule == 0 && r.nOpen[openP] == 0 &&
		flags&(fHeading) == 0 && id != tagLI && id != tagDD && id != tagDT {
		// A block that would close an open p, and there is none.
		r.insert(id, nsHTML, flags, lt, end)
		return
	}
	foreign := top.ns != nsHTML && top.eflags&eIntegration == 0
	if foreign && flags&fBreakout != 0 {
		// An HTML element in svg or math content closes it.
		d := len(r.stack) - 1
		for d >= 1 && r.stack[d].ns != nsHTML && r.stack[d].eflags&eIntegration == 0 {
			d--
		}
		r.popTo(d+1, lt, lt, false)
		top = &r.stack[len(r.stack)-1]
		foreign = top.ns != nsHTML && top.eflags&eIntegration == 0
	}
	ns := nsHTML
	switch {
	case id == tagSVG:
		ns = nsSVG
	case id == tagMath:
		ns = nsMath
	case foreign:
		ns = top.ns
	case top.ns == nsMath && (id == tagMglyph || id == tagMalignmark):
		ns = nsMath
	}
	if ns == nsHTML && !r.implied(id, flags, lt) {
		return // not an element: a second <body>, <html> or <head>
	}
	r.insert(id, ns, flags, lt, end)
}

// insert opens element id, counts it among its parent's children,
// matches it, and ends it at once when it is void. (Opening and matching
// are one function: a call less at every tag.)
func (r *Rewriter) insert(id uint16, ns uint8, flags uint32, lt, end int) {
	void := ns == nsHTML && flags&fVoid != 0 || ns != nsHTML && r.selfClose
	// Only :nth-child and :nth-of-type read the counts: without them,
	// they are not kept.
	if r.needNth {
		r.countChild(id)
	}
	var ef uint8
	if ns == nsHTML {
		if id < uint16(len(tagEFlags)) {
			ef = tagEFlags[id]
		}
	} else if ns == nsSVG && (id == tagForeignObject || id == tagDesc || id == tagTitle) ||
		ns == nsMath && flags&fIntegration != 0 {
		ef = eSpecial | eScope | eIntegration
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
	e.tag, e.ns, e.eflags, e.types = id, ns, ef, int32(len(r.typeCounts))
	if o := openIndex(id); o >= 0 {
		e.open = uint8(o + 1)
		r.nOpen[o]++
	}
	for i := 1; i < r.words; i++ {
		r.bits = append(r.bits, 0)
	}
	if len(r.stack)*entrySize > r.max/2 && r.held() > r.max {
		r.stop()
	}
	if r.stopped {
		return
	}
	d := n
	if r.skip < 0 && r.mayMatch(id) {
		r.tag = r.src[lt:end] // for the matcher alone: most tags skip it
		r.match(d, id, lt, end, void)
		r.tag = nil
	}
	if void {
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
	}
}

// countChild counts the element id being opened among its parent's
// children, in all and of its type, for :nth-child and :nth-of-type.
func (r *Rewriter) countChild(id uint16) {
	p := &r.stack[len(r.stack)-1]
	p.children++
	r.childPos = int(p.children)
	r.typePos = 1
	if r.needType {
		found := false
		for i := int(p.types); i < len(r.typeCounts); i++ {
			if r.typeCounts[i].tag == id {
				r.typeCounts[i].count++
				r.typePos = int(r.typeCounts[i].count)
				found = true
				break
			}
		}
		if !found {
			r.typeCounts = append(r.typeCounts, typeCount{tag: id, count: 1})
		}
	}
}

// implied closes what a start tag of HTML element id implies, and reports
// whether the tag opens an element.
func (r *Rewriter) implied(id uint16, flags uint32, lt int) bool {
	switch id {
	case tagHTML:
		return r.find(tagHTML) < 0
	case tagHead:
		return r.find(tagHead) < 0 && r.find(tagBody) < 0
	case tagBody:
		if r.find(tagBody) >= 0 {
			return false
		}
	}
	if r.stack[len(r.stack)-1].tag == tagHead && flags&fHeadOK == 0 {
		r.popTo(len(r.stack)-1, lt, lt, false)
	}
	switch {
	case flags&fClosesP != 0:
		switch id {
		case tagLI, tagDD, tagDT:
			for d := len(r.stack) - 1; d >= 1; d-- {
				e := &r.stack[d]
				if e.ns == nsHTML && (e.tag == id || id != tagLI && (e.tag == tagDD || e.tag == tagDT)) {
					r.popTo(d, lt, lt, false)
					break
				}
				if e.eflags&eSpecial != 0 && e.tag != tagAddress && e.tag != tagDiv && e.tag != tagP {
					break
				}
			}
		}
		if r.nOpen[openP] > 0 {
			if d := r.inScope(tagP, scopeButton); d > 0 {
				r.popTo(d, lt, lt, false)
			}
		}
		if flags&fHeading != 0 {
			if top := &r.stack[len(r.stack)-1]; top.ns == nsHTML && flagsOf(top.tag)&fHeading != 0 {
				r.popTo(len(r.stack)-1, lt, lt, false)
			}
		}
	case id == tagOption || id == tagOptgroup:
		if top := &r.stack[len(r.stack)-1]; top.tag == tagOption && !r.popPlain(len(r.stack)-1) {
			r.popTo(len(r.stack)-1, lt, lt, false)
		}
	case id == tagA && r.nOpen[openA] > 0 || id == tagButton && r.nOpen[openButton] > 0:
		if d := r.inScope(id, scopeDefault); d > 0 {
			r.popTo(d, lt, lt, false)
		}
	case id == tagTR:
		r.closeNearest(lt, tagTR, tagTR, tagTBody, tagTHead, tagTFoot)
	case id == tagTD || id == tagTH:
		r.closeNearest(lt, tagTD, tagTH, tagTR, tagTBody, tagTHead, tagTFoot)
	case id == tagTBody || id == tagTHead || id == tagTFoot:
		r.closeNearest(lt, tagTBody, tagTHead, tagTFoot)
	}
	return true
}

// closeNearest closes the nearest open element named a or b, unless one
// named in stops (or a table, template or html) comes first.
func (r *Rewriter) closeNearest(lt int, a, b uint16, stops ...uint16) {
	for d := len(r.stack) - 1; d >= 1; d-- {
		e := &r.stack[d]
		if e.ns != nsHTML {
			continue
		}
		if e.tag == a || e.tag == b {
			r.popTo(d, lt, lt, false)
			return
		}
		if e.eflags&eTableScope != 0 {
			return
		}
		for _, s := range stops {
			if e.tag == s {
				return
			}
		}
	}
}

// find returns the depth of the nearest open HTML element id, or -1.
func (r *Rewriter) find(id uint16) int {
	for d := len(r.stack) - 1; d >= 1; d-- {
		if r.stack[d].tag == id && r.stack[d].ns == nsHTML {
			return d
		}
	}
	return -1
}

// Scopes, for "has an element in scope".
const (
	scopeDefault = iota
	scopeButton
	scopeList
	scopeTable
)

// inScope returns the depth of the nearest open HTML element id in the
// given scope, or -1.
func (r *Rewriter) inScope(id uint16, scope int) int {
	for d := len(r.stack) - 1; d >= 1; d-- {
		e := &r.stack[d]
		if e.tag == id && e.ns == nsHTML {
			return d
		}
		switch scope {
		case scopeTable:
			if e.eflags&eTableScope != 0 {
				return -1
			}
			continue
		case scopeButton:
			if e.tag == tagButton && e.ns == nsHTML {
				return -1
			}
		case scopeList:
			if (e.tag == tagOL || e.tag == tagUL) && e.ns == nsHTML {
				return -1
			}
		}
		if e.eflags&eScope != 0 {
			return -1
		}
	}
	return -1
}

// close handles the end tag of element id at src[lt:end].
func (r *Rewriter) close(id uint16, lt, end int) {
	if top := len(r.stack) - 1; r.stack[top].tag == id && top > 0 {
		// The end tag of the current node: every rule below agrees.
		if !r.popPlain(top) {
			r.popTo(top, lt, end, true)
		}
		return
	}
	if top := len(r.stack) - 1; r.stack[top].ns != nsHTML {
		// In svg or math: the nearest open foreign element of that name.
		for d := top; d >= 1 && r.stack[d].ns != nsHTML; d-- {
			if r.stack[d].tag == id {
				r.popTo(d, lt, end, true)
				return
			}
		}
	}
	flags := flagsOf(id)
	d := -1
	switch {
	case id == tagBody || id == tagHTML:
		d = r.find(id)
	case id == tagP:
		d = r.inScope(id, scopeButton)
	case id == tagLI:
		d = r.inScope(id, scopeList)
	case flags&fHeading != 0:
		for i := len(r.stack) - 1; i >= 1; i-- {
			e := &r.stack[i]
			if e.ns == nsHTML && flagsOf(e.tag)&fHeading != 0 {
				d = i
				break
			}
			if e.eflags&eScope != 0 {
				break
			}
		}
	case flags&fTableEnd != 0:
		d = r.inScope(id, scopeTable)
	case flags&fSpecial != 0:
		d = r.inScope(id, scopeDefault)
	default:
		// "Any other end tag": the nearest open element of that name,
		// unless a special element comes first.
		for i := len(r.stack) - 1; i >= 1; i-- {
			e := &r.stack[i]
			if e.tag == id {
				d = i
				break
			}
			if e.eflags&eSpecial != 0 {
				break
			}
		}
	}
	if d > 0 {
		r.popTo(d, lt, end, true)
	}
	// Otherwise browsers ignore the end tag; its bytes pass.
}

// popPlain closes the current node, at depth top, when nothing happens
// at its end and nothing counts it (most elements), and reports whether
// it did; popTo does the rest. Elements end a few thousand times a page:
// this costs less.
func (r *Rewriter) popPlain(top int) bool {
	e := &r.stack[top]
	if e.act|e.region|e.item != 0 || e.matched || e.open != 0 || r.skip == top || r.needType || r.words != 1 {
		return false
	}
	r.stack = r.stack[:top]
	return true
}

// popTo closes the open elements at depth d and above. The element at d
// ends with the end tag src[lt:end] when explicit is set; the others end
// where the end tag (or the start tag that implies their end) starts.
func (r *Rewriter) popTo(d, lt, end int, explicit bool) {
	for len(r.stack) > d && len(r.stack) > 1 {
		top := len(r.stack) - 1
		e := &r.stack[top]
		if e.act != 0 || e.region != 0 || e.item != 0 || r.skip == top {
			if explicit && top == d {
				r.finish(top, lt, end, true)
			} else {
				r.finish(top, lt, lt, false)
			}
		}
		if r.stopped {
			return
		}
		if e.open != 0 {
			r.nOpen[e.open-1]--
		}
		if e.matched {
			// Its compounds no longer match an open element.
			for w := 0; w < r.words; w++ {
				for b := *r.word(top, w); b != 0; b &= b - 1 {
					k := w*64 + bits.TrailingZeros64(b)
					if r.nMatch[k]--; r.nMatch[k] == 0 && k < 64 {
						r.openMask &^= 1 << k
						if r.ancMask&(1<<k) != 0 {
							r.live()
						}
					}
				}
			}
		}
		if r.needType {
			r.typeCounts = r.typeCounts[:e.types]
		}
		if r.words > 1 {
			r.bits = r.bits[:top*(r.words-1)]
		}
		r.stack = r.stack[:top]
	}
}
