package jsonrw

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/bespoke-edge/bespoke/internal/jsonpath"
)

// visitorSeen is a SeenSet as the host's filter answers: the items shown
// in earlier requests have a recency (2 for the latest request's, 1 for
// older ones), and what a request shows is recorded in order.
type visitorSeen struct {
	recency map[string]int
	shown   []string
}

func (v *visitorSeen) Recency(id string) int { return v.recency[id] }

// Shown keeps a copy: the id is valid only during the call.
func (v *visitorSeen) Shown(id string) { v.shown = append(v.shown, strings.Clone(id)) }

// next makes the items shown the most recent, the others older.
func (v *visitorSeen) next() {
	if v.recency == nil {
		v.recency = map[string]int{}
	}
	for id := range v.recency {
		v.recency[id] = 1
	}
	for _, id := range v.shown {
		v.recency[id] = 2
	}
	v.shown = nil
}

// numbered is {"items":[{"id":"i00"},...]} with n items.
func numbered(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"i%02d"}`, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func itemIDs(t *testing.T, doc []byte, path string) []string {
	t.Helper()
	var out []string
	r := gjson.GetBytes(doc, path)
	if !r.IsArray() {
		t.Fatalf("%s is not an array in %s", path, doc)
	}
	for _, v := range r.Array() {
		out = append(out, v.Get("id").String())
	}
	return out
}

func span2(a, b int) []string {
	var out []string
	for i := a; i < b; i++ {
		out = append(out, fmt.Sprintf("i%02d", i))
	}
	return out
}

// TestRecordAfterEdits: json_hide_seen (keep_at_least 4) then json_limit
// 10 on 20 items, three requests of one visitor: each request records
// what it shows, after the limit, so the second shows the ten not shown
// yet, and the third, with everything seen, the 4 it keeps at least:
// those seen least recently.
func TestRecordAfterEdits(t *testing.T) {
	doc := numbered(20)
	edits := []Edit{{Op: HideSeen, Path: "items", ID: "id", N: 4}, {Op: Limit, Path: "items", N: 10}}
	v := &visitorSeen{}
	for req, want := range [][]string{span2(0, 10), span2(10, 20), span2(0, 4)} {
		out, _, err := Apply(doc, edits, v)
		if err != nil {
			t.Fatal(err)
		}
		if got := itemIDs(t, out, "items"); !slices.Equal(got, want) {
			t.Fatalf("request %d shows %q, want %q", req+1, got, want)
		}
		if !slices.Equal(v.shown, want) {
			t.Fatalf("request %d records %q, want what it shows, %q", req+1, v.shown, want)
		}
		v.next()
	}
}

// TestRecordAfterEditsSpelledOtherwise: an array's items are recorded
// once the last edit of it is done, however that edit spells its path:
// items|0, \items, a wildcard that matches (item*, ite?s), as rules
// written apart spell one array (what counts as one field for their
// conflicts). A json_limit of item* after a json_hide_seen of items
// recorded the three items before the limit, which showed one: the next
// request hid the two never shown.
func TestRecordAfterEditsSpelledOtherwise(t *testing.T) {
	doc := `{"items":[{"id":"a"},{"id":"b"},{"id":"c"}],"other":[{"id":"b"}]}`
	tests := []struct {
		name  string
		after Edit
		shows string
		want  []string
	}{
		{"the same spelling", Edit{Op: Limit, Path: "items", N: 1}, `[{"id":"a"}]`, []string{"a"}},
		{"a wildcard", Edit{Op: Limit, Path: "item*", N: 1}, `[{"id":"a"}]`, []string{"a"}},
		{"a wildcard of one character", Edit{Op: Limit, Path: "ite?s", N: 1}, `[{"id":"a"}]`, []string{"a"}},
		{"an escape", Edit{Op: Limit, Path: `\items`, N: 1}, `[{"id":"a"}]`, []string{"a"}},
		{"a pipe, inside the array", Edit{Op: Remove, Path: "items|0"}, `[{"id":"b"},{"id":"c"}]`, []string{"b", "c"}},
		{"an element by query", Edit{Op: Remove, Path: `items.#(id=="c")`}, `[{"id":"a"},{"id":"b"}]`, []string{"a", "b"}},
		{"another array", Edit{Op: Limit, Path: "other", N: 0}, `[{"id":"a"},{"id":"b"},{"id":"c"}]`, []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &visitorSeen{}
			out, _, err := Apply([]byte(doc), []Edit{{Op: HideSeen, Path: "items", ID: "id"}, tt.after}, v)
			if err != nil {
				t.Fatal(err)
			}
			if got := gjson.GetBytes(out, "items").Raw; got != tt.shows {
				t.Errorf("shows %s, want %s", got, tt.shows)
			}
			if !slices.Equal(v.shown, tt.want) {
				t.Errorf("records %q, want what it shows, %q", v.shown, tt.want)
			}
		})
	}
}

func TestHideSeenOptions(t *testing.T) {
	doc := numbered(6)
	tests := []struct {
		name    string
		edits   []Edit
		recency map[string]int
		show    []string
		record  []string
	}{
		{"demote: unseen first, then the seen by age",
			[]Edit{{Op: HideSeen, Path: "items", ID: "id", Demote: true}},
			map[string]int{"i00": 2, "i01": 1, "i03": 2},
			[]string{"i02", "i04", "i05", "i01", "i00", "i03"}, []string{"i02", "i04", "i05", "i01", "i00", "i03"}},
		{"demote then limit", []Edit{{Op: HideSeen, Path: "items", ID: "id", Demote: true}, {Op: Limit, Path: "items", N: 2}},
			map[string]int{"i00": 1, "i01": 1},
			[]string{"i02", "i03"}, []string{"i02", "i03"}},
		{"keep at least: least recently seen back first, in page order",
			[]Edit{{Op: HideSeen, Path: "items", ID: "id", N: 3}},
			map[string]int{"i00": 2, "i01": 1, "i02": 2, "i03": 1, "i04": 2},
			[]string{"i01", "i03", "i05"}, []string{"i01", "i03", "i05"}},
		{"mark the first 2", []Edit{{Op: HideSeen, Path: "items", ID: "id", MarkFirst: 2}},
			map[string]int{"i00": 1},
			span2(1, 6), []string{"i01", "i02"}},
		{"no mark", []Edit{{Op: HideSeen, Path: "items", ID: "id", NoMark: true}},
			map[string]int{"i00": 1},
			span2(1, 6), nil},
		{"records what a later edit left", []Edit{{Op: HideSeen, Path: "items", ID: "id"}, {Op: Remove, Path: "items.0"}},
			map[string]int{"i00": 1},
			span2(2, 6), span2(2, 6)},
		{"records even when it hides nothing", []Edit{{Op: HideSeen, Path: "items", ID: "id", MarkFirst: 3}},
			nil, span2(0, 6), span2(0, 3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &visitorSeen{recency: tt.recency}
			out, _, err := Apply(doc, tt.edits, v)
			if err != nil {
				t.Fatal(err)
			}
			if got := itemIDs(t, out, "items"); !slices.Equal(got, tt.show) {
				t.Errorf("shows %q, want %q", got, tt.show)
			}
			if !slices.Equal(v.shown, tt.record) {
				t.Errorf("records %q, want %q", v.shown, tt.record)
			}
		})
	}
}

// TestRootDocument: @this edits the document itself, with or without
// space around it.
func TestRootDocument(t *testing.T) {
	tests := []struct {
		doc   string
		edit  Edit
		seen  fakeSeen
		want  string
		apply bool
	}{
		{`[1,2,3]`, Edit{Op: Limit, Path: "@this", N: 2}, nil, `[1,2]`, true},
		{" \n[1,2,3] ", Edit{Op: Limit, Path: "@this", N: 1}, nil, " \n[1] ", true},
		{`[{"id":"a"},{"id":"b"}]`, Edit{Op: HideSeen, Path: "@this", ID: "id"}, fakeSeen{"a": true}, `[{"id":"b"}]`, true},
		{`["a","b","c"]`, Edit{Op: HideSeen, Path: "@this", ID: "@this"}, fakeSeen{"b": true}, `["a","c"]`, true},
		{`["a","b","c"]`, Edit{Op: Reorder, Path: "@this", ID: "@this", Order: []string{"c"}}, nil, `["c","a","b"]`, true},
		{`{"a":1}`, Edit{Op: Set, Path: "@this", Value: []byte(`{"b":2}`)}, nil, `{"b":2}`, true},
		{`{"a":1}`, Edit{Op: Remove, Path: "@this"}, nil, `{"a":1}`, false},
		{`{"a":1}`, Edit{Op: Limit, Path: "@this", N: 0}, nil, `{"a":1}`, false},
		{`"text"`, Edit{Op: Set, Path: "a", Value: []byte(`1`)}, nil, `"text"`, false},
	}
	for _, tt := range tests {
		out, applied, err := Apply([]byte(tt.doc), []Edit{tt.edit}, tt.seen)
		if err != nil || string(out) != tt.want || applied[0] != tt.apply {
			t.Errorf("%+v on %s: %s, %v, %v; want %s", tt.edit, tt.doc, out, applied, err, tt.want)
		}
	}
}

// TestArrayEditsKeepLayout: an array that hide_seen, limit or reorder
// edits keeps the spaces and line breaks it had, as everything else an
// edit leaves alone does: the elements it keeps are laid out in its
// places, the first after its opening bracket, the last before its
// closing one. A pretty-printed API response (GitHub's, to curl) came
// out with the array on one line and its elements' lines as they were
// ("[{\n    \"id\": 1\n  },{..."), edits written as one line.
func TestArrayEditsKeepLayout(t *testing.T) {
	const pretty = "{\n  \"items\": [\n    {\n      \"id\": \"a\"\n    },\n    {\n      \"id\": \"b\"\n    },\n    {\n      \"id\": \"c\"\n    }\n  ]\n}\n"
	a, b, c := "{\n      \"id\": \"a\"\n    }", "{\n      \"id\": \"b\"\n    }", "{\n      \"id\": \"c\"\n    }"
	in := func(elems ...string) string {
		return "{\n  \"items\": [\n    " + strings.Join(elems, ",\n    ") + "\n  ]\n}\n"
	}
	tests := []struct {
		name string
		doc  string
		edit Edit
		seen fakeSeen
		want string
	}{
		{"limit", pretty, Edit{Op: Limit, Path: "items", N: 2}, nil, in(a, b)},
		{"limit to one", pretty, Edit{Op: Limit, Path: "items", N: 1}, nil, in(a)},
		{"limit to none", pretty, Edit{Op: Limit, Path: "items", N: 0}, nil, "{\n  \"items\": []\n}\n"},
		{"reorder", pretty, Edit{Op: Reorder, Path: "items", ID: "id", Order: []string{"c"}}, nil, in(c, a, b)},
		{"hide_seen", pretty, Edit{Op: HideSeen, Path: "items", ID: "id"}, fakeSeen{"a": true}, in(b, c)},
		{"demote", pretty, Edit{Op: HideSeen, Path: "items", ID: "id", Demote: true}, fakeSeen{"a": true}, in(b, c, a)},
		{"tabs and CRLF", "[\r\n\t1,\r\n\t2,\r\n\t3\r\n]", Edit{Op: Limit, Path: "@this", N: 2}, nil, "[\r\n\t1,\r\n\t2\r\n]"},
		{"spaces as written, place by place", `[ 1 , 2,3 ]`, Edit{Op: Reorder, Path: "@this", ID: "@this", Order: []string{"3"}}, nil, `[ 3 , 1,2 ]`},
		{"one line", `{"items":[1,2,3]}`, Edit{Op: Limit, Path: "items", N: 2}, nil, `{"items":[1,2]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, memo := range []bool{true, false} {
				noMemo = !memo
				// The edit, then one more of the array: the second reads
				// the first's array from the memo, when it is kept.
				out, applied, err := Apply([]byte(tt.doc), []Edit{tt.edit, {Op: Limit, Path: tt.edit.Path, N: 100}}, tt.seen)
				noMemo = false
				if err != nil || !applied[0] || string(out) != tt.want {
					t.Fatalf("memo %v: got %q (%v, %v), want %q", memo, out, applied, err, tt.want)
				}
			}
		})
	}
}

// TestDuplicateKeys: edits address the member a last-wins parser keeps,
// and a removed key is gone for every parser.
func TestDuplicateKeys(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		edit Edit
		want string
	}{
		{"remove every occurrence", `{"debug":1,"x":1,"debug":2}`, Edit{Op: Remove, Path: "debug"}, `{"x":1}`},
		{"remove three", `{"d":1, "d":2, "x":1, "d":3}`, Edit{Op: Remove, Path: "d"}, `{"x":1}`},
		{"remove every member a wildcard's key has", `{"debug":"secret","keep":0,"debug":null}`, Edit{Op: Remove, Path: "deb*"}, `{"keep":0}`},
		{"remove the last members", `{"a":1, "d":2 ,"d":3}`, Edit{Op: Remove, Path: "d"}, `{"a":1}`},
		{"remove every member", "{\n  \"d\": 1,\n  \"d\": [2]\n}", Edit{Op: Remove, Path: "d"}, "{\n  \n}"},
		{"remove an escaped spelling too", `{"d":1,"\u0064":2,"x":3}`, Edit{Op: Remove, Path: "d"}, `{"x":3}`},
		{"remove in the last of a repeated parent", `{"a":{"d":1},"a":{"d":2,"d":3,"e":4}}`, Edit{Op: Remove, Path: "a.d"}, `{"a":{"d":1},"a":{"e":4}}`},
		{"set the last", `{"title":"a","title":"b"}`, Edit{Op: Set, Path: "title", Value: []byte(`"c"`)}, `{"title":"a","title":"c"}`},
		{"walk through the last", `{"a":{"b":1},"a":{"b":2}}`, Edit{Op: Set, Path: "a.b", Value: []byte(`3`)}, `{"a":{"b":1},"a":{"b":3}}`},
		{"edit the last array", `{"items":[1,2,3],"items":[4,5,6]}`, Edit{Op: Limit, Path: "items", N: 1}, `{"items":[1,2,3],"items":[4]}`},
		{"escaped key", `{"ti\u0074le":"a","title":"b","t\u0069tle":"c"}`, Edit{Op: Set, Path: "title", Value: []byte(`"d"`)}, `{"ti\u0074le":"a","title":"b","t\u0069tle":"d"}`},
		{"wildcard: the first name that matches, its last member", `{"ab":1,"ac":2,"ab":3}`, Edit{Op: Set, Path: "a*", Value: []byte(`0`)}, `{"ab":1,"ac":2,"ab":0}`},
		// A query reads each element's last member of a key, as the
		// visitor's JSON.parse does.
		{"query on the last of a repeated key", `{"items":[{"id":"x","id":"y","price":1},{"id":"y","id":"x","price":2}]}`,
			Edit{Op: Set, Path: `items.#(id=="x").price`, Value: []byte(`0`)}, `{"items":[{"id":"x","id":"y","price":1},{"id":"y","id":"x","price":0}]}`},
		{"query through a nested repeated key", `{"items":[{"a":{"b":1},"a":{"b":2}},{"a":{"b":1}}]}`,
			Edit{Op: Set, Path: `items.#(a.b==1).n`, Value: []byte(`true`)}, `{"items":[{"a":{"b":1},"a":{"b":2}},{"a":{"b":1},"n":true}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, applied, err := Apply([]byte(tt.doc), []Edit{tt.edit}, nil)
			if err != nil || !applied[0] || string(out) != tt.want {
				t.Fatalf("got %s (%v, %v), want %s", out, applied, err, tt.want)
			}
		})
	}
	// A query that only an earlier member of a repeated key matches
	// matches nothing.
	if out, applied, _ := Apply([]byte(`{"items":[{"id":"x","id":"y"},{"id":"z"}]}`), []Edit{{Op: Remove, Path: `items.#(id=="x")`}}, nil); applied[0] || string(out) != `{"items":[{"id":"x","id":"y"},{"id":"z"}]}` {
		t.Errorf("remove items.#(id==\"x\"): %s (applied %v)", out, applied)
	}
	// What encoding/json (last wins) reads of the result is the edit.
	out, _, _ := Apply([]byte(`{"title":"a","title":"b"}`), []Edit{{Op: Set, Path: "title", Value: []byte(`"new"`)}}, nil)
	var v struct{ Title string }
	if err := json.Unmarshal(out, &v); err != nil || v.Title != "new" {
		t.Errorf("encoding/json reads %q (%v)", v.Title, err)
	}
}

// TestRemoveAgreesWithEncodingJSON: removing a key from random objects
// that repeat keys leaves valid JSON that encoding/json (last wins) reads
// as the object without the key, and the other members' bytes as they
// were.
func TestRemoveAgreesWithEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	keys := []string{`"a"`, `"b"`, `"\u0061"`, `"c"`}
	space := []string{"", " ", "\n  "}
	for range 3000 {
		var ms []string
		for range rng.IntN(7) {
			sp := space[rng.IntN(len(space))]
			ms = append(ms, sp+keys[rng.IntN(len(keys))]+sp+":"+sp+strconv.Itoa(rng.IntN(9))+sp)
		}
		doc := "{" + strings.Join(ms, ",") + "}"
		var want map[string]any
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatal(err)
		}
		_, had := want["a"]
		delete(want, "a")
		out, applied, err := Apply([]byte(doc), []Edit{{Op: Remove, Path: "a"}}, nil)
		if err != nil || applied[0] != had {
			t.Fatalf("%s: applied %v, %v", doc, applied, err)
		}
		var got map[string]any
		if err := json.Unmarshal(out, &got); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s gives %s (%v): want %v", doc, out, err, want)
		}
		if had && bytes.Count(out, []byte(`"b"`)) != strings.Count(doc, `"b"`) {
			t.Fatalf("%s gives %s: a member of another key went", doc, out)
		}
	}
}

// TestRepeatedKeysAtScale: an origin's object that repeats the removed
// key 20,000 times, and items whose values nest 500 deep under a query,
// are edited (each used to cost the square of its size: minutes).
func TestRepeatedKeysAtScale(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{`)
	for i := range 20000 {
		fmt.Fprintf(&b, `"debug":%d,`, i)
	}
	b.WriteString(`"items":[1,2]}`)
	out, applied, err := Apply([]byte(b.String()), []Edit{{Op: Remove, Path: "debug"}}, nil)
	if err != nil || !applied[0] || string(out) != `{"items":[1,2]}` {
		t.Fatalf("remove: %.80s (%v, %v)", out, applied, err)
	}
	deep := strings.Repeat("[", 500) + strings.Repeat("]", 500)
	b.Reset()
	b.WriteString(`{"items":[`)
	for i := range 2000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"%d","id":"x%d","n":%s}`, i, i, deep)
	}
	b.WriteString(`]}`)
	out, applied, err = Apply([]byte(b.String()), []Edit{{Op: Set, Path: `items.#(id=="x1999").n`, Value: []byte(`0`)}}, nil)
	if err != nil || !applied[0] || !bytes.HasSuffix(out, []byte(`"id":"x1999","n":0}]}`)) {
		t.Fatalf("query: ...%s (%v, %v)", out[max(0, len(out)-80):], applied, err)
	}
}

// TestItemIdentity: numbers and strings are different items; escapes are
// decoded; lone surrogates stay apart from one another and from U+FFFD.
func TestItemIdentity(t *testing.T) {
	doc := []byte(`[{"id":1},{"id":"1"},{"id":1.0},{"id":"\u0031"},{"id":"\uD800"},{"id":"\uD801"},{"id":"\uFFFD"},{"id":"\uD83D\uDE00"},{"id":true},{"id":"\u0000n1"},{"x":1},{"id":""}]`)
	v := &visitorSeen{}
	if _, _, err := Apply(doc, []Edit{{Op: HideSeen, Path: "@this", ID: "id"}}, v); err != nil {
		t.Fatal(err)
	}
	want := []string{"\x00n1", "1", "\x00n1.0", "1", "\xed\xa0\x80", "\xed\xa0\x81", "\ufffd", "😀", "\x00jtrue", "\x00s\x00n1"}
	if !slices.Equal(v.shown, want) {
		t.Fatalf("recorded %q,\nwant %q", v.shown, want)
	}
	// A visitor who saw the string "1" saw neither the number 1 nor the
	// string "\u0000n1".
	v = &visitorSeen{recency: map[string]int{"1": 2}}
	out, _, _ := Apply(doc, []Edit{{Op: HideSeen, Path: "@this", ID: "id"}}, v)
	if got := gjson.GetBytes(out, "#.id").Raw; got != `[1,1.0,"\uD800","\uD801","\uFFFD","\uD83D\uDE00",true,"\u0000n1",""]` {
		t.Errorf("after hiding the string 1: %s", got)
	}
	// Reorder names ids by their text: 1 is the number's and the string's.
	out, _, _ = Apply([]byte(`[{"id":"a"},{"id":1},{"id":"1"}]`), []Edit{{Op: Reorder, Path: "@this", ID: "id", Order: []string{"1"}}}, nil)
	if string(out) != `[{"id":1},{"id":"a"},{"id":"1"}]` {
		t.Errorf("reorder by text: %s", out)
	}
}

func TestPaths(t *testing.T) {
	const d = `{"items":[{"id":"a","price":1},{"id":"b","price":2}],"a.b":{"c":1},"#tag":1,"@type":"x"}`
	tests := []struct {
		path string
		want string // the document after setting the path to 0; "" for no change
	}{
		{`items.#(id=="b").price`, `{"items":[{"id":"a","price":1},{"id":"b","price":0}],"a.b":{"c":1},"#tag":1,"@type":"x"}`},
		{`items.1.price`, `{"items":[{"id":"a","price":1},{"id":"b","price":0}],"a.b":{"c":1},"#tag":1,"@type":"x"}`},
		{`items|0|price`, `{"items":[{"id":"a","price":0},{"id":"b","price":2}],"a.b":{"c":1},"#tag":1,"@type":"x"}`},
		{`a\.b.c`, `{"items":[{"id":"a","price":1},{"id":"b","price":2}],"a.b":{"c":0},"#tag":1,"@type":"x"}`},
		{`\#tag`, `{"items":[{"id":"a","price":1},{"id":"b","price":2}],"a.b":{"c":1},"#tag":0,"@type":"x"}`},
		{`\@type`, `{"items":[{"id":"a","price":1},{"id":"b","price":2}],"a.b":{"c":1},"#tag":1,"@type":0}`},
		{`ite?s.0.id`, `{"items":[{"id":0,"price":1},{"id":"b","price":2}],"a.b":{"c":1},"#tag":1,"@type":"x"}`},
		{`items.#(id=="z").price`, ""},
		{`items.2.price`, ""},
		{`items.x`, ""},
		{`items.#`, ""},
		{`items.@reverse`, ""},
	}
	for _, tt := range tests {
		out, applied, err := Apply([]byte(d), []Edit{{Op: Set, Path: tt.path, Value: []byte(`0`)}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := tt.want
		if want == "" {
			want = d
		}
		if string(out) != want || applied[0] != (tt.want != "") {
			t.Errorf("%s: %s (applied %v)", tt.path, out, applied[0])
		}
	}
}

// TestLocateAgreesWithGJSON: on documents without repeated keys, every
// place the walker finds is where gjson finds it, for random documents
// and every path into them.
func TestLocateAgreesWithGJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for range 200 {
		doc := randomDoc(rng, 4)
		var paths []string
		collectPaths(gjson.ParseBytes(doc), "", &paths)
		for _, path := range paths {
			steps, err := jsonpath.Parse(path)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			p, ok := locate(doc, steps)
			r := gjson.GetBytes(doc, path)
			if !ok || !r.Exists() {
				t.Fatalf("%s in %s: walker %v, gjson %v", path, doc, ok, r.Exists())
			}
			if got := string(doc[p.value.start:p.value.end]); got != r.Raw || p.value.start != r.Index {
				t.Fatalf("%s in %s: walker %q at %d, gjson %q at %d", path, doc, got, p.value.start, r.Raw, r.Index)
			}
		}
	}
}

// randomDoc is a random JSON document (distinct keys, some needing
// escapes in paths), with space here and there.
func randomDoc(rng *rand.Rand, depth int) []byte {
	var b bytes.Buffer
	b.WriteByte(' ')
	randomValue(rng, &b, depth, true)
	return b.Bytes()
}

func randomValue(rng *rand.Rand, b *bytes.Buffer, depth int, container bool) {
	sp := func() {
		if rng.IntN(3) == 0 {
			b.WriteString(" \n"[:1+rng.IntN(2)])
		}
	}
	k := rng.IntN(7)
	if container {
		k = rng.IntN(2)
	}
	if depth == 0 && k < 2 {
		k = 2 + rng.IntN(5)
	}
	switch k {
	case 0:
		b.WriteByte('{')
		n := rng.IntN(4)
		keys := []string{"a", "b.c", "id", "x y", "é", "n1", "10", "k#", "q?"}
		rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			sp()
			q, _ := json.Marshal(keys[i])
			b.Write(q)
			sp()
			b.WriteByte(':')
			sp()
			randomValue(rng, b, depth-1, false)
			sp()
		}
		b.WriteByte('}')
	case 1:
		b.WriteByte('[')
		n := rng.IntN(4)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			sp()
			randomValue(rng, b, depth-1, false)
			sp()
		}
		b.WriteByte(']')
	case 2:
		b.WriteString(strconv.Itoa(rng.IntN(1000) - 500))
	case 3:
		fmt.Fprintf(b, `"s\"%d\u00e9"`, rng.IntN(10))
	case 4:
		b.WriteString("true")
	case 5:
		b.WriteString("null")
	default:
		b.WriteString("1.5e3")
	}
}

// collectPaths lists the gjson paths of every value under r.
func collectPaths(r gjson.Result, prefix string, out *[]string) {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch {
	case r.IsObject():
		r.ForEach(func(k, v gjson.Result) bool {
			esc := strings.NewReplacer(`\`, `\\`, ".", `\.`, "*", `\*`, "?", `\?`, "|", `\|`, "#", `\#`, "@", `\@`).Replace(k.String())
			p := join(esc)
			*out = append(*out, p)
			collectPaths(v, p, out)
			return true
		})
	case r.IsArray():
		for i, v := range r.Array() {
			p := join(strconv.Itoa(i))
			*out = append(*out, p)
			collectPaths(v, p, out)
		}
	}
}

// TestUnquoteAgreesWithEncodingJSON: for strings without lone surrogates,
// the decoded text is encoding/json's.
func TestUnquoteAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range []string{`plain`, `tab\there`, `\"q\" \\ \/`, `\u00e9\u20ac`, `\uD83D\uDE00 smile`, `\b\f\n\r`, `é raw`, `\u0000`} {
		var want string
		if err := json.Unmarshal([]byte(`"`+s+`"`), &want); err != nil {
			t.Fatal(err)
		}
		if got := string(appendUnquoted(nil, []byte(s))); got != want {
			t.Errorf("%s: %q, want %q", s, got, want)
		}
	}
}

// FuzzUnquote: decoding agrees with encoding/json except where
// encoding/json turns a lone surrogate, or bytes that are not UTF-8, into
// U+FFFD (appendUnquoted keeps both apart).
func FuzzUnquote(f *testing.F) {
	for _, s := range []string{`a`, `\u00e9`, `\uD800`, `\uD83D\uDE00`, `\\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := `"` + s + `"`
		if Validate(q, 0) != nil {
			return
		}
		var want string
		if err := json.Unmarshal([]byte(q), &want); err != nil || !utf8.ValidString(s) {
			return
		}
		got := appendUnquoted(nil, []byte(s))
		if !strings.Contains(strings.ToLower(s), `\ud`) && string(got) != want {
			t.Fatalf("%s: %q, want %q", s, got, want)
		}
	})
}

// TestApplyPooledAllocations: once the pools are warm, hiding seen items
// and limiting a large array does not allocate the document's size each
// time (a collection empties the pools, hence an average;
// BenchmarkApply shows 0 allocations a request).
func TestApplyPooledAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector drops pooled buffers on purpose")
	}
	doc := numbered(5000)
	edits := []Edit{{Op: HideSeen, Path: "items", ID: "id", N: 4}, {Op: Limit, Path: "items", N: 100}}
	seen := &visitorSeen{recency: map[string]int{"i00": 1, "i01": 1}}
	run := func() {
		seen.shown = seen.shown[:0]
		out, err := ApplyPooled(doc, edits, seen, 0)
		if err != nil || !out.Changed() {
			t.Fatal(err)
		}
		out.Release()
	}
	run()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const runs = 50
	for range runs {
		run()
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > uint64(len(doc)) {
		t.Errorf("%d bytes allocated an edit of a %d-byte document", per, len(doc))
	}
}

// countingSeen answers from a map and counts what it is shown, as the
// host's filter costs nothing to keep.
type countingSeen struct {
	recency map[string]int
	shown   int
}

func (c *countingSeen) Recency(id string) int { return c.recency[id] }
func (c *countingSeen) Shown(string)          { c.shown++ }

// bigResponse is an API response of about 4.7 MB: 20,000 products.
func bigResponse() []byte {
	var b bytes.Buffer
	b.WriteString(`{"page":1,"items":[`)
	for i := range 20000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"sku-%05d","title":"Trail product number %d with a longer name","price":%d.99,"currency":"EUR","tags":["outdoor","camping","sale"],"stock":{"count":%d,"warehouse":"LYS-2"},"rating":4.%d,"new":false}`, i, i, i%300, i%17, i%10)
	}
	b.WriteString(`],"total":20000}`)
	return b.Bytes()
}

// BenchmarkApply is json_hide_seen (a tenth of the items seen) and
// json_limit on a 4.7 MB response, as the proxy runs them (pooled) and
// through Apply, which returns a document of its own.
func BenchmarkApply(b *testing.B) {
	doc := bigResponse()
	seen := &countingSeen{recency: map[string]int{}}
	for i := 0; i < 20000; i += 10 {
		seen.recency[fmt.Sprintf("sku-%05d", i)] = 1
	}
	edits := []Edit{{Op: HideSeen, Path: "items", ID: "id", N: 8}, {Op: Limit, Path: "items", N: 10000}}
	b.Run("pooled", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			out, err := ApplyPooled(doc, edits, seen, 0)
			if err != nil || !out.Changed() {
				b.Fatal(err)
			}
			out.Release()
		}
	})
	b.Run("apply", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := Apply(doc, edits, seen); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestReorderLongOrder: a long Order over a long array (matched through
// a map of the ids) puts the elements where matching by scanning does,
// ids named twice, missing or repeated in the array included.
func TestReorderLongOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 200 {
		n := 1 + rng.IntN(40)
		var doc strings.Builder
		doc.WriteString("[")
		for i := range n {
			if i > 0 {
				doc.WriteString(",")
			}
			fmt.Fprintf(&doc, `{"id":"%d","i":%d}`, rng.IntN(n), i)
		}
		doc.WriteString("]")
		var order []string
		for range rng.IntN(2 * n) {
			order = append(order, strconv.Itoa(rng.IntN(n+3)))
		}
		edits := []Edit{{Op: Reorder, Path: "@this", ID: "id", Order: order}}
		scan, _, err := Apply([]byte(doc.String()), edits, nil)
		if err != nil {
			t.Fatal(err)
		}
		saved := reorderScan
		reorderScan = 0
		mapped, _, _ := Apply([]byte(doc.String()), edits, nil)
		reorderScan = saved
		if string(scan) != string(mapped) {
			t.Fatalf("round %d, order %q:\n scan %s\n  map %s", round, order, scan, mapped)
		}
	}
}

// TestRemoveFromHugeObject: removing a member of an object of a million
// members allocates less than half the document, not a record per
// member (a walk that listed them allocated twenty times this 10 MB
// document), and removes every member of that key, wherever they are.
func TestRemoveFromHugeObject(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector drops pooled buffers on purpose")
	}
	var b bytes.Buffer
	b.WriteString(`{"debug":0`)
	for i := range 1 << 20 {
		fmt.Fprintf(&b, `,"%x":1`, i)
		if i%(1<<18) == 0 {
			b.WriteString(`,"debug":1`)
		}
	}
	b.WriteString(`,"debug":2}`)
	doc := b.Bytes()
	run := func() *Output {
		out, err := ApplyPooled(doc, []Edit{{Op: Remove, Path: "debug"}}, nil, 0)
		if err != nil || !out.Applied[0] {
			t.Fatal(err)
		}
		return out
	}
	run().Release()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	out := run()
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > uint64(len(doc))/2 {
		t.Errorf("%d bytes allocated to remove a member of a %d-byte object", n, len(doc))
	}
	if bytes.Contains(out.Doc, []byte("debug")) || Validate(out.Doc, 0) != nil || len(out.Doc) != len(doc)-len(`"debug":0,`)-4*len(`,"debug":1`)-len(`,"debug":2`) {
		t.Errorf("the members of the key are not all removed, or the rest changed: %d bytes of %d", len(out.Doc), len(doc))
	}
	out.Release()
}

// TestQueryCostBounded: a query in an edit's path that would pretty-print
// or dig through an element, or read JSON out of one of its strings,
// names no place (the checker refuses it): on an origin's document whose
// element held a string of 30,000 nested brackets, a json_set with
// #(a|@fromstr|@pretty=="x") pretty-printed 1.8 GB, in 50 s.
func TestQueryCostBounded(t *testing.T) {
	deep := strings.Repeat("[", 30000) + strings.Repeat("]", 30000)
	doc := []byte(`[{"a":"` + deep + `","b":1},{"a":"x","b":2}]`)
	for _, path := range []string{
		`#(a|@fromstr|@pretty=="x").b`,
		`#(a|@fromstr|@flatten:{"deep":true}|#==0).b`,
		`#(a|@fromstr|@dig:q=="x").b`,
		`#(a|@pretty=="x").b`,
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		out, applied, err := Apply(doc, []Edit{{Op: Set, Path: path, Value: []byte(`0`)}}, nil)
		runtime.ReadMemStats(&after)
		if err != nil || applied[0] || !bytes.Equal(out, doc) {
			t.Errorf("%s: applied %v, err %v", path, applied, err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8*uint64(len(doc)) {
			t.Errorf("%s: allocated %d bytes for a document of %d", path, alloc, len(doc))
		}
	}
}
