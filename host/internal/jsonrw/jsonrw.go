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
	"sync"

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
	// edit is done it records the elements the document shows at Path
	// (the first MarkFirst, all when 0, none with NoMark).
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
	idBuf  []byte
	idEnds []int
	steps  [2][8]jsonpath.Step
}

var outputs = sync.Pool{New: func() any { return new(Output) }}

// maxPooled bounds the buffers kept for later documents.
const maxPooled = 64 << 20

// Changed reports whether an edit changed the document.
func (o *Output) Changed() bool { return o != nil && o.cur >= 0 }

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
	clear(o.steps[0][:])
	clear(o.steps[1][:])
	if cap(o.elems) <= 1<<20 && cap(o.idBuf) <= 1<<20 {
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
	o.Applied = append(o.Applied[:0], make([]bool, len(edits))...)
	if err := Validate(doc, maxDepth); err != nil {
		return o, err
	}
	for i := range edits {
		e := &edits[i]
		steps, err := jsonpath.AppendParse(o.steps[0][:0], e.Path)
		if err != nil {
			continue // the checker refuses such paths
		}
		switch e.Op {
		case Set:
			o.Applied[i] = o.set(steps, e.Value)
		case Remove:
			o.Applied[i] = o.remove(steps)
		case HideSeen, Limit, Reorder:
			o.Applied[i] = o.editArray(steps, e, seen)
		}
	}
	// What the visitor is shown, once every edit is done.
	if seen != nil {
		for i := range edits {
			if e := &edits[i]; e.Op == HideSeen && !e.NoMark {
				o.record(e, seen)
			}
		}
	}
	return o, nil
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
}

// set replaces the value the path leads to with value, or adds the
// member when the path's last step is a key its parent object lacks.
func (o *Output) set(steps []jsonpath.Step, value []byte) bool {
	if Validate(value, DefaultMaxDepth) != nil {
		return false
	}
	doc := o.Doc
	if p, ok := locate(doc, steps); ok {
		o.splice(p.value.start, p.value.end, value)
		return true
	}
	last := len(steps) - 1
	if last < 0 || steps[last].Kind != jsonpath.Key || steps[last].Wild {
		return false
	}
	parent, ok := locate(doc, steps[:last])
	if !ok || doc[parent.value.start] != '{' {
		return false
	}
	end := parent.value.end - 1 // the closing brace
	sep := []byte(nil)
	if firstMember(doc, parent.value.start) != end {
		sep = []byte{','}
	}
	o.splice(end, end, sep, quote(steps[last].Name), []byte{':'}, value)
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
// with the same key.
func (o *Output) remove(steps []jsonpath.Step) bool {
	if len(steps) == 0 {
		return false // the whole document
	}
	removed := false
	for {
		p, ok := locate(o.Doc, steps)
		if !ok || p.root {
			return removed
		}
		o.cut(p)
		removed = true
		if last := steps[len(steps)-1]; !p.hasKey || last.Wild || last.Kind != jsonpath.Key {
			// An element, or a member a pattern chose: once.
			return true
		}
	}
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

// elements collects the elements of the array at v into o.elems.
func (o *Output) elements(v span) []span {
	o.elems = o.elems[:0]
	for i := ws(o.Doc, v.start+1); ; {
		e, next, ok := nextElement(o.Doc, i)
		if !ok {
			break
		}
		o.elems = append(o.elems, e)
		i = next
	}
	return o.elems
}

// ids computes each element's id into o.idBuf (o.idEnds[i] ends element
// i's; an element without one has an empty id): the identity, or with
// text its text (see itemID).
func (o *Output) ids(elems []span, idPath string, text bool) {
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
	p, ok := locate(o.Doc, steps)
	if !ok || o.Doc[p.value.start] != '[' {
		return false
	}
	elems := o.elements(p.value)
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
		for _, want := range e.Order {
			for i := range n {
				if used[i] == 0 && len(o.id(i)) > 0 && string(o.id(i)) == want {
					used[i] = 1
					picked = append(picked, int32(i))
					break
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
		byAge := o.byAge[:0]
		for i := range n {
			r := int32(0)
			if id := o.id(i); len(id) > 0 {
				r = int32(seen.Recency(str(id)))
			}
			rec = append(rec, r)
			if r > 0 {
				byAge = append(byAge, int32(i))
			}
		}
		o.rec = rec
		if len(byAge) == 0 {
			o.byAge = byAge
			return false
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
	// The array's new text: its elements in order, separated by commas.
	size := 2
	for k, i := range order {
		if k > 0 {
			size++
		}
		size += elems[i].end - elems[i].start
	}
	doc := o.Doc
	b, k := o.buffer(len(doc) - (p.value.end - p.value.start) + size)
	w := copy(b, doc[:p.value.start])
	b[w] = '['
	w++
	for j, i := range order {
		if j > 0 {
			b[w] = ','
			w++
		}
		w += copy(b[w:], doc[elems[i].start:elems[i].end])
	}
	b[w] = ']'
	w++
	copy(b[w:], doc[p.value.end:])
	o.Doc, o.cur = b, k
	return true
}

// record hands the ids of the elements the document shows at e's path
// (the first e.MarkFirst, or all) to seen.
func (o *Output) record(e *Edit, seen SeenSet) {
	steps, err := jsonpath.AppendParse(o.steps[0][:0], e.Path)
	if err != nil {
		return
	}
	p, ok := locate(o.Doc, steps)
	if !ok || o.Doc[p.value.start] != '[' {
		return
	}
	elems := o.elements(p.value)
	o.ids(elems, e.ID, false)
	marked := 0
	for i := range elems {
		if e.MarkFirst > 0 && marked >= e.MarkFirst {
			return
		}
		if id := o.id(i); len(id) > 0 {
			seen.Shown(str(id))
			marked++
		}
	}
}
