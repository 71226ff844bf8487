package rewrite

import (
	"bytes"
	"strings"
)

// codeAttrs says which attributes of a start tag decide what code the
// page runs (see Rewriter.codeAttrs): an edit that interpolates request
// values never sets them.
type codeAttrs uint8

const (
	codeNone    codeAttrs = iota
	codeAddress           // script, base, link: src, href, xlink:href
	codeContent           // meta with http-equiv: content
)

// has reports whether attribute name is one of them.
func (c codeAttrs) has(name string) bool {
	switch c {
	case codeAddress:
		return strings.EqualFold(name, "src") || strings.EqualFold(name, "href") || strings.EqualFold(name, "xlink:href")
	case codeContent:
		return strings.EqualFold(name, "content")
	}
	return false
}

// attrOp is what a start tag's attribute edits do to one of its
// attributes: keep its bytes (the zero value), drop it, or write it with
// the value of edit (SetAttr), or with the new class list (edit < 0).
type attrOp struct {
	drop, set bool
	edit      int32
}

// newAttr is an attribute the edits add after the tag's own: edit's
// (SetAttr), or class with the new class list (edit < 0).
type newAttr struct{ edit int32 }

// tagEdits is what the attribute edits of one start tag do, resolved
// before a byte is written: per attribute of the tag an attrOp, the
// attributes added, the edits that applied (an index per application)
// and whether the tag changes at all. Its slices are reused from tag to
// tag.
type tagEdits struct {
	ops     []attrOp
	add     []newAttr
	applied []int32
	changed bool

	// class is the new class list, when class edits apply.
	class []byte

	winners []int32
	done    []bool
	// names holds the tag's attribute names, for the caller to fill.
	names [][]byte
}

// resolve works out what the attribute edits among m (indexes into
// edits) do to a start tag whose attributes are named names, whose first
// class attribute has the value class (nil when it has none), and whose
// code attributes are code. It reports false when no edit can change the
// tag, which then passes as it is.
//
// Per attribute name the first SetAttr or RemoveAttr wins; AddClass and
// RemoveClass all apply, in order, to the class list a winning SetAttr
// or RemoveAttr of class leaves (or the tag's own).
func (t *tagEdits) resolve(edits []Edit, m []int32, names [][]byte, class []byte, code codeAttrs) bool {
	t.ops, t.add, t.applied, t.changed = t.ops[:0], t.add[:0], t.applied[:0], false
	win := t.winners[:0]
	classOps := false
	for _, i := range m {
		e := &edits[i]
		switch e.Op {
		case SetAttr, RemoveAttr:
			if e.Op == SetAttr && e.Interpolated && code.has(e.Attr) {
				continue
			}
			first := true
			for _, j := range win {
				if strings.EqualFold(edits[j].Attr, e.Attr) {
					first = false
					break
				}
			}
			if first {
				win = append(win, i)
			}
		case AddClass, RemoveClass:
			classOps = true
		}
	}
	t.winners = win
	if len(win) == 0 && !classOps {
		return false
	}

	// The new class list, when class edits apply.
	cl := t.class[:0]
	classSet := -1 // the winning SetAttr or RemoveAttr of class, if any
	if classOps {
		for _, i := range win {
			if strings.EqualFold(edits[i].Attr, "class") {
				classSet = int(i)
			}
		}
		switch {
		case classSet >= 0 && edits[classSet].Op == SetAttr:
			cl = append(cl, edits[classSet].Value...)
		case classSet < 0:
			cl = append(cl, class...)
		}
		for _, i := range m {
			e := &edits[i]
			switch e.Op {
			case AddClass:
				if !hasWord(cl, e.Attr) {
					if trimmed := bytes.TrimRight(cl, " \t\n\r\f"); len(trimmed) > 0 {
						cl = append(trimmed, ' ')
					} else {
						cl = cl[:0]
					}
					cl = append(cl, e.Attr...)
					t.applied = append(t.applied, i)
					t.changed = true
				}
			case RemoveClass:
				if hasWord(cl, e.Attr) {
					cl = removeWord(cl, e.Attr)
					t.applied = append(t.applied, i)
					t.changed = true
				}
			}
		}
	}
	t.class = cl

	done := t.done[:0]
	for range win {
		done = append(done, false)
	}
	classDone := false
	for _, name := range names {
		k := -1
		for j, i := range win {
			if bytes.EqualFold(name, []byte(edits[i].Attr)) {
				k = j
				break
			}
		}
		isClass := classOps && equalFold(name, "class")
		var op attrOp
		switch {
		case isClass && !classDone:
			// The class edits decide this attribute's value.
			classDone = true
			if k >= 0 {
				t.applied = append(t.applied, win[k])
				done[k] = true
			}
			t.changed = true
			if len(cl) == 0 {
				op.drop = true
			} else {
				op.set, op.edit = true, -1
			}
		case isClass && k >= 0 && edits[win[k]].Op == RemoveAttr:
			op.drop = true // a duplicate, which removing the first would expose
		case k >= 0 && edits[win[k]].Op == RemoveAttr:
			if !done[k] {
				t.applied = append(t.applied, win[k])
				done[k] = true
			}
			t.changed = true
			op.drop = true
		case k >= 0 && !done[k]:
			done[k] = true
			t.applied = append(t.applied, win[k])
			t.changed = true
			op.set, op.edit = true, win[k]
		}
		t.ops = append(t.ops, op)
	}
	for k, i := range win {
		e := &edits[i]
		if done[k] || e.Op != SetAttr || classOps && strings.EqualFold(e.Attr, "class") {
			continue
		}
		t.add = append(t.add, newAttr{i})
		t.applied = append(t.applied, i)
		t.changed = true
	}
	if classOps && !classDone && len(cl) > 0 {
		if classSet >= 0 {
			t.applied = append(t.applied, int32(classSet))
		}
		t.add = append(t.add, newAttr{-1})
	}
	t.done = done
	return true
}
