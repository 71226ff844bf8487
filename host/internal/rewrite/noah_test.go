package rewrite

import (
	"bytes"
	"strings"
	"testing"
)

// TestNoahsArk: a fourth formatting element of the same tag and
// attributes takes the earliest out of the list of active formatting
// elements, which stays open (html5lib's adoption01: <b><b><b><b>). Its
// end tag must then end it as any other end tag does, once the list has
// been trimmed or compacted past it, and a rewrite that edits the
// elements, a map builder and a splice must get through the page. Each
// edit below appends "+" to every b, so the output shows which end tag
// ended which element. (The browser differential cannot take these
// pages: the attributes it marks elements with make them unlike each
// other, and the clause then applies to none.)
func TestNoahsArk(t *testing.T) {
	many := "<div>" + strings.Repeat("<b>", 20) + "x" + strings.Repeat("</b>", 20) + "<b>y</b><i>z</i></div>"
	for _, c := range []struct{ in, want string }{
		{`<b><b><b><b>x</b></b></b></b>y`, `<b><b><b><b>x+</b>+</b>+</b>+</b>y`},
		{`<b><b><b><b>x</b></b></b></b>`, `<b><b><b><b>x+</b>+</b>+</b>+</b>`},
		// </p> ends all four; the three still listed are reopened for y,
		// as copies, which are not edited.
		{`<p><b class=a><b class=a><b class=a><b class=a>x</p>y</b>z`, `<p><b class=a><b class=a><b class=a><b class=a>x++++</p>y</b>z`},
		{many, "<div>" + strings.Repeat("<b>", 20) + "x" + strings.Repeat("+</b>", 20) + "<b>y+</b><i>z</i></div>"},
	} {
		p := mustCompile("b")
		var out bytes.Buffer
		rw := p.NewRewriter(&out, []Edit{{Selector: 0, Op: Append, Content: []byte("+")}}, Options{})
		rw.Write([]byte(c.in))
		rw.Close()
		rw.Release()
		if out.String() != c.want {
			t.Errorf("%s\n got %s\nwant %s", c.in, out.String(), c.want)
		}
		b := p.NewMapBuilder(1 << 20)
		b.Write([]byte(c.in))
		m := b.Close()
		b.Release()
		if m == nil {
			t.Fatalf("%s: no map", c.in)
		}
		var spliced bytes.Buffer
		s := p.NewSplicer(&spliced, m, []Edit{{Selector: 0, Op: Append, Content: []byte("+")}}, Options{})
		s.Write([]byte(c.in))
		s.Close()
		s.Release()
		if spliced.String() != c.want {
			t.Errorf("%s: spliced\n got %s\nwant %s", c.in, spliced.String(), c.want)
		}
	}
}
