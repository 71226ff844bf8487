package rewrite

// tagEnd finds where a tag split across writes ends, resuming where the
// last write stopped, so that a tag that grows over many writes is read
// once, not once per write. It follows scanAttrs's reading of a tag (a
// '>' inside a quoted value does not end it); when the end is found, the
// whole tag is handled once more by the ordinary path.
type tagEnd struct {
	state uint8
	quote byte
}

// tagEnd states: where in the tag the last byte read was.
const (
	teName      uint8 = iota // in the tag name
	teBefore                 // between attributes
	teAttrName               // in an attribute name
	teAfterName              // in spaces after a name, before a possible '='
	teBeforeVal              // after '=', before the value
	teQuoted                 // in a quoted value (quote)
	teUnquoted               // in an unquoted value
)

// start begins a tag whose name starts the bytes fed next.
func (t *tagEnd) start() { t.state = teName }

// feed reads b, the tag's next bytes, and returns the index of the '>'
// that ends the tag, or -1 when it does not end in b.
func (t *tagEnd) feed(b []byte) int {
	for i := 0; i < len(b); i++ {
		c := b[i]
	again:
		switch t.state {
		case teName:
			switch {
			case c == '>':
				return i
			case byteClass[c]&(cSpace|cSlash) != 0:
				t.state = teBefore
			}
		case teBefore:
			switch {
			case c == '>':
				return i
			case byteClass[c]&(cSpace|cSlash) != 0:
			default:
				t.state = teAttrName // its first byte may be '=' or a quote
			}
		case teAttrName:
			switch {
			case c == '=':
				t.state = teBeforeVal
			case isSpace(c):
				t.state = teAfterName
			case c == '/' || c == '>':
				t.state = teBefore
				goto again
			}
		case teAfterName:
			switch {
			case c == '=':
				t.state = teBeforeVal
			case !isSpace(c):
				t.state = teBefore
				goto again
			}
		case teBeforeVal:
			switch {
			case c == '>':
				return i // "a=>": the value is missing
			case c == '"' || c == '\'':
				t.state, t.quote = teQuoted, c
			case !isSpace(c):
				t.state = teUnquoted
			}
		case teQuoted:
			// The value to its quote in one search.
			j := indexByte(b[i:], t.quote)
			if j < 0 {
				return -1
			}
			i += j
			t.state = teBefore
		case teUnquoted:
			switch {
			case c == '>':
				return i
			case isSpace(c):
				t.state = teBefore
			}
		}
	}
	return -1
}
