package rewrite

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strings"
)

// scanner is the tokenizer's state: the input being read, what is
// unfinished at its end, the raw text being read, the start tag being
// handled, and the page's tag names.
type scanner struct {
	// src is the input being scanned; src[:mark] has been written or
	// dropped. pending is an unfinished construct carried to the next
	// Write.
	src     []byte
	mark    int
	pending []byte

	state     uint8
	scriptEsc uint8  // script data: 0, escaped (after <!--), 2 double escaped
	rawName   string // the end tag name that ends raw text
	// find follows an unfinished tag in pending to its end (finding).
	find    tagEnd
	finding bool

	// The start tag being handled; tag is set only while it is matched.
	tag     []byte
	nameEnd int
	tagFacts
	attrs     []attr
	attrsRead bool
	// commentAt and rawAt are where the text of the comment, or of the
	// raw text element (script, style, title...), being read starts in
	// the page, for a map that looks for volatile values (-1: not noted).
	commentAt, rawAt int

	// names interns the page's tag names no table knows, to an index
	// (the id is nameBase plus it); kept across pages (within limits) so
	// that custom elements cost nothing after the first page. nameBytes
	// counts their bytes.
	names     map[string]uint16
	nameBase  uint16
	nameBytes int
}

// scan tokenizes r.src from the start, handling each construct, and
// returns where the unfinished construct at its end starts (len(r.src)
// when there is none). With final set, nothing more will come: an
// unfinished construct is text.
func (r *Rewriter) scan(final bool) int {
	src := r.src
	pos := 0
	if r.base == 0 && !final && len(src) < len(utf8BOM) && bytes.HasPrefix(utf8BOM, src) {
		// The page starts with what may be a byte order mark, which
		// text must see whole (see text): the rest comes next.
		return 0
	}
	for pos < len(src) && !r.stopped {
		switch r.state {
		case stData:
			if src[pos] != '<' { // tags often follow tags: no call then
				lt := indexByte(src[pos:], '<')
				cut := false
				if lt < 0 {
					lt = len(src) - pos
					// Where the tree reads whether text is space, a
					// character reference the write cuts is read whole
					// first: "&#3" may become "&#32;", a space.
					if !final && (r.watchText() || !r.framesetBad || r.holding || r.recHold) {
						if k := spaceRefCut(src[pos:]); k >= 0 {
							if k == 0 {
								return pos
							}
							lt, cut = k, true
						}
					}
				}
				// Until the frameset-ok flag is off, whether text is all
				// space decides what a <frameset> does: the tree reads it.
				// (Checked after text, which may start the body and so
				// turn the flag on again.)
				read := !r.framesetBad
				if r.watchText() {
					r.text(pos, pos+lt)
				} else if !read && r.rec != nil && r.rec.look && pos+lt < len(src) {
					r.recordText(pos, pos+lt)
				}
				if !r.framesetBad {
					r.framesetText(src[pos:pos+lt], true)
				}
				if (r.holding || r.recHold) && spaceEnd(src[pos:pos+lt]) < lt {
					r.unhold(pos) // text after </body>: the body goes on
				}
				if pos += lt; pos == len(src) || cut {
					return pos
				}
			}
			// markup's most common cases, a call less.
			var n int
			switch {
			case pos+1 < len(src) && isAlpha(src[pos+1]):
				n = r.startTag(pos)
			case pos+2 < len(src) && src[pos+1] == '/' && isAlpha(src[pos+2]):
				n = r.endTag(pos)
			default:
				n = r.markup(pos, final)
				if n == 1 {
					if r.watchText() {
						r.text(pos, pos+1) // a '<' that starts nothing is text
					}
					r.framesetBad = true // (text that is not space: see framesetText)
				}
				if n == 1 && (r.holding || r.recHold) {
					r.unhold(pos)
				}
			}
			if n == 0 {
				if final {
					return len(src)
				}
				return pos
			}
			pos += n
		case stRawText, stScript:
			end, keep := r.rawTextEnd(pos)
			if end < 0 {
				if final {
					return len(src)
				}
				return keep
			}
			if r.rec != nil && r.rec.look && r.rawAt >= 0 && !r.stopped {
				r.recordRawText(end)
			}
			r.state = stData
			pos = end
		case stComment:
			end, keep := commentEnd(src, pos)
			if trackWork {
				r.work += max(end, keep) - pos
			}
			if end < 0 {
				if final {
					return len(src)
				}
				return keep
			}
			if r.rec != nil && r.rec.look && r.commentAt >= 0 && !r.stopped {
				r.recordComment(end)
			}
			r.state = stData
			pos = end
		case stBogus:
			// A bogus comment (<? >, </ >, a long <! >) ends at '>'.
			gt := indexByte(src[pos:], '>')
			if trackWork {
				r.work += max(gt+1, len(src)-pos)
			}
			if gt < 0 {
				return len(src)
			}
			r.state = stData
			pos += gt + 1
		case stCDATA:
			end := bytes.Index(src[pos:], []byte("]]>"))
			if trackWork {
				r.work += len(src) - pos
			}
			if !r.framesetBad {
				// Text of svg or math, as the body's.
				hi := len(src)
				if end >= 0 {
					hi = pos + end
				}
				r.framesetText(src[pos:hi], false) // (no references in CDATA)
			}
			if end < 0 {
				keep := len(src)
				for keep > pos && len(src)-keep < 2 && src[keep-1] == ']' {
					keep--
				}
				if final {
					return len(src)
				}
				return keep
			}
			r.state = stData
			pos += end + 3
		case stPlaintext:
			return len(src)
		}
	}
	return len(src)
}

// allSpace reports whether b is only HTML whitespace.
func allSpace(b []byte) bool {
	for _, c := range b {
		if !isSpace(c) {
			return false
		}
	}
	return true
}

// spaceEnd returns the index of the first character of the text t that
// is not HTML whitespace as the tree builder sees it, after the tokenizer
// has decoded character references: "&#32;", "&#x9;" or "&Tab;" is space
// (len(t) when all of t is).
func spaceEnd(t []byte) int {
	i := 0
	for i < len(t) {
		if isSpace(t[i]) {
			i++
			continue
		}
		n := spaceRef(t[i:])
		if n == 0 {
			break
		}
		i += n
	}
	return i
}

// spaceRef returns the length of the character reference t starts with
// when it decodes to HTML whitespace (tab, line feed, form feed, carriage
// return or space), else 0. A numeric one may lack its ';', as browsers
// decode it anyway, and have leading zeros; the named ones are &Tab; and
// &NewLine;, whose ';' is required.
func spaceRef(t []byte) int {
	if len(t) < 3 || t[0] != '&' {
		return 0
	}
	if t[1] != '#' {
		for _, name := range [...]string{"&Tab;", "&NewLine;"} {
			if len(t) >= len(name) && string(t[:len(name)]) == name {
				return len(name)
			}
		}
		return 0
	}
	switch v, n := numericRef(t); v {
	case '\t', '\n', '\f', '\r', ' ':
		return n
	}
	return 0
}

// digitValue returns the value of the decimal (or, with hex, hexadecimal)
// digit c, or -1.
func digitValue(c byte, hex bool) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case hex && c|0x20 >= 'a' && c|0x20 <= 'f':
		return int(c|0x20-'a') + 10
	}
	return -1
}

// spaceRefCut returns where, in the text t that the end of a write cuts,
// a character reference starts that the next write may make whitespace
// ("&", "&#", "&#x2", "&Tab", or "&#32", which a digit could still
// follow), when the text before it is all space; else -1 (text that is
// not space already said so).
func spaceRefCut(t []byte) int {
	amp := bytes.LastIndexByte(t, '&')
	if amp < 0 || spaceEnd(t[:amp]) < amp {
		return -1
	}
	ref := t[amp:]
	for _, name := range [...]string{"&Tab;", "&NewLine;"} {
		if len(ref) < len(name) && string(ref) == name[:len(ref)] {
			return amp
		}
	}
	if len(ref) < 2 || ref[1] != '#' {
		return -1
	}
	i, hex := 2, len(ref) > 2 && ref[2]|0x20 == 'x'
	if hex {
		i = 3
	}
	for ; i < len(ref); i++ {
		if digitValue(ref[i], hex) < 0 {
			return -1 // the reference ended: it decodes as it is
		}
	}
	return amp
}

// watchText reports whether text changes the tree: before the body
// starts, in a column group (and svg and math, which the slow path
// knows), and when formatting elements wait to be reopened.
func (r *Rewriter) watchText() bool {
	return !r.bodyStarted || r.stack[len(r.stack)-1].eflags&eSlow != 0 || !r.afeQuiet()
}

// markup handles the construct at src[lt] == '<' and returns its length,
// or 0 when it is unfinished.
func (r *Rewriter) markup(lt int, final bool) int {
	b := r.src[lt:]
	if len(b) < 2 {
		return 0
	}
	switch c := b[1]; {
	case isAlpha(c):
		return r.startTag(lt)
	case c == '/':
		if len(b) < 3 {
			return 0
		}
		if isAlpha(b[2]) {
			return r.endTag(lt)
		}
		if b[2] == '>' {
			return 3 // "</>" is nothing to a browser; its bytes pass
		}
		return r.bogus(b, final)
	case c == '!':
		if bytes.HasPrefix(b, []byte("<!--")) {
			// "<!-->" and "<!--->" are complete, empty comments.
			switch {
			case len(b) < 5 || len(b) < 6 && b[4] == '-':
				if final {
					return len(b)
				}
				return 0
			case b[4] == '>':
				return 5
			case b[4] == '-' && b[5] == '>':
				return 6
			}
			r.state = stComment
			if r.rec != nil && r.rec.look {
				r.commentAt = r.base + lt + 4
			}
			return 4
		}
		if len(b) < 9 && bytes.HasPrefix([]byte("<![CDATA["), b) || len(b) < 4 && bytes.HasPrefix([]byte("<!--"), b) {
			return 0 // could still become a comment or CDATA
		}
		if bytes.HasPrefix(b, []byte("<![CDATA[")) && r.inForeign() {
			r.state = stCDATA // streamed to its "]]>"
			return 9
		}
		// <!DOCTYPE ...> and other <!...>: held whole when short (a
		// doctype says whether the page is in quirks mode), streamed
		// otherwise, whatever the chunks.
		n := bogusComment(b[:min(len(b), maxDoctype)], 2)
		if n == 0 {
			if len(b) < maxDoctype && !final {
				return 0
			}
			r.state = stBogus
			return 2
		}
		if !r.started && len(b) >= 9 && equalFold(b[2:9], "doctype") {
			// The first doctype says; browsers ignore a second.
			r.quirks = doctypeQuirks(b[9 : n-1])
			r.started = true
		}
		return n
	case c == '?':
		return r.bogus(b, final)
	}
	return 1 // a '<' that starts nothing is text
}

// maxDoctype bounds the <! > constructs held whole.
const maxDoctype = 512

// bogus handles a bogus comment (<? >, </ >) at b: its length when it
// ends in b, else it streams to its end.
func (r *Rewriter) bogus(b []byte, final bool) int {
	if n := bogusComment(b, 2); n > 0 {
		if trackWork {
			r.work += n
		}
		return n
	}
	r.state = stBogus
	return 2
}

// bogusComment returns the length of a construct that ends at the first
// '>', or 0 when there is none yet.
func bogusComment(b []byte, from int) int {
	end := bytes.IndexByte(b[from:], '>')
	if end < 0 {
		return 0
	}
	return from + end + 1
}

// commentEnd finds the end of a comment in b from i: the index after
// "-->" or "--!>" (or any run of dashes before the '>'), or -1 and where
// to keep the bytes that may start the terminator.
func commentEnd(b []byte, i int) (end, keep int) {
	for {
		j := bytes.Index(b[i:], []byte("--"))
		if j < 0 {
			if len(b) > i && b[len(b)-1] == '-' {
				return -1, len(b) - 1
			}
			return -1, len(b)
		}
		j += i
		k := j + 2
		for k < len(b) && b[k] == '-' {
			k++
		}
		switch {
		case k == len(b):
			return -1, k - 2
		case b[k] == '>':
			return k + 1, 0
		case b[k] == '!':
			if k+1 == len(b) {
				return -1, k - 2
			}
			if b[k+1] == '>' {
				return k + 2, 0
			}
		}
		i = k
	}
}

// rawTextEnd finds the end tag that ends raw text, from pos: it returns
// the index of its '<', or -1 and where to keep the bytes that may start
// it. For script data it follows the escape states, in which "</script>"
// inside "<!-- <script> ... -->" does not end the script.
func (r *Rewriter) rawTextEnd(pos int) (end, keep int) {
	b := r.src
	name := r.rawName
	// ddAt caches where the next "-->" is (-1: none to the end), so that
	// escaped script data full of '<' is searched once.
	ddAt := -2
	for {
		lt := bytes.IndexByte(b[pos:], '<')
		if trackWork {
			if lt < 0 {
				r.work += len(b) - pos
			} else {
				r.work += lt + 1
			}
		}
		if r.state == stScript && r.scriptEsc != 0 {
			// Escaped: "-->" ends the escape.
			if ddAt == -2 || ddAt >= 0 && ddAt < pos {
				ddAt = bytes.Index(b[pos:], []byte("-->"))
				if trackWork {
					r.work += max(ddAt+3, len(b)-pos)
				}
				if ddAt >= 0 {
					ddAt += pos
				}
			}
			dd := -1
			if ddAt >= 0 {
				dd = ddAt - pos
			}
			if dd >= 0 && (lt < 0 || dd < lt) {
				r.scriptEsc = 0
				pos += dd + 3
				continue
			}
			if lt < 0 {
				keep := len(b)
				for keep > pos && len(b)-keep < 2 && b[keep-1] == '-' {
					keep--
				}
				return -1, keep
			}
		}
		if lt < 0 {
			return -1, len(b)
		}
		lt += pos
		t := b[lt:]
		// The longest pattern is "</" name and one byte.
		if len(t) < len(name)+3 {
			if couldStart(t, name, r.state == stScript) {
				return -1, lt
			}
			pos = lt + 1
			continue
		}
		if t[1] == '/' && equalFold(t[2:2+len(name)], name) && isTagEnd(t[2+len(name)]) {
			if r.state == stScript && r.scriptEsc == 2 {
				r.scriptEsc = 1 // ends the double escape, not the script
				pos = lt + 2 + len(name)
				continue
			}
			r.scriptEsc = 0
			return lt, 0
		}
		if r.state == stScript {
			switch {
			case r.scriptEsc == 0 && bytes.HasPrefix(t, []byte("<!--")):
				r.scriptEsc = 1
				pos = lt + 2 // the dashes may also end it: "<!-->"
				continue
			case r.scriptEsc == 1 && equalFold(t[1:1+len(name)], name) && isTagEnd(t[1+len(name)]):
				r.scriptEsc = 2
				pos = lt + 1 + len(name)
				continue
			}
		}
		pos = lt + 1
	}
}

// couldStart reports whether t, cut short by the end of the input, could
// be the start of the end tag "</name", or in script data of "<!--" or
// "<name".
func couldStart(t []byte, name string, script bool) bool {
	prefix := func(pat string) bool {
		n := min(len(t), len(pat))
		for i := 0; i < n; i++ {
			if lowerByte(t[i]) != pat[i] {
				return false
			}
		}
		return true
	}
	return prefix("</"+name) || script && (prefix("<!--") || prefix("<"+name))
}

// indexByte is bytes.IndexByte, faster for the short distances between
// tags and the short attribute values that are most of a page: it tests
// eight bytes at a time in a register before it pays for the call.
func indexByte(b []byte, c byte) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	pat := lo * uint64(c)
	i := 0
	for ; i+8 <= len(b) && i < 64; i += 8 {
		x := binary.LittleEndian.Uint64(b[i:]) ^ pat
		if m := (x - lo) &^ x & hi; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	if i+8 > len(b) {
		if len(b) >= 8 {
			// The last eight bytes, overlapping those tested: they hold
			// no c, so flag nothing, and the lowest flag is still exact.
			// Class values, searched by hasWord, end this way.
			i = len(b) - 8
			x := binary.LittleEndian.Uint64(b[i:]) ^ pat
			if m := (x - lo) &^ x & hi; m != 0 {
				return i + bits.TrailingZeros64(m)>>3
			}
			return -1
		}
		for ; i < len(b); i++ {
			if b[i] == c {
				return i
			}
		}
		return -1
	}
	j := bytes.IndexByte(b[i:], c)
	if j < 0 {
		return -1
	}
	return i + j
}

func isTagEnd(c byte) bool { return byteClass[c]&(cSpace|cSlash|cGT) != 0 }

// attributes reads the attributes of the start tag being handled into
// r.attrs, once.
func (r *Rewriter) attributes() []attr {
	if !r.attrsRead {
		var t tagFacts
		r.attrs = r.attrs[:0]
		scanAttrs(r.tag, r.nameEnd, &t, &r.attrs)
		r.attrsRead = true
	}
	return r.attrs
}

// tagFacts are what scanAttrs notes of every start tag.
type tagFacts struct {
	selfClose bool
	// The first id and class values: [lo, hi) in the tag; lo < 0 when the
	// tag has none.
	idLo, idHi       int32
	classLo, classHi int32
}

// scanAttrs scans the attributes of the tag at b (b[0] == '<') from i,
// just after its name, following HTML's tokenizer states so that a '>'
// inside a quoted value does not end the tag. It returns the index of the
// '>' that ends it, or -1 when it is unfinished. It notes in t whether the
// tag is self-closing and where the first id and class values are; the
// other attributes are read only when something asks (attributes), and
// then appended to list unless list is nil.
//
// It runs for every tag of every page, so its loops are shaped for what
// pages hold: one space between attributes, and name="value" with the
// quote right after the '='; the other forms take the general path.
func scanAttrs(b []byte, i int, t *tagFacts, list *[]attr) int {
	return readAttrs(b, i, t, list, "")
}

// attrsStopped is what readAttrs returns when it stopped at the attribute
// it was looking for.
const attrsStopped = -2

// readAttrs is scanAttrs, which stops (returning attrsStopped) once it
// appended to list an attribute named stop (in any case), when stop is
// not "": the first of that name is the one the tag has.
func readAttrs(b []byte, i int, t *tagFacts, list *[]attr, stop string) int {
	*t = tagFacts{idLo: -1, classLo: -1}
	n := len(b)
	for i < n {
		// Before an attribute name: spaces and slashes. Most often one
		// space, then a letter: bytes above '>' start a name.
		c := b[i]
		if c == ' ' && i+1 < n && b[i+1] > '>' {
			i++
		} else if byteClass[c]&(cSpace|cSlash) != 0 {
			if c == '/' && i+1 < n && b[i+1] == '>' {
				t.selfClose = true
				return i + 1
			}
			i++
			continue
		} else if c == '>' {
			return i
		}
		// The name; its first byte may be '=' or a quote.
		nameLo := i
		i++
		for i < n {
			// Letters, most of a name, are above every byte that ends it:
			// one comparison passes them, without a table load.
			if c := b[i]; c <= '>' && byteClass[c]&cAttrEnd != 0 {
				break
			}
			i++
		}
		nameHi := i
		valLo, valHi := -1, -1
		if i+1 < n && b[i] == '=' && byteClass[b[i+1]]&cQuote != 0 {
			// indexByte's first loop, inline: most values are short, and
			// the call would cost as much as the search.
			const lo, hi = 0x0101010101010101, 0x8080808080808080
			q, j, end := b[i+1], i+2, -1
			pat := lo * uint64(q)
			for ; j+8 <= n && j-i < 64; j += 8 {
				x := binary.LittleEndian.Uint64(b[j:]) ^ pat
				if m := (x - lo) &^ x & hi; m != 0 {
					end = j + bits.TrailingZeros64(m)>>3
					break
				}
			}
			if end < 0 {
				if end = indexByte(b[j:], q); end < 0 {
					return -1
				}
				end += j
			}
			valLo, valHi = i+2, end
			i = end + 1
		} else {
			for i < n && isSpace(b[i]) {
				i++
			}
			if i >= n {
				return -1
			}
			if b[i] == '=' {
				i++
				for i < n && isSpace(b[i]) {
					i++
				}
				if i >= n {
					return -1
				}
				switch q := b[i]; q {
				case '"', '\'':
					j := indexByte(b[i+1:], q)
					if j < 0 {
						return -1
					}
					valLo, valHi = i+1, i+1+j
					i += j + 2
				case '>':
					// "a=>": the value is missing; '>' ends the tag.
					valLo, valHi = i, i
				default:
					j := i
					for j < n && byteClass[b[j]]&(cSpace|cGT) == 0 {
						j++
					}
					valLo, valHi = i, j
					i = j
				}
			}
		}
		// id and class are what selectors ask for most: note them now.
		switch nameHi - nameLo {
		case 2:
			if t.idLo < 0 && b[nameLo]|0x20 == 'i' && b[nameLo+1]|0x20 == 'd' {
				t.idLo, t.idHi = int32(max(valLo, 0)), int32(max(valHi, 0))
			}
		case 5:
			// Setting 0x20 lower-cases a letter, and makes no other byte
			// one: a word-wide equalFold.
			const clas = 'c' | 'l'<<8 | 'a'<<16 | 's'<<24
			if t.classLo < 0 && binary.LittleEndian.Uint32(b[nameLo:])|0x20202020 == clas && b[nameLo+4]|0x20 == 's' {
				t.classLo, t.classHi = int32(max(valLo, 0)), int32(max(valHi, 0))
			}
		}
		if list != nil {
			a := attr{nameLo: int32(nameLo), nameHi: int32(nameHi), valLo: int32(valLo), valHi: int32(valHi), end: int32(i)}
			if valLo < 0 {
				a.end = int32(nameHi)
			}
			*list = append(*list, a)
			if stop != "" && asciiFold(b[nameLo:nameHi], stop) {
				return attrsStopped
			}
		}
	}
	return -1
}

// inForeign reports whether the current node is in svg or math content,
// where CDATA sections exist.
func (r *Rewriter) inForeign() bool {
	return r.stack[len(r.stack)-1].ns != nsHTML
}

// doctypeQuirks reports whether a page whose doctype is <!DOCTYPE d> is
// in quirks mode, where a table does not close an open p: without the
// name html, or with a public identifier of the pre-HTML 4.01 families
// (or 4.01 transitional or frameset without a system identifier) that
// the standard lists.
func doctypeQuirks(d []byte) bool {
	s := strings.ToLower(string(d))
	s = strings.TrimLeft(s, " \t\n\r\f")
	name := s
	if i := strings.IndexAny(s, " \t\n\r\f"); i >= 0 {
		name, s = s[:i], strings.TrimLeft(s[i:], " \t\n\r\f")
	} else {
		s = ""
	}
	if name != "html" {
		return true
	}
	if s == "" {
		return false
	}
	ids := [2]string{}
	has := [2]bool{}
	// The keyword is the six characters after the name, whatever
	// follows them: a newline or a tab after PUBLIC, or a quote
	// (PUBLIC"-//W3C//DTD XHTML 1.0 Strict//EN"), does not end it any
	// less than a space.
	kw, rest := s[:min(6, len(s))], s[min(6, len(s)):]
	i := 0
	switch kw {
	case "public":
	case "system":
		i = 1
	default:
		return true
	}
	for ; i < 2; i++ {
		rest = strings.TrimLeft(rest, " \t\n\r\f")
		if rest == "" {
			break
		}
		q := rest[0]
		if q != '"' && q != '\'' {
			return true
		}
		end := strings.IndexByte(rest[1:], q)
		if end < 0 {
			return true
		}
		ids[i], has[i] = rest[1:1+end], true
		rest = rest[2+end:]
	}
	// What follows the system identifier up to the '>' is a parse
	// error that leaves the mode to the identifiers.
	if kw == "public" && !has[0] || kw == "system" && !has[1] {
		// The keyword without its identifier: the tokenizer sets the
		// doctype's force-quirks flag.
		return true
	}
	pub, sys := ids[0], ids[1]
	switch {
	case pub == "-//w3o//dtd w3 html strict 3.0//en//" || pub == "-/w3d/dtd html 4.0 transitional/en" || pub == "html":
		return true
	case sys == "http://www.ibm.com/data/dtd/v11/ibmxhtml1-transitional.dtd":
		return true
	case !has[1] && (strings.HasPrefix(pub, "-//w3c//dtd html 4.01 frameset//") || strings.HasPrefix(pub, "-//w3c//dtd html 4.01 transitional//")):
		return true
	}
	for _, f := range quirkyFamilies {
		if strings.HasPrefix(pub, f) {
			return true
		}
	}
	return false
}

// quirkyFamilies are the beginnings of the public identifiers the
// standard lists as putting a page in quirks mode.
var quirkyFamilies = []string{
	"+//silmaril//", "-//as//", "-//advasoft ltd//", "-//ietf//", "-//metrius//", "-//microsoft//",
	"-//netscape comm. corp.//", "-//o'reilly and associates//", "-//sq//", "-//softquad", "-//spyglass//",
	"-//sun microsystems corp.//", "-//w3c//dtd html 3", "-//w3c//dtd html 4.0 frameset//",
	"-//w3c//dtd html 4.0 transitional//", "-//w3c//dtd html experimental", "-//w3c//dtd w3 html//",
	"-//w3o//dtd w3 html 3.0//", "-//webtechs//",
}
