package main

import (
	"fmt"
	"strings"
)

var (
	shopBrands = []string{"Kestrel", "Stride Lab", "Altus", "Vela", "Ridgeback", "Pacer &amp; Co.", "Nimbus Works", "Ortega", "Fjellsko", "Tsubame"}
	shopModels = []string{"Aero Glide", "Tempo Pro", "Daily Trainer", "Cushion Max", "Swift", "Tempest", "Horizon", "Marathon Elite", "Glide Lite", "Long Run", "Street Racer", "Recovery"}
	shopColors = []struct{ name, hex string }{
		{"Ember red", "#d9442b"}, {"Lake blue", "#2b6cd9"}, {"Black", "#1c1c1c"}, {"Fern", "#3aa15d"},
		{"Volt yellow", "#e0b020"}, {"Violet", "#8a4fd1"}, {"Coral", "#f06a9b"}, {"Slate", "#5a6b7a"},
	}
	shopFeatures  = []string{"Carbon plate", "Waterproof", "Reflective details", "Vegan", "Recycled upper", "Wide fit available", "Rocker sole"}
	shopCountries = [][]string{
		{"Europe", "Austria", "Belgium", "Bulgaria", "Croatia", "Cyprus", "Czechia", "Denmark", "Estonia", "Finland", "France", "Germany", "Greece", "Hungary", "Iceland", "Ireland", "Italy", "Latvia", "Lithuania", "Luxembourg", "Malta", "Netherlands", "Norway", "Poland", "Portugal", "Romania", "Slovakia", "Slovenia", "Spain", "Sweden", "Switzerland", "United Kingdom"},
		{"Americas", "Argentina", "Brazil", "Canada", "Chile", "Colombia", "Mexico", "Peru", "United States", "Uruguay"},
		{"Asia Pacific", "Australia", "Hong Kong", "India", "Indonesia", "Japan", "Malaysia", "New Zealand", "Philippines", "Singapore", "South Korea", "Taiwan", "Thailand", "Vietnam"},
		{"Middle East &amp; Africa", "Israel", "Kenya", "Morocco", "Nigeria", "Saudi Arabia", "South Africa", "Türkiye", "United Arab Emirates"},
	}
)

type shopProduct struct {
	id                 int
	brand, model, full string
	version            int
	color              int
	colors             int
	price, was         int // cents; was is 0 when not reduced
	rating             int // tenths of a star
	reviews            int
	badge              string
	features           []string
}

// shopPage is a shop listing page of about 150 KiB.
func shopPage() []byte {
	r := newRNG(0x73686f70) // "shop"
	products := make([]shopProduct, 60)
	used := map[string]bool{}
	id := 20000
	for i := range products {
		id += r.between(3, 90)
		p := shopProduct{id: id}
		for {
			p.brand, p.model, p.version = r.pick(shopBrands), r.pick(shopModels), r.between(1, 6)
			p.full = fmt.Sprintf("%s %s %d", p.brand, p.model, p.version)
			if !used[p.full] {
				used[p.full] = true
				break
			}
		}
		p.color = r.intn(len(shopColors))
		p.colors = r.between(1, 7)
		p.price = (r.between(6, 26)*1000 - 5) // $59.95 … $259.95
		if r.chance(25) {
			p.was = p.price
			p.price = p.was - r.between(2, 6)*1000
		}
		p.rating = r.between(31, 50)
		p.reviews = r.between(0, 2400)
		switch {
		case r.chance(12):
			p.badge = "new"
		case p.was > 0:
			p.badge = "sale"
		case r.chance(8):
			p.badge = "bestseller"
		}
		for _, f := range shopFeatures {
			if r.chance(18) {
				p.features = append(p.features, f)
			}
		}
		products[i] = p
	}

	var d doc
	d.l(`<!doctype html>`,
		`<html lang=en>`,
		`<head>`,
		`<meta charset=utf-8>`,
		`<meta name=viewport content="width=device-width, initial-scale=1">`,
		`<title>Men's Road Running Shoes | Kestrel Running</title>`,
		`<meta name="description" content='Shop 214 men&#39;s road running shoes: cushioned, fast &amp; "daily" trainers. Free delivery over $75.'>`,
		`<link rel=canonical href="https://shop.kestrel.example/running/men/road-shoes">`,
		`<link rel="next" href="?page=2">`,
	)
	shopStyle(&d)
	d.l(`</head>`,
		`<body class="plp theme-light" data-page="listing" data-category-id=4471>`)
	shopSprite(&d)

	d.l(`<header class="site-header" id=top>`,
		`  <div class="promo-strip" id="promo-strip">Free delivery over $75 &middot; 60-day returns &middot; <a href=/members>Members save 15%</a></div>`,
		`  <div class="header-main">`,
		`    <a class=logo href=/ aria-label="Kestrel Running home"><svg width="32" height="32" viewBox="0 0 32 32" aria-hidden="true"><path d="M2 22 L16 6 L30 22 L22 18 L16 26 L10 18 Z" fill="#e4572e"/></svg><span>KESTREL</span></a>`,
		`    <nav class="main-nav" aria-label="Main">`,
		`      <ul>`,
		`        <li><a href=/running/men aria-current=true>Men</a></li>`,
		`        <li><a href=/running/women>Women</a></li>`,
		`        <li><a href=/running/kids>Kids</a></li>`,
		`        <li><a href=/trail>Trail</a></li>`,
		`        <li><a href=/apparel>Apparel</a></li>`,
		`        <li><a href=/sale class=sale-link>Sale</a></li>`,
		`      </ul>`,
		`    </nav>`,
		`    <form class="search" action=/search role=search>`,
		`      <input type=search name=q placeholder="Search shoes, apparel…" aria-label="Search">`,
		`      <button type=submit><svg width="16" height="16" aria-hidden="true"><use href="#i-search"/></svg></button>`,
		`    </form>`,
		`    <a class="account" href="/account">Account</a>`,
		`  </div>`,
		`</header>`)

	d.l(`<nav class=breadcrumbs aria-label=Breadcrumb>`,
		`  <ol>`,
		`    <li><a href=/>Home</a>`,
		`    <li><a href=/running>Running</a>`,
		`    <li><a href=/running/men>Men</a>`,
		`    <li aria-current=page>Road running shoes`,
		`  </ol>`,
		`</nav>`)

	d.l(`<div class="page">`)
	shopFacets(&d, r)

	d.l(`<main id="listing" class="listing">`,
		`  <div class="listing-head">`,
		`    <h1>Men's road running shoes <span class="count">(214)</span></h1>`,
		`    <form class="sort" action="" method=get>`,
		`      <label for=sort>Sort by</label>`,
		`      <select name=sort id=sort onchange="this.form.submit()">`,
		`        <option value=relevance selected>Relevance`,
		`        <option value=newest>Newest`,
		`        <option value=price-asc>Price: low to high`,
		`        <option value=price-desc>Price: high to low`,
		`        <option value=rating>Top rated`,
		`        <option value=reviews>Most reviewed`,
		`      </select>`,
		`      <noscript><button type=submit>Sort</button></noscript>`,
		`    </form>`,
		`  </div>`)

	shopLegacy(&d)

	d.l(`  <ul class="products" id="product-grid" data-total=214 data-page=1>`)
	for i, p := range products {
		shopCard(&d, r, p, i)
	}
	d.l(`  </ul>`)

	d.l(`  <nav class="pagination" aria-label="Pages">`,
		`    <a href="?page=1" aria-current="page">1</a> <a href="?page=2">2</a> <a href="?page=3">3</a> <a href="?page=4">4</a> <span>&hellip;</span> <a href="?page=4">Last &raquo;</a>`,
		`    <a class="next" href="?page=2" rel="next">Next page</a>`,
		`  </nav>`)

	shopInfo(&d)
	d.l(`</main>`)
	d.l(`</div>`)

	shopRecentlyViewed(&d, r, products)
	shopCart(&d, products)
	shopFooter(&d)
	shopState(&d, products)
	shopScript(&d)
	d.l(`</body>`, `</html>`)
	return d.Bytes()
}

func money(cents int) string {
	return fmt.Sprintf("$%d.%02d", cents/100, cents%100)
}

func shopCard(d *doc, r *rng, p shopProduct, i int) {
	href := fmt.Sprintf("/p/%d/%s", p.id, slug(strings.ReplaceAll(p.full, "&amp;", "and")))
	img := p.color + 1
	color := shopColors[p.color]
	d.f("    <li class=\"product card\" data-item-id=\"p-%d\" data-brand=\"%s\" data-price=\"%d.%02d\" data-position=%d>\n",
		p.id, slug(strings.ReplaceAll(p.brand, "&amp;", "and")), p.price/100, p.price%100, i+1)
	// Some cards are rendered by an older template: unquoted or single-quoted attributes.
	alt := fmt.Sprintf("%s in %s", p.full, color.name)
	if i%7 == 3 {
		d.f("      <a class=product-link href=%s>\n", href)
		d.f("        <img class=product-img src=img/shoe-%d.svg srcset='img/shoe-%d.svg 400w, img/shoe-%d-2x.svg 800w' sizes='(min-width: 1100px) 25vw, 50vw' alt='%s \"%s\" edition' width=400 height=300 loading=lazy>\n",
			img, img, img, p.full, color.name)
	} else {
		d.f("      <a class=\"product-link\" href=\"%s\">\n", href)
		load := ` loading="lazy" decoding="async"`
		if i < 4 {
			load = ""
		}
		d.f("        <img class=\"product-img\" src=\"img/shoe-%d.svg\" srcset=\"img/shoe-%d.svg 400w, img/shoe-%d-2x.svg 800w\" sizes=\"(min-width: 1100px) 25vw, 50vw\" alt=\"%s\" width=\"400\" height=\"300\"%s>\n",
			img, img, img, alt, load)
	}
	d.l(`      </a>`)
	switch p.badge {
	case "new":
		d.l(`      <span class="badge badge-new">New</span>`)
	case "sale":
		d.f("      <span class=\"badge badge-sale\">-%d%%</span>\n", (p.was-p.price)*100/p.was)
	case "bestseller":
		d.l(`      <span class="badge badge-best">Bestseller</span>`)
	}
	d.f("      <h2 class=\"product-name\"><a href=\"%s\">%s</a></h2>\n", href, p.full)
	d.f("      <p class=\"product-colors\"><span class=\"swatch\" style=\"background:%s\" title=\"%s\"></span> %d colour", color.hex, color.name, p.colors)
	if p.colors > 1 {
		d.WriteString("s")
	}
	d.l(`</p>`)
	if p.reviews > 0 {
		d.f("      <div class=\"rating\" title=\"%d.%d out of 5\">", p.rating/10, p.rating%10)
		d.f("<svg class=\"stars\" width=\"80\" height=\"16\" viewBox=\"0 0 80 16\" role=\"img\" aria-label=\"%d.%d out of 5 stars\">", p.rating/10, p.rating%10)
		for s := 0; s < 5; s++ {
			left := p.rating - s*10 // tenths of this star
			star := "#star-empty"
			switch {
			case left >= 8:
				star = "#star-full"
			case left >= 3:
				star = "#star-half"
			}
			d.f("<use href=\"%s\" x=\"%d\" width=\"16\" height=\"16\"/>", star, s*16)
		}
		d.f("</svg> <a class=\"rating-count\" href=\"%s#reviews\">%d reviews</a></div>\n", href, p.reviews)
	} else {
		d.l(`      <div class="rating rating--none">No reviews yet</div>`)
	}
	if p.was > 0 {
		d.f("      <p class=\"price\"><span class=\"price-now\">%s</span> <s class=\"price-was\">%s</s></p>\n", money(p.price), money(p.was))
	} else {
		d.f("      <p class=\"price\"><span class=\"price-now\">%s</span></p>\n", money(p.price))
	}
	if len(p.features) > 0 {
		d.f("      <ul class=\"features\">")
		for _, f := range p.features {
			d.f("<li>%s</li>", f)
		}
		d.l(`</ul>`)
	}
	d.f("      <form class=\"add-to-bag\" action=\"/bag/add\" method=\"post\">\n")
	d.f("        <input type=\"hidden\" name=\"sku\" value=\"p-%d\">\n", p.id)
	d.f("        <input type=hidden name=variant value=%d-%02d>\n", p.id, p.color)
	d.f("        <input type='hidden' name='list' value='plp-road-men'>\n")
	sizes := []string{"40", "41", "42", "42.5", "43", "44", "44.5", "45", "46"}
	d.f("        <select name=size aria-label=\"Size for %s\" required><option value=\"\">Size", p.full)
	for _, s := range sizes {
		if r.chance(85) {
			d.f("<option>%s", s)
		} else {
			d.f("<option disabled>%s (sold out)", s)
		}
	}
	d.l(`</select>`)
	d.f("        <button type=\"submit\" class=\"btn-add\" data-sku=\"p-%d\">Add to bag</button>\n", p.id)
	d.l(`      </form>`)
	d.f("      <button type=\"button\" class=\"wishlist\" aria-pressed=false aria-label=\"Save %s\"><svg width=\"18\" height=\"18\" aria-hidden=\"true\"><use href=\"#i-heart\"/></svg></button>\n", p.full)
	d.l(`    </li>`)
}

func shopFacets(d *doc, r *rng) {
	d.l(`<aside class="facets-panel" aria-label="Filters">`,
		`<form id="facets" class="facets" action="/running/men/road-shoes" method="get">`,
		`  <input type=hidden name=cat value=4471>`,
		`  <input type="hidden" name="csrf" value='9f2c1e7a"b&lt;x'>`,
		`  <h2>Filter</h2>`,
		`  <fieldset class="facet facet--brand">`,
		`    <legend>Brand</legend>`)
	for _, b := range shopBrands {
		v := slug(strings.ReplaceAll(b, "&amp;", "and"))
		checked := ""
		if v == "kestrel" {
			checked = " checked"
		}
		d.f("    <label><input type=checkbox name=brand value=%s%s> %s <span class=n>(%d)</span></label>\n", v, checked, b, r.between(2, 48))
	}
	d.l(`  </fieldset>`,
		`  <fieldset class="facet facet--size">`,
		`    <legend>Size (EU)</legend>`,
		`    <div class="size-grid">`)
	for s := 38; s <= 48; s++ {
		for _, half := range []string{"", ".5"} {
			if s == 48 && half != "" {
				continue
			}
			dis := ""
			if r.chance(10) {
				dis = " disabled"
			}
			d.f("      <label class=size><input type=checkbox name=size value=%d%s%s><span>%d%s</span></label>\n", s, half, dis, s, half)
		}
	}
	d.l(`    </div>`,
		`  </fieldset>`,
		`  <fieldset class="facet facet--width">`,
		`    <legend>Width</legend>`,
		`    <label><input type=radio name=width value=standard checked> Standard</label>`,
		`    <label><input type=radio name=width value=wide> Wide</label>`,
		`    <label><input type=radio name=width value=xwide> Extra wide</label>`,
		`  </fieldset>`,
		`  <fieldset class="facet facet--colour">`,
		`    <legend>Colour</legend>`)
	for _, c := range shopColors {
		d.f("    <label class=\"swatch-label\"><input type=\"checkbox\" name=\"colour\" value=\"%s\"><span class=\"swatch\" style=\"background:%s\"></span> %s</label>\n", slug(c.name), c.hex, c.name)
	}
	d.l(`  </fieldset>`,
		`  <fieldset class="facet facet--price">`,
		`    <legend>Price</legend>`,
		`    <label>Min <input type=number name=min min=0 max=300 step=5 value=0 inputmode=numeric></label>`,
		`    <label>Max <input type=number name=max min=0 max=300 step=5 value=300 inputmode=numeric></label>`,
		`    <input type=range name=max_range min=0 max=300 value=300 aria-label="Maximum price">`,
		`  </fieldset>`,
		`  <fieldset class="facet facet--features">`,
		`    <legend>Features</legend>`)
	for _, f := range shopFeatures {
		d.f("    <label><input type=checkbox name=feature value=%s> %s</label>\n", slug(f), f)
	}
	d.l(`  </fieldset>`,
		`  <fieldset class="facet facet--drop">`,
		`    <legend>Heel-to-toe drop</legend>`,
		`    <select name=drop>`,
		`      <option value="">Any`,
		`      <option value=0-4>0&ndash;4 mm`,
		`      <option value=5-8>5&ndash;8 mm`,
		`      <option value=9-12>9&ndash;12 mm`,
		`      <option value=13->13 mm and more`,
		`    </select>`,
		`  </fieldset>`,
		`  <div class="facet-actions"><button type=submit>Apply filters</button> <a href="/running/men/road-shoes">Clear all</a></div>`,
		`</form>`,
		`<div class="popular">`,
		`  <h3>Popular searches</h3>`,
		`  <ul>`,
		`    <li><a href="/search?q=carbon+plate&amp;cat=4471">carbon plate</a>`,
		`    <li><a href="/search?q=wide+fit&cat=4471">wide fit</a>`,
		`    <li><a href="/search?q=marathon">marathon</a>`,
		`    <li><a href="/search?q=zero+drop">zero drop</a>`,
		`  </ul>`,
		`</div>`,
		`</aside>`)
}

func shopLegacy(d *doc) {
	d.l(`  <!-- legacy promo widget (CMS v2, do not edit by hand) -->`,
		`  <DIV CLASS=legacy ID=legacy-promo ALIGN=center class="ignored-duplicate">`,
		`  <TABLE WIDTH="100%" BORDER=0 CELLPADDING=4 CELLSPACING=0><TR><TD BGCOLOR=#FFF3C4>`,
		`  <FONT FACE="Verdana, Arial" SIZE=2><B>Members save 15%</B> on every road shoe this week.&nbsp;<A HREF="/members?src=legacy&amp;cmp=nov">Join free &gt;&gt;</A></FONT>`,
		`  </TD><TD WIDTH=100 ALIGN=RIGHT><IMG SRC="img/legacy-badge.svg" WIDTH=88 HEIGHT=31 ALT="Member deal" BORDER=0></TD></TR></TABLE>`,
		`  <BR CLEAR=all>`,
		`  </DIV>`)
}

func shopInfo(d *doc) {
	d.l(`  <section class="info" id="delivery-info">`,
		`    <h2>Delivery &amp; returns</h2>`,
		`    <div class="delivery-info">`,
		`      <p>Free standard delivery on orders over $75`,
		`      <p>Next-day delivery for $9.95 when you order before 8&nbsp;p.m.`,
		`      <p>Free returns within 60 days &mdash; even if you ran in them`,
		`      <ul><li>Members get free express delivery</li><li>Click &amp; collect from 140 stores</li></ul>`,
		`    </div>`,
		`    <h2 id="size-chart-title">Size chart</h2>`,
		`    <table class=size-chart aria-labelledby=size-chart-title>`,
		`      <tr><th>EU<th>US<th>UK<th>Foot length (cm)`)
	eu := []string{"40", "41", "42", "42.5", "43", "44", "44.5", "45", "46", "47"}
	us := []string{"7", "8", "8.5", "9", "9.5", "10", "10.5", "11", "12", "13"}
	for i := range eu {
		d.f("      <tr><td>%s<td>%s<td>%s<td>%.1f\n", eu[i], us[i], ukSize(us[i]), 25.0+float64(i)*0.6)
	}
	d.l(`    </table>`,
		`    <h2>Gift options</h2>`,
		`    <form class="gift" action="/bag/gift" method="post">`,
		`      <label><input type=checkbox name=gift_wrap value=1> Gift wrap ($4.95)</label>`,
		`      <label for=gift-message>Message (we print it as written, tags and all)</label>`,
		`      <textarea id=gift-message name=gift_message rows=3 cols=40 maxlength=200><b>Happy birthday!</b> Run far &amp; fast.`,
		`-- from all of us </p></div></textarea>`,
		`      <button type=submit>Save message</button>`,
		`    </form>`,
		`  </section>`)
}

// ukSize is the UK size for a US men's size: one less.
func ukSize(us string) string {
	var whole, half int
	if n, _ := fmt.Sscanf(us, "%d.%d", &whole, &half); n == 2 {
		return fmt.Sprintf("%d.%d", whole-1, half)
	}
	fmt.Sscanf(us, "%d", &whole)
	return fmt.Sprint(whole - 1)
}

func shopRecentlyViewed(d *doc, r *rng, products []shopProduct) {
	d.l(`<section id="recently-viewed" class="recently-viewed" aria-labelledby="rv-title">`,
		`  <h2 id="rv-title">Recently viewed</h2>`,
		`  <ul class="recently-viewed__list">`)
	for _, i := range []int{5, 17, 2, 44, 31, 9} {
		p := products[i]
		d.f("    <li class=\"mini-product\" data-item-id=\"p-%d\"><a href=\"/p/%d\"><img src=\"img/shoe-%d.svg\" alt=\"\" width=\"120\" height=\"90\" loading=\"lazy\"><span>%s</span></a> <span class=\"price\">%s</span></li>\n",
			p.id, p.id, p.color+1, p.full, money(p.price))
	}
	d.l(`  </ul>`, `</section>`)
}

func shopCart(d *doc, products []shopProduct) {
	a, b := products[1], products[12]
	d.f(`<aside id="mini-cart" class="sticky-cart" aria-live="polite" data-count="2">
  <a class="sticky-cart__link" href="/bag"><svg width="20" height="20" aria-hidden="true"><use href="#i-bag"/></svg> Bag <span class="sticky-cart__count">2</span></a>
  <div class="sticky-cart__panel" hidden>
    <ul class="sticky-cart__items">
      <li data-item-id="p-%d">%s &mdash; EU 43 <span class="price">%s</span></li>
      <li data-item-id="p-%d">%s &mdash; EU 43 <span class="price">%s</span></li>
    </ul>
    <p class="sticky-cart__total">Subtotal <b>%s</b></p>
    <a class="btn btn-checkout" href="/checkout">Checkout</a>
  </div>
</aside>
`, a.id, a.full, money(a.price), b.id, b.full, money(b.price), money(a.price+b.price))
}

func shopFooter(d *doc) {
	d.l(`<footer class="site-footer">`,
		`  <div class="footer-cols">`,
		`    <div><h3>Help</h3><ul><li><a href=/help/delivery>Delivery</a><li><a href=/help/returns>Returns</a><li><a href=/help/sizing>Sizing</a><li><a href=/help/contact>Contact</a></ul></div>`,
		`    <div><h3>Company</h3><ul><li><a href=/about>About</a><li><a href=/stores>Stores</a><li><a href=/careers>Careers</a><li><a href=/sustainability>Sustainability</a></ul></div>`,
		`    <form class="region" action="/region" method="post">`,
		`      <label for=country>Ship to</label>`,
		`      <select id=country name=country>`)
	for _, g := range shopCountries {
		d.f("        <optgroup label=\"%s\">\n", g[0])
		for _, c := range g[1:] {
			sel := ""
			if c == "United States" {
				sel = " selected"
			}
			d.f("          <option value=%s%s>%s\n", slug(strings.ReplaceAll(c, "ü", "u")), sel, c)
		}
	}
	d.l(`      </select>`,
		`      <button type=submit>Update</button>`,
		`    </form>`,
		`  </div>`,
		`  <p class=copyright>&copy; 2026 Kestrel Running Co. &bull; Prices in USD incl. sales tax where applicable.</p>`,
		`</footer>`)
}

func shopState(d *doc, products []shopProduct) {
	d.l(`<script id="__SHOP_STATE__" type="application/json">`)
	d.WriteString(`{"listing":{"category":4471,"page":1,"total":214,"sort":"relevance"},"products":[`)
	for i, p := range products {
		if i > 0 {
			d.WriteString(",")
		}
		name := strings.ReplaceAll(p.full, "&amp;", "\\u0026")
		d.f("\n{\"id\":\"p-%d\",\"name\":\"%s\",\"price\":%d.%02d,\"rating\":%d.%d,\"url\":\"\\/p\\/%d\"}", p.id, name, p.price/100, p.price%100, p.rating/10, p.rating%10, p.id)
	}
	d.l(`],"promo":"\u003cb\u003eMembers save 15%\u003c/b\u003e","note":"</div> inside JSON is fine, <\/script> is escaped"}`,
		`</script>`)
}

func shopScript(d *doc) {
	d.l(`<script>`,
		`(function () {`,
		`  var state = JSON.parse(document.getElementById('__SHOP_STATE__').textContent);`,
		`  var cart = document.getElementById('mini-cart');`,
		`  function count() { return +cart.getAttribute('data-count') || 0; }`,
		`  document.addEventListener('submit', function (e) {`,
		`    var f = e.target;`,
		`    if (!f.classList || !f.classList.contains('add-to-bag')) return;`,
		`    e.preventDefault();`,
		`    var size = f.elements.size && f.elements.size.value;`,
		`    if (!size) { f.elements.size.focus(); return; }`,
		`    var n = count() + 1;`,
		`    cart.setAttribute('data-count', n);`,
		`    cart.querySelector('.sticky-cart__count').textContent = n > 99 ? '99+' : n;`,
		`    var li = document.createElement('li');`,
		`    li.innerHTML = '<b>Added</b> size ' + size.replace(/[<>&]/g, '') + '<\/li>';`,
		`    cart.querySelector('.sticky-cart__items').appendChild(li);`,
		`  });`,
		`  cart.querySelector('.sticky-cart__link').addEventListener('click', function (e) {`,
		`    e.preventDefault();`,
		`    var p = cart.querySelector('.sticky-cart__panel');`,
		`    p.hidden = !p.hidden;`,
		`  });`,
		`  if (state.products.length < 1 || state.listing.total <= 0) document.body.className += ' empty';`,
		`})();`,
		`</script>`)
}

func shopSprite(d *doc) {
	d.l(`<svg xmlns="http://www.w3.org/2000/svg" width="0" height="0" style="position:absolute" aria-hidden="true">`,
		`  <defs>`,
		`    <symbol id="star-full" viewBox="0 0 16 16"><path fill="#f5a623" d="M8 1l2.1 4.5 4.9.6-3.6 3.4.9 4.9L8 12l-4.3 2.4.9-4.9L1 6.1l4.9-.6z"/></symbol>`,
		`    <symbol id="star-half" viewBox="0 0 16 16"><defs><linearGradient id="half"><stop offset="50%" stop-color="#f5a623"/><stop offset="50%" stop-color="#ddd"/></linearGradient></defs><path fill="url(#half)" d="M8 1l2.1 4.5 4.9.6-3.6 3.4.9 4.9L8 12l-4.3 2.4.9-4.9L1 6.1l4.9-.6z"/></symbol>`,
		`    <symbol id="star-empty" viewBox="0 0 16 16"><path fill="#ddd" d="M8 1l2.1 4.5 4.9.6-3.6 3.4.9 4.9L8 12l-4.3 2.4.9-4.9L1 6.1l4.9-.6z"/></symbol>`,
		`    <symbol id="i-search" viewBox="0 0 16 16"><path d="M11.7 10.3l3.6 3.6-1.4 1.4-3.6-3.6a6 6 0 1 1 1.4-1.4zM6.5 11a4.5 4.5 0 1 0 0-9 4.5 4.5 0 0 0 0 9z"/></symbol>`,
		`    <symbol id="i-bag" viewBox="0 0 16 16"><path d="M3 5h10l1 10H2zM5 5a3 3 0 0 1 6 0h-1.5a1.5 1.5 0 0 0-3 0z"/></symbol>`,
		`    <symbol id="i-heart" viewBox="0 0 16 16"><path fill="none" stroke="currentColor" stroke-width="1.5" d="M8 14S1.5 9.5 1.5 5.5A3.5 3.5 0 0 1 8 3.6a3.5 3.5 0 0 1 6.5 1.9C14.5 9.5 8 14 8 14z"/></symbol>`,
		`  </defs>`,
		`</svg>`)
}

func shopStyle(d *doc) {
	d.l(`<style>`,
		`:root{--ink:#161616;--muted:#6b6b6b;--line:#e4e4e4;--brand:#e4572e;--sale:#c4161c;--bg:#fff}`,
		`*,*::before,*::after{box-sizing:border-box}`,
		`body{margin:0;font:15px/1.45 "Helvetica Neue",Arial,sans-serif;color:var(--ink);background:var(--bg)}`,
		`a{color:inherit}`,
		`img{max-width:100%;height:auto}`,
		`.promo-strip{background:var(--ink);color:#fff;text-align:center;font-size:13px;padding:6px}`,
		`.promo-strip a{color:#ffd23f}`,
		`.header-main{display:flex;align-items:center;gap:24px;padding:12px 24px;border-bottom:1px solid var(--line)}`,
		`.logo{display:flex;align-items:center;gap:8px;font-weight:800;letter-spacing:.12em;text-decoration:none}`,
		`.main-nav ul{display:flex;gap:18px;list-style:none;margin:0;padding:0}`,
		`.main-nav a{text-decoration:none;font-weight:600}`,
		`.main-nav .sale-link{color:var(--sale)}`,
		`.search{margin-left:auto;display:flex}`,
		`.search input{border:1px solid var(--line);border-radius:20px 0 0 20px;padding:6px 12px;min-width:220px}`,
		`.search button{border:1px solid var(--line);border-left:0;border-radius:0 20px 20px 0;background:#f6f6f6;padding:0 10px}`,
		`.breadcrumbs{padding:12px 24px;font-size:13px;color:var(--muted)}`,
		`.breadcrumbs ol{display:flex;gap:6px;list-style:none;margin:0;padding:0}`,
		`.breadcrumbs li+li::before{content:"/";margin-right:6px}`,
		`.page{display:grid;grid-template-columns:260px minmax(0,1fr);gap:32px;padding:0 24px}`,
		`.facets fieldset{border:0;border-top:1px solid var(--line);padding:12px 0;margin:0}`,
		`.facets legend{font-weight:700;padding:0}`,
		`.facets label{display:block;margin:4px 0;font-size:14px}`,
		`.facets .n{color:var(--muted)}`,
		`.size-grid{display:grid;grid-template-columns:repeat(4,1fr);gap:4px}`,
		`.size-grid label{margin:0}`,
		`.size input{position:absolute;opacity:0}`,
		`.size span{display:block;text-align:center;border:1px solid var(--line);border-radius:4px;padding:4px 0}`,
		`.size input:checked+span{border-color:var(--ink);background:var(--ink);color:#fff}`,
		`.size input:disabled+span{color:#bbb;text-decoration:line-through}`,
		`.swatch{display:inline-block;width:14px;height:14px;border-radius:50%;vertical-align:-2px;border:1px solid rgba(0,0,0,.15)}`,
		`.listing-head{display:flex;justify-content:space-between;align-items:center;flex-wrap:wrap}`,
		`.listing-head h1{font-size:24px}`,
		`.listing-head .count{color:var(--muted);font-weight:400}`,
		`.legacy{margin:12px 0}`,
		`.products{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:24px 16px;list-style:none;margin:0;padding:0}`,
		`.product{position:relative;display:flex;flex-direction:column}`,
		`.product-img{display:block;width:100%;aspect-ratio:4/3;background:#f3f3f1;border-radius:6px}`,
		`.product-name{font-size:15px;margin:8px 0 2px}`,
		`.product-name a{text-decoration:none}`,
		`.product-colors{margin:0;color:var(--muted);font-size:13px}`,
		`.rating{display:flex;align-items:center;gap:6px;font-size:12px;color:var(--muted);margin:4px 0}`,
		`.price{margin:4px 0;font-weight:700}`,
		`.price-was{color:var(--muted);font-weight:400;margin-left:6px}`,
		`.product .price-now:not(:only-child){color:var(--sale)}`,
		`.features{display:flex;flex-wrap:wrap;gap:4px;list-style:none;margin:4px 0;padding:0}`,
		`.features li{font-size:11px;background:#f1f1f1;border-radius:3px;padding:1px 6px}`,
		`.badge{position:absolute;top:8px;left:8px;font-size:11px;font-weight:700;text-transform:uppercase;padding:2px 8px;border-radius:3px;background:#fff}`,
		`.badge-new{background:var(--ink);color:#fff}`,
		`.badge-sale{background:var(--sale);color:#fff}`,
		`.badge-best{background:#ffd23f}`,
		`.add-to-bag{display:flex;gap:6px;margin-top:auto;padding-top:8px}`,
		`.add-to-bag select{flex:1;min-width:0}`,
		`.btn-add{background:var(--ink);color:#fff;border:0;border-radius:4px;padding:6px 10px;cursor:pointer}`,
		`.wishlist{position:absolute;top:6px;right:6px;background:#fff;border:0;border-radius:50%;width:32px;height:32px;cursor:pointer}`,
		`.pagination{display:flex;gap:10px;justify-content:center;margin:32px 0}`,
		`.pagination [aria-current]{font-weight:700;text-decoration:none}`,
		`.info{border-top:1px solid var(--line);margin-top:32px}`,
		`.size-chart{border-collapse:collapse}`,
		`.size-chart th,.size-chart td{border:1px solid var(--line);padding:4px 10px;text-align:center}`,
		`.recently-viewed{padding:0 24px}`,
		`.recently-viewed__list{display:flex;gap:16px;overflow-x:auto;list-style:none;padding:0}`,
		`.mini-product{flex:0 0 140px;font-size:13px}`,
		`.mini-product a{text-decoration:none;display:block}`,
		`.sticky-cart{position:fixed;right:16px;bottom:16px;z-index:10;background:#fff;border:1px solid var(--line);border-radius:8px;box-shadow:0 6px 24px rgba(0,0,0,.15);padding:10px 14px}`,
		`.sticky-cart__link{display:flex;align-items:center;gap:6px;font-weight:700;text-decoration:none}`,
		`.sticky-cart__count{background:var(--brand);color:#fff;border-radius:10px;padding:0 7px;font-size:12px}`,
		`.sticky-cart__items{list-style:none;padding:0;margin:8px 0;font-size:13px;max-width:280px}`,
		`.site-footer{background:#161616;color:#ddd;margin-top:48px;padding:32px 24px}`,
		`.footer-cols{display:flex;flex-wrap:wrap;gap:48px}`,
		`.footer-cols ul{list-style:none;padding:0}`,
		`.footer-cols a{color:#ddd}`,
		`@media (max-width:800px){.page{grid-template-columns:1fr}.facets-panel{order:2}.header-main{flex-wrap:wrap}.search{margin-left:0;width:100%}.products{grid-template-columns:repeat(2,minmax(0,1fr))}}`,
		`</style>`)
}
