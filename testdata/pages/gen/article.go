package main

import "strings"

// articleSection is a part of the article: a heading and its blocks, each
// block written as is (paragraphs, code, figures).
type articleSection struct {
	id, title string
	blocks    []string
}

var articleSections = []articleSection{
	{"intro", "", []string{
		`<p class="lead">Every request to our edge passes through an HTML rewriter. It changes a heading for visitors from Lyon, hides the product cards you have already seen, inserts a banner above the hero. It does all of that without ever building a document tree, and it starts sending the page to the browser before the origin has finished sending it to us. This is the story of how it works, and of the dozen places where HTML turned out to be stranger than we thought.</p>`,
		`<p>We wrote the first version in a weekend. It was a regular expression. It handled our own pages and nothing else, which we found out the day a customer's CMS emitted <code>&lt;DIV CLASS=promo&gt;</code> in capitals. The second version used a full HTML parser and built a tree; it was correct, and it was slow, and it held whole pages in memory while it worked. The third version, the one that runs today, is a streaming tokenizer with a small stack on the side. It is about 1,900 lines of code, and roughly half of them exist to handle the cases described below.</p>`,
	}},
	{"why-not-a-dom", "Why not build a DOM?", []string{
		`<p>The obvious way to change an HTML page is the way a browser would: parse it into a tree, find the nodes with a selector, change them, serialize the tree back to text. Libraries for every language do exactly this, and for a batch job they are the right tool. For a proxy they have two problems. The first is memory: a tree of a 250 KiB news page easily takes ten times its size once every node, attribute and string is an object. The second is latency: you cannot serialize the tree until you have parsed the whole page, so the visitor waits for the slowest byte of the origin before seeing the first one.</p>`,
		`<p>A streaming rewriter reads the page as a sequence of tokens (start tags, end tags, text, comments) and writes each one out as soon as it knows whether to change it. Most tokens pass through untouched, copied byte for byte from input to output. A token is held back only while the rewriter is inside an element it has been asked to replace, and even then only that element's bytes are held.</p>`,
		`<p>The price is that selectors must be answered without looking ahead. The rewriter knows an element's ancestors (they are on its stack) and its earlier siblings (it has counted them), but not its children or its later siblings. That rules out <code>:has()</code> and <code>:last-child</code>, and we are fine with that: nobody has asked for them yet.</p>`,
		`<pre><code class="language-html">&lt;!-- what the rewriter sees, one token at a time --&gt;
&lt;ul class="cards"&gt;                                   <span class="c">start tag, pushed</span>
  &lt;li class="card" data-item-id="sku-1001"&gt;         <span class="c">start tag: does li.card match? yes</span>
    &lt;h3&gt;Ridgeline 2 Tent&lt;/h3&gt;                     <span class="c">held while the match is open</span>
  &lt;/li&gt;                                             <span class="c">end tag: the edit is applied</span>
&lt;/ul&gt;</code></pre>`,
	}},
	{"tokenizer", "The tokenizer is a state machine", []string{
		`<p>The HTML standard specifies tokenization as a state machine with about eighty states. Most of them deal with attributes, character references and the many ways a comment can be malformed. The good news is that the machine never backtracks far: once you have seen <code>&lt;</code> followed by a letter you are in a tag, and the tag ends at the next <code>&gt;</code> that is not inside a quoted attribute value. The bad news is the word &#8220;quoted&#8221;. Attribute values may be quoted with double quotes, single quotes, or not at all, and each has its own rules about what ends it.</p>`,
		`<figure class="figure" id="fig-states">
  <img src="img/diagram-states.svg" alt="A simplified state diagram: data, tag open, character reference, attribute value, emit" width="640" height="200" loading="lazy">
  <figcaption>Figure 1. Five of the tokenizer's states, simplified. The real machine has about eighty.</figcaption>
</figure>`,
		`<p>Our tokenizer keeps the states that matter for finding the boundaries of tokens and collapses the rest. It does not decode character references in attribute values unless a selector compares that attribute, and it does not normalize anything on the way out. What comes in is what goes out, except for the parts an edit changes. That property, which we call <em>byte transparency</em>, is the single most useful thing we built: it makes the rewriter safe to put in front of pages we have never seen, and it makes the golden tests easy to read.</p>`,
		`<figure class="figure diagram" id="fig-tokens">
  <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 640 150" width="640" height="150" role="img" aria-labelledby="fig-tokens-title">
    <title id="fig-tokens-title">The tokens of a short fragment</title>
    <style><![CDATA[
      .tok { fill: #eef5ff; stroke: #5b7db1; }
      .tok.text { fill: #f5f5f5; stroke: #999; }
      text { font: 12px ui-monospace, monospace; fill: #222; }
      text.kind { font: 10px sans-serif; fill: #777; } /* a < b && c > d */
    ]]></style>
    <rect class="tok" x="10" y="30" width="150" height="36" rx="4"/><text x="20" y="53"><![CDATA[<p class="note">]]></text>
    <rect class="tok text" x="170" y="30" width="120" height="36" rx="4"/><text x="180" y="53"><![CDATA[if a < b & c]]></text>
    <rect class="tok" x="300" y="30" width="80" height="36" rx="4"/><text x="310" y="53"><![CDATA[<br/>]]></text>
    <rect class="tok text" x="390" y="30" width="140" height="36" rx="4"/><text x="400" y="53">caf&#233; &amp; tea</text>
    <rect class="tok" x="540" y="30" width="90" height="36" rx="4"/><text x="550" y="53"><![CDATA[</p>]]></text>
    <g><text class="kind" x="10" y="90">start tag</text><text class="kind" x="170" y="90">text</text><text class="kind" x="300" y="90">void start tag</text><text class="kind" x="390" y="90">text (refs kept)</text><text class="kind" x="540" y="90">end tag</text></g>
  </svg>
  <figcaption>Figure 2. <code>&lt;p class="note"&gt;if a &lt; b &amp; c&lt;br/&gt;caf&amp;#233; &amp;amp; tea&lt;/p&gt;</code> as five tokens.</figcaption>
</figure>`,
	}},
	{"raw-text", "Raw text: script, style and friends", []string{
		`<p>Inside most elements, a <code>&lt;</code> followed by a letter starts a tag. Inside <code>&lt;script&gt;</code> and <code>&lt;style&gt;</code> it does not: their content is raw text that ends only at the matching end tag. That is why analytics snippets are full of strings like <code>'&lt;\/div&gt;'</code>. The backslash is there to stop a careless tokenizer from ending the script early; a careful one only looks for <code>&lt;/script</code>, case-insensitively, followed by whitespace, <code>/</code> or <code>&gt;</code>.</p>`,
		`<pre><code class="language-js">// inside a &lt;script&gt; element all of this is one text token
var html = '&lt;div class="ad"&gt;' + label + '&lt;\/div&gt;';
for (let i = 0; i < slots.length && i <= max; i++) {
  if (slots[i].width > 300) continue;
}
var end = '&lt;/' + 'script&gt;';   // split so that the tokenizer does not see it</code></pre>`,
		`<p>Then there are <code>&lt;textarea&gt;</code> and <code>&lt;title&gt;</code>, whose content is text in which character references are still decoded, and <code>&lt;iframe&gt;</code>, <code>&lt;noembed&gt;</code>, <code>&lt;noframes&gt;</code> and <code>&lt;xmp&gt;</code>, which are raw text too. We found the last one in a 2004 page still served by a museum. It contained a code listing with unescaped tags; browsers display it as text, and so must we.</p>`,
		`<p>The strangest case is the one where a script contains <code>&lt;!--</code>. Old pages wrap scripts in comment markers to hide them from browsers that predate JavaScript. The standard keeps that working with two extra states, &#8220;script data escaped&#8221; and &#8220;script data double escaped&#8221;, in which a <code>&lt;script&gt;</code> inside the comment changes where the outer script ends. We implemented it after a customer's ad tag ate the rest of their page.</p>`,
		`<pre>
The leading newline of this pre block is dropped by the parser,
so golden tests must not count it:   a < b,  c > d,  x &amp;&amp; y
</pre>`,
	}},
	{"selectors", "Selectors without a tree", []string{
		`<p>Each rule gives a CSS selector. We compile all the selectors of a rule set into one matcher that runs on every start tag. For the rightmost compound selector (the part that names the element itself) we check the tag name, id, classes and attributes directly. For the combinators to the left we walk up the stack of open elements. Descendant combinators can match any ancestor, so the walk can be long, but pages are shallow: the deepest element we have measured on a real page was 41 levels down.</p>`,
		`<pre><code class="language-go">// matches reports whether the open element e, with the stack of its
// ancestors, matches the compound selectors from right to left.
func (m *matcher) matches(sel []compound, stack []*element) bool {
	if len(sel) == 0 {
		return true
	}
	last := sel[len(sel)-1]
	for i := len(stack) - 1; i &gt;= 0; i-- {
		if last.matches(stack[i]) &amp;&amp; m.matches(sel[:len(sel)-1], stack[:i]) {
			return true
		}
	}
	return false
}</code></pre>`,
		`<p>There is one subtlety that cost us a day. Class names and ids are case-sensitive in standards mode and case-insensitive in quirks mode, and which mode a page is in depends on its doctype, which comes before anything we match. We record the mode when we see the doctype (or its absence) and pick the comparison accordingly. Tag and attribute names, by contrast, are always compared case-insensitively in HTML content, and always case-sensitively inside SVG, where <code>viewBox</code> and <code>foreignObject</code> are spelled the way they are for a reason.</p>`,
		`<p>Sibling selectors need a little more: a counter per open element for <code>:nth-child()</code>, and the tag name and classes of the previous sibling for <code>+</code>. We keep those on the stack too. A selector such as <code>ul.cards &gt; li[data-item-id]:not(.sold-out)</code> costs a handful of comparisons per start tag.</p>`,
		`<p>In big-O terms the matcher is <math><mi>O</mi><mo>(</mo><mi>n</mi><mo>&#x22C5;</mo><mi>d</mi><mo>)</mo></math> for a page of <var>n</var> tags at depth <var>d</var>, and in practice it costs less than copying the bytes.</p>`,
	}},
	{"implied-tags", "Implied end tags", []string{
		`<p>HTML lets you leave out many end tags. A <code>&lt;p&gt;</code> is closed by the next block element, an <code>&lt;li&gt;</code> by the next <code>&lt;li&gt;</code>, a <code>&lt;td&gt;</code> by the next cell or row, an <code>&lt;option&gt;</code> by the next option. Legacy templates and minifiers both take advantage of this. A rewriter that does not know the rules will think the first list item contains all the others, and an edit that replaces it will replace the whole list.</p>`,
		`<pre><code class="language-html">&lt;ul&gt;
  &lt;li&gt;One
  &lt;li&gt;Two          &lt;!-- closes One --&gt;
&lt;/ul&gt;
&lt;p&gt;First paragraph
&lt;div&gt;...&lt;/div&gt;   &lt;!-- closes the paragraph --&gt;
&lt;table&gt;&lt;tr&gt;&lt;td&gt;a&lt;td&gt;b&lt;tr&gt;&lt;td&gt;c&lt;/table&gt;</code></pre>`,
		`<p>We do not implement the full tree construction algorithm with its adoption agency and foster parenting. We implement the implied end tags, the scoping rules that decide which open elements an end tag can close, and a recovery rule: an end tag with no matching open element is ignored, as browsers do. On the corpus of 10,000 pages we test against, the resulting element boundaries agree with a browser's on every element that any of our customers' rules has ever selected.</p>`,
	}},
	{"references", "Character references", []string{
		`<p>Text and attribute values may contain character references: <code>&amp;amp;</code>, <code>&amp;#8212;</code>, <code>&amp;#x2014;</code>, and 2,231 named ones. Some named references work without the final semicolon for historical reasons, so <code>&amp;copy 2026</code> shows a copyright sign, but <code>&amp;notit;</code> shows <code>&not;it;</code>, which is the kind of thing that makes you read the standard twice.</p>`,
		`<table class="refs">
  <caption>References we meet most often, per 1,000 pages</caption>
  <thead><tr><th scope="col">Reference</th><th scope="col">Character</th><th scope="col">Pages</th></tr></thead>
  <tbody>
    <tr><td><code>&amp;amp;</code></td><td>&amp;</td><td>981</td></tr>
    <tr><td><code>&amp;nbsp;</code></td><td>&nbsp;(no-break space)</td><td>874</td></tr>
    <tr><td><code>&amp;#8217;</code></td><td>&#8217;</td><td>512</td></tr>
    <tr><td><code>&amp;quot;</code></td><td>&quot;</td><td>455</td></tr>
    <tr><td><code>&amp;mdash;</code></td><td>&mdash;</td><td>301</td></tr>
    <tr><td><code>&amp;copy</code> (no semicolon)</td><td>&copy</td><td>37</td></tr>
  </tbody>
</table>`,
		`<p>Attribute values have their own twist. In an attribute, a named reference without a semicolon is decoded only if the next character is not a letter, a digit or <code>=</code>. That rule exists so that URLs keep working: in <code>href="/search?q=tents&amp;copy=1"</code> written without the <code>amp;</code>, the <code>&amp;copy</code> is followed by <code>=</code>, so it stays as typed instead of turning into a copyright sign. Text content has no such exception, which is why the same URL pasted into a paragraph renders differently. We learned this from a customer whose tracking links broke only when a rule copied them from an attribute into text.</p>`,
		`<p>Because the rewriter is byte-transparent, it only decodes references when it needs to compare text. When a rule sets the text of an element, the new text is escaped on the way in, so a heading set to <q>Fish &amp; Chips &lt;today&gt;</q> arrives intact rather than as markup.</p>`,
	}},
	{"benchmarks", "Benchmarks", []string{
		`<p>We measure the rewriter against a plain copy of the same bytes through the same kind of writer. On our three reference pages (a news home page, a shop listing and this very article) it runs at between 60% and 85% of the speed of the copy, with a dozen edits active. Most of the difference is the tokenizer looking at every byte; the matcher and the edits are noise.</p>`,
		`<table class="bench">
  <caption>Throughput on a 2-core machine, MB/s (higher is better)</caption>
  <thead><tr><th scope="col">Page</th><th scope="col">Size</th><th scope="col">Copy</th><th scope="col">Rewrite, 0 edits</th><th scope="col">Rewrite, 12 edits</th></tr></thead>
  <tbody>
    <tr><td>news</td><td>250 KiB</td><td>2,910</td><td>410</td><td>372</td></tr>
    <tr><td>shop</td><td>150 KiB</td><td>2,870</td><td>388</td><td>341</td></tr>
    <tr><td>article</td><td>80 KiB</td><td>2,640</td><td>452</td><td>420</td></tr>
  </tbody>
</table>`,
		`<p>Latency matters more to us than throughput, and there the streaming design pays off most. The time to first byte through the proxy is the origin's time to first byte plus about 40 microseconds, whatever the size of the page, because the rewriter emits the first token as soon as it has classified it. A tree-based rewriter adds the time to receive and parse the whole document, which for the news page over a typical origin connection is 30 to 120 milliseconds.</p>`,
		`<p>Numbers like these are easy to fool yourself with, so the benchmark pages are generated from a fixed seed and committed, and the benchmark reports bytes per second of input rather than operations. If you want to reproduce them, the pages and the generator are in the repository.<sup class="fn"><a href="#fn-1" id="fnref-1">1</a></sup></p>`,
	}},
	{"chunks", "Chunk boundaries", []string{
		`<p>A streaming rewriter does not get the page in one piece. It gets whatever the network delivers: sometimes the whole document in one read, more often a few kilobytes at a time, and occasionally, behind a slow origin or a compressing proxy, a single byte. Any token can be split across two reads. So can a character reference, a UTF-8 sequence, the <code>&lt;/script</code> that ends a script, and the <code>--&gt;</code> that ends a comment.</p>`,
		`<p>Our first approach was to buffer until a token was complete. It worked, and it had a nasty failure mode: a page with a 3 MB inline JSON blob in a script made us buffer 3 MB. The tokenizer now keeps only the bytes it cannot yet classify, which is at most the length of the longest thing it is looking for (<code>&lt;/noscript</code>, ten bytes), plus the start tag of an element whose edit is pending. Text and raw text pass through as soon as they arrive.</p>`,
		`<pre><code class="language-go">// Write accepts the next chunk of the page. It may be any length,
// including 1, and may end in the middle of anything.
func (w *Rewriter) Write(p []byte) (int, error) {
	w.pending = append(w.pending, p...)
	n := w.tokenize(w.pending, false) // false: more input may follow
	w.pending = w.pending[:copy(w.pending, w.pending[n:])]
	return len(p), w.err
}</code></pre>`,
		`<p>The test that gives us the most confidence is almost embarrassingly simple. For every page in the corpus and every rule set in the test suite, we rewrite the page once in a single write, and then again split at every possible byte offset, and at random offsets in runs of up to 64 writes. The outputs must be identical. It took a week of fixes before that test passed the first time; it has caught four regressions since.</p>`,
		`<p>Compression adds one more wrinkle. Origins often send gzip or Brotli, and the rewriter works on plain text, so the proxy decompresses, rewrites and compresses again. Recompression costs more CPU than rewriting, which is why the proxy skips it for responses no rule touches: if the plan for a request is empty, the compressed bytes go straight through.</p>`,
	}},
	{"differently", "What we would do differently", []string{
		`<p>We would write the golden tests first. Every bug we fixed in the tokenizer came with a page that triggered it, and every one of those pages became a test case. Had we started with a corpus of strange pages, we would have found most of the bugs before our customers did.</p>`,
		`<p>We would also resist the temptation to be clever about encodings. The rewriter works on UTF-8 and passes anything else through untouched. A page that starts with a byte order mark keeps it. A page that declares <code>windows-1252</code> in a meta tag is rewritten only if the rules' selectors and texts are ASCII, which covers every case we have seen. The one time we tried transcoding, we broke a Japanese customer's pages in a way that took a week to notice.<sup class="fn"><a href="#fn-2" id="fnref-2">2</a></sup></p>`,
		`<details class="aside">
  <summary>Why not WebAssembly all the way down?</summary>
  <p>The rules themselves run in a WebAssembly sandbox: they are written by content editors, compiled, and loaded at run time, so they must not be able to touch anything but the request they decide on. The rewriter is trusted code and runs natively. Crossing the boundary once per request costs microseconds; crossing it once per token would cost the speed in the table above.</p>
</details>`,
		`<p>Finally, we would have talked to browser engineers sooner. Every question we agonized over for a week had an answer in the standard, a comment in a browser's source code, or both, and the people who wrote them were generous with their time. The HTML standard is long, but it is not vague: when it says what happens to <code>&lt;/p&gt;</code> with no open paragraph (an empty paragraph is created), it means it, and a rewriter that disagrees will eventually meet a page that proves it wrong.</p>`,
		`<h3 id="further-reading">Further reading</h3>`,
		`<ul class="further-reading">
    <li><a href="/posts/a-css-selector-engine-in-400-lines/">A CSS selector engine in 400 lines</a>, on this blog, for the matcher in detail.</li>
    <li>The <cite>HTML Standard</cite>, section 13.2.5, &#8220;Tokenization&#8221;: the state machine, all of it.</li>
    <li>The <cite>HTML Standard</cite>, section 13.2.6.4, &#8220;The rules for parsing tokens in HTML content&#8221;, for implied end tags and scopes.</li>
    <li><cite>Character references</cite>, the JSON table of the 2,231 named references, with the ones that work without a semicolon marked.</li>
    <li><a href="/posts/golden-tests-for-things-that-stream/">Golden tests for things that stream</a>, on splitting inputs at every byte.</li>
    <li><a href="/posts/what-the-byte-order-mark-does-to-your-templates/">What the byte order mark does to your templates</a>.</li>
  </ul>`,
		`<p>Press <kbd>Ctrl</kbd>+<kbd>U</kbd> on this page to see its source: it contains every construct described above, on purpose.</p>`,
	}},
}

var (
	commentAuthors = []string{"Jonas B.", "Zoë Hartmann", "Priya", "mkrueger", "Søren Kjær", "Ana María López", "Łukasz W.", "Nguyễn Văn An",
		"田中さくら", "dev_null", "Chioma O.", "Rafael", "Ingrid", "tomasz", "Hélène R.", "Kofi Mensah", "Yusuf", "Elena P.", "brentk", "Ada"}
	commentTexts = []string{
		`<p>Great write-up. The part about byte transparency is underrated: we had a proxy that "helpfully" re-serialized attributes and it broke a checksum in an inline script.</p>`,
		`<p>How do you handle <code>&lt;template&gt;</code>? Its content is parsed into a fragment, so <code>document.querySelector</code> never matches inside it. Does your matcher?</p>`,
		`<p>We hit the <code>&lt;!--</code> in a script case too. Took two days to find. The page looked fine in every browser and our parser swallowed the footer.</p>`,
		`<p>Nitpick: <code>&amp;notit;</code> is the famous example, but <code>&amp;amp</code> without the semicolon is the one that actually shows up in the wild, usually in URLs like <code>?a=1&amp;copy=2</code>.</p>`,
		`<p>Would love to see the corpus. Any chance you publish the 10,000 pages, or at least the strange ones?</p>`,
		`<p>"Pages are shallow" &mdash; you have not seen our CMS. We have a page with 112 nested <code>&lt;div&gt;</code>s because every widget wraps itself twice.</p>`,
		`<p>Thanks, this cleared up why our regex-based banner injector failed on uppercase tags. Moving to a tokenizer now.</p>`,
		`<p>What about <code>&lt;plaintext&gt;</code>? Once it starts, nothing ends it. Do you just pass the rest of the page through?</p>`,
		`<p>The benchmark table would be more useful with allocation counts. In our experience GC pauses, not throughput, are what hurt tail latency in proxies.</p>`,
		`<p>Small typo in the second code block: the comment says "closes One" but the arrow is on the wrong line in my browser. Might be a font thing.</p>`,
		`<p>Merci pour l'article&nbsp;! On fait quelque chose de similaire pour nos pages produit, et les balises implicites nous ont posé exactement les mêmes problèmes.</p>`,
		`<p>Sehr hilfreich. Eine Frage: Wie geht ihr mit <code>&lt;select&gt;</code> um, wenn die <code>&lt;option&gt;</code>-Tags nicht geschlossen sind?</p>`,
		`<p>とても参考になりました。BOM付きのページも多いので、その扱いについてもっと知りたいです。</p>`,
		`<p>Have you looked at how browsers handle <code>&lt;/br&gt;</code>? It is treated as <code>&lt;br&gt;</code>. One of my favourite quirks.</p>`,
		`<p>+1 for writing golden tests first. We keep a folder called <code>horrors/</code> with one page per bug.</p>`,
		`<p>Is the rewriter open source? I could not find a link.</p>`,
		`<p>The <code>:has()</code> limitation makes sense. Could you support it for the special case where the argument only looks at attributes of the first child? That covers "cards with an image".</p>`,
		`<p>Honest question: why not just use the browser's parser in a headless instance at the edge? Too slow, I assume, but by how much?</p>`,
		`<p>Love the little diagram. Is it hand-made SVG?</p>`,
		`<p>I maintain a tokenizer in Rust and can confirm: attribute values without quotes are 40% of the bug reports.</p>`,
		`<p>This reminded me of the old <code>&lt;![CDATA[</code> wrapping in XHTML days. In HTML content it is just a bogus comment, right?</p>`,
		`<p>Quick tip for anyone reading: test with a page whose first bytes are <code>EF BB BF</code>. Half the tools I tried insert a blank line before the doctype.</p>`,
		`<p>Useful. Bookmarked.</p>`,
		`<p>We found that <code>&lt;iframe srcdoc="..."&gt;</code> attributes can be enormous &mdash; one of our pages had 180 KB of escaped HTML in a single attribute. Worth a benchmark case.</p>`,
		`<p>Thank you for not writing "we built a parser in 200 lines". The honest line count is refreshing.</p>`,
		`<p>Did you consider streaming the edits as a diff instead of rewriting the bytes? Probably not worth it for pages this small.</p>`,
		`<p>How do you deal with <code>&lt;noscript&gt;</code>? Its content is text when scripting is on and markup when it is off.</p><p>Browsers at the edge never "run scripts", so which one do you pick?</p>`,
		`<p>Minor: the math element in the selectors section renders as plain text in my reader app. Still readable though.</p>`,
	}
	replyTexts = []string{
		`<p>We match inside it, deliberately: editors sometimes want to change a template that scripts clone later. A rule can exclude it with <code>:not(template *)</code>.</p>`,
		`<p>Yes: after <code>&lt;plaintext&gt;</code> everything is copied as is, and no later selector can match.</p>`,
		`<p>Fair point. We will add allocation numbers in the next post.</p>`,
		`<p>Scripting is on, as in the browsers we serve, so <code>&lt;noscript&gt;</code> is raw text for the matcher.</p>`,
		`<p>Not yet, but the pages are in the repository, generated from a fixed seed.</p>`,
		`<p>It is, and it is in the page as inline SVG with a CDATA section in its <code>&lt;style&gt;</code>, because of course it is.</p>`,
		`<p>Exactly: <code>&lt;![CDATA[ ... ]]&gt;</code> is a bogus comment in HTML content, and a real CDATA section inside SVG and MathML.</p>`,
		`<p>About 40x slower in our test, and 30x the memory. It also runs the page's scripts, which we definitely do not want.</p>`,
	}
	commentFollowups = []string{
		`<p>Edit: I see the repository link in the footnote now. Thanks!</p>`,
		`<p>For context, our stack is a plain reverse proxy in front of a PHP CMS from 2011. Pages range from 40 KB to 1.2 MB, and the big ones are mostly inline JSON.</p>`,
		`<p>Either way, thanks for the detailed write-up &mdash; it is rare to see the ugly parts documented.</p>`,
		`<blockquote><p>What comes in is what goes out, except for the parts an edit changes.</p></blockquote><p>This should be printed on a poster.</p>`,
		`<p>Also: <a href="#tokenizer" rel="nofollow ugc">the state diagram</a> is missing the RCDATA states, but I guess that is the point of &#8220;simplified&#8221;.</p>`,
	}
	avatarColors = []string{"#e4572e", "#29335c", "#669bbc", "#f3a712", "#a8c686", "#9a348e", "#0d3b66", "#ee6c4d"}
)

// articlePage is a long blog article of about 80 KiB.
func articlePage() []byte {
	r := newRNG(0x61727469636c65) // "article"
	var d doc
	d.l(`<!DOCTYPE html>`,
		`<html lang="en" dir="ltr">`,
		`<head>`,
		`  <meta charset="UTF-8">`,
		`  <meta name="viewport" content="width=device-width,initial-scale=1">`,
		`  <title>Streaming HTML rewriting: what the tokenizer taught us | Byte Order</title>`,
		`  <meta name="description" content="How a streaming HTML rewriter works without a DOM: tokenizer states, raw text, selectors on a stack, implied end tags and character references.">`,
		`  <meta name="author" content="Mara Lindgren">`,
		`  <meta property="og:type" content="article">`,
		`  <meta property="article:published_time" content="2026-10-21T08:30:00+02:00">`,
		`  <link rel="alternate" type="application/atom+xml" href="/feed.xml" title="Byte Order">`,
	)
	articleStyle(&d)
	d.l(`  <script type="application/ld+json">`,
		`  {"@context":"https://schema.org","@type":"BlogPosting","headline":"Streaming HTML rewriting: what the tokenizer taught us",`,
		`   "author":{"@type":"Person","name":"Mara Lindgren"},"datePublished":"2026-10-21","wordCount":3150,`,
		`   "about":"HTML <script> & <style> parsing, escaped as \u003cscript\u003e in strict encoders"}`,
		`  </script>`,
		`</head>`,
		`<body class="post-template">`,
		`<header class="blog-header">`,
		`  <a class="blog-title" href="/">Byte&nbsp;Order</a>`,
		`  <nav class="blog-nav" aria-label="Blog">`,
		`    <a href="/">Posts</a> <a href="/tags/">Tags</a> <a href="/about/">About</a> <a href="/feed.xml">Feed</a>`,
		`  </nav>`,
		`</header>`,
		`<div class="layout">`,
		`<main id="main">`,
		`<article class="post h-entry" id="post" data-item-id="a-1204">`,
		`  <header class="post-header">`,
		`    <p class="post-tags"><a href="/tags/html/" rel="tag">html</a> <a href="/tags/parsing/" rel="tag">parsing</a> <a href="/tags/edge/" rel="tag">edge</a></p>`,
		`    <h1 class="p-name">Streaming HTML rewriting: what the tokenizer taught us</h1>`,
		`    <p class="post-meta">By <a class="p-author h-card" href="/about/">Mara Lindgren</a> &middot; <time class="dt-published" datetime="2026-10-21T08:30:00+02:00">21 October 2026</time> &middot; 16&nbsp;min read &middot; <a href="#comments">40 comments</a></p>`,
		`  </header>`)

	d.l(`  <nav class="toc" aria-label="Contents">`, `    <h2>Contents</h2>`, `    <ol>`)
	for _, s := range articleSections {
		if s.title != "" {
			d.f("      <li><a href=\"#%s\">%s</a></li>\n", s.id, s.title)
		}
	}
	d.l(`    </ol>`, `  </nav>`)

	d.l(`  <div class="e-content post-body">`)
	for _, s := range articleSections {
		if s.title != "" {
			d.f("  <h2 id=\"%s\">%s <a class=\"anchor\" href=\"#%s\" aria-label=\"Link to this section\">#</a></h2>\n", s.id, s.title, s.id)
		}
		for _, b := range s.blocks {
			d.l("  " + b)
		}
		if s.id == "raw-text" {
			d.l(`  <p>A reader asked what a page looks like to the tokenizer when it mixes all of these, so here is a live one. This script runs on this page:</p>`,
				`  <p id="code-count" class="note">(With JavaScript on, a count of code blocks appears here.)</p>`,
				`  <script>`,
				`  //<![CDATA[`,
				`  (function () {`,
				`    var blocks = document.querySelectorAll('pre code'), n = 0;`,
				`    for (var i = 0; i < blocks.length; i++) { if (blocks[i].textContent.indexOf('<') >= 0 && n < 100) n++; }`,
				`    var out = document.getElementById('code-count');`,
				`    if (out) out.innerHTML = '<strong>' + n + '<\/strong> code blocks above this note contain a &lt;';`,
				`  })();`,
				`  //]]>`,
				`  </script>`,
				`  <div class="legacy-embed"><![CDATA[ In HTML content this is a bogus comment: a < b ]]></div>`)
		}
	}
	d.l(`  <section class="footnotes" aria-label="Footnotes">`,
		`    <ol>`,
		`      <li id="fn-1">The reference pages are generated by a small program from a fixed seed, so they are the same on every machine. <a href="#fnref-1" aria-label="Back to the text">&#8617;</a></li>`,
		`      <li id="fn-2">Shift_JIS, which shares bytes with ASCII&#x2019;s <code>&lt;</code> only where it is safe to, but not in every legacy variant. <a href="#fnref-2" aria-label="Back to the text">&#8617;</a></li>`,
		`    </ol>`,
		`  </section>`,
		`  </div>`)

	d.l(`  <footer class="post-footer">`,
		`    <div class="author-card h-card">`,
		`      <svg class="avatar avatar--large" width="64" height="64" viewBox="0 0 40 40" aria-hidden="true"><circle cx="20" cy="20" r="20" fill="#29335c"/><text x="20" y="25" text-anchor="middle" font-size="14" font-family="sans-serif" fill="#fff">ML</text></svg>`,
		`      <p><strong class="p-name">Mara Lindgren</strong> builds the edge proxy at a company that personalizes web pages. Before that she worked on a browser's HTML parser, which explains a lot.</p>`,
		`    </div>`,
		`    <form class="subscribe" action="/subscribe" method="post">`,
		`      <label for="sub-email">New posts by email, about once a month</label>`,
		`      <input id="sub-email" type="email" name="email" placeholder="you@example.org" required>`,
		`      <input type="hidden" name="source" value="post-footer">`,
		`      <button type="submit">Subscribe</button>`,
		`    </form>`,
		`  </footer>`,
		`</article>`)

	d.l(`<section id="mentions" class="mentions" aria-labelledby="mentions-title">`,
		`  <h2 id="mentions-title">Elsewhere</h2>`,
		`  <ul class="mention-list">`)
	for _, m := range []string{
		"Discussed on a link aggregator: &#8220;Streaming HTML rewriting&#8221; (212 points, 87 comments)",
		"Linked from a weekly newsletter on web performance, issue 318",
		"Quoted in &#8220;Parsers all the way down&#8221;, a talk at a browser conference",
		"Translated into Japanese: ストリーミングHTML書き換え",
		"Translated into German: Streaming-HTML-Umschreiben &ndash; was uns der Tokenizer beigebracht hat",
		"Bookmarked by 1,204 readers of an RSS reader",
	} {
		d.f("    <li class=\"mention\">%s</li>\n", m)
	}
	d.l(`  </ul>`, `</section>`)

	articleComments(&d, r)
	articleRelated(&d, r)
	d.l(`</main>`)

	d.l(`<aside class="sidebar" aria-label="About this blog">`,
		`  <section>`,
		`    <h2>Byte Order</h2>`,
		`    <p>Notes on the web platform, parsers and the plumbing between a server and a screen. No tracking, no ads, just HTML.</p>`,
		`  </section>`,
		`  <section>`,
		`    <h2>Popular tags</h2>`,
		`    <ul class="tags"><li><a href="/tags/html/">html</a> (24)<li><a href="/tags/css/">css</a> (17)<li><a href="/tags/http/">http</a> (12)<li><a href="/tags/wasm/">wasm</a> (9)<li><a href="/tags/performance/">performance</a> (21)</ul>`,
		`  </section>`,
		`</aside>`,
		`</div>`)

	d.l(`<script type="text/template" id="tpl-comment">`,
		`  <li class="comment" id="c-<%= id %>" data-comment-id="<%= id %>">`,
		`    <article class="comment__inner">`,
		`      <header><strong class="comment__author"><%- author %></strong> <time datetime="<%= iso %>"><%= date %></time></header>`,
		`      <div class="comment__body"><%= body %></div>`,
		`      <% if (replies.length > 0) { %><ol class="replies"></ol><% } %>`,
		`    </article>`,
		`  </li>`,
		`</script>`,
		`<script>`,
		`(function () {`,
		`  var tpl = document.getElementById('tpl-comment').textContent;`,
		`  var form = document.getElementById('comment-form');`,
		`  if (!form || tpl.indexOf('<li') < 0) return;`,
		`  function render(t, data) {`,
		`    return t.replace(/<%[=-]\s*(\w+)\s*%>/g, function (_, k) {`,
		`      return String(data[k] == null ? '' : data[k]).replace(/[&<>"]/g, function (c) {`,
		`        return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c];`,
		`      });`,
		`    }).replace(/<%[^%]*%>/g, '');`,
		`  }`,
		`  form.addEventListener('submit', function (e) {`,
		`    e.preventDefault();`,
		`    var body = form.elements.body.value, list = document.getElementById('comment-list');`,
		`    if (body.length < 2 || body.length > 5000) return;`,
		`    var now = new Date();`,
		`    list.insertAdjacentHTML('beforeend', render(tpl, { id: 'new-' + list.children.length, author: form.elements.name.value || 'You', iso: now.toISOString(), date: 'just now', body: body, replies: [] }));`,
		`    form.reset();`,
		`  });`,
		`})();`,
		`</script>`)

	d.l(`<footer class="blog-footer">`,
		`  <p>&copy; 2019&ndash;2026 Mara Lindgren &middot; Text under CC BY 4.0 &middot; <a href="/feed.xml">Atom feed</a></p>`,
		`</footer>`,
		`</body>`,
		`</html>`)
	return d.Bytes()
}

func articleComments(d *doc, r *rng) {
	d.l(`<section id="comments" class="comments" aria-labelledby="comments-title">`,
		`  <h2 id="comments-title">40 comments</h2>`,
		`  <ol id="comment-list" class="comment-list">`)
	id := 3000
	total := 0
	texts := r.shuffled(commentTexts)
	replies := r.shuffled(replyTexts)
	ri := 0
	day, min := 21, 9*60+10
	for ti := 0; total < 40; ti++ {
		id += r.between(1, 9)
		total++
		nreplies := 0
		if r.chance(35) && total < 38 {
			nreplies = r.between(1, 2)
		}
		if total+nreplies > 40 {
			nreplies = 40 - total
		}
		min += r.between(7, 190)
		if min >= 24*60 {
			min -= 24 * 60
			day++
		}
		body := texts[ti%len(texts)]
		if r.chance(50) {
			body += r.pick(commentFollowups)
		}
		articleComment(d, r, id, r.pick(commentAuthors), body, day, min, "    ", nreplies > 0)
		if nreplies > 0 {
			d.l(`      <ol class="replies">`)
			for k := 0; k < nreplies; k++ {
				id += r.between(1, 9)
				total++
				min += r.between(3, 60)
				if min >= 24*60 {
					min -= 24 * 60
					day++
				}
				author := "Mara Lindgren"
				if k > 0 {
					author = r.pick(commentAuthors)
				}
				articleComment(d, r, id, author, replies[ri%len(replies)], day, min, "        ", false)
				d.l(`        </li>`)
				ri++
			}
			d.l(`      </ol>`)
		}
		d.l(`    </li>`)
	}
	d.l(`  </ol>`,
		`  <form id="comment-form" class="comment-form" action="/comments" method="post">`,
		`    <h3>Leave a comment</h3>`,
		`    <p><label for="c-name">Name</label><br><input id="c-name" name="name" autocomplete="name"></p>`,
		`    <p><label for="c-body">Comment (plain text; <code>&lt;code&gt;</code> is shown as typed)</label><br>`,
		`    <textarea id="c-body" name="body" rows="6" cols="60" required placeholder="Be kind. Markup like <b> is shown as text."></textarea></p>`,
		`    <input type="hidden" name="post" value="a-1204">`,
		`    <input type="text" name="website" value="" tabindex="-1" autocomplete="off" style="display:none" aria-hidden="true">`,
		`    <button type="submit">Post comment</button>`,
		`  </form>`,
		`</section>`)
}

// articleComment writes a comment's opening <li> and its content; the
// caller closes the <li> after any replies.
func articleComment(d *doc, r *rng, id int, author, body string, day, min int, in string, hasReplies bool) {
	initials := ""
	for _, w := range strings.Fields(author) {
		for _, c := range w {
			initials += string(c)
			break
		}
	}
	if n := []rune(initials); len(n) > 2 {
		initials = string(n[:2])
	}
	cls := "comment"
	if author == "Mara Lindgren" {
		cls += " comment--author"
	}
	if hasReplies {
		cls += " has-replies"
	}
	d.f("%s<li class=\"%s\" id=\"c-%d\" data-comment-id=\"%d\">\n", in, cls, id, id)
	d.f("%s  <article class=\"comment__inner\">\n", in)
	d.f("%s    <header class=\"comment__header\"><svg class=\"avatar\" width=\"40\" height=\"40\" viewBox=\"0 0 40 40\" aria-hidden=\"true\"><circle cx=\"20\" cy=\"20\" r=\"20\" fill=\"%s\"/><text x=\"20\" y=\"25\" text-anchor=\"middle\" font-size=\"14\" font-family=\"sans-serif\" fill=\"#fff\">%s</text></svg>\n",
		in, r.pick(avatarColors), esc(initials))
	d.f("%s      <strong class=\"comment__author\">%s</strong> <a class=\"comment__date\" href=\"#c-%d\"><time datetime=\"2026-10-%02dT%02d:%02d:00Z\">%d October 2026 at %s</time></a></header>\n",
		in, esc(author), id, day, min/60, min%60, day, clock(min))
	d.f("%s    <div class=\"comment__body\">%s</div>\n", in, body)
	likes := r.intn(60)
	d.f("%s    <footer class=\"comment__actions\"><button type=\"button\" class=\"like\" data-comment-id=\"%d\" aria-pressed=\"false\">&#9829; %d</button> <a class=\"reply\" href=\"?replytocom=%d#comment-form\" rel=\"nofollow\">Reply</a></footer>\n",
		in, id, likes, id)
	d.f("%s  </article>\n", in)
}

func articleRelated(d *doc, r *rng) {
	posts := []struct{ title, summary string }{
		{"A CSS selector engine in 400 lines", "Compiling selectors to a matcher that runs on a stack instead of a tree."},
		{"What the byte order mark does to your templates", "Three bytes that break doctype sniffing, JSON parsers and shell scripts."},
		{"Golden tests for things that stream", "Splitting input at every byte boundary, and why it finds bugs that unit tests miss."},
		{"Cookies, caches and the Vary header", "Personalized pages and shared caches can coexist. Here is how we keep them apart."},
		{"WebAssembly as a plugin format", "Sandboxing rules written by people who are not programmers, at a microsecond per request."},
		{"Reading the HTML standard for fun", "A guided tour of the tokenizer chapter, with the states that surprise everyone."},
	}
	d.l(`<section id="related" class="related" aria-labelledby="related-title">`,
		`  <h2 id="related-title">Related posts</h2>`,
		`  <ul class="related-list">`)
	id := 1100
	for _, p := range posts {
		id += r.between(3, 19)
		d.f("    <li class=\"related-post\" data-item-id=\"a-%d\"><a href=\"/posts/%s/\"><strong>%s</strong></a><p>%s</p></li>\n", id, slug(p.title), p.title, p.summary)
	}
	d.l(`  </ul>`, `</section>`)
}

func articleStyle(d *doc) {
	d.l(`  <style>`,
		`    :root { --fg: #1f2328; --muted: #59636e; --bg: #fffdf9; --accent: #b3261e; --code-bg: #f4f1ea; --line: #e5e0d6; }`,
		`    * { box-sizing: border-box; }`,
		`    body { margin: 0; background: var(--bg); color: var(--fg); font: 18px/1.65 Charter, "Bitstream Charter", "Sitka Text", Cambria, serif; }`,
		`    a { color: var(--accent); }`,
		`    .blog-header { display: flex; justify-content: space-between; align-items: baseline; max-width: 1100px; margin: 0 auto; padding: 1.2rem 1rem; border-bottom: 1px solid var(--line); font-family: system-ui, sans-serif; }`,
		`    .blog-title { font-weight: 800; font-size: 1.3rem; color: var(--fg); text-decoration: none; }`,
		`    .blog-nav a { margin-left: 1rem; color: var(--muted); text-decoration: none; }`,
		`    .layout { display: grid; grid-template-columns: minmax(0, 42rem) 16rem; gap: 3rem; max-width: 1100px; margin: 0 auto; padding: 0 1rem; }`,
		`    .post-header h1 { font-size: 2.4rem; line-height: 1.15; margin: .5rem 0; }`,
		`    .post-tags a { font: 600 .75rem system-ui, sans-serif; text-transform: uppercase; letter-spacing: .06em; text-decoration: none; margin-right: .6rem; }`,
		`    .post-meta { color: var(--muted); font: .9rem system-ui, sans-serif; }`,
		`    .lead { font-size: 1.2rem; }`,
		`    .toc { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .6rem 1.2rem; font: .92rem/1.5 system-ui, sans-serif; }`,
		`    .toc h2 { font-size: 1rem; margin: .3rem 0; }`,
		`    .post-body h2 { margin-top: 2.4rem; font-size: 1.6rem; }`,
		`    .anchor { opacity: 0; text-decoration: none; font-weight: 400; }`,
		`    h2:hover > .anchor { opacity: .6; }`,
		`    code, kbd, pre { font: .86em/1.5 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }`,
		`    :not(pre) > code { background: var(--code-bg); padding: .1em .3em; border-radius: 3px; }`,
		`    pre { background: var(--code-bg); border: 1px solid var(--line); border-radius: 6px; padding: 1rem; overflow-x: auto; }`,
		`    pre .c { color: #8a6d3b; }`,
		`    kbd { border: 1px solid #bbb; border-bottom-width: 2px; border-radius: 3px; padding: 0 .3em; background: #fff; }`,
		`    .figure { margin: 2rem 0; }`,
		`    .figure img, .figure svg { width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; background: #fff; }`,
		`    figcaption { color: var(--muted); font: .85rem system-ui, sans-serif; margin-top: .4rem; }`,
		`    table { border-collapse: collapse; width: 100%; font: .92rem system-ui, sans-serif; margin: 1.5rem 0; }`,
		`    caption { text-align: left; color: var(--muted); margin-bottom: .4rem; }`,
		`    th, td { border-bottom: 1px solid var(--line); padding: .4rem .6rem; text-align: left; }`,
		`    .bench td:nth-child(n+3) { text-align: right; font-variant-numeric: tabular-nums; }`,
		`    details.aside { background: #fff; border-left: 4px solid var(--accent); padding: .6rem 1rem; margin: 1.5rem 0; }`,
		`    .note { color: var(--muted); font-style: italic; }`,
		`    .legacy-embed:empty { display: none; }`,
		`    .footnotes { border-top: 1px solid var(--line); margin-top: 3rem; font-size: .88rem; color: var(--muted); }`,
		`    .author-card { display: flex; gap: 1rem; align-items: center; border-top: 1px solid var(--line); border-bottom: 1px solid var(--line); padding: 1rem 0; margin-top: 2rem; }`,
		`    .subscribe { margin: 1.5rem 0; font: .95rem system-ui, sans-serif; }`,
		`    .subscribe input[type=email] { padding: .4rem .6rem; min-width: 16rem; }`,
		`    .comments { margin-top: 3rem; font-size: .95rem; }`,
		`    .comment-list, .replies { list-style: none; margin: 0; padding: 0; }`,
		`    .replies { margin-left: 3.2rem; border-left: 2px solid var(--line); padding-left: 1rem; }`,
		`    .comment__inner { padding: .8rem 0; border-bottom: 1px solid var(--line); }`,
		`    .comment__header { display: flex; align-items: center; gap: .6rem; font-family: system-ui, sans-serif; }`,
		`    .comment__date { color: var(--muted); font-size: .82rem; text-decoration: none; }`,
		`    .comment--author > .comment__inner .comment__author::after { content: "author"; font-size: .7rem; background: var(--accent); color: #fff; border-radius: 3px; padding: 0 .35rem; margin-left: .4rem; vertical-align: 2px; }`,
		`    .comment__body { margin-left: 3.1rem; }`,
		`    .comment__actions { margin-left: 3.1rem; font: .82rem system-ui, sans-serif; }`,
		`    .comment__actions button { background: none; border: 0; color: var(--muted); cursor: pointer; }`,
		`    .comment-form textarea, .comment-form input { width: 100%; font: inherit; padding: .4rem; }`,
		`    .related-list { list-style: none; padding: 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); gap: 1rem; }`,
		`    .related-post { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .8rem 1rem; }`,
		`    .related-post p { margin: .3rem 0 0; font-size: .9rem; color: var(--muted); }`,
		`    .sidebar { font: .92rem system-ui, sans-serif; padding-top: 2rem; }`,
		`    .tags { padding-left: 1rem; }`,
		`    .blog-footer { max-width: 1100px; margin: 3rem auto 0; padding: 1.5rem 1rem; border-top: 1px solid var(--line); color: var(--muted); font: .85rem system-ui, sans-serif; }`,
		`    @media (max-width: 860px) { .layout { grid-template-columns: 1fr; } .replies { margin-left: 1rem; } .comment__body, .comment__actions { margin-left: 0; } }`,
		`  </style>`)
}
