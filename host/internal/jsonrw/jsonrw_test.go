package jsonrw

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"runtime"
	"slices"
	"testing"
)

type fakeSeen map[string]bool

func (f fakeSeen) Recency(id string) int {
	if f[id] {
		return 1
	}
	return 0
}
func (f fakeSeen) Shown(id string) { f["shown:"+id] = true }

const doc = `{
  "visitor": null,
  "banner": {"title": "Hello", "tags": []},
  "items": [
    {"id": "a", "price": 1},
    {"id": "b", "price": 2},
    {"id": "c", "price": 3},
    {"id": "d", "price": 4}
  ],
  "empty": {}
}`

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("output is not valid JSON: %v\n%s", err, b)
	}
	return v
}

func ids(v map[string]any) []string {
	var out []string
	for _, it := range v["items"].([]any) {
		out = append(out, it.(map[string]any)["id"].(string))
	}
	return out
}

func TestApply(t *testing.T) {
	tests := []struct {
		name  string
		edits []Edit
		seen  fakeSeen
		check func(t *testing.T, v map[string]any)
	}{
		{"set existing", []Edit{{Op: Set, Path: "banner.title", Value: []byte(`"Bonjour"`)}}, nil, func(t *testing.T, v map[string]any) {
			if v["banner"].(map[string]any)["title"] != "Bonjour" {
				t.Error(v["banner"])
			}
		}},
		{"set new member", []Edit{{Op: Set, Path: "banner.city", Value: []byte(`"Lyon"`)}}, nil, func(t *testing.T, v map[string]any) {
			if v["banner"].(map[string]any)["city"] != "Lyon" {
				t.Error(v["banner"])
			}
		}},
		{"set in empty object", []Edit{{Op: Set, Path: "empty.x", Value: []byte(`1`)}}, nil, func(t *testing.T, v map[string]any) {
			if v["empty"].(map[string]any)["x"] != 1.0 {
				t.Error(v["empty"])
			}
		}},
		{"set at root", []Edit{{Op: Set, Path: "personalized", Value: []byte(`true`)}}, nil, func(t *testing.T, v map[string]any) {
			if v["personalized"] != true {
				t.Error(v)
			}
		}},
		{"remove member", []Edit{{Op: Remove, Path: "banner"}}, nil, func(t *testing.T, v map[string]any) {
			if _, ok := v["banner"]; ok {
				t.Error("banner still there")
			}
		}},
		{"remove last member", []Edit{{Op: Remove, Path: "empty"}}, nil, func(t *testing.T, v map[string]any) {
			if _, ok := v["empty"]; ok {
				t.Error("empty still there")
			}
		}},
		{"remove array element", []Edit{{Op: Remove, Path: "items.1"}}, nil, func(t *testing.T, v map[string]any) {
			if got := ids(v); !reflect.DeepEqual(got, []string{"a", "c", "d"}) {
				t.Error(got)
			}
		}},
		{"limit", []Edit{{Op: Limit, Path: "items", N: 2}}, nil, func(t *testing.T, v map[string]any) {
			if got := ids(v); !reflect.DeepEqual(got, []string{"a", "b"}) {
				t.Error(got)
			}
		}},
		{"reorder", []Edit{{Op: Reorder, Path: "items", ID: "id", Order: []string{"c", "zzz", "a"}}}, nil, func(t *testing.T, v map[string]any) {
			if got := ids(v); !reflect.DeepEqual(got, []string{"c", "a", "b", "d"}) {
				t.Error(got)
			}
		}},
		{"hide seen", []Edit{{Op: HideSeen, Path: "items", ID: "id"}}, fakeSeen{"b": true, "d": true}, func(t *testing.T, v map[string]any) {
			if got := ids(v); !reflect.DeepEqual(got, []string{"a", "c"}) {
				t.Error(got)
			}
		}},
		{"hide seen keeps at least", []Edit{{Op: HideSeen, Path: "items", ID: "id", N: 3}}, fakeSeen{"a": true, "b": true, "c": true}, func(t *testing.T, v map[string]any) {
			if got := ids(v); !reflect.DeepEqual(got, []string{"a", "b", "d"}) {
				t.Error(got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, applied, err := Apply([]byte(doc), tt.edits, tt.seen)
			if err != nil {
				t.Fatal(err)
			}
			for i, a := range applied {
				if !a {
					t.Errorf("edit %d did not apply", i)
				}
			}
			tt.check(t, decode(t, out))
		})
	}
}

func TestHideSeenRecordsShown(t *testing.T) {
	s := fakeSeen{"a": true}
	Apply([]byte(doc), []Edit{{Op: HideSeen, Path: "items", ID: "id"}}, s)
	for _, id := range []string{"b", "c", "d"} {
		if !s["shown:"+id] {
			t.Errorf("%s not recorded as shown", id)
		}
	}
	if s["shown:a"] {
		t.Error("a hidden item was recorded as shown")
	}
}

func TestMissingPathsChangeNothing(t *testing.T) {
	edits := []Edit{
		{Op: Set, Path: "items.0.id.deeper", Value: []byte(`1`)}, // through a string
		{Op: Set, Path: "items.9.id", Value: []byte(`1`)},        // no such element
		{Op: Remove, Path: "nope"},
		{Op: Limit, Path: "banner", N: 1},
		{Op: Set, Path: "items.#.id", Value: []byte(`1`)},
		{Op: Set, Path: "banner.title", Value: []byte(`not json`)},
	}
	out, applied, err := Apply([]byte(doc), edits, nil)
	if err != nil || string(out) != doc {
		t.Fatalf("document changed: %v\n%s", err, out)
	}
	for i, a := range applied {
		if a {
			t.Errorf("edit %d claims to have applied", i)
		}
	}
}

// TestSetCreatesObjects: json_set through keys the document lacks adds
// them, with the objects in between, to the nearest object on the path.
func TestSetCreatesObjects(t *testing.T) {
	for _, c := range []struct{ doc, path, want string }{
		{`{}`, "banner.title", `{"banner":{"title":"y"}}`},
		{`{"a":1}`, "banner.title", `{"a":1,"banner":{"title":"y"}}`},
		{`{"banner":{}}`, "banner.title", `{"banner":{"title":"y"}}`},
		{`{"banner":{"x":1}}`, "banner.a.b", `{"banner":{"x":1,"a":{"b":"y"}}}`},
		{`{"banner":{"title":"x"}}`, "banner.title", `{"banner":{"title":"y"}}`},
		{`{"banner":null}`, "banner.title", `{"banner":null}`},
		{`{"banner":[1]}`, "banner.title", `{"banner":[1]}`},
		{`[1,2]`, "banner.title", `[1,2]`},
	} {
		out, applied, err := Apply([]byte(c.doc), []Edit{{Op: Set, Path: c.path, Value: []byte(`"y"`)}}, nil)
		if err != nil || string(out) != c.want || applied[0] != (c.want != c.doc) {
			t.Errorf("%s set %s: %s (applied %v, %v), want %s", c.doc, c.path, out, applied, err, c.want)
		}
	}
}

// TestSetAddsInTheObjectsLayout: a member json_set adds goes after the
// object's last member, with the comma and space that separate its
// members and the space around its colons, so that a pretty-printed
// response stays so; it went before the space that closes the object,
// and a response ending "  }\n}" came out as "  }\n,\"b\":\"y\"}".
func TestSetAddsInTheObjectsLayout(t *testing.T) {
	for _, c := range []struct{ name, doc, path, want string }{
		{"pretty", "{\n  \"a\": 1,\n  \"c\": {\n    \"x\": 1\n  }\n}\n", "b", "{\n  \"a\": 1,\n  \"c\": {\n    \"x\": 1\n  },\n  \"b\": \"y\"\n}\n"},
		{"pretty, inside", "{\n  \"a\": 1,\n  \"c\": {\n    \"x\": 1\n  }\n}\n", "c.b", "{\n  \"a\": 1,\n  \"c\": {\n    \"x\": 1,\n    \"b\": \"y\"\n  }\n}\n"},
		{"pretty, objects added", "{\n  \"a\": 1\n}", "n.m", "{\n  \"a\": 1,\n  \"n\": {\"m\":\"y\"}\n}"},
		{"tabs and CRLF", "{\r\n\t\"a\":1,\r\n\t\"c\":2\r\n}", "b", "{\r\n\t\"a\":1,\r\n\t\"c\":2,\r\n\t\"b\":\"y\"\r\n}"},
		{"spaces", `{ "a" : 1 }`, "b", `{ "a" : 1, "b" : "y" }`},
		{"one line", `{"a":1,"c":2}`, "b", `{"a":1,"c":2,"b":"y"}`},
		{"empty", `{}`, "b", `{"b":"y"}`},
		{"a repeated key", "{\n  \"a\": 1,\n  \"a\": 2\n}", "b", "{\n  \"a\": 1,\n  \"a\": 2,\n  \"b\": \"y\"\n}"},
	} {
		out, applied, err := Apply([]byte(c.doc), []Edit{{Op: Set, Path: c.path, Value: []byte(`"y"`)}}, nil)
		if err != nil || string(out) != c.want || !applied[0] {
			t.Errorf("%s: set %s: %q (applied %v, %v), want %q", c.name, c.path, out, applied, err, c.want)
		}
	}
}

func TestInvalidDocument(t *testing.T) {
	in := []byte(`{"a": [1, 2`)
	out, _, err := Apply(in, []Edit{{Op: Limit, Path: "a", N: 1}}, nil)
	if err != ErrNotJSON || string(out) != string(in) {
		t.Fatalf("err %v out %s", err, out)
	}
}

// FuzzApply: for any valid document and any edit, the output is valid
// JSON and the call never panics.
func FuzzApply(f *testing.F) {
	f.Add([]byte(doc), uint8(1), "banner.title", []byte(`"x"`), "id", 2)
	f.Add([]byte(`[1,2,3]`), uint8(4), "@this", []byte(`1`), "", 1)
	f.Add([]byte(`{"a":{"b":[{"id":1},{"id":"2"}]}}`), uint8(3), "a.b", []byte(`null`), "id", 0)
	f.Fuzz(func(t *testing.T, d []byte, op uint8, path string, value []byte, id string, n int) {
		if !json.Valid(d) {
			return
		}
		e := Edit{Op: Op(op%5 + 1), Path: path, Value: value, ID: id, N: n % 100, Order: []string{"1", "2"},
			Demote: op&8 != 0, MarkFirst: int(op>>4) % 4, NoMark: op&0x40 != 0}
		out, _, err := Apply(d, []Edit{e, {Op: Limit, Path: path, N: n % 7}}, fakeSeen{"1": true})
		if err != nil {
			t.Fatalf("valid input rejected: %v", err)
		}
		if !json.Valid(out) {
			t.Fatalf("invalid output for %+v on %s:\n%s", e, d, out)
		}
		// What the memo and the one-pass array reading find is what
		// walking the document again finds.
		checkArray(t, d, path, id)
		edits := []Edit{e, {Op: Limit, Path: path, N: n % 7}, {Op: HideSeen, Path: path, ID: id, N: 1}}
		run := func(off bool) ([]byte, []string) {
			noMemo = off
			defer func() { noMemo = false }()
			seen := &visitorSeen{recency: map[string]int{"1": 1, "2": 2}}
			o, err := ApplyPooled(d, edits, seen, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer o.Release()
			return slices.Clone(o.Doc), seen.shown
		}
		doc1, shown1 := run(false)
		doc2, shown2 := run(true)
		if !bytes.Equal(doc1, doc2) || !slices.Equal(shown1, shown2) {
			t.Fatalf("%+v on %s: with the memo %s %q, without %s %q", edits, d, doc1, shown1, doc2, shown2)
		}
		// A set that answers for lists gets the same questions.
		listed := &listedSeen{visitorSeen{recency: map[string]int{"1": 1, "2": 2}}}
		o, err := ApplyPooled(d, edits, listed, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer o.Release()
		if !bytes.Equal(o.Doc, doc1) || !slices.Equal(listed.shown, shown1) {
			t.Fatalf("%+v on %s: asked one by one %s %q, for the array %s %q", edits, d, doc1, shown1, o.Doc, listed.shown)
		}
	})
}

// rankedSeen has seen every item equally recently, and ranks them by how
// often: rank[id].
type rankedSeen struct{ rank map[string]int }

func (s rankedSeen) Recency(id string) int {
	if s.rank[id] > 0 {
		return 2
	}
	return 0
}
func (s rankedSeen) Rank(id string) int { return s.rank[id] }
func (rankedSeen) Shown(string)         {}

// TestDemoteRanks: when every item was seen in the same span, a demote
// orders them by the set's Rank (those shown fewer times first), which
// keeps a rotation turning; without a need to order them (nothing
// demoted, enough unseen), Rank is not asked.
func TestDemoteRanks(t *testing.T) {
	doc := []byte(`{"items":[{"id":"a"},{"id":"b"},{"id":"c"},{"id":"d"}]}`)
	s := rankedSeen{rank: map[string]int{"a": 3, "b": 3, "c": 2, "d": 2}}
	out, _, err := Apply(doc, []Edit{{Op: HideSeen, Path: "items", ID: "id", Demote: true}}, s)
	if err != nil || string(out) != `{"items":[{"id":"c"},{"id":"d"},{"id":"a"},{"id":"b"}]}` {
		t.Errorf("demote: %s %v", out, err)
	}
}

// TestMaxElements: an array edit reads at most MaxElements elements; a
// document with a longer array is left as it is, with the error (the
// proxy passes it untouched, counted too_large), and what it allocated is
// bounded by the limit, not by the array: 4 million ids in 8 MB cost some
// 300 MB.
func TestMaxElements(t *testing.T) {
	doc := func(n int) []byte {
		b := []byte(`{"items":[`)
		for i := range n {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '0')
		}
		return append(b, "]}"...)
	}
	edits := []Edit{{Op: Limit, Path: "items", N: 2}}
	out, err := ApplyPooled(doc(MaxElements), edits, nil, 0)
	if err != nil || !out.Applied[0] || string(out.Doc) != `{"items":[0,0]}` {
		t.Fatalf("MaxElements elements: %v, applied %v", err, out.Applied)
	}
	out.Release()
	big := doc(4 << 20)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	out, err = ApplyPooled(big, edits, nil, 0)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooManyElements) || out.Changed() || out.Applied[0] || &out.Doc[0] != &big[0] {
		t.Fatalf("4M elements: %v, changed %v, applied %v", err, out.Changed(), out.Applied)
	}
	out.Release()
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2*uint64(len(big)) {
		t.Errorf("4M elements: %d MB allocated for an %d MB document", alloc>>20, len(big)>>20)
	}
}

// listedSeen is a visitorSeen that answers for arrays (seenLister), one
// member after the other as it would alone.
type listedSeen struct{ visitorSeen }

func (l *listedSeen) Recencies(ids []string, out []int32) {
	for i, id := range ids {
		out[i] = int32(l.Recency(id))
	}
}

func (l *listedSeen) ShownAll(ids []string) {
	for _, id := range ids {
		l.Shown(id)
	}
}

// TestListedSeenAsOneByOne: hide_seen asks a set that answers for
// arrays what it asks one that answers an id at a time, elements
// without an id included, and records the same.
func TestListedSeenAsOneByOne(t *testing.T) {
	for _, tt := range []struct {
		doc  string
		edit Edit
	}{
		{`[{"id":"a"},{"x":1},{"id":"b"},{"id":""},{"id":"c"},{"id":"d"}]`, Edit{Op: HideSeen, Path: "@this", ID: "id", N: 2}},
		{`[{"id":"a"},{"x":1},{"id":"b"},{"id":"c"}]`, Edit{Op: HideSeen, Path: "@this", ID: "id", Demote: true}},
		{`[{"x":1},{"id":"b"},{"id":"c"},{"id":"e"}]`, Edit{Op: HideSeen, Path: "@this", ID: "id", MarkFirst: 2}},
		{`{"items":[{"id":"a"},{"id":"b"}]}`, Edit{Op: HideSeen, Path: "items", ID: "id", NoMark: true}},
		{`{"items":[]}`, Edit{Op: HideSeen, Path: "items", ID: "id"}},
	} {
		recency := map[string]int{"a": 1, "b": 2, "c": 1, "x": 2}
		one := &visitorSeen{recency: recency}
		list := &listedSeen{visitorSeen{recency: recency}}
		want, _, err := Apply([]byte(tt.doc), []Edit{tt.edit}, one)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := Apply([]byte(tt.doc), []Edit{tt.edit}, list)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) || !slices.Equal(list.shown, one.shown) {
			t.Errorf("%s %+v: one by one %s, shown %q; for the array %s, shown %q", tt.doc, tt.edit, want, one.shown, got, list.shown)
		}
	}
}

// TestASCII: a JSON value written with \u escapes past ASCII reads as the
// value did, in encoding/json, and is ASCII.
func TestASCII(t *testing.T) {
	for _, v := range []string{
		`"Café"`, `"😀 été"`, `{"a":"Иван","b":[1,"日本"]}`, `"plain"`, `"\u00e9 é"`, `"\ufeff` + "\ufeff" + `"`, `"` + "\uffff" + `"`,
		`"a` + "\u2028" + `b"`, `{"ключ":1}`, `""`, `1e5`,
	} {
		got := ASCII([]byte(v))
		for _, c := range got {
			if c >= 0x80 {
				t.Errorf("ASCII(%s) = %s, not ASCII", v, got)
				break
			}
		}
		var want, read any
		if err := json.Unmarshal([]byte(v), &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(got, &read); err != nil || !reflect.DeepEqual(read, want) {
			t.Errorf("ASCII(%s) = %s, reads %v (%v), want %v", v, got, read, err, want)
		}
	}
	if got := ASCII([]byte("\"a\xffb\"")); string(got) != `"a\ufffdb"` {
		t.Errorf("invalid UTF-8: %s", got)
	}
}
