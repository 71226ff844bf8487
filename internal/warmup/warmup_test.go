package warmup

import (
	"bytes"
	"os"
	"testing"
)

// TestPage: the shop page's 60 cards become 20, whole: every list item
// the page opens and closes, it still does, as many fewer as the cards
// held.
func TestPage(t *testing.T) {
	page, err := os.ReadFile("../../testdata/pages/shop.html")
	if err != nil {
		t.Fatal(err)
	}
	got := Page(page)
	if n := bytes.Count(got, card); n != 20 {
		t.Fatalf("%d cards, want 20", n)
	}
	open := func(b []byte) int { return bytes.Count(b, []byte("<li ")) + bytes.Count(b, []byte("<li>")) }
	close := func(b []byte) int { return bytes.Count(b, []byte("</li>")) }
	if open(page)-close(page) != open(got)-close(got) {
		t.Errorf("unclosed list items: %d in the page, %d in the warm-up", open(page)-close(page), open(got)-close(got))
	}
	// The first card is kept; the second goes (its item is also in the
	// page's "recently viewed" list, which stays).
	if bytes.Count(got, []byte(`data-item-id="p-20030"`)) != 1 || bytes.Count(got, []byte(`data-item-id="p-20053"`)) != 1 {
		t.Error("the first card is not kept, or the second is")
	}
}
