package syntax

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestPosAtInAnyOrder: posAt counts a column from the last position it
// was asked on the same line; asked in any order, at the start of any
// rune, it gives the line and column counted from the line's start.
func TestPosAtInAnyOrder(t *testing.T) {
	src := "rules:\n  - name: é\n    when: geo.city == \"Zürich\" and 日本 != \"x\"\n\n    x: \"ü\"\n"
	d := &decoder{file: "f.yaml", src: []byte(src)}
	d.indexLines()
	var offs []int
	for i := range len(src) + 1 {
		if i == len(src) || utf8.RuneStart(src[i]) {
			offs = append(offs, i)
		}
	}
	want := func(off int) (int, int) {
		line := strings.Count(src[:off], "\n") + 1
		start := strings.LastIndexByte(src[:off], '\n') + 1
		return line, utf8.RuneCountInString(src[start:off]) + 1
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		off := offs[r.IntN(len(offs))]
		got := d.posAt(off)
		line, col := want(off)
		if got.Line != line || got.Col != col || got.File != "f.yaml" {
			t.Fatalf("posAt(%d) = %d:%d, want %d:%d", off, got.Line, got.Col, line, col)
		}
	}
}
