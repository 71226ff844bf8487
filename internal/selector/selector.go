// Package selector is the CSS selector language bespoke accepts: the part
// of CSS that can be matched while a page streams, at an element's start
// tag, when only its ancestors and the number and names of its earlier
// siblings are known (the subset Cloudflare's lol-html supports).
//
// The rule compiler parses selectors to report mistakes with their
// position (Error.Offset); the host's rewriter compiles the parsed form
// (List) into its matcher.
//
// Supported:
//
//	div  *  #id  .class                 type (case-insensitive), universal, id, class
//	[a] [a=v] [a~=v] [a^=v] [a$=v] [a*=v] [a|=v]   attributes; v quoted or not; [a=v i] folds case
//	li.card[data-id]                    compound selectors
//	nav a   ul > li                     descendant and child combinators
//	h1, h2                              selector lists
//	:not(.a, ul > li)                   negation of a selector list
//	:nth-child(2n+1) :first-child       position among siblings: an+b, odd, even
//	:nth-of-type(3) :first-of-type      position among siblings of the same type
//	#\31 23                             CSS escapes in names
//
// Rejected, with the reason: sibling combinators (+, ~), pseudo-classes
// that depend on what follows an element (:last-child, :only-child,
// :nth-last-child, :has, :empty, ...), pseudo-classes that depend on the
// browser (:hover, ...), pseudo-elements (::before), and anything else
// CSS does not define or this package does not support.
package selector

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// List is a selector list, "a, b": an element matches when any of its
// selectors matches. Parse never returns an empty List; a nil List matches
// nothing.
type List []Complex

// Complex is compound selectors joined by combinators, read left to
// right: Compounds[i] relates to Compounds[i+1] by Combinators[i], so
// len(Combinators) == len(Compounds)-1. The element a Complex selects is
// the one its last compound describes.
type Complex struct {
	Compounds   []Compound
	Combinators []Combinator
}

// Combinator is how two compound selectors relate.
type Combinator uint8

// The combinators. The zero Combinator is invalid.
const (
	// Descendant ("a b"): b is somewhere inside a.
	Descendant Combinator = iota + 1
	// Child ("a > b"): b's parent is a.
	Child
)

// Compound is what one element must satisfy: all of its parts. The zero
// Compound is "*", which every element satisfies.
type Compound struct {
	// Type is the lower-cased tag name; "" is any element ("*").
	Type string
	// IDs are the #id parts (usually one); the element's id must equal
	// each of them.
	IDs []string
	// Classes are the .class parts; the element's class list must hold
	// each of them (case-sensitive).
	Classes []string
	// Attrs are the [attribute] parts.
	Attrs []Attr
	// Pseudos are the pseudo-classes, in the order written.
	Pseudos []Pseudo
}

// AttrOp is how an attribute selector compares the attribute's value.
type AttrOp uint8

// The attribute operators. The zero AttrOp, Exists, tests presence only.
const (
	Exists    AttrOp = iota // [a]: the attribute is present, whatever its value
	Equals                  // [a=v]: the value is v
	Includes                // [a~=v]: v is one of the value's space-separated words
	Prefix                  // [a^=v]: the value starts with v (never when v is "")
	Suffix                  // [a$=v]: the value ends with v (never when v is "")
	Substring               // [a*=v]: the value contains v (never when v is "")
	DashMatch               // [a|=v]: the value is v or starts with v followed by "-"
)

var attrOps = [...]string{Exists: "", Equals: "=", Includes: "~=", Prefix: "^=", Suffix: "$=", Substring: "*=", DashMatch: "|="}

// String returns the operator as written in CSS; Exists is "".
func (op AttrOp) String() string {
	if int(op) < len(attrOps) {
		return attrOps[op]
	}
	return "?"
}

// Attr is an attribute selector.
type Attr struct {
	// Name is the attribute's name, lower-cased.
	Name string
	// Op compares the value; Exists ignores Value and Fold.
	Op AttrOp
	// Value is what Op compares with, unescaped.
	Value string
	// Fold compares ASCII letters case-insensitively: the "i" flag, or,
	// without a flag, an attribute HTML lists as case-insensitive (see
	// foldedAttrs).
	Fold bool
	// Flag is the flag written after the value: 'i', 's' or 0.
	Flag byte
}

// foldedAttrs are the attributes whose values attribute selectors compare
// ASCII case-insensitively in an HTML document unless the selector says
// "s" (HTML, "Case-sensitivity of selectors"): [type=text] selects
// type="Text", as in browsers.
var foldedAttrs = map[string]bool{
	"accept": true, "accept-charset": true, "align": true, "alink": true, "axis": true, "bgcolor": true,
	"charset": true, "checked": true, "clear": true, "codetype": true, "color": true, "compact": true,
	"declare": true, "defer": true, "dir": true, "direction": true, "disabled": true, "enctype": true,
	"face": true, "frame": true, "hreflang": true, "http-equiv": true, "lang": true, "language": true,
	"link": true, "media": true, "method": true, "multiple": true, "nohref": true, "noresize": true,
	"noshade": true, "nowrap": true, "readonly": true, "rel": true, "rev": true, "rules": true,
	"scope": true, "scrolling": true, "selected": true, "shape": true, "target": true, "text": true,
	"type": true, "valign": true, "valuetype": true, "vlink": true,
}

// Matches reports whether an attribute whose value is v (with character
// references already decoded) satisfies a. Presence is the caller's to
// check.
func (a *Attr) Matches(v string) bool { return a.match(v, a.Fold) }

// MatchesOn is Matches on an element that is HTML, or not (svg, MathML),
// where only the "i" flag folds case: HTML's case-insensitive attributes
// are an HTML element's.
func (a *Attr) MatchesOn(v string, html bool) bool {
	return a.match(v, a.Flag == 'i' || a.Fold && html)
}

// HasWord reports whether the whitespace-separated list holds word (which
// [attr~=word] and, for the class attribute, .word select), comparing
// ASCII letters case-insensitively when fold is set. An empty word, or one
// with whitespace, is in no list.
func HasWord(list, word string, fold bool) bool {
	if word == "" {
		return false
	}
	// A loop, not strings.ContainsAny, which builds its set of bytes at
	// every call: in a quirks-mode page, this runs for every class a
	// selector asks of every element.
	for i := 0; i < len(word); i++ {
		if isSpace(word[i]) {
			return false
		}
	}
	for len(list) > 0 {
		i := 0
		for i < len(list) && isSpace(list[i]) {
			i++
		}
		j := i
		for j < len(list) && !isSpace(list[j]) {
			j++
		}
		if j > i && equal(list[i:j], word, fold) {
			return true
		}
		list = list[j:]
	}
	return false
}

func (a *Attr) match(v string, fold bool) bool {
	want := a.Value
	switch a.Op {
	case Exists:
		return true
	case Equals:
		return equal(v, want, fold)
	case Includes:
		return HasWord(v, want, fold)
	case Prefix:
		return want != "" && len(v) >= len(want) && equal(v[:len(want)], want, fold)
	case Suffix:
		return want != "" && len(v) >= len(want) && equal(v[len(v)-len(want):], want, fold)
	case Substring:
		if want == "" {
			return false
		}
		if !fold {
			return strings.Contains(v, want)
		}
		for i := 0; i+len(want) <= len(v); i++ {
			if equal(v[i:i+len(want)], want, true) {
				return true
			}
		}
		return false
	case DashMatch:
		return equal(v, want, fold) ||
			len(v) > len(want) && v[len(want)] == '-' && equal(v[:len(want)], want, fold)
	}
	return false
}

// equal compares a and b, folding ASCII case when fold is set (CSS's "i"
// flag folds ASCII only).
func equal(a, b string, fold bool) bool {
	if len(a) != len(b) {
		return false
	}
	if !fold {
		return a == b
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// PseudoKind is a supported pseudo-class.
type PseudoKind uint8

// The pseudo-classes. The zero PseudoKind is invalid. :first-child and
// :first-of-type parse as NthChild and NthOfType with Nth{0, 1}.
const (
	NthChild  PseudoKind = iota + 1 // :nth-child(an+b): position among the element siblings
	NthOfType                       // :nth-of-type(an+b): position among the siblings of the same type
	Not                             // :not(list): the element matches none of the list
)

// Pseudo is a pseudo-class.
type Pseudo struct {
	Kind PseudoKind
	// Nth is the position formula of NthChild and NthOfType.
	Nth Nth
	// Not is the argument of Not.
	Not List
}

// Nth is the an+b formula of :nth-child and :nth-of-type: it selects the
// positions a*n+b for n = 0, 1, 2, ..., counting from 1. The zero Nth
// selects nothing.
type Nth struct {
	A, B int
}

// Matches reports whether the 1-based position pos is a*n+b for some
// n >= 0.
func (n Nth) Matches(pos int) bool {
	if n.A == 0 {
		return pos == n.B
	}
	d := pos - n.B
	return d%n.A == 0 && d/n.A >= 0
}

// String returns the formula in its shortest form: "3", "2n+1", "-n+3".
func (n Nth) String() string {
	if n.A == 0 {
		return strconv.Itoa(n.B)
	}
	var s string
	switch n.A {
	case 1:
		s = "n"
	case -1:
		s = "-n"
	default:
		s = strconv.Itoa(n.A) + "n"
	}
	switch {
	case n.B > 0:
		s += "+" + strconv.Itoa(n.B)
	case n.B < 0:
		s += strconv.Itoa(n.B)
	}
	return s
}

// Error is a syntax error in a selector, or a construct the streaming
// rewriter cannot match.
type Error struct {
	// Offset is the byte offset in the selector where the problem is: the
	// unexpected character, the start of the unsupported construct, the
	// bracket or quote left open, or the selector's length when it ends
	// too early.
	Offset int
	// Msg says what is wrong and, where it helps, why and what to write
	// instead.
	Msg string
	// Fix, when not empty, is the whole selector as it should be written
	// (with a name that starts with a digit escaped: #\31 hero).
	Fix string
}

func (e *Error) Error() string {
	if e.Fix != "" {
		return fmt.Sprintf("selector: offset %d: %s; write %s", e.Offset, e.Msg, e.Fix)
	}
	return fmt.Sprintf("selector: offset %d: %s", e.Offset, e.Msg)
}

// maxNesting bounds :not(:not(...)) nesting, so that a hostile selector
// cannot exhaust the stack.
const maxNesting = 32

// maxNth bounds the numbers of an an+b formula: positions beyond it do not
// occur on real pages, and the bound keeps arithmetic from overflowing.
const maxNth = 1 << 30

// Parse parses a selector list, such as "ul.cards > li:not(.ad), #hero h1".
// Leading and trailing whitespace is ignored. The error, when there is one,
// is an *Error.
func Parse(s string) (List, error) {
	p := parser{s: s}
	l, err := p.list(0)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// MustParse is like Parse but panics on error; for tests and fixed
// selectors in code.
func MustParse(s string) List {
	l, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return l
}

type parser struct {
	s string
	i int
}

func (p *parser) fail(at int, format string, args ...any) *Error {
	return &Error{Offset: at, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *parser) eof() bool { return p.i >= len(p.s) }

func (p *parser) skipSpace() bool {
	start := p.i
	for p.i < len(p.s) && isSpace(p.s[p.i]) {
		p.i++
	}
	return p.i > start
}

// list parses a selector list. At depth 0 it runs to the end of the
// input; inside :not( (depth > 0) it stops before the closing ')'.
func (p *parser) list(depth int) (List, error) {
	var l List
	for {
		p.skipSpace()
		switch {
		case p.eof() && len(l) == 0 && depth == 0:
			return nil, p.fail(p.i, "empty selector")
		case p.eof() && depth == 0 || p.peek() == ')' && depth > 0:
			if len(l) == 0 {
				return nil, p.fail(p.i, "empty selector list inside :not()")
			}
			return nil, p.fail(p.i, "a selector is missing after the comma")
		case p.peek() == ',':
			return nil, p.fail(p.i, "a selector is missing before the comma")
		}
		c, err := p.complex(depth)
		if err != nil {
			return nil, err
		}
		l = append(l, c)
		// complex stops at the end, a comma, or (nested) a ')'.
		if p.peek() != ',' {
			return l, nil
		}
		p.i++
	}
}

// complex parses compounds and combinators up to the end of the input, a
// comma, or (nested) a closing parenthesis, which it does not consume.
func (p *parser) complex(depth int) (Complex, error) {
	var c Complex
	for {
		comp, err := p.compound(depth)
		if err != nil {
			return Complex{}, err
		}
		c.Compounds = append(c.Compounds, comp)
		space := p.skipSpace()
		at := p.i
		switch ch := p.peek(); {
		case p.eof() || ch == ',' || ch == ')' && depth > 0:
			return c, nil
		case ch == '>':
			p.i++
			p.skipSpace()
			if err := p.needCompoundAfter(at, "'>'"); err != nil {
				return Complex{}, err
			}
			c.Combinators = append(c.Combinators, Child)
		case ch == '+' || ch == '~':
			return Complex{}, p.fail(at, "the sibling combinator '%c' is not supported: the streaming rewriter matches an element at its start tag from its ancestors and the count of its earlier siblings, and keeps no record of the siblings themselves", ch)
		case space:
			c.Combinators = append(c.Combinators, Descendant)
		default:
			return Complex{}, p.unexpected(depth)
		}
	}
}

// needCompoundAfter reports a combinator with nothing after it.
func (p *parser) needCompoundAfter(at int, what string) error {
	switch ch := p.peek(); {
	case p.eof() || ch == ',' || ch == ')':
		return p.fail(at, "the combinator %s has no selector after it", what)
	case ch == '>' || ch == '+' || ch == '~':
		return p.fail(p.i, "two combinators in a row")
	}
	return nil
}

// unexpected explains an unexpected character at p.i.
func (p *parser) unexpected(depth int) *Error {
	at := p.i
	switch ch := p.peek(); ch {
	case 0:
		if p.eof() {
			return p.fail(at, "the selector ends too early")
		}
	case ')':
		return p.fail(at, "unexpected ')' without a matching '('")
	case ']':
		return p.fail(at, "unexpected ']' without a matching '['")
	case '(':
		return p.fail(at, "unexpected '(': only :not(), :nth-child() and :nth-of-type() take arguments")
	case '>', '+', '~':
		if before := strings.TrimRight(p.s[:at], " \t\n\r\f"); before == "" || strings.HasSuffix(before, ",") || strings.HasSuffix(before, "(") {
			return p.fail(at, "a selector cannot start with the combinator '%c'", ch)
		}
	case '/':
		if strings.HasPrefix(p.s[at:], "/*") {
			return p.fail(at, "comments are not allowed in selectors")
		}
	case '|':
		return p.fail(at, "namespace prefixes (ns|name) are not supported")
	case '&':
		return p.fail(at, "the nesting selector & is not supported")
	case '{', '}', ';':
		return p.fail(at, "unexpected '%c': a selector has no declarations", ch)
	case '"', '\'':
		return p.fail(at, "unexpected quote: strings only go in attribute selectors, as in [title=\"...\"]")
	case '*':
		return p.fail(at, "the universal selector * must come first in a compound selector")
	}
	if isNameStart(p.peek()) || p.peek() == '\\' {
		return p.fail(at, "a type selector must come first in a compound selector, as in div.card[x]")
	}
	r, _ := utf8.DecodeRuneInString(p.s[at:])
	return p.fail(at, "unexpected %q", r)
}

// compound parses one compound selector, which must not be empty.
func (p *parser) compound(depth int) (Compound, error) {
	var c Compound
	start := p.i
	switch ch := p.peek(); {
	case ch == '*':
		p.i++
	case p.identStarts():
		name, err := p.ident("a tag name")
		if err != nil {
			return Compound{}, err
		}
		c.Type = strings.ToLower(name)
	}
	for {
		switch p.peek() {
		case '#':
			p.i++
			name, err := p.ident("an id after '#'")
			if err != nil {
				return Compound{}, err
			}
			c.IDs = append(c.IDs, name)
		case '.':
			p.i++
			name, err := p.ident("a class name after '.'")
			if err != nil {
				return Compound{}, err
			}
			c.Classes = append(c.Classes, name)
		case '[':
			a, err := p.attr()
			if err != nil {
				return Compound{}, err
			}
			c.Attrs = append(c.Attrs, a)
		case ':':
			ps, err := p.pseudo(depth)
			if err != nil {
				return Compound{}, err
			}
			c.Pseudos = append(c.Pseudos, ps)
		default:
			if p.i == start {
				return Compound{}, p.unexpected(depth)
			}
			return c, nil
		}
	}
}

// identStarts reports whether an identifier starts at p.i.
func (p *parser) identStarts() bool {
	s := p.s[p.i:]
	if len(s) == 0 {
		return false
	}
	switch c := s[0]; {
	case isNameStart(c):
		return true
	case c == '\\':
		return len(s) > 1 && s[1] != '\n' && s[1] != '\r' && s[1] != '\f'
	case c == '-':
		return len(s) > 1 && (isNameStart(s[1]) || s[1] == '-' || s[1] == '\\')
	}
	return false
}

// ident reads a CSS identifier, decoding escapes; what names it for the
// error when there is none.
func (p *parser) ident(what string) (string, error) {
	start := p.i
	if !p.identStarts() {
		switch c := p.peek(); {
		case p.eof():
			return "", p.fail(p.i, "expected %s, but the selector ends", what)
		case c >= '0' && c <= '9', c == '-' && p.i+1 < len(p.s) && p.s[p.i+1] >= '0' && p.s[p.i+1] <= '9':
			j := p.i
			for j < len(p.s) && isNameChar(p.s[j]) {
				j++
			}
			name := p.s[p.i:j]
			k := strings.IndexAny(name, "0123456789")
			e := p.fail(p.i, "%q is not a valid name: a name cannot start with a digit unless it is escaped (\\%x and a space for %c)", name, name[k], name[k])
			e.Fix = fmt.Sprintf("%s%s\\%x %s%s", p.s[:p.i], name[:k], name[k], name[k+1:], p.s[j:])
			return "", e
		case c == '-':
			return "", p.fail(p.i, "expected %s: '-' alone is not a name", what)
		default:
			r, _ := utf8.DecodeRuneInString(p.s[p.i:])
			return "", p.fail(p.i, "expected %s, found %q", what, r)
		}
	}
	var b []byte
	plain := start // start of the bytes not yet copied to b
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case isNameChar(c):
			p.i++
		case c == '\\':
			at := p.i
			r, n, err := unescape(p.s[p.i:])
			if err != nil {
				return "", p.fail(at, "%s", err)
			}
			b = append(b, p.s[plain:p.i]...)
			b = utf8.AppendRune(b, r)
			p.i += n
			plain = p.i
		default:
			goto done
		}
	}
done:
	if b == nil {
		return p.s[start:p.i], nil
	}
	b = append(b, p.s[plain:p.i]...)
	return string(b), nil
}

// unescape decodes the CSS escape at s[0] == '\\' and returns the rune and
// the bytes it took.
func unescape(s string) (rune, int, error) {
	if len(s) < 2 {
		return 0, 0, fmt.Errorf("'\\' at the end of the selector escapes nothing")
	}
	if s[1] == '\n' || s[1] == '\r' || s[1] == '\f' {
		return 0, 0, fmt.Errorf("'\\' cannot escape a line break here")
	}
	i := 1
	for i < len(s) && i < 7 && isHex(s[i]) {
		i++
	}
	if i == 1 {
		r, n := utf8.DecodeRuneInString(s[1:])
		if r == 0 {
			r = utf8.RuneError // as CSS reads U+0000
		}
		return r, 1 + n, nil
	}
	v, _ := strconv.ParseUint(s[1:i], 16, 32)
	switch {
	case strings.HasPrefix(s[i:], "\r\n"):
		i += 2
	case i < len(s) && isSpace(s[i]):
		i++
	}
	if v == 0 || v > utf8.MaxRune || v >= 0xd800 && v <= 0xdfff {
		v = utf8.RuneError
	}
	return rune(v), i, nil
}

// attr parses an attribute selector at '['.
func (p *parser) attr() (Attr, error) {
	open := p.i
	p.i++ // [
	p.skipSpace()
	if p.peek() == '|' || p.peek() == '*' && p.i+1 < len(p.s) && p.s[p.i+1] == '|' {
		return Attr{}, p.fail(p.i, "namespace prefixes (ns|name) are not supported")
	}
	name, err := p.ident("an attribute name after '['")
	if err != nil {
		if p.eof() {
			return Attr{}, p.fail(open, "the '[' is not closed")
		}
		return Attr{}, err
	}
	a := Attr{Name: strings.ToLower(name)}
	p.skipSpace()
	at := p.i
	switch c := p.peek(); {
	case p.eof():
		return Attr{}, p.fail(open, "the '[' is not closed")
	case c == ']':
		p.i++
		return a, nil
	case c == '=':
		a.Op = Equals
		p.i++
	case c == '|' && p.i+1 < len(p.s) && p.s[p.i+1] != '=':
		return Attr{}, p.fail(p.i, "namespace prefixes (ns|name) are not supported")
	case c == ':' && !isSpace(p.s[p.i-1]):
		// [xml:lang|=es]: HTML names attributes with a colon (xml:lang,
		// xlink:href), which CSS reads only escaped.
		e := p.fail(p.i, "a ':' in an attribute name is written escaped, as \\:")
		e.Fix = p.s[:p.i] + `\` + p.s[p.i:]
		return Attr{}, e
	case p.i+1 < len(p.s) && p.s[p.i+1] == '=' && strings.IndexByte("~^$*|", c) >= 0:
		switch c {
		case '~':
			a.Op = Includes
		case '^':
			a.Op = Prefix
		case '$':
			a.Op = Suffix
		case '*':
			a.Op = Substring
		default:
			a.Op = DashMatch
		}
		p.i += 2
	case c == '!' && p.i+1 < len(p.s) && p.s[p.i+1] == '=':
		// jQuery's [a!=v], which selects the elements without the value,
		// as :not([a=v]) does.
		e := p.fail(p.i, "CSS has no operator != (jQuery does): :not() around [%s=...] selects the elements without the value", a.Name)
		q := parser{s: p.s[:p.i] + p.s[p.i+1:], i: open}
		if _, err := q.attr(); err == nil {
			e.Fix = q.s[:open] + ":not(" + q.s[open:q.i] + ")" + q.s[q.i:]
		}
		return Attr{}, e
	default:
		return Attr{}, p.fail(at, "expected ']' or an operator (=, ~=, ^=, $=, *=, |=) after the attribute name")
	}
	p.skipSpace()
	quoted := false
	switch q := p.peek(); {
	case p.eof():
		return Attr{}, p.fail(open, "the '[' is not closed")
	case q == '"' || q == '\'':
		v, err := p.str()
		if err != nil {
			return Attr{}, err
		}
		a.Value, quoted = v, true
	case p.identStarts():
		start := p.i
		v, err := p.ident("a value")
		if err != nil {
			return Attr{}, err
		}
		if !p.eof() && p.peek() != ']' && !isSpace(p.peek()) {
			// https://shop.example, hero.png: a name, then what no
			// name holds.
			return Attr{}, p.unquotedValue(start, a)
		}
		a.Value = v
	case isNameChar(q):
		// Not an identifier (it starts with a digit), but unambiguous and
		// common: [tabindex=1], [data-id=123].
		j := p.i
		for j < len(p.s) && isNameChar(p.s[j]) {
			j++
		}
		if j < len(p.s) && p.s[j] != ']' && !isSpace(p.s[j]) {
			return Attr{}, p.unquotedValue(p.i, a)
		}
		a.Value = p.s[p.i:j]
		p.i = j
	case q == ']':
		return Attr{}, p.fail(p.i, "a value is missing after %s; write \"\" for an empty value", a.Op)
	default:
		return Attr{}, p.unquotedValue(p.i, a)
	}
	space := p.skipSpace()
	if c := p.peek(); !p.eof() && c != ']' && (space || quoted) && isNameStart(c) {
		j := p.i
		for j < len(p.s) && isNameChar(p.s[j]) {
			j++
		}
		switch flag := p.s[p.i:j]; flag {
		case "i", "I":
			a.Flag = 'i'
		case "s", "S":
			a.Flag = 's'
		default:
			return Attr{}, p.fail(p.i, "unknown attribute flag %q: only i (case-insensitive) and s (case-sensitive) are allowed", flag)
		}
		p.i = j
		p.skipSpace()
	}
	if p.eof() {
		return Attr{}, p.fail(open, "the '[' is not closed")
	}
	if p.peek() != ']' {
		return Attr{}, p.fail(p.i, "expected ']' to close the attribute selector")
	}
	p.i++
	a.Fold = a.Flag == 'i' || a.Flag == 0 && foldedAttrs[a.Name]
	return a, nil
}

// unquotedValue reports the attribute value at start, which is not a
// name and so must be quoted: [href=/a], [src$=hero.png].
func (p *parser) unquotedValue(start int, a Attr) error {
	j := start
	for j < len(p.s) && p.s[j] != ']' && !isSpace(p.s[j]) {
		j++
	}
	return p.fail(start, "the value %s is not a name: quote it, as in [%s%s\"%s\"]", p.s[start:j], a.Name, a.Op, strings.ReplaceAll(p.s[start:j], `"`, `\"`))
}

// str reads a quoted string at p.i, decoding escapes.
func (p *parser) str() (string, error) {
	open := p.i
	q := p.s[p.i]
	p.i++
	var b []byte
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return string(b), nil
		case c == '\n' || c == '\r' || c == '\f':
			return "", p.fail(open, "the string is not closed on its line")
		case c == '\\':
			if p.i+1 < len(p.s) && (p.s[p.i+1] == '\n' || p.s[p.i+1] == '\f') {
				p.i += 2 // an escaped line break continues the string
				continue
			}
			if strings.HasPrefix(p.s[p.i+1:], "\r\n") {
				p.i += 3
				continue
			}
			r, n, err := unescape(p.s[p.i:])
			if err != nil {
				return "", p.fail(open, "the string is not closed")
			}
			b = utf8.AppendRune(b, r)
			p.i += n
		case c == 0:
			b = utf8.AppendRune(b, utf8.RuneError) // as CSS reads U+0000
			p.i++
		default:
			b = append(b, c)
			p.i++
		}
	}
	return "", p.fail(open, "the string is not closed")
}

// supported are the pseudo-classes, as written, for suggestions.
var supported = []string{"not", "first-child", "nth-child", "first-of-type", "nth-of-type"}

const laterSiblings = "cannot be matched while streaming: an element's later siblings are unknown when it starts"

// rejected explains the pseudo-classes CSS defines that bespoke cannot
// support.
var rejected = map[string]string{
	"last-child":        laterSiblings,
	"last-of-type":      laterSiblings,
	"only-child":        laterSiblings,
	"only-of-type":      laterSiblings,
	"nth-last-child":    laterSiblings,
	"nth-last-of-type":  laterSiblings,
	"has":               "cannot be matched while streaming: an element's content is unknown when it starts",
	"empty":             "cannot be matched while streaming: an element's content is unknown when it starts",
	"hover":             "depends on the visitor's browser, which the server cannot see",
	"active":            "depends on the visitor's browser, which the server cannot see",
	"focus":             "depends on the visitor's browser, which the server cannot see",
	"focus-within":      "depends on the visitor's browser, which the server cannot see",
	"focus-visible":     "depends on the visitor's browser, which the server cannot see",
	"visited":           "depends on the visitor's browser, which the server cannot see",
	"checked":           "depends on the visitor's browser, which the server cannot see; [checked] selects the boxes the page's markup checks, and option[selected] the options it selects",
	"target":            "depends on the visitor's browser, which the server cannot see",
	"link":              "depends on the visitor's history, which the server cannot see; a[href] selects every link",
	"any-link":          "is not supported; a[href] selects every link (area[href] the image map's)",
	"valid":             "depends on what the visitor types, which the server cannot see",
	"invalid":           "depends on what the visitor types, which the server cannot see",
	"user-invalid":      "depends on what the visitor types, which the server cannot see",
	"placeholder-shown": "depends on what the visitor types, which the server cannot see",
	"disabled":          "is not supported; [disabled] selects the elements the page's markup disables",
	"enabled":           "is not supported; :not([disabled]) selects the elements the page's markup does not disable",
	"required":          "is not supported; write [required]",
	"optional":          "is not supported; write :not([required])",
	"root":              "is not supported; the root of a page is its html element: write html",
	"scope":             "is not supported; a page's selectors are scoped to its root, its html element: write html",
	"host":              "selects a shadow tree's host, from the shadow tree's own style sheet, and never an element of the page",
	"host-context":      "selects a shadow tree's host, from the shadow tree's own style sheet, and never an element of the page",
	"is":                "is not supported; write a selector list instead (a, b)",
	"where":             "is not supported; write a selector list instead (a, b)",
}

// jQuery are the pseudo-classes jQuery adds to CSS, which editors who
// know them write in rules, and what CSS writes instead.
var jQuery = map[string]string{
	"checkbox": "write [type=checkbox]",
	"radio":    "write [type=radio]",
	"file":     "write [type=file]",
	"password": "write [type=password]",
	"image":    "write [type=image]",
	"submit":   "write [type=submit]",
	"reset":    "write [type=reset]",
	"button":   "write button, input[type=button]",
	"text":     "write input[type=text]",
	"input":    "write input, textarea, select, button",
	"selected": "write [selected], which selects what the page's markup selects",
	"header":   "write h1, h2, h3, h4, h5, h6",
	"contains": "it reads the element's text, unknown when the element starts",
	"parent":   "it reads whether the element has content, unknown when the element starts",
}

// pseudoElements may be written with one colon, for compatibility.
var pseudoElements = map[string]bool{"before": true, "after": true, "first-line": true, "first-letter": true}

// pseudo parses a pseudo-class at ':'.
func (p *parser) pseudo(depth int) (Pseudo, error) {
	start := p.i
	p.i++ // :
	if p.peek() == ':' {
		return Pseudo{}, p.fail(start, "pseudo-elements such as ::%s are not elements of the page and cannot be selected", p.peekName(p.i+1))
	}
	raw, err := p.ident("a pseudo-class name after ':'")
	if err != nil {
		return Pseudo{}, err
	}
	name := strings.ToLower(raw)
	if pseudoElements[name] {
		return Pseudo{}, p.fail(start, "pseudo-elements such as :%s are not elements of the page and cannot be selected", name)
	}
	if why, ok := rejected[name]; ok {
		return Pseudo{}, p.fail(start, ":%s %s", name, why)
	}
	if what, ok := jQuery[name]; ok {
		return Pseudo{}, p.fail(start, ":%s is jQuery's, not CSS: %s", name, what)
	}
	fn := p.peek() == '('
	switch name {
	case "first-child", "first-of-type":
		if fn {
			return Pseudo{}, p.fail(p.i, ":%s takes no argument", name)
		}
		if name == "first-child" {
			return Pseudo{Kind: NthChild, Nth: Nth{0, 1}}, nil
		}
		return Pseudo{Kind: NthOfType, Nth: Nth{0, 1}}, nil
	case "not", "nth-child", "nth-of-type":
		if !fn {
			if name == "not" {
				return Pseudo{}, p.fail(p.i, ":not needs a selector in parentheses, as in :not(.hidden)")
			}
			return Pseudo{}, p.fail(p.i, ":%s needs a formula in parentheses, as in :%s(2n+1)", name, name)
		}
	default:
		msg := fmt.Sprintf("unknown pseudo-class :%s", name)
		if near := nearest(name, supported); near != "" {
			msg += fmt.Sprintf("; did you mean :%s?", near)
		} else {
			msg += "; supported: :" + strings.Join(supported, ", :")
		}
		return Pseudo{}, p.fail(start, "%s", msg)
	}
	open := p.i
	p.i++ // (
	if name == "not" {
		if depth+1 > maxNesting {
			return Pseudo{}, p.fail(start, ":not is nested too deeply")
		}
		l, err := p.list(depth + 1)
		if err != nil {
			if e, ok := err.(*Error); ok && e.Offset >= len(p.s) {
				return Pseudo{}, p.fail(open, "the '(' of :not( is not closed")
			}
			return Pseudo{}, err
		}
		if p.eof() {
			return Pseudo{}, p.fail(open, "the '(' of :not( is not closed")
		}
		p.i++ // )
		return Pseudo{Kind: Not, Not: l}, nil
	}
	end := strings.IndexByte(p.s[p.i:], ')')
	if end < 0 {
		return Pseudo{}, p.fail(open, "the '(' of :%s( is not closed", name)
	}
	n, err := parseNth(p.s[p.i:p.i+end], p.i)
	if err != nil {
		return Pseudo{}, err
	}
	p.i += end + 1
	kind := NthChild
	if name == "nth-of-type" {
		kind = NthOfType
	}
	return Pseudo{Kind: kind, Nth: n}, nil
}

// peekName returns the name-like text at i, for messages.
func (p *parser) peekName(i int) string {
	j := i
	for j < len(p.s) && isNameChar(p.s[j]) {
		j++
	}
	return p.s[i:j]
}

// parseNth parses the argument of :nth-child() and :nth-of-type(): odd,
// even, an integer, or an+b with CSS's spacing rules (spaces around the
// sign of b, not inside a or b). base is the argument's offset in the
// selector, for errors.
func parseNth(arg string, base int) (Nth, error) {
	i := 0
	fail := func(at int, format string, args ...any) (Nth, error) {
		return Nth{}, &Error{Offset: base + at, Msg: fmt.Sprintf(format, args...)}
	}
	const hint = "write an integer, odd, even, or an+b such as 2n+1 or -n+3"
	skip := func() {
		for i < len(arg) && isSpace(arg[i]) {
			i++
		}
	}
	// number reads digits at i.
	number := func() (int, bool) {
		j := i
		v := 0
		for i < len(arg) && arg[i] >= '0' && arg[i] <= '9' {
			if v > maxNth {
				return 0, false
			}
			v = v*10 + int(arg[i]-'0')
			i++
		}
		return v, i > j && v <= maxNth
	}
	skip()
	if i == len(arg) {
		return fail(i, "the formula is empty: %s", hint)
	}
	rest := strings.ToLower(arg[i:])
	for _, kw := range []struct {
		word string
		n    Nth
	}{{"odd", Nth{2, 1}}, {"even", Nth{2, 0}}} {
		if strings.HasPrefix(rest, kw.word) {
			i += len(kw.word)
			skip()
			if i != len(arg) {
				return fail(i, "unexpected text after %s", kw.word)
			}
			return kw.n, nil
		}
	}
	sign := 1
	if arg[i] == '+' || arg[i] == '-' {
		if arg[i] == '-' {
			sign = -1
		}
		i++
		if i < len(arg) && isSpace(arg[i]) {
			return fail(i, "no space is allowed after the sign of a")
		}
	}
	var n Nth
	digitsAt := i
	v, hasDigits := number()
	if i > digitsAt && !hasDigits {
		return fail(digitsAt, "the number is too large")
	}
	if i == len(arg) || arg[i] != 'n' && arg[i] != 'N' {
		if !hasDigits {
			return fail(i, "%s", hint)
		}
		n.B = sign * v
		skip()
		if i != len(arg) {
			if strings.HasPrefix(strings.ToLower(arg[i:]), "of") {
				return fail(i, "the \"of S\" form is not supported")
			}
			return fail(i, "unexpected text after the number: %s", hint)
		}
		return n, nil
	}
	if !hasDigits {
		v = 1
	}
	n.A = sign * v
	i++ // n
	skip()
	if i == len(arg) {
		return n, nil
	}
	switch arg[i] {
	case '+', '-':
		bsign := 1
		if arg[i] == '-' {
			bsign = -1
		}
		i++
		skip()
		at := i
		b, ok := number()
		if !ok {
			if i > at {
				return fail(at, "the number is too large")
			}
			return fail(at, "expected a number after the sign: %s", hint)
		}
		n.B = bsign * b
	default:
		if strings.HasPrefix(strings.ToLower(arg[i:]), "of") {
			return fail(i, "the \"of S\" form is not supported")
		}
		return fail(i, "expected + or - after n: %s", hint)
	}
	skip()
	if i != len(arg) {
		if strings.HasPrefix(strings.ToLower(arg[i:]), "of") {
			return fail(i, "the \"of S\" form is not supported")
		}
		return fail(i, "unexpected text after the formula: %s", hint)
	}
	return n, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }
func isHex(c byte) bool   { return c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'f' }
func isNameStart(c byte) bool {
	return c|0x20 >= 'a' && c|0x20 <= 'z' || c == '_' || c >= 0x80
}
func isNameChar(c byte) bool { return isNameStart(c) || c == '-' || c >= '0' && c <= '9' }

// nearest returns the candidate closest to name by edit distance, when it
// is close enough to be a plausible typo, or "".
func nearest(name string, cands []string) string {
	// Short names are a step or two from many others ("root" from
	// "not"): a third of the name's length, and at most 3 steps.
	best, bestD := "", len(name)/3+1
	if bestD > 4 {
		bestD = 4
	}
	for _, c := range cands {
		if d := editDistance(name, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b,
// in bytes: insertions, deletions, substitutions and transpositions of
// adjacent bytes each cost one, so "frist" is one step from "first".
func editDistance(a, b string) int {
	rows := make([][]int, len(a)+1)
	for i := range rows {
		rows[i] = make([]int, len(b)+1)
		rows[i][0] = i
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d := min(rows[i-1][j]+1, rows[i][j-1]+1, rows[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d = min(d, rows[i-2][j-2]+1)
			}
			rows[i][j] = d
		}
	}
	return rows[len(a)][len(b)]
}

// String returns the list in canonical form: one space around '>', ", "
// between selectors, parts of a compound in the order type, ids, classes,
// attributes, pseudo-classes, values quoted. Parse(l.String()) equals l.
func (l List) String() string {
	var b strings.Builder
	l.write(&b)
	return b.String()
}

func (l List) write(b *strings.Builder) {
	for i := range l {
		if i > 0 {
			b.WriteString(", ")
		}
		l[i].write(b)
	}
}

// String returns c in canonical form; see List.String.
func (c *Complex) String() string {
	var b strings.Builder
	c.write(&b)
	return b.String()
}

func (c *Complex) write(b *strings.Builder) {
	for i := range c.Compounds {
		if i > 0 {
			if i-1 < len(c.Combinators) && c.Combinators[i-1] == Child {
				b.WriteString(" > ")
			} else {
				b.WriteByte(' ')
			}
		}
		c.Compounds[i].write(b)
	}
}

// String returns c in canonical form; see List.String.
func (c *Compound) String() string {
	var b strings.Builder
	c.write(&b)
	return b.String()
}

func (c *Compound) write(b *strings.Builder) {
	start := b.Len()
	writeIdent(b, c.Type)
	for _, id := range c.IDs {
		b.WriteByte('#')
		writeIdent(b, id)
	}
	for _, cl := range c.Classes {
		b.WriteByte('.')
		writeIdent(b, cl)
	}
	for _, a := range c.Attrs {
		b.WriteByte('[')
		writeIdent(b, a.Name)
		if a.Op != Exists {
			b.WriteString(a.Op.String())
			writeString(b, a.Value)
			if a.Flag != 0 {
				b.WriteByte(' ')
				b.WriteByte(a.Flag)
			}
		}
		b.WriteByte(']')
	}
	for _, ps := range c.Pseudos {
		switch {
		case ps.Kind == Not:
			b.WriteString(":not(")
			ps.Not.write(b)
			b.WriteByte(')')
		case ps.Nth == Nth{0, 1} && ps.Kind == NthChild:
			b.WriteString(":first-child")
		case ps.Nth == Nth{0, 1} && ps.Kind == NthOfType:
			b.WriteString(":first-of-type")
		case ps.Kind == NthOfType:
			b.WriteString(":nth-of-type(" + ps.Nth.String() + ")")
		default:
			b.WriteString(":nth-child(" + ps.Nth.String() + ")")
		}
	}
	if b.Len() == start {
		b.WriteByte('*')
	}
}

// writeString writes s as a double-quoted CSS string.
func writeString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(b, "\\%x ", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// writeIdent writes s as a CSS identifier that parses back to s.
func writeIdent(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9' && (i == 0 || i == 1 && s[0] == '-'):
			fmt.Fprintf(b, "\\%x ", c)
		case c == '-' && i == 0 && len(s) == 1:
			b.WriteString("\\-")
		case isNameChar(c):
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(b, "\\%x ", c)
		default:
			b.WriteByte('\\')
			b.WriteByte(c)
		}
	}
}
