package escape

import (
	"fmt"
	"strings"
	"testing"
)

// tpl builds pieces from text, with {} for each value.
func tpl(s string) []Piece {
	var ps []Piece
	for {
		i := strings.Index(s, "{}")
		if i < 0 {
			if s != "" {
				ps = append(ps, Piece{Text: s})
			}
			return ps
		}
		if i > 0 {
			ps = append(ps, Piece{Text: s[:i]})
		}
		ps = append(ps, Piece{Value: true})
		s = s[i+2:]
	}
}

func TestSplitHTML(t *testing.T) {
	tests := []struct {
		src  string
		want string // where each value lands: t (text), u<group> (URL), or the problem's start
	}{
		{"<b>{}</b> plan", "t"},
		{`<p title="{}">x</p>`, "t"},
		{`<p title='{}'>x</p>`, "t"},
		{`<a href="/stores/{}">{}</a>`, "u0 t"},
		{`<a href="/s/{}?q={}" title="{}"><img srcset="/a/{} 1x, /b/{} 2x"></a>`, "u0 u0 t u1 u1"},
		{`<a href='{}'>x</a>`, "u0"}, // at the URL's start: CheckHTML decides with schemes
		{`<textarea>{}</textarea>`, "a value inside <textarea>"},
		{`<title>{}</title>`, "a value inside <title>"},
		{`<script>var a = "{}"</script>`, "a value inside <script> would be code"},
		{`<style>p{color:{}}</style>`, "a value inside <style> would be code"},
		{`<script>x</script><b>{}</b>`, "t"},
		{`<script>"</scriptx>"</script><b>{}</b>`, "t"},
		{`<script><!-- x --></script><b>{}</b>`, "a value after a <script> holding <!--"},
		{`<p title={}>`, "a value inside a tag but not"},
		{`<p {}>`, "a value inside a tag but not"},
		{`<{}>`, "a value inside a tag"}, // "<" then a letter opens a tag
		{`<p{}>`, "a value inside a tag but not"},
		{`<!-- {} -->`, "a value inside an HTML comment"},
		{`<!-- --> {}`, "t"},
		{`<!--> {}`, "t"},
		{`<!---> {}`, "t"},
		{`<!-- --!> {}`, "t"},
		{`<!DOCTYPE {}>`, "a value inside an HTML comment or declaration"},
		{`<? {} >`, "a value inside an HTML comment or declaration"},
		{`</p title="{}">`, "a value inside an end tag"},
		{`<p onclick="go('{}')">`, "a value in the onclick attribute"},
		{`<p style="color: {}">`, "a value in the style attribute"},
		{`<iframe srcdoc="{}">`, "a value in the srcdoc attribute"},
		{`<div x-data="{ a: '{}' }">`, "a value in the x-data attribute"},
		{`<script src="/js/{}.js"></script>`, "a value in the src of <script>"},
		{`<link rel=stylesheet href="/css/{}.css">`, "a value in the href of <link>"},
		{`<meta http-equiv="refresh" content="0;url={}">`, "a value in the content of a <meta http-equiv>"},
		{`<meta content="0;url={}" http-equiv="refresh">`, "a value in the content of a <meta http-equiv>"},
		{`<meta name="description" content="{}">`, "t"},
		{`<svg><text>{}</text></svg>`, "a value after <svg> or <math>"},
		{`<a href="/x">`, ""},
		{`<a href="/{}`, "the markup ends inside a tag"},
		{`<p title="a>b" data-x='"' class=c>{}`, "t"},
		{`<p title="{}" title2="{}">`, "t t"},
		{`<a href="/{}" ping="/p/{}">`, "u0 u1"},
	}
	for _, tt := range tests {
		got, prob := SplitHTML(tpl(tt.src))
		var gotS string
		if prob != nil {
			gotS = prob.Msg
		} else {
			var w []string
			for _, p := range got {
				if !p.Value {
					continue
				}
				switch p.In {
				case InText:
					w = append(w, "t")
				case InAttrURL:
					w = append(w, fmt.Sprintf("u%d", p.Group))
				default:
					w = append(w, "markup?")
				}
			}
			gotS = strings.Join(w, " ")
		}
		if !strings.HasPrefix(gotS, tt.want) || tt.want == "" && gotS != "" {
			t.Errorf("%s: %q, want %q", tt.src, gotS, tt.want)
		}
		if prob == nil {
			// The pieces put back together are the template.
			var b strings.Builder
			for _, p := range got {
				if p.Value {
					b.WriteString("{}")
				} else {
					b.WriteString(p.Text)
				}
			}
			if b.String() != tt.src {
				t.Errorf("%s: the pieces make %s", tt.src, b.String())
			}
		}
	}
}

// TestSplitHTMLGroups: the literal text around a value in a URL
// attribute joins its group, up to the quotes.
func TestSplitHTMLGroups(t *testing.T) {
	got, prob := SplitHTML(tpl(`<a class="c" href="/s/{}?x=1&amp;y={}" title="t">`))
	if prob != nil {
		t.Fatal(prob)
	}
	var b strings.Builder
	for _, p := range got {
		fmt.Fprintf(&b, "[%d %q]", p.In, p.Text)
	}
	want := `[0 "<a class=\"c\" href=\""][2 "/s/"][2 ""][2 "?x=1&amp;y="][2 ""][0 "\" title=\"t\">"]`
	if b.String() != want {
		t.Errorf("got  %s\nwant %s", b.String(), want)
	}
}

func TestDecodeAttr(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"a&amp;b", "a&b"},
		{"?a=1&copy=2", "?a=1&copy=2"},
		{"&copy2", "&copy2"},
		{"&copy;2", "©2"},
		{"&notit;", "&notit;"},
		{"&#106;avascript:", "javascript:"},
		{"&#106avascript:", "javascript:"},
		{"&#x6Aavascript:", "\u06aavascript:"},
		{"java&Tab;script:", "java\tscript:"},
		{`"&quot;`, `""`},
	}
	for _, tt := range tests {
		if got := DecodeAttr(tt.in); got != tt.want {
			t.Errorf("DecodeAttr(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
