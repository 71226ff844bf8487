package jsonrw

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/jsonpath"
)

// referenceArray is what Output.array reads, the plain way: the array
// looked up with locate, then each element read with nextElement and its
// id with itemID (the walk before the array was read once).
func referenceArray(doc []byte, path, idPath string) (value span, elems []span, ids []string, ok bool) {
	steps, err := jsonpath.AppendParse(nil, path)
	if err != nil {
		return span{}, nil, nil, false
	}
	p, found := locate(doc, steps)
	if !found || doc[p.value.start] != '[' {
		return span{}, nil, nil, false
	}
	idSteps, idErr := jsonpath.AppendParse(nil, idPath)
	for i := ws(doc, p.value.start+1); ; {
		e, next, more := nextElement(doc, i)
		if !more {
			break
		}
		elems = append(elems, e)
		if idPath != "" {
			var id []byte
			if idErr == nil {
				id, _, _, _ = itemID(doc[e.start:e.end], idSteps, nil)
			}
			ids = append(ids, string(id))
		}
		i = next
	}
	return p.value, elems, ids, true
}

// checkArray compares Output.array with referenceArray on doc.
func checkArray(t *testing.T, doc []byte, path, idPath string) {
	t.Helper()
	wantValue, wantElems, wantIDs, wantOK := referenceArray(doc, path, idPath)
	o := outputs.Get().(*Output)
	defer o.Release()
	o.in, o.Doc, o.cur = doc, doc, -1
	o.memo.valid = false
	steps, err := jsonpath.AppendParse(o.steps[0][:0], path)
	if err != nil {
		return
	}
	value, elems, ok := o.array(path, steps, idPath)
	if ok != wantOK || ok && (value != wantValue || !slices.Equal(elems, wantElems)) {
		t.Fatalf("array(%q) of %s: %v %v %v, want %v %v %v", path, doc, ok, value, elems, wantOK, wantValue, wantElems)
	}
	if !ok || idPath == "" {
		return
	}
	o.ids(elems, idPath, false)
	for i := range elems {
		if got := string(o.id(i)); got != wantIDs[i] {
			t.Fatalf("array(%q) of %s: element %d has id %q, want %q", path, doc, i, got, wantIDs[i])
		}
	}
}

// TestArrayAgreesWithLocate: reading an array once, with its elements'
// ids, finds what looking it up and reading it again finds, on the cases
// where the two walks differ: repeated keys, escaped keys, ids of every
// kind, elements that are not objects, space everywhere.
func TestArrayAgreesWithLocate(t *testing.T) {
	docs := []string{
		`{"items":[{"id":"a"},{"id":1},{"id":{"x":[1,"]"]}},{"x":1},{"id":"b","id":"c"},"s",[1],null,{}]}`,
		`{"items":[1],"page":2,"items":[{"id":"late"}]}`,
		`{"items":[{"id":"first"}],"items":"not an array"}`,
		`{"items":"no","items":[{"\u0069d":"escaped key"},{"i\"d":"not id"}]}`,
		` { "items" : [ { "id" : "a" , "n" : [ ] } , { "n" : { } , "id" : "\u0000x" } ] , "t" : 1 } `,
		`{"data":{"list":[{"meta":{"id":"m1"}},{"meta":{"id":2}},{"meta":[]}]}}`,
		`{"a":{"b":[[{"id":"deep"}],[]]}}`,
		`[{"id":"root"},{"id":"r2"}]`,
		`{"items":[]}`,
		`{"items":[ ]}`,
		`{"it\\ems":[{"id":1}],"items":[{"id":"\\\""}]}`,
	}
	paths := []string{"items", "data.list", "a.b", "a.b.0", "@this", "it*", "items.#(id==\"b\")", "nope"}
	idPaths := []string{"", "id", "meta.id", "@this", "i*", "0"}
	for _, d := range docs {
		if Validate(d, 0) != nil {
			t.Fatalf("test document is not JSON: %s", d)
		}
		for _, p := range paths {
			for _, id := range idPaths {
				checkArray(t, []byte(d), p, id)
			}
		}
	}
	// Random documents, with keys that need escapes in paths.
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		d := randomDoc(rng, 4)
		for _, p := range []string{"@this", "a", "id", "10", "a.0", "x y", "é", `b\.c`} {
			for _, id := range []string{"", "id", "a", "@this", "0"} {
				checkArray(t, d, p, id)
			}
		}
	}
}

// randomResponse is a response with a list of items under "items" (sometimes
// twice) and under "data.list": ids of several kinds, repeated, missing.
func randomResponse(r *rand.Rand) []byte {
	var b bytes.Buffer
	item := func(i int) {
		b.WriteByte('{')
		var members []string
		switch r.IntN(6) {
		case 0:
		case 1:
			members = append(members, fmt.Sprintf(`"id":%d`, r.IntN(20)))
		case 2:
			members = append(members, fmt.Sprintf(`"id":"s%d","id":"t%d"`, r.IntN(20), r.IntN(20)))
		default:
			members = append(members, fmt.Sprintf(`"id":"s%d"`, r.IntN(20)))
		}
		members = append(members, fmt.Sprintf(`"n":%d`, i), `"tags":["a","]",{"}":1}]`)
		r.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
		b.WriteString(strings.Join(members, ","))
		b.WriteByte('}')
	}
	list := func() {
		b.WriteByte('[')
		for i := range r.IntN(12) {
			if i > 0 {
				b.WriteString(", ")
			}
			if r.IntN(10) == 0 {
				b.WriteString(`"plain"`)
			} else {
				item(i)
			}
		}
		b.WriteByte(']')
	}
	b.WriteString(`{"page":1,"items":`)
	list()
	if r.IntN(4) == 0 {
		b.WriteString(`,"items":`)
		list()
	}
	b.WriteString(`,"data":{"list":`)
	list()
	b.WriteString(`}}`)
	return b.Bytes()
}

// randomEdits are array edits, with a Set or Remove between them at
// times (which change the document the memo was of).
func randomEdits(r *rand.Rand) []Edit {
	paths := []string{"items", "data.list", "items", "data.list.#(n==1).tags"}
	var edits []Edit
	for range 1 + r.IntN(4) {
		p := paths[r.IntN(len(paths))]
		switch r.IntN(6) {
		case 0, 1:
			edits = append(edits, Edit{Op: HideSeen, Path: p, ID: "id", N: r.IntN(4), Demote: r.IntN(3) == 0, MarkFirst: r.IntN(3)})
		case 2:
			edits = append(edits, Edit{Op: Limit, Path: p, N: r.IntN(8)})
		case 3:
			edits = append(edits, Edit{Op: Reorder, Path: p, ID: "id", Order: []string{"s3", "s1"}})
		case 4:
			edits = append(edits, Edit{Op: Set, Path: "page", Value: []byte(`2`)})
		default:
			edits = append(edits, Edit{Op: Remove, Path: "data.list.0"})
		}
	}
	return edits
}

// TestMemoChangesNothing: edits that find an array an earlier edit left,
// with the ids it read, produce what they produce walking the document
// again: the same document, the same edits applied, the same items
// recorded in the same order.
func TestMemoChangesNothing(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 3000 {
		doc := randomResponse(r)
		edits := randomEdits(r)
		recency := map[string]int{}
		for i := range 20 {
			if r.IntN(3) == 0 {
				recency[fmt.Sprintf("s%d", i)] = 1 + r.IntN(3)
			}
		}
		run := func(off bool) ([]byte, []bool, []string) {
			noMemo = off
			defer func() { noMemo = false }()
			seen := &visitorSeen{recency: recency}
			out, err := ApplyPooled(doc, edits, seen, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer out.Release()
			return slices.Clone(out.Doc), slices.Clone(out.Applied), seen.shown
		}
		doc1, applied1, shown1 := run(false)
		doc2, applied2, shown2 := run(true)
		if !bytes.Equal(doc1, doc2) || !slices.Equal(applied1, applied2) || !slices.Equal(shown1, shown2) {
			t.Fatalf("case %d: %s with %+v:\nmemo:    %s %v %q\nwithout: %s %v %q", n, doc, edits, doc1, applied1, shown1, doc2, applied2, shown2)
		}
		for _, p := range []string{"items", "data.list"} {
			checkArray(t, doc, p, "id")
		}
	}
}

// TestLastWinsAgreesWithEncodingJSON: a document without its objects'
// earlier members of repeated keys is, to encoding/json (which keeps the
// last), the document; and it repeats no key.
func TestLastWinsAgreesWithEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	keys := []string{`"a"`, `"b"`, `"\u0061"`, `"c"`}
	var gen func(depth int) string
	gen = func(depth int) string {
		switch n := rng.IntN(10); {
		case depth > 3 || n < 3:
			return []string{`1`, `"x"`, `true`, `null`, ` 2.5 `}[rng.IntN(5)]
		case n < 7:
			var ms []string
			for range rng.IntN(5) {
				ms = append(ms, keys[rng.IntN(len(keys))]+" : "+gen(depth+1))
			}
			return "{ " + strings.Join(ms, " , ") + " }"
		default:
			var es []string
			for range rng.IntN(4) {
				es = append(es, gen(depth+1))
			}
			return "[" + strings.Join(es, ",") + "]"
		}
	}
	dups := 0
	for range 5000 {
		doc := []byte(gen(0))
		out, dup := lastWins(doc)
		if !dup {
			if hasRepeatedKey(doc) {
				t.Fatalf("%s repeats a key, lastWins says not", doc)
			}
			continue
		}
		dups++
		var want, got any
		if err := json.Unmarshal(doc, &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s gives %s: %v", doc, out, err)
		}
		if !reflect.DeepEqual(want, got) || hasRepeatedKey(out) {
			t.Fatalf("%s gives %s: encoding/json reads %v and %v", doc, out, want, got)
		}
	}
	if dups < 500 {
		t.Fatalf("only %d documents with repeated keys", dups)
	}
}
