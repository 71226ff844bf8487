// Package jsonrw personalizes JSON responses: set or remove a value at a
// path, and hide already-seen items, keep the first N, or reorder the
// elements of an array, where paths use gjson syntax ("items",
// "data.banner.title"). The document is edited in place by splicing the
// raw bytes gjson locates, so everything an edit does not touch is copied
// through unchanged, and the output is valid JSON whenever the input is.
//
// JSON is rewritten whole rather than streamed: a path may point anywhere
// in the document. The proxy bounds the size it rewrites; Apply bounds the
// nesting (Validate checks it in one pass, without recursion, before any
// path is looked up), so no document can exhaust the stack.
package jsonrw

import (
	"bytes"
	"errors"

	"github.com/tidwall/gjson"
)

// Op is what an edit does.
type Op uint8

// Operations.
const (
	// Set replaces the value at Path with Value (raw JSON), adding the key
	// when its parent object exists.
	Set Op = iota + 1
	// Remove deletes the value at Path (an object member or an array
	// element).
	Remove
	// HideSeen removes the elements of the array at Path whose ID the
	// SeenSet reports seen, keeping at least N elements (the earliest
	// hidden ones come back first), and records the shown ones.
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
	// Reorder): "id", "sku", "meta.id".
	ID    string
	N     int
	Order []string
}

// SeenSet answers and records "already seen" items for one visitor; nil
// means nothing is seen and nothing recorded.
type SeenSet interface {
	Seen(id string) bool
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
	if err := Validate(doc, maxDepth); err != nil {
		return doc, make([]bool, len(edits)), err
	}
	applied := make([]bool, len(edits))
	// Paths lead into objects and arrays; a scalar document has none.
	if r := skipSpace(doc, 0); r == len(doc) || (doc[r] != '{' && doc[r] != '[') {
		return doc, applied, nil
	}
	out := doc
	for i, e := range edits {
		var changed bool
		switch e.Op {
		case Set:
			out, changed = set(out, e.Path, e.Value)
		case Remove:
			out, changed = remove(out, e.Path)
		case HideSeen, Limit, Reorder:
			out, changed = editArray(out, e, seen)
		}
		applied[i] = changed
	}
	return out, applied, nil
}

// located finds the value at path with a known position.
func located(doc []byte, path string) (gjson.Result, bool) {
	r := gjson.GetBytes(doc, path)
	// gjson reports Index 0 when it cannot place a value (modifiers,
	// queries); such values cannot be spliced.
	if !r.Exists() || r.Index <= 0 {
		return r, false
	}
	if r.Index+len(r.Raw) > len(doc) || string(doc[r.Index:r.Index+len(r.Raw)]) != r.Raw {
		return r, false
	}
	return r, true
}

func splice(doc []byte, start, end int, with []byte) []byte {
	out := make([]byte, 0, len(doc)-(end-start)+len(with))
	out = append(out, doc[:start]...)
	out = append(out, with...)
	return append(out, doc[end:]...)
}

// set replaces the value at path, or adds the member when the parent is an
// object.
func set(doc []byte, path string, value []byte) ([]byte, bool) {
	if Validate(value, DefaultMaxDepth) != nil {
		return doc, false
	}
	if r, ok := located(doc, path); ok {
		return splice(doc, r.Index, r.Index+len(r.Raw), value), true
	}
	parentPath, key, ok := splitPath(path)
	if !ok {
		return doc, false
	}
	var start, end int // the parent object's braces
	if parentPath == "" {
		start, end = skipSpace(doc, 0), skipSpaceBack(doc, len(doc))-1
	} else {
		parent, ok := located(doc, parentPath)
		if !ok {
			return doc, false
		}
		start, end = parent.Index, parent.Index+len(parent.Raw)-1
	}
	if start >= end || doc[start] != '{' || doc[end] != '}' {
		return doc, false
	}
	member := append(quote(key), ':')
	member = append(member, value...)
	if skipSpace(doc, start+1) != end {
		member = append([]byte{','}, member...)
	}
	return splice(doc, end, end, member), true
}

// splitPath splits a plain dotted path into its parent and last key; paths
// with gjson queries or wildcards cannot name a new member.
func splitPath(path string) (parent, key string, ok bool) {
	if path == "" || bytes.ContainsAny([]byte(path), `#*?|@\`) {
		return "", "", false
	}
	i := bytes.LastIndexByte([]byte(path), '.')
	if i < 0 {
		return "", path, true
	}
	return path[:i], path[i+1:], path[i+1:] != ""
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

// remove deletes the value at path with its key (in an object) and one
// separating comma.
func remove(doc []byte, path string) ([]byte, bool) {
	r, ok := located(doc, path)
	if !ok {
		return doc, false
	}
	start, end := r.Index, r.Index+len(r.Raw)
	// In an object, the key and colon go too.
	i := skipSpaceBack(doc, start)
	if i > 0 && doc[i-1] == ':' {
		k := skipSpaceBack(doc, i-1)
		if k > 0 && doc[k-1] == '"' {
			ks := openingQuote(doc, k-1)
			if ks < 0 {
				return doc, false
			}
			start = ks
		}
	}
	// Then one comma: the one after, or else the one before.
	j := skipSpace(doc, end)
	if j < len(doc) && doc[j] == ',' {
		end = skipSpace(doc, j+1)
	} else {
		b := skipSpaceBack(doc, start)
		if b > 0 && doc[b-1] == ',' {
			start = b - 1
		}
	}
	return splice(doc, start, end, nil), true
}

func skipSpace(doc []byte, i int) int {
	for i < len(doc) && (doc[i] == ' ' || doc[i] == '\t' || doc[i] == '\n' || doc[i] == '\r') {
		i++
	}
	return i
}

func skipSpaceBack(doc []byte, i int) int {
	for i > 0 && (doc[i-1] == ' ' || doc[i-1] == '\t' || doc[i-1] == '\n' || doc[i-1] == '\r') {
		i--
	}
	return i
}

// openingQuote finds the quote opening the string whose closing quote is at
// end, honouring escapes.
func openingQuote(doc []byte, end int) int {
	for i := end - 1; i >= 0; i-- {
		if doc[i] != '"' {
			continue
		}
		bs := 0
		for k := i - 1; k >= 0 && doc[k] == '\\'; k-- {
			bs++
		}
		if bs%2 == 0 {
			return i
		}
	}
	return -1
}

// editArray applies HideSeen, Limit or Reorder to the array at e.Path.
func editArray(doc []byte, e Edit, seen SeenSet) ([]byte, bool) {
	r, ok := located(doc, e.Path)
	if !ok || !r.IsArray() {
		return doc, false
	}
	var elems []gjson.Result
	r.ForEach(func(_, v gjson.Result) bool {
		elems = append(elems, v)
		return true
	})
	id := func(v gjson.Result) string {
		x := v.Get(e.ID)
		if x.Type == gjson.String {
			return x.Str
		}
		return x.Raw
	}
	keep := make([]gjson.Result, 0, len(elems))
	switch e.Op {
	case Limit:
		if e.N < 0 || len(elems) <= e.N {
			return doc, false
		}
		keep = append(keep, elems[:e.N]...)
	case HideSeen:
		hidden := make([]bool, len(elems))
		shown := 0
		for i, v := range elems {
			if seen != nil && seen.Seen(id(v)) {
				hidden[i] = true
			} else {
				shown++
			}
		}
		for i := 0; i < len(elems) && shown < e.N; i++ {
			if hidden[i] {
				hidden[i] = false
				shown++
			}
		}
		for i, v := range elems {
			if !hidden[i] {
				keep = append(keep, v)
				if seen != nil {
					seen.Shown(id(v))
				}
			}
		}
		if len(keep) == len(elems) {
			return doc, false
		}
	case Reorder:
		used := make([]bool, len(elems))
		for _, want := range e.Order {
			for i, v := range elems {
				if !used[i] && id(v) == want {
					used[i] = true
					keep = append(keep, v)
					break
				}
			}
		}
		for i, v := range elems {
			if !used[i] {
				keep = append(keep, v)
			}
		}
		same := true
		for i := range keep {
			if keep[i].Index != elems[i].Index {
				same = false
			}
		}
		if same {
			return doc, false
		}
	}
	var b []byte
	b = append(b, '[')
	for i, v := range keep {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, v.Raw...)
	}
	b = append(b, ']')
	return splice(doc, r.Index, r.Index+len(r.Raw), b), true
}
