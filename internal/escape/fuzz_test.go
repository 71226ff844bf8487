package escape

import (
	"html"
	"strings"
	"testing"

	nethtml "golang.org/x/net/html"

	"github.com/bespoke-edge/bespoke/internal/escape/escapetest"
)

// FuzzURL: wherever Locate lets a value into a URL, no value escaped by
// AppendValue changes the URL's origin or the number of URLs; a value
// AppendWholeURL lets through has an allowed scheme and no byte a
// browser would strip.
func FuzzURL(f *testing.F) {
	for _, p := range []string{"/", "/p/", "https://a.example/", "/s?q=", "#", "a.png 1x, /b/", "/a /b/", "mailto:", "//c.example/"} {
		for _, v := range escapetest.Values {
			f.Add(p, v, uint8(len(v)))
		}
	}
	f.Fuzz(func(t *testing.T, prefix, v string, k uint8) {
		kind := []Kind{URL, URLs, SrcSet}[k%3]
		_ = OriginOf(prefix)
		if OriginOf(prefix) != OriginOf(normalize(prefix, true)) {
			t.Fatalf("OriginOf(%q) changes when normalized", prefix)
		}
		if v != "" && Locate(kind, prefix) == InURL {
			b, ok := AppendValue(nil, kind, prefix, v)
			if !ok {
				t.Fatalf("AppendValue refused %q after %q, which Locate accepts", v, prefix)
			}
			got, want := urlsOf(kind, prefix+string(b)), urlsOf(kind, prefix+"x")
			if len(got) != len(want) {
				t.Fatalf("%q after %q: %q makes URLs %q, x makes %q", v, prefix, b, got, want)
			}
			for i := range got {
				if markFirst(want[i]) {
					continue
				}
				if OriginOf(got[i]) != OriginOf(want[i]) {
					t.Fatalf("%q after %q: %q has origin %+v, x %+v", v, prefix, got[i], OriginOf(got[i]), OriginOf(want[i]))
				}
			}
		}
		schemes := []string{"https", "relative"}
		if b, ok := AppendWholeURL(nil, kind, v, schemes); ok {
			if !Allowed(string(b), schemes) || strings.ContainsFunc(string(b), func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
				t.Fatalf("AppendWholeURL let %q through as %q", v, b)
			}
			if us := urlsOf(kind, string(b)); len(us) != 1 || us[0] != string(b) {
				t.Fatalf("AppendWholeURL(%q) = %q, which is URLs %q", v, b, us)
			}
		}
	})
}

// FuzzSplitHTML compares SplitHTML with x/net/html's tokenizer: for
// markup around one value, when SplitHTML accepts it, the value must be
// in a text token or in the quoted value of the attribute it said, and
// a hostile value, escaped as the host escapes it, must leave the tokens
// as a plain value does (no new tag, attribute or comment).
func FuzzSplitHTML(f *testing.F) {
	seeds := []string{`<p title="`, `<a href="/x/`, `<b>`, `<script>`, `<!-- `, `<p a=`, `<textarea>`, `<a href='`, `<meta http-equiv=refresh content="`, `<svg><a href="`, `<p title="a" `, `<`, `</`, `<!`}
	ends := []string{`">`, `</b>`, `'>`, ` -->`, ``, `"></a>`, `</script>`}
	for i, s := range seeds {
		f.Add(s, ends[i%len(ends)], uint8(i))
	}
	const sentinel = "\ue000"
	f.Fuzz(func(t *testing.T, before, after string, pick uint8) {
		if strings.Contains(before+after, sentinel) {
			return
		}
		pieces := []Piece{{Text: before}, {Value: true}, {Text: after}}
		hp, prob := SplitHTML(pieces)
		if prob != nil {
			return
		}
		var where HTMLPiece
		for _, p := range hp {
			if p.Value {
				where = p
			}
		}
		plain := tokens(before + sentinel + after)
		hostile := escapetest.Values[int(pick)%len(escapetest.Values)]
		evil := tokens(before + html.EscapeString(hostile) + after)
		if len(plain) != len(evil) {
			t.Fatalf("%q: the value %q makes %d tokens instead of %d:\n%q\n%q", before+"{}"+after, hostile, len(evil), len(plain), plain, evil)
		}
		for i := range plain {
			if plain[i].Type != evil[i].Type || plain[i].Data != evil[i].Data && !strings.Contains(plain[i].Data, sentinel) || len(plain[i].Attr) != len(evil[i].Attr) {
				t.Fatalf("%q: the value %q changes token %d: %v into %v", before+"{}"+after, hostile, i, plain[i], evil[i])
			}
			for j, a := range plain[i].Attr {
				if a.Key != evil[i].Attr[j].Key {
					t.Fatalf("%q: the value %q changes attribute %q into %q", before+"{}"+after, hostile, a.Key, evil[i].Attr[j].Key)
				}
			}
		}
		// Where x/net/html sees the value.
		raw := ""
		for _, tok := range plain {
			switch tok.Type {
			case nethtml.StartTagToken, nethtml.SelfClosingTagToken:
				if rawtext[tok.Data] || rcdata[tok.Data] || tok.Data == "plaintext" {
					raw = tok.Data
				}
				for _, a := range tok.Attr {
					if !strings.Contains(a.Val, sentinel) {
						continue
					}
					kind, _ := AttrKind(a.Key)
					if where.In == InText && kind != Text || where.In == InAttrURL && kind != where.Kind || kind == Code {
						t.Fatalf("%q: SplitHTML says %v %v, x/net/html sees the value in %s=%q", before+"{}"+after, where.In, where.Kind, a.Key, a.Val)
					}
				}
				if strings.Contains(tok.Data, sentinel) {
					t.Fatalf("%q: the value is in a tag name", before+"{}"+after)
				}
			case nethtml.EndTagToken:
				if tok.Data == raw {
					raw = ""
				}
			case nethtml.TextToken:
				if strings.Contains(tok.Data, sentinel) && (raw != "" || where.In != InText) {
					t.Fatalf("%q: SplitHTML says %v, x/net/html sees the value in text inside <%s>", before+"{}"+after, where.In, raw)
				}
			case nethtml.CommentToken, nethtml.DoctypeToken:
				if strings.Contains(tok.Data, sentinel) {
					t.Fatalf("%q: the value is in a comment or doctype", before+"{}"+after)
				}
			}
		}
	})
}

// tokens tokenizes s with x/net/html.
func tokens(s string) []nethtml.Token {
	z := nethtml.NewTokenizer(strings.NewReader(s))
	var out []nethtml.Token
	for {
		if z.Next() == nethtml.ErrorToken {
			return out
		}
		out = append(out, z.Token())
	}
}
