package jsonrw

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		doc   string
		depth int
		want  error
	}{
		{`{}`, 0, nil},
		{` [ ] `, 0, nil},
		{`{"a":[1,2,{"b":null}],"c":"x\\u00e9\"","d":-0.5e+10,"e":true,"f":false}`, 0, nil},
		{`"just a string"`, 0, nil},
		{`0`, 0, nil},
		{`-12.5E3`, 0, nil},
		{"\t\n\r 1 \t\n\r", 0, nil},
		{`"\u00zz"`, 0, ErrNotJSON},
		{``, 0, ErrNotJSON},
		{`   `, 0, ErrNotJSON},
		{`{`, 0, ErrNotJSON},
		{`[1,]`, 0, ErrNotJSON},
		{`{"a":1,}`, 0, ErrNotJSON},
		{`{"a" 1}`, 0, ErrNotJSON},
		{`{1:1}`, 0, ErrNotJSON},
		{`[1 2]`, 0, ErrNotJSON},
		{`[}`, 0, ErrNotJSON},
		{`{]`, 0, ErrNotJSON},
		{`01`, 0, ErrNotJSON},
		{`1.`, 0, ErrNotJSON},
		{`1e`, 0, ErrNotJSON},
		{`+1`, 0, ErrNotJSON},
		{`.5`, 0, ErrNotJSON},
		{`tru`, 0, ErrNotJSON},
		{`nul`, 0, ErrNotJSON},
		{`"a` + "\x01" + `"`, 0, ErrNotJSON},
		{`"\x"`, 0, ErrNotJSON},
		{`"unterminated`, 0, ErrNotJSON},
		{`{} {}`, 0, ErrNotJSON},
		{`[[[]]]`, 3, nil},
		{`[[[[]]]]`, 3, ErrTooDeep},
		{`{"a":{"b":{"c":{}}}}`, 3, ErrTooDeep},
		{`{"a":{"b":{"c":1}}}`, 3, nil},
		// The limit is reached before the document is found broken.
		{`[[[[`, 3, ErrTooDeep},
	}
	for _, tt := range tests {
		if got := Validate([]byte(tt.doc), tt.depth); got != tt.want {
			t.Errorf("Validate(%q, %d) = %v, want %v", tt.doc, tt.depth, got, tt.want)
		}
	}
}

// TestValidateDeepDocuments: documents nested millions deep are refused at
// the limit, in one pass, without recursion; gjson is never asked.
func TestValidateDeepDocuments(t *testing.T) {
	deep := []byte(`{"a":` + strings.Repeat("[", 8_000_000))
	if err := Validate(deep, 0); err != ErrTooDeep {
		t.Fatalf("8M levels: %v, want ErrTooDeep", err)
	}
	out, applied, err := Apply(deep, []Edit{{Op: Set, Path: "a", Value: []byte(`1`)}}, nil)
	if !errors.Is(err, ErrTooDeep) || !bytes.Equal(out, deep) || applied[0] {
		t.Fatalf("Apply on a deep document: err %v, applied %v, changed %v", err, applied, !bytes.Equal(out, deep))
	}
	// Exactly at the limit the document is edited.
	ok := []byte(`{"a":` + strings.Repeat("[", DefaultMaxDepth-1) + strings.Repeat("]", DefaultMaxDepth-1) + `}`)
	out, applied, err = Apply(ok, []Edit{{Op: Set, Path: "b", Value: []byte(`1`)}}, nil)
	if err != nil || !applied[0] || !bytes.HasSuffix(out, []byte(`,"b":1}`)) {
		t.Fatalf("at the limit: err %v, applied %v", err, applied)
	}
}

// FuzzValidate holds Validate to encoding/json.Valid on every input whose
// nesting is under both limits.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":null}]}`, `[`, `"\ud800"`, `-0.0e-0`, `{"a":1,}`, "\"\xff\"", `[[[[[[1]]]]]]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		err := Validate(doc, 64)
		if err == ErrTooDeep {
			return
		}
		if want := json.Valid(doc); (err == nil) != want {
			t.Fatalf("Validate(%q) = %v, encoding/json.Valid = %v", doc, err, want)
		}
	})
}

// BenchmarkValidate validates a 1.2 MB API response (an array of 5,000
// product objects) with Validate, and with gjson's validator and
// encoding/json.Valid for comparison: the price of checking nesting
// iteratively before any path lookup.
func BenchmarkValidate(b *testing.B) {
	var doc bytes.Buffer
	doc.WriteString(`{"items":[`)
	for i := range 5000 {
		if i > 0 {
			doc.WriteByte(',')
		}
		fmt.Fprintf(&doc, `{"id":"sku-%d","title":"Item \u00e9 %d","price":%d.99,"tags":["a","b"],"stock":{"count":%d,"warehouse":null},"new":true}`, i, i, i%300, i%17)
	}
	doc.WriteString(`],"page":1}`)
	d := doc.Bytes()
	for _, bc := range []struct {
		name string
		ok   func([]byte) bool
	}{
		{"jsonrw", func(d []byte) bool { return Validate(d, 0) == nil }},
		{"gjson", gjson.ValidBytes},
		{"encoding-json", json.Valid},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(d)))
			for range b.N {
				if !bc.ok(d) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
