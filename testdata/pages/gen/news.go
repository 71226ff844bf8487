package main

import (
	"fmt"
	"strings"
)

// newsSection is one block of the news home page.
type newsSection struct {
	id, name  string
	kickers   []string
	headlines []string
	summaries []string
}

var newsSections = []newsSection{
	{
		id: "top", name: "Top stories",
		kickers: []string{"Live", "Analysis", "Exclusive", "Explainer", ""},
		headlines: []string{
			"Parliament passes the budget after an all-night session",
			"Storm Imogen leaves 200,000 homes without power",
			"Rail strike called off hours before it was due to start",
			"Inflation falls to its lowest level in three years",
			"Hospital waiting lists shrink for the first time since 2019",
			"Record turnout expected as polls open in the regional vote",
			"Court blocks the sale of the national grid operator",
			"Firefighters contain the largest wildfire of the season",
			"New housing law: what changes for renters on January 1",
			"Central bank holds rates and signals cuts in the spring",
			"Teachers accept a 4.5% pay offer, ending months of dispute",
			"The mayor resigns over the stadium contracts inquiry",
		},
		summaries: []string{
			"Ministers say the deal protects public services while trimming the deficit by a third.",
			"Engineers worked through the night, but some rural areas may wait until the weekend.",
			"Union leaders called the last-minute offer &#8220;the best in a decade&#8221;.",
			"Economists warn the figure hides sharp rises in rent and insurance.",
			"The government credits new evening clinics; doctors say staffing is still the problem.",
		},
	},
	{
		id: "uk", name: "UK news",
		kickers: []string{"Scotland", "Wales", "Northern Ireland", "London", "England"},
		headlines: []string{
			"Edinburgh trams to run all night during the festival next year",
			"Cardiff Bay barrage to be raised by a metre as sea levels rise",
			"Belfast shipyard wins its first new order in a decade",
			"London’s oldest market reopens after a two-year restoration",
			"Lake District car parks to charge by the hour from spring",
			"Cornwall’s last tin mine gets the go-ahead to reopen",
			"Manchester tests a free bus network in three districts",
			"A village in Yorkshire buys its own pub for the third time",
			"Why the ferry to the Isles of Scilly keeps getting cancelled",
			"Birmingham’s canals get a floating classroom",
			"Liverpool bids to host the 2031 World Choir Games",
			"The Norfolk beach that lost 20 metres in one winter",
		},
		summaries: []string{
			"Council leaders say the change could bring £40m a year into the local economy.",
			"Residents have until the end of January to comment on the plans.",
			"The decision follows a decade-long campaign by local businesses.",
			"Engineers say the work will take three years and cost &pound;120m.",
			"Locals welcomed the news, though some worry about traffic.",
		},
	},
	{
		id: "world", name: "World",
		kickers: []string{"Europe", "Asia", "Africa", "Americas", "Middle East"},
		headlines: []string{
			"Ceasefire talks in Geneva stall over the final two clauses",
			"Monsoon floods displace thousands across three provinces",
			"Lisbon’s new coalition survives its first confidence vote",
			"Baltic fishing towns count the cost of the new quotas",
			"Election officials in Nairobi begin a full recount",
			"Island nations press for a loss-and-damage fund at the summit",
			"The region’s largest port reopens after a month of strikes",
			"Diplomats from 40 countries agree a plan for shared rivers",
			"Earthquake survivors rebuild with help from neighbouring towns",
			"Mexico City rations water as reservoirs hit record lows",
			"Border crossing reopens for trucks carrying medical supplies",
			"Canberra and Jakarta sign a long-delayed trade agreement",
		},
		summaries: []string{
			"Negotiators say the text is ninety percent agreed &#8212; but the remaining ten percent is the hard part.",
			"Aid agencies warn that access roads remain cut off in the north.",
			"Opposition parties abstained, giving the minority government breathing room until spring.",
			"Local leaders asked for emergency funding and a longer transition period.",
			"Observers from the regional bloc described the process as &#8220;orderly and transparent&#8221;.",
		},
	},
	{
		id: "politics", name: "Politics",
		kickers: []string{"Westminster", "Analysis", "Poll", "Inside politics", ""},
		headlines: []string{
			"Opposition unveils its plan to cut energy bills by a fifth",
			"Five things we learned from the leaders’ debate",
			"Cabinet reshuffle: who is in, who is out and why it matters",
			"Senate committee calls the defence minister to testify",
			"Poll: voters rank housing above the economy for the first time",
			"Backbench rebellion forces a rethink on the planning bill",
			"Why the coalition talks keep coming back to water",
			"The quiet rise of the party’s youngest ever deputy leader",
			"Campaign spending limits to rise for the first time since 2009",
			"Local councils warn of cuts as the funding formula changes",
			"The prime minister’s speech, annotated line by line",
			"Voting age: the case for 16, and the case against",
		},
		summaries: []string{
			"Party strategists believe the issue could decide a dozen marginal seats.",
			"Our political editor on what the numbers say about the months ahead.",
			"The move was welcomed by business groups and criticised by unions.",
			"Critics say the plan is vague on funding; supporters call it overdue.",
			"The vote is expected next Tuesday, with the result far from certain.",
		},
	},
	{
		id: "business", name: "Business",
		kickers: []string{"Markets", "Companies", "Economy", "Your money", ""},
		headlines: []string{
			"Chipmaker posts record profit as data-centre demand soars",
			"Regional airline cancels 400 flights over pilot shortage",
			"Supermarket price war: who is really cheapest this month",
			"Shipping giant orders 12 methanol-powered container ships",
			"Mortgage rates dip below 4% for the first time this year",
			"Carmaker recalls 80,000 vehicles over a software fault",
			"The four-day week trial: year two results are in",
			"Startups feel the squeeze as venture funding dries up",
			"Pension funds pour money into offshore wind farms",
			"Why the price of cocoa has tripled in two years",
			"Bank fined for failing to stop a money-laundering ring",
			"Retail sales rise ahead of the holiday season",
		},
		summaries: []string{
			"Shares rose 9% in early trading after the results beat forecasts.",
			"Analysts say the sector is entering its most competitive period in a decade.",
			"The company said customers would be contacted within 14 days.",
			"Consumer groups welcomed the move but said more was needed.",
			"Investors are betting on steady demand &amp; lower costs next year.",
		},
	},
	{
		id: "technology", name: "Technology",
		kickers: []string{"Gadgets", "Security", "AI", "Review", ""},
		headlines: []string{
			"The best budget phones of the year, tested for a month",
			"Hackers hit a hospital network; patient data may be exposed",
			"Europe’s new rules for app stores take effect on Monday",
			"Review: the e-reader that finally gets colour right",
			"Why your smart TV is watching what you watch",
			"Open-source maintainers say they are burning out",
			"Satellite internet comes to the last unconnected valleys",
			"Password managers: which ones survived our tests",
			"The robot vacuum that maps your home &#8212; and shares it",
			"Data centres now use more power than some countries",
			"Game studio cancels its sequel after a staff walkout",
			"How to stop apps tracking your location",
		},
		summaries: []string{
			"We compared battery life, cameras and the number of years of updates.",
			"Security researchers urge users to change their passwords now.",
			"Regulators say the law will open markets that have been closed for years.",
			"The answer depends on the settings you never looked at.",
			"Volunteers maintain code that runs on billions of devices.",
		},
	},
	{
		id: "science", name: "Science",
		kickers: []string{"Space", "Health", "Nature", "Research", ""},
		headlines: []string{
			"Probe sends back the sharpest images yet of Jupiter’s moon Europa",
			"A new antibiotic class found in soil bacteria",
			"Bees can count to four, a study suggests",
			"Telescope spots water vapour on a planet 120 light years away",
			"Sleep study: teenagers really do need more of it",
			"Ancient footprints push back the date of human arrival",
			"Gene therapy restores sight in a small clinical trial",
			"Why coral reefs in one bay survived the heatwave",
			"Physicists measure gravity at the scale of a grain of sand",
			"Whale songs change with the seasons, researchers find",
			"How a fungus turns ants into zombies, explained",
			"The comet you can see with the naked eye this week",
		},
		summaries: []string{
			"The results, published in Nature, will need to be confirmed by larger studies.",
			"Researchers say the discovery could help predict future changes.",
			"The team spent six years collecting data at 40 sites.",
			"Scientists not involved in the work called it &#8220;elegant and surprising&#8221;.",
			"Look low in the western sky about an hour after sunset.",
		},
	},
	{
		id: "climate", name: "Climate",
		kickers: []string{"Energy", "Weather", "Oceans", "Cities", ""},
		headlines: []string{
			"October was the warmest on record, data confirm",
			"Heat pumps outsell gas boilers for the first time",
			"The town that moved inland, one street at a time",
			"Glacier loss doubles in the Alps since the 1990s",
			"Solar farms and sheep: an unlikely partnership",
			"Insurers pull out of flood-prone neighbourhoods",
			"Cities plant 'sponge parks' to soak up storm water",
			"Electric buses: lessons from five years in Santiago",
			"The hidden emissions of your winter strawberries",
			"Peatland restoration gets a €2bn boost",
			"Why wind power had a record week in November",
			"Ocean heatwaves are lasting longer, study finds",
		},
		summaries: []string{
			"Meteorologists say the trend is clear even after accounting for El Niño.",
			"Installers report waiting lists of up to three months.",
			"Residents describe a slow, negotiated retreat from the sea.",
			"Scientists warn that smaller glaciers may vanish by mid-century.",
			"Local authorities say the approach costs less than new drains.",
		},
	},
	{
		id: "culture", name: "Culture",
		kickers: []string{"Film", "Books", "Music", "Art", "TV"},
		headlines: []string{
			"The ten best novels of the year, chosen by our critics",
			"A forgotten Vermeer rival gets her first retrospective",
			"Review: a slow, luminous film about a lighthouse keeper",
			"The band that reunited after 30 years &#8212; and sounds better",
			"Inside the theatre saved by its audience",
			"Streaming’s golden age is over. What comes next?",
			"The translator who brought Korean crime fiction to Europe",
			"Festival lineup: what to book before it sells out",
			"Why everyone is suddenly knitting again",
			"A museum returns 40 bronzes to their home city",
			"The comedy that became a surprise box-office hit",
			"Opera for under-30s: the €10 ticket experiment",
		},
		summaries: []string{
			"From debut novelists to a late masterpiece, these are the books we pressed on friends.",
			"The exhibition gathers 60 works from 14 collections.",
			"Four stars: patient, strange and deeply moving.",
			"Ticket sales tripled after a campaign on social media.",
			"Our critic on the shows worth your time this winter.",
		},
	},
	{
		id: "international", name: "International",
		kickers: []string{"Français", "Deutsch", "日本語"},
		headlines: []string{
			"Les cafés de Lyon face à la hausse des loyers",
			"Grève à la SNCF : ce qui change pour les voyageurs ce week-end",
			"À Marseille, la mer monte et les plages reculent",
			"« Nous avons tout perdu » : témoignages après les crues",
			"Bahnstreik: Was Pendler jetzt wissen müssen",
			"Die Energiewende im Dorf: Bürger übernehmen das Windrad",
			"Wohnungsnot in München – Studenten schlafen im Hostel",
			"Fußball-Bundesliga: Überraschung am Tabellenende",
			"東京の地下鉄、終電を30分延長へ",
			"北海道で初雪、平年より12日早く",
			"円安で訪日客が過去最多に",
		},
		summaries: []string{
			"Les propriétaires de bistrots dénoncent des augmentations de 30&nbsp;% en deux ans.",
			"La direction promet un train sur deux sur les grandes lignes.",
			"Les élus réclament un plan d’urgence pour le littoral.",
			"Les habitants racontent la nuit où l’eau est montée.",
			"Die Gewerkschaft kündigt Streiks bis Freitag an – Fernzüge fallen aus.",
			"Im Allgäu gehört jede dritte Anlage inzwischen einer Genossenschaft.",
			"Ein WG-Zimmer kostet im Schnitt 790&nbsp;Euro – so viel wie nie.",
			"Der Aufsteiger gewinnt zum dritten Mal in Folge.",
			"週末の深夜利用が増えていることを受けた措置。",
			"札幌では平年より早い冬の訪れとなった。",
			"10月の訪日客数は過去最多を更新した。",
		},
	},
	{
		id: "sport", name: "Sport",
		kickers: []string{"Football", "Tennis", "Cycling", "Rugby", "Athletics"},
		headlines: []string{
			"Late penalty sends the league leaders out of the cup",
			"The teenager who beat the world number two in straight sets",
			"Tour route revealed: three summit finishes and a time trial",
			"Rugby: five uncapped players named in the autumn squad",
			"Marathon record falls on a cold morning in Valencia",
			"Manager sacked after seven games without a win",
			"Women’s league sets an attendance record for the third time",
			"Why the offside rule is about to change",
			"Cyclist banned for two years after a failed test",
			"Ski season opens early after heavy snowfall",
			"Player ratings: how every starter performed",
			"The groundskeeper who has worked 1,000 matches",
		},
		summaries: []string{
			"A dramatic night ended with a 2&#8211;1 win for the visitors.",
			"She dropped only four games in the match.",
			"Organisers promise a race that will be decided in the final week.",
			"The coach said the squad was built with the World Cup in mind.",
			"The previous record had stood for 11 years.",
		},
	},
	{
		id: "opinion", name: "Opinion",
		kickers: []string{"Column", "Editorial", "Letters", "Cartoon", ""},
		headlines: []string{
			"We need to talk about the price of a sandwich",
			"The view on the budget: brave in places, timid in others",
			"I moved to a village of 300 people. Here is what I learned",
			"Letters: on bus routes, bins and the joy of libraries",
			"Our cities were built for cars. They do not have to stay that way",
			"The case for a shorter school day",
			"Nobody reads the terms and conditions. That is the point",
			"In praise of the unglamorous work of maintenance",
			"Remote work has changed small towns for the better",
			"The referendum question is the wrong question",
			"What my grandmother taught me about saving",
			"Stop telling young people to buy a house",
		},
		summaries: []string{
			"The smallest purchases tell us the most about the economy.",
			"The chancellor has found money for some priorities and none for others.",
			"Quiet, slower and harder than I expected &#8212; and better.",
			"Readers respond to last week’s coverage.",
			"Small changes to streets can transform how we live.",
		},
	},
	{
		id: "lifestyle", name: "Lifestyle",
		kickers: []string{"Food", "Travel", "Health", "Home", "Style"},
		headlines: []string{
			"Twelve winter soups to make this weekend",
			"The night train is back: Europe’s best sleeper routes",
			"How to fall asleep faster, according to science",
			"Small flat, big ideas: storage tricks from designers",
			"The return of the wool coat",
			"A weekend in Porto for under €300",
			"Running in the cold: what to wear and how to warm up",
			"Houseplants that survive the darkest months",
			"Meal prep without the boredom",
			"The best hiking trails you can reach by train",
			"Why everyone is learning to swim in the sea",
			"Gift guide: presents under €25 that do not feel cheap",
		},
		summaries: []string{
			"From a smoky lentil stew to a bright green pea and mint.",
			"Go to sleep in one city, wake up in another.",
			"The routines that work, and the ones that are myths.",
			"Clever tricks for living well in 35 square metres.",
			"Our travel writer on where to eat, sleep and walk.",
		},
	},
}

var (
	newsAuthors = []string{"Amelia Hart", "Jonas Berger", "Priya Natarajan", "Tomás Ferreira", "Hannah Okafor",
		"Li Wei", "Claire Dubois", "Marcus Lindqvist", "Sofia Rossi", "Daniel Mensah", "Yuki Tanaka", "Rachel Cohen"}
	newsFollowups = []string{
		"Here is what we know so far.",
		"Read the full story and our analysis.",
		"Updated with reaction from the minister.",
		"Watch: the moment it happened.",
		"Our correspondent reports from the scene.",
		"The full timeline, in pictures.",
	}
)

// newsPage is a news home page of about 250 KiB.
func newsPage() []byte {
	r := newRNG(0x6e657773) // "news"
	var d doc
	d.WriteString("\uFEFF") // a UTF-8 byte order mark, as some CMSs send
	d.l(`<!DOCTYPE html>`,
		`<html lang="en-GB" class="no-js" data-edition="uk">`,
		`<head>`,
		`<meta charset="utf-8">`,
		`<meta http-equiv="X-UA-Compatible" content="IE=edge">`,
		`<title>The Meridian &#8212; News, analysis &amp; opinion</title>`,
		`<meta name="viewport" content="width=device-width, initial-scale=1">`,
		`<meta name="description" content="Breaking news, world news, business, science, culture &amp; sport from The Meridian.">`,
		`<meta property="og:site_name" content="The Meridian">`,
		`<meta property="og:title" content="The Meridian &#8212; News, analysis &amp; opinion">`,
		`<meta name="robots" content="max-image-preview:large">`,
		`<link rel="canonical" href="https://www.meridian.example/">`,
		`<link rel="alternate" type="application/rss+xml" title="The Meridian &raquo; Top stories" href="/rss/top.xml">`,
		`<!--[if lt IE 9]><script src="/static/js/html5shiv.min.js"></script><![endif]-->`,
		`<!--[if IE]><link rel="stylesheet" href="/static/css/ie.css"><![endif]-->`,
		`<script>document.documentElement.className = document.documentElement.className.replace(/\bno-js\b/, 'js');</script>`,
		`<noscript><style>.js-only { display: none !important; }</style></noscript>`,
	)
	newsStyle(&d)
	newsJSONLD(&d, r)
	d.l(`</head>`,
		`<body class="home edition-uk" data-page-type="front">`,
		`<!-- Google-Tag-less analytics: queued until consent -->`,
	)
	newsSprite(&d)
	d.l(`<a class="skip" href="#main">Skip to main content</a>`)

	// Masthead and mega-menu.
	d.l(`<header id="masthead" class="masthead" role="banner">`,
		`  <div class="masthead__top">`,
		`    <p class="masthead__date"><time datetime="2026-11-03">Tuesday 3 November 2026</time> &middot; <a href="/weather">London 9&deg;C</a></p>`,
		`    <a class="masthead__logo" href="/" aria-label="The Meridian, home"><svg width="250" height="36" viewBox="0 0 250 36" aria-hidden="true"><text x="0" y="28" font-family="Georgia, serif" font-size="30" font-weight="700" fill="currentColor">The Meridian</text></svg></a>`,
		`    <div class="masthead__actions">`,
		`      <form id="site-search" class="search" role="search" action="/search" method="get">`,
		`        <label for="q" class="sr-only">Search The Meridian</label>`,
		`        <input id="q" type="search" name="q" placeholder="Search news, topics &amp; people" autocomplete="off">`,
		`        <button type="submit" aria-label="Search"><svg class="icon" width="16" height="16" aria-hidden="true"><use href="#i-search"></use></svg></button>`,
		`      </form>`,
		`      <a class="btn btn--support" href="/support?src=masthead&amp;edition=uk">Support us</a>`,
		`      <a class="signin" href="/signin?returnUrl=/&ref=masthead">Sign in</a>`,
		`    </div>`,
		`  </div>`,
	)
	newsMegaMenu(&d, r)
	d.l(`</header><!-- /#masthead -->`)

	// Breaking news ticker.
	d.l(`<div id="breaking" class="ticker" role="region" aria-label="Breaking news" data-refresh="60">`,
		`  <strong class="ticker__label">Breaking</strong>`,
		`  <ul class="ticker__items">`)
	for i := 0; i < 8; i++ {
		s := newsSections[r.intn(len(newsSections)-1)]
		h := r.pick(s.headlines)
		d.f("    <li class=\"ticker__item\"><time datetime=\"2026-11-03T%02d:%02d:00Z\">%02d:%02d</time> <a href=\"/%s/live/%s\">%s</a></li>\n",
			9-i/2, 50-i*6, 9-i/2, 50-i*6, s.id, slug(h), h)
	}
	d.l(`  </ul>`,
		`  <button class="ticker__pause js-only" type="button" aria-pressed="false">Pause</button>`,
		`</div>`)

	// Markets strip, with arrows and signs.
	d.l(`<div class="markets" aria-label="Markets">`)
	for _, m := range []string{"FTSE 100", "DAX", "CAC 40", "Nikkei 225", "S&amp;P 500", "EUR/GBP", "Brent"} {
		v := r.between(1000, 40000)
		ch := r.between(-250, 250)
		dir, cls := "▲", "up"
		if ch < 0 {
			dir, cls = "▼", "down"
		}
		d.f("  <span class=\"market %s\"><b>%s</b> %d.%02d <i>%s&nbsp;%+.2f%%</i></span>\n", cls, m, v, r.intn(100), dir, float64(ch)/100)
	}
	d.l(`</div>`)

	d.l(`<div class="ad ad--leaderboard" id="ad-top" data-ad-slot="leaderboard" aria-hidden="true">`,
		`  <!-- ad: leaderboard 970x250 <div class="ad__creative"></div> -->`,
		`  <iframe title="Advertisement" src="about:blank" width="970" height="90" loading="lazy" data-ad-unit="/meridian/front/top">Advertisement: your browser does not display <b>frames</b>.</iframe>`,
		`</div>`)

	d.l(`<main id="main" class="front" role="main">`)
	ids := newIDs(r, 48000)
	var mostRead, all []teaserRef
	for si, s := range newsSections {
		n := len(s.headlines)
		d.f("<section id=\"sec-%s\" class=\"section section--%s\" data-section=\"%s\" aria-labelledby=\"h-%s\">\n", s.id, s.id, s.id, s.id)
		d.f("  <header class=\"section__head\"><h2 id=\"h-%s\"><a href=\"/%s\">%s</a></h2>", s.id, s.id, s.name)
		if s.id != "top" && s.id != "international" {
			d.f(" <a class=\"section__more\" href=\"/%s\">More in %s &rsaquo;</a>", s.id, s.name)
		}
		d.l(`</header>`)
		d.l(`  <div class="section__grid">`)
		heads := r.shuffled(s.headlines)
		if s.id == "international" {
			heads = s.headlines // keep the languages grouped
		}
		for i := 0; i < n; i++ {
			h := heads[i%len(heads)]
			sum := s.summaries[i%len(s.summaries)]
			if s.id == "international" {
				sum = s.summaries[i]
			}
			t := newsTeaser(&d, r, s, ids.next(), h, sum, i, si)
			all = append(all, t)
			if r.chance(9) && len(mostRead) < 10 {
				mostRead = append(mostRead, t)
			}
		}
		d.l(`  </div>`)
		if s.id == "top" {
			newsLiveBlog(&d, r, ids)
		}
		if s.id == "culture" {
			newsVideo(&d)
		}
		if s.id == "opinion" {
			newsColumnists(&d, r)
		}
		d.f("</section><!-- /#sec-%s -->\n", s.id)
		if si == 3 {
			d.l(`<div class="ad ad--inline" data-ad-slot="inline-1">`,
				`<script>`,
				`<!--`,
				`  // legacy ad loader: writes a fallback box when no ad is served`,
				`  if (!window.__adsReady) { document.write('<div class="ad__fallback">Advertisement<\/div>'); }`,
				`//-->`,
				`</script>`,
				`</div>`)
		}
	}
	newsPictures(&d, r)
	newsLatest(&d, r, all)
	d.l(`</main>`)

	newsAside(&d, r, mostRead)
	newsTemplates(&d)
	newsFooter(&d, r)
	newsAnalytics(&d)
	d.l(`</body>`, `</html>`)
	return d.Bytes()
}

// ids hands out increasing item ids with gaps, like a CMS's.
type idGen struct {
	r *rng
	n int
}

func newIDs(r *rng, start int) *idGen { return &idGen{r: r, n: start} }

func (g *idGen) next() int {
	g.n += g.r.between(1, 37)
	return g.n
}

type teaserRef struct {
	id       int
	headline string
	section  string
}

func newsTeaser(d *doc, r *rng, s newsSection, id int, headline, summary string, i, si int) teaserRef {
	cls := "teaser"
	switch {
	case i == 0:
		cls += " teaser--lead"
	case i < 3:
		cls += " teaser--major"
	}
	if r.chance(12) {
		cls += " teaser--premium"
	}
	s2 := slug(headline)
	if s2 == "" {
		s2 = "story"
	}
	href := fmt.Sprintf("/%s/2026/nov/%02d/%s-n%d", s.id, 3-r.intn(3), s2, id)
	lang := ""
	if s.id == "international" {
		switch {
		case i < 4:
			lang = ` lang="fr"`
		case i < 8:
			lang = ` lang="de"`
		default:
			lang = ` lang="ja"`
		}
	}
	d.f("    <article class=\"%s\" data-item-id=\"n-%d\" data-section=\"%s\"%s>\n", cls, id, s.id, lang)
	if i < 3 || r.chance(70) {
		img := r.between(1, 8)
		w, h := 320, 180
		if i == 0 {
			w, h = 640, 360
		}
		load := ` loading="lazy" decoding="async"`
		if si == 0 && i == 0 {
			load = ` fetchpriority="high"`
		}
		d.f("      <a class=\"teaser__media\" href=\"%s\" tabindex=\"-1\" aria-hidden=\"true\"><img src=\"img/news-%d.svg\" srcset=\"img/news-%d.svg 320w, img/news-%d-2x.svg 640w\" sizes=\"(max-width: 600px) 100vw, %dpx\" alt=\"\" width=\"%d\" height=\"%d\"%s></a>\n",
			href, img, img, img, w, w, h, load)
	}
	d.l(`      <div class="teaser__body">`)
	if k := r.pick(s.kickers); k != "" && (i == 0 || r.chance(40)) {
		kcls := "kicker"
		if k == "Live" {
			kcls += " kicker--live"
		}
		d.f("        <span class=\"%s\">%s</span>\n", kcls, k)
	}
	tag := "h3"
	if i == 0 {
		tag = "h2"
	}
	d.f("        <%s class=\"teaser__title\"><a href=\"%s\">%s</a></%s>\n", tag, href, headline, tag)
	if i < 6 || r.chance(80) {
		extra := ""
		if s.id != "international" && r.chance(50) {
			extra = "&nbsp;" + r.pick(newsFollowups)
		}
		d.f("        <p class=\"teaser__summary\">%s%s</p>\n", summary, extra)
	}
	min := 6*60 + r.intn(4*60)
	author := r.pick(newsAuthors)
	comments := r.intn(900)
	d.f("        <footer class=\"teaser__meta\"><span class=\"byline\">%s</span> <time datetime=\"2026-11-03T%02d:%02d:00Z\">%s</time>", author, min/60, min%60, clock(min))
	if comments > 40 {
		d.f(" <a class=\"comments\" href=\"%s#comments\" aria-label=\"%d comments\"><svg class=\"icon\" width=\"14\" height=\"14\" aria-hidden=\"true\"><use href=\"#i-comment\"></use></svg>%d</a>", href, comments, comments)
	}
	d.l(`</footer>`)
	d.l(`      </div>`, `    </article>`)
	return teaserRef{id: id, headline: headline, section: s.id}
}

func newsMegaMenu(d *doc, r *rng) {
	cols := map[string][][]string{}
	regions := []string{"Africa", "Americas", "Asia Pacific", "Australia", "Europe", "Middle East", "South Asia", "UK"}
	topics := []string{"Elections", "Migration", "Conflict", "Trade", "Health", "Diplomacy", "Human rights", "Aid"}
	formats := []string{"Live blogs", "Explainers", "Long reads", "Podcasts", "Video", "Newsletters", "Photography", "Interactives"}
	d.l(`  <nav id="mega-menu" class="mega-menu" aria-label="Sections">`,
		`    <button class="mega-menu__toggle js-only" type="button" aria-expanded="false" aria-controls="mega-menu-list"><svg class="icon" width="18" height="18" aria-hidden="true"><use href="#i-menu"></use></svg> Menu</button>`,
		`    <ul id="mega-menu-list" class="mega-menu__list">`)
	for _, s := range newsSections {
		if s.id == "top" {
			continue
		}
		cols[s.id] = [][]string{r.shuffled(regions), r.shuffled(topics), formats}
		d.f("      <li class=\"mega-menu__item has-panel\" data-section=\"%s\">\n", s.id)
		d.f("        <a class=\"mega-menu__link\" href=\"/%s\" aria-haspopup=\"true\">%s</a>\n", s.id, s.name)
		d.f("        <div class=\"mega-panel\" id=\"panel-%s\" hidden>\n", s.id)
		for ci, title := range []string{"By region", "Topics", "Formats"} {
			d.f("          <div class=\"mega-col\"><h4>%s</h4><ul>", title)
			for _, link := range cols[s.id][ci] {
				d.f("<li><a href=\"/%s/%s\">%s</a></li>", s.id, slug(link), link)
			}
			d.l(`</ul></div>`)
		}
		d.l(`          <div class="mega-col mega-col--popular"><h4>Popular now</h4><ul>`)
		for _, h := range r.shuffled(s.headlines)[:5] {
			d.f("            <li><a href=\"/%s/%s\">%s</a></li>\n", s.id, slug(h), h)
		}
		d.l(`          </ul></div>`)
		d.f("          <div class=\"mega-col mega-col--promo\"><p><strong>%s, in your inbox.</strong> The day's essential %s stories, every morning at 7.</p><a href=\"/newsletters/%s\">Sign up &rarr;</a></div>\n",
			s.name, strings.ToLower(s.name), s.id)
		d.l(`        </div>`, `      </li>`)
	}
	d.l(`      <li class="mega-menu__item mega-menu__item--more"><a class="mega-menu__link" href="/sitemap">All sections</a></li>`,
		`    </ul>`,
		`  </nav>`)
}

func newsLiveBlog(d *doc, r *rng, ids *idGen) {
	d.l(`  <aside id="live" class="live-blog" aria-labelledby="live-title" data-live="true">`,
		`    <h3 id="live-title"><span class="pulse" aria-hidden="true"></span> Live: Storm Imogen &#8212; latest updates</h3>`,
		`    <ol class="live-blog__updates">`)
	updates := []string{
		"Power restored to 40,000 homes in the south-west overnight, the network operator says.",
		"Rail services between Exeter &amp; Plymouth remain suspended; replacement buses are running.",
		"Met Office downgrades the amber wind warning to yellow from 3&nbsp;p.m.",
		"Schools in 14 districts will open late tomorrow &#8212; check your council&#x27;s website.",
		"Footage shows waves breaking over the harbour wall in Porthleven.",
		"The coastguard says two people were rescued from a cut-off beach near St Ives.",
	}
	for i, u := range updates {
		min := 9*60 + 55 - i*11
		d.f("      <li class=\"live-update\" data-item-id=\"lu-%d\"><time datetime=\"2026-11-03T%02d:%02d:00Z\">%s</time><p>%s</p></li>\n", ids.next(), min/60, min%60, clock(min), u)
	}
	d.l(`    </ol>`,
		`    <noscript><p class="notice">Updates appear automatically when JavaScript is on. <a href="/uk/live/storm-imogen">Open the live page</a>.</p></noscript>`,
		`  </aside>`)
}

func newsVideo(d *doc) {
	d.l(`  <figure class="video" id="video-of-the-day">`,
		`    <iframe class="video__player" title="Video: the lighthouse keeper, a film in four minutes" width="560" height="315" loading="lazy" allowfullscreen`,
		`      srcdoc="&lt;!doctype html&gt;&lt;style&gt;body{margin:0;display:grid;place-items:center;height:100vh;background:#111;color:#eee;font:16px sans-serif}&lt;/style&gt;&lt;p&gt;&amp;#9654; Video plays here &amp;mdash; 4:12&lt;/p&gt;"></iframe>`,
		`    <figcaption>The lighthouse keeper, a film in four minutes. <a href="/culture/video/lighthouse">Watch on The Meridian</a></figcaption>`,
		`  </figure>`)
}

func newsAside(d *doc, r *rng, mostRead []teaserRef) {
	d.l(`<aside id="sidebar" class="sidebar" role="complementary">`,
		`  <section class="most-read" aria-labelledby="most-read-title">`,
		`    <h2 id="most-read-title">Most read</h2>`,
		`    <ol class="most-read__list">`)
	for i, t := range mostRead {
		d.f("      <li class=\"most-read__item\" data-item-id=\"n-%d\"><span class=\"rank\">%d</span> <a href=\"/%s/n%d\">%s</a></li>\n", t.id, i+1, t.section, t.id, t.headline)
	}
	d.l(`    </ol>`, `  </section>`)

	d.l(`  <section class="poll" aria-labelledby="poll-title">`,
		`    <h2 id="poll-title">Quick poll</h2>`,
		`    <form id="poll" class="poll__form" action="/poll/vote" method="post">`,
		`      <fieldset>`,
		`        <legend>Should the voting age be lowered to 16?</legend>`,
		`        <label><input type="radio" name="answer" value="yes"> Yes</label>`,
		`        <label><input type="radio" name="answer" value="no"> No</label>`,
		`        <label><input type="radio" name="answer" value="unsure" checked> Not sure</label>`,
		`      </fieldset>`,
		`      <input type="hidden" name="poll_id" value="pl-2026-11-03">`,
		`      <input type="hidden" name="token" value="a1f09c&amp;x=2">`,
		`      <button type="submit">Vote</button>`,
		`    </form>`,
		`  </section>`)

	d.l(`  <section class="weather" aria-labelledby="weather-title">`,
		`    <h2 id="weather-title">Weather</h2>`,
		`    <table class="weather__table">`,
		`      <caption>Forecast for London</caption>`,
		`      <thead><tr><th scope="col">Day</th><th scope="col">Sky</th><th scope="col">High</th><th scope="col">Low</th></tr></thead>`,
		`      <tbody>`)
	for i, day := range []string{"Tue", "Wed", "Thu", "Fri", "Sat"} {
		sky := []string{"☁ Cloudy", "🌧 Rain", "⛅ Sunny spells", "🌬 Windy", "☀ Sunny"}[(i+r.intn(3))%5]
		hi := r.between(7, 13)
		d.f("        <tr><th scope=\"row\">%s</th><td>%s</td><td>%d&deg;</td><td>%d&deg;</td></tr>\n", day, sky, hi, hi-r.between(3, 7))
	}
	d.l(`      </tbody>`, `    </table>`, `  </section>`)

	d.l(`  <div class="ad ad--mpu" data-ad-slot="mpu-1">`,
		`    <iframe title="Advertisement" src="about:blank" width="300" height="250" loading="lazy" data-ad-unit="/meridian/front/mpu">Advertisement</iframe>`,
		`  </div>`,
		`</aside>`)
}

func newsTemplates(d *doc) {
	d.l(`<!-- client-side templates: not rendered until cloned -->`,
		`<template id="tpl-live-update">`,
		`  <li class="live-update" data-item-id=""><time datetime=""></time><p></p></li>`,
		`</template>`,
		`<template id="tpl-teaser">`,
		`  <article class="teaser teaser--injected" data-item-id="">`,
		`    <div class="teaser__body"><h3 class="teaser__title"><a href=""></a></h3><p class="teaser__summary"></p></div>`,
		`  </article>`,
		`</template>`)
}

func newsFooter(d *doc, r *rng) {
	d.l(`<footer id="site-footer" class="site-footer" role="contentinfo">`,
		`  <section class="newsletter" aria-labelledby="nl-title">`,
		`    <h2 id="nl-title">The Morning Briefing</h2>`,
		`    <p>Start the day with the stories that matter &#8212; in 5 minutes, free.</p>`,
		`    <form id="newsletter" action="/newsletters/subscribe" method="post" novalidate>`,
		`      <input type="hidden" name="list" value="morning-briefing">`,
		`      <label for="nl-email">Email</label> <input id="nl-email" type="email" name="email" required placeholder="name@example.com">`,
		`      <label class="consent"><input type="checkbox" name="consent" value="1"> I agree to the <a href="/privacy">privacy policy</a></label>`,
		`      <button type="submit">Sign up</button>`,
		`    </form>`,
		`  </section>`,
		`  <div class="footer__links">`)
	groups := [][]string{
		{"News", "UK", "World", "Politics", "Business", "Science", "Climate", "Technology"},
		{"Opinion", "Editorials", "Columnists", "Letters", "Cartoons", "Corrections"},
		{"Sport", "Football", "Cricket", "Rugby union", "Tennis", "Cycling", "Formula 1"},
		{"Culture", "Film", "Books", "Music", "TV &amp; radio", "Art &amp; design", "Stage", "Games"},
		{"Lifestyle", "Food", "Recipes", "Travel", "Health &amp; fitness", "Women", "Men", "Money"},
		{"About", "About us", "Contact", "Complaints &amp; corrections", "Jobs", "Advertise", "Accessibility", "Cookie settings"},
	}
	for _, g := range groups {
		d.f("    <div class=\"footer__col\"><h3>%s</h3><ul>\n", g[0])
		for _, l := range g[1:] {
			plain := strings.ReplaceAll(l, "&amp;", "and")
			d.f("      <li><a href=\"/%s/%s\">%s</a></li>\n", slug(g[0]), slug(plain), l)
		}
		d.l(`    </ul></div>`)
	}
	d.l(`  </div>`,
		`  <p class="footer__editions">Editions: <a href="/uk" aria-current="true">UK</a> | <a href="/us">US</a> | <a href="/au">Australia</a> | <a href="/europe">Europe</a> | <a href="/international">International</a></p>`,
		`  <p class="footer__legal">&copy 2026 The Meridian Media Group Ltd. All rights reserved. Registered in England &amp; Wales No.&nbsp;0908396. <a href="/terms">Terms</a> &middot; <a href="/privacy">Privacy</a></p>`,
		`</footer>`)
}

func newsStyle(d *doc) {
	d.l(`<style>`,
		`/* critical CSS, inlined */`,
		`:root { --ink: #121212; --muted: #5c5c5c; --rule: #dcdcdc; --brand: #052962; --accent: #c70000; --bg: #fff; }`,
		`*, *::before, *::after { box-sizing: border-box; }`,
		`body { margin: 0; font: 16px/1.45 Georgia, "Times New Roman", serif; color: var(--ink); background: var(--bg); }`,
		`a { color: inherit; text-decoration: none; }`,
		`a:hover { text-decoration: underline; }`,
		`img { max-width: 100%; height: auto; display: block; }`,
		`.sr-only, .skip { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }`,
		`.skip:focus { width: auto; height: auto; clip: auto; background: #ff0; padding: .5em; z-index: 99; }`,
		`.icon { display: inline-block; vertical-align: -2px; fill: currentColor; }`,
		`.masthead { background: var(--brand); color: #fff; }`,
		`.masthead__top { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: 1rem; max-width: 1300px; margin: 0 auto; padding: .8rem 1rem; }`,
		`.masthead__date { margin: 0; font: 13px/1.3 system-ui, sans-serif; }`,
		`.masthead__actions { display: flex; align-items: center; gap: .8rem; font: 14px system-ui, sans-serif; }`,
		`.search input { padding: .35rem .6rem; border: 0; border-radius: 3px; min-width: 16rem; }`,
		`.search button { background: none; border: 0; color: #fff; cursor: pointer; }`,
		`.btn--support { background: #ffe500; color: var(--brand); padding: .35rem .8rem; border-radius: 99px; font-weight: 700; }`,
		`.mega-menu { border-top: 1px solid rgba(255,255,255,.25); }`,
		`.mega-menu__toggle { display: none; }`,
		`.mega-menu__list { display: flex; flex-wrap: wrap; list-style: none; margin: 0 auto; padding: 0 1rem; max-width: 1300px; font: 700 15px system-ui, sans-serif; }`,
		`.mega-menu__item { position: relative; }`,
		`.mega-menu__link { display: block; padding: .6rem .8rem; border-left: 1px solid rgba(255,255,255,.2); }`,
		`.mega-menu__item > .mega-panel { position: absolute; left: 0; top: 100%; z-index: 20; display: grid; grid-template-columns: repeat(4, 12rem); gap: 1rem; padding: 1rem; background: #fff; color: var(--ink); box-shadow: 0 8px 24px rgba(0,0,0,.2); }`,
		`.mega-menu__item:hover > .mega-panel, .mega-menu__item:focus-within > .mega-panel { display: grid !important; }`,
		`.mega-panel[hidden] { display: none; }`,
		`.mega-col h4 { margin: 0 0 .4rem; font-size: 13px; text-transform: uppercase; color: var(--muted); }`,
		`.mega-col ul { list-style: none; margin: 0; padding: 0; font-weight: 400; }`,
		`.mega-col li + li { margin-top: .25rem; }`,
		`.ticker { display: flex; align-items: center; gap: 1rem; overflow: hidden; white-space: nowrap; background: var(--accent); color: #fff; font: 14px system-ui, sans-serif; padding: .4rem 1rem; }`,
		`.ticker__items { display: flex; gap: 2rem; list-style: none; margin: 0; padding: 0; animation: ticker 60s linear infinite; }`,
		`.ticker__items time { opacity: .8; margin-right: .3rem; }`,
		`@keyframes ticker { from { transform: translateX(0); } to { transform: translateX(-50%); } }`,
		`.markets { display: flex; gap: 1.5rem; overflow-x: auto; padding: .4rem 1rem; font: 13px system-ui, sans-serif; border-bottom: 1px solid var(--rule); }`,
		`.market.up i { color: #0a7d32; font-style: normal; } .market.down i { color: var(--accent); font-style: normal; }`,
		`.ad { display: flex; justify-content: center; margin: 1rem auto; background: #f6f6f6; max-width: 1300px; }`,
		`.ad iframe { border: 0; max-width: 100%; }`,
		`.front { max-width: 1300px; margin: 0 auto; padding: 0 1rem; }`,
		`.section { border-top: 3px solid var(--ink); margin: 2rem 0; }`,
		`.section__head { display: flex; justify-content: space-between; align-items: baseline; }`,
		`.section__head h2 { margin: .3rem 0 .8rem; font-size: 1.5rem; }`,
		`.section__more { font: 14px system-ui, sans-serif; color: var(--muted); }`,
		`.section__grid { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 1.2rem; }`,
		`.section__grid > .teaser--lead { grid-column: span 2; grid-row: span 2; }`,
		`.teaser { border-top: 1px solid var(--rule); padding-top: .5rem; }`,
		`.teaser__title { font-size: 1.05rem; line-height: 1.25; margin: .4rem 0; }`,
		`.teaser--lead .teaser__title { font-size: 1.9rem; }`,
		`.teaser--premium .teaser__title::after { content: " \2605"; color: #b58400; }`,
		`.teaser__summary { color: var(--muted); margin: 0 0 .4rem; font-size: .95rem; }`,
		`.teaser__meta { font: 12px system-ui, sans-serif; color: var(--muted); display: flex; gap: .6rem; }`,
		`.kicker { font: 700 12px system-ui, sans-serif; text-transform: uppercase; color: var(--accent); }`,
		`.kicker--live::before { content: ""; display: inline-block; width: 8px; height: 8px; border-radius: 50%; background: var(--accent); margin-right: 4px; }`,
		`.section--international .teaser[lang="ja"] .teaser__title { font-family: "Hiragino Mincho ProN", "Yu Mincho", serif; }`,
		`.live-blog { background: #fff4f2; border-left: 4px solid var(--accent); padding: .8rem 1rem; margin-top: 1.2rem; }`,
		`.live-blog__updates { list-style: none; margin: 0; padding: 0; }`,
		`.live-update { display: grid; grid-template-columns: 5rem 1fr; gap: .6rem; padding: .4rem 0; border-bottom: 1px dotted var(--rule); }`,
		`.live-update > p { margin: 0; }`,
		`.pulse { display: inline-block; width: 10px; height: 10px; border-radius: 50%; background: var(--accent); }`,
		`.river { list-style: none; margin: 0; padding: 0; columns: 2 22rem; column-gap: 2rem; }`,
		`.river__item { break-inside: avoid; }`,
		`.teaser--compact { display: grid; grid-template-columns: 3.5rem 1fr; column-gap: .6rem; padding: .35rem 0; }`,
		`.teaser--compact .teaser__title { grid-column: 2; margin: 0; font-size: .95rem; }`,
		`.river__section { font: 700 11px system-ui, sans-serif; text-transform: uppercase; color: var(--accent); }`,
		`.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 1rem; }`,
		`.gallery__item { margin: 0; }`,
		`.gallery__item figcaption { font: 13px/1.35 system-ui, sans-serif; color: var(--muted); margin-top: .3rem; }`,
		`.columnists { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: .8rem; margin-top: 1.2rem; }`,
		`.columnist { display: grid; grid-template-columns: 56px 1fr; column-gap: .7rem; align-items: center; }`,
		`.columnist__avatar { grid-row: span 2; }`,
		`.columnist__name { font: 700 14px system-ui, sans-serif; }`,
		`.columnist__latest { font-size: .95rem; }`,
		`.video iframe { width: 100%; aspect-ratio: 16 / 9; height: auto; border: 0; }`,
		`.sidebar { max-width: 1300px; margin: 0 auto; padding: 0 1rem; display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: 2rem; }`,
		`.most-read__list { padding-left: 0; list-style: none; counter-reset: rank; }`,
		`.most-read__item > .rank { font-size: 2rem; color: var(--accent); margin-right: .4rem; }`,
		`.weather__table { border-collapse: collapse; width: 100%; }`,
		`.weather__table th, .weather__table td { border-bottom: 1px solid var(--rule); padding: .3rem; text-align: left; }`,
		`.site-footer { background: var(--brand); color: #fff; margin-top: 3rem; padding: 2rem 1rem; font: 14px system-ui, sans-serif; }`,
		`.footer__links { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 1rem; max-width: 1300px; margin: 2rem auto; }`,
		`.footer__links ul { list-style: none; padding: 0; margin: 0; }`,
		`@media (max-width: 900px) {`,
		`  .section__grid { grid-template-columns: repeat(2, minmax(0, 1fr)); }`,
		`  .mega-menu__toggle { display: inline-flex; } .mega-menu__list { display: none; }`,
		`  .js .mega-menu[data-open] .mega-menu__list { display: block; }`,
		`}`,
		`@media (max-width: 600px) { .section__grid { grid-template-columns: 1fr; } .section__grid > .teaser--lead { grid-column: auto; } }`,
		`@media print { .ad, .ticker, .mega-menu, .sidebar > .poll { display: none; } }`,
		`</style>`)
}

func newsJSONLD(d *doc, r *rng) {
	d.l(`<script type="application/ld+json">`,
		`{`,
		`  "@context": "https://schema.org",`,
		`  "@type": "NewsMediaOrganization",`,
		`  "name": "The Meridian",`,
		`  "alternateName": "The Meridian \u2014 News & analysis",`,
		`  "url": "https://www.meridian.example/",`,
		`  "logo": {"@type": "ImageObject", "url": "https://www.meridian.example/static/logo.png", "width": 600, "height": 60},`,
		`  "sameAs": ["https://social.example/@meridian", "https://video.example/meridian"],`,
		`  "publishingPrinciples": "https://www.meridian.example/about/standards",`,
		`  "description": "Independent journalism since 1891. Tags like <b> are escaped as \u003cb\u003e; closing tags as <\/script> stay inside.",`,
		`  "potentialAction": {`,
		`    "@type": "SearchAction",`,
		`    "target": "https://www.meridian.example/search?q={search_term_string}&sort=newest",`,
		`    "query-input": "required name=search_term_string"`,
		`  }`,
		`}`,
		`</script>`)
	d.l(`<script type="application/ld+json">`,
		`{"@context":"https://schema.org","@type":"ItemList","itemListElement":[`)
	s := newsSections[0]
	for i := 0; i < 6; i++ {
		comma := ","
		if i == 5 {
			comma = ""
		}
		d.f("{\"@type\":\"ListItem\",\"position\":%d,\"name\":%q,\"url\":\"https://www.meridian.example/top/%s\"}%s\n", i+1, s.headlines[i], slug(s.headlines[i]), comma)
	}
	d.l(`]}`, `</script>`)
}

func newsSprite(d *doc) {
	d.l(`<svg xmlns="http://www.w3.org/2000/svg" style="display:none" aria-hidden="true">`,
		`  <symbol id="i-comment" viewBox="0 0 16 16"><path d="M2 2h12a1 1 0 0 1 1 1v8a1 1 0 0 1-1 1H7l-4 3v-3H2a1 1 0 0 1-1-1V3a1 1 0 0 1 1-1z"/></symbol>`,
		`  <symbol id="i-search" viewBox="0 0 16 16"><path d="M11.7 10.3l3.6 3.6-1.4 1.4-3.6-3.6a6 6 0 1 1 1.4-1.4zM6.5 11a4.5 4.5 0 1 0 0-9 4.5 4.5 0 0 0 0 9z"/></symbol>`,
		`  <symbol id="i-menu" viewBox="0 0 16 16"><path d="M1 3h14v2H1zM1 7h14v2H1zM1 11h14v2H1z"/></symbol>`,
		`  <symbol id="i-play" viewBox="0 0 16 16"><path d="M4 2l10 6-10 6z"/></symbol>`,
		`</svg>`)
}

func newsAnalytics(d *doc) {
	d.l(`<script>`,
		`/* Meridian metrics v3.2 -- queues page events; nothing is sent without consent */`,
		`(function (w, d) {`,
		`  'use strict';`,
		`  var q = w.__mq = w.__mq || [];`,
		`  var t0 = +new Date(), sent = 0, maxEvents = 50;`,
		`  function consent() { return /(?:^|;\s*)consent=yes(?:;|$)/.test(d.cookie); }`,
		`  function push(name, data) {`,
		`    if (q.length >= maxEvents || name.length > 64) return;`,
		`    q.push({ n: name, d: data || null, t: +new Date() - t0 });`,
		`  }`,
		`  function depth() {`,
		`    var h = d.documentElement.scrollHeight - w.innerHeight;`,
		`    return h <= 0 ? 100 : Math.min(100, Math.round(w.scrollY / h * 100));`,
		`  }`,
		`  var marks = [25, 50, 75, 100], seen = {};`,
		`  w.addEventListener('scroll', function () {`,
		`    var p = depth();`,
		`    for (var i = 0; i < marks.length; i++) {`,
		`      if (p >= marks[i] && !seen[marks[i]]) { seen[marks[i]] = 1; push('scroll', marks[i]); }`,
		`    }`,
		`  }, { passive: true });`,
		`  // Teasers in view: the ids feed "seen" personalization.`,
		`  function visible(el) { var r = el.getBoundingClientRect(); return r.top < w.innerHeight && r.bottom > 0; }`,
		`  d.addEventListener('DOMContentLoaded', function () {`,
		`    var items = d.querySelectorAll('article[data-item-id]'), ids = [];`,
		`    for (var i = 0; i < items.length && ids.length < 20; i++) {`,
		`      if (visible(items[i])) ids.push(items[i].getAttribute('data-item-id'));`,
		`    }`,
		`    push('view', ids.join(','));`,
		`    var debug = w.location.hash === '#mq-debug';`,
		`    if (debug && ids.length > 0) {`,
		`      var box = d.createElement('div');`,
		`      box.innerHTML = '<div class="mq-debug"><b>' + ids.length + ' teasers<\/b> in view &amp; ' + q.length + ' events<\/div>';`,
		`      d.body.appendChild(box.firstChild);`,
		`    }`,
		`    var tag = '</' + 'div>';`,
		`    if (tag.length !== 6 || '<p>'.indexOf('<') !== 0) push('selftest-failed');`,
		`    var stripped = (d.title || '').replace(/<[^>]*>/g, '').replace(/&amp;/g, '&');`,
		`    push('title', stripped.slice(0, 80));`,
		`  });`,
		`  w.addEventListener('pagehide', function () {`,
		`    if (!consent() || sent > 0 || !w.__mqEndpoint) return; // no endpoint on this page: nothing leaves`,
		`    sent = q.length;`,
		`    if (navigator.sendBeacon) navigator.sendBeacon(w.__mqEndpoint, JSON.stringify(q));`,
		`  });`,
		`  var ticker = d.getElementById('breaking');`,
		`  if (ticker && ticker.querySelectorAll('li').length > 1 && w.matchMedia && !w.matchMedia('(prefers-reduced-motion: reduce)').matches) {`,
		`    ticker.setAttribute('data-animated', 'true');`,
		`  }`,
		`  var menu = d.getElementById('mega-menu'), toggle = menu && menu.querySelector('.mega-menu__toggle');`,
		`  if (toggle) toggle.addEventListener('click', function () {`,
		`    var open = toggle.getAttribute('aria-expanded') === 'true';`,
		`    toggle.setAttribute('aria-expanded', String(!open));`,
		`    if (open) menu.removeAttribute('data-open'); else menu.setAttribute('data-open', '');`,
		`  });`,
		`})(window, document);`,
		`</script>`)
}

// newsLatest is the "Latest" river: compact teasers of stories already on
// the page, with the same ids, newest first.
func newsLatest(d *doc, r *rng, all []teaserRef) {
	d.l(`<section id="latest" class="section section--latest" aria-labelledby="h-latest">`,
		`  <header class="section__head"><h2 id="h-latest">Latest</h2> <a class="section__more" href="/latest">Full river &rsaquo;</a></header>`,
		`  <ol class="river">`)
	min := 10*60 + 5
	for i := 0; i < 48; i++ {
		t := all[(i*37+11)%len(all)]
		min -= r.between(2, 9)
		d.f("    <li class=\"river__item\"><article class=\"teaser teaser--compact\" data-item-id=\"n-%d\" data-section=\"%s\"><time datetime=\"2026-11-03T%02d:%02d:00Z\">%02d:%02d</time> <span class=\"river__section\">%s</span> <h3 class=\"teaser__title\"><a href=\"/%s/n%d\">%s</a></h3></article></li>\n",
			t.id, t.section, min/60, min%60, min/60, min%60, t.section, t.section, t.id, t.headline)
	}
	d.l(`  </ol>`, `</section>`)
}

// newsPictures is the "In pictures" gallery.
func newsPictures(d *doc, r *rng) {
	captions := []string{
		"Waves break over the harbour wall in Porthleven as Storm Imogen arrives.",
		"Commuters wait for replacement buses at Exeter St Davids.",
		"A volunteer clears debris from a flooded street in Valencia.",
		"Lanterns are released over the river during the Diwali celebrations in Leicester.",
		"Runners cross the Ponte 25 de Abril at dawn during the Lisbon half marathon.",
		"A snow plough clears the pass above Andermatt, 12 days earlier than usual.",
		"Members of the public view the returned bronzes in Benin City.",
		"Frost covers the vineyards of the Moselle valley at sunrise.",
		"Fishing boats stay in port at Gdynia as the new quotas take effect.",
		"Students protest outside the education ministry in Santiago.",
		"A barn owl hunts over the marshes at first light in Norfolk.",
		"The comet C/2026 A1 photographed above the Atacama desert.",
	}
	d.l(`<section id="pictures" class="section section--pictures" aria-labelledby="h-pictures">`,
		`  <header class="section__head"><h2 id="h-pictures">The day in pictures</h2></header>`,
		`  <div class="gallery">`)
	for i, c := range captions {
		img := r.between(1, 8)
		d.f("    <figure class=\"gallery__item\" id=\"pic-%d\"><img src=\"img/news-%d.svg\" srcset=\"img/news-%d.svg 1x, img/news-%d-2x.svg 2x\" alt=\"%s\" width=\"320\" height=\"180\" loading=\"lazy\"><figcaption>%s <small>Photograph: %s/Meridian</small></figcaption></figure>\n",
			i+1, img, img, img, esc(strings.TrimSuffix(c, ".")), c, r.pick(newsAuthors))
	}
	d.l(`  </div>`, `</section>`)
}

// newsColumnists is the strip of opinion columnists with their latest pieces.
func newsColumnists(d *doc, r *rng) {
	d.l(`  <div class="columnists" aria-label="Columnists">`)
	for i, name := range newsAuthors[:8] {
		initials := ""
		for _, w := range strings.Fields(name) {
			initials += w[:1]
		}
		h := r.pick(newsSectionByID("opinion").headlines)
		d.f("    <a class=\"columnist\" href=\"/profile/%s\"><svg class=\"columnist__avatar\" width=\"56\" height=\"56\" viewBox=\"0 0 56 56\" aria-hidden=\"true\"><circle cx=\"28\" cy=\"28\" r=\"28\" fill=\"hsl(%d 45%% 40%%)\"/><text x=\"28\" y=\"34\" text-anchor=\"middle\" font-family=\"sans-serif\" font-size=\"18\" fill=\"#fff\">%s</text></svg><span class=\"columnist__name\">%s</span> <span class=\"columnist__latest\">%s</span></a>\n",
			slug(name), i*45, initials, name, h)
	}
	d.l(`  </div>`)
}

func newsSectionByID(id string) newsSection {
	for _, s := range newsSections {
		if s.id == id {
			return s
		}
	}
	panic("no news section " + id)
}
