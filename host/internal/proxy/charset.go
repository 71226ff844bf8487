package proxy

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"

	"github.com/bespoke-edge/bespoke/host/internal/rewrite"
)

// Inserted text must be written in the page's own character encoding: the
// browser decodes the whole page with it, so UTF-8 bytes in a
// windows-1252 or Shift_JIS page come out as mojibake. The encoding is
// found as a browser finds it (WHATWG Encoding, "prescan"): a byte order
// mark, else the Content-Type charset, else a <meta> in the first 1024
// bytes; a page that declares none is read as UTF-8, and what is
// inserted in it written as ASCII, with character references, which
// read the same in windows-1252, the encoding browsers often take such a
// page to be in. Inserted HTML, attribute values and class lists (once
// the rewriter escaped them) are encoded into the page's encoding, with
// numeric character references (&#NNNN;) for what it cannot hold. Pages
// in an encoding the
// rewriter cannot scan as ASCII-compatible bytes (UTF-16, ISO-2022-JP)
// are left alone and counted.

// prescanLimit is how far into a page a <meta> charset is looked for.
const prescanLimit = 1024

// pageCharset is what is known of a page's encoding.
type pageCharset struct {
	// name is the WHATWG name of the encoding ("utf-8", "windows-1252").
	name string
	enc  encoding.Encoding
}

// utf8Page is the encoding assumed when a page declares none.
var utf8Page = pageCharset{name: "utf-8"}

// charsetFromLabel maps a label ("latin1", "Shift_JIS") to an encoding;
// ok is false for a label the Encoding standard does not know.
func charsetFromLabel(label string) (pageCharset, bool) {
	// The standard trims ASCII whitespace alone and folds ASCII case
	// alone; htmlindex trims Unicode space (a vertical tab, U+00A0) and
	// folds Unicode case (the Kelvin sign K to k), which would take a
	// page for one in an encoding no browser reads it in ("\u212Aoi8-r"
	// as koi8-r).
	label = strings.Trim(label, "\t\n\f\r ")
	for i := 0; i < len(label); i++ {
		if c := label[i]; c >= utf8.RuneSelf || c == '\v' {
			return pageCharset{}, false
		}
	}
	e, err := htmlindex.Get(label)
	if err != nil {
		return pageCharset{}, false
	}
	name, err := htmlindex.Name(e)
	if err != nil {
		return pageCharset{}, false
	}
	if name == "utf-8" {
		return utf8Page, true
	}
	return pageCharset{name: name, enc: e}, true
}

// unreadableCharset stands for a Content-Type whose charset browsers do
// not agree on, where the standard's parser and Chromium's read two
// encodings (see contentType): which one the visitor's browser takes is
// unknown, so the page is not rewritten.
var unreadableCharset = pageCharset{name: "unreadable"}

// headerCharset returns the charset parameter of a Content-Type, if it
// names a known encoding, read as browsers read it (parseContentType):
// the first charset kept, a quote left open closed at the end
// (`charset="gbk` is gbk), no space between the name and its '='
// (`charset =gbk` names none), a parameter hidden in a quoted value
// (`x=";charset=utf-8"`) none.
func headerCharset(contentType string) (pageCharset, bool) {
	_, params, ok := strings.Cut(contentType, ";")
	if !ok {
		return pageCharset{}, false
	}
	if p := trimHTTPSpace(params); len(p) == len("charset=utf-8") && equalFoldASCII(p, "charset=utf-8") {
		return utf8Page, true // the usual case, without parsing
	}
	ct, ok := parseContentType(contentType)
	switch {
	case !ok:
		return pageCharset{}, false
	case ct.readOtherwise:
		return unreadableCharset, true
	case !ct.hasCharset:
		return pageCharset{}, false
	case equalFoldASCII(ct.charset, "utf-8"):
		return utf8Page, true
	}
	return charsetFromLabel(ct.charset)
}

// bomCharset returns the encoding a byte order mark at the start of head
// names. ok is false without one; head must hold at least 3 bytes unless
// the page is shorter.
func bomCharset(head []byte) (pageCharset, bool) {
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		return utf8Page, true
	case bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return charsetFromLabel("utf-16be")
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}):
		return charsetFromLabel("utf-16le")
	}
	return pageCharset{}, false
}

// rewritable reports whether the rewriter can work on pages in this
// encoding: it scans bytes, so markup must be ASCII bytes that no
// multi-byte character contains, which holds for UTF-8 and every
// single- and multi-byte encoding of the standard except UTF-16, the
// stateful ISO-2022-JP, and "replacement" (a page a browser shows as
// U+FFFD).
func (c pageCharset) rewritable() bool {
	switch c.name {
	case "utf-16be", "utf-16le", "iso-2022-jp", "replacement", unreadableCharset.name:
		return false
	}
	return true
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// encodeEdits returns edits with their text in encoding c (a copy; edits
// is not changed). For UTF-8 it returns edits.
func encodeEdits(edits []rewrite.Edit, c pageCharset) []rewrite.Edit {
	if c.enc == nil {
		return edits
	}
	out := make([]rewrite.Edit, len(edits))
	copy(out, edits)
	html := encoding.HTMLEscapeUnsupported(c.enc.NewEncoder())
	for i := range out {
		e := &out[i]
		if !isASCII(e.Content) {
			if b, err := html.Bytes(e.Content); err == nil {
				e.Content = b
			} else {
				// Invalid UTF-8 from the rule file: what cannot be read
				// cannot be encoded; references keep the page valid.
				e.Content = charRefs(e.Content)
			}
		}
		// Values, classes and Order's ids stay in UTF-8: the rewriter
		// compares them with what the page reads as (Options.Decode),
		// and writes values and class lists, once escaped, through
		// Options.EncodeValue.
	}
	return out
}

// ForPage reads the encoding of a whole page as the proxy does (a byte
// order mark, else the charset of contentType, else a <meta> in its
// first 1024 bytes, else UTF-8), and returns edits written in it and opt
// reading the page's values with it: what the preview and rule tests
// rewrite a page with. ok is false for an encoding the proxy leaves
// alone (UTF-16, ISO-2022-JP).
func ForPage(contentType string, page []byte, edits []rewrite.Edit, opt rewrite.Options) ([]rewrite.Edit, rewrite.Options, bool) {
	cs, found := bomCharset(page)
	if !found {
		cs, found = headerCharset(contentType)
	}
	undeclared := false
	if !found {
		if cs, found = prescan(page); !found {
			cs, undeclared = utf8Page, true
		}
	}
	if !cs.rewritable() {
		return edits, opt, false
	}
	edits, opt = inCharset(cs, undeclared, edits, opt)
	return edits, opt, true
}

// inCharset returns edits and opt for a page in encoding cs, which
// undeclared says nothing declared: its text in it, values and class
// lists written in it, selectors comparing what the page reads as.
func inCharset(cs pageCharset, undeclared bool, edits []rewrite.Edit, opt rewrite.Options) ([]rewrite.Edit, rewrite.Options) {
	edits = encodeEdits(edits, cs)
	switch {
	case cs.enc != nil:
		opt.Decode, opt.EncodeValue = cs.decoder(), cs.valueEncoder()
	case undeclared:
		// Read as UTF-8 here, and as windows-1252 by many browsers:
		// what is inserted reads the same in both.
		opt.EncodeValue = appendCharRefs
		edits = refEdits(edits)
	}
	return edits, opt
}

// valueEncoder returns what the rewriter writes values with (see
// rewrite.Options.EncodeValue): in the page's encoding, with character
// references for what it cannot hold.
func (c pageCharset) valueEncoder() func(dst, v []byte) []byte {
	enc := encoding.HTMLEscapeUnsupported(c.enc.NewEncoder())
	return func(dst, v []byte) []byte {
		b, err := enc.Bytes(v)
		if err != nil {
			return append(dst, charRefs(v)...)
		}
		return append(dst, b...)
	}
}

// appendCharRefs is the rewrite.Options.EncodeValue of a page that
// declares no encoding, which a browser may read as windows-1252 (the
// usual default) or guess to be UTF-8: non-ASCII as character
// references, which read the same in both.
func appendCharRefs(dst, v []byte) []byte { return append(dst, charRefs(v)...) }

// refEdits returns edits whose inserted HTML has its non-ASCII characters
// as character references (outside <script> and <style>, whose text
// reads none), for a page that declares no encoding.
func refEdits(edits []rewrite.Edit) []rewrite.Edit {
	var out []rewrite.Edit
	for i := range edits {
		if isASCII(edits[i].Content) {
			continue
		}
		if out == nil {
			out = slices.Clone(edits)
		}
		out[i].Content = refsOutsideRawText(edits[i].Content)
	}
	if out == nil {
		return edits
	}
	return out
}

// refsOutsideRawText is charRefs of html, an HTML fragment, but for the
// text of its <script> and <style> elements, kept as it is.
func refsOutsideRawText(html []byte) []byte {
	var out []byte
	for len(html) > 0 {
		open := rawTextStart(html)
		if open < 0 {
			return append(out, charRefs(html)...)
		}
		out = append(out, charRefs(html[:open])...)
		html = html[open:]
		name := "script"
		if hasPrefixFold(html[1:], "style") {
			name = "style"
		}
		end := indexFold(html, "</"+name)
		if end < 0 {
			return append(out, html...)
		}
		out = append(out, html[:end]...)
		html = html[end:]
	}
	return out
}

// rawTextStart is the offset of the first <script or <style start tag
// in html, or -1.
func rawTextStart(html []byte) int {
	for i := 0; i < len(html); i++ {
		if html[i] == '<' && (hasPrefixFold(html[i+1:], "script") || hasPrefixFold(html[i+1:], "style")) {
			n := 7
			if hasPrefixFold(html[i+1:], "style") {
				n = 6
			}
			if i+n >= len(html) || isSpace(html[i+n]) || html[i+n] == '>' || html[i+n] == '/' {
				return i
			}
		}
	}
	return -1
}

// indexFold is the offset of s in b, ASCII letters in any case, or -1.
func indexFold(b []byte, s string) int {
	for i := 0; i+len(s) <= len(b); i++ {
		if hasPrefixFold(b[i:], s) {
			return i
		}
	}
	return -1
}

// decoder returns what the rewriter reads the page's values with (see
// rewrite.Options.Decode): invalid bytes become U+FFFD, as in browsers.
func (c pageCharset) decoder() func(dst, src []byte) []byte {
	dec := c.enc.NewDecoder()
	return func(dst, src []byte) []byte {
		b, err := dec.Bytes(src)
		if err != nil {
			// A decoder of the standard replaces what it cannot read;
			// should one fail, the bytes stand for themselves.
			return append(dst, src...)
		}
		return append(dst, b...)
	}
}

// charRefs writes every non-ASCII character of b as a numeric character
// reference, and invalid UTF-8 as U+FFFD's.
func charRefs(b []byte) []byte {
	var out []byte
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r < utf8.RuneSelf {
			out = append(out, b[0])
		} else {
			out = append(out, "&#"...)
			out = strconv.AppendInt(out, int64(r), 10)
			out = append(out, ';')
		}
		b = b[n:]
	}
	return out
}

// prescan looks for a <meta charset> or <meta http-equiv=content-type>
// in the first 1024 bytes of a page, as the WHATWG HTML standard's
// "prescan a byte stream to determine its encoding" does. ok is false
// when none is found. A declared UTF-16 is UTF-8 (a meta that can be read
// as ASCII is not UTF-16), x-user-defined is windows-1252.
func prescan(b []byte) (pageCharset, bool) {
	if len(b) > prescanLimit {
		b = b[:prescanLimit]
	}
	for i := 0; i < len(b); {
		switch {
		case hasPrefixFold(b[i:], "<!--"):
			end := bytes.Index(b[i+2:], []byte("-->"))
			if end < 0 {
				return pageCharset{}, false
			}
			i += 2 + end + 3
		case hasPrefixFold(b[i:], "<meta") && i+5 < len(b) && (isSpace(b[i+5]) || b[i+5] == '/'):
			i += 6
			c, next, ok := metaCharset(b, i)
			if ok {
				return c, true
			}
			if next < 0 {
				return pageCharset{}, false
			}
			i = next
		case b[i] == '<' && i+1 < len(b) && isLetter(b[i+1]),
			b[i] == '<' && i+2 < len(b) && b[i+1] == '/' && isLetter(b[i+2]):
			for i < len(b) && !isSpace(b[i]) && b[i] != '>' {
				i++
			}
			for {
				var ok bool
				if _, _, i, ok = getAttribute(b, i); !ok {
					break
				}
			}
			if i < 0 {
				return pageCharset{}, false
			}
		case b[i] == '<' && i+1 < len(b) && (b[i+1] == '!' || b[i+1] == '/' || b[i+1] == '?'):
			end := bytes.IndexByte(b[i:], '>')
			if end < 0 {
				return pageCharset{}, false
			}
			i += end + 1
		default:
			i++
		}
	}
	return pageCharset{}, false
}

// metaCharset reads the attributes of a <meta> tag from i. It returns the
// encoding it declares, or the offset to go on from (-1: the bytes ended).
func metaCharset(b []byte, i int) (pageCharset, int, bool) {
	var seen []string
	gotPragma := false
	needPragma := 0 // 0: null, 1: true, 2: false
	var charset pageCharset
	haveCharset := false
	for {
		name, value, next, ok := getAttribute(b, i)
		if next < 0 {
			return pageCharset{}, -1, false
		}
		i = next
		if !ok {
			break
		}
		dup := false
		for _, s := range seen {
			dup = dup || s == name
		}
		if dup {
			continue
		}
		seen = append(seen, name)
		switch name {
		case "http-equiv":
			if value == "content-type" {
				gotPragma = true
			}
		case "content":
			if label, ok := charsetFromContent(value); ok && !haveCharset {
				if c, known := charsetFromLabel(label); known {
					charset, haveCharset = c, true
					needPragma = 1
				}
			}
		case "charset":
			if c, known := charsetFromLabel(value); known {
				charset, haveCharset = c, true
			} else {
				haveCharset = false
			}
			needPragma = 2
		}
	}
	if needPragma == 0 || needPragma == 1 && !gotPragma || !haveCharset {
		return pageCharset{}, i, false
	}
	switch charset.name {
	case "utf-16be", "utf-16le":
		charset = utf8Page
	case "x-user-defined":
		charset, _ = charsetFromLabel("windows-1252")
	}
	return charset, i, true
}

// getAttribute is the standard's "get an attribute" on b from i: it
// returns the attribute's lower-cased name and value and the offset after
// it; ok is false at the end of the tag. next is -1 when b ends first.
func getAttribute(b []byte, i int) (name, value string, next int, ok bool) {
	for i < len(b) && (isSpace(b[i]) || b[i] == '/') {
		i++
	}
	if i >= len(b) {
		return "", "", -1, false
	}
	if b[i] == '>' {
		return "", "", i, false
	}
	var n, v []byte
	for {
		if i >= len(b) {
			return "", "", -1, false
		}
		c := b[i]
		if c == '=' && len(n) > 0 {
			i++
			break
		}
		if isSpace(c) {
			for i < len(b) && isSpace(b[i]) {
				i++
			}
			if i >= len(b) {
				return "", "", -1, false
			}
			if b[i] != '=' {
				return string(n), "", i, true
			}
			i++
			break
		}
		if c == '/' || c == '>' {
			return string(n), "", i, true
		}
		n = append(n, lower(c))
		i++
	}
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if i >= len(b) {
		return "", "", -1, false
	}
	if q := b[i]; q == '"' || q == '\'' {
		for i++; ; i++ {
			if i >= len(b) {
				return "", "", -1, false
			}
			if b[i] == q {
				return string(n), string(v), i + 1, true
			}
			v = append(v, lower(b[i]))
		}
	}
	if b[i] == '>' {
		return string(n), "", i, true
	}
	for ; ; i++ {
		if i >= len(b) {
			return "", "", -1, false
		}
		if isSpace(b[i]) || b[i] == '>' {
			return string(n), string(v), i, true
		}
		v = append(v, lower(b[i]))
	}
}

// charsetFromContent is the standard's "extract a character encoding from
// a meta element", on a content attribute's (lower-cased) value.
func charsetFromContent(s string) (string, bool) {
	for i := 0; ; {
		j := bytes.Index([]byte(s[i:]), []byte("charset"))
		if j < 0 {
			return "", false
		}
		i += j + len("charset")
		k := i
		for k < len(s) && isSpace(s[k]) {
			k++
		}
		if k >= len(s) || s[k] != '=' {
			continue
		}
		k++
		for k < len(s) && isSpace(s[k]) {
			k++
		}
		if k >= len(s) {
			return "", false
		}
		if q := s[k]; q == '"' || q == '\'' {
			end := bytes.IndexByte([]byte(s[k+1:]), q)
			if end < 0 {
				return "", false
			}
			return s[k+1 : k+1+end], true
		}
		end := k
		for end < len(s) && !isSpace(s[end]) && s[end] != ';' {
			end++
		}
		return s[k:end], true
	}
}

func hasPrefixFold(b []byte, prefix string) bool {
	if len(b) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if lower(b[i]) != prefix[i] {
			return false
		}
	}
	return true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
