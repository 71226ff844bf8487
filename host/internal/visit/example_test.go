package visit_test

import (
	"context"
	"fmt"

	"github.com/bespoke-edge/bespoke/host/internal/engine"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/host/internal/site"
	"github.com/bespoke-edge/bespoke/host/internal/visit"
	"github.com/bespoke-edge/bespoke/internal/compiler"
)

// Example simulates a visitor from France and shows what the proxy would
// send for the page.
func Example() {
	res, err := compiler.Compile("rules.yaml", []byte(`
rules:
  - name: french
    when: geo.country == "FR"
    actions:
      - set_inner: { select: h1, text: Bonjour }
`))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	eng, _ := engine.New(engine.Config{CacheDir: "-"})
	defer eng.Close(ctx)
	s, err := site.Load(ctx, eng, "rules.yaml", res.Artifact, reqctx.Config{})
	if err != nil {
		panic(err)
	}
	defer s.Close(ctx)

	v, err := visit.Run(ctx, s, res.Program, visit.Spec{Headers: [][2]string{{"CF-IPCountry", "FR"}}, Visitor: "alice"})
	if err != nil {
		panic(err)
	}
	out, _ := v.Render(&visit.Page{Body: []byte("<h1>Hello</h1>")})
	fmt.Println(v.Matched())
	fmt.Println(string(out.Body))
	// Output:
	// [french]
	// <h1>Bonjour</h1>
}
