package rewrite

import (
	"fmt"
	"strings"
	"testing"
)

// TestTagEditsResolve checks what attribute edits do to a start tag,
// before any byte is written: per attribute keep (k), drop (d) or set
// (s, with the edit whose value it takes, c for the class list), the
// attributes added (edit index, or c), and the edits counted as applied.
func TestTagEditsResolve(t *testing.T) {
	set := func(name, v string) Edit { return Edit{Op: SetAttr, Attr: name, Value: v} }
	rm := func(name string) Edit { return Edit{Op: RemoveAttr, Attr: name} }
	add := func(c string) Edit { return Edit{Op: AddClass, Attr: c} }
	del := func(c string) Edit { return Edit{Op: RemoveClass, Attr: c} }
	for _, tc := range []struct {
		name  string
		attrs string // names of the tag's attributes
		class string // the value of its first class attribute
		code  codeAttrs
		edits []Edit
		// want: "ops | added | applied | class", or "" when the tag
		// passes as it is.
		want string
	}{
		{"no attribute edit", "id", "", codeNone, nil, ""},
		{"set an attribute the tag has", "id href", "", codeNone, []Edit{set("href", "/x")}, "k s0 | | 0 | "},
		{"set one it has not", "id", "", codeNone, []Edit{set("title", "t")}, "k | 0 | 0 | "},
		{"the first edit of a name wins, in any case", "HREF", "", codeNone, []Edit{set("href", "/a"), set("Href", "/b")}, "s0 | | 0 | "},
		{"remove", "id href", "", codeNone, []Edit{rm("href")}, "k d | | 0 | "},
		{"remove what is not there", "id", "", codeNone, []Edit{rm("href")}, "k | | | changed=false"},
		{"remove a duplicate too", "href href", "", codeNone, []Edit{rm("href")}, "d d | | 0 | "},
		{"add a class to the list", "class", "a", codeNone, []Edit{add("b")}, "sc | | 0 | a b"},
		// The class edits decide a class attribute: it is written again,
		// even when no word changes.
		{"add a class it has", "class", "a b", codeNone, []Edit{add("b")}, "sc | | | a b"},
		{"add a class, no class attribute", "id", "", codeNone, []Edit{add("b")}, "k | c | 0 | b"},
		{"remove the last class", "id class", "a", codeNone, []Edit{del("a")}, "k d | | 0 | "},
		{"set class, then add to it", "class", "old", codeNone, []Edit{set("class", "x"), add("y")}, "sc | | 1 0 | x y"},
		{"remove class, then add", "class", "old", codeNone, []Edit{rm("class"), add("y")}, "sc | | 1 0 | y"},
		{"interpolated address of a script: never", "src", "", codeAddress, []Edit{{Op: SetAttr, Attr: "src", Value: "/x", Interpolated: true}}, ""},
		{"a literal address is the rule author's", "src", "", codeAddress, []Edit{set("src", "/x")}, "s0 | | 0 | "},
		{"meta content with http-equiv", "http-equiv content", "", codeContent, []Edit{{Op: SetAttr, Attr: "content", Value: "0", Interpolated: true}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var names [][]byte
			for _, n := range strings.Fields(tc.attrs) {
				names = append(names, []byte(n))
			}
			var class []byte
			if tc.class != "" {
				class = []byte(tc.class)
			}
			m := make([]int32, len(tc.edits))
			for i := range m {
				m[i] = int32(i)
			}
			var te tagEdits
			got := ""
			if te.resolve(tc.edits, m, names, class, tc.code) {
				var ops, added, applied []string
				for _, op := range te.ops {
					ops = append(ops, opText(op))
				}
				for _, a := range te.add {
					added = append(added, editText(a.edit))
				}
				for _, i := range te.applied {
					applied = append(applied, fmt.Sprint(i))
				}
				tail := string(te.class)
				if !te.changed {
					tail = "changed=false"
				}
				got = strings.Join(ops, " ") + " | " + strings.Join(added, " ") + " | " + strings.Join(applied, " ") + " | " + tail
				got = strings.ReplaceAll(got, "  ", " ")
			}
			if want := strings.ReplaceAll(tc.want, "  ", " "); got != want {
				t.Errorf("got  %q\nwant %q", got, want)
			}
		})
	}
}

func opText(op attrOp) string {
	switch {
	case op.drop:
		return "d"
	case op.set:
		return "s" + editText(op.edit)
	}
	return "k"
}

func editText(i int32) string {
	if i < 0 {
		return "c"
	}
	return fmt.Sprint(i)
}
