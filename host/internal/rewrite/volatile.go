package rewrite

import (
	"bytes"
	"math"
	"sort"
	"strings"

	"github.com/bespoke-edge/bespoke/internal/selector"
)

// Volatile values.
//
// Many pages carry values that change with every response and that no
// rewrite reads: a CSP nonce on every script, a CSRF token in a hidden
// input or a meta element, a request id in a data- attribute. Checked
// byte for byte, every response of such a page misses its edit map.
//
// So an edit map checksums each block twice: the bytes as they are (the
// check every splice makes first), and the bytes outside the page's
// volatile values. When a block's first checksum does not match, the
// second decides: the block still splices when only volatile values
// changed, each ending at the first quote of its kind (the quote that
// ended it). The tokenizer then reads the same tags with the same
// attributes, the tree builder builds the same tree, and every selector
// selects the same elements, since none of them reads those values; the
// tags an edit rewrites are read from the page served, so the values
// written are the new ones. The output is still the Rewriter's, byte for
// byte.
//
// A value may change its length too (a counter, a time, a request id
// that grew a digit): what follows it is then where it was plus the
// difference, and the Splicer checks each block after it there, with the
// second checksum, and replays the map's events at their offsets moved
// the same way (Splicer.checkBlock, Splicer.at). The rewrite's memory
// bound holds for a page whose values grew by up to maxGrowth bytes in
// all (Splicer.fits); one that grew more is rewritten.
//
// Only the maps of pages that changed are made to look for volatile
// values (MapBuilder.LookForVolatile): most pages come back the same,
// and their maps stay small. The proxy's cache asks for it when a page's
// last map did not match.
//
// A value is volatile when it is quoted, at least minVolatile bytes
// long, and nothing reads it: its attribute is not one a selector tests,
// not one an edit reads (Program.ReadAttrs), not one the tree builder or
// the edits look at (treeAttrs), and its element is not a meta element
// that declares the page's character encoding. A tag's class list and
// id (the first of each) are volatile on the same terms but one: the
// matcher reads which of the selectors' classes and ids they hold, so
// the map notes that (volWords) and a later response's must hold the
// same; what else they hold may change. The text of a comment is
// volatile too, when it is as long and has no '>' (see recordComment):
// pages say in comments when, where and how fast they were rendered. So
// is the text of a raw text element (script, style, title, textarea...)
// that has no '<' (see recordRawText): pages hand their scripts a
// request id, a time or the visitor's state. And so is the text of the
// body where the tree builder does not read it (see recordText): pages
// print a request id, a time, a count of items in stock or the
// visitor's name.

// minVolatile is the shortest value taken for volatile: nonces, tokens,
// request ids and times in seconds are as long or longer, and shorter
// values are many.
const minVolatile = 10

// maxVolatile bounds the volatile values one map records, and so its
// size; a page with more has its first maxVolatile.
const maxVolatile = 1 << 13

// volRange is a volatile value: page[lo:lo+n], ended by quote, tail
// bytes after it (a comment's "--" or "--!" before its '>'). Eight bytes:
// a map may hold thousands.
type volRange struct {
	lo    int32
	n     uint16
	quote byte
	tail  uint8
}

func (v volRange) hi() int32 { return v.lo + int32(v.n) }

// volWords is a volatile value that is a tag's class list or id (the
// first of the tag, the one the matcher reads): vol is its index in the
// map's vol, fp which of the Program's classes or ids it holds (see
// Program.wordsOf) as the tag had it, in quirks mode or not. A later
// response's list splices when it holds the same of them, whatever
// else it holds: every compound then matches the tag as it did, and the
// tree builder reads neither.
type volWords struct {
	vol    int32
	id     bool
	quirks bool
	fp     uint64
}

// wordsOf returns which of p's classes (ids, with id set) the class list
// (id) v of a tag holds, as the matcher reads it: bit k for
// p.classWords[k] (p.idWords[k]). ok is false for a value with a
// character reference, a CR or a NUL, which the matcher decodes first:
// such a value is never taken for volatile.
func (p *Program) wordsOf(v []byte, id, quirks bool) (fp uint64, ok bool) {
	if !p.wordsFit || bytes.IndexByte(v, '&') >= 0 || bytes.IndexByte(v, '\r') >= 0 || bytes.IndexByte(v, 0) >= 0 {
		return 0, false
	}
	if id {
		for k, w := range p.idWords {
			if len(v) == len(w) && (string(v) == w || quirks && asciiFold(v, w)) {
				fp |= 1 << k
			}
		}
		return fp, true
	}
	for k, w := range p.classWords {
		if strings.IndexByte(w, '&') < 0 && (hasWord(v, w) || quirks && selector.HasWord(bstr(v), w, true)) {
			fp |= 1 << k
		}
	}
	return fp, true
}

// treeAttrs are the attributes whose values the tree builder or the
// edits read, whatever the selectors: they are never volatile (id and
// class, which the matcher reads, may be, by the words they hold: see
// volWords).
var treeAttrs = map[string]bool{
	"id": true, "class": true, "type": true, "color": true, "face": true, "size": true,
	"encoding": true, "charset": true, "http-equiv": true, "lang": true, "xml:lang": true, "dir": true,
}

// reads reports whether a rewrite with p may read the value of the
// attribute named name (as the page has it: in any case).
func (p *Program) reads(name []byte) bool {
	var low [32]byte
	if len(name) > len(low) {
		return true // no name this long is volatile: the set has none
	}
	for i, c := range name {
		low[i] = lowerByte(c)
	}
	s := low[:len(name)]
	return treeAttrs[string(s)] || p.read[string(s)]
}

// readsEdits reports whether p reads every attribute the list edits
// among edits take their ids from: only then may a splice with them
// take volatile values for unchanged.
func (p *Program) readsEdits(edits []Edit) bool {
	for i := range edits {
		if e := &edits[i]; (e.Op == Reorder || e.Op == HideSeen) && !p.reads([]byte(e.Attr)) {
			return false
		}
	}
	return true
}

// recordComment notes the text of the comment that ends at r.src[end]
// (after its "-->" or "--!>") as volatile: no selector or edit reads a
// comment, and a comment whose text has no '>' ends where it ended, at
// the same terminator, whatever else its text holds. Its "quote" is '>',
// so a comment whose text has one (commented-out markup, a conditional
// comment) is not volatile: the check of a later response could not tell
// it from one that gained it.
func (r *Rewriter) recordComment(end int) {
	rc := r.rec
	lo := r.commentAt
	r.commentAt = -1
	term := 3 // "-->"
	if r.src[end-2] == '!' {
		term = 4 // "--!>"
	}
	hi := r.base + end - term
	if n := hi - lo; n < minVolatile || n > math.MaxUint16 || len(rc.vol) >= maxVolatile {
		return
	}
	if at := lo - r.base; at < 0 || bytes.IndexByte(r.src[at:end-term], '>') >= 0 {
		return // it started in an earlier write, or it has a '>'
	}
	rc.vol = append(rc.vol, volRange{lo: int32(lo), n: uint16(hi - lo), quote: '>', tail: uint8(term - 1)})
}

// recordRawText notes the text of the raw text element that ends at
// r.src[end] (the '<' of its end tag) as volatile. Nothing reads raw
// text but the tokenizer, which looks for the end tag; text with no '<'
// holds no escape and nothing that looks like it, so it ends where it
// ended, whatever else it holds. Its "quote" is '<': text that gained one
// might end elsewhere, and does not splice.
func (r *Rewriter) recordRawText(end int) {
	rc := r.rec
	lo := r.rawAt
	r.rawAt = -1
	hi := r.base + end
	if n := hi - lo; n < minVolatile || n > math.MaxUint16 || len(rc.vol) >= maxVolatile {
		return
	}
	if at := lo - r.base; at < 0 || bytes.IndexByte(r.src[at:end], '<') >= 0 {
		return // it started in an earlier write, or it has a '<'
	}
	rc.vol = append(rc.vol, volRange{lo: int32(lo), n: uint16(hi - lo), quote: '<'})
}

// recordText notes the text src[lo:hi], which the '<' at src[hi] ends,
// as volatile. It is text the rewrite does not read (watchText is false:
// the body has started, no formatting element waits to be reopened, and
// the current node is not one whose text builds the tree, as a table's or
// an svg's does): the tree builder's and every selector's decisions are
// the same whatever it holds, and text with no '<' ends where it ended,
// at the next tag. Its "quote" is '<': text that gained one holds markup,
// and does not splice. Text after </body>, which says whether the body
// goes on, is never volatile; nor is a run of spaces alone (indentation,
// which changes with the markup around it, and would only make maps
// larger).
func (r *Rewriter) recordText(lo, hi int) {
	rc := r.rec
	if n := hi - lo; n < minVolatile || n > math.MaxUint16 || len(rc.vol) >= maxVolatile ||
		r.holding || r.recHold || r.stopped || allSpace(r.src[lo:hi]) {
		return
	}
	if lo > 0 && r.src[lo-1] == '<' {
		// After a '<' that starts nothing ("a < b"): its first byte said
		// so, and another would make the '<' a tag's. (A run at the start
		// of a write goes on from the one before: a '<' that ends a write
		// waits for the next.)
		return
	}
	rc.vol = append(rc.vol, volRange{lo: int32(r.base + lo), n: uint16(hi - lo), quote: '<'})
}

// recordVolatile notes the volatile values of the start tag src[lt:end],
// for the map being recorded.
func (r *Rewriter) recordVolatile(lt, end int) {
	rc := r.rec
	if len(rc.vol) >= maxVolatile {
		return
	}
	tag := r.src[lt:end]
	var t tagFacts
	rc.attrs = rc.attrs[:0]
	scanAttrs(tag, r.nameEnd, &t, &rc.attrs)
	if equalFold(tag[1:r.nameEnd], "meta") {
		for _, a := range rc.attrs {
			if n := tag[a.nameLo:a.nameHi]; equalFold(n, "charset") || equalFold(n, "http-equiv") {
				return // the page's encoding may depend on it
			}
		}
	}
	var class, id bool // the first of each was seen
	for _, a := range rc.attrs {
		name := tag[a.nameLo:a.nameHi]
		words, isID := false, false
		switch {
		case equalFold(name, "class"):
			words, class = !class, true
		case equalFold(name, "id"):
			words, isID, id = !id, true, true
		}
		if n := int(a.valHi - a.valLo); a.valLo < 1 || n < minVolatile || n > math.MaxUint16 || int(a.valHi) >= len(tag) {
			continue
		}
		q := tag[a.valLo-1]
		if q != '"' && q != '\'' || tag[a.valHi] != q {
			continue
		}
		var fp uint64
		if words {
			// The matcher reads which of the selectors' classes or ids
			// it holds: that must not change, the rest may.
			ok := false
			fp, ok = r.prog.wordsOf(tag[a.valLo:a.valHi], isID, r.quirks)
			if !ok || isID && r.prog.read["id"] || !isID && r.prog.read["class"] {
				continue
			}
		} else if r.prog.reads(name) {
			continue
		}
		base := int32(r.base + lt)
		if words {
			rc.words = append(rc.words, volWords{vol: int32(len(rc.vol)), id: isID, quirks: r.quirks, fp: fp})
		}
		rc.vol = append(rc.vol, volRange{lo: base + a.valLo, n: uint16(a.valHi - a.valLo), quote: q})
		if len(rc.vol) >= maxVolatile {
			return
		}
	}
}

// volatileSum returns the sum (blocksum.go) of page[lo:hi] without the
// bytes of the volatile values vol (sorted, disjoint) in it.
func volatileSum(page []byte, lo, hi int, vol []volRange) uint64 {
	i := sort.Search(len(vol), func(i int) bool { return int(vol[i].hi()) > lo })
	var sum pieceSum
	sum.reset()
	at := lo
	for ; i < len(vol) && int(vol[i].lo) < hi; i++ {
		if v := int(vol[i].lo); v > at {
			sum.add(page[at:v])
		}
		at = max(at, min(int(vol[i].hi()), hi))
	}
	if at < hi {
		sum.add(page[at:hi])
	}
	return sum.sum()
}

// volatileSums returns the second checksum of every block of page (see
// above), or nil when it has no volatile value.
func volatileSums(page []byte, vol []volRange) []uint64 {
	if len(vol) == 0 {
		return nil
	}
	n := (len(page) + SpliceBlock - 1) / SpliceBlock
	sums := make([]uint64, n)
	for k := range sums {
		sums[k] = volatileSum(page, k*SpliceBlock, min((k+1)*SpliceBlock, len(page)), vol)
	}
	return sums
}
