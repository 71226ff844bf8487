// Package escape decides where a value interpolated by a rule lands in
// what bespoke writes, and how it is escaped there, so that a value from
// the request (a visitor's cookie, query parameter or header) can never
// inject markup or script, nor choose a URL's scheme or host.
//
// The rule checker and the host share it: the checker refuses a rule
// file whose templates put values where no escaping makes them safe
// (Check*), the host refuses such a manifest, and the host renders values
// with the escapers here (AppendValue, AppendWholeURL) and verifies every
// rendered URL against its skeleton (SameOrigins). SECURITY.md at the
// repository root lists every context and its escaper.
package escape

import (
	"encoding/json"
	"fmt"
	"net/textproto"
	"strings"
)

// Problem is why a template cannot be used where it is.
type Problem struct {
	// Piece is the index of the template's piece at fault (a value, or
	// for a problem of the whole template its last piece); -1 when it is
	// about the schemes option.
	Piece int
	// Msg says what is wrong and why; Hint how to fix it.
	Msg, Hint string
	// Name says the problem is the action's name (a header's or a
	// cookie's), not a template: Piece is then -1.
	Name bool
}

func (p *Problem) Error() string {
	if p.Hint == "" {
		return p.Msg
	}
	return p.Msg + "; " + p.Hint
}

func hasValue(pieces []Piece) bool {
	for _, p := range pieces {
		if p.Value {
			return true
		}
	}
	return false
}

// CheckSchemes checks a schemes option: every scheme must be one of
// Vetted.
func CheckSchemes(schemes []string) *Problem {
	for _, s := range schemes {
		if contains(Vetted, s) {
			continue
		}
		msg := fmt.Sprintf("%q is not a scheme a value may choose", s)
		if why := codeSchemes[strings.ToLower(strings.TrimSuffix(s, ":"))]; why != "" {
			msg += ": " + why
		}
		return &Problem{Piece: -1, Msg: msg, Hint: "schemes are some of " + strings.Join(Vetted, ", ")}
	}
	return nil
}

// CheckAttr checks the template of attribute name's value (set_attr): a
// value may go in an ordinary attribute; in a URL attribute only where
// the literal text before it decides the URL's scheme and host, or at a
// URL's start when the rule lists schemes; never in a code attribute,
// nor in a URL whose literal scheme is javascript:, vbscript: or data:.
// A template without values is the rule author's text: it is always
// allowed.
func CheckAttr(name string, pieces []Piece, schemes []string) *Problem {
	kind, why := AttrKind(name)
	if !hasValue(pieces) {
		if schemes != nil {
			return &Problem{Piece: -1, Msg: "schemes apply to a URL that starts with {{ }}; this value has none", Hint: "remove schemes"}
		}
		return nil
	}
	switch kind {
	case Code:
		for i, p := range pieces {
			if p.Value {
				return &Problem{Piece: i, Msg: fmt.Sprintf("a value from the request cannot go in %s: %s", name, why), Hint: "put the value in a data- attribute and read it from the page's script"}
			}
		}
	case URL, URLs, SrcSet:
		return checkURL(kind, "the URL in "+name, pieces, schemes)
	}
	if schemes != nil {
		return &Problem{Piece: -1, Msg: fmt.Sprintf("schemes apply to URL attributes; %s is not one", name), Hint: "remove schemes"}
	}
	return nil
}

// CheckRedirect checks a redirect target's template, a URL.
func CheckRedirect(pieces []Piece, schemes []string) *Problem {
	if !hasValue(pieces) {
		if schemes != nil {
			return &Problem{Piece: -1, Msg: "schemes apply to a target that starts with {{ }}; this one has none", Hint: "remove schemes"}
		}
		return nil
	}
	return checkURL(URL, "the redirect target", pieces, schemes)
}

// CheckHTML checks an html: template (SplitHTML), and each URL attribute
// in it that takes values as CheckAttr does.
func CheckHTML(pieces []Piece, schemes []string) *Problem {
	hp, prob := SplitHTML(pieces)
	if prob != nil {
		return prob
	}
	used := false
	for g := 0; ; g++ {
		var sub []Piece
		var src []int
		kind := URL
		for _, p := range hp {
			if p.In == InAttrURL && p.Group == g {
				text := p.Text
				if !p.Value {
					text = DecodeAttr(text)
				}
				sub = append(sub, Piece{Text: text, Value: p.Value})
				src = append(src, p.Source)
				kind = p.Kind
			}
		}
		if sub == nil {
			break
		}
		prob, optIn := checkURLPieces(kind, "the URL attribute", sub, schemes)
		if prob != nil {
			if prob.Piece >= 0 {
				prob.Piece = src[prob.Piece]
			}
			return prob
		}
		used = used || optIn
	}
	if schemes != nil && !used {
		return &Problem{Piece: -1, Msg: "schemes apply to a URL that starts with {{ }}; this markup has none", Hint: "remove schemes"}
	}
	return nil
}

// CheckHeader checks the template of a header's value: values from the
// request never go in the response headers that are URLs or policies
// (PolicyHeader, in any case), and no literal text (defaults included)
// may hold a control character.
func CheckHeader(name string, response bool, pieces []Piece) *Problem {
	for i, p := range pieces {
		if strings.ContainsFunc(p.Text, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
			return &Problem{Piece: i, Msg: "a header value cannot hold a control character or a line break", Hint: "remove it"}
		}
	}
	if !response {
		return nil
	}
	if why, ok := PolicyHeader(name); ok {
		for i, p := range pieces {
			if p.Value {
				return &Problem{Piece: i, Msg: fmt.Sprintf("a value from the request cannot go in the %s header: %s", textproto.CanonicalMIMEHeaderKey(name), why), Hint: "write the value out"}
			}
		}
	}
	return nil
}

// CheckHeaderName checks the name of a header a rule sets, on the
// response or on the request to the origin (request): it must be an
// RFC 9110 token (anything else would change what the header line says,
// or be dropped), and not one of the headers that frame the message or
// are the proxy's (Set-Cookie, Content-Length, Host ...), in any case, as
// the proxy writes names canonical, and spelt with "_" for "-" too, as
// CGI-style origins read them. On the request, it is not one of the
// CDN's headers (CDNHeaders) either: the origin believes them.
func CheckHeaderName(name string, request bool) *Problem {
	if !ValidToken(name) {
		return &Problem{Piece: -1, Name: true, Msg: fmt.Sprintf("%q is not a header name", name), Hint: "header names hold letters, digits and -"}
	}
	c := textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(name, "_", "-"))
	also := ""
	if strings.Contains(name, "_") {
		also = fmt.Sprintf(" (%s is read as it by CGI-style origins: PHP, WSGI, Rack)", name)
	}
	if why, ok := reservedHeaders[c]; ok {
		return &Problem{Piece: -1, Name: true, Msg: fmt.Sprintf("rules cannot set the %s header%s: %s", c, also, why)}
	}
	if request && cdnHeader(c) {
		return &Problem{Piece: -1, Name: true, Msg: fmt.Sprintf("rules cannot set the %s header%s on the request: it is the CDN's (the client's address, geography, scheme or path as the CDN saw them), and the origin believes it", c, also),
			Hint: "give the origin the value under a name of your own (X-Site-Country)"}
	}
	return nil
}

// CheckCookieName checks the name of a cookie a rule sets: an RFC 6265
// token, not starting with ReservedCookiePrefix (a rule would replace
// the visitor's id or seen-filter).
func CheckCookieName(name string) *Problem {
	if !ValidToken(name) {
		return &Problem{Piece: -1, Name: true, Msg: fmt.Sprintf("%q is not a cookie name", name), Hint: "cookie names hold letters, digits, - and _"}
	}
	if strings.HasPrefix(name, ReservedCookiePrefix) {
		return &Problem{Piece: -1, Name: true, Msg: "cookie names starting with " + ReservedCookiePrefix + " belong to bespoke", Hint: "choose another name"}
	}
	return nil
}

// MaxBrowserCookieBytes is the most a browser keeps of a cookie's name
// and value together (RFC 6265bis; Chromium and Firefox): it drops a
// longer cookie whole, and no error reaches the server that set it.
const MaxBrowserCookieBytes = 4096

// CookieOctet reports whether a cookie value a rule sets holds byte c as
// it is (an RFC 6265 cookie-octet, but %, which starts an escape); every
// other byte is sent percent-encoded.
func CookieOctet(c byte) bool {
	return c > 0x20 && c < 0x7f && c != '"' && c != ',' && c != ';' && c != '\\' && c != '%'
}

// CheckCookieValue checks the value of cookie name a rule sets: its
// name and its literal text, percent-encoded as sent, must stay within
// MaxBrowserCookieBytes, or no browser keeps the cookie, and the rule
// would set, on every response it applies to, a cookie that is never
// sent back.
func CheckCookieValue(name string, pieces []Piece) *Problem {
	n, raw, values, first := len(name), len(name), false, -1
	for i, p := range pieces {
		if p.Value {
			values = true
			continue
		}
		if first < 0 {
			first = i
		}
		raw += len(p.Text)
		for i := 0; i < len(p.Text); i++ {
			if n++; !CookieOctet(p.Text[i]) {
				n += 2
			}
		}
	}
	if n <= MaxBrowserCookieBytes {
		return nil
	}
	msg := fmt.Sprintf("the cookie is %s bytes, its name and its value as sent", thousands(n))
	if n > raw {
		msg += " (percent-encoded where a cookie cannot hold a byte)"
	}
	if values {
		msg += " at the least"
	}
	msg += fmt.Sprintf(", past the %s a browser keeps: browsers drop it, and it is never set", thousands(MaxBrowserCookieBytes))
	return &Problem{Piece: first, Name: first < 0, Msg: msg, Hint: "keep a cookie's name and value within 4,096 bytes: a longer text belongs in the page"}
}

// thousands writes n with a comma between thousands, as messages do.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// CheckRawJSON checks the template of raw JSON (json_set with json:),
// which goes into a document as it is: no value from the request may go
// in it (a value could add keys, objects or arrays, and no escaping
// keeps it one JSON string: that is what value: is for), and the rule
// author's text must be one JSON value.
func CheckRawJSON(pieces []Piece) *Problem {
	if len(pieces) == 0 {
		return nil
	}
	var raw strings.Builder
	for i, p := range pieces {
		if p.Value {
			return &Problem{Piece: i, Msg: "raw JSON cannot interpolate values", Hint: "use value: to insert a text with {{ }}"}
		}
		raw.WriteString(p.Text)
	}
	if !json.Valid([]byte(raw.String())) {
		return &Problem{Piece: len(pieces) - 1, Msg: fmt.Sprintf("%q is not valid JSON", raw.String()), Hint: `a JSON text needs its quotes, as in json: '"on sale"'; or use value: for a text`}
	}
	return nil
}

// ValidToken reports whether s is an RFC 9110 token: what a header
// name, a cookie name or a method must be.
func ValidToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b <= ' ' || b >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, b) >= 0 {
			return false
		}
	}
	return true
}

func checkURL(kind Kind, what string, pieces []Piece, schemes []string) *Problem {
	prob, optIn := checkURLPieces(kind, what, pieces, schemes)
	if prob == nil && schemes != nil && !optIn {
		return &Problem{Piece: -1, Msg: "schemes apply to a URL that starts with {{ }}; here the text before {{ }} decides the scheme", Hint: "remove schemes"}
	}
	return prob
}

// checkURLPieces walks the pieces of a URL-valued template as the host
// renders them, with "x" for each value (Mark for a value that starts a
// URL), and checks where each value lands. optIn reports a value at a
// URL's start (allowed by schemes).
func checkURLPieces(kind Kind, what string, pieces []Piece, schemes []string) (prob *Problem, optIn bool) {
	var so strings.Builder
	for i, p := range pieces {
		if !p.Value {
			so.WriteString(p.Text)
			continue
		}
		text := so.String()
		switch Locate(kind, text) {
		case AtStart:
			if schemes == nil {
				return &Problem{Piece: i, Msg: fmt.Sprintf("%s starts with {{ }}: the value would choose its scheme and host (a javascript: URL runs script)", what),
					Hint: "start it with a path (/…) or with https://host/, or let the value choose among a few schemes: schemes: [https, relative]"}, false
			}
			optIn = true
			so.WriteString(Mark)
			continue
		case Undecided:
			pos := positionOf(kind, text)
			_, why := Prefix(pos.url)
			return &Problem{Piece: i, Msg: fmt.Sprintf("in %s, %s", what, why), Hint: "write the scheme and host out, ending the host with /: https://example.com/{{ … }} or /path/{{ … }}"}, false
		case InURL:
			pos := positionOf(kind, text)
			if !markFirst(pos.url) {
				if scheme, _ := Prefix(pos.url); CodeScheme(scheme) != "" {
					return &Problem{Piece: i, Msg: fmt.Sprintf("a value from the request cannot go in %s: %s", what, CodeScheme(scheme)), Hint: "write the URL out"}, false
				}
			}
		}
		so.WriteString("x")
	}
	return nil, optIn
}
