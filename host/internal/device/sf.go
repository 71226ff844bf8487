package device

import (
	"strings"
	"unicode/utf8"
)

// The Client Hints are Structured Field Values (RFC 9651): Sec-CH-UA is
// a List of Strings with a "v" parameter, Sec-CH-UA-Mobile a Boolean, the
// others Strings. The readers below parse what those hints need, as the
// RFC does, and do not allocate: a field that fails to parse is no hint
// (RFC 9651 4.2, "fail parsing" ignores the field), and neither is one
// of another type (a token Android, an integer v=124).

// Kinds of bare items sfScan tells apart; sfBad is a failure.
const (
	sfBad = iota
	sfStr
	sfBool
	sfOther
)

// sfScan reads a bare item at the start of s (RFC 9651 4.2.3.1) and
// returns its kind, its text (a string's between its quotes, escapes
// kept; "1" or "0" for a boolean) and the rest of s.
func sfScan(s string) (kind int, text, rest string) {
	if s == "" {
		return sfBad, "", s
	}
	switch c := s[0]; {
	case c == '"':
		for i := 1; i < len(s); i++ {
			switch c := s[i]; {
			case c == '\\':
				i++
				if i == len(s) || s[i] != '"' && s[i] != '\\' {
					return sfBad, "", s
				}
			case c == '"':
				return sfStr, s[1:i], s[i+1:]
			case c < 0x20 || c > 0x7e:
				return sfBad, "", s
			}
		}
	case c == '?':
		if len(s) >= 2 && (s[1] == '0' || s[1] == '1') {
			return sfBool, s[1:2], s[2:]
		}
	case c == '-' || isDigit(c):
		if rest, ok := sfNumber(s, false); ok {
			return sfOther, "", rest
		}
	case c == '@':
		if rest, ok := sfNumber(s[1:], true); ok {
			return sfOther, "", rest
		}
	case c == '*' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		i := 1
		for i < len(s) && (isTchar(s[i]) || s[i] == ':' || s[i] == '/') {
			i++
		}
		return sfOther, "", s[i:]
	case c == ':':
		// Binary content: base64, padded or not (RFC 9651 4.2.7 lets a
		// parser read it unpadded).
		end := strings.IndexByte(s[1:], ':')
		if end < 0 {
			return sfBad, "", s
		}
		b := s[1 : 1+end]
		n := len(strings.TrimRight(b, "="))
		for i := 0; i < len(b); i++ {
			c := b[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '+' || c == '/' || c == '=' && i >= n) {
				return sfBad, "", s
			}
		}
		if n%4 == 1 {
			return sfBad, "", s
		}
		return sfOther, "", s[2+end:]
	case c == '%':
		if rest, ok := sfDisplayString(s); ok {
			return sfOther, "", rest
		}
	}
	return sfBad, "", s
}

// isTchar reports whether c may be in an HTTP token (RFC 9110 5.6.2).
func isTchar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// sfNumber reads an Integer or a Decimal (RFC 9651 4.2.4) at the start
// of s, an Integer only with integer, and returns the rest of s.
func sfNumber(s string, integer bool) (string, bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	start, dot := i, -1
	for ; i < len(s); i++ {
		if c := s[i]; c == '.' && dot < 0 && !integer {
			if i-start > 12 {
				return s, false
			}
			dot = i
		} else if !isDigit(c) {
			break
		}
		if dot < 0 && i-start >= 15 || i-start >= 16 {
			return s, false
		}
	}
	if i == start || s[start] == '.' || dot >= 0 && (dot == i-1 || i-dot > 4) {
		return s, false
	}
	return s[i:], true
}

// sfDisplayString reads a Display String (RFC 9651 4.2.10) at the start
// of s and returns the rest of s: its percent-encoded bytes must be
// UTF-8.
func sfDisplayString(s string) (string, bool) {
	if len(s) < 2 || s[1] != '"' {
		return s, false
	}
	var buf [utf8.UTFMax]byte
	n := 0
	for i := 2; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 || c > 0x7e:
			return s, false
		case c == '"':
			return s[i+1:], n == 0
		case c == '%':
			if i+2 >= len(s) || !isLowerHex(s[i+1]) || !isLowerHex(s[i+2]) {
				return s, false
			}
			buf[n] = unhex(s[i+1])<<4 | unhex(s[i+2])
			n++
			i += 2
		default:
			if n > 0 {
				return s, false
			}
			continue
		}
		// The decoded bytes so far must be a valid start of UTF-8, and
		// make a whole rune before the next character that is not
		// percent-encoded.
		if utf8.FullRune(buf[:n]) {
			if r, size := utf8.DecodeRune(buf[:n]); r == utf8.RuneError && size == 1 {
				return s, false
			}
			n = 0
		} else if n == len(buf) {
			return s, false
		}
	}
	return s, false
}

func isLowerHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' }

func unhex(c byte) byte {
	if c >= 'a' {
		return c - 'a' + 10
	}
	return c - '0'
}

// sfParams reads the parameters at the start of s (RFC 9651 4.2.3.2) and
// returns the text of the last "v" that is a String ("" when the last v
// is no String, or there is none) and the rest of s.
func sfParams(s string) (v, rest string, ok bool) {
	for s != "" && s[0] == ';' {
		s = trimSP(s[1:])
		if s == "" || s[0] != '*' && (s[0] < 'a' || s[0] > 'z') {
			return "", s, false
		}
		i := 1
		for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || isDigit(s[i]) || s[i] == '_' || s[i] == '-' || s[i] == '.' || s[i] == '*') {
			i++
		}
		key := s[:i]
		s = s[i:]
		kind, text := sfBool, "1"
		if s != "" && s[0] == '=' {
			if kind, text, s = sfScan(s[1:]); kind == sfBad {
				return "", s, false
			}
		}
		if key == "v" {
			v = ""
			if kind == sfStr {
				v = text
			}
		}
	}
	return v, s, true
}

// sfReadItem reads h as a Structured Field Item (RFC 9651 4.2.3) and returns
// its kind and text as sfScan does: sfBad when h fails to parse, or is
// empty.
func sfReadItem(h string) (kind int, text string) {
	h = trimSP(h)
	kind, text, rest := sfScan(h)
	if kind == sfBad {
		return sfBad, ""
	}
	if _, rest, ok := sfParams(rest); !ok || trimSP(rest) != "" {
		return sfBad, ""
	}
	return kind, text
}

// sfString is the text of h when h is a Structured Field String, with
// its escapes undone (which allocates, for the rare string that has
// them).
func sfString(h string) (string, bool) {
	kind, text := sfReadItem(h)
	if kind != sfStr {
		return "", false
	}
	if strings.IndexByte(text, '\\') >= 0 {
		var b strings.Builder
		for i := 0; i < len(text); i++ {
			if text[i] == '\\' {
				i++
			}
			b.WriteByte(text[i])
		}
		text = b.String()
	}
	return text, true
}

// sfList calls brand for each member of the list h that is a String,
// with its text and its "v" parameter's text (escapes kept: no brand
// device knows, nor a version, holds a quote or a backslash); ok reports
// whether h parses as a List with members (RFC 9651 4.2.1). The list is
// read once: when it fails to parse, brand may have been called for the
// members before the failure, and the caller must forget them.
func sfList(h string, brand func(name, v string)) (ok bool) {
	s := trimSP(h)
	if s == "" {
		return false
	}
	for {
		var kind int
		var name, v string
		if s[0] == '(' {
			// An inner list: no brand, read to skip it.
			s = s[1:]
			for {
				s = trimSP(s)
				if s == "" {
					return false
				}
				if s[0] == ')' {
					s = s[1:]
					break
				}
				var ok bool
				if kind, _, s = sfScan(s); kind == sfBad {
					return false
				}
				if _, s, ok = sfParams(s); !ok || s == "" || s[0] != ' ' && s[0] != ')' {
					return false
				}
			}
			kind = sfOther
		} else if kind, name, s = sfScan(s); kind == sfBad {
			return false
		}
		var ok bool
		if v, s, ok = sfParams(s); !ok {
			return false
		}
		if kind == sfStr {
			brand(name, v)
		}
		if s = trimOWS(s); s == "" {
			return true
		}
		if s[0] != ',' {
			return false
		}
		if s = trimOWS(s[1:]); s == "" {
			return false
		}
	}
}

// trimSP removes the spaces at the start of s.
func trimSP(s string) string {
	for s != "" && s[0] == ' ' {
		s = s[1:]
	}
	return s
}

// trimOWS removes the spaces and tabs at the start of s.
func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	return s
}
