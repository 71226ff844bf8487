package rewrite

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestTagEditsResolve checks what attribute edits do to a start tag,
// before any byte is written: per attribute keep (k), drop (d) or set
// (s, with the edit whose value it takes, c for the class list), the
// attributes added (edit index, or c), the edits counted as applied,
// and those refused (values of the request where they would be code).
func TestTagEditsResolve(t *testing.T) {
	set := func(name, v string) Edit { return Edit{Op: SetAttr, Attr: name, Value: v} }
	value := func(name, v string) Edit { return Edit{Op: SetAttr, Attr: name, Value: v, Interpolated: true} }
	rm := func(name string) Edit { return Edit{Op: RemoveAttr, Attr: name} }
	add := func(c string) Edit { return Edit{Op: AddClass, Attr: c} }
	del := func(c string) Edit { return Edit{Op: RemoveClass, Attr: c} }
	for _, tc := range []struct {
		name  string
		attrs string // names of the tag's attributes
		class string // the value of its first class attribute
		tag   string
		edits []Edit
		// want: "ops | added | applied | class", or "" when the tag
		// passes as it is; then "refused" and the edits refused.
		want string
	}{
		{"no attribute edit", "id", "", "p", nil, ""},
		{"set an attribute the tag has", "id href", "", "p", []Edit{set("href", "/x")}, "k s0 | | 0 | "},
		{"set one it has not", "id", "", "p", []Edit{set("title", "t")}, "k | 0 | 0 | "},
		{"the first edit of a name wins, in any case", "HREF", "", "p", []Edit{set("href", "/a"), set("Href", "/b")}, "s0 | | 0 | "},
		{"remove", "id href", "", "p", []Edit{rm("href")}, "k d | | 0 | "},
		{"remove what is not there", "id", "", "p", []Edit{rm("href")}, "k | | | changed=false"},
		{"remove a duplicate too", "href href", "", "p", []Edit{rm("href")}, "d d | | 0 | "},
		{"add a class to the list", "class", "a", "p", []Edit{add("b")}, "sc | | 0 | a b"},
		// The class edits decide a class attribute: it is written again,
		// even when no word changes.
		{"add a class it has", "class", "a b", "p", []Edit{add("b")}, "sc | | | a b"},
		{"add a class, no class attribute", "id", "", "p", []Edit{add("b")}, "k | c | 0 | b"},
		{"remove the last class", "id class", "a", "p", []Edit{del("a")}, "k d | | 0 | "},
		{"set class, then add to it", "class", "old", "p", []Edit{set("class", "x"), add("y")}, "sc | | 1 0 | x y"},
		{"remove class, then add", "class", "old", "p", []Edit{rm("class"), add("y")}, "sc | | 1 0 | y"},
		// No class attribute: the set adds it, whatever the class edits
		// change (they changed nothing, and the tag passed as it was).
		{"set class, then remove one it has not, no class attribute", "id", "", "p", []Edit{set("class", "fresh"), del("old")}, "k | c | 0 | fresh"},
		{"set class, then add one it has, no class attribute", "id", "", "p", []Edit{set("class", "sale"), add("sale")}, "k | c | 0 | sale"},
		{"interpolated address of a script: never", "src", "", "script", []Edit{value("src", "/x")}, " refused 0"},
		{"a literal address is the rule author's", "src", "", "script", []Edit{set("src", "/x")}, "s0 | | 0 | "},
		{"in any case", "src", "", "SCRIPT", []Edit{value("SRC", "/x")}, " refused 0"},
		{"an svg script's address", "", "", "script", []Edit{value("xlink:href", "/x")}, " refused 0"},
		{"a literal refused value lets the next edit win", "src", "", "script", []Edit{value("src", "/x"), set("src", "/y")}, "s1 | | 1 | refused 0"},
		{"refused only where it would have won", "src", "", "script", []Edit{set("src", "/y"), value("src", "/x")}, "s0 | | 0 | "},
		{"a code attribute, whatever the tag", "", "", "p", []Edit{value("onclick", "x"), value("STYLE", "x"), value("http-equiv", "refresh")}, " refused 0 1 2"},
		{"a script's type", "type", "", "script", []Edit{value("type", "module")}, " refused 0"},
		{"a script's language", "", "", "script", []Edit{value("language", "javascript")}, " refused 0"},
		{"a style's type", "", "", "style", []Edit{value("type", "text/css")}, " refused 0"},
		{"a link's rel", "href", "", "link", []Edit{value("rel", "stylesheet")}, " refused 0"},
		{"a meta's charset", "charset", "", "meta", []Edit{value("charset", "iso-2022-jp")}, " refused 0"},
		{"an object's type", "data", "", "object", []Edit{value("type", "text/html")}, " refused 0"},
		{"another element's type", "type", "", "input", []Edit{value("type", "text")}, "s0 | | 0 | "},
		{"a literal type is the rule author's", "type", "", "script", []Edit{set("type", "module")}, "s0 | | 0 | "},
		{"meta content with http-equiv", "http-equiv content", "", "meta", []Edit{value("content", "0")}, " refused 0"},
		{"meta content with http-equiv in any case", "HTTP-EQUIV content", "", "META", []Edit{value("Content", "0")}, " refused 0"},
		{"meta content without http-equiv", "name content", "", "meta", []Edit{value("content", "0")}, "k s0 | | 0 | "},
		{"http-equiv set before the content", "name content", "", "meta", []Edit{set("http-equiv", "refresh"), value("content", "0")}, "k k | 0 | 0 | refused 1"},
		{"http-equiv set after the content", "name content", "", "meta", []Edit{value("content", "0"), set("http-equiv", "refresh")}, "k k | 1 | 1 | refused 0"},
		{"http-equiv removed", "http-equiv content", "", "meta", []Edit{value("content", "0"), rm("http-equiv")}, "d s0 | | 1 0 | "},
		{"http-equiv removed after a later edit sets it", "content", "", "meta", []Edit{rm("http-equiv"), value("content", "0"), set("http-equiv", "refresh")}, "s1 | | 1 | "},
		{"http-equiv from a value is refused, and does not count", "content", "", "meta", []Edit{value("http-equiv", "refresh"), value("content", "0")}, "s1 | | 1 | refused 0"},
		{"content of another element", "http-equiv content", "", "div", []Edit{value("content", "0")}, "k s0 | | 0 | "},
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
			// Both ways of finding a name's winner: a scan, and a map.
			for _, scan := range []int{16, 0} {
				got := resolved(tc.edits, m, names, class, tc.tag, scan)
				if want := strings.ReplaceAll(tc.want, "  ", " "); got != want {
					t.Errorf("scanning up to %d: got  %q\nwant %q", scan, got, want)
				}
			}
		})
	}
}

// resolved is what tagEdits.resolve makes of edits, written as
// TestTagEditsResolve's want, with scanWinners set to scan.
func resolved(edits []Edit, m []int32, names [][]byte, class []byte, tag string, scan int) string {
	defer func(n int) { scanWinners = n }(scanWinners)
	scanWinners = scan
	var te tagEdits
	got := ""
	if te.resolve(edits, m, names, class, []byte(tag), "") {
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
	}
	if len(te.refused) > 0 {
		got += " refused"
		for _, i := range te.refused {
			got += " " + fmt.Sprint(i)
		}
	}
	return strings.ReplaceAll(got, "  ", " ")
}

// TestTagEditsResolveAtScale: with many attribute edits on one tag, the
// map that finds each name's winner agrees with the scan, on random
// edits and tags whose names repeat in any case.
func TestTagEditsResolveAtScale(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	// KELVIN SIGN, which Unicode folds to k and HTML does not.
	pool := []string{"href", "HREF", "Title", "title", "class", "data-x", "DATA-X", "src", "content", "http-equiv", "type", "k", "\u212a"}
	tags := []string{"a", "script", "meta", "p"}
	for range 500 {
		var edits []Edit
		for range 20 + rng.IntN(60) {
			name := pool[rng.IntN(len(pool))]
			switch rng.IntN(5) {
			case 0:
				edits = append(edits, Edit{Op: RemoveAttr, Attr: name})
			case 1:
				edits = append(edits, Edit{Op: AddClass, Attr: pool[rng.IntN(3)]})
			case 2:
				edits = append(edits, Edit{Op: SetAttr, Attr: name, Value: "v", Interpolated: true})
			default:
				edits = append(edits, Edit{Op: SetAttr, Attr: name, Value: "v"})
			}
		}
		m := make([]int32, len(edits))
		for i := range m {
			m[i] = int32(i)
		}
		var names [][]byte
		for range rng.IntN(6) {
			names = append(names, []byte(pool[rng.IntN(len(pool))]))
		}
		tag := tags[rng.IntN(len(tags))]
		if scan, mapped := resolved(edits, m, names, []byte("a b"), tag, 1<<30), resolved(edits, m, names, []byte("a b"), tag, 0); scan != mapped {
			t.Fatalf("<%s %s> with %v:\nscan %q\nmap  %q", tag, names, edits, scan, mapped)
		}
	}
	// Thousands of edits of as many names, on a tag that has them all:
	// each tag used to cost their square.
	var edits []Edit
	var names [][]byte
	for i := range 5000 {
		edits = append(edits, Edit{Op: SetAttr, Attr: fmt.Sprintf("data-%d", i), Value: "v"})
		names = append(names, fmt.Appendf(nil, "DATA-%d", i))
	}
	m := make([]int32, len(edits))
	for i := range m {
		m[i] = int32(i)
	}
	var te tagEdits
	if !te.resolve(edits, m, names, nil, []byte("a"), "") || len(te.applied) != 5000 || len(te.add) != 0 {
		t.Fatalf("applied %d, added %d", len(te.applied), len(te.add))
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
