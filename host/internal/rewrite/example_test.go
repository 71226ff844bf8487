package rewrite_test

import (
	"fmt"
	"os"

	"github.com/bespoke-edge/bespoke/host/internal/rewrite"
)

func Example() {
	// Compiled once, when the plugin loads.
	prog, err := rewrite.CompileStrings([]string{"#hero h1", "body"})
	if err != nil {
		panic(err)
	}

	// Per response: the request's edits, in priority order.
	edits := []rewrite.Edit{
		{Selector: 0, Op: rewrite.SetInner, Content: []byte("Bonjour <b>Lyon</b>")},
		{Selector: 1, Op: rewrite.AddClass, Attr: "geo-fr"},
	}
	rw := prog.NewRewriter(os.Stdout, edits, rewrite.Options{})
	defer rw.Release()
	// The page may arrive in pieces cut anywhere.
	rw.Write([]byte(`<body class="home"><section id="hero"><h1>Hel`))
	rw.Write([]byte(`lo <i>world</i></h1></section></body>`))
	rw.Close()
	fmt.Println()
	fmt.Println(rw.Applied())
	// Output:
	// <body class="home geo-fr"><section id="hero"><h1>Bonjour <b>Lyon</b></h1></section></body>
	// [1 1]
}

func ExampleProgram_NewSplicer() {
	prog, err := rewrite.CompileStrings([]string{"#hero h1", "li.card"})
	if err != nil {
		panic(err)
	}
	page := []byte(`<section id="hero"><h1>Hello</h1></section><ul><li class="card">a<li class="card">b</ul>`)

	// The first response of the page: its map is recorded beside the
	// rewrite (here alone).
	b := prog.NewMapBuilder(1 << 20)
	b.Write(page)
	m := b.Close()
	b.Release()

	// A later response of the same page, for another visitor: spliced.
	edits := []rewrite.Edit{
		{Selector: 0, Op: rewrite.SetInner, Content: []byte("Bonjour")},
		{Selector: 1, Op: rewrite.Limit, N: 1},
	}
	sp := prog.NewSplicer(os.Stdout, m, edits, rewrite.Options{})
	defer sp.Release()
	sp.Write(page)
	sp.Close()
	fmt.Println()
	fmt.Println(sp.Used(), sp.FellBack(), sp.Applied())

	// A page that changed: the Rewriter takes over, with the same result
	// as if it had rewritten the page from the start.
	sp2 := prog.NewSplicer(os.Stdout, m, edits, rewrite.Options{})
	defer sp2.Release()
	sp2.Write([]byte(`<section id="hero"><h1>Howdy</h1></section><ul><li class="card">a<li class="card">b</ul>`))
	sp2.Close()
	fmt.Println()
	fmt.Println(sp2.Used(), sp2.FellBack(), sp2.Applied())
	// Output:
	// <section id="hero"><h1>Bonjour</h1></section><ul><li class="card">a</li></ul>
	// true -1 [1 1]
	// <section id="hero"><h1>Bonjour</h1></section><ul><li class="card">a</li></ul>
	// true 0 [1 1]
}
