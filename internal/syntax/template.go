package syntax

import (
	"errors"
	"strings"

	"github.com/bespoke-edge/bespoke/rules/diag"
)

// Template is a text with interpolations: "Hello {{ geo.city or "there" }}".
type Template struct {
	Parts []TemplatePart
	// Pos is where the template's text starts.
	Pos diag.Pos
	// At maps an offset in the template's text (the parts' Off) to its
	// position in the file; nil for a template not read from one.
	At Mapper
}

// TemplatePart is literal text (Value nil) or an interpolated value. A
// quoted text in braces, {{ "{{" }}, is literal text: the way to write
// braces that would otherwise open or close an interpolation.
type TemplatePart struct {
	Text string
	// Value is the attribute to insert (an *Ident or *Call), nil for text.
	Value Expr
	// Default is inserted when the attribute has no value.
	Default string
	// Pos is where the part starts: its text, or its "{{".
	Pos diag.Pos
	// Off is the offset of that start in the template's text.
	Off int
}

// Raw returns the template's literal text when it has no interpolation.
func (t *Template) Raw() (string, bool) {
	var b strings.Builder
	for _, p := range t.Parts {
		if p.Value != nil {
			return "", false
		}
		b.WriteString(p.Text)
	}
	return b.String(), true
}

// ParseTemplate parses the interpolations of a text. pos maps offsets in src
// to file positions.
func ParseTemplate(src string, pos Mapper) (*Template, error) {
	if pos == nil {
		pos = func(off int) diag.Pos { return diag.Pos{Line: 1, Col: off + 1} }
	}
	t := &Template{Pos: pos(0), At: pos}
	i := 0
	for {
		j := strings.Index(src[i:], "{{")
		if j < 0 {
			if k := strings.Index(src[i:], "}}"); k >= 0 {
				return nil, diag.Errorf(pos(i+k), "`}}` without a matching `{{`").WithHint(`to show braces as they are, write them as a quoted text in braces: {{ "}}" }}`)
			}
			if i < len(src) {
				t.Parts = append(t.Parts, TemplatePart{Text: src[i:], Pos: pos(i), Off: i})
			}
			return t, nil
		}
		if j > 0 {
			t.Parts = append(t.Parts, TemplatePart{Text: src[i : i+j], Pos: pos(i), Off: i})
		}
		open := i + j
		end := closingBraces(src[open+2:])
		if end < 0 {
			e := diag.Errorf(pos(open), "`{{` is not closed").WithHint(`write {{ attribute }}, for example {{ geo.city }}; to show braces as they are, write them as a quoted text in braces: {{ "{{" }}`)
			if rest := src[open:]; strings.Contains(rest, `\"`) || strings.Contains(rest, `\'`) {
				// {{ cookie(\"plan\") }} in a '...' YAML value, which keeps
				// backslashes: the quotes are read as the template's.
				e.WithHint(`a \ escapes nothing in a '...' YAML value, which keeps it: write the quotes alone, {{ cookie("plan") }}`)
			}
			return nil, e
		}
		inner := src[open+2 : open+2+end]
		base := open + 2
		part, err := parseInterpolation(inner, func(off int) diag.Pos { return pos(base + off) }, pos(open))
		if err != nil {
			var d *diag.Error
			if bar := pipeOutsideQuotes(inner); bar >= 0 && errors.As(err, &d) && d.Pos == pos(base+bar) {
				// {{ geo.city | upper }}: another template language's
				// filters.
				d.Msg = "unexpected `|`: templates have no filters"
				d.Hint = `an interpolation is an attribute, with a default after or: {{ geo.city or "there" }}`
			}
			return nil, err
		}
		part.Pos, part.Off = pos(open), open
		t.Parts = append(t.Parts, part)
		i = open + 2 + end + 2
	}
}

// pipeOutsideQuotes returns the offset of the first '|' of s outside
// quoted texts, or -1.
func pipeOutsideQuotes(s string) int {
	i, _ := outsideQuotes(s, "|")
	return i
}

// outsideQuotes returns the offset of the first sep in s outside quoted
// texts ("..." or '...', with backslash escapes), or -1, and whether a
// quote was left open.
func outsideQuotes(s, sep string) (int, bool) {
	var quote byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0 && c == '\\':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '"' || c == '\'':
			quote = c
		case strings.HasPrefix(s[i:], sep):
			return i, false
		}
	}
	return -1, quote != 0
}

// closingBraces returns the index of the "}}" that closes an
// interpolation whose inside starts s, outside quoted texts (so that
// {{ "}}" }} is one), or -1.
func closingBraces(s string) int {
	i, open := outsideQuotes(s, "}}")
	if open {
		// An unclosed quote: the first "}}" closes it, as it did before
		// quotes were read here, and the quote's own error is reported.
		return strings.Index(s, "}}")
	}
	return i
}

// parseInterpolation parses `attr`, `attr or "default"`, or a quoted text
// (literal text: {{ "{{" }}).
func parseInterpolation(src string, pos Mapper, open diag.Pos) (TemplatePart, error) {
	toks, err := lex(src, pos)
	if err != nil {
		var d *diag.Error
		if errors.As(err, &d) && d.Hint == "" {
			// {{{{}}}}, {{ @user }}: braces meant to show, or another
			// template language's.
			d.Hint = `{{ }} inserts an attribute, for example {{ geo.city }}; to show braces as they are, write them as a quoted text in braces: {{ "{{" }}`
		}
		return TemplatePart{}, err
	}
	p := &exprParser{src: src, pos: pos, toks: toks}
	if p.peek().kind == tEOF {
		return TemplatePart{}, diag.Errorf(open, "empty `{{ }}`").WithHint("write the attribute to insert, for example {{ geo.city }}")
	}
	x, err := p.parseOperand()
	if err != nil {
		return TemplatePart{}, err
	}
	switch x := x.(type) {
	case *Ident, *Call:
	case *StringLit:
		if t := p.peek(); t.kind != tEOF {
			return TemplatePart{}, diag.Errorf(pos(t.off), "unexpected %s after a quoted text in `{{ }}`", t.describe()).
				WithHint(`{{ "text" }} writes the text as it is, to write braces: {{ "{{" }}`)
		}
		return TemplatePart{Text: x.Value}, nil
	default:
		return TemplatePart{}, diag.Errorf(x.Pos(), "`{{ }}` inserts an attribute, not %s", x).WithHint("write literal text outside the braces")
	}
	part := TemplatePart{Value: x}
	if p.isWord("or") {
		p.next()
		d := p.next()
		if d.kind != tString {
			return TemplatePart{}, diag.Errorf(pos(d.off), "expected a quoted default after `or`, found %s", d.describe()).
				WithHint(`write {{ geo.city or "your city" }}`)
		}
		part.Default = d.text
	}
	if t := p.peek(); t.kind != tEOF {
		return TemplatePart{}, diag.Errorf(pos(t.off), "unexpected %s in `{{ }}`", t.describe()).
			WithHint(`an interpolation is one attribute and an optional default: {{ geo.city or "your city" }}`)
	}
	return part, nil
}
