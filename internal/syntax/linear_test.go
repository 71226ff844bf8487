package syntax

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// TestColumnsLinear: the work of finding the line and column of every
// node and token grows with the file, not with its square, whatever the
// file puts on one line: a flow sequence of thousands of actions or a
// flow mapping of thousands of segments, as a generator writes them, once
// took seconds to parse for a few hundred kilobytes.
func TestColumnsLinear(t *testing.T) {
	for _, tt := range []struct {
		name string
		file func(n int) string
	}{
		{"actions on one line", func(n int) string {
			var b strings.Builder
			b.WriteString("version: 1\nrules: [{name: a, actions: [")
			for i := range n {
				fmt.Fprintf(&b, "{remove: \"#a%d\"}, ", i)
			}
			return b.String() + "]}]\n"
		}},
		{"segments on one line", func(n int) string {
			var b strings.Builder
			b.WriteString("version: 1\nsegments: {")
			for i := range n {
				fmt.Fprintf(&b, "s%d: geo.country == \"FR\", ", i)
			}
			return b.String() + "}\nrules: [{name: a, actions: [remove: \"#x\"]}]\n"
		}},
		{"templates on one line", func(n int) string {
			var b strings.Builder
			b.WriteString("version: 1\nrules: [{name: a, actions: [")
			for i := range n {
				fmt.Fprintf(&b, "{set_inner: {select: \"#a%d\", text: \"hi {{ geo.city }}\"}}, ", i)
			}
			return b.String() + "]}]\n"
		}},
		{"non-ASCII on one line", func(n int) string {
			var b strings.Builder
			b.WriteString("version: 1\nrules: [{name: a, actions: [")
			for i := range n {
				fmt.Fprintf(&b, "{set_inner: {select: \"#é%d\", text: \"Zürich {{ geo.city }}\"}}, ", i)
			}
			return b.String() + "]}]\n"
		}},
		{"one when on one line", func(n int) string {
			return "version: 1\nrules:\n  - name: a\n    when: " + strings.Repeat(`geo.country == "FR" or `, n) + "true\n    actions: [remove: \"#x\"]\n"
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			work := func(n int) int {
				src := tt.file(n)
				_, errs, d := parsePartial("f.yaml", []byte(src))
				if err := errs.Err(); err != nil {
					t.Fatal(err)
				}
				return d.walked
			}
			// Linear work doubles; quadratic work quadruples.
			small, big := work(500), work(1000)
			if big > 3*small+1000 {
				t.Errorf("read %d bytes to place the positions of %d entries, %d for twice as many", small, 500, big)
			}
		})
	}
}

// TestAllocLinear: the bytes parsing allocates grow with the file, not
// with its square. Each quoted value on a long line once copied the rest
// of its line, to see whether its quote is closed, and each block value
// the rest of the file, to find the line it starts on: thousands of
// quoted values on one line took most of a second to parse.
func TestAllocLinear(t *testing.T) {
	for _, tt := range []struct {
		name string
		file func(n int) string
	}{
		{"quoted values on one line", func(n int) string {
			var b strings.Builder
			b.WriteString("version: 1\nrules: [{name: a, actions: [")
			for i := range n {
				fmt.Fprintf(&b, "{set_inner: {select: '#a%d', text: \"hi {{ geo.city }}\"}}, ", i)
			}
			return b.String() + "]}]\n"
		}},
		{"block values", func(n int) string {
			var b strings.Builder
			b.WriteString("version: 1\nrules:\n  - name: a\n    actions:\n")
			for i := range n {
				fmt.Fprintf(&b, "      - set_inner:\n          select: \"#a%d\"\n          text: |\n            hi {{ geo.city }}\n", i)
			}
			return b.String()
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			alloc := func(n int) uint64 {
				src := []byte(tt.file(n))
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				_, errs, _ := parsePartial("f.yaml", src)
				runtime.ReadMemStats(&after)
				if err := errs.Err(); err != nil {
					t.Fatal(err)
				}
				return after.TotalAlloc - before.TotalAlloc
			}
			// Linear allocation doubles; quadratic quadruples.
			small, big := alloc(1000), alloc(2000)
			if big > 3*small {
				t.Errorf("allocated %d bytes to parse %d entries, %d for twice as many", small, 1000, big)
			}
		})
	}
}
