package rewrite_test

import (
	"fmt"
	"os"

	"github.com/bespoke-edge/bespoke/host/rewrite"
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
