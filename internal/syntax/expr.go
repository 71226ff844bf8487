package syntax

import (
	"strconv"
	"strings"

	"github.com/bespoke-edge/bespoke/rules/diag"
)

// Expr is a node of a condition or of an interpolation.
type Expr interface {
	// Pos is where the expression starts.
	Pos() diag.Pos
	// String prints the expression in canonical form.
	String() string
}

// Ident is a bare name: an attribute (geo.country) or a segment.
type Ident struct {
	NamePos diag.Pos
	Name    string
}

// Call is a function-style attribute: cookie("plan").
type Call struct {
	Fun  *Ident
	Args []Expr
}

// StringLit is a quoted string.
type StringLit struct {
	ValuePos diag.Pos
	Value    string
}

// NumberLit is a number.
type NumberLit struct {
	ValuePos diag.Pos
	Value    float64
	Raw      string
}

// BoolLit is true or false.
type BoolLit struct {
	ValuePos diag.Pos
	Value    bool
}

// ListLit is [a, b, c].
type ListLit struct {
	Lbrack diag.Pos
	Elems  []Expr
}

// Not is `not X`.
type Not struct {
	OpPos diag.Pos
	X     Expr
}

// Logical is `X and Y` or `X or Y`.
type Logical struct {
	OpPos diag.Pos
	Op    string // "and" or "or"
	X, Y  Expr
}

// Compare is a comparison: X op Y, where Op is one of ==, !=, <, <=, >, >=,
// in, not in, contains, starts_with, ends_with, matches.
type Compare struct {
	OpPos diag.Pos
	Op    string
	X, Y  Expr
}

// Exists is `X exists`.
type Exists struct {
	OpPos diag.Pos
	X     Expr
}

func (x *Ident) Pos() diag.Pos     { return x.NamePos }
func (x *Call) Pos() diag.Pos      { return x.Fun.NamePos }
func (x *StringLit) Pos() diag.Pos { return x.ValuePos }
func (x *NumberLit) Pos() diag.Pos { return x.ValuePos }
func (x *BoolLit) Pos() diag.Pos   { return x.ValuePos }
func (x *ListLit) Pos() diag.Pos   { return x.Lbrack }
func (x *Not) Pos() diag.Pos       { return x.OpPos }
func (x *Logical) Pos() diag.Pos   { return x.X.Pos() }
func (x *Compare) Pos() diag.Pos   { return x.X.Pos() }
func (x *Exists) Pos() diag.Pos    { return x.X.Pos() }

func (x *Ident) String() string { return x.Name }
func (x *Call) String() string {
	var b strings.Builder
	b.WriteString(x.Fun.Name)
	b.WriteByte('(')
	for i, a := range x.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(operand(a))
	}
	b.WriteByte(')')
	return b.String()
}
func (x *StringLit) String() string { return Quote(x.Value) }
func (x *NumberLit) String() string { return strconv.FormatFloat(x.Value, 'g', -1, 64) }
func (x *BoolLit) String() string   { return strconv.FormatBool(x.Value) }
func (x *ListLit) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, e := range x.Elems {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(operand(e))
	}
	b.WriteByte(']')
	return b.String()
}
func (x *Not) String() string     { return "not " + paren(x.X) }
func (x *Logical) String() string { return paren(x.X) + " " + x.Op + " " + paren(x.Y) }
func (x *Compare) String() string { return operand(x.X) + " " + x.Op + " " + operand(x.Y) }
func (x *Exists) String() string  { return operand(x.X) + " exists" }

// paren wraps compound operands so String output re-parses to the same tree.
func paren(e Expr) string {
	switch e.(type) {
	case *Logical, *Not:
		return "(" + e.String() + ")"
	}
	return e.String()
}

// operand wraps a condition where the grammar reads a value (an argument,
// a list element, either side of a comparison, what `exists` tests): the
// parser takes one there only in parentheses, as in cookie((a > b)), and
// prints nothing of the kind unless it was written.
func operand(e Expr) string {
	switch e.(type) {
	case *Logical, *Not, *Compare, *Exists:
		return "(" + e.String() + ")"
	}
	return e.String()
}

// Quote quotes s the way the condition language reads strings back: only
// backslash, double quote, newline and tab are escaped.
func Quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
