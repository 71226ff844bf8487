package preview_test

import (
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/preview"
)

// FuzzParseToken feeds the proxy's token parser what a visitor can send:
// it never panics, and accepts only tokens the key signed.
func FuzzParseToken(f *testing.F) {
	l := preview.NewLinks([]byte("fuzzing key, sixteen bytes or more"))
	f.Add(l.Token(preview.Preview{Variants: map[string]string{"x": "y"}, Buckets: map[string]int{"k": 1}, At: time.Unix(1800000000, 0)}))
	f.Add("off")
	f.Add("e30.")
	f.Add("eyJleHAiOiIyMDk5LTAxLTAxVDAwOjAwOjAwWiJ9.AAAA")
	f.Fuzz(func(t *testing.T, tok string) {
		p, ok := l.Parse(tok)
		if !ok {
			return
		}
		// Accepted: it must be what the key signs for its content.
		if l.Token(*p) != tok && !p.Expires.After(time.Now()) {
			t.Fatalf("accepted an expired token %q", tok)
		}
		if _, ok2 := preview.NewLinks([]byte("another key, sixteen bytes or more")).Parse(tok); ok2 {
			t.Fatalf("token %q valid under two keys", tok)
		}
	})
}
