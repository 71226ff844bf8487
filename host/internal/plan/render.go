package plan

import (
	"html"
	"unsafe"

	"github.com/bespoke-edge/bespoke/internal/escape"
	"github.com/bespoke-edge/bespoke/plugin"
)

func (p *Plan) refuse(rule, act int, dropped bool, reason string) {
	p.Refused = append(p.Refused, Refused{Rule: rule, Action: act, Dropped: dropped, Reason: reason})
}

// result is how a rendering went.
type result uint8

const (
	rendered result = iota // as the values say
	fellBack               // some value was replaced by its default
	dropped                // no safe rendering: the action does not apply
	empty                  // a URL would start empty (no value, no default): the action does not apply
)

// outcome records a rendering's refusal, if any, and reports whether the
// action applies.
func (p *Plan) outcome(rule, act int, r result) bool {
	switch r {
	case fellBack:
		p.refuse(rule, act, false, "a value would have made a URL point where the rule does not allow; its default was used")
	case dropped:
		p.refuse(rule, act, true, "a value would have made a URL point where the rule does not allow, and no default could replace it")
		return false
	case empty:
		return false
	}
	return true
}

// urlContext renders a template whose text is URLs: a URL attribute's
// value (a list for ping or srcset), or a redirect target.
type urlContext struct {
	kind escape.Kind
	// schemes lets a value start a URL (nil: the literal text decides).
	schemes []string
}

// renderURL renders t as URLs of u's kind into the plan's arena. Each
// value is escaped for where it lands (escape.AppendValue), or, when it
// starts a URL, must be a URL with a scheme the rule allows
// (escape.AppendWholeURL); a value refused there is replaced by its
// default. The result must then point where its skeleton (the same
// rendering with "x" for each value) points (escape.SameOrigins); if it
// does not, the template is rendered again with every value replaced by
// its default, and if that does not either, the action is dropped.
func (p *Plan) renderURL(t plugin.Template, vals []plugin.Value, u *urlContext) ([]byte, result) {
	start := len(p.arena)
	res := rendered
	for _, useValues := range []bool{true, false} {
		p.arena = p.arena[:start]
		sk := p.skeleton[:0]
		ok := true
		for _, part := range t {
			if part.Slot < 0 && part.Experiment == 0 {
				p.arena = append(p.arena, part.Text...)
				sk = append(sk, part.Text...)
				continue
			}
			s, present := p.valueOf(part, vals)
			so := bstr(p.arena[start:])
			where := escape.Locate(u.kind, so)
			if present && useValues {
				b, done := p.arena, false
				switch where {
				case escape.AtStart:
					b, done = escape.AppendWholeURL(b, u.kind, s, u.schemes)
					sk = append(sk, escape.Mark...)
				case escape.InURL, escape.InDescriptor:
					b, done = escape.AppendValue(b, u.kind, so, s)
					sk = append(sk, 'x')
				}
				if done {
					p.arena = b
					continue
				}
				sk = sk[:len(sk)-skLen(where)]
				res = fellBack
			}
			if where == escape.AtStart && part.Default == "" {
				ok = false // a URL would start empty
				break
			}
			p.arena = append(p.arena, part.Default...)
			sk = appendSkeleton(sk, part.Default)
		}
		p.skeleton = sk
		if !ok && res == rendered {
			p.arena = p.arena[:start]
			return nil, empty // no value to write, and nothing refused
		}
		if ok && escape.SameOrigins(u.kind, bstr(p.arena[start:]), bstr(sk), u.schemes) {
			return p.arena[start:len(p.arena):len(p.arena)], res
		}
		res = fellBack
	}
	p.arena = p.arena[:start]
	return nil, dropped
}

// appendSkeleton appends to a skeleton what stands for a default: its
// text, the rule author's; "x" for an empty one, which is no text, and
// must not let the text around it join ("/" and "/b" into "//b", a
// host).
func appendSkeleton(sk []byte, def string) []byte {
	if def == "" {
		return append(sk, 'x')
	}
	return append(sk, def...)
}

// skLen is how many bytes a value put in the skeleton where it landed.
func skLen(w escape.Where) int {
	switch w {
	case escape.AtStart:
		return len(escape.Mark)
	case escape.InURL, escape.InDescriptor:
		return 1
	}
	return 0
}

// htmlContext renders an html: template with values: values in text and
// ordinary attributes are HTML-escaped, those in URL attributes are
// rendered as URLs (as renderURL does) and then HTML-escaped. Where each
// value lands is decided once, by escape.SplitHTML; values cannot change
// it, since escaped they hold no byte that ends a text or a quoted value.
type htmlContext struct {
	pieces  []escape.HTMLPiece
	decoded []string // per piece: the URL text of a literal piece in a URL attribute
	urls    bool     // some URL attribute takes values
	schemes []string
}

func compileHTML(t plugin.Template, schemes []string) (*htmlContext, *escape.Problem) {
	hp, prob := escape.SplitHTML(t.Pieces())
	if prob != nil {
		return nil, prob
	}
	h := &htmlContext{pieces: hp, decoded: make([]string, len(hp)), schemes: schemes}
	for i, p := range hp {
		if p.In == escape.InAttrURL {
			h.urls = true
			if !p.Value {
				h.decoded[i] = escape.DecodeAttr(p.Text)
			}
		}
	}
	return h, nil
}

// renderHTML renders t, an html: template, into the plan's arena. The
// value of each URL attribute that takes values is decoded as a browser
// decodes it and must point where its skeleton's does (as in
// renderURL); if one does not, the values of URL attributes are replaced
// by their defaults, and if it still does not, the action is dropped.
func (p *Plan) renderHTML(t plugin.Template, vals []plugin.Value, h *htmlContext) ([]byte, result) {
	start := len(p.arena)
	res := rendered
	for _, useValues := range []bool{true, false} {
		p.arena = p.arena[:start]
		sk := p.skeleton[:0]
		var url []byte // the URL text of the URL attribute being rendered
		ok, same := true, true
		// The URL attribute value being rendered starts at g in the
		// arena, at skg in the skeleton; g < 0 outside one.
		g, skg, kind := -1, 0, escape.URL
		verify := func() {
			if g >= 0 {
				same = same && escape.SameOrigins(kind, escape.DecodeAttr(bstr(p.arena[g:])), escape.DecodeAttr(bstr(sk[skg:])), h.schemes)
				g = -1
			}
		}
		for i := range h.pieces {
			hp := &h.pieces[i]
			switch {
			case hp.In != escape.InAttrURL:
				verify()
				url = url[:0]
			case g < 0:
				g, skg, kind = len(p.arena), len(sk), hp.Kind
			}
			if !hp.Value {
				p.arena = append(p.arena, hp.Text...)
				sk = append(sk, hp.Text...)
				url = append(url, h.decoded[i]...)
				continue
			}
			s, present := p.valueOf(t[hp.Source], vals)
			if hp.In == escape.InText {
				n := len(p.arena)
				p.arena = appendHTMLText(p.arena, s)
				sk = append(sk, p.arena[n:]...)
				continue
			}
			// A value in a URL attribute.
			so := string(url)
			where := escape.Locate(hp.Kind, so)
			var v []byte
			done := false
			if present && useValues {
				switch where {
				case escape.AtStart:
					v, done = escape.AppendWholeURL(nil, hp.Kind, s, h.schemes)
					sk = append(sk, escape.Mark...)
				case escape.InURL, escape.InDescriptor:
					v, done = escape.AppendValue(nil, hp.Kind, so, s)
					sk = append(sk, 'x')
				}
				if !done {
					sk = sk[:len(sk)-skLen(where)]
					res = fellBack
				}
			}
			if !done {
				if where == escape.AtStart && hp.Text == "" {
					ok = false
					break
				}
				v = []byte(hp.Text) // the default, URL text of the rule author
				if hp.Text == "" {
					sk = append(sk, 'x')
				} else {
					sk = appendHTMLText(sk, hp.Text)
				}
			}
			url = append(url, v...)
			p.arena = appendHTMLText(p.arena, bstr(v))
		}
		verify()
		p.skeleton = sk
		if !ok && res == rendered {
			p.arena = p.arena[:start]
			return nil, empty
		}
		if ok && same {
			return p.arena[start:len(p.arena):len(p.arena)], res
		}
		res = fellBack
	}
	p.arena = p.arena[:start]
	return nil, dropped
}

// appendHTMLText appends s HTML-escaped. When what precedes ends in an
// unfinished character reference ("&", "&am"), a first letter, digit,
// '#' or ';' of s is written as a numeric reference, so that s cannot
// complete it ("&" then "lt;" must not read as "<").
func appendHTMLText(b []byte, s string) []byte {
	if s != "" && openReference(b) {
		if c := s[0]; isAlnum(c) || c == '#' || c == ';' {
			b = append(b, "&#"...)
			b = appendInt(b, int(c))
			b = append(b, ';')
			s = s[1:]
		}
	}
	return append(b, html.EscapeString(s)...)
}

// openReference reports whether b ends in '&' and then only letters,
// digits and '#'.
func openReference(b []byte) bool {
	for i := len(b) - 1; i >= 0 && len(b)-i <= 48; i-- {
		switch c := b[i]; {
		case c == '&':
			return true
		case isAlnum(c) || c == '#':
		default:
			return false
		}
	}
	return false
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z'
}

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

// bstr views b as a string, for calls that keep nothing of it.
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
