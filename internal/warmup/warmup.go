// Package warmup makes the page a benchmark's returning visitor saw
// before: the shop page (testdata/pages/shop.html) with every third
// product card alone. A view of it leaves a seen-filter holding a third of
// the shop page's items, as bench/'s visitors' do; after a view of the
// page itself every item would be seen, and hide_seen would leave a
// near-empty page.
package warmup

import "bytes"

// card starts a product card of the shop page.
var card = []byte(`<li class="product card"`)

// Page returns page with only every third of its product cards (the
// first, the fourth, ...), each card taken whole, nested lists and all,
// with the spaces after it.
func Page(page []byte) []byte {
	out := make([]byte, 0, len(page))
	last, n := 0, 0
	for at := bytes.Index(page, card); at >= 0; {
		end := cardEnd(page, at)
		if n%3 != 0 {
			out = append(out, page[last:at]...)
			last = end
		}
		n++
		next := bytes.Index(page[end:], card)
		if next < 0 {
			break
		}
		at = end + next
	}
	return append(out, page[last:]...)
}

// cardEnd returns the offset after the card starting at at: past the
// </li> that closes it, and the spaces after.
func cardEnd(page []byte, at int) int {
	depth := 0
	for i := at; i < len(page); i++ {
		switch {
		case bytes.HasPrefix(page[i:], []byte("</li>")):
			depth--
			if depth == 0 {
				i += len("</li>")
				for i < len(page) && (page[i] == ' ' || page[i] == '\n') {
					i++
				}
				return i
			}
		case bytes.HasPrefix(page[i:], []byte("<li")) && i+3 < len(page) && (page[i+3] == ' ' || page[i+3] == '>'):
			depth++
		}
	}
	return len(page)
}
