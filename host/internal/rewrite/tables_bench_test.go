package rewrite

import (
	"fmt"
	"io"
	"testing"
)

// BenchmarkNewRewriter measures what a request pays to get a Rewriter
// ready, before the page: shop is the saved shop page's six selectors
// and edits (as BenchmarkRewritePage/shop/hideseen), wide a program of
// 80 selectors (combinators, :not(), :nth-child()) whose edits use 40.
func BenchmarkNewRewriter(b *testing.B) {
	shop := append(append([]string{}, savedPages[0].edits...), savedPages[0].card)
	shopEdits := append(append([]Edit{}, fiveEdits...), Edit{Selector: 5, Op: HideSeen, Attr: "data-item-id", N: 4})
	var wide []string
	var wideEdits []Edit
	for i := range 80 {
		switch i % 4 {
		case 0:
			wide = append(wide, fmt.Sprintf("#s%d", i))
		case 1:
			wide = append(wide, fmt.Sprintf("div.c%d > p", i))
		case 2:
			wide = append(wide, fmt.Sprintf("ul li.i%d:nth-child(2n+1)", i))
		default:
			wide = append(wide, fmt.Sprintf("section a:not(.x%d)", i))
		}
		if i%2 == 0 {
			wideEdits = append(wideEdits, Edit{Selector: i, Op: SetAttr, Attr: "data-v", Value: "x"})
		}
	}
	for _, c := range []struct {
		name  string
		sels  []string
		edits []Edit
	}{{"shop", shop, shopEdits}, {"wide", wide, wideEdits}} {
		b.Run(c.name, func(b *testing.B) {
			prog, err := CompileStrings(c.sels)
			if err != nil {
				b.Fatal(err)
			}
			seen := &benchSeen{}
			b.ReportAllocs()
			for b.Loop() {
				rw := prog.NewRewriter(io.Discard, c.edits, Options{Seen: seen})
				rw.Release()
			}
		})
	}
}
