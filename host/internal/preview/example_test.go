package preview_test

import (
	"fmt"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/preview"
)

// ExampleLinks mints a link that shows a page through the proxy with a
// variant forced, and reads it back as the proxy does.
func ExampleLinks() {
	links := preview.NewLinks([]byte("the key that signs bespoke's cookies"))
	p := preview.Preview{Variants: map[string]string{"hero-test": "bold"}, At: time.Date(2026, 12, 24, 18, 0, 0, 0, time.UTC)}
	tok := links.Token(p)
	got, ok := links.Parse(tok)
	fmt.Println(ok, got.Label())
	_, ok = links.Parse(tok + "x")
	fmt.Println(ok)
	// Output:
	// true hero-test=bold; at=2026-12-24T18:00:00Z
	// false
}
