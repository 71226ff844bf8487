package proxy

import (
	"strings"
	"testing"
)

// FuzzParseContentType: parseContentType, which skips what the proxy
// does not need and allocates nothing for the usual header, reads every
// input as refMIMEType does, a step-by-step transcription of the MIME
// Sniffing Standard's "parse a MIME type" that keeps every parameter:
// the same failures, the same essence, the same charset. Seeded with the
// Content-Types of testdata/mimesniff: the standard's, and one in 16 of
// the generated ones (all of them make the fuzzer's first pass minutes
// long).
func FuzzParseContentType(f *testing.F) {
	for i, c := range mimeCases(f) {
		if c.wpt || i%16 == 0 {
			f.Add(c.input)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		ct, ok := parseContentType(s)
		want, wantOK := refMIMEType(s)
		if ok != wantOK {
			t.Fatalf("%q: parsed %v, the standard %v", s, ok, wantOK)
		}
		if !ok {
			return
		}
		if got := strings.ToLower(ct.typ + "/" + ct.sub); got != want.essence {
			t.Fatalf("%q: essence %q, the standard %q", s, got, want.essence)
		}
		charset, has := want.params["charset"]
		if ct.hasCharset != has || ct.charset != charset {
			t.Fatalf("%q: charset %q %v, the standard %q %v", s, ct.charset, ct.hasCharset, charset, has)
		}
	})
}

// refMIME is a MIME type record of the standard.
type refMIME struct {
	essence string
	params  map[string]string
}

// refMIMEType is https://mimesniff.spec.whatwg.org/#parse-a-mime-type,
// one step after another, on the input's bytes as code points
// (isomorphic decoding).
func refMIMEType(input string) (refMIME, bool) {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	token := func(s string) bool {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
				return false
			}
		}
		return true
	}
	quotedText := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if c := s[i]; !(c == '\t' || c >= 0x20 && c <= 0x7E || c >= 0x80) {
				return false
			}
		}
		return true
	}
	// 1. Remove any leading and trailing HTTP whitespace from input.
	for len(input) > 0 && isSpace(input[0]) {
		input = input[1:]
	}
	for len(input) > 0 && isSpace(input[len(input)-1]) {
		input = input[:len(input)-1]
	}
	pos := 0
	collect := func(stop func(byte) bool) string {
		start := pos
		for pos < len(input) && !stop(input[pos]) {
			pos++
		}
		return input[start:pos]
	}
	// 3-4. type: the code points up to '/', a token.
	typ := collect(func(c byte) bool { return c == '/' })
	if typ == "" || !token(typ) || pos >= len(input) {
		return refMIME{}, false
	}
	pos++ // 5. the '/'
	// 6-8. subtype: up to ';', trailing whitespace removed, a token.
	sub := collect(func(c byte) bool { return c == ';' })
	for len(sub) > 0 && isSpace(sub[len(sub)-1]) {
		sub = sub[:len(sub)-1]
	}
	if sub == "" || !token(sub) {
		return refMIME{}, false
	}
	m := refMIME{essence: strings.ToLower(typ + "/" + sub), params: map[string]string{}}
	// 11. The parameters.
	for pos < len(input) {
		pos++ // the ';'
		collect(func(c byte) bool { return !isSpace(c) })
		name := strings.ToLower(collect(func(c byte) bool { return c == ';' || c == '=' }))
		if pos < len(input) {
			if input[pos] == ';' {
				continue
			}
			pos++ // the '='
		}
		if pos >= len(input) {
			break
		}
		var value string
		if input[pos] == '"' {
			// Fetch's "collect an HTTP quoted string", value extracted.
			pos++
			var b strings.Builder
			for {
				b.WriteString(collect(func(c byte) bool { return c == '"' || c == '\\' }))
				if pos >= len(input) {
					break
				}
				q := input[pos]
				pos++
				if q == '\\' {
					if pos >= len(input) {
						b.WriteByte('\\')
						break
					}
					b.WriteByte(input[pos])
					pos++
					continue
				}
				break
			}
			value = b.String()
			collect(func(c byte) bool { return c == ';' })
		} else {
			value = collect(func(c byte) bool { return c == ';' })
			for len(value) > 0 && isSpace(value[len(value)-1]) {
				value = value[:len(value)-1]
			}
			if value == "" {
				continue
			}
		}
		if _, dup := m.params[name]; name != "" && token(name) && quotedText(value) && !dup {
			m.params[name] = value
		}
	}
	return m, true
}
