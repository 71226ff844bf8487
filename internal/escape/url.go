package escape

import (
	"strings"
	"unicode/utf8"
)

// specialSchemes are the schemes whose URLs always have a host, and in
// which a backslash is a slash (the WHATWG URL standard, which browsers
// follow). A relative URL in a page served over HTTP resolves like them.
var specialSchemes = map[string]bool{"http": true, "https": true, "ws": true, "wss": true, "ftp": true, "file": true}

// codeSchemes are schemes whose URL is code or a document the visitor
// would write: a value from the request never goes in such a URL.
var codeSchemes = map[string]string{
	"javascript": "a javascript: URL is a script",
	"vbscript":   "a vbscript: URL is a script",
	"data":       "a data: URL is a document whose content the value would write",
}

// Vetted are the schemes a rule may allow a value to choose, with
// "relative" for a URL without a scheme (a path, a query or a fragment
// of the page's own site).
var Vetted = []string{"https", "http", "mailto", "tel", "relative"}

// Origin is what decides where a URL points: its scheme and its
// authority (host, port and user information).
type Origin struct {
	// Scheme is the scheme in lower case, "" for a relative URL.
	Scheme string
	// Authority is the authority as written, in lower case, when
	// HasAuthority.
	Authority    string
	HasAuthority bool
}

// OriginOf returns the origin of u as a browser reads it in a page
// served over HTTP: leading and trailing control characters and spaces
// are ignored and tabs and newlines removed; a special scheme (http,
// https, ...) is followed by an authority however many slashes or
// backslashes follow it, even none ("https:evil.example"); a relative URL
// starting with two slashes or backslashes in any mix has an authority.
func OriginOf(u string) Origin {
	s := normalize(u, true)
	var o Origin
	rest := s
	if scheme, r, ok := cutScheme(s); ok {
		o.Scheme, rest = strings.ToLower(scheme), r
	}
	switch {
	case o.Scheme != "" && specialSchemes[o.Scheme]:
		o.Authority, o.HasAuthority = authority(trimSlashes(rest), `/\?#`), true
	case o.Scheme == "":
		if len(rest) >= 2 && isSlash(rest[0]) && isSlash(rest[1]) {
			o.Authority, o.HasAuthority = authority(trimSlashes(rest), `/\?#`), true
		}
	case strings.HasPrefix(rest, "//"):
		o.Authority, o.HasAuthority = authority(rest[2:], "/?#"), true
	}
	return o
}

func authority(s, ends string) string {
	if i := strings.IndexAny(s, ends); i >= 0 {
		s = s[:i]
	}
	return strings.ToLower(s)
}

func isSlash(c byte) bool { return c == '/' || c == '\\' }

// normalize removes what a browser's URL parser removes before reading a
// URL: leading (and with trailing, trailing) C0 controls and spaces, and
// every tab, line feed and carriage return.
func normalize(s string, trailing bool) string {
	for len(s) > 0 && s[0] <= ' ' {
		s = s[1:]
	}
	for trailing && len(s) > 0 && s[len(s)-1] <= ' ' {
		s = s[:len(s)-1]
	}
	if strings.ContainsAny(s, "\t\n\r") {
		s = strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' {
				return -1
			}
			return r
		}, s)
	}
	return s
}

// trimSlashes removes the slashes and backslashes s starts with.
func trimSlashes(s string) string {
	for len(s) > 0 && isSlash(s[0]) {
		s = s[1:]
	}
	return s
}

// markFirst reports whether URL text u starts, after whitespace, with
// Mark: a value the rule lets choose the URL.
func markFirst(u string) bool {
	for len(u) > 0 && isHTMLSpace(u[0]) {
		u = u[1:]
	}
	return strings.HasPrefix(u, Mark)
}

// cutScheme splits "scheme:rest" when s starts with a scheme: a letter,
// then letters, digits, '+', '-' or '.', then ':'.
func cutScheme(s string) (scheme, rest string, ok bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isLetter(c):
		case i > 0 && (isDigit(c) || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return s[:i], s[i+1:], true
		default:
			return "", s, false
		}
	}
	return "", s, false
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// Prefix says what literal text at the start of a URL decides, whatever
// follows it. Scheme is the scheme it decides ("" for a relative URL);
// Why is empty when it decides both the scheme and the host, else it
// says why not.
func Prefix(text string) (scheme, why string) {
	s := normalize(text, false)
	if s == "" {
		return "", "the URL starts with {{ }}: the value would choose its scheme and host (a javascript: URL runs script)"
	}
	if sch, rest, ok := cutScheme(s); ok {
		sch = strings.ToLower(sch)
		switch {
		case specialSchemes[sch]:
			if !strings.ContainsAny(trimSlashes(rest), `/\?#`) {
				return sch, "the host is not written out to its end before {{ }}: the value would change it (https://example.com{{ x }} can become https://example.com.evil.example)"
			}
		case strings.HasPrefix(rest, "//"):
			if !strings.ContainsAny(rest[2:], "/?#") {
				return sch, "the host is not written out to its end before {{ }}: the value would change it"
			}
		}
		return sch, ""
	}
	if _, _, ok := cutScheme(s + ":"); ok {
		return "", "the text before {{ }}, " + quote(text) + ", could still become a scheme (java{{ x }} can become javascript:)"
	}
	if len(s) >= 2 && isSlash(s[0]) && isSlash(s[1]) && !strings.ContainsAny(trimSlashes(s), `/\?#`) {
		return "", "the URL starts with two slashes, so a host follows, and the host is not written out to its end before {{ }}: the value would choose it (browsers read /\\ as //)"
	}
	return "", ""
}

func quote(s string) string { return `"` + s + `"` }

// CodeScheme says why a URL with a fixed scheme takes no value from the
// request: it is code (javascript:, vbscript:, data:); "" for others.
func CodeScheme(scheme string) string { return codeSchemes[scheme] }

// position is where the end of some text of an attribute of kind k is.
type position struct {
	// start: the next byte would start a URL.
	start bool
	// descriptor: the next byte is in a srcset candidate's descriptors.
	descriptor bool
	// url is the text of the URL being written, from its start.
	url string
}

// positionOf returns the position at the end of s, the text of an
// attribute (or redirect target) of kind k written so far.
func positionOf(k Kind, s string) position {
	switch k {
	case URLs:
		if s == "" || isHTMLSpace(s[len(s)-1]) {
			return position{start: true}
		}
		i := strings.LastIndexAny(s, htmlSpace)
		return position{url: s[i+1:]}
	case SrcSet:
		var p srcsetParser
		p.s = s
		pos := p.end()
		return pos
	}
	if normalize(s, true) == "" {
		return position{start: true}
	}
	return position{url: s}
}

const htmlSpace = " \t\n\f\r"

func isHTMLSpace(c byte) bool { return strings.IndexByte(htmlSpace, c) >= 0 }

// srcsetParser follows the HTML standard's "parse a srcset attribute".
type srcsetParser struct {
	s string
	i int
}

// next returns the URL of the next candidate, or ok false at the end.
// When the text ends inside a candidate, last tells where.
func (p *srcsetParser) next() (url string, ok bool, last position) {
	s := p.s
	for p.i < len(s) && (isHTMLSpace(s[p.i]) || s[p.i] == ',') {
		p.i++
	}
	if p.i >= len(s) {
		return "", false, position{start: true}
	}
	lo := p.i
	for p.i < len(s) && !isHTMLSpace(s[p.i]) {
		p.i++
	}
	url = s[lo:p.i]
	if p.i >= len(s) {
		// The text ends in the URL: what follows continues it.
		return strings.TrimRight(url, ","), true, position{url: url}
	}
	if strings.HasSuffix(url, ",") {
		return strings.TrimRight(url, ","), true, position{start: true}
	}
	// Descriptors, up to a comma outside parentheses.
	paren := false
	for ; p.i < len(s); p.i++ {
		switch c := s[p.i]; {
		case paren:
			paren = c != ')'
		case c == '(':
			paren = true
		case c == ',':
			p.i++
			return url, true, position{start: true}
		}
	}
	return url, true, position{descriptor: true}
}

// end returns the position at the end of the text.
func (p *srcsetParser) end() position {
	last := position{start: true}
	for {
		_, ok, l := p.next()
		if !ok {
			return last
		}
		last = l
	}
}

// urlsOf splits the text of an attribute of kind k into its URLs. A
// list of URLs (ping) is split at HTML's ASCII whitespace only, as
// browsers split it: a vertical tab or a no-break space is in a URL.
func urlsOf(k Kind, s string) []string {
	switch k {
	case URLs:
		return strings.FieldsFunc(s, func(r rune) bool { return r < utf8.RuneSelf && isHTMLSpace(byte(r)) })
	case SrcSet:
		var out []string
		p := srcsetParser{s: s}
		for {
			u, ok, _ := p.next()
			if !ok {
				return out
			}
			out = append(out, u)
		}
	}
	return []string{s}
}

// keep tables: the bytes a value keeps as they are in each part of a
// URL; every other byte is percent-encoded.
var (
	pathKeep, queryKeep, listPathKeep, listQueryKeep [256]bool
)

func init() {
	set := func(t *[256]bool, extra string) {
		for c := 'a'; c <= 'z'; c++ {
			t[c], t[c-'a'+'A'] = true, true
		}
		for c := '0'; c <= '9'; c++ {
			t[c] = true
		}
		for _, c := range []byte("-._~" + extra) {
			t[c] = true
		}
	}
	// In a path segment: RFC 3986's pchar without '/' (a value stays in
	// its segment) and without quotes and parentheses (which end a URL in
	// CSS and in script strings, where pages copy links).
	set(&pathKeep, "!$&*+,;=:@")
	set(&listPathKeep, "!$&*+;=:@")
	// In a query or a fragment: no '&', '=', ';', '+' or '#', so a value
	// stays one parameter's key or value (a fragment is often a router's
	// query string).
	set(&queryKeep, "!$*,:@/?")
	set(&listQueryKeep, "!$*:@/?")
}

// Part names the part of a URL the end of some URL text is in.
type Part uint8

// Parts of a URL.
const (
	Path Part = iota
	Query
	Fragment
)

func (p Part) String() string {
	switch p {
	case Query:
		return "query"
	case Fragment:
		return "fragment"
	}
	return "path"
}

// PartOf returns the part of a URL that what follows the URL text u
// lands in.
func PartOf(u string) Part {
	switch {
	case strings.IndexByte(u, '#') >= 0:
		return Fragment
	case strings.IndexByte(u, '?') >= 0:
		return Query
	}
	return Path
}

// appendEscaped appends v percent-encoded but for the bytes in keep.
func appendEscaped(b []byte, v string, keep *[256]bool) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(v); i++ {
		c := v[i]
		if keep[c] {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return b
}

// Where is where a value lands in a URL attribute or redirect target.
type Where uint8

const (
	// InURL: inside a URL whose scheme and host the text before decides;
	// the value is escaped for its part.
	InURL Where = iota
	// AtStart: the value starts a URL; allowed only with schemes.
	AtStart
	// InDescriptor: in a srcset candidate's descriptors (1x, 300w).
	InDescriptor
	// Undecided: the text before does not decide the URL's scheme and
	// host; no value may go there.
	Undecided
)

// Locate returns where a value written after text so far (of an
// attribute of kind k, or a redirect target with k URL) lands.
func Locate(k Kind, so string) Where {
	pos := positionOf(k, so)
	switch {
	case pos.start:
		return AtStart
	case pos.descriptor:
		return InDescriptor
	case markFirst(pos.url):
		return InURL // after a value the rule let choose the URL
	}
	if _, why := Prefix(pos.url); why != "" {
		return Undecided
	}
	return InURL
}

// AppendValue appends value v, to be written after text so far of an
// attribute of kind k, escaped for where it lands: in a URL, for the part
// of the URL it is in; in a srcset descriptor, as it is when it is a
// descriptor's word (letters, digits, '.', '+', '-'). ok is false when
// no escaping makes v safe there (Locate says AtStart or Undecided, or
// the descriptor holds other bytes).
func AppendValue(b []byte, k Kind, so, v string) ([]byte, bool) {
	pos := positionOf(k, so)
	switch {
	case pos.start:
		return b, false
	case pos.descriptor:
		for i := 0; i < len(v); i++ {
			if c := v[i]; !isLetter(c) && !isDigit(c) && c != '.' && c != '+' && c != '-' {
				return b, false
			}
		}
		return append(b, v...), true
	}
	if !markFirst(pos.url) {
		if _, why := Prefix(pos.url); why != "" {
			return b, false
		}
	}
	list := k != URL
	switch PartOf(pos.url) {
	case Path:
		if list {
			return appendEscaped(b, v, &listPathKeep), true
		}
		return appendEscaped(b, v, &pathKeep), true
	default:
		if list {
			return appendEscaped(b, v, &listQueryKeep), true
		}
		return appendEscaped(b, v, &queryKeep), true
	}
}

// Mark stands, in a skeleton rendering (see SameOrigins), for a value
// that starts a URL under a scheme allow-list.
const Mark = "\ue000"

// AppendWholeURL appends v, a value that starts a URL of an attribute of
// kind k where the rule allows the schemes listed ("relative" for a URL
// without a scheme). ok is false, and nothing is appended, when v is
// empty, holds a control character or whitespace (which browsers strip
// or remove, so that "java\tscript:" is javascript:), has a scheme not
// listed, or is relative when that is not listed, or starts with two
// slashes or backslashes (a host). Bytes browsers would percent-encode
// are percent-encoded, and in a list of URLs the comma too; so is a %
// that starts no %XX, which the URL already encoded keeps.
func AppendWholeURL(b []byte, k Kind, v string, schemes []string) ([]byte, bool) {
	if v == "" {
		return b, false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c == 0x7f {
			return b, false
		}
	}
	if !Allowed(v, schemes) {
		return b, false
	}
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 0x80 || strings.IndexByte("\"<>\\^`{|}'", c) >= 0 || c == ',' && k != URL || c == '%' && !escapes(v[i:]) {
			b = append(b, '%', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return b, true
}

// escapes reports whether s starts with a percent-encoded byte: % and
// two hex digits. A % that starts none is what a URL's own text cannot
// hold (RFC 3986): a browser sends it as it is, and a server refuses it
// or reads it otherwise ("/50%%21" is a 400 to Go's), and a client
// other than a browser cannot follow a redirect to it.
func escapes(s string) bool {
	return len(s) >= 3 && s[0] == '%' && isHex(s[1]) && isHex(s[2])
}

func isHex(c byte) bool { return isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'f' }

// Allowed reports whether URL u has a scheme in schemes, or is relative
// without a host and schemes lists "relative".
func Allowed(u string, schemes []string) bool {
	o := OriginOf(u)
	if o.Scheme == "" {
		return !o.HasAuthority && contains(schemes, "relative")
	}
	return contains(schemes, o.Scheme)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// SameOrigins reports whether text, an attribute value of kind k (or a
// redirect target with k URL) as rendered, points where its skeleton
// says: skeleton is the same rendering with every value replaced by "x",
// or by Mark where a value starts a URL. Each URL must have the origin
// of its skeleton's URL; one whose skeleton starts with Mark must have a
// scheme in schemes (Allowed); one that holds values may not have a
// code scheme (javascript:, vbscript:, data:) even when the rule author
// wrote it. A value can then have chosen neither a scheme nor a host
// except where the rule allowed it, however the rendering went (an
// empty value in "/{{ x }}/b" would make "//b", a host).
func SameOrigins(k Kind, text, skeleton string, schemes []string) bool {
	if k == URL {
		return sameOrigin(text, skeleton, schemes)
	}
	got, want := urlsOf(k, text), urlsOf(k, skeleton)
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !sameOrigin(got[i], want[i], schemes) {
			return false
		}
	}
	return true
}

// sameOrigin is SameOrigins for one URL.
func sameOrigin(got, want string, schemes []string) bool {
	if markFirst(want) {
		return Allowed(got, schemes)
	}
	o := OriginOf(got)
	return o == OriginOf(want) && (got == want || CodeScheme(o.Scheme) == "") && sameDots(got, want)
}

// sameDots reports whether the paths of URLs got and want have their dot
// segments ("." and "..", which browsers resolve, reading "%2e" as a
// dot) in the same places. A value escaped for a path segment adds no
// slash, but a value "." or ".." is a segment that moves the URL to the
// path's directory or its parent, and no escaping keeps a browser from
// reading it so: "/account/{{ id }}/edit" with ".." is /account/edit,
// and with ".." in two values a page of the site the rule never named.
func sameDots(got, want string) bool {
	g, w := pathOf(got), pathOf(want)
	for {
		gs, gr, gmore := cutSegment(g)
		ws, wr, wmore := cutSegment(w)
		if gmore != wmore || isDotSegment(gs) != isDotSegment(ws) {
			return false
		}
		if !gmore {
			return true
		}
		g, w = gr, wr
	}
}

// pathOf returns the path of URL u as a browser reads it: after its
// scheme and authority, before its query or fragment.
func pathOf(u string) string {
	s := normalize(u, true)
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	scheme, rest, ok := cutScheme(s)
	switch {
	case ok && specialSchemes[strings.ToLower(scheme)], !ok && len(rest) >= 2 && isSlash(rest[0]) && isSlash(rest[1]):
		rest = trimSlashes(rest)
		if i := strings.IndexAny(rest, `/\`); i >= 0 {
			return rest[i:]
		}
		return ""
	case ok && strings.HasPrefix(rest, "//"):
		if i := strings.IndexByte(rest[2:], '/'); i >= 0 {
			return rest[2+i:]
		}
		return ""
	}
	return rest
}

// cutSegment cuts path p at its first slash (or backslash, a slash to
// browsers in the URLs of pages): seg is the segment before it, and more
// says there was one.
func cutSegment(p string) (seg, rest string, more bool) {
	if i := strings.IndexAny(p, `/\`); i >= 0 {
		return p[:i], p[i+1:], true
	}
	return p, "", false
}

// isDotSegment reports whether seg is a segment browsers resolve: "." or
// "..", with any dot written %2e or %2E.
func isDotSegment(seg string) bool {
	if len(seg) > 6 || !strings.ContainsAny(seg, ".%") {
		return false
	}
	s := strings.ReplaceAll(strings.ToLower(seg), "%2e", ".")
	return s == "." || s == ".."
}
