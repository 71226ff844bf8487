package proxy

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/rewrite"
)

func TestPrescan(t *testing.T) {
	tests := []struct {
		page string
		want string // "" when none is found
	}{
		{`<!doctype html><html><head><meta charset="iso-8859-1"><title>x</title>`, "windows-1252"},
		{`<meta charset=Shift_JIS>`, "shift_jis"},
		{`<META CHARSET='euc-jp'>`, "euc-jp"},
		{`<meta http-equiv="Content-Type" content="text/html; charset=gb2312">`, "gbk"},
		{`<meta content="text/html; charset='koi8-r'" http-equiv=content-type>`, "koi8-r"},
		{`<meta content="text/html; charset=iso-8859-2">`, ""}, // no pragma
		{`<meta charset="utf-16le">`, "utf-8"},
		{`<meta charset="x-user-defined">`, "windows-1252"},
		{`<meta charset="no-such-thing">`, ""},
		{`<!-- <meta charset="iso-8859-5"> --><meta charset="iso-8859-7">`, "iso-8859-7"},
		{`<!--> <meta charset="iso-8859-5">`, "iso-8859-5"},
		{`<p title='<meta charset="iso-8859-5">'>`, ""},
		{`<script>document.write('<meta charset="iso-8859-5">')</script>`, "iso-8859-5"}, // the prescan does not know scripts, like browsers
		{`<?xml version="1.0" encoding="iso-8859-1"?><meta charset=utf-8>`, "utf-8"},
		{`<metacharset="iso-8859-5">`, ""},
		{`<meta/charset="iso-8859-5">`, "iso-8859-5"},
		{strings.Repeat(" ", 1100) + `<meta charset="iso-8859-5">`, ""},
		{`<meta charset="iso-8859-5"`, ""},
		{`<meta charset=iso-8859-5 charset=iso-8859-6>`, "iso-8859-5"},
		// A label is trimmed of ASCII whitespace and folded in ASCII
		// case alone: the Kelvin sign is no k, a vertical tab or a
		// no-break space is part of the label, which names nothing.
		{"<meta charset=\" windows-1252\t\">", "windows-1252"},
		{"<meta charset=\"\u212Aoi8-r\"><meta charset=iso-8859-5>", "iso-8859-5"},
		{"<meta charset=\"windows-1252\v\">", ""},
		{"<meta charset=\"\u00A0windows-1252\">", ""},
	}
	for _, tt := range tests {
		c, ok := prescan([]byte(tt.page))
		if got := c.name; !ok && got != "" || ok != (tt.want != "") || got != tt.want {
			t.Errorf("prescan(%.60q) = %q %v, want %q", tt.page, got, ok, tt.want)
		}
	}
}

func TestEncodeEdits(t *testing.T) {
	edits := []rewrite.Edit{
		{Op: rewrite.SetInner, Content: []byte("Bienvenue à Paris — 東京")},
		{Op: rewrite.SetAttr, Attr: "title", Value: "Été 東京"},
		{Op: rewrite.AddClass, Attr: "été"},
		{Op: rewrite.SetInner, Content: []byte("plain ASCII")},
	}
	latin1, _ := charsetFromLabel("iso-8859-1")
	sjis, _ := charsetFromLabel("shift_jis")
	tests := []struct {
		cs                   pageCharset
		content, value, attr string
	}{
		// windows-1252 holds à and the em dash (0x97); 東京 becomes
		// references. A value is written by the rewriter, escaped, then
		// encoded (valueEncoder), references and all; a class stays in
		// UTF-8, compared with what the page reads as.
		{latin1, "Bienvenue \xe0 Paris \x97 &#26481;&#20140;", "\xc9t\xe9 &#26481;&#20140;", "été"},
		// Shift_JIS holds 東京 (93 8C 8B 9E), not à, É or the em dash.
		{sjis, "Bienvenue &#224; Paris &#8212; \x93\x8c\x8b\x9e", "&#201;t&#233; \x93\x8c\x8b\x9e", "été"},
	}
	for _, tt := range tests {
		out := encodeEdits(edits, tt.cs)
		value := tt.cs.valueEncoder()(nil, []byte(out[1].Value))
		if string(out[0].Content) != tt.content || string(value) != tt.value || out[2].Attr != tt.attr || string(out[3].Content) != "plain ASCII" {
			t.Errorf("%s: content %q, value %q, class %q", tt.cs.name, out[0].Content, value, out[2].Attr)
		}
		if string(edits[0].Content) != "Bienvenue à Paris — 東京" {
			t.Fatal("encodeEdits changed its input")
		}
	}
	if out := encodeEdits(edits, utf8Page); &out[0] != &edits[0] {
		t.Error("UTF-8 pages should use the edits as they are")
	}
}

func TestPageCharsets(t *testing.T) {
	for label, rewritable := range map[string]bool{
		"utf-8": true, "latin1": true, "windows-1251": true, "shift_jis": true, "euc-kr": true, "gb18030": true, "big5": true,
		"utf-16": false, "utf-16be": false, "iso-2022-jp": false, "iso-2022-kr": false,
	} {
		c, ok := charsetFromLabel(label)
		if !ok {
			t.Errorf("%s: unknown", label)
			continue
		}
		if c.rewritable() != rewritable {
			t.Errorf("%s (%s): rewritable %v", label, c.name, c.rewritable())
		}
	}
	if c, ok := bomCharset([]byte{0xFF, 0xFE, '<', 0}); !ok || c.name != "utf-16le" {
		t.Errorf("UTF-16LE BOM: %q", c.name)
	}
	if c, ok := headerCharset("text/html; charset=ISO-8859-1"); !ok || c.name != "windows-1252" {
		t.Errorf("header charset: %q", c.name)
	}
}

// FuzzPrescan: the prescan never reads past 1024 bytes, never panics, and
// what follows a page's first 1024 bytes cannot change its answer. Only
// ASCII is syntax to it and labels are ASCII, so a page whose bytes past
// ASCII, and vertical tabs (which the standard does not take for space),
// are question marks gets the same answer.
func FuzzPrescan(f *testing.F) {
	for _, s := range []string{`<meta charset="iso-8859-1">`, `<!--`, `<meta http-equiv=content-type content="charset='x`, `</a b=">`, `<?x`, `<meta `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c1, ok1 := prescan(b)
		c2, ok2 := prescan(append(bytes.Clone(b[:min(len(b), prescanLimit)]), "<meta charset=koi8-r>"...))
		if len(b) >= prescanLimit && (ok1 != ok2 || c1.name != c2.name) {
			t.Fatalf("bytes past the limit changed the answer: %q %v / %q %v", c1.name, ok1, c2.name, ok2)
		}
		if ok1 && c1.name == "" {
			t.Fatal("found an encoding without a name")
		}
		masked := bytes.Clone(b)
		for i, c := range masked {
			if c >= 0x80 || c == '\v' {
				masked[i] = '?'
			}
		}
		if c3, ok3 := prescan(masked); ok3 != ok1 || c3.name != c1.name {
			t.Fatalf("%q reads as %q %v, with ASCII alone as %q %v", b, c1.name, ok1, c3.name, ok3)
		}
	})
}

// TestHeaderCharset: the charset of a Content-Type is read as browsers
// read it; one they read in two ways stops the rewrite.
func TestHeaderCharset(t *testing.T) {
	for _, c := range []struct {
		ct         string
		name       string // "" when the header names none
		rewritable bool
	}{
		{"text/html", "", true},
		{"text/html; charset=utf-8", "utf-8", true},
		{"text/html;Charset=UTF-8", "utf-8", true},
		{`text/html; charset="windows-1252"`, "windows-1252", true},
		{"text/html; charset=ISO-8859-1; foo=bar", "windows-1252", true},
		// A quoted parameter that holds ";charset=": not the charset.
		{`text/html;foo=";charset=utf-8";charset=iso-2022-jp`, "iso-2022-jp", false},
		{`text/html;foo=";charset=iso-2022-jp";charset=utf-8`, "utf-8", true},
		// Given twice, the first; a quote left open ends with the value;
		// a space before the '=' makes no parameter.
		{"text/html; charset=utf-8; charset=iso-2022-jp", "utf-8", true},
		{"text/html;charset=gbk;charset=windows-1255", "gbk", true},
		{`text/html; charset="utf-8`, "utf-8", true},
		{`text/html;charset="\g\b\k"`, "gbk", true},
		{"text/html;charset =gbk", "", true},
		{"text/html;\vcharset=utf-8", "", true},
		{"text/html;\u00a0charset=utf-8", "", true},
		// Where Chromium reads another charset than the standard: which
		// one a browser takes is unknown.
		{`text/html;charset= "gbk"`, "unreadable", false},
		{"text/html;charset=\x01;charset=gbk", "unreadable", false},
		{`text/html;x= "a;charset=gbk`, "unreadable", false},
		{`text/html;x= "a;y="b;charset=gbk`, "unreadable", false},
		{"text/html;charset=\"\x7f\";charset=gbk", "unreadable", false},
		{"text/html; charset=no-such-encoding", "", true},
		{"text/html; charset=\"\u212Aoi8-r\"", "", true},
		{"text/html; charset=\"windows-1252\v\"", "", true},
	} {
		got, ok := headerCharset(c.ct)
		if got.name != c.name || ok != (c.name != "") {
			t.Errorf("headerCharset(%q) = %q, %v; want %q", c.ct, got.name, ok, c.name)
			continue
		}
		if ok && got.rewritable() != c.rewritable {
			t.Errorf("headerCharset(%q): rewritable %v, want %v", c.ct, got.rewritable(), c.rewritable)
		}
	}
}

// TestUndeclaredPages: a page that declares no encoding, which browsers
// may read as windows-1252, gets what is inserted as character
// references, but in the text of a <script> or <style>, which reads
// none; a value, once escaped.
func TestUndeclaredPages(t *testing.T) {
	edits := refEdits([]rewrite.Edit{
		{Op: rewrite.SetInner, Content: []byte(`Été <b>東京</b><script>var s = "é";</script><STYLE>p::after{content:"é"}</STYLE>à`)},
		{Op: rewrite.SetInner, Content: []byte("plain")},
	})
	if got, want := string(edits[0].Content), `&#201;t&#233; <b>&#26481;&#20140;</b><script>var s = "é";</script><STYLE>p::after{content:"é"}</STYLE>&#224;`; got != want {
		t.Errorf("content %q\nwant    %q", got, want)
	}
	if got := appendCharRefs([]byte(`="`), []byte(`Été &amp; "x"`)); string(got) != `="&#201;t&#233; &amp; "x"` {
		t.Errorf("value %q", got)
	}
	prog, err := rewrite.CompileStrings([]string{"p"})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rw := prog.NewRewriter(&out, []rewrite.Edit{{Selector: 0, Op: rewrite.SetAttr, Attr: "title", Value: `Été "1"`}, {Selector: 0, Op: rewrite.AddClass, Attr: "x"}},
		rewrite.Options{EncodeValue: appendCharRefs})
	rw.Write([]byte(`<p class="a">t</p>`))
	rw.Close()
	rw.Release()
	if got := out.String(); got != `<p class="a x" title="&#201;t&#233; &quot;1&quot;">t</p>` {
		t.Errorf("rewritten %q", got)
	}
}

// TestLegacyClassLists: class edits on a windows-1252 page compare and
// write classes in its encoding: the page's own bytes stay, a class it
// has is not added again, removing one removes it, and a class it
// cannot hold is a reference.
func TestLegacyClassLists(t *testing.T) {
	latin1, _ := charsetFromLabel("windows-1252")
	prog, err := rewrite.CompileStrings([]string{"p"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		edit      rewrite.Edit
		page, out string
	}{
		{rewrite.Edit{Op: rewrite.AddClass, Attr: "hit"}, "<p class=\"caf\xe9 promo\">t</p>", "<p class=\"caf\xe9 promo hit\">t</p>"},
		{rewrite.Edit{Op: rewrite.RemoveClass, Attr: "café"}, "<p class=\"caf\xe9 promo\">t</p>", "<p class=\"promo\">t</p>"},
		{rewrite.Edit{Op: rewrite.RemoveClass, Attr: "café"}, "<p class=\"caf&eacute; promo\">t</p>", "<p class=\"promo\">t</p>"},
		{rewrite.Edit{Op: rewrite.AddClass, Attr: "café"}, "<p class=\"caf\xe9\">t</p>", "<p class=\"caf\xe9\">t</p>"},
		{rewrite.Edit{Op: rewrite.AddClass, Attr: "日本"}, "<p class=\"caf\xe9\">t</p>", "<p class=\"caf\xe9 &#26085;&#26412;\">t</p>"},
		{rewrite.Edit{Op: rewrite.SetAttr, Attr: "class", Value: "Grüße"}, "<p class=\"a\">t</p>", "<p class=\"Gr\xfc\xdfe\">t</p>"},
	} {
		var out bytes.Buffer
		rw := prog.NewRewriter(&out, encodeEdits([]rewrite.Edit{tc.edit}, latin1), rewrite.Options{Decode: latin1.decoder(), EncodeValue: latin1.valueEncoder()})
		rw.Write([]byte(tc.page))
		rw.Close()
		rw.Release()
		if out.String() != tc.out {
			t.Errorf("%v on %q: %q, want %q", tc.edit, tc.page, out.String(), tc.out)
		}
	}
}

// seenIDs is a SeenSet that has seen what it holds and notes what is
// shown.
type seenIDs struct{ seen, shown []string }

func (s *seenIDs) Recency(id string) int {
	if slices.Contains(s.seen, id) {
		return 1
	}
	return 0
}
func (s *seenIDs) Shown(id string) { s.shown = append(s.shown, id) }

// TestLegacyPagesMatchAsBrowsersRead: on a page in another encoding than
// UTF-8, selectors compare what its bytes read as, whichever way they
// are written (the byte E9 of windows-1252 and &eacute; are one é), and
// list edits read the items' ids in UTF-8: the ids a UTF-8 page, a JSON
// API and the rules write.
func TestLegacyPagesMatchAsBrowsersRead(t *testing.T) {
	latin1, _ := charsetFromLabel("windows-1252")
	sjis, _ := charsetFromLabel("shift_jis")
	for _, tc := range []struct {
		cs         pageCharset
		class, id  string // "café" and "日本" in the page's bytes
		classRef   string
		wantEdited int
	}{
		{latin1, "caf\xe9", "\xe91", "caf&eacute;", 3},
		{sjis, "\x93\xfa\x96\x7b", "\x93\xfa\x96\x7b1", "&#26085;&#26412;", 3},
	} {
		name := map[string]string{"windows-1252": "café", "shift_jis": "日本"}[tc.cs.name]
		idName := map[string]string{"windows-1252": "é1", "shift_jis": "日本1"}[tc.cs.name]
		prog, err := rewrite.CompileStrings([]string{"." + name, `[title="` + name + `"]`, "ul > li"})
		if err != nil {
			t.Fatal(err)
		}
		page := `<!DOCTYPE html><body><p id=a class="` + tc.class + `">a</p><p id=b class="` + tc.classRef + `">b</p>` +
			`<p id=c title="` + tc.class + `">c</p><p id=d class="x` + tc.class + `">d</p>` +
			`<ul><li data-id="x3">x3</li><li data-id="` + tc.id + `">` + tc.id + `</li><li data-id="seen">seen</li></ul></body>`
		edits := encodeEdits([]rewrite.Edit{
			{Selector: 0, Op: rewrite.AddClass, Attr: "hit"},
			{Selector: 1, Op: rewrite.AddClass, Attr: "hit"},
			{Selector: 2, Op: rewrite.Reorder, Attr: "data-id", Order: []string{idName}},
			{Selector: 2, Op: rewrite.HideSeen, Attr: "data-id"},
		}, tc.cs)
		seen := &seenIDs{seen: []string{"seen"}}
		var out bytes.Buffer
		rw := prog.NewRewriter(&out, edits, rewrite.Options{Seen: seen, Decode: tc.cs.decoder()})
		rw.Write([]byte(page))
		rw.Close()
		rw.Release()
		got := out.String()
		if n := strings.Count(got, "hit"); n != tc.wantEdited || strings.Contains(got, `id=d class="x`+tc.class+` hit"`) {
			t.Errorf("%s: %d elements edited, want a, b and c:\n%s", tc.cs.name, n, got)
		}
		if i, j := strings.Index(got, `data-id="`+tc.id+`"`), strings.Index(got, `data-id="x3"`); i < 0 || j < 0 || i > j || strings.Contains(got, `data-id="seen"`) {
			t.Errorf("%s: the list, %s first and seen hidden:\n%s", tc.cs.name, idName, got)
		}
		if !slices.Contains(seen.shown, idName) {
			t.Errorf("%s: shown %q, want %q among them", tc.cs.name, seen.shown, idName)
		}
	}
}
