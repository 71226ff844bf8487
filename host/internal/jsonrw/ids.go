package jsonrw

import (
	"unicode/utf8"
	"unsafe"

	"github.com/bespoke-edge/bespoke/internal/jsonpath"
)

// appendUnquoted appends the text of a JSON string's content (the bytes
// between its quotes, valid JSON) to b. Escaped surrogate pairs become
// their character; a lone surrogate (\uD800 to \uDFFF unpaired) becomes
// its three-byte generalized UTF-8 form (WTF-8), never U+FFFD, so that two
// different lone surrogates, or one and U+FFFD, stay different texts.
// Raw bytes are copied as they are.
func appendUnquoted(b, raw []byte) []byte {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			b = append(b, c)
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := hex4(raw[i+1:])
			i += 4
			if r >= 0xD800 && r < 0xDC00 && i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
				if lo := hex4(raw[i+3:]); lo >= 0xDC00 && lo < 0xE000 {
					b = utf8.AppendRune(b, 0x10000+(r-0xD800)<<10+(lo-0xDC00))
					i += 6
					continue
				}
			}
			if r >= 0xD800 && r < 0xE000 {
				// Generalized UTF-8 of the lone surrogate.
				b = append(b, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
				continue
			}
			b = utf8.AppendRune(b, r)
		default: // " \ /
			b = append(b, raw[i])
		}
	}
	return b
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		default:
			r |= rune(c-'A') + 10
		}
	}
	return r
}

// The identity of an item for the seen-filter, from the value at its id
// path:
//
//   - a string: its text (escapes decoded), so that "sku-1" in a JSON
//     response and data-item-id="sku-1" in a page are the same item; a
//     text starting with a NUL byte gets NUL 's' in front, which keeps
//     the forms below apart from every string;
//   - a number: NUL 'n' and the number as written (1 and 1.0 are two
//     ids; the number 1 and the string "1" are two items);
//   - true, false, null, an object or an array: NUL 'j' and the JSON as
//     written.
//
// An element without a value at the id path has no id: it is never seen
// and never recorded.
const (
	idMark   = 0
	idString = 's'
	idNumber = 'n'
	idJSON   = 'j'
)

// itemID appends the identity (see above) of the element elem's id, at
// path steps inside it, to b, and returns b. The id is b[start:]; its text
// (for Reorder's order: a string's text, or the JSON of any other value)
// is b[text:]. ok is false, and b unchanged, when it has none.
func itemID(elem []byte, steps []jsonpath.Step, b []byte) (out []byte, start, text int, ok bool) {
	p, found := locate(elem, steps)
	if !found {
		return b, 0, 0, false
	}
	out, start, text = appendID(b, elem[p.value.start:p.value.end])
	return out, start, text, true
}

// appendID appends the identity of the id value v to b, as itemID.
func appendID(b, v []byte) (out []byte, start, text int) {
	start = len(b)
	switch v[0] {
	case '"':
		b = appendUnquoted(b, v[1:len(v)-1])
		if len(b) > start && b[start] == idMark {
			b = append(b[:start], idMark, idString)
			b = appendUnquoted(b, v[1:len(v)-1])
			return b, start, start + 2
		}
		return b, start, start
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		b = append(b, idMark, idNumber)
	default:
		b = append(b, idMark, idJSON)
	}
	return append(b, v...), start, start + 2
}

// IDText returns an item's identity (see above) as an editor writes it:
// a string's text, a number or other JSON as written. The tools that
// take ids from editors (tests, explain, the preview) key items by it,
// so that seen: [101] is the item whose id is the number 101; there,
// unlike in the proxy, the number 101 and the string "101" are one item.
func IDText(id string) string {
	if len(id) >= 2 && id[0] == idMark {
		return id[2:]
	}
	return id
}

// str is b as a string without a copy: b must not change while it is in
// use (ids are handed to a SeenSet for the time of a call).
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
