package rewrite

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/internal/selector"
)

// ciSeed is the seed of a CI run. CI checks that a change breaks nothing
// known, so it draws the same pages every time; new pages are explored on
// every local run, each with its own seed, and by the fuzz targets.
const ciSeed = 20261202

// seed returns the seed for random pages and chunking: $BESPOKE_SEED when
// set, ciSeed under CI, else the time. Tests print it when they fail, so
// that a failure reproduces.
func seed(t testing.TB) uint64 {
	if s := os.Getenv("BESPOKE_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("BESPOKE_SEED=%q: %v", s, err)
		}
		return v
	}
	if os.Getenv("CI") != "" {
		return ciSeed
	}
	return uint64(time.Now().UnixNano())
}

// chunker returns chunk sizes: a fixed size, or with size 0 random sizes
// from 1 to 64.
func chunker(size int, rng *rand.Rand) func() int {
	if size > 0 {
		return func() int { return size }
	}
	return func() int { return 1 + rng.IntN(64) }
}

// rewrite runs one rewrite of in, written in chunks.
func rewrite(t testing.TB, prog *Program, edits []Edit, opt Options, in string, chunk func() int) (string, []int) {
	t.Helper()
	var out bytes.Buffer
	rw := prog.NewRewriter(&out, edits, opt)
	for len(in) > 0 {
		n := min(chunk(), len(in))
		if k, err := rw.Write([]byte(in[:n])); k != n || err != nil {
			t.Fatalf("Write: %d, %v", k, err)
		}
		in = in[n:]
	}
	if err := rw.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	applied := rw.Applied()
	rw.Release()
	return out.String(), applied
}

// run rewrites in with edits on sels, whole and in every chunking, checks
// that the results agree, and returns it.
func run(t *testing.T, sels []string, edits []Edit, opt Options, in string) (string, []int) {
	t.Helper()
	prog, err := CompileStrings(sels)
	if err != nil {
		t.Fatal(err)
	}
	want, applied := rewrite(t, prog, edits, opt, in, chunker(len(in)+1, nil))
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 1))
	for _, size := range []int{1, 2, 3, 7, 0, 0} {
		got, gotApplied := rewrite(t, prog, edits, opt, in, chunker(size, rng))
		if got != want || !slices.Equal(gotApplied, applied) {
			t.Fatalf("written in chunks of %d (BESPOKE_SEED=%d), the result differs:\nwhole:  %s %v\nchunks: %s %v", size, s, short(want), applied, short(got), gotApplied)
		}
	}
	return want, applied
}

// short quotes s for a message, eliding the middle of a long one.
func short(s string) string {
	if len(s) > 300 {
		return fmt.Sprintf("%q...(%d bytes)...%q", s[:150], len(s)-300, s[len(s)-150:])
	}
	return fmt.Sprintf("%q", s)
}

// trace shows where the rewriter sees elements: each one is wrapped in
// [ and ].
func trace(t *testing.T, in string) string {
	t.Helper()
	out, _ := run(t, []string{"*"}, []Edit{
		{Selector: 0, Op: InsertBefore, Content: []byte("[")},
		{Selector: 0, Op: InsertAfter, Content: []byte("]")},
	}, Options{leftOut: true}, in)
	return out
}

func TestTokenizer(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"elements", `<div><p>a</p><span>b</span></div>`, `[<div>[<p>a</p>][<span>b</span>]</div>]`},
		{"text only", `just text & more`, `just text & more`},
		{"uppercase", `<DIV CLASS=x><P>a</P></DIV>`, `[<DIV CLASS=x>[<P>a</P>]</DIV>]`},
		{"mixed case end tag", `<Section>x</SECTION>`, `[<Section>x</SECTION>]`},
		{"double-quoted >", `<a title="a>b">x</a>`, `[<a title="a>b">x</a>]`},
		{"single-quoted >", `<a title='a>b'>x</a>`, `[<a title='a>b'>x</a>]`},
		{"unquoted value", `<a href=/x?a=1&b=2>x</a>`, `[<a href=/x?a=1&b=2>x</a>]`},
		{"valueless", `<input disabled><b>x</b>`, `[<input disabled>][<b>x</b>]`},
		{"quote inside a name", `<a b"c>x</a>`, `[<a b"c>x</a>]`},
		{"quote in unquoted value", `<a b=c"d>x</a>`, `[<a b=c"d>x</a>]`},
		{"= before value", `<a b= "x>y">z</a>`, `[<a b= "x>y">z</a>]`},
		{"missing value", `<a b=>x</a>`, `[<a b=>x</a>]`},
		{"newlines in tag", "<a\nhref='x'\n>y</a\n>", "[<a\nhref='x'\n>y</a\n>]"},
		{"comment", `<!-- <p>not</p> --><p>yes</p>`, `<!-- <p>not</p> -->[<p>yes</p>]`},
		{"comment with dashes", `<!-- a -- b ---><i>x</i>`, `<!-- a -- b --->[<i>x</i>]`},
		{"comment --!>", `<!-- a --!><i>x</i>`, `<!-- a --!>[<i>x</i>]`},
		{"empty comments", `<!--><i>x</i><!---><b>y</b><!----><s>z</s>`, `<!-->[<i>x</i>]<!--->[<b>y</b>]<!---->[<s>z</s>]`},
		{"doctype", `<!DOCTYPE html><html></html>`, `<!DOCTYPE html>[<html>]</html>`},
		{"bogus comment ?", `<?xml version="1.0"?><b>x</b>`, `<?xml version="1.0"?>[<b>x</b>]`},
		{"bogus comment !", `<!ELEMENT x><b>x</b>`, `<!ELEMENT x>[<b>x</b>]`},
		{"bogus end tag", `</ x><b>x</b></3>`, `</ x>[<b>x</b>]</3>`},
		{"empty end tag", `</><b>x</b>`, `</>[<b>x</b>]`},
		{"cdata in html is a bogus comment", `<![CDATA[<b>]]><i>x</i>`, `<![CDATA[<b>]]>[<i>x</i>]`},
		{"cdata in svg", `<svg><![CDATA[<b>x</b>]]></svg>`, `[<svg><![CDATA[<b>x</b>]]></svg>]`},
		{"lone <", `a < b <3 <= c<`, `a < b <3 <= c<`},
		{"< before a letter in text", `1 <b 2`, `1 <b 2`},
		{"script", `<script>if (a<b) document.write("<div></div>")</script><p>x</p>`, `[<script>if (a<b) document.write("<div></div>")</script>][<p>x</p>]`},
		{"script end tag with space", `<script>x</script ><p>y</p>`, `[<script>x</script >][<p>y</p>]`},
		{"script not ended by </scriptx>", `<script>a</scriptx>b</script>`, `[<script>a</scriptx>b</script>]`},
		{"script escape", `<script><!-- x </script><p>y</p>`, `[<script><!-- x </script>][<p>y</p>]`},
		{"script double escape", `<script><!--<script></script>--></script><p>y</p>`, `[<script><!--<script></script>--></script>][<p>y</p>]`},
		{"script escape ended", `<script><!-- a --> <script> </script><p>y</p>`, `[<script><!-- a --> <script> </script>][<p>y</p>]`},
		{"script <!--> ", `<script><!--><script></script><p>y</p>`, `[<script><!--><script></script>][<p>y</p>]`},
		{"style", `<style>a > b { x: "</p>" }</style><p>x</p>`, `[<style>a > b { x: "</p>" }</style>][<p>x</p>]`},
		{"textarea", `<textarea><b>x</b></textarea><b>y</b>`, `[<textarea><b>x</b></textarea>][<b>y</b>]`},
		{"title", `<title>a <b> c</title><b>y</b>`, `[<title>a <b> c</title>][<b>y</b>]`},
		{"uppercase raw end", `<SCRIPT>x</ScRiPt><b>y</b>`, `[<SCRIPT>x</ScRiPt>][<b>y</b>]`},
		{"noscript", `<noscript><img src=x></noscript>`, `[<noscript><img src=x></noscript>]`},
		{"plaintext", `<plaintext><b>x</b></plaintext>`, `[<plaintext><b>x</b></plaintext>]`},
		{"void", `<p>a<br>b<img src=x>c<hr><input></p>`, `[<p>a[<br>]b[<img src=x>]c]` + `[<hr>][<input>]</p>`},
		{"all voids", `<area><base><br><embed><hr><img><input><link><meta><source><track><wbr><param><table><col></table>`,
			`[<area>][<base>][<br>][<embed>][<hr>][<img>][<input>][<link>][<meta>][<source>][<track>][<wbr>][<param>][<table>[<col>]</table>]`},
		{"void self-closing", `<br/><img src="x"/>`, `[<br/>][<img src="x"/>]`},
		{"self-closing div is a start tag", `<div/>a</div>b`, `[<div/>a</div>]b`},
		{"slash in unquoted value", `<a href=/>x</a>`, `[<a href=/>x</a>]`},
		{"svg self-closing", `<svg><path d="M0"/><g/></svg>`, `[<svg>[<path d="M0"/>][<g/>]</svg>]`},
		{"svg title is not rcdata", `<svg><title><b>x</b></title></svg>`, `[<svg>[<title>[<b>x</b>]</title>]</svg>]`},
		{"html breaks out of svg", `<svg><path><p>x</p>`, `[<svg>[<path>]][<p>x</p>]`},
		{"foreignObject holds html", `<svg><foreignObject><div/>x</div></foreignObject></svg>`, `[<svg>[<foreignObject>[<div/>x</div>]</foreignObject>]</svg>]`},
		{"math", `<math><mi>x</mi></math>`, `[<math>[<mi>x</mi>]</math>]`},
		{"entities untouched", `<p title="&amp;&quot;">&lt;&nbsp;&#x41;</p>`, `[<p title="&amp;&quot;">&lt;&nbsp;&#x41;</p>]`},
		{"utf-8 and bom", "\ufeff<p>héllo ✓</p>", "\ufeff[<p>héllo ✓</p>]"},
		{"invalid utf-8", "<p>\xff\xfe</p>", "[<p>\xff\xfe</p>]"},
		{"custom elements", `<my-card><x-a>1</x-a></my-card>`, `[<my-card>[<x-a>1</x-a>]</my-card>]`},
		{"long names", `<blockquote><figcaption>x</figcaption></blockquote>`, `[<blockquote>[<figcaption>x</figcaption>]</blockquote>]`},
		{"unclosed at the end", `<div><p>a`, `[<div>[<p>a]]`},
		{"unfinished tag at the end", `<div>a<p class="x`, `[<div>a<p class="x]`},
		{"unfinished comment at the end", `<b>a</b><!-- x`, `[<b>a</b>]<!-- x`},
		{"unfinished script at the end", `<script>x</scr`, `[<script>x</scr]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := trace(t, tt.in); got != tt.want {
				t.Errorf("\n in:   %s\n got:  %s\n want: %s", tt.in, got, tt.want)
			}
		})
	}
}

// TestImpliedEndTags checks where elements end when their end tags are
// left out or misplaced, as HTML's tree builder decides.
func TestImpliedEndTags(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"p closes p", `<p>a<p>b`, `[<p>a][<p>b]`},
		{"block closes p", `<p>a<div>b</div>`, `[<p>a][<div>b</div>]`},
		{"inline does not close p", `<p>a<span>b</span>c</p>`, `[<p>a[<span>b</span>]c</p>]`},
		{"end of parent closes p", `<div><p>a</div>b`, `[<div>[<p>a]</div>]b`},
		{"p in button scope", `<p><button><p>x</button>`, `[<p>[<button>[<p>x]</button>]]`},
		{"li closes li", `<ul><li>a<li>b</ul>`, `[<ul>[<li>a][<li>b]</ul>]`},
		{"nested lists", `<ul><li>a<ul><li>b</ul><li>c</ul>`, `[<ul>[<li>a[<ul>[<li>b]</ul>]][<li>c]</ul>]`},
		{"li closes p inside li", `<ul><li><p>a<li>b</ul>`, `[<ul>[<li>[<p>a]][<li>b]</ul>]`},
		{"dt and dd", `<dl><dt>a<dd>b<dt>c</dl>`, `[<dl>[<dt>a][<dd>b][<dt>c]</dl>]`},
		{"option", `<select><option>a<option>b</select>`, `[<select>[<option>a][<option>b]</select>]`},
		{"optgroup closes option", `<select><option>a<optgroup><option>b</select>`, `[<select>[<option>a][<optgroup>[<option>b]]</select>]`},
		{"table cells and rows", `<table><tr><td>a<td>b<tr><th>c</table>`, `[<table>[<tr>[<td>a][<td>b]][<tr>[<th>c]]</table>]`},
		{"table sections", `<table><thead><tr><th>h<tbody><tr><td>d</table>`, `[<table>[<thead>[<tr>[<th>h]]][<tbody>[<tr>[<td>d]]]</table>]`},
		{"headings", `<h1>a<h2>b</h2>`, `[<h1>a][<h2>b</h2>]`},
		{"heading end tag of another level", `<h1>a</h2>b`, `[<h1>a</h2>]b`},
		{"a closes a", `<a href=1>x<a href=2>y</a>`, `[<a href=1>x][<a href=2>y</a>]`},
		{"head ends at a body element", `<html><head><title>t</title><div>x</div>`, `[<html>[<head>[<title>t</title>]][<div>x</div>]]`},
		{"body and html end tags close nothing", `<body><div><p>x</body></html><i>y</i>`, `[<body>[<div>[<p>x</body></html>[<i>y</i>]]]]`},
		{"stray end tag ignored", `<div>a</span>b</div>`, `[<div>a</span>b</div>]`},
		{"end tag closes inner elements", `<div><span><b>x</div>`, `[<div>[<span>[<b>x]]</div>]`},
		{"end tag stops at a special element", `<span><div>x</span>y</div>`, `[<span>[<div>x</span>y</div>]]`},
		{"block end tag crosses specials", `<section><div>x</section>`, `[<section>[<div>x]</section>]`},
		{"end tag stops at a scope boundary", `<div><table><tr><td>x</div></td></tr></table></div>`, `[<div>[<table>[<tr>[<td>x</div></td>]</tr>]</table>]</div>]`},
		{"second body is not an element", `<body><body class=x>a</body>`, `[<body><body class=x>a]</body>`},
		{"end tag of a void element", `<div>a</br>b</img></div>`, `[<div>a</br>b</img></div>]`},
		{"li end tag outside a list scope", `<li>a<ul><li>b</li></ul></li>`, `[<li>a[<ul>[<li>b</li>]</ul>]</li>]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := trace(t, tt.in); got != tt.want {
				t.Errorf("\n in:   %s\n got:  %s\n want: %s", tt.in, got, tt.want)
			}
		})
	}
}

type op struct {
	sel string
	e   Edit
}

// edits builds a selector list and edits from sel/edit pairs.
func edits(ops ...op) ([]string, []Edit) {
	var sels []string
	var es []Edit
	for _, o := range ops {
		i := slices.Index(sels, o.sel)
		if i < 0 {
			sels = append(sels, o.sel)
			i = len(sels) - 1
		}
		e := o.e
		e.Selector = i
		es = append(es, e)
	}
	return sels, es
}

func content(op Op, s string) Edit { return Edit{Op: op, Content: []byte(s)} }

func TestOps(t *testing.T) {
	tests := []struct {
		name    string
		ops     []op
		in      string
		want    string
		applied []int
	}{
		{"set_inner", []op{{"#a", content(SetInner, "<b>new</b>")}}, `<div id=a>old <i>x</i></div>`, `<div id=a><b>new</b></div>`, []int{1}},
		{"set_inner on raw text", []op{{"script", content(SetInner, "x=1")}}, `<script>var a="</div>"</script>`, `<script>x=1</script>`, []int{1}},
		{"set_inner with implied end", []op{{"li", content(SetInner, "n")}}, `<ul><li>a<li>b</ul>`, `<ul><li>n<li>n</ul>`, []int{2}},
		{"set_inner on void does nothing", []op{{"img", content(SetInner, "x")}}, `<img src=a>`, `<img src=a>`, []int{0}},
		{"replace", []op{{"#a", content(Replace, "<p>R</p>")}}, `a<div id=a>x<br></div>b`, `a<p>R</p>b`, []int{1}},
		{"replace void", []op{{"img", content(Replace, "[img]")}}, `<p><img src=x>!</p>`, `<p>[img]!</p>`, []int{1}},
		{"remove", []op{{".ad", Edit{Op: Remove}}}, `<div>a<div class=ad>x<p>y</div>b</div>`, `<div>ab</div>`, []int{1}},
		// The tag dropped ended the li before it: its end tag is
		// written, so that what follows is not in it.
		{"remove implied-closed", []op{{"li.x", Edit{Op: Remove}}}, `<ul><li>a<li class=x>b<li>c</ul>`, `<ul><li>a</li><li>c</ul>`, []int{1}},
		{"remove void", []op{{"br", Edit{Op: Remove}}}, `a<br>b<br/>c`, `abc`, []int{2}},
		{"remove unclosed to the end", []op{{"div", Edit{Op: Remove}}}, `a<div>b<p>c`, `a`, []int{1}},
		{"remove_keep_content", []op{{"#w", Edit{Op: RemoveKeepContent}}}, `<div id=w><p>a</p>b</div>`, `<p>a</p>b`, []int{1}},
		{"remove_keep_content void", []op{{"br", Edit{Op: RemoveKeepContent}}}, `a<br>b`, `ab`, []int{1}},
		{"insert_before", []op{{"p", content(InsertBefore, "<hr>")}}, `<div><p>a</p></div>`, `<div><hr><p>a</p></div>`, []int{1}},
		{"insert_after", []op{{"p", content(InsertAfter, "<hr>")}}, `<div><p>a</p>b</div>`, `<div><p>a</p><hr>b</div>`, []int{1}},
		// After the element, where the browser has it: its end tag first.
		{"insert_after implied end", []op{{"p", content(InsertAfter, "|")}}, `<p>a<p>b<div>c</div>`, `<p>a</p>|<p>b</p>|<div>c</div>`, []int{2}},
		{"insert_after void", []op{{"img", content(InsertAfter, "!")}}, `<img src=a><br>`, `<img src=a>!<br>`, []int{1}},
		{"insert_after at the end", []op{{"div", content(InsertAfter, "!")}}, `<div>a`, `<div>a!`, []int{1}},
		{"prepend", []op{{"ul", content(Prepend, "<li>0")}}, `<ul><li>1</ul>`, `<ul><li>0<li>1</ul>`, []int{1}},
		{"prepend to void does nothing", []op{{"br", content(Prepend, "x")}}, `<br>`, `<br>`, []int{0}},
		{"append", []op{{"ul", content(Append, "<li>9")}}, `<ul><li>1</ul>`, `<ul><li>1<li>9</ul>`, []int{1}},
		{"append before implied end", []op{{"li", content(Append, "!")}}, `<ul><li>a<li>b</ul>`, `<ul><li>a!<li>b!</ul>`, []int{2}},
		{"append at the end of the page", []op{{"body", content(Append, "<script>x</script>")}}, `<body><p>a`, `<body><p>a<script>x</script>`, []int{1}},
		{"append to void does nothing", []op{{"input", content(Append, "x")}}, `<input>`, `<input>`, []int{0}},
		{"set_attr existing", []op{{"a", Edit{Op: SetAttr, Attr: "href", Value: "/fr/?a=1&b=\"2\""}}}, `<a class=x href='/en/' id=y>go</a>`, `<a class=x href="/fr/?a=1&amp;b=&quot;2&quot;" id=y>go</a>`, []int{1}},
		{"set_attr new", []op{{"a", Edit{Op: SetAttr, Attr: "rel", Value: "nofollow"}}}, `<a href=x>go</a>`, `<a href=x rel="nofollow">go</a>`, []int{1}},
		{"set_attr new on self-closing", []op{{"img", Edit{Op: SetAttr, Attr: "alt", Value: ""}}}, `<img src="x" />`, `<img src="x" alt="" />`, []int{1}},
		{"set_attr case-insensitive name", []op{{"a", Edit{Op: SetAttr, Attr: "href", Value: "y"}}}, `<a HREF=x>go</a>`, `<a HREF="y">go</a>`, []int{1}},
		{"set_attr valueless", []op{{"input", Edit{Op: SetAttr, Attr: "disabled", Value: "disabled"}}}, `<input disabled type=text>`, `<input disabled="disabled" type=text>`, []int{1}},
		{"remove_attr", []op{{"img", Edit{Op: RemoveAttr, Attr: "loading"}}}, `<img src=x loading="lazy" alt=y>`, `<img src=x alt=y>`, []int{1}},
		{"remove_attr duplicates", []op{{"a", Edit{Op: RemoveAttr, Attr: "x"}}}, `<a x=1 y=2 x=3>z</a>`, `<a y=2>z</a>`, []int{1}},
		{"remove_attr absent", []op{{"a", Edit{Op: RemoveAttr, Attr: "x"}}}, `<a y=2>z</a>`, `<a y=2>z</a>`, []int{0}},
		{"add_class", []op{{"body", Edit{Op: AddClass, Attr: "fr"}}}, `<body class="a b">`, `<body class="a b fr">`, []int{1}},
		{"add_class no class attribute", []op{{"body", Edit{Op: AddClass, Attr: "fr"}}}, `<body id=x>`, `<body id=x class="fr">`, []int{1}},
		{"add_class present", []op{{"body", Edit{Op: AddClass, Attr: "a"}}}, `<body class="a b">`, `<body class="a b">`, []int{0}},
		{"add_class single-quoted with a quote", []op{{"p", Edit{Op: AddClass, Attr: "z"}}}, `<p class='a"b'>`, `<p class="a&quot;b z">`, []int{1}},
		{"remove_class", []op{{"body", Edit{Op: RemoveClass, Attr: "dark"}}}, `<body class="dark theme">`, `<body class="theme">`, []int{1}},
		{"remove_class last", []op{{"body", Edit{Op: RemoveClass, Attr: "dark"}}}, `<body id=b class="dark">`, `<body id=b>`, []int{1}},
		{"remove_class absent", []op{{"body", Edit{Op: RemoveClass, Attr: "x"}}}, `<body class="dark">`, `<body class="dark">`, []int{0}},
		{"attribute edit keeps other bytes", []op{{"a", Edit{Op: AddClass, Attr: "c"}}}, "<a  data-x = 'y'\nclass=b   title=\"t\" >", "<a  data-x = 'y'\nclass=\"b c\"   title=\"t\" >", []int{1}},
		{"bad attribute name does nothing", []op{{"a", Edit{Op: SetAttr, Attr: "on click", Value: "x"}}}, `<a>`, `<a>`, []int{0}},
		{"bad class does nothing", []op{{"a", Edit{Op: AddClass, Attr: "a b"}}}, `<a>`, `<a>`, []int{0}},
		{"selector index out of range", []op{{"a", Edit{Op: Remove}}}, `<a>`, `<a>`, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sels, es := edits(tt.ops...)
			if tt.name == "selector index out of range" {
				es[0].Selector = 7
			}
			got, applied := run(t, sels, es, Options{}, tt.in)
			if got != tt.want {
				t.Errorf("\n in:   %s\n got:  %s\n want: %s", tt.in, got, tt.want)
			}
			if !slices.Equal(applied, tt.applied) {
				t.Errorf("applied %v, want %v", applied, tt.applied)
			}
		})
	}
}

func TestConflicts(t *testing.T) {
	tests := []struct {
		name    string
		ops     []op
		in      string
		want    string
		applied []int
	}{
		{"first content edit wins", []op{
			{"#a", content(SetInner, "1")}, {"div", content(Replace, "2")}, {"div", Edit{Op: Remove}},
		}, `<div id=a>x</div>`, `<div id=a>1</div>`, []int{1, 0, 0}},
		{"remove before set_inner", []op{
			{"div", Edit{Op: Remove}}, {"#a", content(SetInner, "1")},
		}, `<div id=a>x</div>y`, `y`, []int{1, 0}},
		{"set_inner on void does not claim", []op{
			{"img", content(SetInner, "1")}, {"img", Edit{Op: Remove}},
		}, `a<img>b`, `ab`, []int{0, 1}},
		{"first set_attr of a name wins", []op{
			{"a", Edit{Op: SetAttr, Attr: "href", Value: "1"}}, {"a", Edit{Op: SetAttr, Attr: "HREF", Value: "2"}}, {"a", Edit{Op: RemoveAttr, Attr: "href"}},
		}, `<a href=x>`, `<a href="1">`, []int{1, 0, 0}},
		{"remove_attr before set_attr", []op{
			{"a", Edit{Op: RemoveAttr, Attr: "href"}}, {"a", Edit{Op: SetAttr, Attr: "href", Value: "2"}},
		}, `<a href=x>`, `<a>`, []int{1, 0}},
		{"set_attr of different names", []op{
			{"a", Edit{Op: SetAttr, Attr: "href", Value: "1"}}, {"a", Edit{Op: SetAttr, Attr: "title", Value: "2"}},
		}, `<a href=x>`, `<a href="1" title="2">`, []int{1, 1}},
		{"class edits all apply in order", []op{
			{"p", Edit{Op: AddClass, Attr: "x"}}, {"p", Edit{Op: RemoveClass, Attr: "x"}}, {"p", Edit{Op: AddClass, Attr: "y"}},
		}, `<p class=a>`, `<p class="a y">`, []int{1, 1, 1}},
		{"inserts all apply in order", []op{
			{"p", content(InsertBefore, "1")}, {"p", content(InsertBefore, "2")},
			{"p", content(Prepend, "3")}, {"p", content(Prepend, "4")},
			{"p", content(Append, "5")}, {"p", content(Append, "6")},
			{"p", content(InsertAfter, "7")}, {"p", content(InsertAfter, "8")},
		}, `<p>x</p>`, `12<p>34x56</p>78`, []int{1, 1, 1, 1, 1, 1, 1, 1}},
		{"set_inner keeps attributes, prepend and append", []op{
			{"p", content(Prepend, "[")}, {"p", content(SetInner, "new")}, {"p", content(Append, "]")}, {"p", Edit{Op: AddClass, Attr: "c"}},
		}, `<p>old</p>`, `<p class="c">[new]</p>`, []int{1, 1, 1, 1}},
		{"replace drops attribute edits, prepend and append", []op{
			{"p", content(InsertBefore, "<")}, {"p", content(Replace, "R")}, {"p", content(Append, "x")},
			{"p", Edit{Op: AddClass, Attr: "c"}}, {"p", content(InsertAfter, ">")},
		}, `<p>old</p>`, `<R>`, []int{1, 1, 0, 0, 1}},
		{"remove keeps insert before and after", []op{
			{"p", Edit{Op: Remove}}, {"p", content(InsertBefore, "<")}, {"p", content(InsertAfter, ">")},
		}, `a<p>old</p>b`, `a<>b`, []int{1, 1, 1}},
		{"remove_keep_content keeps prepend and append", []op{
			{"div", Edit{Op: RemoveKeepContent}}, {"div", content(Prepend, "[")}, {"div", content(Append, "]")}, {"div", Edit{Op: AddClass, Attr: "c"}},
		}, `<div>x</div>`, `[x]`, []int{1, 1, 1, 0}},
		{"nothing applies inside removed content", []op{
			{"#a", Edit{Op: Remove}}, {"p", content(InsertAfter, "!")},
		}, `<div id=a><p>x</p></div><p>y</p>`, `<p>y</p>!`, []int{1, 1}},
		{"nothing applies inside replaced inner content", []op{
			{"ul", content(SetInner, "<li>n")}, {"li", Edit{Op: AddClass, Attr: "c"}},
		}, `<ul><li>a<li>b</ul>`, `<ul><li>n</ul>`, []int{1, 0}},
		{"edits apply inside kept content", []op{
			{"div", Edit{Op: RemoveKeepContent}}, {"p", Edit{Op: AddClass, Attr: "c"}},
		}, `<div><p>x</p></div>`, `<p class="c">x</p>`, []int{1, 1}},
		{"nested elements both edited", []op{
			{"div", content(Append, "!")},
		}, `<div><div>a</div></div>`, `<div><div>a!</div>!</div>`, []int{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sels, es := edits(tt.ops...)
			got, applied := run(t, sels, es, Options{}, tt.in)
			if got != tt.want {
				t.Errorf("\n in:   %s\n got:  %s\n want: %s", tt.in, got, tt.want)
			}
			if !slices.Equal(applied, tt.applied) {
				t.Errorf("applied %v, want %v", applied, tt.applied)
			}
		})
	}
}

// TestSelectors checks which elements selectors match, by the elements
// an AddClass marks.
func TestSelectors(t *testing.T) {
	const page = `<html><body id=top class="home dark">` +
		`<nav><ul class=menu><li class="item first">a</li><li class=item>b</li><li class="item active">c</li><li class=item>d</li></ul></nav>` +
		`<main><h1 lang=en-US>T</h1><p data-x="a b" title="Hello World">p1</p><p data-x=ab>p2</p><span>s</span><p>p3</p>` +
		`<a href="https://x.test/a.PNG">l</a><a href="/local">m</a><custom-el data-id=7>c</custom-el></main></body></html>`
	tests := []struct {
		sel  string
		want []string // the text of the marked elements
	}{
		{"li", []string{"a", "b", "c", "d"}},
		{"LI", []string{"a", "b", "c", "d"}},
		{"li.active", []string{"c"}},
		{".item.first", []string{"a"}},
		{"#top", []string{"body"}},
		{"ul > li", []string{"a", "b", "c", "d"}},
		{"nav li", []string{"a", "b", "c", "d"}},
		{"body > li", nil},
		{"body li", []string{"a", "b", "c", "d"}},
		{"#top.home > nav > ul li", []string{"a", "b", "c", "d"}},
		{"li:first-child", []string{"a"}},
		{"li:nth-child(2n)", []string{"b", "d"}},
		{"li:nth-child(odd)", []string{"a", "c"}},
		{"li:nth-child(-n+2)", []string{"a", "b"}},
		{"main > :nth-child(3)", []string{"p2"}},
		{"p:nth-of-type(2)", []string{"p2"}},
		{"p:first-of-type", []string{"p1"}},
		{"main > :first-of-type", []string{"T", "p1", "s", "l", "c"}},
		{"li:not(.active)", []string{"a", "b", "d"}},
		{"li:not(.active, :first-child)", []string{"b", "d"}},
		{"main :not(p, a)", []string{"T", "s", "c"}},
		{":not(nav li):not(html, body, nav, ul, main)", []string{"T", "p1", "p2", "s", "p3", "l", "m", "c"}},
		{"[data-x]", []string{"p1", "p2"}},
		{"[data-x=ab]", []string{"p2"}},
		{`[data-x~="b"]`, []string{"p1"}},
		{`[title^=Hell]`, []string{"p1"}},
		{`[title$=World]`, []string{"p1"}},
		{`[title*="o W"]`, []string{"p1"}},
		{`[title="hello world" i]`, []string{"p1"}},
		{`[lang|=en]`, []string{"T"}},
		{`a[href$=".png" i]`, []string{"l"}},
		{`a[href^="/"]`, []string{"m"}},
		{"custom-el", []string{"c"}},
		{"[data-id='7']", []string{"c"}},
		{"h1, span", []string{"T", "s"}},
		{"nav a, #nothing", nil},
		{"*.item:nth-child(4)", []string{"d"}},
	}
	for _, tt := range tests {
		t.Run(tt.sel, func(t *testing.T) {
			out, _ := run(t, []string{tt.sel}, []Edit{{Selector: 0, Op: InsertBefore, Content: []byte("@")}}, Options{}, page)
			// Each match is named by the text that follows its start tag,
			// or by its tag name when a tag follows.
			var got []string
			for _, part := range strings.Split(out, "@")[1:] {
				gt := strings.IndexByte(part, '>')
				txt := part[gt+1:]
				txt = txt[:strings.IndexAny(txt+"<", "<@")]
				if txt == "" {
					txt = strings.FieldsFunc(part, func(r rune) bool { return r == '<' || r == ' ' || r == '>' })[0]
				}
				got = append(got, txt)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s matched %q, want %q\n%s", tt.sel, got, tt.want, out)
			}
		})
	}
}

// TestForeignNamespacedAttributes: in svg and math the parser puts
// xmlns, xml:lang and the XLink attributes in a namespace, which an
// attribute selector without one never matches (as in Chromium, found by
// TestRealPagesChromium on a Wikipedia page's <math xmlns=...>); on HTML
// elements they are ordinary attributes.
func TestForeignNamespacedAttributes(t *testing.T) {
	const page = `<div xmlns="http://www.w3.org/1999/xhtml" xml:lang=fr>x</div>` +
		`<math xmlns="http://www.w3.org/1998/Math/MathML" xml:lang=fr><mi>mi</mi></math>` +
		`<svg xmlns:xlink="http://www.w3.org/1999/xlink"><a xlink:href="#s" href="#h">sa</a></svg>`
	for sel, want := range map[string]int{
		`[xmlns^="htt"]`: 1, `[xml\:lang]`: 1, `[xmlns\:xlink]`: 0, `[xlink\:href]`: 0, `svg a[href]`: 1, `[href]`: 1,
	} {
		out, _ := run(t, []string{sel}, []Edit{{Selector: 0, Op: InsertBefore, Content: []byte("@")}}, Options{}, page)
		if got := strings.Count(out, "@"); got != want {
			t.Errorf("%s: %d matches, want %d\n%s", sel, got, want, out)
		}
	}
}

type fakeSeen struct {
	seen  map[string]bool
	shown []string
}

func (f *fakeSeen) Recency(id string) int {
	if f.seen[id] {
		return 1
	}
	return 0
}
func (f *fakeSeen) Shown(id string) { f.shown = append(f.shown, strings.Clone(id)) }

func seenSet(ids ...string) *fakeSeen {
	f := &fakeSeen{seen: map[string]bool{}}
	for _, id := range ids {
		f.seen[id] = true
	}
	return f
}

func TestListEdits(t *testing.T) {
	const list = "<ul>\n <li id=a>A</li>\n <li id=b>B</li>\n <li id=c>C</li>\n <li id=d>D</li>\n</ul>"
	tests := []struct {
		name    string
		ops     []op
		seen    []string
		in      string
		want    string
		applied []int
		shown   []string
	}{
		{"limit", []op{{"li", Edit{Op: Limit, N: 2}}}, nil, list,
			"<ul>\n <li id=a>A</li>\n <li id=b>B</li>\n \n \n</ul>", []int{2}, nil},
		{"limit 0", []op{{"li", Edit{Op: Limit, N: 0}}}, nil, list,
			"<ul>\n \n \n \n \n</ul>", []int{4}, nil},
		{"limit more than there are", []op{{"li", Edit{Op: Limit, N: 9}}}, nil, list, list, []int{0}, nil},
		{"limit per parent", []op{{"li", Edit{Op: Limit, N: 1}}}, nil, `<ul><li>1<li>2</ul><ul><li>3<li>4</ul>`,
			`<ul><li>1</li></ul><ul><li>3</li></ul>`, []int{2}, nil},
		{"limit with implied ends", []op{{"li", Edit{Op: Limit, N: 1}}}, nil, `<ul><li>1<li>2<li>3</ul>x`, `<ul><li>1</li></ul>x`, []int{2}, nil},
		{"limit counts matched siblings only", []op{{"li.x", Edit{Op: Limit, N: 1}}}, nil,
			`<ul><li>1<li class=x>2<li>3<li class=x>4</ul>`, `<ul><li>1<li class=x>2</li><li>3</li></ul>`, []int{1}, nil},
		{"reorder", []op{{"li", Edit{Op: Reorder, Attr: "id", Order: []string{"c", "a"}}}}, nil, list,
			"<ul>\n <li id=c>C</li>\n <li id=a>A</li>\n <li id=b>B</li>\n <li id=d>D</li>\n</ul>", []int{3}, nil},
		{"reorder unknown ids", []op{{"li", Edit{Op: Reorder, Attr: "id", Order: []string{"x", "d"}}}}, nil, list,
			"<ul>\n <li id=d>D</li>\n <li id=a>A</li>\n <li id=b>B</li>\n <li id=c>C</li>\n</ul>", []int{4}, nil},
		{"reorder already in order", []op{{"li", Edit{Op: Reorder, Attr: "id", Order: []string{"a", "b"}}}}, nil, list, list, []int{0}, nil},
		{"reorder keeps other children in place", []op{{"li.m", Edit{Op: Reorder, Attr: "id", Order: []string{"2"}}}}, nil,
			`<ul><li class=m id=1>1</li><li>x</li><li class=m id=2>2</li></ul>`, `<ul><li class=m id=2>2</li><li>x</li><li class=m id=1>1</li></ul>`, []int{2}, nil},
		{"hide_seen", []op{{"li", Edit{Op: HideSeen, Attr: "id", N: 1}}}, []string{"a", "c"}, list,
			"<ul>\n \n <li id=b>B</li>\n \n <li id=d>D</li>\n</ul>", []int{2}, []string{"b", "d"}},
		{"hide_seen keeps at least N, earliest first", []op{{"li", Edit{Op: HideSeen, Attr: "id", N: 3}}}, []string{"a", "b", "c"}, list,
			"<ul>\n <li id=a>A</li>\n <li id=b>B</li>\n \n <li id=d>D</li>\n</ul>", []int{1}, []string{"a", "b", "d"}},
		{"hide_seen all seen, N 0", []op{{"li", Edit{Op: HideSeen, Attr: "id", N: 0}}}, []string{"a", "b", "c", "d"}, list,
			"<ul>\n \n \n \n \n</ul>", []int{4}, nil},
		{"hide_seen without ids", []op{{"li", Edit{Op: HideSeen, Attr: "data-id", N: 0}}}, []string{""}, list, list, []int{0}, nil},
		{"hide_seen entities in ids", []op{{"li", Edit{Op: HideSeen, Attr: "data-id", N: 0}}}, []string{"a&b"},
			`<ul><li data-id="a&amp;b">1<li data-id=c>2</ul>`, `<ul><li data-id=c>2</li></ul>`, []int{1}, []string{"c"}},
		{"limit then hide_seen", []op{{"li", Edit{Op: Limit, N: 3}}, {"li", Edit{Op: HideSeen, Attr: "id", N: 0}}}, []string{"b"}, list,
			"<ul>\n <li id=a>A</li>\n \n <li id=c>C</li>\n \n</ul>", []int{1, 1}, []string{"a", "c"}},
		{"reorder then limit", []op{{"li", Edit{Op: Reorder, Attr: "id", Order: []string{"d"}}}, {"li", Edit{Op: Limit, N: 2}}}, nil, list,
			"<ul>\n <li id=d>D</li>\n <li id=a>A</li>\n \n \n</ul>", []int{4, 2}, nil},
		{"items carry their inserts", []op{
			{"li", Edit{Op: Reorder, Attr: "id", Order: []string{"b"}}},
			{"li", content(InsertBefore, "<")}, {"li", content(InsertAfter, ">")}, {"li", Edit{Op: AddClass, Attr: "k"}},
		}, nil, `<ul><li id=a>A</li>-<li id=b>B</li></ul>`,
			`<ul><<li id=b class="k">B</li>>-<<li id=a class="k">A</li>></ul>`, []int{2, 2, 2, 2}, nil},
		{"nested lists", []op{{"li", Edit{Op: Limit, N: 1}}}, nil,
			`<ul><li>1<ul><li>1.1<li>1.2</ul><li>2</ul>`, `<ul><li>1<ul><li>1.1</li></ul></li></ul>`, []int{2}, nil},
		{"limit: what follows an item left open stays out of it", []op{{"div > p", Edit{Op: Limit, N: 1}}}, nil,
			`<div><p id=a>A<p id=b>B</p>tail</div>`, `<div><p id=a>A</p>tail</div>`, []int{1}, nil},
		{"reorder: the text after an item left open stays in place", []op{{"div > p", Edit{Op: Reorder, Attr: "id", Order: []string{"b"}}}}, nil,
			`<div><p id=a>A</p>tail<p id=b>B</div>`, `<div><p id=b>B</p>tail<p id=a>A</p></div>`, []int{2}, nil},
		{"reorder: an item a block ended", []op{{"div > p", Edit{Op: Reorder, Attr: "id", Order: []string{"b"}}}}, nil,
			`<div><p id=a>A<div>d</div><p id=b>B</p>tail</div>`, `<div><p id=b>B</p><div>d</div><p id=a>A</p>tail</div>`, []int{2}, nil},
		{"hide_seen: the next item's text stays out of the item before", []op{{"li", Edit{Op: HideSeen, Attr: "id"}}}, []string{"b"},
			`<ul><li id=a>A<li id=b>B</li>x</ul>`, `<ul><li id=a>A</li>x</ul>`, []int{1}, []string{"a"}},
		{"a list left open in a moved item", []op{{"li", Edit{Op: Reorder, Attr: "id", Order: []string{"b"}}}}, nil,
			`<ul><li id=a>A<li id=b>B<ol><li id=c>C`, `<ul><li id=b>B<ol><li id=c>C</li></ol></li><li id=a>A</li>`, []int{2}, nil},
		{"no end tag where a button left open would take it", []op{{"div > p", Edit{Op: Limit, N: 5}}}, nil,
			`<div><p id=a>A</p><p id=b>B<button>b</div>`, `<div><p id=a>A</p><p id=b>B<button>b</div>`, []int{0}, nil},
		{"items at the top level", []op{{"p", Edit{Op: Limit, N: 1}}}, nil, `<p>1<p>2`, `<p>1</p>`, []int{1}, nil},
		{"limit: what follows a hidden item that ended a paragraph stays out of it", []op{{"div > div", Edit{Op: Limit, N: 0}}}, nil,
			`<div><p>a<div id=x>X</div>b<span>c</span></div>`, `<div><p>a</p>b<span>c</span></div>`, []int{1}, nil},
		{"hide_seen: what follows a hidden item that ended a paragraph stays out of it", []op{{"section > div", Edit{Op: HideSeen, Attr: "id"}}}, []string{"b"},
			`<section><p>A<div id=b>B</div>x<div id=c>C</div></section>`, `<section><p>A</p>x<div id=c>C</div></section>`, []int{1}, []string{"c"}},
		{"removed item", []op{{"li", Edit{Op: Reorder, Attr: "id", Order: []string{"b"}}}, {"#a", Edit{Op: Remove}}}, nil,
			`<ul><li id=a>A</li><li id=b>B</li></ul>`, `<ul><li id=b>B</li></ul>`, []int{2, 1}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sels, es := edits(tt.ops...)
			prog, err := CompileStrings(sels)
			if err != nil {
				t.Fatal(err)
			}
			s := seed(t)
			rng := rand.New(rand.NewPCG(s, 2))
			for _, size := range []int{len(tt.in), 1, 0} {
				seen := seenSet(tt.seen...)
				got, applied := rewrite(t, prog, es, Options{Seen: seen}, tt.in, chunker(size, rng))
				if got != tt.want {
					t.Errorf("chunks of %d (BESPOKE_SEED=%d):\n in:   %q\n got:  %q\n want: %q", size, s, tt.in, got, tt.want)
				}
				if !slices.Equal(applied, tt.applied) {
					t.Errorf("applied %v, want %v", applied, tt.applied)
				}
				if !slices.Equal(seen.shown, tt.shown) {
					t.Errorf("shown %q, want %q", seen.shown, tt.shown)
				}
			}
		})
	}
}

func TestNilSeenSet(t *testing.T) {
	got, applied := run(t, []string{"li"}, []Edit{{Op: HideSeen, Attr: "id", N: 0}}, Options{}, `<ul><li id=a>1<li id=b>2</ul>`)
	if got != `<ul><li id=a>1</li><li id=b>2</li></ul>` || applied[0] != 0 {
		t.Errorf("with no SeenSet nothing is seen: got %q %v", got, applied)
	}
}

// TestIdentity checks that pages no edit matches come out unchanged,
// malformed or not.
func TestIdentity(t *testing.T) {
	pages := []string{
		"",
		"plain text",
		string(benchPage()),
		`<div class="a"><p>unclosed <b>bold <i>both</div></p>`,
		`<table><td>cell<tr><p>para</table></td>`,
		`<<>><</ <a <!-- <!-> <? </`,
		`<a href="unterminated>`,
		`<script>never ends <!-- <script>`,
		`<svg><path/><foreignObject><p>x</svg></p>`,
		"\xef\xbb\xbf<p>\x00\xff</p>",
		`<p title='a"b' data-x=c'd e="f'g">`,
		strings.Repeat("<div>", 300) + strings.Repeat("</div>", 299),
		`</body></html><p>after the end`,
		`<html><body><body><head><html>`,
	}
	sels, es := edits(
		op{"#none", Edit{Op: Remove}}, op{".none p", content(SetInner, "x")}, op{"li.none", Edit{Op: HideSeen, Attr: "id"}},
		op{"table > x", Edit{Op: AddClass, Attr: "y"}}, op{":not(*)", content(InsertBefore, "!")},
	)
	for i, p := range pages {
		got, applied := run(t, sels, es, Options{}, p)
		if got != p {
			t.Errorf("page %d changed:\n in:  %q\n out: %q", i, p, got)
		}
		if slices.ContainsFunc(applied, func(n int) bool { return n != 0 }) {
			t.Errorf("page %d: applied %v", i, applied)
		}
	}
	// No edits at all, and edits whose selectors are out of range.
	prog, _ := CompileStrings([]string{"p"})
	for _, es := range [][]Edit{nil, {{Selector: 3, Op: Remove}}} {
		for _, p := range pages {
			if got, _ := rewrite(t, prog, es, Options{}, p, chunker(5, nil)); got != p {
				t.Errorf("edits %v: page changed:\n in:  %q\n out: %q", es, p, got)
			}
		}
	}
}

// TestMemoryCap shows the graceful stop: past MaxBuffer the rewriter
// writes what it holds as it is and copies the rest through.
func TestMemoryCap(t *testing.T) {
	var items strings.Builder
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&items, "<li id=i%d>item %d</li>", i, i)
	}
	list := "<ul>" + items.String() + "</ul>"

	t.Run("list region over the cap", func(t *testing.T) {
		in := `<h1>t</h1>` + list + `<h1>u</h1>`
		sels, es := edits(op{"li", Edit{Op: Limit, N: 1}}, op{"h1", content(SetInner, "H")})
		got, applied := run(t, sels, es, Options{MaxBuffer: 1000}, in)
		// The first h1 was rewritten before the stop; the list and
		// everything after pass unchanged.
		want := `<h1>H</h1>` + list + `<h1>u</h1>`
		if got != want {
			t.Errorf("got  %s\nwant %s", short(got), short(want))
		}
		if !slices.Equal(applied, []int{0, 1}) {
			t.Errorf("applied %v", applied)
		}
		// With room, the same page is rewritten.
		got, _ = run(t, sels, es, Options{MaxBuffer: 1 << 20}, in)
		if want := `<h1>H</h1><ul><li id=i0>item 0</li></ul><h1>H</h1>`; got != want {
			t.Errorf("with room: got %q", got)
		}
	})
	t.Run("list region over the cap with an end tag split", func(t *testing.T) {
		// The bound is reached as the list's items are held, in a write
		// that ends in the middle of an end tag ("</" of "</li>"): that
		// unfinished tag went to the end of the page, after everything
		// copied through, where it belonged before the next write.
		in := `<h1>t</h1>` + list + `<h1>u</h1>`
		sels, es := edits(op{"li", Edit{Op: Limit, N: 1}}, op{"h1", content(SetInner, "H")})
		prog, err := CompileStrings(sels)
		if err != nil {
			t.Fatal(err)
		}
		want := `<h1>H</h1>` + list + `<h1>u</h1>`
		for i := range 40 {
			cut := strings.Index(in, fmt.Sprintf("item %d</", i)) + len(fmt.Sprintf("item %d</", i))
			sizes := []int{cut, len(in)}
			got, _ := rewrite(t, prog, es, Options{MaxBuffer: 1000}, in, func() int { n := sizes[0]; sizes = sizes[1:]; return n })
			if got != want {
				t.Fatalf("cut after %q: got  %s\nwant %s", in[cut-12:cut], short(got), short(want))
			}
			// And cut once more inside the next end tag.
			next := strings.Index(in, fmt.Sprintf("item %d</", i+1)) + len(fmt.Sprintf("item %d</", i+1))
			sizes = []int{cut, next - cut, len(in)}
			got, _ = rewrite(t, prog, es, Options{MaxBuffer: 1000}, in, func() int { n := sizes[0]; sizes = sizes[1:]; return n })
			if got != want {
				t.Fatalf("cut after %q and %q: got  %s\nwant %s", in[cut-12:cut], in[next-12:next], short(got), short(want))
			}
		}
	})
	t.Run("tag over the cap", func(t *testing.T) {
		// A tag split across writes is held until it ends; one longer
		// than the cap stops the rewrite. (Written whole, the tag is not
		// held, and the rewrite goes on.)
		long := `<p data-x="` + strings.Repeat("x", 5000) + `">a</p>`
		in := `<b>1</b>` + long + `<b>2</b>`
		prog, _ := CompileStrings([]string{"b"})
		got, applied := rewrite(t, prog, []Edit{{Op: SetInner, Content: []byte("B")}}, Options{MaxBuffer: 1000}, in, chunker(100, nil))
		if want := `<b>B</b>` + long + `<b>2</b>`; got != want || applied[0] != 1 {
			t.Errorf("got  %s %v\nwant %s", short(got), applied, short(want))
		}
	})
	t.Run("nesting over the cap", func(t *testing.T) {
		in := strings.Repeat("<div>", 100) + "<b>x</b>" + strings.Repeat("</div>", 100)
		got, _ := run(t, []string{"b"}, []Edit{{Op: SetInner, Content: []byte("B")}}, Options{MaxBuffer: 1000}, in)
		if got != in {
			t.Errorf("got %q", got)
		}
	})
	t.Run("long comments and scripts stream", func(t *testing.T) {
		in := `<!--` + strings.Repeat("c", 5000) + `--><script>` + strings.Repeat("s", 5000) + `</script><b>x</b>`
		got, _ := run(t, []string{"b"}, []Edit{{Op: SetInner, Content: []byte("B")}}, Options{MaxBuffer: 1000}, in)
		if want := strings.Replace(in, "<b>x</b>", "<b>B</b>", 1); got != want {
			t.Errorf("rewriting stopped on a long comment or script")
		}
	})
	t.Run("stop while an element ends", func(t *testing.T) {
		// The text before </ul> overflows the nested regions just as
		// they are about to close.
		in := `<div class=i><ul><li>a</li>` + strings.Repeat("x", 3000) + `</ul></div><div class=i>b</div>`
		sels, es := edits(op{"li", Edit{Op: Limit, N: 1}}, op{"div.i", Edit{Op: Limit, N: 5}}, op{"ul", content(Append, "!")})
		got, applied := run(t, sels, es, Options{MaxBuffer: 1000}, in)
		if got != in || !slices.Equal(applied, []int{0, 0, 0}) {
			t.Errorf("got %s %v", short(got), applied)
		}
	})
	t.Run("held bytes stay under the cap", func(t *testing.T) {
		prog, _ := CompileStrings([]string{"li"})
		rw := prog.NewRewriter(discard{}, []Edit{{Op: Limit, N: 1}}, Options{MaxBuffer: 4096})
		defer rw.Release()
		in := []byte(list + list + list)
		for i := 0; i < len(in); i += 100 {
			rw.Write(in[i:min(i+100, len(in))])
			if h := rw.held(); h > 4096 {
				t.Fatalf("holds %d bytes", h)
			}
		}
		rw.Close()
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n <= 0 {
		return 0, errors.New("broken pipe")
	}
	w.n--
	return len(p), nil
}

func TestWriteError(t *testing.T) {
	prog, _ := CompileStrings([]string{"p"})
	for _, es := range [][]Edit{nil, {{Op: InsertBefore, Content: []byte("x")}}} {
		rw := prog.NewRewriter(&failWriter{n: 1}, es, Options{})
		var err error
		for i := 0; i < 5 && err == nil; i++ {
			_, err = rw.Write([]byte("<p>a</p><p>b</p>"))
		}
		if err == nil || err.Error() != "broken pipe" {
			t.Errorf("Write: %v, want the writer's error", err)
		}
		if err := rw.Close(); err == nil {
			t.Error("Close after a write error returned nil")
		}
		rw.Release()
	}
}

// TestReuse checks that a pooled rewriter carries nothing from one page
// to the next.
func TestReuse(t *testing.T) {
	p1, _ := CompileStrings([]string{"li", "x-card"})
	p2, _ := CompileStrings([]string{"x-other", "p"})
	for i := 0; i < 20; i++ {
		got, _ := rewrite(t, p1, []Edit{{Op: Limit, N: 1}, {Selector: 1, Op: AddClass, Attr: "k"}}, Options{},
			`<ul><li>1<li>2</ul><x-card>c</x-card><x-other>`, chunker(3, nil))
		if want := `<ul><li>1</li></ul><x-card class="k">c</x-card><x-other>`; got != want {
			t.Fatalf("p1: %q", got)
		}
		got, _ = rewrite(t, p2, []Edit{{Op: Remove}, {Selector: 1, Op: Append, Content: []byte("!")}}, Options{},
			`<x-card><x-other>o</x-other><p>a`, chunker(4, nil))
		if want := `<x-card><p>a!`; got != want {
			t.Fatalf("p2: %q", got)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	if _, err := CompileStrings([]string{"a", "li + li"}); err == nil || !strings.Contains(err.Error(), `selector 1 "li + li"`) {
		t.Errorf("CompileStrings: %v", err)
	}
	if _, err := Compile([]selector.List{nil}); err == nil {
		t.Error("Compile accepted an empty selector")
	}
	bad := selector.List{{Compounds: []selector.Compound{{Type: "a"}, {Type: "b"}}}}
	if _, err := Compile([]selector.List{bad}); err == nil {
		t.Error("Compile accepted compounds without a combinator")
	}
}

func TestOpString(t *testing.T) {
	if SetInner.String() != "set_inner" || HideSeen.String() != "hide_seen" || Op(99).String() != "op(99)" {
		t.Error(SetInner.String(), HideSeen.String(), Op(99).String())
	}
}

// TestBrowserRepairs checks where elements end when browsers repair the
// page in ways a tree builder that only pairs start and end tags gets
// wrong, with the edits that lost content.
func TestBrowserRepairs(t *testing.T) {
	tests := []struct {
		name string
		ops  []op
		in   string
		want string
	}{
		{"</dialog> closes an open p", []op{{"p", Edit{Op: Remove}}},
			`<dialog><p>Hello</dialog><div id=after>important</div>`,
			`<dialog></dialog><div id=after>important</div>`},
		{"</template> closes a template with a table part open", []op{{"template", Edit{Op: Remove}}},
			`<body><template><tr><td>cell</template><div id=after>content</div></body>`,
			`<body><div id=after>content</div></body>`},
		{"content after </body> is in the body", []op{{"body > div", Edit{Op: AddClass, Attr: "late"}}},
			`<html><body><p>a</p></body></html><div id=late>late</div>`,
			`<html><body><p>a</p></body></html><div id=late class="late">late</div>`},
		{"content after </html> is in the body", []op{{"body > span", Edit{Op: AddClass, Attr: "late"}}},
			`<body><p>a</p></body></html><span>b</span>`,
			`<body><p>a</p></body></html><span class="late">b</span>`},
		{"append to the body goes before </body>", []op{{"body", content(Append, "<script>x</script>")}},
			"<html><body><p>a</p></body>\n</html>\n",
			"<html><body><p>a</p><script>x</script></body>\n</html>\n"},
		{"stray th, td and caption are not elements", []op{{"div > p", Edit{Op: AddClass, Attr: "in-div"}}},
			`<div><th>a<td>b<caption>c<p>d</p></div>`,
			`<div><th>a<td>b<caption>c<p class="in-div">d</p></div>`},
		{"a stray td does not swallow what follows", []op{{"td", Edit{Op: Remove}}},
			`<p>a<td>b<span>c</span></p>`,
			`<p>a<td>b<span>c</span></p>`},
		{"a misnested </b> ends the b", []op{{"b div", Edit{Op: AddClass, Attr: "in-b"}}},
			`<b><p>x</b>y</p><div>z</div>`,
			`<b><p>x</b>y</p><div>z</div>`},
		{"a form in a table is empty", []op{{"form input", Edit{Op: AddClass, Attr: "in-form"}}},
			`<table><form><tr><td><input name=a></td></tr></form></table>`,
			`<table><form><tr><td><input name=a></td></tr></form></table>`},
		{"</form> with open elements keeps them open", []op{{"form div", Edit{Op: Append, Content: []byte("!")}}},
			`<form><div></form>x</div>y`,
			`<form><div></form>x!</div>y`},
		{"<image> is an img", []op{{"img", Edit{Op: SetAttr, Attr: "alt", Value: "a"}}},
			`<image src=x>`, `<image src=x alt="a">`},
		{"a select in a select only ends it", []op{{"select", Edit{Op: AddClass, Attr: "s"}}},
			`<select><option>a<select><option>b</select>`,
			`<select class="s"><option>a<select><option>b</select>`},
		{"ruby parts close each other", []op{{"rt rt", Edit{Op: Remove}}},
			`<ruby>a<rt>b<rt>c</ruby>`, `<ruby>a<rt>b<rt>c</ruby>`},
		{"a character reference of a space is space", []op{{"head > link", Edit{Op: AddClass, Attr: "h"}}},
			`<head>&#32;&#x9&Tab;<link></head>`, `<head>&#32;&#x9&Tab;<link class="h"></head>`},
		{"other character references are text", []op{{"head > link", Edit{Op: AddClass, Attr: "h"}}},
			`<head>&#3;<link></head>`, `<head>&#3;<link></head>`},
		{"</br> leaves svg content", []op{{"svg x-a", Edit{Op: Remove}}},
			`<svg><g></br><x-a>x</x-a></g></svg>`, `<svg><g></br><x-a>x</x-a></g></svg>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sels, es := edits(tt.ops...)
			got, _ := run(t, sels, es, Options{}, tt.in)
			if got != tt.want {
				t.Errorf("\n in:   %s\n got:  %s\n want: %s", tt.in, got, tt.want)
			}
		})
	}
}

// TestUnknownEndTagIgnoresHistory: a Rewriter keeps the unknown tag names
// it interned across pages, so whether a name is known depends on the
// pages it read before; its output must not. The end tag of a name no
// element has still does what any end tag does, known or not: after
// </body>, the body goes on; in a column group, the group ends (so the
// col after it is not a child of that colgroup).
func TestUnknownEndTagIgnoresHistory(t *testing.T) {
	p := mustCompile("body", "#a", "colgroup > col")
	edits := []Edit{
		{Selector: 0, Op: Append, Content: []byte("<i>end</i>")},
		{Selector: 1, Op: InsertAfter, Content: []byte("<b>after</b>")},
		{Selector: 2, Op: AddClass, Attr: "grouped"},
	}
	for _, page := range []string{
		"<body><p id=a>x</p></body></zz>tail",
		"<body><p id=a>x</p></body></zz></html>",
		"<body><p id=a>x</p></body>\n</zz>\n",
		"<lid=\"a\">x</li><li class=card data-item-id=b>y</ul></body></tml>",
		"<table><colgroup><col></zz><col id=a></table>",
		"<table><colgroup></tml><col id=a><col></colgroup></table>",
	} {
		run := func(known bool) string {
			var out bytes.Buffer
			r := p.NewRewriter(&out, edits, Options{})
			r.names, r.nameBytes = map[string]uint16{}, 0
			if known {
				r.lookup([]byte("zz"), true)
				r.lookup([]byte("tml"), true)
			}
			if _, err := r.Write([]byte(page)); err != nil {
				t.Fatal(err)
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			r.Release()
			return out.String()
		}
		if fresh, known := run(false), run(true); fresh != known {
			t.Errorf("%q:\nnames never seen: %q\nnames seen before: %q", page, fresh, known)
		}
	}
}
