package rewrite

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeeds are pages with the constructs the tokenizer must get right.
var fuzzSeeds = []string{
	`<html><body><ul class="cards"><li class="card" data-item-id="a">x</li><li class=card data-item-id=b>y</ul></body></html>`,
	`<p>a<p>b<div>c</div><table><tr><td>1<td>2</table><dl><dt>t<dd>d</dl><select><option>1<option>2</select>`,
	`<script>if(a<b)document.write("</div>")</script><script><!--<script></script>--></script><!-- c --><![CDATA[x]]><?pi?>`,
	`<svg><path d="M0"/><foreignObject><p>x</p></foreignObject><![CDATA[<b>]]></svg><textarea><b></textarea><DIV CLASS=x>`,
	`<a href='x' title="a>b" data-x=y>z</a></span></a></div>`,
	`<`, `</`, `<!--`, `<a`, `<a b="`, `<!-->`, `<!DOCTYPE html>`, `</>`, `<plaintext><b>`,
	"\xef\xbb\xbf<p>\xff\xfe</p>",
	`<style>p{}</style><title><p></title><noscript><p></noscript>`,
	// The Noah's ark clause (see TestNoahsArk).
	`<b><b><b><b>x</b></b></b></b>y`,
	`<p><b class=a><b class=a><b class=a><b class=a>x</p>y</b>z`,
	`<div><b><b><b><b><b><b><b><b><b><b><b><b><b><b><b><b><b><b><b><b>x</b></b></b></b></b></b></b></b></b></b></b></b></b></b></b></b></b></b></b></b><b>y</b><i>z</i></div>`,
}

// FuzzRewrite feeds arbitrary bytes, in random chunks, to two rewriters.
// With edits whose selectors match nothing, the output must equal the
// input byte for byte. With edits that match, nothing may panic, and the
// output must hold every byte of the input that no edit removes: at most
// the input plus what the edits insert.
func FuzzRewrite(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add([]byte(s), uint64(i))
	}
	for i, s := range pageWindows(f, 4096) {
		f.Add([]byte(s), uint64(100+i))
	}
	none, err := CompileStrings([]string{"#never-present", "li.never", "x-none > y", "[data-none]", ":not(*)"})
	if err != nil {
		f.Fatal(err)
	}
	noneEdits := []Edit{
		{Selector: 0, Op: Remove},
		{Selector: 1, Op: SetInner, Content: []byte("x")},
		{Selector: 2, Op: Limit, N: 0},
		{Selector: 3, Op: HideSeen, Attr: "id"},
		{Selector: 4, Op: AddClass, Attr: "c"},
	}
	some, err := CompileStrings([]string{"li", "p", "div", "*", "td:nth-child(2)", "ul > li:not(.x)", "a[href]", "svg *"})
	if err != nil {
		f.Fatal(err)
	}
	someEdits := []Edit{
		{Selector: 0, Op: HideSeen, Attr: "data-item-id", N: 1},
		{Selector: 1, Op: SetInner, Content: []byte("<b>p</b>")},
		{Selector: 2, Op: AddClass, Attr: "d"},
		{Selector: 3, Op: InsertAfter, Content: []byte("|")},
		{Selector: 4, Op: Remove},
		{Selector: 5, Op: Reorder, Attr: "id", Order: []string{"b", "a"}},
		{Selector: 6, Op: SetAttr, Attr: "href", Value: `"&`},
		{Selector: 7, Op: Append, Content: []byte("+")},
		{Selector: 2, Op: Limit, N: 2},
		{Selector: 1, Op: RemoveKeepContent},
	}
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		chunks := func() int { return 1 + rng.IntN(64) }

		var out bytes.Buffer
		rw := none.NewRewriter(&out, noneEdits, Options{MaxBuffer: 1 << 16})
		feed(t, rw, in, chunks)
		if !bytes.Equal(out.Bytes(), in) {
			t.Fatalf("no edit matches, yet the output differs:\n in: %q\nout: %q", in, out.Bytes())
		}

		out.Reset()
		max := 64 + rng.IntN(4096)
		rw = some.NewRewriter(&out, someEdits, Options{MaxBuffer: max, Seen: seenSet("a")})
		feed(t, rw, in, chunks)
		// Every element gets at most "<b>p</b>" (8 bytes), "|" and "+" and
		// a class and an attribute (under 40 bytes); an element takes at
		// least 3 bytes of input.
		if limit := len(in) + len(in)/3*60 + 64; out.Len() > limit {
			t.Fatalf("output of %d bytes for %d bytes of input", out.Len(), len(in))
		}
	})
}

func feed(t *testing.T, rw *Rewriter, in []byte, size func() int) {
	t.Helper()
	for len(in) > 0 {
		n := min(size(), len(in))
		if k, err := rw.Write(in[:n]); k != n || err != nil {
			t.Fatalf("Write: %d, %v", k, err)
		}
		in = in[n:]
	}
	if err := rw.Close(); err != nil {
		t.Fatal(err)
	}
	if len(rw.pending) != 0 || len(rw.buf) != 0 || len(rw.regions) != 0 {
		t.Fatalf("holds %d bytes after Close", rw.held())
	}
	rw.Release()
}

// FuzzBrowserDifferential runs the differential check of browser_test.go
// on arbitrary pages: the rewriter's tree and what selectors select in it
// against x/net/html and cascadia, differing only by design.
func FuzzBrowserDifferential(f *testing.F) {
	for _, s := range malformedCases {
		f.Add(s)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 50; i++ {
		f.Add(malformedPage(rng))
	}
	for _, s := range pageWindows(f, 4096) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if len(in) > 4096 {
			return // the reference parser is slow on big pages
		}
		checkPage(t, in)
	})
}

// pageWindows returns parts of the saved pages of testdata/pages, each
// of up to n bytes and starting at a tag: the head, the start of the
// body and places past them, so that the fuzzers start from the markup
// of real sites (inline scripts and styles, SVG, forms, tables, lists
// of cards, comments) rather than from generated pages alone.
func pageWindows(f *testing.F, n int) []string {
	var out []string
	for _, name := range []string{"shop", "article", "news"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "pages", name+".html"))
		if err != nil {
			f.Fatal(err)
		}
		starts := []int{0}
		if i := bytes.Index(b, []byte("<body")); i >= 0 {
			starts = append(starts, i)
		}
		for _, frac := range []int{3, 2} {
			if i := bytes.IndexByte(b[len(b)/frac:], '<'); i >= 0 {
				starts = append(starts, len(b)/frac+i)
			}
		}
		for _, i := range starts {
			out = append(out, string(b[i:min(i+n, len(b))]))
		}
	}
	return out
}

// FuzzTagEnd checks that tagEnd, fed a tag in two parts, finds the end
// scanAttrs finds in the whole.
func FuzzTagEnd(f *testing.F) {
	for _, s := range []string{`<a href="x>y" b='c>d' e=f g>`, `<div a a a>`, `<p a= "b">`, `<x ==">`, `<a/b=c/>`,
		`</div class=">">`, `<a b=>`, `<a b = 'c' >`, `<a "b"=c>`, `<a b`, `<a b="`} {
		f.Add(s, uint8(3))
	}
	f.Fuzz(func(t *testing.T, tag string, cut uint8) {
		b := []byte(tag)
		from := 1
		if len(b) > 1 && b[1] == '/' {
			from = 2
		}
		if len(b) <= from || b[0] != '<' || !isAlpha(b[from]) {
			return
		}
		i, _ := scanName(b, from)
		want := len(b) // not ended
		if i < len(b) {
			var tf tagFacts
			if gt := scanAttrs(b, i, &tf, nil); gt >= 0 {
				want = gt
			}
		}
		rest := b[from:]
		c := int(cut) % (len(rest) + 1)
		var te tagEnd
		te.start()
		got := len(b)
		if e := te.feed(rest[:c]); e >= 0 {
			got = from + e
		} else if e := te.feed(rest[c:]); e >= 0 {
			got = from + c + e
		}
		if got != want {
			t.Fatalf("%q cut at %d: tagEnd ends it at %d, scanAttrs at %d", tag, from+c, got, want)
		}
	})
}
