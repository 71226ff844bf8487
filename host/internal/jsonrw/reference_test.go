package jsonrw

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/jsonpath"
)

// node is a JSON value as encoding/json decodes it, with an object's
// members in order, repeated keys included: the reference the edits are
// compared against.
type node struct {
	kind byte // 'o' object, 'a' array, 's' string, 'v' another scalar
	keys []string
	vals []*node
	text string // a string's text; another scalar as written
}

func decodeNode(t *testing.T, b []byte) *node {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	n, err := readNode(d)
	if err == nil {
		if _, err2 := d.Token(); err2 != io.EOF {
			err = fmt.Errorf("more after the value: %v", err2)
		}
	}
	if err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	return n
}

func readNode(d *json.Decoder) (*node, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		n := &node{kind: 'a'}
		if v == '{' {
			n.kind = 'o'
		}
		for d.More() {
			if n.kind == 'o' {
				k, err := d.Token()
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k.(string))
			}
			c, err := readNode(d)
			if err != nil {
				return nil, err
			}
			n.vals = append(n.vals, c)
		}
		_, err := d.Token()
		return n, err
	case string:
		return &node{kind: 's', text: v}, nil
	case json.Number:
		return &node{kind: 'v', text: v.String()}, nil
	default:
		return &node{kind: 'v', text: fmt.Sprint(v)}, nil
	}
}

func (n *node) clone() *node {
	c := *n
	c.keys = slices.Clone(n.keys)
	c.vals = make([]*node, len(n.vals))
	for i, v := range n.vals {
		c.vals[i] = v.clone()
	}
	return &c
}

func (n *node) equal(m *node) bool {
	if n.kind != m.kind || n.text != m.text || !slices.Equal(n.keys, m.keys) || len(n.vals) != len(m.vals) {
		return false
	}
	for i := range n.vals {
		if !n.vals[i].equal(m.vals[i]) {
			return false
		}
	}
	return true
}

// refLocate is where steps lead in n: the container and the index of the
// value in it (nil, -1 for n itself). Of repeated keys the last; a
// wildcard takes the first key that matches, then its last member.
func refLocate(n *node, steps []jsonpath.Step) (parent *node, at int, ok bool) {
	cur, parent, at := n, (*node)(nil), -1
	for _, st := range steps {
		found := -1
		switch {
		case cur.kind == 'o':
			name := st.Name
			if st.Wild {
				name = ""
				for _, k := range cur.keys {
					if jsonpath.Match(k, st.Name) {
						name = k
						found = 0
						break
					}
				}
				if found < 0 {
					return nil, 0, false
				}
				found = -1
			}
			for i, k := range cur.keys {
				if k == name {
					found = i
				}
			}
		case cur.kind == 'a' && st.Index >= 0 && st.Index < len(cur.vals):
			found = st.Index
		}
		if found < 0 {
			return nil, 0, false
		}
		parent, at, cur = cur, found, cur.vals[found]
	}
	return parent, at, true
}

func refValue(root, parent *node, at int) *node {
	if parent == nil {
		return root
	}
	return parent.vals[at]
}

// refApply applies e to root as the documentation says, and returns the
// new root.
func refApply(t *testing.T, root *node, e Edit, seen map[string]int) *node {
	steps, err := jsonpath.Parse(e.Path)
	if err != nil {
		return root
	}
	parent, at, ok := refLocate(root, steps)
	switch e.Op {
	case Set:
		v := decodeNode(t, e.Value)
		if ok {
			if parent == nil {
				return v
			}
			parent.vals[at] = v
			return root
		}
		k := len(steps) - 1
		for ; k >= 0; k-- {
			if steps[k].Kind != jsonpath.Key || steps[k].Wild {
				return root
			}
			if k == 0 {
				break
			}
			if _, _, ok := refLocate(root, steps[:k]); ok {
				break
			}
		}
		p, pat, ok := refLocate(root, steps[:k])
		obj := refValue(root, p, pat)
		if !ok || obj.kind != 'o' {
			return root
		}
		for j := len(steps) - 1; j > k; j-- {
			v = &node{kind: 'o', keys: []string{steps[j].Name}, vals: []*node{v}}
		}
		obj.keys = append(obj.keys, steps[k].Name)
		obj.vals = append(obj.vals, v)
	case Remove:
		if !ok || parent == nil {
			return root
		}
		if parent.kind == 'a' {
			parent.vals = slices.Delete(parent.vals, at, at+1)
			return root
		}
		key := parent.keys[at]
		for i := len(parent.keys) - 1; i >= 0; i-- {
			if parent.keys[i] == key {
				parent.keys = slices.Delete(parent.keys, i, i+1)
				parent.vals = slices.Delete(parent.vals, i, i+1)
			}
		}
	case Limit, Reorder, HideSeen:
		arr := refValue(root, parent, at)
		if !ok || arr.kind != 'a' {
			return root
		}
		idSteps, _ := jsonpath.Parse(e.ID)
		id := func(el *node) (string, bool) {
			p, a, ok := refLocate(el, idSteps)
			if !ok {
				return "", false
			}
			v := refValue(el, p, a)
			switch {
			case v.kind == 's':
				return v.text, true
			case v.kind == 'v':
				return v.text, true
			}
			return "", false // (objects and arrays are not ids in the corpus)
		}
		switch e.Op {
		case Limit:
			if e.N >= 0 && len(arr.vals) > e.N {
				arr.vals = arr.vals[:e.N]
			}
		case Reorder:
			used := make([]bool, len(arr.vals))
			var out []*node
			for _, want := range e.Order {
				for i, el := range arr.vals {
					if s, ok := id(el); ok && !used[i] && s != "" && s == want {
						used[i] = true
						out = append(out, el)
						break
					}
				}
			}
			for i, el := range arr.vals {
				if !used[i] {
					out = append(out, el)
				}
			}
			arr.vals = out
		case HideSeen:
			rec := make([]int, len(arr.vals))
			var seenAt []int
			for i, el := range arr.vals {
				if s, ok := id(el); ok && el.kindOfID(idSteps) == 's' {
					rec[i] = seen[s]
				}
				if rec[i] > 0 {
					seenAt = append(seenAt, i)
				}
			}
			slices.SortStableFunc(seenAt, func(a, b int) int { return rec[a] - rec[b] })
			var out []*node
			if e.Demote {
				for i, el := range arr.vals {
					if rec[i] == 0 {
						out = append(out, el)
					}
				}
				for _, i := range seenAt {
					out = append(out, arr.vals[i])
				}
			} else {
				visible := len(arr.vals) - len(seenAt)
				for _, i := range seenAt {
					if visible >= max(e.N, 0) {
						break
					}
					rec[i] = 0
					visible++
				}
				for i, el := range arr.vals {
					if rec[i] == 0 {
						out = append(out, el)
					}
				}
			}
			arr.vals = out
		}
	}
	return root
}

// kindOfID is the kind of the value at an element's id path ('s' for a
// string), 0 when there is none.
func (n *node) kindOfID(steps []jsonpath.Step) byte {
	p, a, ok := refLocate(n, steps)
	if !ok {
		return 0
	}
	return refValue(n, p, a).kind
}

// mapSeen is a SeenSet of string ids and their recency.
type mapSeen map[string]int

func (m mapSeen) Recency(id string) int { return m[id] }
func (m mapSeen) Shown(string)          {}

// refKeys are an object's keys in the corpus: some a path must escape,
// some written with escapes in the document, some repeated.
var refKeys = []string{"a", "b", "id", "a.b", "*", "a?", "é", "#", "@x", "0", "10", "x y", `q"t`, `b\s`, "|", "😀", "items"}

// refJSONKey writes key as the document has it: plain, or escaped in
// every way JSON allows.
func refJSONKey(r *rand.Rand, key string) string {
	if r.IntN(3) > 0 {
		q, _ := json.Marshal(key)
		return string(q)
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range key {
		switch {
		case c > 0xFFFF:
			c -= 0x10000
			fmt.Fprintf(&b, `\u%04X\u%04x`, 0xD800+c>>10, 0xDC00+c&0x3FF)
		default:
			fmt.Fprintf(&b, `\u%04x`, c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

var refScalars = []string{`0`, `-0`, `1e400`, `123456789012345678901234567890`, `1.5E-3`, `-1e+2`, `true`, `false`, `null`,
	`"s"`, `"\ud83d\ude00"`, `"\u00e9t\u00E9"`, `"\ud800"`, `"a\"b\\c\/"`, `"\u2028"`, `""`, `"1"`, `"2"`, `"x"`}

func refWS(r *rand.Rand, b *strings.Builder) {
	if r.IntN(3) == 0 {
		b.WriteString(" \t\n\r  "[r.IntN(4):][:1+r.IntN(2)])
	}
}

// refDoc writes a random document: objects with repeated and escaped
// keys, arrays of objects with ids, scalars of every form, space
// anywhere, sometimes deep.
func refDoc(r *rand.Rand, b *strings.Builder, depth int) {
	refWS(r, b)
	k := r.IntN(8)
	if depth <= 0 {
		k = 7
	}
	switch {
	case k == 0 && depth > 3 && r.IntN(4) == 0:
		// A deep chain.
		n := 20 + r.IntN(60)
		for range n {
			b.WriteString(`{"a":`)
		}
		refDoc(r, b, 1)
		b.WriteString(strings.Repeat("}", n))
	case k < 3:
		b.WriteByte('{')
		for i := range r.IntN(5) {
			if i > 0 {
				b.WriteByte(',')
			}
			refWS(r, b)
			b.WriteString(refJSONKey(r, refKeys[r.IntN(len(refKeys))]))
			refWS(r, b)
			b.WriteByte(':')
			refDoc(r, b, depth-1)
		}
		refWS(r, b)
		b.WriteByte('}')
	case k < 5:
		b.WriteByte('[')
		for i := range r.IntN(6) {
			if i > 0 {
				b.WriteByte(',')
			}
			if r.IntN(2) == 0 {
				// An item with an id.
				fmt.Fprintf(b, `{"id":%s,"n":%d}`, refScalars[10+r.IntN(len(refScalars)-10)], i)
				continue
			}
			refDoc(r, b, depth-1)
		}
		refWS(r, b)
		b.WriteByte(']')
	default:
		b.WriteString(refScalars[r.IntN(len(refScalars))])
	}
	refWS(r, b)
}

// refPath picks a path in n: a random walk, its keys escaped as gjson
// reads them, sometimes a wildcard or a key no member has.
func refPath(r *rand.Rand, n *node) string {
	var parts []string
	for n != nil && r.IntN(5) > 0 {
		switch {
		case n.kind == 'o' && len(n.keys) > 0:
			i := r.IntN(len(n.keys))
			k := n.keys[i]
			if k == "" {
				return "@this"
			}
			var b strings.Builder
			for _, c := range k {
				if c < 0x80 && !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
					b.WriteByte('\\')
				}
				b.WriteRune(c)
			}
			p := b.String()
			if r.IntN(6) == 0 && len(k) > 1 && k[0] >= 'a' && k[0] <= 'z' {
				p = k[:1] + "*"
			}
			parts = append(parts, p)
			n = n.vals[i]
		case n.kind == 'a' && len(n.vals) > 0:
			i := r.IntN(len(n.vals) + 1)
			parts = append(parts, fmt.Sprint(i))
			if i == len(n.vals) {
				n = nil
				continue
			}
			n = n.vals[i]
		default:
			parts = append(parts, []string{"new", "a", "id"}[r.IntN(3)])
			n = nil
		}
	}
	if len(parts) == 0 {
		return "@this"
	}
	return strings.Join(parts, ".")
}

// TestEditsAgreeWithAReference: on a broad corpus, every edit's document
// is valid JSON and is, read by encoding/json with its members in order,
// what the edit applied to the document encoding/json read makes.
func TestEditsAgreeWithAReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	values := []string{`"v"`, `{"t":1}`, `[1,"é"]`, `null`, `"\u00e9\ud83d\ude00"`, `1e2`}
	fails := 0
	changed := map[Op]int{} // documents each operation changed
	for iter := range 20000 {
		var b strings.Builder
		refDoc(r, &b, 5)
		doc := []byte(b.String())
		if !json.Valid(doc) {
			t.Fatalf("the corpus made invalid JSON: %q", doc)
		}
		in := decodeNode(t, doc)
		e := Edit{Op: Op(1 + r.IntN(5)), Path: refPath(r, in), Value: []byte(values[r.IntN(len(values))]),
			ID: "id", N: r.IntN(4), Order: []string{"x", "2", "1"}, Demote: r.IntN(2) == 0, NoMark: true}
		for try := 0; try < 8 && e.Op >= HideSeen; try++ {
			// Array edits: a path to an array, mostly.
			steps, err := jsonpath.Parse(e.Path)
			if p, a, ok := refLocate(in, steps); err == nil && ok && refValue(in, p, a).kind == 'a' {
				break
			}
			e.Path = refPath(r, in)
		}
		if r.IntN(5) == 0 {
			e.ID = "@this"
		}
		seen := mapSeen{"x": 2, "1": 1, "s": 3, "😀": 1}
		out, _, err := Apply(doc, []Edit{e}, seen)
		if err != nil {
			t.Fatalf("%q: %v", doc, err)
		}
		if !json.Valid(out) {
			t.Fatalf("%+v on %q: invalid %q", e, doc, out)
		}
		if !bytes.Equal(out, doc) {
			changed[e.Op]++
		}
		want := refApply(t, in.clone(), e, seen)
		if got := decodeNode(t, out); !got.equal(want) {
			fails++
			if fails <= 10 {
				wb, _ := json.Marshal(dump(want))
				t.Errorf("#%d: op %d path %q value %s id %q n %d demote %v on\n  %s\ngot  %s\nwant %s", iter, e.Op, e.Path, e.Value, e.ID, e.N, e.Demote, doc, out, wb)
			}
		}
	}
	if fails > 0 {
		t.Errorf("%d edits disagree", fails)
	}
	for op := Set; op <= Reorder; op++ {
		if changed[op] < 100 {
			t.Errorf("operation %d changed %d documents of the corpus: it tests little of it", op, changed[op])
		}
	}
}

// dump is n as Go values, for messages.
func dump(n *node) any {
	switch n.kind {
	case 'o':
		var m []any
		for i, k := range n.keys {
			m = append(m, k, dump(n.vals[i]))
		}
		return map[string]any{"{}": m}
	case 'a':
		var a []any
		for _, v := range n.vals {
			a = append(a, dump(v))
		}
		return a
	}
	return n.text
}
