package jsonrw

import "errors"

// DefaultMaxDepth is the nesting limit Apply checks documents against: deep
// enough for any API response (encoding/json allows 10,000, real documents
// rarely pass 20), shallow enough that code recursing once per level, as
// gjson's does, stays far from the goroutine stack limit.
const DefaultMaxDepth = 1000

// ErrTooDeep is returned for a document nested deeper than the limit; it is
// then served unchanged.
var ErrTooDeep = errors.New("jsonrw: JSON nested deeper than the limit")

// Validate reports whether doc (bytes or a string) is one JSON value
// (RFC 8259) nested at most
// maxDepth arrays and objects deep: nil, ErrNotJSON, or ErrTooDeep when the
// limit is reached first. maxDepth ≤ 0 means DefaultMaxDepth.
//
// It runs in one pass, in time linear in len(doc) and memory linear in the
// depth, without recursion, so any document may be handed to it; only
// documents it accepts may be handed to code that recurses per level. Like
// encoding/json.Valid it checks the syntax of strings, not that they are
// valid UTF-8.
func Validate[T ~string | ~[]byte](doc T, maxDepth int) error {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	// open holds the kind of each open container, '{' or '['.
	var small [64]byte
	open := small[:0]
	i := ws(doc, 0)
	needValue := true
	for {
		if needValue {
			if i >= len(doc) {
				return ErrNotJSON
			}
			switch c := doc[i]; {
			case c == '{' || c == '[':
				if len(open) >= maxDepth {
					return ErrTooDeep
				}
				open = append(open, c)
				i = ws(doc, i+1)
				if i < len(doc) && doc[i] == c+2 { // '}' is '{'+2, ']' is '['+2
					open = open[:len(open)-1]
					i++
					needValue = false
					continue
				}
				if c == '{' {
					var ok bool
					if i, ok = memberKey(doc, i); !ok {
						return ErrNotJSON
					}
				}
				continue
			case c == '"':
				var ok bool
				if i, ok = scanString(doc, i); !ok {
					return ErrNotJSON
				}
			case c == 't':
				if !hasWord(doc, i, "true") {
					return ErrNotJSON
				}
				i += 4
			case c == 'f':
				if !hasWord(doc, i, "false") {
					return ErrNotJSON
				}
				i += 5
			case c == 'n':
				if !hasWord(doc, i, "null") {
					return ErrNotJSON
				}
				i += 4
			default:
				var ok bool
				if i, ok = scanNumber(doc, i); !ok {
					return ErrNotJSON
				}
			}
			needValue = false
			continue
		}
		// A value ended at i: what may follow depends on the container.
		i = ws(doc, i)
		if len(open) == 0 {
			if i != len(doc) {
				return ErrNotJSON
			}
			return nil
		}
		if i >= len(doc) {
			return ErrNotJSON
		}
		top := open[len(open)-1]
		switch doc[i] {
		case ',':
			i = ws(doc, i+1)
			if top == '{' {
				var ok bool
				if i, ok = memberKey(doc, i); !ok {
					return ErrNotJSON
				}
			}
			needValue = true
		case top + 2:
			open = open[:len(open)-1]
			i++
		default:
			return ErrNotJSON
		}
	}
}

// memberKey scans `"key" :` at i and returns the offset of the value
// after it, past white space.
func memberKey[T ~string | ~[]byte](doc T, i int) (int, bool) {
	if i >= len(doc) || doc[i] != '"' {
		return i, false
	}
	i, ok := scanString(doc, i)
	if !ok {
		return i, false
	}
	i = ws(doc, i)
	if i >= len(doc) || doc[i] != ':' {
		return i, false
	}
	return ws(doc, i+1), true
}

// scanString scans the string whose opening quote is at i and returns the
// offset after its closing quote.
func scanString[T ~string | ~[]byte](doc T, i int) (int, bool) {
	for i++; i < len(doc); i++ {
		if plain[doc[i]] {
			continue
		}
		switch c := doc[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			i++
			if i >= len(doc) {
				return i, false
			}
			switch doc[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(doc) {
					return i, false
				}
				for k := i + 1; k < i+5; k++ {
					if !isHex(doc[k]) {
						return i, false
					}
				}
				i += 4
			default:
				return i, false
			}
		}
	}
	return i, false
}

// plain marks the bytes that stand for themselves in a JSON string.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanNumber scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at i.
func scanNumber[T ~string | ~[]byte](doc T, i int) (int, bool) {
	if i < len(doc) && doc[i] == '-' {
		i++
	}
	switch {
	case i < len(doc) && doc[i] == '0':
		i++
	case i < len(doc) && doc[i] >= '1' && doc[i] <= '9':
		i = digits(doc, i)
	default:
		return i, false
	}
	if i < len(doc) && doc[i] == '.' {
		j := digits(doc, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(doc) && (doc[i] == 'e' || doc[i] == 'E') {
		i++
		if i < len(doc) && (doc[i] == '+' || doc[i] == '-') {
			i++
		}
		j := digits(doc, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func digits[T ~string | ~[]byte](doc T, i int) int {
	for i < len(doc) && doc[i] >= '0' && doc[i] <= '9' {
		i++
	}
	return i
}

func hasWord[T ~string | ~[]byte](doc T, i int, w string) bool {
	if len(doc)-i < len(w) {
		return false
	}
	for k := 0; k < len(w); k++ {
		if doc[i+k] != w[k] {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func ws[T ~string | ~[]byte](doc T, i int) int {
	for i < len(doc) && (doc[i] == ' ' || doc[i] == '\t' || doc[i] == '\n' || doc[i] == '\r') {
		i++
	}
	return i
}
