package rewrite

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// malformedCases are hand-written pages, each with a construct where a
// tree builder that only pairs start and end tags goes wrong: implied and
// stray end tags, misnested formatting, tables, templates, forms, select,
// ruby, foreign content and what follows </body>.
var malformedCases = []string{
	// A frameset replaces a body that nothing has made a page's yet
	// (the frameset-ok flag): blocks and spaces do not, text, a <body>
	// tag, a template, an image, a form field (not a hidden one), </br>
	// and a '<' that starts nothing do. In and after a frameset, only
	// framesets, frames and noframes are elements.
	`<div id=d class=x></div><frameset id=f><frame id=a></frameset><noframes><p>x</noframes><p>y`,
	"<b></b><div> \n</div><frameset><frame></frameset>",
	"<div>\x00</div><frameset><frame></frameset>",
	`<input type=hidden><div class=x></div><frameset><frame></frameset>`,
	`<div class=x></div></body><frameset><frame></frameset>`,
	`<svg><![CDATA[ ]]></svg><frameset><frame></frameset>`,
	`<body><div class=x></div><frameset><frame></frameset>`,
	`<div class=x>t</div><frameset><frame></frameset>`,
	`<template></template><div class=x></div><frameset><frame></frameset>`,
	`<input><div class=x></div><frameset><frame></frameset>`,
	`</br><div class=x></div><frameset><frame></frameset>`,
	`<div class=x><</div><frameset><frame></frameset>`,
	`<svg><![CDATA[x]]></svg><div class=x></div><frameset><frame></frameset>`,
	// Character references that decode to space are space; others are
	// not (nor are CDATA's: TestTreesChromium).
	`&#32;&Tab;<div class=x></div>&#x0A;&#0013<frameset><frame></frameset>`,
	`&#x20<div class=x></div>&#0;<frameset><frame></frameset>`,
	`<head>&#32;&NewLine;<link class=x></head><p>`, `<head>&nbsp;<link class=x></head><p>`,
	`<frameset><frame></frameset><frameset><frame id=no></frameset><noframes class=x>x</noframes><div>`,
	`<frameset><div><noframes class=x><p>x</noframes><frame class=x></frameset></html><noframes class=x></noframes>`,
	// What browsers do with end tags.
	`<dialog><p>Hello</dialog><div id=after>important</div>`,
	`<body><template><tr><td>cell</template><div id=after>content</div></body>`,
	`<body><template><table><tr><td>x</template><p>after</p></body>`,
	`<body><div>a</body><p>b</p></html><span>c</span>`,
	`<html><body><p>a</p></body></html><div id=late>late</div>`,
	// A <body> tag after content that started the body without one.
	`<html><head><iframe></iframe></head><body class="k"><div><a>x</a></div></body></html>`,
	`<head><img src=x></head><body id=b class=k><p>x</p>`, `x<body class=k><p>y</p>`,
	`<p>a</p><body class=k><p>b</p><body class=z>`, `<div>a<body class=k><p>b</p>`,
	`<body><p>x</p></body><!-- c --><div>d</div>`,
	`<div><th>a</th><td>b</td><caption>c</caption><tr><p>d</p></div>`,
	`<p>a<td>b<span>c</span></p>`,
	`<ul><li>a<td>b</li></ul><col><colgroup><tbody><thead><tfoot>`,
	`<details><p>x</details><p>y`, `<article><p>x</article><section><p>y</section>`,
	`<address><p>x</address><p>y</p>`, `<fieldset><p>x</fieldset><figure><p>y</figure>`,
	`<div><p>a</div>b`, `<p>a</p></p>b`, `</br><div>a</br>b</div>`,
	`<search><li>a<search><li>b</search></search>`,
	`<h1>a<h2>b</h1>c`, `<h3>a</h4>b<h5>c</h5>`,
	`<dl><dt>a<div><dd>b</div></dl>`, `<ul><li>a<div><li>b</div></ul>`,
	`<button><p>a<button>b</button>`, `<p><button>a<p>b</button>c</p>`,
	`<object><p>a</object>b`, `<applet><p>a</applet><marquee><p>b</marquee>`,
	`<div><span></div>x</span>y`, `<section><span><div>x</section>y</div>`,
	// Formatting elements, the adoption agency, reconstruction.
	`<b><p>x</b>y</p><div>z</div>`,
	`<a href=1>a<div>b<a href=2>c</a>d</div>e`,
	`<b>1<p><b>2</p></b><span>3</span>`,
	`<p><b>x</p>y<div>z</div></b>`,
	`<b><i>x</b>y</i>z`, `<b><span><div>x</b>y</div><p>z</p>`,
	`<a><table><a>x</table>y`, `<nobr>a<nobr>b</nobr>c`,
	`<i><b><u><s><p>x</i>y</p>`, `<em><div><em><div>x</em>y</div>z</div>`,
	`<font color=red><p>x</font>y</p>`, `<strong><table><tr><td>x</strong></td></tr></table>`,
	// Tables.
	`<table><tr><td>a<td>b<tr><td>c</table>`,
	`<table><td>a</td></table>`, `<table><tr>a<div>b</div><td>c</table>`,
	`<table><caption>c<tr><td>x</table>`, `<table><caption>c<th>x</table>`,
	`<table><colgroup><col><td>x</table>`, `<table><col><tr><td>x</table>`,
	`<table><table><tr><td>x</table>`, `<table><tr><td><table><tr><td>x</table>y</table>`,
	`<table><form><tr><td><input name=a></td></tr></form></table>`,
	`<form><table><form><tr><td>x</table></form>`,
	`<table><tbody><tr><td>a<tbody><tr><td>b</table>`,
	`<table><thead><tr><th>h<tbody><tr><td>d<tfoot><tr><td>f</table>`,
	`<table><tr><td>a</tr><td>b</table>`, `<table><tr><td>a</tbody>b</table>`,
	`<table><style>x</style><script>y</script><template><p>z</template><tr><td>c</table>`,
	`<table><input type=hidden><input type=text><tr><td>c</table>`,
	`<table><select><option>a</select><tr><td>b</table>`,
	`<p><table><tr><td>a</table>`, `<!DOCTYPE html><p><table><tr><td>a</table>`,
	`<table><tr><td>a<p>b<td>c</table>`, `<table><div><table><tr><td>x</table>`,
	`<div><table><tr></div><td>x</table>`,
	// Templates.
	`<template><td>a</td><td>b</template>`, `<template><div><td>a</div><td>b</template>`,
	`<template><tr><td>a</tr><div>b</template>`, `<template><caption>c<tr><td>x</template>`,
	`<template><col><col></template><p>x`, `<div><template><p>a</div>b</template>c</div>`,
	`<template><template><td>x</template>y</template>`,
	// Forms.
	`<form><div></form>x</div>y`, `<form><form><input></form><p>x</p></form>`,
	`<div><form></div><form><p>x</form>`, `<form id=a><p>x</form><form id=b><p>y</form>`,
	// select, option, input.
	`<select><option>a<option>b<optgroup><option>c</select>`,
	`<select><div>a</div><option>b<select><option>c</select>`,
	`<select><option>a<input>b</select>`, `<select><option><p>a<option>b</select>`,
	`<select><hr><option>a<hr></select>`, `<option>a<option>b<optgroup><option>c`,
	// Ruby.
	`<ruby>a<rb>b<rt>c<rt>d<rp>e<rtc>f<rt>g</ruby>`, `<rt>a<rt>b<ruby><rb>c<rb>d</ruby>`,
	// Head, body, html.
	`<html><head><title>t</title></head><link rel=x><body><p>x`,
	`<head><meta charset=utf-8><div>a</div><meta name=x></head><p>b`,
	`<html><p>a<html class=x><body class=y><p>b`, `x<body class=a><p>b`,
	`<head></head><body><head><p>x</p></body>`, `<meta><head><body><p>x`,
	`<title>a<b>c</title><p>d`, `<body><title>t</title><style>s</style><p>x`,
	// Foreign content.
	`<svg><path/><foreignObject><p>x</p></foreignObject><g><p>y</g></svg>`,
	`<svg><desc><div>a</div></desc><title><b>t</b></title></svg>`,
	`<math><mi>x<b>y</b></mi><mtext><div>z</div></mtext></math>`,
	`<math><annotation-xml encoding="text/html"><div>a</div></annotation-xml></math>`,
	`<math><annotation-xml><svg><path/></svg></annotation-xml></math>`,
	`<svg><font color=red>a</font><font>b</font></svg>`,
	`<svg><g><g><p>x</g></g></svg>`, `<svg><![CDATA[<p>x]]></svg><![CDATA[<p>y]]>`,
	`<math><mi><mglyph/><malignmark/></mi></math>`, `<svg></g><path></svg>`,
	`<div><svg><div>x</svg>y</div>`,
	// Raw text and the tokenizer.
	`<script><!--<script></script>--></script><p>x</p>`,
	`<textarea><p>a</textarea><p>b`, `<xmp><p></xmp><p>c`, `<iframe><p></iframe><p>d`,
	`<noscript><p>a</noscript><p>b`, `<noembed><p></noembed><noframes><p></noframes><p>e`,
	`<plaintext><p>a</plaintext>`, `<image src=x><p>y</p>`, `<isindex><p>x`,
	`<div/>a</div><span/>b`, `<a/b=c d>x</a>`, `<p id="a'b" class='c"d'>x</p>`,
	`<!-- <p> --><p>a<!-- </p> -->b</p>`, `<?pi <p>?><p>x`, `</ p><p>x`,
	`<p>a<!DOCTYPE html>b<html>c`,
	// The first doctype says whether the page is in quirks mode, where
	// a table does not end a p.
	`<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN"><!DOCTYPE html><p><table class=x>`,
	`<!DOCTYPE html><!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN"><p><table class=x>`,
	`<!-- c --><!DOCTYPE html><p><table class=x>`,
	// Lists and nesting.
	`<ul><li>a<ul><li>b<li>c</ul><li>d</ul>`, `<ol><li><p>a<li>b</ol>`,
	`<div><div><div><p>a<p>b</div></div></div>`,
	`<li>a<li>b`, `<dd>a<dt>b<dd>c`, `<p>a<div>b<p>c</div>d</p>`,
	`<center><p>a</center><menu><li>b</menu><dir><li>c</dir>`,
	`<pre><p>a</pre><listing><p>b</listing>`, `<hr><p>a<hr>b</p>`,
	`<main><nav><a>x</a></nav><aside><p>y</aside></main>`,
	`<x-card><x-item>a</x-card>b</x-item><my-el><p>c</my-el>`,
	`<span><div><span>x</span></div></span>`,
	// Text reopens formatting elements, unless it is NULs alone; in a
	// table part only if it is more than space, elsewhere in a table as
	// in the body.
	"<p><b>x</p><h2>\x00<h5 class=x>", "<p><b>x</p><h2> <h5 class=x>", "<p><b>x</p><table><h2> <h5 class=x>",
	"<p><b>x</p><table><h2>\x00<h5 class=x>", "<p><b>x</p><table><tr>\x00 <td><h2>\x00<h5 class=x>",
	"<p><b>x</p><table>&#32;<caption><h2> <h5 class=x>",
	// Copies of formatting elements, the adoption agency, and foreign
	// elements named like HTML ones.
	`<section><strong><a></section><h4>x</strong><h2>`,
	`<s><em><legend><nobr><x-card><main><a><center></s></center></nobr>`,
	`<s><em data-k href=/x><legend id=c><nobr data-k=v><x-card><main type=hidden class="x y"></s></nobr>`,
	`<table><article><s></article>t53<tfoot><rb></s><annotation-xml>`,
	`<small href=/x lang=en><code><optgroup><a><span id=a><form data-k=v id=a></small></a>`,
	`<font><strong><rb class='y' data-k=v><t22t23<listing id=a type=hidden><i><section></font></i>`,
	`<form data-k="w v"><nav/><em href=/x id=a></nav><svg><ul></form></em>`,
	`<table data-k><template><tr encoding="text/html"><u data-k="w v" class=x><td></template><`,
	`<table><svg id="b" class=x><template data-n='1'><desc color=red id=a><thead class=z color=red>`,
	`<p>x<svg class=z class=z/><html>`,
	`<template><link><col><title></template><dialog>`,
	`<template/><tr></tr><td><colgroup><fieldset/></table><dd>`,
	`<template><tbody/><tr></table><tr>`,
	`<footer>t14<p><i><form>t21</form><s></footer><button>`,
	`<applet><footer>t14<p><code><form>t21</form><s></footer>t35`,
	`<path/><b><strong></path><optgroup><dialog><path><button></b><ruby></strong><h3/>`,
	`<table><a><address><svg><template></a>`,
	`<svg><input><title><p><strong><listing></listing><embed></input><wbr title="a><template data-k="w v" data-k></strong><p data-k>`,
	// A block the adoption agency moves out of an element opened in a
	// copy of a formatting element, whose original an earlier run of
	// the agency moved into a new copy.
	`<p><u><hgroup> <aside><a></u><y><p><a>`,
	// An element opened in a copy of a formatting element that stays
	// open when the </form> around it ends, after the adoption agency
	// moved the original into a new copy.
	`<optgroup><b></optgroup>><form><s></b>t</form><meta>`,
	// A copy of a formatting element reopened in another that the
	// adoption agency then ends stays open (browsers' copy of it now
	// holds the block), below the table opened in it: its end tag in
	// the table is out of scope, and closes nothing.
	`<b><h4><u>t</h1>t<div></b></div><table><x-y></u><div>`,
	`<em><h4><u>t</h1>t<article></em></article><table><x-y></u><hgroup>`,
	// The end tag of a name no element has ends a column group, as any
	// end tag but colgroup's, col's and template's does.
	`<table><colgroup></x-card><template>`, `<table><colgroup><col></x-y><col><template><col>`,
	// Where x/net/html parts from browsers (see diffReference): a foreign
	// tag ending in "/>" after an unquoted value and a repeated
	// attribute, last on the page or not; an adoption agency that drops a
	// formatting element (s) past the third step and moves the block it
	// cuts (p).
	`<svg><FOREIGNOBJECT class class=z/><td>`, `<svg><DESC class=z class=x/><THEAD><div>`,
	`<nobr><S><x-card><rp><SELECT><a></select></br><p></nobr></a>`,
	// Text in a template in the head reopens formatting elements, as in
	// the body: here an a copy, which holds the first h4, so the second
	// (out of the svg) ends it.
	`<template><table><a><tbody>t29<h4><svg><h4></h4><blockquote></h4><DIALOG>`,
	// Text in a template in the head leaves the head open.
	`<head><template>x</template>t<style>`,
	`<head><template><table>x</template>t<style>`,
	// </p> and </br> end svg or math content, then follow HTML's rules.
	`<p><math><annotation-xml></p><script>`, `<p><svg><g></br>x<div>`,
	`<div><svg><foreignObject><p>a</svg></p>b`,
	// What x/net/html makes of a tag in an HTML template in svg, a
	// template it loses.
	`<svg><title><template><c></title><col>`,
}

// malformedTags are the tag names the generator draws from, weighted by
// repetition: common layout and text elements, and the ones with rules of
// their own in the tree builder.
var malformedTags = strings.Fields(`
	div div div div p p p p span span span a a b b i em strong u s small font nobr code
	li li ul ul ol dl dt dd table table tr tr td td th caption colgroup col tbody thead tfoot
	form form input input select option option optgroup button textarea
	h1 h2 h3 h4 h5 h6 pre listing section article aside nav header footer main dialog details
	summary figure figcaption blockquote address center menu hgroup img br hr wbr image area
	embed object applet marquee iframe noscript xmp ruby rb rt rp rtc label fieldset legend
	template template script style title svg svg path g foreignObject desc math mi mtext mo
	annotation-xml x-card my-el body html head meta link base frameset frame noframes
	noembed param source track keygen search mglyph malignmark mn big tt dir
`)

// malformedAttrs are the attributes start tags get: classes and ids the
// selectors of the differential test ask for, in every quoting.
var malformedAttrs = []string{
	`class=x`, `class="x y"`, `class='y'`, `id=a`, `id="b"`, `data-k`, `data-k=v`, `data-k="w v"`,
	`class=z`, `id=c`, `title="a>b"`, `data-n='1'`, `encoding="text/html"`, `type=hidden`, `color=red`,
	`lang=en`, `href=/x`, `CLASS="x y"`, `Id=b`, `class`, `class="a&amp;b x"`,
	`class="x"id=a`, `/ class=x`, `class=x/`, "data-k=\"a\nb\"", `CLASS='x&#32;y'`, `id=a&amp;b`,
	`class="  x	y  "`, `title='<p>'`, `=x`, `class=x"y`, `id=&#x62;`, `class=x&#x20;z`,
}

// malformedBits are the other things between tags: comments, CDATA,
// bogus comments, a '<' that starts nothing, stray end tags that make
// elements, a doctype where it is ignored, plaintext, NULs, and spaces,
// raw and as character references, with what decodes otherwise ("&#3",
// "&#x0;", a value past 2^31) or not at all ("&nbsp;" is no space).
var malformedBits = []string{
	"<!-- c -->", "<![CDATA[d]]>", "<?e?>", "</ f>", "<", "&amp;", "</br>", "</p>", "<!DOCTYPE html>", "<plaintext>",
	" ", "\n", "\t ", "\r\n", "\f", "\x00", "&#32;", "&#x20", "&Tab;", "&#9", "&#0013;",
	"&nbsp;", "&#x0;", "&#3", "&#4294967328;",
}

// rawTextBits are what raw text holds besides markup: end tags that are
// not its element's, and script data's escapes ("<!--" and "<script>"
// in it make "</script>" not end it until "-->").
var rawTextBits = []string{
	"</scrip", "</scriptx>", "</style", "<!--", "<!--<script>", "<!--<script>a</script>", "-->", "<!-- x -->",
	"</title", "</textarea x", "<", "</", "<script>", "</SCRIPT", "<!--<SCRIPT>-->",
}

// malformedDoctypes are what a page starts with: no doctype (quirks
// mode), the standard's, and two older ones (quirks and limited quirks).
var malformedDoctypes = []string{
	"", "", "<!DOCTYPE html>", "<!DOCTYPE html>",
	`<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">`,
	`<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">`,
}

// malformedPage generates a page from a grammar of the constructs browsers
// repair: elements left open, end tags out of order or for elements not
// open, tables with content in the wrong place, formatting elements cut by
// blocks, templates, forms, foreign content, comments, raw text and text.
// Pages stay under 100 tokens and 200 levels deep.
func malformedPage(rng *rand.Rand) string {
	var b strings.Builder
	var open []string
	b.WriteString(malformedDoctypes[rng.IntN(len(malformedDoctypes))])
	n := 10 + rng.IntN(90)
	for i := 0; i < n; i++ {
		switch k := rng.IntN(20); {
		case k < 9: // a start tag
			name := malformedTags[rng.IntN(len(malformedTags))]
			if rng.IntN(8) == 0 {
				name = strings.ToUpper(name)
			}
			b.WriteString("<" + name)
			for j := rng.IntN(3); j > 0; j-- {
				b.WriteString(" " + malformedAttrs[rng.IntN(len(malformedAttrs))])
			}
			if rng.IntN(12) == 0 {
				b.WriteString("/")
			}
			b.WriteString(">")
			switch lower := strings.ToLower(name); lower {
			case "script", "style", "title", "textarea", "xmp", "iframe", "noscript", "noembed", "noframes":
				// Raw text that looks like markup, with what almost ends
				// it (and, in a script, escapes it), mostly closed: by an
				// end tag in any case, with spaces, attributes or a '/'.
				fmt.Fprintf(&b, "<p>%d</div>", i)
				if rng.IntN(3) == 0 {
					b.WriteString(rawTextBits[rng.IntN(len(rawTextBits))])
				}
				if rng.IntN(6) != 0 {
					b.WriteString("</" + []string{lower, name, strings.ToUpper(lower)}[rng.IntN(3)] + []string{">", " >", "/>", " x=1>", "\t>"}[rng.IntN(5)])
				}
			default:
				if len(open) < 200 {
					open = append(open, lower)
				}
			}
		case k < 14 && len(open) > 0: // an end tag for an open element, often not the current one
			j := len(open) - 1
			if rng.IntN(3) == 0 {
				j = rng.IntN(len(open))
			}
			fmt.Fprintf(&b, "</%s>", open[j])
			open = append(open[:j], open[j+1:]...)
		case k < 15: // a stray end tag
			fmt.Fprintf(&b, "</%s>", malformedTags[rng.IntN(len(malformedTags))])
		case k < 18:
			fmt.Fprintf(&b, "t%d", i)
		default:
			b.WriteString(malformedBits[rng.IntN(len(malformedBits))])
		}
	}
	return b.String()
}
