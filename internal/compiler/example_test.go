package compiler_test

import (
	"fmt"

	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/internal/eval"
	"github.com/bespoke-edge/bespoke/plugin"
)

// Example of evaluating rules natively with the reference evaluator, as
// `bespoke explain` does to say why a rule matched.
func Example_reference() {
	p, _ := compiler.Check("site.yaml", []byte(`
rules:
  - name: fr
    when: geo.country in ["FR", "BE"]
    actions: [remove: "#promo"]
`))
	ev, _ := eval.New(p)
	vals := []plugin.Value{{Str: "BE", Present: true}}
	d := ev.Eval(&eval.Env{Values: vals})
	fmt.Println(d.Has(0))
	// Output: true
}
