package rewrite

import (
	"bytes"

	"github.com/bespoke-edge/bespoke/internal/escape"
)

// attrIntoCode reports whether edit e, a SetAttr, would write values of
// the request into an attribute of the start tag named tag, whose own
// attributes are named names, where they would be or choose code the
// page runs, with the attributes as the edits among m leave them: a code
// attribute (an event handler, style, srcdoc, http-equiv ...), the
// address of a script, style sheet or base, an attribute that decides
// whether a <script> or <style> runs (type, language ...), the content
// of a <meta> that has http-equiv, from the page or from an edit, in
// whichever order the edits come (package escape says which).
//
// metaName is the value of the tag's own name attribute, for a <meta>.
func attrIntoCode(e *Edit, edits []Edit, m []int32, names [][]byte, tag []byte, metaName string) bool {
	if e.Op != SetAttr || !e.Interpolated {
		return false
	}
	if k, _ := escape.AttrKind(e.Attr); k == escape.Code {
		return true
	}
	return escape.ElementAttrCode(bstr(tag), e.Attr,
		func(name string) bool { return hasAttr(edits, m, names, tag, name) },
		func(name string) string { return valueAfterEdits(edits, m, name, metaName) }) != ""
}

// valueAfterEdits is the value of the name attribute of a <meta> once the
// edits among m apply (the first SetAttr or RemoveAttr of it decides),
// else the tag's own, metaName (the only attribute ElementAttrCode asks
// the value of).
func valueAfterEdits(edits []Edit, m []int32, name, metaName string) string {
	for _, i := range m {
		e := &edits[i]
		if (e.Op == SetAttr || e.Op == RemoveAttr) && equalFoldASCII(e.Attr, name) {
			return e.Value // "" for RemoveAttr
		}
	}
	if name == "name" {
		return metaName
	}
	return ""
}

// hasAttr reports whether the start tag named tag, whose attributes are
// named names, has attribute name once the edits among m apply: the
// first SetAttr or RemoveAttr of it decides (but one of values of the
// request that the tag refuses whatever its other attributes, as
// http-equiv's always is), else the tag itself.
func hasAttr(edits []Edit, m []int32, names [][]byte, tag []byte, name string) bool {
	for _, i := range m {
		e := &edits[i]
		if e.Op != SetAttr && e.Op != RemoveAttr || !equalFoldASCII(e.Attr, name) {
			continue
		}
		if e.Op == SetAttr && e.Interpolated {
			if k, _ := escape.AttrKind(e.Attr); k == escape.Code || escape.TagAttrCode(bstr(tag), e.Attr) != "" {
				continue
			}
		}
		return e.Op == SetAttr
	}
	for _, n := range names {
		if equalFold(n, name) {
			return true
		}
	}
	return false
}

// scanWinners is how many attribute edits a tag may have for resolve to
// find an attribute's winner by scanning them; past it, by a map. (A
// variable for the tests, which run both ways.)
var scanWinners = 16

// appendLowerASCII appends s with ASCII letters lower-cased, as HTML
// compares attribute names.
func appendLowerASCII(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		dst = append(dst, lowerByte(s[i]))
	}
	return dst
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
	// refused are the edits that would have set an attribute with
	// values of the request where they would be code (attrIntoCode), and
	// were not applied.
	refused []int32

	winners []int32
	done    []bool
	// byName maps an attribute name, lower-cased, to its winner's index
	// in winners, when the tag has more edits than a scan of the winners
	// is quick for (a rule file that sets thousands of attributes on
	// one element made each tag cost their square); key is scratch.
	byName map[string]int32
	key    []byte
	// names holds the tag's attribute names, for the caller to fill.
	names [][]byte
}

// resolve works out what the attribute edits among m (indexes into
// edits) do to a start tag named tag, whose attributes are named names,
// and whose first class attribute has the value class (nil when it has
// none). It reports false when no edit can change the tag, which then
// passes as it is.
//
// Per attribute name the first SetAttr or RemoveAttr wins; AddClass and
// RemoveClass all apply, in order, to the class list a winning SetAttr
// or RemoveAttr of class leaves (or the tag's own). A SetAttr that would
// write values of the request where they would be code (attrIntoCode) does
// not apply, and a later edit of the name may win instead; it is listed
// in refused when it would have won.
func (t *tagEdits) resolve(edits []Edit, m []int32, names [][]byte, class []byte, tag []byte, metaName string) bool {
	t.ops, t.add, t.applied, t.refused, t.changed = t.ops[:0], t.add[:0], t.applied[:0], t.refused[:0], false
	win := t.winners[:0]
	classOps := false
	mapped := len(m) > scanWinners
	if mapped {
		if t.byName == nil {
			t.byName = make(map[string]int32, len(m))
		}
		clear(t.byName)
	}
	for _, i := range m {
		e := &edits[i]
		switch e.Op {
		case SetAttr, RemoveAttr:
			first := true
			if mapped {
				t.key = appendLowerASCII(t.key[:0], e.Attr)
				_, taken := t.byName[string(t.key)]
				first = !taken
			} else {
				for _, j := range win {
					if equalFoldASCII(edits[j].Attr, e.Attr) {
						first = false
						break
					}
				}
			}
			if attrIntoCode(e, edits, m, names, tag, metaName) {
				if first {
					t.refused = append(t.refused, i)
				}
				continue
			}
			if first {
				if mapped {
					t.byName[string(t.key)] = int32(len(win))
				}
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
			if equalFoldASCII(edits[i].Attr, "class") {
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
		if mapped {
			t.key = appendLowerASCII(t.key[:0], bstr(name))
			if j, ok := t.byName[string(t.key)]; ok {
				k = int(j)
			}
		} else {
			for j, i := range win {
				if asciiFold(name, edits[i].Attr) {
					k = j
					break
				}
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
		if done[k] || e.Op != SetAttr || classOps && equalFoldASCII(e.Attr, "class") {
			continue
		}
		t.add = append(t.add, newAttr{i})
		t.applied = append(t.applied, i)
		t.changed = true
	}
	if classOps && !classDone && len(cl) > 0 {
		if classSet >= 0 {
			// A SetAttr of class the class edits left as it was: it adds
			// the attribute all the same.
			t.applied = append(t.applied, int32(classSet))
			t.changed = true
		}
		t.add = append(t.add, newAttr{-1})
	}
	t.done = done
	return true
}

// equalFoldASCII reports whether a and b are equal with ASCII letters
// in any case, as HTML compares attribute names (the tokenizer lowers
// ASCII letters only: KELVIN SIGN is no k).
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerByte(a[i]) != lowerByte(b[i]) {
			return false
		}
	}
	return true
}
