package syntax

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/bespoke-edge/bespoke/rules/diag"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tOp // == != < <= > >=
	tLParen
	tRParen
	tLBrack
	tRBrack
	tComma
)

type token struct {
	kind tokKind
	off  int    // byte offset in the source text
	text string // raw text; for strings, the unquoted value
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "the end of the condition"
	case tString:
		return strconv.Quote(t.text)
	}
	return "`" + t.text + "`"
}

// Mapper turns a byte offset in an expression's text into a position in the
// file, so errors point at the right column even inside YAML.
type Mapper func(off int) diag.Pos

// exprParser is a recursive-descent parser over a slice of tokens.
type exprParser struct {
	src  string
	pos  Mapper
	toks []token
	i    int
}

// keywords that may not be used as attribute or segment names.
var keywords = map[string]bool{
	"and": true, "or": true, "not": true, "in": true, "contains": true,
	"starts_with": true, "ends_with": true, "matches": true, "exists": true,
	"true": true, "false": true,
}

// wordOps are the comparison operators spelled as words.
var wordOps = map[string]bool{"in": true, "contains": true, "starts_with": true, "ends_with": true, "matches": true}

// ParseExpr parses a condition. pos maps offsets in src to file positions;
// nil maps them to line 1.
//
// The error is a *diag.Error, or a diag.List when the condition has more
// than one mistake that can be told: && for and, then another.
func ParseExpr(src string, pos Mapper) (Expr, error) {
	if pos == nil {
		pos = func(off int) diag.Pos { return diag.Pos{Line: 1, Col: off + 1} }
	}
	buf := tokenBufs.Get().(*[]token)
	toks, soft, err := lexAll(src, pos, (*buf)[:0])
	defer func() {
		// The tokens hold the source's text: cleared, so that the pool
		// keeps no file alive.
		clear(toks)
		*buf = toks[:0]
		tokenBufs.Put(buf)
	}()
	if err == nil {
		var x Expr
		x, err = parseExpr(src, pos, toks)
		if err == nil && len(soft) == 0 {
			return x, nil
		}
	}
	switch {
	case len(soft) == 0:
		return nil, err
	case err == nil && len(soft) == 1:
		return nil, soft[0]
	}
	list := diag.List(soft)
	// (Not that a condition that ends with && ends too early, nor what
	// the parser says at the place of a && it took for and: they are
	// the same mistake.)
	same := func(e *diag.Error) bool {
		if len(toks) >= 2 && e.Pos == pos(len(src)) && soft[len(soft)-1].Pos == pos(toks[len(toks)-2].off) {
			return true
		}
		return slices.ContainsFunc(soft, func(x *diag.Error) bool { return x.Pos == e.Pos })
	}
	if e, ok := err.(*diag.Error); ok && !same(e) {
		list = append(list, e)
	}
	if len(list) == 1 {
		return nil, list[0]
	}
	list.Sort()
	return nil, list
}

// tokenBufs holds the token lists of ParseExpr, which parses a rule
// file's conditions one after another and keeps none of its tokens: a
// rule file of a thousand rules lexed into a new list for each.
var tokenBufs = sync.Pool{New: func() any { return new([]token) }}

// parseExpr parses the tokens of condition src.
func parseExpr(src string, pos Mapper, toks []token) (Expr, error) {
	p := &exprParser{src: src, pos: pos, toks: toks}
	if p.peek().kind == tEOF {
		return nil, diag.Errorf(pos(0), "empty condition").WithHint("write a condition such as geo.country == \"FR\", or remove `when` to apply the rule to every request")
	}
	x, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		if t.kind == tIdent {
			if op := operatorMeant(t.text); op != "" {
				return nil, diag.Errorf(pos(t.off), "unknown operator `%s`", t.text).WithHint("did you mean `%s`?", op)
			}
		}
		e := diag.Errorf(pos(t.off), "unexpected %s after a complete condition", t.describe())
		switch {
		case t.kind == tIdent && !keywords[t.text]:
			e.WithHint("join conditions with `and` or `or`")
		case t.kind == tRParen:
			e.WithHint("this `)` has no matching `(`")
		case t.kind == tString || t.kind == tNumber:
			e.WithHint("an operator is missing before it: ==, !=, in, contains, starts_with, ends_with, matches, <, >")
		}
		return nil, e
	}
	return x, nil
}

// operatorAliases are how other languages spell this language's operators.
var operatorAliases = map[string]string{
	"startswith": "starts_with", "startsWith": "starts_with", "begins_with": "starts_with", "beginswith": "starts_with", "beginsWith": "starts_with",
	"endswith": "ends_with", "endsWith": "ends_with",
	"includes": "contains", "include": "contains", "has": "contains", "contain": "contains",
	"match": "matches", "like": "matches", "regex": "matches", "matching": "matches",
	"is": "==", "equals": "==", "eq": "==", "ne": "!=", "isnt": "!=", "neq": "!=",
	"gt": ">", "lt": "<", "ge": ">=", "le": "<=", "gte": ">=", "lte": "<=",
	"AND": "and", "And": "and", "OR": "or", "Or": "or", "NOT": "not", "Not": "not", "IN": "in", "In": "in", "exist": "exists",
	"notin": "not in", "not_in": "not in", "nin": "not in", "notIn": "not in", "NOTIN": "not in",
}

var operatorWords = []string{"starts_with", "ends_with", "contains", "matches", "exists", "in", "and", "or", "not"}

// operatorMeant returns the operator a word after a complete operand most
// likely stands for ("startswith" for starts_with), or "".
func operatorMeant(w string) string {
	if op, ok := operatorAliases[w]; ok {
		return op
	}
	if len(w) < 4 {
		return "" // short words are too often names
	}
	return diag.Nearest(w, operatorWords)
}

func (p *exprParser) peek() token { return p.toks[p.i] }
func (p *exprParser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}
func (p *exprParser) isWord(w string) bool {
	t := p.peek()
	return t.kind == tIdent && t.text == w
}

func (p *exprParser) parseOr() (Expr, error) {
	x, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.isWord("or") {
		op := p.next()
		y, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		x = &Logical{OpPos: p.pos(op.off), Op: "or", X: x, Y: y}
	}
	return x, nil
}

func (p *exprParser) parseAnd() (Expr, error) {
	x, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	for p.isWord("and") {
		op := p.next()
		y, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		x = &Logical{OpPos: p.pos(op.off), Op: "and", X: x, Y: y}
	}
	return x, nil
}

func (p *exprParser) parseNot() (Expr, error) {
	if p.isWord("not") {
		op := p.next()
		x, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return &Not{OpPos: p.pos(op.off), X: x}, nil
	}
	if t := p.peek(); t.kind == tIdent && operatorAliases[t.text] == "not" {
		// NOT x, as SQL writes it: a name followed by a condition is
		// no condition, and "NOT" read as a name would say only that
		// the condition after it is unexpected.
		if n := p.toks[p.i+1]; n.kind == tLParen || (n.kind == tIdent && !keywords[n.text]) {
			return nil, diag.Errorf(p.pos(t.off), "unknown operator `%s`", t.text).WithHint("did you mean `not`?")
		}
	}
	return p.parseCompare()
}

func (p *exprParser) parseCompare() (Expr, error) {
	x, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	var op string
	switch {
	case t.kind == tOp:
		op = t.text
	case t.kind == tIdent && wordOps[t.text]:
		op = t.text
	case t.kind == tIdent && t.text == "exists":
		p.next()
		return &Exists{OpPos: p.pos(t.off), X: x}, nil
	case t.kind == tIdent && t.text == "not":
		// `x not in [...]`; `x not exists` is spelled `not x exists`.
		if n := p.toks[p.i+1]; n.kind == tIdent && n.text == "in" {
			p.next()
			op = "not in"
		} else {
			return nil, diag.Errorf(p.pos(t.off), "unexpected `not` after %s", x).
				WithHint("`not` goes before a condition (not cookie(\"x\") exists) or before `in` (x not in [...])")
		}
	default:
		return x, nil
	}
	p.next()
	if lp := p.peek(); (op == "in" || op == "not in") && lp.kind == tLParen {
		// in ("FR", "BE"), as SQL writes a list.
		e := diag.Errorf(p.pos(lp.off), "a list is written in square brackets [ ], not in parentheses")
		depth := 0
		for _, t := range p.toks[p.i:] {
			switch t.kind {
			case tLParen:
				depth++
			case tRParen:
				depth--
			}
			if depth == 0 {
				if t.kind == tRParen {
					e.WithHint("write %s %s [%s]", x, op, p.src[lp.off+1:t.off])
				}
				break
			}
		}
		if e.Hint == "" {
			e.WithHint("write %s %s [\"a\", \"b\"]", x, op)
		}
		return nil, e
	}
	y, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	cmp := &Compare{OpPos: p.pos(t.off), Op: op, X: x, Y: y}
	if n := p.peek(); n.kind == tOp || (n.kind == tIdent && wordOps[n.text]) {
		return nil, diag.Errorf(p.pos(n.off), "comparisons cannot be chained").
			WithHint("join two comparisons with `and`: a < x and x < b")
	}
	return cmp, nil
}

func (p *exprParser) parseOperand() (Expr, error) {
	t := p.next()
	switch t.kind {
	case tString:
		return &StringLit{ValuePos: p.pos(t.off), Value: t.text}, nil
	case tNumber:
		v, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, diag.Errorf(p.pos(t.off), "malformed number %s", t.text)
		}
		return &NumberLit{ValuePos: p.pos(t.off), Value: v, Raw: t.text}, nil
	case tLParen:
		x, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, diag.Errorf(p.pos(c.off), "expected `)` to close the `(` at column %d, found %s", p.pos(t.off).Col, c.describe())
		}
		return x, nil
	case tLBrack:
		return p.parseList(t)
	case tIdent:
		switch t.text {
		case "true", "false":
			return &BoolLit{ValuePos: p.pos(t.off), Value: t.text == "true"}, nil
		}
		if keywords[t.text] {
			return nil, diag.Errorf(p.pos(t.off), "expected an attribute or a value, found the keyword `%s`", t.text)
		}
		id := &Ident{NamePos: p.pos(t.off), Name: t.text}
		if p.peek().kind != tLParen {
			return id, nil
		}
		lp := p.next()
		call := &Call{Fun: id}
		if p.peek().kind == tRParen {
			p.next()
			return call, nil
		}
		for {
			a, err := p.parseOperand()
			if err != nil {
				return nil, err
			}
			call.Args = append(call.Args, a)
			c := p.next()
			if c.kind == tRParen {
				return call, nil
			}
			if c.kind != tComma {
				return nil, diag.Errorf(p.pos(c.off), "expected `,` or `)` in the arguments of %s( opened at column %d, found %s", id.Name, p.pos(lp.off).Col, c.describe())
			}
		}
	case tEOF:
		return nil, diag.Errorf(p.pos(t.off), "the condition ends too early: expected an attribute or a value")
	}
	e := diag.Errorf(p.pos(t.off), "expected an attribute or a value, found %s", t.describe())
	if t.kind == tOp {
		p.missingLeft(e, p.i-1)
	}
	return nil, e
}

// missingLeft adds to e, an error at the comparison operator toks[at]
// with nothing before it (geo.country != "FR" or != "BE"), a hint: the
// comparison before it, and this one with its attribute written again.
// Two != joined by or always hold: it says so. Where the comparison
// before or this one is more than an attribute and a value, the hint
// says what to do without writing it out.
func (p *exprParser) missingLeft(e *diag.Error, at int) {
	if at < 1 || p.toks[at-1].kind != tIdent || (p.toks[at-1].text != "or" && p.toks[at-1].text != "and") {
		return
	}
	join, op := p.toks[at-1].text, p.toks[at].text
	simple := func(t token) bool {
		return t.kind == tString || t.kind == tNumber || t.kind == tIdent && !keywords[t.text]
	}
	// attr OP value join OP value, each a token: at-4 .. at+1.
	if at >= 4 && at+1 < len(p.toks) && p.toks[at-4].kind == tIdent && !keywords[p.toks[at-4].text] &&
		p.toks[at-3].kind == tOp && simple(p.toks[at-2]) && simple(p.toks[at+1]) &&
		(at == 4 || p.toks[at-5].kind == tLParen || p.toks[at-5].kind == tIdent && keywords[p.toks[at-5].text]) {
		next := p.toks[at+2]
		if next.kind == tEOF || next.kind == tRParen || next.kind == tIdent && (next.text == "and" || next.text == "or") {
			text := func(t token) string {
				if t.kind == tString {
					return strconv.Quote(t.text)
				}
				return t.text
			}
			attr, prevOp, prev, val := p.toks[at-4].text, p.toks[at-3].text, text(p.toks[at-2]), text(p.toks[at+1])
			if join == "or" && op == "!=" && prevOp == "!=" {
				e.WithHint("write %s not in [%s, %s]: %s != %s or %s != %s would hold for every value", attr, prev, val, attr, prev, attr, val)
				return
			}
			e.WithHint("each comparison names what it compares: %s %s %s %s %s %s %s", attr, prevOp, prev, join, attr, op, val)
			return
		}
	}
	e.WithHint("each comparison names what it compares: write the attribute again before %s", op)
}

func (p *exprParser) parseList(lb token) (Expr, error) {
	l := &ListLit{Lbrack: p.pos(lb.off)}
	if p.peek().kind == tRBrack {
		p.next()
		return l, nil
	}
	for {
		e, err := p.parseOperand()
		if err != nil {
			return nil, err
		}
		l.Elems = append(l.Elems, e)
		c := p.next()
		if c.kind == tRBrack {
			return l, nil
		}
		if c.kind != tComma {
			e := diag.Errorf(p.pos(c.off), "expected `,` or `]` in the list opened at column %d, found %s", l.Lbrack.Col, c.describe())
			if c.kind == tString || c.kind == tNumber {
				e.WithHint("separate list items with commas")
			}
			return nil, e
		}
	}
}

// lex splits src into tokens, rejecting what editors commonly type by habit
// from other languages with a hint at the spelling this language uses.
func lex(src string, pos Mapper) ([]token, error) {
	toks, soft, err := lexAll(src, pos, nil)
	if err == nil && len(soft) > 0 {
		err = soft[0]
	}
	return toks, err
}

// lexAll is lex, which goes on past the mistakes whose meaning is plain
// (&& for and, || for or, <> for !=): it returns them apart (soft), with
// the tokens meant, so that the parser finds the next mistake too; err is
// one it cannot go past.
//
// The tokens are appended to buf, whose room is used when it has enough.
func lexAll(src string, pos Mapper, buf []token) (toks []token, soft []*diag.Error, err error) {
	// Expressions hold about a token per three bytes: one allocation,
	// not the several of growing from nothing.
	toks = slices.Grow(buf[:0], len(src)/3+2)
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"' || c == '\'':
			s, n, err := lexString(src[i:])
			if err != nil {
				return nil, soft, diag.Errorf(pos(i), "%v", err).WithHint("close the string with %c", c)
			}
			toks = append(toks, token{kind: tString, off: i, text: s})
			i += n
		case isDigit(c) || (c == '-' && i+1 < len(src) && isDigit(src[i+1])) || (c == '.' && i+1 < len(src) && isDigit(src[i+1])):
			j := i + 1
			for j < len(src) && (isDigit(src[j]) || src[j] == '.' || src[j] == 'e' || src[j] == 'E' ||
				((src[j] == '-' || src[j] == '+') && (src[j-1] == 'e' || src[j-1] == 'E'))) {
				j++
			}
			if j < len(src) && isIdentStart(src[j]) {
				return nil, soft, diag.Errorf(pos(i), "malformed number %q", src[i:j+1]).WithHint("quote text values: \"%s\"", identAt(src, i))
			}
			toks = append(toks, token{kind: tNumber, off: i, text: src[i:j]})
			i = j
		case isIdentStart(c):
			j := i + 1
			for j < len(src) && isIdentPart(src[j]) {
				j++
			}
			// A trailing dot or dash belongs to no name.
			for j > i+1 && (src[j-1] == '.' || src[j-1] == '-') {
				j--
			}
			toks = append(toks, token{kind: tIdent, off: i, text: src[i:j]})
			i = j
		default:
			two := ""
			if i+1 < len(src) {
				two = src[i : i+2]
			}
			switch two {
			case "==", "!=", "<=", ">=":
				toks = append(toks, token{kind: tOp, off: i, text: two})
				i += 2
				continue
			case "&&", "||", "<>":
				meant := map[string]token{"&&": {kind: tIdent, text: "and"}, "||": {kind: tIdent, text: "or"}, "<>": {kind: tOp, text: "!="}}[two]
				soft = append(soft, diag.Errorf(pos(i), "unexpected `%s`", two).WithHint("write `%s`", meant.text))
				meant.off = i
				toks = append(toks, meant)
				i += 2
				continue
			}
			switch c {
			case '<', '>':
				toks = append(toks, token{kind: tOp, off: i, text: string(c)})
			case '(':
				toks = append(toks, token{kind: tLParen, off: i, text: "("})
			case ')':
				toks = append(toks, token{kind: tRParen, off: i, text: ")"})
			case '[':
				toks = append(toks, token{kind: tLBrack, off: i, text: "["})
			case ']':
				toks = append(toks, token{kind: tRBrack, off: i, text: "]"})
			case ',':
				toks = append(toks, token{kind: tComma, off: i, text: ","})
			case '=':
				switch two {
				case "=>", "=<":
					// The two characters of >= or <= swapped.
					meant := string([]byte{two[1], '='})
					return nil, soft, diag.Errorf(pos(i), "unexpected `%s`", two).WithHint("write `%s`", meant)
				}
				return nil, soft, diag.Errorf(pos(i), "unexpected `=`").WithHint("compare with `==`")
			case '!':
				return nil, soft, diag.Errorf(pos(i), "unexpected `!`").WithHint("write `not` before a condition, or `!=` to compare")
			case '&', '|':
				return nil, soft, diag.Errorf(pos(i), "unexpected `%c`", c).WithHint("join conditions with `and` or `or`")
			default:
				r, _ := utf8.DecodeRuneInString(src[i:])
				e := diag.Errorf(pos(i), "unexpected character %q", r)
				switch n := len(toks); {
				case IsTypographicQuote(r):
					e.Msg = fmt.Sprintf("unexpected character %q: a typographic quote, as word processors write them, not a straight one (\" or ')", r)
					e.WithHint("use straight quotes: %s", StraightQuotes(src))
				case r == '\\':
					// cookie(\"plan\") typed into a '...' YAML value,
					// which keeps backslashes.
					e.Msg = "unexpected character '\\': a backslash escapes nothing here"
					e.WithHint("write it without: %s", strings.TrimSpace(unescapeQuotes(src)))
				case n > 0 && (toks[n-1].kind == tIdent && toks[n-1].off+len(toks[n-1].text) == i || toks[n-1].kind == tOp || toks[n-1].kind == tIdent && wordOps[toks[n-1].text]):
					// starts_with newsletter-, == /shop: a text, unquoted,
					// that reads as a name until a character no name has.
					lo, hi := i, i
					if toks[n-1].kind == tIdent && !wordOps[toks[n-1].text] {
						lo = toks[n-1].off
					}
					hi = unquotedEnd(src, lo)
					e.Msg = fmt.Sprintf("unexpected character %q: %s is not quoted", r, src[lo:hi])
					if lo < i {
						e.Msg += fmt.Sprintf(", so it reads as a name, which holds no %q", r)
					}
					e.WithHint("texts are quoted: %s\"%s\"%s", src[:lo], src[lo:hi], src[hi:])
				case strings.ContainsRune("+*/%", r):
					e.Msg = fmt.Sprintf("unexpected character %q: rules compare values, they do not compute them", r)
					e.WithHint("write the number out: cookie(\"cart\") > 2, not cookie(\"cart\") + 1 > 3")
				}
				return nil, soft, e
			}
			i++
		}
	}
	toks = append(toks, token{kind: tEOF, off: len(src)})
	return toks, soft, nil
}

// unquotedEnd returns where the unquoted text that starts at lo in src
// ends: at a space, or at a ) or ] it did not open ([0-9]+ and (a|b) in
// a regular expression are its own).
func unquotedEnd(src string, lo int) int {
	depth := 0
	for hi := lo; hi < len(src); hi++ {
		switch src[hi] {
		case ' ', '\t', '\n', '\r':
			return hi
		case '(', '[':
			depth++
		case ')', ']':
			if depth == 0 {
				return hi
			}
			depth--
		}
	}
	return len(src)
}

// unescapeQuotes returns src without the backslashes of the quotes a
// '...' YAML value kept escaped (cookie(\"plan\") is cookie("plan")):
// a quoted text that starts with \" ends with \", and the backslashes of
// a text quoted without (a regular expression's \.) stay.
func unescapeQuotes(src string) string {
	var b strings.Builder
	var q byte            // the quote of the text the scan is in
	escapedQuote := false // it opened with a backslash
	for i := 0; i < len(src); i++ {
		c := src[i]
		next := byte(0)
		if i+1 < len(src) {
			next = src[i+1]
		}
		switch {
		case q == 0 && c == '\\' && (next == '"' || next == '\''):
			q, escapedQuote = next, true
			b.WriteByte(next)
			i++
		case q == 0 && (c == '"' || c == '\''):
			q, escapedQuote = c, false
			b.WriteByte(c)
		case q != 0 && escapedQuote && c == '\\' && next == q:
			b.WriteByte(q)
			q = 0
			i++
		case q != 0 && !escapedQuote && c == '\\' && next != 0:
			b.WriteByte(c)
			b.WriteByte(next)
			i++
		case q != 0 && c == q:
			b.WriteByte(c)
			q = 0
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// IsTypographicQuote reports whether r is a quote a word processor or a
// phone keyboard writes in place of " or ' (“ ” „ ‘ ’ « »): no
// condition or selector reads them as quotes.
func IsTypographicQuote(r rune) bool {
	switch r {
	case '“', '”', '„', '‟', '″', '«', '»', '‘', '’', '‚', '‛', '′':
		return true
	}
	return false
}

// StraightQuotes returns s with its typographic quotes made straight:
// “FR” becomes "FR" and ‘FR’ 'FR'. Guillemets lose the spaces French
// puts inside them (« FR » is "FR").
func StraightQuotes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch r {
		case '“', '”', '„', '‟', '″':
			b.WriteByte('"')
		case '«':
			b.WriteByte('"')
			for i+size < len(s) && (s[i+size] == ' ' || strings.HasPrefix(s[i+size:], "\u00a0") || strings.HasPrefix(s[i+size:], "\u202f")) {
				_, n := utf8.DecodeRuneInString(s[i+size:])
				size += n
			}
		case '»':
			out := strings.TrimRight(b.String(), " \u00a0\u202f")
			b.Reset()
			b.WriteString(out)
			b.WriteByte('"')
		case '‘', '’', '‚', '‛', '′':
			b.WriteByte('\'')
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// lexString reads a quoted string starting at s[0] and returns its value and
// the number of bytes consumed. Escapes: \\ \" \' \n \t.
func lexString(s string) (string, int, error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q:
			return b.String(), i + 1, nil
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case '\\', '"', '\'':
				b.WriteByte(s[i])
			default:
				// Regular expressions are full of backslashes: keep unknown
				// escapes as written, so "\d+" means what it says.
				b.WriteByte('\\')
				b.WriteByte(s[i])
			}
		case c == '\n':
			return "", 0, fmt.Errorf("string not closed before the end of the line")
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("string not closed")
}

func isDigit(c byte) bool      { return '0' <= c && c <= '9' }
func isIdentStart(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' }
func isIdentPart(c byte) bool  { return isIdentStart(c) || isDigit(c) || c == '.' || c == '-' }

func identAt(src string, i int) string {
	j := i
	for j < len(src) && (isIdentPart(src[j]) || src[j] == '-') {
		j++
	}
	return src[i:j]
}
