package jsonrw

import (
	"bytes"
	"iter"
	"slices"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/bespoke-edge/bespoke/internal/jsonpath"
)

// The functions of this file walk a document that Validate accepted: they
// rely on its syntax and do not check it again.

// span is a value's bytes in a document: doc[start:end].
type span struct{ start, end int }

// skipString returns the offset after the string whose opening quote is
// at i. Strings in API responses are mostly short: a byte loop looks at
// the first 32 bytes, past which a vector search for quotes takes over.
func skipString(doc []byte, i int) int {
	j := i + 1
	for end := min(j+32, len(doc)); j < end; j++ {
		switch doc[j] {
		case '"':
			return j + 1
		case '\\':
			j++
		}
	}
	for j < len(doc) {
		k := bytes.IndexByte(doc[j:], '"')
		if k < 0 {
			return len(doc)
		}
		q := j + k
		bs := 0
		for p := q - 1; p > i && doc[p] == '\\'; p-- {
			bs++
		}
		if bs%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
	return len(doc)
}

// structural marks the bytes a container's scan stops at.
var structural = func() (t [256]bool) {
	for _, c := range `"{}[]` {
		t[c] = true
	}
	return t
}()

// skipValue returns the offset after the value starting at i.
func skipValue(doc []byte, i int) int {
	switch c := doc[i]; {
	case c == '"':
		return skipString(doc, i)
	case c == '{' || c == '[':
		depth := 0
		for ; i < len(doc); i++ {
			if !structural[doc[i]] {
				continue
			}
			switch doc[i] {
			case '"':
				i = skipString(doc, i) - 1
			case '{', '[':
				depth++
			default: // } ]
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return i
	case c == 't' || c == 'n':
		return i + 4
	case c == 'f':
		return i + 5
	default:
		j, _ := scanNumber(doc, i)
		return j
	}
}

// member is an object's member: its key's quotes and its value.
type member struct {
	key   span // the key, quotes included
	value span
}

// nextMember reads the member at i (a key's opening quote, or the
// object's closing brace) and returns it and the offset of the next one;
// ok is false at the closing brace.
func nextMember(doc []byte, i int) (m member, next int, ok bool) {
	if doc[i] != '"' {
		return m, i, false
	}
	m.key.start = i
	m.key.end = skipString(doc, i)
	j := ws(doc, m.key.end)
	j = ws(doc, j+1) // past the colon
	m.value = span{j, skipValue(doc, j)}
	j = ws(doc, m.value.end)
	if doc[j] == ',' {
		j = ws(doc, j+1)
	}
	return m, j, true
}

// firstMember is the offset of the first member of the object at i (or
// of its closing brace).
func firstMember(doc []byte, i int) int { return ws(doc, i+1) }

// nextElement reads the element at i (a value, or the array's closing
// bracket) and returns it and the offset of the next one; ok is false at
// the closing bracket.
func nextElement(doc []byte, i int) (v span, next int, ok bool) {
	if doc[i] == ']' {
		return v, i, false
	}
	v = span{i, skipValue(doc, i)}
	j := ws(doc, v.end)
	if doc[j] == ',' {
		j = ws(doc, j+1)
	}
	return v, j, true
}

// place is where a path leads in a document.
type place struct {
	value span
	// parent is the object or array holding the value; root says the
	// value is the document's (parent is then empty).
	parent span
	root   bool
	// key is the member's key, quotes included, when the parent is an
	// object.
	key    span
	hasKey bool
}

// locate walks steps from the document's value and returns where they
// lead. Of several members with one key it takes the last, the one a
// last-wins parser keeps (JavaScript's JSON.parse, Go's encoding/json,
// Python's json); a wildcard step takes the first key, in document order,
// that matches, then that key's last member.
func locate(doc []byte, steps []jsonpath.Step) (place, bool) {
	// A valid document is one value with space around it.
	p := place{value: span{ws(doc, 0), skipSpaceBack(doc, len(doc))}, root: true}
	var kb [64]byte
	for _, st := range steps {
		v := p.value
		switch {
		case doc[v.start] == '{' && st.Kind == jsonpath.Key:
			name := st.Name
			found := false
			var m member
			for i := firstMember(doc, v.start); ; {
				mm, next, ok := nextMember(doc, i)
				if !ok {
					break
				}
				i = next
				key := keyText(doc[mm.key.start+1:mm.key.end-1], kb[:0])
				if st.Wild {
					if found && string(key) != name {
						continue
					}
					if !found && !jsonpath.Match(string(key), st.Name) {
						continue
					}
					if !found {
						name = string(key) // the first key matching
					}
				} else if string(key) != name {
					continue
				}
				m, found = mm, true
			}
			if !found {
				return p, false
			}
			p = place{value: m.value, parent: v, key: m.key, hasKey: true}
		case doc[v.start] == '[' && st.Kind == jsonpath.Key:
			if st.Index < 0 {
				return p, false
			}
			n := 0
			found := false
			for i := ws(doc, v.start+1); ; n++ {
				e, next, ok := nextElement(doc, i)
				if !ok {
					break
				}
				if n == st.Index {
					p, found = place{value: e, parent: v}, true
					break
				}
				i = next
			}
			if !found {
				return p, false
			}
		case doc[v.start] == '[' && st.Kind == jsonpath.Query:
			// The first element the query matches, each element read as
			// a last-wins parser reads it: gjson, which evaluates the
			// query, reads the first of a repeated key, so an element
			// that repeats one is given to it without the earlier ones.
			q := "#(" + st.Query + ")"
			found := false
			for e := range elementsOf(doc, v.start) {
				el := doc[e.start:e.end]
				if d, dup := lastWins(el); dup {
					el = d
				}
				one := make([]byte, 0, len(el)+2)
				one = append(append(append(one, '['), el...), ']')
				if gjson.GetBytes(one, q).Exists() {
					p, found = place{value: e, parent: v}, true
					break
				}
			}
			if !found {
				return p, false
			}
		default:
			return p, false
		}
	}
	return p, true
}

// keyText is the text of a key (the bytes between its quotes), decoded
// into b when it has escapes.
func keyText(raw, b []byte) []byte {
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw
	}
	return appendUnquoted(b, raw)
}

// Lookup returns the raw value that steps lead to in doc, read as edits
// read it: of several members with one key, the last. doc must be a
// document Validate accepted. Conditions read request values with it, so
// that a rule and an edit, like the browser's JSON.parse, agree on which
// of two "tier" keys counts.
func Lookup(doc string, steps []jsonpath.Step) (raw string, ok bool) {
	b := unsafe.Slice(unsafe.StringData(doc), len(doc)) // read only
	p, ok := locate(b, steps)
	if !ok {
		return "", false
	}
	return doc[p.value.start:p.value.end], true
}

// lastWins returns a copy of the valid JSON value v in which every object
// keeps only the last member of each key, and true, when some object of
// v repeats a key; otherwise nil and false.
func lastWins(v []byte) ([]byte, bool) {
	cuts := repeatedMembers(v, nil)
	if len(cuts) == 0 {
		return nil, false
	}
	// Cuts are disjoint or nested (an inner object's inside an outer
	// member's); the outer one takes the inner with it.
	slices.SortFunc(cuts, func(a, b span) int { return a.start - b.start })
	out := make([]byte, 0, len(v))
	at := 0
	for _, c := range cuts {
		if c.start < at {
			continue
		}
		out = append(out, v[at:c.start]...)
		at = c.end
	}
	return append(out, v[at:]...), true
}

// hasRepeatedKey reports whether an object of the valid value v, at any
// depth, repeats a key.
func hasRepeatedKey(v []byte) bool { return len(repeatedMembers(v, nil)) > 0 }

// repeatedMembers appends to cuts, for each member of an object of the
// valid value v (at any depth) that a later member of the same key
// overrides, the bytes that leaving it out removes: from its key to the
// next member's key (the last member of an object is never overridden).
// One pass with a stack of the open objects: a walk that skipped each
// member's value to find the next would read a value once per object
// around it, which an origin's deeply nested document makes quadratic.
func repeatedMembers(v []byte, cuts []span) []span {
	type object struct {
		starts  []int          // the members' key offsets
		last    map[string]int // a key's last member so far
		dropped []int          // members a later one overrides
		obj     bool           // an object, not an array
		wantKey bool
	}
	var stack []object // one entry per open object or array
	var pool []object  // closed entries, reused with their storage
	var kb [64]byte
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			end := skipString(v, i)
			if n := len(stack); n > 0 && stack[n-1].wantKey {
				o := &stack[n-1]
				key := keyText(v[i+1:end-1], kb[:0])
				if k, dup := o.last[string(key)]; dup {
					o.dropped = append(o.dropped, k)
				}
				if o.last == nil {
					o.last = map[string]int{}
				}
				o.last[string(key)] = len(o.starts)
				o.starts = append(o.starts, i)
				o.wantKey = false
			}
			i = end - 1
		case '{', '[':
			var o object
			if n := len(pool); n > 0 {
				o = pool[n-1]
				pool = pool[:n-1]
			}
			o.obj = v[i] == '{'
			o.wantKey = o.obj
			stack = append(stack, o)
		case '}', ']':
			o := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, k := range o.dropped {
				cuts = append(cuts, span{o.starts[k], o.starts[k+1]})
			}
			clear(o.last)
			o.starts, o.dropped, o.wantKey = o.starts[:0], o.dropped[:0], false
			pool = append(pool, o)
		case ',':
			if n := len(stack); n > 0 && stack[n-1].obj {
				stack[n-1].wantKey = true
			}
		}
	}
	return cuts
}

// membersOf yields the members of the object that starts at v[i].
func membersOf(v []byte, i int) iter.Seq[member] {
	return func(yield func(member) bool) {
		for j := firstMember(v, i); ; {
			m, next, ok := nextMember(v, j)
			if !ok || !yield(m) {
				return
			}
			j = next
		}
	}
}

// elementsOf yields the elements of the array that starts at v[i].
func elementsOf(v []byte, i int) iter.Seq[span] {
	return func(yield func(span) bool) {
		for j := ws(v, i+1); ; {
			e, next, ok := nextElement(v, j)
			if !ok || !yield(e) {
				return
			}
			j = next
		}
	}
}

// Get reads path (gjson syntax) in doc, as edits and conditions read it:
// of several members with one key, the last, for a path that names one
// place (package jsonpath); a path that computes a value (#, #.key,
// modifiers) is gjson's. An invalid document has no value.
func Get(doc, path string) gjson.Result {
	if Validate(doc, DefaultMaxDepth) != nil {
		return gjson.Result{}
	}
	steps, err := jsonpath.Parse(path)
	if err != nil {
		return gjson.Get(doc, path)
	}
	raw, ok := Lookup(doc, steps)
	if !ok {
		return gjson.Result{}
	}
	return gjson.Parse(raw)
}
