package proxy

import "strings"

// A Content-Type is read as browsers read it: with the MIME Sniffing
// Standard's "parse a MIME type" (https://mimesniff.spec.whatwg.org/),
// not as MIME reads it (mime.ParseMediaType). The two differ where it
// matters to a rewrite: browsers take the first of two charset
// parameters where MIME refuses the whole value, read `charset="gbk` (a
// quote left open) as gbk, and skip `charset =gbk` (a space before the
// '='), which MIME reads as gbk; the type "text/html\u00a0" is none to
// a browser, and text/html to strings.TrimSpace. A header's bytes are
// its code points (isomorphic decoding), so the parser works on bytes;
// bytes past ASCII are never space nor a token's.

// contentType is what the standard's parser reads of a Content-Type.
type contentType struct {
	// typ and sub are the type and subtype as written (compare them with
	// equalFoldASCII).
	typ, sub string
	// charset is the value of the first charset parameter the standard
	// keeps, unquoted; hasCharset is false when it keeps none.
	charset    string
	hasCharset bool
	// readOtherwise: Chromium's parser may read another charset than the
	// standard's from these parameters, or one where it reads none:
	//   - a charset parameter skipped for a control character in its
	//     value comes before the one kept: Chromium takes the first
	//     charset as it is ("charset=\x01;charset=gbk" is gbk to the
	//     standard, no encoding to Chromium);
	//   - a value, up to the charset kept, starts with a space and a
	//     quote: the standard reads the quote as it is, Chromium a quoted
	//     string, the space dropped (`charset= "gbk"` is gbk to Chromium
	//     alone), which runs past the next ';' when left open
	//     (`x= "a;charset=gbk` is gbk to the standard alone).
	readOtherwise bool
}

// parseContentType is the standard's "parse a MIME type", keeping of the
// parameters only the charset. ok is false where the standard fails.
// It allocates only for a quoted charset with a backslash in it.
func parseContentType(s string) (ct contentType, ok bool) {
	s = trimHTTPSpace(s)
	slash := strings.IndexByte(s, '/')
	if slash <= 0 || !isToken(s[:slash]) {
		return contentType{}, false
	}
	ct.typ = s[:slash]
	rest := s[slash+1:]
	params := ""
	if semi := strings.IndexByte(rest, ';'); semi >= 0 {
		rest, params = rest[:semi], rest[semi:]
	}
	ct.sub = trimRightHTTPSpace(rest)
	if ct.sub == "" || !isToken(ct.sub) {
		return contentType{}, false
	}
	skipped := false
	for p := params; p != ""; {
		p = trimLeftHTTPSpace(p[1:]) // the ';', then space
		name := p
		i := 0
		for i < len(p) && p[i] != ';' && p[i] != '=' {
			i++
		}
		name, p = p[:i], p[i:]
		if p != "" {
			if p[0] == ';' {
				continue // a name without a value
			}
			p = p[1:]
		}
		if p == "" {
			break
		}
		var value string
		quoted := p[0] == '"'
		if quoted {
			value, p = quotedString(p)
			// What follows the closing quote, up to the next ';', is
			// dropped.
			if i := strings.IndexByte(p, ';'); i >= 0 {
				p = p[i:]
			} else {
				p = ""
			}
		} else {
			value = p
			if i := strings.IndexByte(p, ';'); i >= 0 {
				value, p = p[:i], p[i:]
			} else {
				p = ""
			}
			if value = trimRightHTTPSpace(value); value == "" {
				continue
			}
		}
		// A parameter is kept when its name is a token and its value of
		// quoted-string code points, and not already given: the first
		// charset kept is the one.
		if ct.hasCharset {
			continue
		}
		if v := trimLeftHTTPSpace(value); !quoted && len(v) < len(value) && strings.HasPrefix(v, `"`) {
			ct.readOtherwise = true
		}
		if !equalFoldASCII(name, "charset") {
			continue
		}
		if !quotedStringText(value) {
			skipped = true
			continue
		}
		ct.charset, ct.hasCharset = value, true
		ct.readOtherwise = ct.readOtherwise || skipped
	}
	return ct, true
}

// isHTTPSpace reports whether c is HTTP's whitespace, the only space the
// standard trims: no vertical tab or form feed, nothing past ASCII.
func isHTTPSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func trimHTTPSpace(s string) string { return trimRightHTTPSpace(trimLeftHTTPSpace(s)) }

func trimLeftHTTPSpace(s string) string {
	for len(s) > 0 && isHTTPSpace(s[0]) {
		s = s[1:]
	}
	return s
}

func trimRightHTTPSpace(s string) string {
	for len(s) > 0 && isHTTPSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// isToken reports whether s is made of HTTP token code points alone.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if !tokenBytes[s[i]] {
			return false
		}
	}
	return true
}

// tokenBytes are HTTP's token code points (RFC 9110 5.6.2).
var tokenBytes = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// quotedStringText reports whether s is made of HTTP quoted-string token
// code points alone: tab, space to '~', and U+0080 to U+00FF (a byte
// each).
func quotedStringText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '\t' && (c < ' ' || c == 0x7F) {
			return false
		}
	}
	return true
}

// quotedString is Fetch's "collect an HTTP quoted string" with its
// value extracted, on s, which starts with '"': the value, its escapes
// read, and what follows the closing quote. A string left open ends
// with s; a backslash at its end stands for itself.
func quotedString(s string) (value, rest string) {
	s = s[1:]
	end := strings.IndexAny(s, `"\`)
	if end < 0 {
		return s, ""
	}
	if s[end] == '"' {
		return s[:end], s[end+1:]
	}
	var b strings.Builder
	for {
		end := strings.IndexAny(s, `"\`)
		if end < 0 {
			b.WriteString(s)
			return b.String(), ""
		}
		b.WriteString(s[:end])
		if s[end] == '"' {
			return b.String(), s[end+1:]
		}
		if end+1 == len(s) {
			b.WriteByte('\\')
			return b.String(), ""
		}
		b.WriteByte(s[end+1])
		s = s[end+2:]
	}
}

// is reports whether the type is essence ("text/html"), in any case.
func (ct contentType) is(typ, sub string) bool {
	return equalFoldASCII(ct.typ, typ) && equalFoldASCII(ct.sub, sub)
}
