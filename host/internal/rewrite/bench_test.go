package rewrite

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// benchPage builds a realistic product listing page of about 100 KiB: a
// head with metadata, a stylesheet and scripts (analytics, JSON-LD), a
// header with an inline svg logo and navigation, a hero, 50 product cards
// (each with a comment, a picture with srcset, text, a price, a rating
// svg, a button and a small inline script), and a footer of links.
func benchPage() []byte {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tents &amp; shelters | Northwind Outfitters</title>
<meta name="description" content="Tents, tarps and shelters for every season, with free returns within 30 days.">
<link rel="canonical" href="https://shop.example.com/c/tents">
<link rel="preload" href="/static/fonts/inter-var.woff2" as="font" type="font/woff2" crossorigin>
<link rel="stylesheet" href="/static/css/site.4f9a2c.css">
<style>
:root{--brand:#1f6feb;--ink:#1b1f24;--muted:#57606a;--radius:10px}
body{margin:0;font:16px/1.5 Inter,system-ui,sans-serif;color:var(--ink)}
.site-header{display:flex;align-items:center;gap:24px;padding:12px 24px;border-bottom:1px solid #d0d7de}
.nav a{color:var(--ink);text-decoration:none;padding:6px 10px;border-radius:6px}
.nav a:hover{background:#f3f4f6}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:20px;list-style:none;padding:0}
.card{border:1px solid #d0d7de;border-radius:var(--radius);overflow:hidden;background:#fff}
.card img{width:100%;height:auto;display:block}
.card-body{padding:12px 16px}.price{font-weight:600}.badge{background:#ffebe9;color:#cf222e;border-radius:99px;padding:2px 8px}
@media (max-width:640px){.site-header{flex-wrap:wrap}.cards{grid-template-columns:1fr 1fr}}
</style>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-XXXXXXX"></script>
<script>
window.dataLayer = window.dataLayer || [];
function gtag(){dataLayer.push(arguments);}
gtag('js', new Date());
gtag('config', 'G-XXXXXXX', { 'anonymize_ip': true });
if (document.cookie.indexOf('consent=') < 0 && window.innerWidth > 640) { document.documentElement.className += ' no-consent'; }
</script>
<script type="application/ld+json">{"@context":"https://schema.org","@type":"ItemList","name":"Tents","numberOfItems":50}</script>
</head>
<body class="page-category theme-light">
<a class="skip-link" href="#content">Skip to content</a>
<div id="announce" class="announce" role="region" aria-label="Announcement">Free shipping on orders over $50 &mdash; <a href="/shipping">details</a></div>
<header class="site-header">
  <a class="logo" href="/" aria-label="Northwind Outfitters home"><svg width="32" height="32" viewBox="0 0 32 32" aria-hidden="true"><path d="M2 28 L16 4 L30 28 Z" fill="none" stroke="currentColor" stroke-width="2"/><circle cx="16" cy="20" r="3"/></svg><span>Northwind</span></a>
  <nav id="main-nav" class="nav" aria-label="Main">
    <ul>
`)
	for _, n := range []string{"Tents", "Backpacks", "Sleeping bags", "Clothing", "Footwear", "Cooking", "Climbing", "Journal", "Stores"} {
		fmt.Fprintf(&b, "      <li class=\"nav-item\"><a href=\"/c/%s\">%s</a></li>\n", strings.ToLower(strings.ReplaceAll(n, " ", "-")), n)
	}
	b.WriteString(`    </ul>
  </nav>
  <form class="search" action="/search" role="search"><input type="search" name="q" placeholder="Search gear" aria-label="Search"><button type="submit">Search</button></form>
</header>
<main id="content">
  <section id="hero" class="hero">
    <h1 class="hero-title">Gear up for the season</h1>
    <p class="hero-sub">Tents, packs and jackets for short days and cold nights. Tested on the trail, guaranteed for life.</p>
    <a class="cta" href="/sale">Shop the sale</a>
  </section>
  <aside id="promo" class="promo"><p>Join the club and get 10% off your first order.</p></aside>
  <section id="recommended">
    <h2>Recommended for you</h2>
    <ul class="cards">
`)
	for i := 0; i < 50; i++ {
		sku := 1000 + i
		fmt.Fprintf(&b, `      <!-- card %d: sku-%d -->
      <li class="card" data-item-id="sku-%d" data-category="tents" data-price="%d.00">
        <a class="card-link" href="/p/ridgeline-%d-tent?ref=cat">
          <picture>
            <source type="image/avif" srcset="/img/p/sku-%d-480.avif 480w, /img/p/sku-%d-960.avif 960w" sizes="(max-width: 640px) 50vw, 240px">
            <img src="/img/p/sku-%d-480.jpg" srcset="/img/p/sku-%d-480.jpg 480w, /img/p/sku-%d-960.jpg 960w" sizes="(max-width: 640px) 50vw, 240px" alt="Ridgeline %d two-person tent, pitched" loading="lazy" width="480" height="360">
          </picture>
        </a>
        <div class="card-body">
          <h3 class="card-title"><a href="/p/ridgeline-%d-tent">Ridgeline %d two-person tent</a></h3>
          <p class="card-text">Freestanding and 1.9&nbsp;kg, with two doors, two vestibules for wet gear and a fly that pitches first when the weather turns.</p>
          <p class="price"><span class="currency">$</span><span class="amount">%d.00</span></p>
          <div class="rating" aria-label="4.5 out of 5"><svg width="80" height="16" viewBox="0 0 80 16"><path d="M8 1l2 5h5l-4 3 2 5-5-3-5 3 2-5-4-3h5z"/></svg><span>(%d)</span></div>
          <button type="button" class="add-to-cart" data-sku="sku-%d" aria-label="Add Ridgeline %d to cart">Add to cart</button>
        </div>
        <script>window.cardViews=(window.cardViews||0)+1;if(window.cardViews<3){dataLayer.push({event:'view_item',sku:'sku-%d'})}</script>
      </li>
`, i, sku, sku, 199+i, i, sku, sku, sku, sku, sku, i, i, i, 199+i, 10+i*3, sku, i, sku)
	}
	b.WriteString(`    </ul>
  </section>
</main>
<footer class="site-footer">
`)
	for col := 0; col < 4; col++ {
		fmt.Fprintf(&b, "  <div class=\"footer-col\"><h4>Section %d</h4><ul>\n", col)
		for j := 0; j < 10; j++ {
			fmt.Fprintf(&b, "    <li><a href=\"/info/%d-%d\">Information page %d.%d</a></li>\n", col, j, col, j)
		}
		b.WriteString("  </ul></div>\n")
	}
	for b.Len() < 100<<10-600 {
		b.WriteString(`  <p class="legal">Prices include VAT where applicable. Free returns within 30 days on unused items in their original packaging. &copy; 2026 Northwind Outfitters.</p>
`)
	}
	b.WriteString(`</footer>
<script>document.querySelectorAll('.add-to-cart').forEach(function(b){b.addEventListener('click',function(){gtag('event','add_to_cart',{sku:b.dataset.sku})})})</script>
</body>
</html>
`)
	return []byte(b.String())
}

// The benchmark's five edits. passSelectors match nothing on the page;
// editSelectors match one element each.
var (
	passSelectors = []string{"#nope .x", "#missing a", "body.never", "section.none > h2", "aside#gone"}
	editSelectors = []string{"#hero .hero-title", "#hero .cta", "body", "#hero", "#promo"}
	fiveEdits     = []Edit{
		{Selector: 0, Op: SetInner, Content: []byte("Équipez-vous pour la saison")},
		{Selector: 1, Op: SetAttr, Attr: "href", Value: "/fr/soldes"},
		{Selector: 2, Op: AddClass, Attr: "lang-fr"},
		{Selector: 3, Op: InsertBefore, Content: []byte(`<div class="app-banner">Get the app</div>`)},
		{Selector: 4, Op: Remove},
	}
)

// benchSeen reports every other item seen.
type benchSeen struct{ shown int }

func (s *benchSeen) Recency(id string) int {
	if id != "" && id[len(id)-1]&1 == 0 {
		return 1
	}
	return 0
}
func (s *benchSeen) Shown(string) { s.shown++ }

func benchRewrite(b *testing.B, page []byte, sels []string, edits []Edit, seen SeenSet) {
	prog, err := CompileStrings(sels)
	if err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	out.Grow(2 * len(page))
	rewriteOnce := func() {
		out.Reset()
		rw := prog.NewRewriter(&out, edits, Options{Seen: seen})
		// As the proxy feeds it: 32 KiB reads.
		for i := 0; i < len(page); i += 32 << 10 {
			rw.Write(page[i:min(i+32<<10, len(page))])
		}
		rw.Close()
		rw.Release()
	}
	warm(rewriteOnce)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		rewriteOnce()
	}
}

// warm runs a benchmark's operation once before its timer starts (the
// first b.Loop resets it): a new Program's first rewrite fills its
// pools, a cost of the program's first page that a server pays once,
// not per page. Timed, it was the B/op these benchmarks reported on the
// shop page (with -benchtime 1x, 20 KB for a pass-through, 547 KB with
// hide_seen, and none after it), and with the few iterations of
// BenchmarkRewriteCorpus (a pass over 29 MB, one to six of them in
// bench -quick's 100 ms) much of its time and nearly all of its B/op:
// 4.35 MB with -benchtime 1x, against 2 KB a pass after it.
func warm(op func()) { op() }

// BenchmarkRewrite measures the rewriter on a realistic 100 KiB page:
// passthrough has five edits whose selectors match nothing; edits has five
// that match; hideseen adds a HideSeen over the 50 cards, half of them
// seen.
func BenchmarkRewrite(b *testing.B) {
	b.Run("passthrough", func(b *testing.B) {
		benchRewrite(b, benchPage(), passSelectors, fiveEdits, nil)
	})
	b.Run("edits", func(b *testing.B) {
		benchRewrite(b, benchPage(), editSelectors, fiveEdits, nil)
	})
	b.Run("hideseen", func(b *testing.B) {
		sels := append(append([]string{}, editSelectors...), "ul.cards > li.card")
		edits := append(append([]Edit{}, fiveEdits...), Edit{Selector: 5, Op: HideSeen, Attr: "data-item-id", N: 8})
		benchRewrite(b, benchPage(), sels, edits, &benchSeen{})
	})
}

// savedPages are the saved real-world pages of testdata/pages with, for
// each, five selectors that match one element each and the repeated item
// hide_seen works on (the same choice as bench/page.go).
var savedPages = []struct {
	name  string
	edits []string
	card  string
}{
	{"shop", []string{".listing-head h1", "#promo-strip a", "body", "#listing", "#legacy-promo"}, "li.card"},
	{"news", []string{"#h-top", "a.signin", "body", "#main", "#ad-top"}, "article.teaser"},
	{"article", []string{"h1.p-name", "a.blog-title", "body", "#main", "#mentions"}, "li.related-post"},
}

// BenchmarkRewritePage is BenchmarkRewrite on the saved pages of
// testdata/pages (50-260 KiB of real-world markup), with memmove and
// io.Copy of the same page as the ceilings.
func BenchmarkRewritePage(b *testing.B) {
	for _, sp := range savedPages {
		page, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "pages", sp.name+".html"))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(sp.name+"/passthrough", func(b *testing.B) {
			benchRewrite(b, page, passSelectors, fiveEdits, nil)
		})
		b.Run(sp.name+"/edits", func(b *testing.B) {
			benchRewrite(b, page, sp.edits, fiveEdits, nil)
		})
		// passthrough with a selector that tests an attribute of every
		// element, which no element has.
		b.Run(sp.name+"/attrsel", func(b *testing.B) {
			benchRewrite(b, page, append(slices.Clone(passSelectors[:4]), "[data-slot=hero]"), fiveEdits, nil)
		})
		// passthrough with fifty more edits whose selectors test one
		// attribute against as many values, fifty whose selectors name a
		// class, and fifty that name links under as many ids, as rule
		// files with as many rules do; none is on the page.
		for _, more := range []struct{ name, format string }{
			{"attrvalues", "[data-slot=slot-%d]"}, {"classes", ".promo-%d"}, {"ancestors", "#slot-%d a"},
		} {
			b.Run(sp.name+"/"+more.name, func(b *testing.B) {
				sels, edits := slices.Clone(passSelectors), slices.Clone(fiveEdits)
				for i := range 50 {
					sels = append(sels, fmt.Sprintf(more.format, i))
					edits = append(edits, Edit{Selector: len(sels) - 1, Op: AddClass, Attr: "x"})
				}
				benchRewrite(b, page, sels, edits, nil)
			})
		}
		b.Run(sp.name+"/hideseen", func(b *testing.B) {
			sels := append(append([]string{}, sp.edits...), sp.card)
			edits := append(append([]Edit{}, fiveEdits...), Edit{Selector: 5, Op: HideSeen, Attr: "data-item-id", N: 4})
			benchRewrite(b, page, sels, edits, &benchSeen{})
		})
		b.Run(sp.name+"/memmove", func(b *testing.B) {
			dst := make([]byte, len(page))
			b.SetBytes(int64(len(page)))
			for b.Loop() {
				copy(dst, page)
			}
		})
		b.Run(sp.name+"/iocopy", func(b *testing.B) {
			benchCopy(b, page)
		})
	}
}

// BenchmarkMemmove is a ceiling: copying the page's bytes.
func BenchmarkMemmove(b *testing.B) {
	page := benchPage()
	dst := make([]byte, len(page))
	b.SetBytes(int64(len(page)))
	for b.Loop() {
		copy(dst, page)
	}
}

// BenchmarkIOCopy is a ceiling through the same writer chain: the page
// copied in 32 KiB reads into a buffer, without rewriting.
func BenchmarkIOCopy(b *testing.B) { benchCopy(b, benchPage()) }

func benchCopy(b *testing.B, page []byte) {
	var out bytes.Buffer
	out.Grow(2 * len(page))
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(page)))
	for b.Loop() {
		out.Reset()
		io.CopyBuffer(&out, bytes.NewReader(page), buf)
	}
}

// BenchmarkScanTags measures the tokenizer alone on the shop page's start
// tags (2,829 of them, 41 bytes on average), per page: attributes reads
// each tag as startTag does (its name, then its attributes, to the '>'
// that ends it); gt only finds the first '>' after the name, a floor for
// any scanner that reads a byte at a time (it is wrong on a quoted '>').
func BenchmarkScanTags(b *testing.B) {
	page := shopPage(b)
	var tags [][]byte
	for i := 0; i+1 < len(page); i++ {
		if page[i] == '<' && isAlpha(page[i+1]) {
			var f tagFacts
			n, _ := scanName(page[i:], 1)
			if gt := scanAttrs(page[i:], n, &f, nil); gt > 0 {
				tags = append(tags, page[i:i+gt+1])
			}
		}
	}
	size := 0
	for _, t := range tags {
		size += len(t)
	}
	b.Run("attributes", func(b *testing.B) {
		var f tagFacts
		b.SetBytes(int64(size))
		for b.Loop() {
			for _, t := range tags {
				n, _ := scanName(t, 1)
				scanAttrs(t, n, &f, nil)
			}
		}
	})
	b.Run("gt", func(b *testing.B) {
		b.SetBytes(int64(size))
		for b.Loop() {
			for _, t := range tags {
				n, _ := scanName(t, 1)
				bytes.IndexByte(t[n:], '>')
			}
		}
	})
}
