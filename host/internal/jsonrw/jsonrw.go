// Package jsonrw personalizes JSON responses: set or remove a value at a
// path, and hide already-seen items, keep the first N, or reorder the
// elements of an array, where paths are the part of gjson's syntax that
// names one place (package internal/jsonpath: "items", "data.banner.title",
// "items.0", "@this" for the whole document). The document is edited by
// splicing its bytes, so everything an edit does not touch is copied
// through unchanged, and the output is valid JSON whenever the input is.
//
// A key repeated in one object is read by JSON parsers differently; most
// (JavaScript's JSON.parse, Go, Python, Java's Jackson) keep the last
// occurrence. Edits address that one: Set replaces the last occurrence,
// the array edits edit it, and Remove removes every occurrence, so that
// no parser still sees the member.
//
// JSON is rewritten whole rather than streamed: a path may point anywhere
// in the document. The proxy bounds the size it rewrites; Apply bounds the
// nesting (Validate checks it in one pass, without recursion, before any
// path is looked up), so no document can exhaust the stack. ApplyPooled
// writes each edit's document once, into a buffer of exactly its size
// taken from a pool, so that a large response costs no allocation once
// the pool is warm.
package jsonrw

import (
	"cmp"
	"errors"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/bespoke-edge/bespoke/internal/jsonpath"
)

// Op is what an edit does.
type Op uint8

// Operations.
const (
	// Set replaces the value at Path with Value (raw JSON), adding the key
	// when its parent object exists.
	Set Op = iota + 1
	// Remove deletes the value at Path (an object member, every member
	// with its key, or an array element).
	Remove
	// HideSeen removes the elements of the array at Path whose ID the
	// SeenSet reports seen, keeping at least N elements (the hidden ones
	// seen least recently come back first, of equal recency the
	// earliest), or with Demote moves them after the others; once every
	// edit of the array (or inside it) is done it records the elements
	// the document shows at Path (the first MarkFirst, all when 0, none
	// with NoMark), which the edits after take for seen.
	HideSeen
	// Limit keeps the first N elements of the array at Path.
	Limit
	// Reorder moves the elements of the array at Path whose ID is in
	// Order to the front, in Order's order.
	Reorder
)

// Edit is one change to a document.
type Edit struct {
	Op   Op
	Path string
	// Value is raw JSON (Set).
	Value []byte
	// ID is the path, inside each element, of the element's id (HideSeen,
	// Reorder): "id", "sku", "meta.id", or "@this" for an array of ids.
	// See itemID for how an id is told from another.
	ID    string
	N     int
	Order []string
	// Demote makes HideSeen move the seen elements after the others,
	// least recently seen first, instead of removing them.
	Demote bool
	// MarkFirst, when positive, is how many of the elements shown
	// HideSeen records, from the first; 0 records all. NoMark records
	// none.
	MarkFirst int
	NoMark    bool
}

// SeenSet answers and records "already seen" items for one visitor; nil
// means nothing is seen and nothing recorded. The id given is valid only
// for the time of the call.
type SeenSet interface {
	// Recency reports whether and how recently the visitor was shown the
	// item: 0 for never, higher for more recently.
	Recency(id string) int
	// Shown records that the visitor is shown the item.
	Shown(id string)
}

// seenLister is a SeenSet that answers for an array's elements at once
// (one lock for them all in the seen package's sets, where each
// element took it alone): Recencies sets out[i] to Recency(ids[i]),
// ShownAll records ids as Shown would, one after the other.
type seenLister interface {
	Recencies(ids []string, out []int32)
	ShownAll(ids []string)
}

// ErrNotJSON is returned for a document that is not valid JSON; it is then
// served unchanged.
var ErrNotJSON = errors.New("jsonrw: not valid JSON")

// Apply applies edits in order and returns the new document and, per
// edit, whether it changed something. doc is not modified. A document
// that is not JSON (ErrNotJSON) or is nested deeper than DefaultMaxDepth
// (ErrTooDeep) is returned as it is, with the error.
func Apply(doc []byte, edits []Edit, seen SeenSet) ([]byte, []bool, error) {
	return ApplyDepth(doc, edits, seen, DefaultMaxDepth)
}

// ApplyDepth is Apply with a nesting limit of maxDepth (≤ 0 means
// DefaultMaxDepth). The document is validated, iteratively, before any
// path is looked up in it.
func ApplyDepth(doc []byte, edits []Edit, seen SeenSet, maxDepth int) ([]byte, []bool, error) {
	out, err := ApplyPooled(doc, edits, seen, maxDepth)
	defer out.Release()
	applied := slices.Clone(out.Applied)
	if err != nil || !out.Changed() {
		return doc, applied, err
	}
	return slices.Clone(out.Doc), applied, nil
}

// Output is an edited document, in a buffer of a pool until Release.
type Output struct {
	// Doc is the document: the input itself when no edit changed it.
	Doc []byte
	// Applied says, per edit, whether it changed the document.
	Applied []bool

	in []byte
	// bufs are the documents' buffers, kept with the Output when it goes
	// back to its pool, so that the next document of about the same size
	// is written without allocating. Doc lives in one of them when it is
	// not in.
	bufs [2][]byte
	cur  int // the buffer holding Doc, or -1 for in

	// Scratch space of the array edits.
	elems  []span
	order  []int32
	rec    []int32
	byAge  []int32
	idStrs []string // an array's ids, for a set that answers for lists
	idBuf  []byte
	idEnds []int
	steps  [2][8]jsonpath.Step

	// memo is the array an array edit last read or wrote, while Doc has
	// not changed otherwise: the edits after it on the same path, and
	// the recording of what HideSeen shows, find it there instead of
	// walking the document again (a 4.7 MB response with json_hide_seen
	// then json_limit was walked ten times). inMemo says that elems are
	// the memo's.
	memo   arrayMemo
	inMemo bool
	// idsOf says that idBuf holds the ids, at that path, of elems,
	// collected with them; idsOK that it is set.
	idsOf string
	idsOK bool
	// tooMany: an array read had more than MaxElements.
	tooMany bool
}

// arrayMemo is an array of Doc as an array edit found or wrote it: the
// path that leads to it, its bytes, its elements and, when hasIDs, their
// ids at idPath (as ids computes them without text).
type arrayMemo struct {
	valid  bool
	path   string
	value  span
	elems  []span
	hasIDs bool
	idPath string
	idBuf  []byte
	idEnds []int
}

// noMemo makes every edit walk the document, as it would without the
// memo: tests compare both.
var noMemo bool

// memoable reports whether the place a path leads to stays where it is,
// and is found the same way, when only the value there changes: not when
// a step is a query, whose answer may depend on that value.
func memoable(steps []jsonpath.Step) bool {
	for _, st := range steps {
		if st.Kind == jsonpath.Query {
			return false
		}
	}
	return !noMemo
}

// MaxElements bounds the elements of an array that hide_seen, limit or
// reorder edits: its elements' places and ids take some 50 bytes each
// while it is edited, so an array of small values (4 million ids in an
// 8 MB document) cost some 40 times its bytes. A document with a longer
// one is left as it is, with ErrTooManyElements.
const MaxElements = 1 << 17

// ErrTooManyElements is returned for a document with an array of more
// than MaxElements that an edit reads; it is then served unchanged.
var ErrTooManyElements = errors.New("jsonrw: an array edited has more elements than the limit")

var outputs = sync.Pool{New: func() any { return new(Output) }}

// maxPooled bounds the buffers kept for later documents.
const maxPooled = 64 << 20

// Changed reports whether an edit changed the document.
func (o *Output) Changed() bool { return o != nil && o.cur >= 0 }

// Trim lets go of what the edits used besides Doc, for a document that
// is held while a visitor reads it (for minutes, when they read slowly):
// the places and ids of the arrays edited, which cost some 50 bytes an
// element, and the buffer Doc is not in. Small documents keep them, for
// the next document the Output is pooled for.
func (o *Output) Trim() {
	if o == nil || len(o.Doc) < trimFrom {
		return
	}
	o.elems, o.order, o.rec, o.byAge, o.idStrs, o.idBuf, o.idEnds = nil, nil, nil, nil, nil, nil, nil
	o.memo = arrayMemo{}
	o.inMemo, o.idsOf, o.idsOK = false, "", false
	for k := range o.bufs {
		if k != o.cur {
			o.bufs[k] = nil
		}
	}
}

// trimFrom is the size of the documents whose Output Trim trims.
const trimFrom = 256 << 10

// Held returns the bytes Doc's buffer takes when an edit changed the
// document (0 when Doc is the input).
func (o *Output) Held() int {
	if o == nil || o.cur < 0 {
		return 0
	}
	return cap(o.bufs[o.cur])
}

// Release returns the output's buffers to their pools; Doc must not be
// used after. A nil Output ignores it.
func (o *Output) Release() {
	if o == nil {
		return
	}
	for k, b := range o.bufs {
		if cap(b) > maxPooled {
			o.bufs[k] = nil
		}
	}
	o.Doc, o.in = nil, nil
	o.memo.valid, o.memo.path, o.memo.idPath, o.inMemo = false, "", "", false
	o.idsOf, o.idsOK = "", false
	clear(o.steps[0][:])
	clear(o.steps[1][:])
	if cap(o.elems) <= 1<<20 && cap(o.idBuf) <= 1<<20 && cap(o.memo.elems) <= 1<<20 && cap(o.memo.idBuf) <= 1<<20 {
		outputs.Put(o)
	}
}

// ApplyPooled applies edits in order to doc (which it does not modify)
// and returns the result, whose buffers the caller releases once it is
// done with Doc. A document that is not JSON (ErrNotJSON) or is nested
// deeper than maxDepth (ErrTooDeep; ≤ 0 means DefaultMaxDepth) is left as
// it is, with the error.
func ApplyPooled(doc []byte, edits []Edit, seen SeenSet, maxDepth int) (*Output, error) {
	o := outputs.Get().(*Output)
	o.in, o.Doc, o.cur = doc, doc, -1
	o.memo.valid, o.inMemo, o.tooMany = false, false, false
	o.Applied = append(o.Applied[:0], make([]bool, len(edits))...)
	if err := Validate(doc, maxDepth); err != nil {
		return o, err
	}
	for i := range edits {
		e := &edits[i]
		steps, err := jsonpath.AppendParse(o.steps[0][:0], e.Path)
		switch {
		case err != nil:
			// The checker refuses such paths.
		case e.Op == Set:
			o.Applied[i] = o.set(steps, e.Value)
		case e.Op == Remove:
			o.Applied[i] = o.remove(steps)
		case e.Op == HideSeen || e.Op == Limit || e.Op == Reorder:
			o.Applied[i] = o.editArray(steps, e, seen)
		}
		if o.tooMany {
			o.Doc, o.cur = o.in, -1
			clear(o.Applied)
			return o, ErrTooManyElements
		}
		if seen == nil {
			continue
		}
		// What the visitor is shown of an array, once every edit of it is
		// done, as a page's list is recorded once every list edit of it
		// is: an array edited after it takes the items it showed for
		// seen, as a list further down a page does.
		for k := range i + 1 {
			if e := &edits[k]; e.Op == HideSeen && !e.NoMark && lastEdit(edits, i, e.Path) {
				o.record(e, seen)
			}
		}
	}
	return o, nil
}

// lastEdit reports whether edits[i] is the last edit of the array at
// path: of it, or of what is inside it (an element removed).
func lastEdit(edits []Edit, i int, path string) bool {
	if !within(edits[i].Path, path) {
		return false
	}
	for _, e := range edits[i+1:] {
		if within(e.Path, path) {
			return false
		}
	}
	return true
}

// within reports whether path p names the value at path or a value
// inside it (for the document itself, @this, any), in any spelling: a|b
// is a.b, \a is a, and a wildcard or a query may name the same value
// (as rules' JSON edits conflict, see package plan): an array edited
// under another spelling after json_hide_seen recorded it must not have
// been recorded before that edit.
func within(p, path string) bool {
	if p == path || strings.HasPrefix(p, path+".") || strings.TrimSpace(path) == "@this" {
		return true
	}
	if onlySpelling(p) && onlySpelling(path) {
		return false // the usual case: keys of letters and digits
	}
	var pb, qb [8]jsonpath.Step
	ps, err1 := jsonpath.AppendParse(pb[:0], p)
	qs, err2 := jsonpath.AppendParse(qb[:0], path)
	if err1 != nil || err2 != nil || len(qs) > len(ps) {
		return false
	}
	for i, q := range qs {
		if !sameStep(q, ps[i]) {
			return false
		}
	}
	return true
}

// onlySpelling reports whether path is keys of ASCII letters, digits,
// '_' and '-' joined by '.', without leading zeros: the only spelling of
// the place it names.
func onlySpelling(path string) bool {
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '0' && (i == 0 || path[i-1] == '.') && i+1 < len(path) && path[i+1] >= '0' && path[i+1] <= '9':
			return false // 01 is the index 1
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}

// sameStep reports whether two steps may lead to the same value: the
// same key or index, a wildcard and a key it matches (or two wildcards),
// a query and any step into the array (which element it reaches depends
// on the document: taken for the same, the array inside is recorded
// after both edits).
func sameStep(x, y jsonpath.Step) bool {
	return x.Kind == jsonpath.Query || y.Kind == jsonpath.Query || jsonpath.KeysMeet(x, y)
}

// buffer returns a buffer of n bytes for the next document, not the one
// Doc is in.
func (o *Output) buffer(n int) ([]byte, int) {
	k := 0
	if o.cur == 0 {
		k = 1
	}
	if cap(o.bufs[k]) < n {
		// A little room, so that the next document, a little longer,
		// fits too.
		o.bufs[k] = make([]byte, n, n+n/16)
	}
	return o.bufs[k][:n], k
}

// splice makes the document Doc with Doc[start:end] replaced by the
// concatenation of parts.
func (o *Output) splice(start, end int, parts ...[]byte) {
	n := len(o.Doc) - (end - start)
	for _, p := range parts {
		n += len(p)
	}
	b, k := o.buffer(n)
	w := copy(b, o.Doc[:start])
	for _, p := range parts {
		w += copy(b[w:], p)
	}
	copy(b[w:], o.Doc[end:])
	o.Doc, o.cur = b, k
	o.memo.valid = false
}

// set replaces the value the path leads to with value, or adds the
// member when the path's last steps are keys the document lacks: to the
// nearest object on the path that exists, with the objects in between
// (banner.title in {} adds "banner":{"title":...}). A path through a
// value that is not an object (an array, a string, null) changes
// nothing.
func (o *Output) set(steps []jsonpath.Step, value []byte) bool {
	if Validate(value, DefaultMaxDepth) != nil {
		return false
	}
	doc := o.Doc
	if p, ok := locate(doc, steps); ok {
		o.splice(p.value.start, p.value.end, value)
		return true
	}
	// The first of the missing keys: the steps after the nearest existing
	// object on the path, all of them plain keys.
	k := len(steps) - 1
	for ; k >= 0; k-- {
		if steps[k].Kind != jsonpath.Key || steps[k].Wild {
			return false
		}
		if k == 0 {
			break
		}
		if _, ok := locate(doc, steps[:k]); ok {
			break
		}
	}
	if k < 0 {
		return false
	}
	parent, ok := locate(doc, steps[:k])
	if !ok || doc[parent.value.start] != '{' {
		return false
	}
	for j := len(steps) - 1; j > k; j-- {
		value = slices.Concat([]byte{'{'}, quote(steps[j].Name), []byte{':'}, value, []byte{'}'})
	}
	// The member goes after the object's last one, laid out as its
	// members are: after the comma and space that separate its last two
	// (with one member, a comma and the space before it), and with the
	// space around its last member's colon. An empty object gets it
	// after its brace.
	at, sep, colon := parent.value.start+1, []byte(nil), []byte{':'}
	n := 0
	for m := range membersOf(doc, parent.value.start) {
		// After the brace, the space before the first member; then the
		// comma and space before each.
		sep = doc[at:m.key.start]
		at, colon = m.value.end, doc[m.key.end:m.value.start]
		n++
	}
	comma := []byte(nil)
	if n == 1 {
		comma = []byte{','}
	}
	o.splice(at, at, comma, sep, quote(steps[k].Name), colon, value)
	return true
}

func quote(s string) []byte {
	var b []byte
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			const hex = "0123456789abcdef"
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// remove deletes the value the path leads to: an array element, or an
// object's member with its key, and every other member of that object
// with the same key (of a wildcard, the key it chose), all in one copy
// of the document: a copy per member would make an origin's object that
// repeats a key thousands of times cost their square.
func (o *Output) remove(steps []jsonpath.Step) bool {
	if len(steps) == 0 {
		return false // the whole document
	}
	doc := o.Doc
	p, ok := locate(doc, steps)
	if !ok || p.root {
		return false
	}
	if !p.hasKey {
		o.cut(p)
		return true
	}
	var kb, mb [64]byte
	key := string(keyText(doc[p.key.start+1:p.key.end-1], kb[:0]))
	// One walk of the members, holding only the runs of those that go
	// (an origin's object may have millions of members): a run followed
	// by a member that stays goes with the space up to that member; the
	// run after the last that stays, with the comma that ends it.
	var cuts []span
	run, keptEnd, last := -1, -1, 0 // where the run starts, the end of the last member that stays
	for m := range membersOf(doc, p.parent.start) {
		last = m.value.end
		if string(keyText(doc[m.key.start+1:m.key.end-1], mb[:0])) == key {
			if run < 0 {
				run = m.key.start
			}
			continue
		}
		if run >= 0 {
			cuts = append(cuts, span{run, m.key.start})
			run = -1
		}
		keptEnd = m.value.end
	}
	if run >= 0 {
		from := run
		if keptEnd >= 0 {
			from = keptEnd
		}
		cuts = append(cuts, span{from, last})
	}
	o.cutSpans(cuts)
	return true
}

// cutSpans removes the spans, in document order and disjoint, from the
// document, in one copy.
func (o *Output) cutSpans(cuts []span) {
	n := len(o.Doc)
	for _, c := range cuts {
		n -= c.end - c.start
	}
	b, k := o.buffer(n)
	w, at := 0, 0
	for _, c := range cuts {
		w += copy(b[w:], o.Doc[at:c.start])
		at = c.end
	}
	copy(b[w:], o.Doc[at:])
	o.Doc, o.cur = b, k
	o.memo.valid = false
}

// cut removes the member or element at p and one separating comma.
func (o *Output) cut(p place) {
	doc := o.Doc
	start, end := p.value.start, p.value.end
	if p.hasKey {
		start = p.key.start
	}
	// The comma after, with the space up to the next member; or else the
	// one before.
	if j := ws(doc, end); doc[j] == ',' {
		end = ws(doc, j+1)
	} else if b := skipSpaceBack(doc, start); doc[b-1] == ',' {
		start = b - 1
	}
	o.splice(start, end)
}

func skipSpaceBack(doc []byte, i int) int {
	for i > 0 && (doc[i-1] == ' ' || doc[i-1] == '\t' || doc[i-1] == '\n' || doc[i-1] == '\r') {
		i--
	}
	return i
}

// array finds the array path leads to (steps are path parsed) and
// collects its elements into o.elems and, when idPath is not "", their
// ids at idPath (see ids): from the memo when it holds that array, else
// walking Doc, and then the memo holds it.
func (o *Output) array(path string, steps []jsonpath.Step, idPath string) (span, []span, bool) {
	o.idsOK = false
	if m := &o.memo; m.valid && m.path == path {
		o.elems, o.inMemo = append(o.elems[:0], m.elems...), true
		return m.value, o.elems, true
	}
	o.inMemo = false
	value, ok := o.find(steps, idPath)
	if !ok {
		return span{}, nil, false
	}
	if memoable(steps) {
		m := &o.memo
		m.valid, m.path, m.value, m.hasIDs = true, path, value, o.idsOK
		m.elems = append(m.elems[:0], o.elems...)
		if o.idsOK {
			m.idPath = idPath
			m.idBuf, m.idEnds = append(m.idBuf[:0], o.idBuf...), append(m.idEnds[:0], o.idEnds...)
		}
		o.inMemo = true
	}
	return value, o.elems, true
}

// find walks Doc for the array steps lead to, collecting its elements
// (and their ids at idPath, when it is not "") as it passes it: the
// array is read once, where looking it up and then reading it would read
// it twice (a path's last member is the one it names, so the array is
// passed over to the parent's end in any case).
func (o *Output) find(steps []jsonpath.Step, idPath string) (span, bool) {
	doc := o.Doc
	var idSteps []jsonpath.Step
	idOK := false
	if idPath != "" {
		var err error
		idSteps, err = jsonpath.AppendParse(o.steps[1][:0], idPath)
		idOK = err == nil
	}
	last := len(steps) - 1
	if last < 0 || steps[last].Kind != jsonpath.Key || steps[last].Wild {
		p, ok := locate(doc, steps)
		if !ok || doc[p.value.start] != '[' {
			return span{}, false
		}
		o.collect(p.value.start, idPath, idSteps, idOK)
		return p.value, true
	}
	parent, ok := locate(doc, steps[:last])
	if !ok || doc[parent.value.start] != '{' {
		// An array's element by index, or nothing.
		p, ok := locate(doc, steps)
		if !ok || doc[p.value.start] != '[' {
			return span{}, false
		}
		o.collect(p.value.start, idPath, idSteps, idOK)
		return p.value, true
	}
	// The parent's members, as locate reads them: the last one named
	// wins.
	name := steps[last].Name
	var kb [64]byte
	var value span
	found := false
	for i := firstMember(doc, parent.value.start); doc[i] == '"'; {
		keyEnd := skipString(doc, i)
		key := keyText(doc[i+1:keyEnd-1], kb[:0])
		j := ws(doc, ws(doc, keyEnd)+1) // past the colon
		switch {
		case string(key) != name:
			j = skipValue(doc, j)
		case doc[j] == '[':
			end := o.collect(j, idPath, idSteps, idOK)
			value, found = span{j, end}, true
			j = end
		default:
			found = false // the last member of that name is not an array
			j = skipValue(doc, j)
		}
		if j = ws(doc, j); doc[j] == ',' {
			j = ws(doc, j+1)
		}
		i = j
	}
	return value, found
}

// collect reads the array whose '[' is at i into o.elems and, with
// idOK, the elements' ids at idPath (parsed: idSteps) into o.idBuf and
// o.idEnds (as ids computes them without text), and returns the offset
// after the array. When the id path is one key, the usual "id", an
// object element's members are read once, for its end and its id.
func (o *Output) collect(i int, idPath string, idSteps []jsonpath.Step, idOK bool) int {
	doc := o.Doc
	var idStep *jsonpath.Step
	if len(idSteps) == 1 && idSteps[0].Kind == jsonpath.Key && !idSteps[0].Wild {
		idStep = &idSteps[0]
	}
	o.elems = o.elems[:0]
	o.idBuf, o.idEnds = o.idBuf[:0], o.idEnds[:0]
	var kb [64]byte
	j := ws(doc, i+1)
	for doc[j] != ']' {
		if len(o.elems) == MaxElements {
			o.tooMany = true
			o.elems = o.elems[:0]
			return skipValue(doc, i)
		}
		start := j
		switch {
		case !idOK:
			j = skipValue(doc, j)
		case idStep != nil && doc[j] == '{':
			var id span
			found := false
			k := firstMember(doc, j)
			for doc[k] == '"' {
				m, next, _ := nextMember(doc, k)
				if string(keyText(doc[m.key.start+1:m.key.end-1], kb[:0])) == idStep.Name {
					id, found = m.value, true
				}
				k = next
			}
			j = k + 1 // past the closing brace
			if found {
				o.idBuf, _, _ = appendID(o.idBuf, doc[id.start:id.end])
			}
			o.idEnds = append(o.idEnds, len(o.idBuf))
		default:
			j = skipValue(doc, j)
			o.idBuf, _, _, _ = itemID(doc[start:j], idSteps, o.idBuf)
			o.idEnds = append(o.idEnds, len(o.idBuf))
		}
		o.elems = append(o.elems, span{start, j})
		if j = ws(doc, j); doc[j] == ',' {
			j = ws(doc, j+1)
		}
	}
	if idOK {
		o.idsOf, o.idsOK = idPath, true
	}
	return j + 1
}

// ids computes each element's id into o.idBuf (o.idEnds[i] ends element
// i's; an element without one has an empty id): the identity, or with
// text its text (see itemID).
func (o *Output) ids(elems []span, idPath string, text bool) {
	if !text && o.idsOK && o.idsOf == idPath {
		return // collected with the elements
	}
	m := &o.memo
	if o.inMemo && !text && m.hasIDs && m.idPath == idPath {
		o.idBuf, o.idEnds = append(o.idBuf[:0], m.idBuf...), append(o.idEnds[:0], m.idEnds...)
		return
	}
	o.idBuf, o.idEnds = o.idBuf[:0], o.idEnds[:0]
	steps, err := jsonpath.AppendParse(o.steps[1][:0], idPath)
	for _, e := range elems {
		if err == nil {
			b, start, txt, ok := itemID(o.Doc[e.start:e.end], steps, o.idBuf)
			if ok && text && txt > start {
				b = append(b[:start], b[txt:]...)
			}
			o.idBuf = b
		}
		o.idEnds = append(o.idEnds, len(o.idBuf))
	}
	if o.inMemo && !text {
		m.hasIDs, m.idPath = true, idPath
		m.idBuf, m.idEnds = append(m.idBuf[:0], o.idBuf...), append(m.idEnds[:0], o.idEnds...)
	}
}

// id returns element i's id computed by ids ("" for none).
func (o *Output) id(i int) []byte {
	start := 0
	if i > 0 {
		start = o.idEnds[i-1]
	}
	return o.idBuf[start:o.idEnds[i]]
}

// editArray applies HideSeen, Limit or Reorder to the array the path
// leads to.
func (o *Output) editArray(steps []jsonpath.Step, e *Edit, seen SeenSet) bool {
	idPath := ""
	if e.Op == HideSeen && seen != nil {
		idPath = e.ID
	}
	value, elems, ok := o.array(e.Path, steps, idPath)
	if !ok {
		return false
	}
	n := len(elems)
	order := o.order[:0]
	for i := range n {
		order = append(order, int32(i))
	}
	switch e.Op {
	case Limit:
		if e.N < 0 || n <= e.N {
			return false
		}
		order = order[:e.N]
	case Reorder:
		o.ids(elems, e.ID, true)
		used := o.rec[:0]
		for range n {
			used = append(used, 0)
		}
		picked := o.byAge[:0]
		if len(e.Order)*n <= reorderScan {
			for _, want := range e.Order {
				for i := range n {
					if used[i] == 0 && len(o.id(i)) > 0 && string(o.id(i)) == want {
						used[i] = 1
						picked = append(picked, int32(i))
						break
					}
				}
			}
		} else {
			// A long Order (it may come from the visitor) over a long
			// array: each id's elements in order, and how many of them
			// Order took, so that the work is linear.
			byID := make(map[string][]int, n)
			for i := range n {
				if id := o.id(i); len(id) > 0 {
					byID[string(id)] = append(byID[string(id)], i)
				}
			}
			for _, want := range e.Order {
				if is := byID[want]; len(is) > 0 {
					used[is[0]] = 1
					picked = append(picked, int32(is[0]))
					byID[want] = is[1:]
				}
			}
		}
		for i := range n {
			if used[i] == 0 {
				picked = append(picked, int32(i))
			}
		}
		order = append(order[:0], picked...)
		o.rec, o.byAge = used, picked
	case HideSeen:
		if seen == nil {
			return false
		}
		o.ids(elems, e.ID, false)
		rec := o.rec[:0]
		if l, ok := seen.(seenLister); ok {
			// One call for them all, in the elements' order (see the
			// HTML rewriter's SeenLister).
			ids := o.idStrs[:0]
			for i := range n {
				if id := o.id(i); len(id) > 0 {
					ids = append(ids, str(id))
				}
			}
			rec = slices.Grow(rec, max(n, len(ids)))[:len(ids)]
			l.Recencies(ids, rec)
			// Spread to the elements: those without an id are unseen.
			rec = rec[:n]
			for i, j := n-1, len(ids)-1; i >= 0; i-- {
				if id := o.id(i); len(id) > 0 {
					rec[i] = rec[j]
					j--
				} else {
					rec[i] = 0
				}
			}
			clear(ids) // (they are the document's bytes)
			o.idStrs = ids[:0]
		} else {
			for i := range n {
				r := int32(0)
				if id := o.id(i); len(id) > 0 {
					r = int32(seen.Recency(str(id)))
				}
				rec = append(rec, r)
			}
		}
		byAge := o.byAge[:0]
		for i, r := range rec {
			if r > 0 {
				byAge = append(byAge, int32(i))
			}
		}
		o.rec = rec
		if len(byAge) == 0 {
			o.byAge = byAge
			return false
		}
		if rk, ok := seen.(interface{ Rank(id string) int }); ok && (e.Demote || n-len(byAge) < max(e.N, 0)) {
			// The seen items' order decides what the list shows: ranked
			// more finely (see the HTML rewriter's SeenRanker).
			for _, i := range byAge {
				rec[i] = int32(rk.Rank(str(o.id(int(i)))))
			}
		}
		slices.SortStableFunc(byAge, func(a, b int32) int { return cmp.Compare(rec[a], rec[b]) })
		o.byAge = byAge
		order = order[:0]
		if e.Demote {
			for i := range n {
				if rec[i] == 0 {
					order = append(order, int32(i))
				}
			}
			order = append(order, byAge...)
		} else {
			visible := n - len(byAge)
			for _, i := range byAge {
				if visible >= max(e.N, 0) {
					break
				}
				rec[i] = 0 // brought back
				visible++
			}
			for i := range n {
				if rec[i] == 0 {
					order = append(order, int32(i))
				}
			}
		}
	}
	o.order = order
	if len(order) == n {
		same := true
		for i, x := range order {
			if int(x) != i {
				same = false
				break
			}
		}
		if same {
			return false
		}
	}
	// The array's new text: its elements in order, in the array's layout
	// (see layout).
	size := 2
	for k, i := range order {
		open, sep := layout(value, elems, k, len(order))
		size += open.end - open.start + sep.end - sep.start + elems[i].end - elems[i].start
	}
	doc := o.Doc
	b, k := o.buffer(len(doc) - (value.end - value.start) + size)
	w := copy(b, doc[:value.start])
	b[w] = '['
	w++
	for j, i := range order {
		open, sep := layout(value, elems, j, len(order))
		w += copy(b[w:], doc[open.start:open.end])
		w += copy(b[w:], doc[elems[i].start:elems[i].end])
		w += copy(b[w:], doc[sep.start:sep.end])
	}
	b[w] = ']'
	w++
	copy(b[w:], doc[value.end:])
	o.Doc, o.cur = b, k
	o.rememberWritten(e, steps, value, size, elems, order)
	return true
}

// layout returns the bytes of the array value (elements elems) that go
// before and after the element written in place j of an edited array of
// n: before the first, the space after the opening bracket; after each
// but the last, the comma and space that followed the element of that
// place; after the last, the space before the closing bracket. A
// pretty-printed array stays so, whichever elements it keeps.
func layout(value span, elems []span, j, n int) (before, after span) {
	if j == 0 {
		before = span{value.start + 1, elems[0].start}
	}
	if j < n-1 {
		return before, span{elems[j].end, elems[j+1].start}
	}
	return before, span{elems[len(elems)-1].end, value.end - 1}
}

// rememberWritten makes the memo the array an edit of path just wrote in
// place of value, size bytes long: elements (elems, of the document
// before) in order, in value's layout. Their ids, as HideSeen computed
// them or the memo had them, carry over, since an element's bytes do not
// change.
func (o *Output) rememberWritten(e *Edit, steps []jsonpath.Step, value span, size int, elems []span, order []int32) {
	start := value.start
	m := &o.memo
	if !memoable(steps) {
		m.valid = false
		return
	}
	// o.idBuf holds the ids of elems: HideSeen's, or the memo's.
	keep, idPath := e.Op == HideSeen, e.ID
	if !keep && o.inMemo && m.hasIDs {
		o.idBuf, o.idEnds = append(o.idBuf[:0], m.idBuf...), append(o.idEnds[:0], m.idEnds...)
		keep, idPath = true, m.idPath
	}
	m.valid, m.path, m.value = true, e.Path, span{start, start + size}
	m.elems = m.elems[:0]
	at := start + 1
	for j, i := range order {
		before, after := layout(value, elems, j, len(order))
		at += before.end - before.start
		l := elems[i].end - elems[i].start
		m.elems = append(m.elems, span{at, at + l})
		at += l + after.end - after.start
	}
	m.hasIDs = keep
	if keep {
		m.idPath = idPath
		m.idBuf, m.idEnds = m.idBuf[:0], m.idEnds[:0]
		for _, i := range order {
			m.idBuf = append(m.idBuf, o.id(int(i))...)
			m.idEnds = append(m.idEnds, len(m.idBuf))
		}
	}
}

// record hands the ids of the elements the document shows at e's path
// (the first e.MarkFirst, or all) to seen.
func (o *Output) record(e *Edit, seen SeenSet) {
	steps, err := jsonpath.AppendParse(o.steps[0][:0], e.Path)
	if err != nil {
		return
	}
	_, elems, ok := o.array(e.Path, steps, e.ID)
	if !ok {
		return
	}
	o.ids(elems, e.ID, false)
	shown := o.idStrs[:0]
	for i := range elems {
		if e.MarkFirst > 0 && len(shown) >= e.MarkFirst {
			break
		}
		if id := o.id(i); len(id) > 0 {
			shown = append(shown, str(id))
		}
	}
	if l, ok := seen.(seenLister); ok {
		l.ShownAll(shown)
	} else {
		for _, id := range shown {
			seen.Shown(id)
		}
	}
	clear(shown)
	o.idStrs = shown[:0]
}

// reorderScan bounds the Order ids times array elements that Reorder
// matches by scanning, which allocates nothing; past it, a map of the
// elements by id keeps the work linear.
var reorderScan = 1 << 12

// ASCII returns the JSON value v with every character past ASCII written
// as a \u escape (a surrogate pair past U+FFFF), and invalid UTF-8 as
// U+FFFD: JSON that reads the same in UTF-8 and in any charset that
// keeps ASCII's bytes, for a document an origin sends in one (a JSON
// text past ASCII can only be in a string). v is returned as it is when
// it is ASCII.
func ASCII(v []byte) []byte {
	i := 0
	for i < len(v) && v[i] < utf8.RuneSelf {
		i++
	}
	if i == len(v) {
		return v
	}
	const hex = "0123456789abcdef"
	b := make([]byte, 0, len(v)+len(v)/2)
	b = append(b, v[:i]...)
	for i < len(v) {
		if v[i] < utf8.RuneSelf {
			b = append(b, v[i])
			i++
			continue
		}
		r, n := utf8.DecodeRune(v[i:])
		i += n
		if r > 0xFFFF {
			r -= 0x10000
			for _, u := range [2]rune{0xD800 + r>>10, 0xDC00 + r&0x3FF} {
				b = append(b, '\\', 'u', hex[u>>12], hex[u>>8&15], hex[u>>4&15], hex[u&15])
			}
			continue
		}
		b = append(b, '\\', 'u', hex[r>>12], hex[r>>8&15], hex[r>>4&15], hex[r&15])
	}
	return b
}
