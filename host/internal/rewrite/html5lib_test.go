package rewrite

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/corpus"
)

// html5libInputs returns the inputs of html5lib's tree-construction
// tests (corpus.HTML5LibInputs).
func html5libInputs(t *testing.T) []string { return corpus.HTML5LibInputs(t) }

// TestHTML5LibSplice: on every html5lib tree-construction input, alone
// and after 5 KB of comments (so that it crosses a block boundary), a
// rewrite with random edits gets through, and a splice of the page with
// its volatile values (attributes, comments, raw text, the body's text)
// rewritten, from the map of the page before, is what the Rewriter makes
// of it. The Noah's ark crash (TestNoahsArk) was found here.
// BESPOKE_SEED picks the edits and the values.
func TestHTML5LibSplice(t *testing.T) {
	inputs := html5libInputs(t)
	p := mustCompile("p", "div", "b", "i", "a", "table td", "li", "body", "*", "svg *")
	s := seed(t)
	rng := rand.New(rand.NewPCG(9, s))
	pad := strings.Repeat("<!-- a comment nothing reads -->", 160)
	maps, cases := 0, 0
	for _, in := range inputs {
		for _, page := range []string{in, pad + in} {
			m := recordMap(rng, p, []byte(page), true)
			if m == nil {
				continue
			}
			maps++
			for range 3 {
				served := []byte(page)
				if len(m.vol) > 0 {
					served = revalue(rng, served, m, rng.IntN(3) == 0)
				}
				spliceCase(t, rng, p, m, served, randomEdits(rng, 10), 0, in)
				cases++
			}
		}
	}
	if len(inputs) < 1000 || maps < len(inputs) {
		t.Fatalf("%d inputs, %d maps: the corpus is not what it was", len(inputs), maps)
	}
	t.Logf("%d html5lib inputs, %d maps, %d splices against the Rewriter (BESPOKE_SEED=%d)", len(inputs), maps, cases, s)
}
