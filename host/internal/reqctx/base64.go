package reqctx

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// Base64Text decodes s as base64(...) reads a value: the standard or the
// URL-safe alphabet (RFC 4648 sections 4 and 5), padded or not, ASCII
// white space around it ignored. ok is false for anything else: a
// character outside the alphabet (white space or a line break inside, or
// the two alphabets mixed), padding where it cannot be, a length no
// encoding has, trailing bits that are not zero (no encoder writes them),
// and bytes that are not UTF-8 text. A NUL of the text, which separates
// the items of a list value, becomes U+FFFD, as in json().
//
// The cost is linear in s: one pass to check the characters, one to
// decode, one to check the UTF-8.
func Base64Text(s string) (string, bool) {
	s = strings.Trim(s, " \t\n\r\f\v")
	body := strings.TrimRight(s, "=")
	if pad := len(s) - len(body); pad > 2 || pad > 0 && len(s)%4 != 0 {
		// Padding fills the last group of four: "QQ==", never "QQ=" or
		// "QUJD=".
		return "", false
	}
	std, url := false, false
	for i := 0; i < len(body); i++ {
		switch c := body[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '+' || c == '/':
			std = true
		case c == '-' || c == '_':
			url = true
		default:
			// Go's decoders skip \r and \n anywhere; a value with them
			// inside is not one base64 text.
			return "", false
		}
	}
	if std && url {
		return "", false
	}
	enc := base64.RawStdEncoding
	if url {
		enc = base64.RawURLEncoding
	}
	b, err := enc.Strict().DecodeString(body)
	if err != nil || !utf8.Valid(b) {
		return "", false
	}
	return noListSep(string(b)), true
}
