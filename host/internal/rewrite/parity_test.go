package rewrite

import (
	"bytes"
	"strings"
	"testing"

	"github.com/andybalholm/cascadia"
	"golang.org/x/net/html"
)

// TestByteOrderMark: a UTF-8 byte order mark at the start of a page is
// not text of the document (the browser's decoder drops it), so the page's
// own <head> and <body> are the head and the body, and selectors that
// name them select them; the mark is written on as it came. Found by
// TestRealPagesChromium on a page of the public corpus (la-nacion), whose
// elements the rewriter had all put in a body the mark started. The
// page is written at once, and a byte at a time (the mark split across
// writes); a page that starts with other bytes is unchanged.
func TestByteOrderMark(t *testing.T) {
	bom := "\xEF\xBB\xBF"
	prog, err := CompileStrings([]string{"html > body", "head > title", "body > p", "head > meta"})
	if err != nil {
		t.Fatal(err)
	}
	edits := []Edit{
		{Selector: 0, Op: AddClass, Attr: "b"},
		{Selector: 1, Op: SetAttr, Attr: "data-t", Value: "1"},
		{Selector: 2, Op: AddClass, Attr: "p"},
		{Selector: 3, Op: SetAttr, Attr: "data-m", Value: "1"},
	}
	tests := []struct{ page, want string }{
		{bom + `<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head><body><p>x</p></body></html>`,
			bom + `<!DOCTYPE html><html><head><meta charset="utf-8" data-m="1"><title data-t="1">t</title></head><body class="b"><p class="p">x</p></body></html>`},
		{bom + "\n  <html><head><title>t</title></head><body><p>x</p>",
			bom + "\n  <html><head><title data-t=\"1\">t</title></head><body class=\"b\"><p class=\"p\">x</p>"},
		// Not a mark: text, which starts the body. The <html>, <head>
		// and <title> tags come in the body (the first two are no
		// elements there), and the page's <body> tag, with nothing else
		// open, is the body's: its p is the body's child, as in the
		// browser, whose html element has no tag here.
		{"\xEF\xBB<html><head><title>t</title></head><body><p>x</p>",
			"\xEF\xBB<html><head><title>t</title></head><body><p class=\"p\">x</p>"},
		// A mark further in is text like any other.
		{"<p>a</p>" + bom + "<p>b</p>", "<p>a</p>" + bom + "<p>b</p>"},
	}
	for _, tt := range tests {
		for _, chunk := range []int{0, 1, 2} {
			var out bytes.Buffer
			rw := prog.NewRewriter(&out, edits, Options{})
			page := []byte(tt.page)
			step := chunk
			if step == 0 {
				step = len(page)
			}
			for i := 0; i < len(page); i += step {
				rw.Write(page[i:min(i+step, len(page))])
			}
			if err := rw.Close(); err != nil {
				t.Fatal(err)
			}
			rw.Release()
			if got := out.String(); got != tt.want {
				t.Errorf("%q in writes of %d:\n got %q\nwant %q", tt.page, chunk, got, tt.want)
			}
		}
	}
}

// TestQuirksModeSelectors: in a page in quirks mode (no doctype, or an
// old one), class and id selectors compare ASCII case-insensitively, as
// in browsers; attribute selectors, and pages in standards mode, do not.
// Found by TestRealPagesChromium on a page of the public corpus
// (buzzfeed-1: .content and class="Content").
func TestQuirksModeSelectors(t *testing.T) {
	prog, err := CompileStrings([]string{".content p", "#main", "[class~=content]"})
	if err != nil {
		t.Fatal(err)
	}
	edits := []Edit{{Selector: 0, Op: AddClass, Attr: "a"}, {Selector: 1, Op: AddClass, Attr: "b"}, {Selector: 2, Op: AddClass, Attr: "c"}}
	body := `<div class="Page Content"><p>x</p></div><section id="MAIN">y</section><div class="Con&#116;ent"><p>z</p></div>`
	tests := []struct{ doctype, want string }{
		{"", `<div class="Page Content"><p class="a">x</p></div><section id="MAIN" class="b">y</section><div class="Con&#116;ent"><p class="a">z</p></div>`},
		{`<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">`, `<div class="Page Content"><p class="a">x</p></div><section id="MAIN" class="b">y</section><div class="Con&#116;ent"><p class="a">z</p></div>`},
		{`<!DOCTYPE html>`, body},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		rw := prog.NewRewriter(&out, edits, Options{})
		rw.Write([]byte(tt.doctype + body))
		if err := rw.Close(); err != nil {
			t.Fatal(err)
		}
		rw.Release()
		if got := out.String(); got != tt.doctype+tt.want {
			t.Errorf("doctype %q:\n got %s\nwant %s", tt.doctype, got, tt.doctype+tt.want)
		}
	}
}

// TestCharacterReferencesInValues: in an attribute value, a named
// reference without its ';' is decoded only when its name is all of the
// run of letters and digits, and not before '=' (HTML's tokenizer; text
// reads them otherwise). Browsers select the link of "?a=1&sectionId=2"
// with [href="?a=1&sectionId=2"], not with "§ionId"; each row was
// checked in Chromium.
func TestCharacterReferencesInValues(t *testing.T) {
	tests := []valueCase{
		{`[href="?a=1&sectionId=2"]`, `<a href='?a=1&sectionId=2'>`, true},
		{`[href="?a=1§ionId=2"]`, `<a href='?a=1&sectionId=2'>`, false},
		{`[href*="region=eu"]`, `<a href="/p?x=1&region=eu">`, true},
		{`[title="a&copy=x"]`, `<a title='a&copy=x'>`, true},
		{`[title="a&copyx"]`, `<a title='a&copyx'>`, true},
		{`[title="a©"]`, `<a title='a&copy'>`, true},
		{`[title="a©x"]`, `<a title='a&copy;x'>`, true},
		{`[title="\5"]`, `<a title='&#5'>`, true},
		{`[title="A9"]`, `<a title='&#x41;9'>`, true},
		{`.a\&b`, `<a class="a&amp;b">`, true},
	}
	checkValueCases(t, tests, false)
}

// TestNewlinesInValues: a browser reads a page's CR LF pairs, and CRs
// alone, as LF before it reads the tags, so an attribute value written
// with them holds LF (a mailto: link's body="...\r%0D%0A..."), while a
// CR written as a character reference (&#13;) stays a CR.
func TestNewlinesInValues(t *testing.T) {
	tests := []valueCase{
		{`[href="a\a b"]`, "<a href='a\rb'>", true},
		{`[href="a\a b"]`, "<a href='a\r\nb'>", true},
		{`[href="a\a \a b"]`, "<a href='a\r\r\nb'>", true},
		{`[href="a\d b"]`, "<a href='a\rb'>", false},
		{`[href="a\d\a b"]`, "<a href='a\r\nb'>", false},
		{`[href^="a\a"]`, "<a href='a\r&amp;b'>", true},
		{`[href="a\a&b"]`, "<a href='a\r&amp;b'>", true},
		{`[title="a\d b"]`, "<a title='a&#13;b'>", true},
		{`[title="a\a b"]`, "<a title='a&#13;b'>", false},
		{`#a\a b`, "<a id='a\rb'>", true},
		{`a[id="a\a b"]`, "<a id='a\r\nb'>", true},
		{`[data-k="a\a b"]`, "<a data-k=a\rb>", false}, // unquoted: CR ends the value
	}
	checkValueCases(t, tests, true)
}

// TestNullInValues: a browser's tokenizer reads a NUL byte in an
// attribute value as U+FFFD, as it reads &#0;.
func TestNullInValues(t *testing.T) {
	tests := []valueCase{
		{`[title="a\FFFD b"]`, "<a title='a\x00b'>", true},
		{`[title="a\FFFD b"]`, "<a title=a\x00b>", true},
		{`[title="a\FFFD b"]`, "<a title='a&#0;b'>", true},
		{`[title^="a\FFFD"]`, "<a title='a\x00&amp;'>", true},
		{`#a\FFFD b`, "<a id='a\x00b'>", true},
		{`.a\FFFD b`, "<a class='x a\x00b'>", true},
		{`[title="ab"]`, "<a title='a\x00b'>", false},
	}
	checkValueCases(t, tests, true)
}

// valueCase is a selector, the start tag of a link it is tried on, and
// whether a browser selects the link.
type valueCase struct {
	sel, tag string
	want     bool
}

// checkValueCases tries each case's selector on its link in a standards
// mode page, and, with reference, asks cascadia on x/net/html's tree too.
func checkValueCases(t *testing.T, tests []valueCase, reference bool) {
	t.Helper()
	for _, tt := range tests {
		page := "<!DOCTYPE html>" + tt.tag + "x</a>"
		out := rewriteAll(mustCompile(tt.sel), []Edit{{Op: AddClass, Attr: "hit"}}, page)
		if got := strings.Contains(out, "hit"); got != tt.want {
			t.Errorf("%s on %q: selected %v, want %v", tt.sel, tt.tag, got, tt.want)
		}
		if !reference {
			continue
		}
		doc, _ := html.Parse(strings.NewReader(page))
		if got := cascadia.MustCompile(tt.sel).MatchFirst(doc) != nil; got != tt.want {
			t.Errorf("%s on %q: the reference selects %v, want %v", tt.sel, tt.tag, got, tt.want)
		}
	}
}
