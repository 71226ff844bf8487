package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testPage has every element the demo selectors edit, with the markup
// nginx strings must escape: a dollar sign, quotes, a backslash, a newline.
const testPage = `<!DOCTYPE html><html><head><title>t</title></head>
<body>
<section id="hero" class="hero"><h1 class="hero-title">Gear up, "now" \ $5 off</h1>
<a class="cta" href="/sale">Shop</a></section>
<aside id="promo" class="promo">
  <p>Join for $0</p>
</aside>
<ul class="cards"><li class="card" data-item-id="a">A</li><li class="card" data-item-id="b">B</li></ul>
</body></html>
`

func renderNginxForTest(t *testing.T, file string) (dir, conf string) {
	t.Helper()
	dir = t.TempDir()
	data := baseTemplateData(pageSelectors["demo"])
	data.Dir, data.Listen, data.Origin = dir, "127.0.0.1:18080", "127.0.0.1:18081"
	if os.Geteuid() == 0 {
		data.User = "root"
	}
	if err := pageAnchors(testPage, pageSelectors["demo"], &data); err != nil {
		t.Fatal(err)
	}
	conf = filepath.Join(dir, "nginx.conf")
	if err := renderTemplate(filepath.Join("peers", "nginx", file), conf, data); err != nil {
		t.Fatal(err)
	}
	return dir, conf
}

func TestNginxTemplatesRenderAndPassNginxT(t *testing.T) {
	for _, file := range []string{"plain.conf", "subfilter.conf"} {
		t.Run(file, func(t *testing.T) {
			dir, conf := renderNginxForTest(t, file)
			b, err := os.ReadFile(conf)
			if err != nil {
				t.Fatal(err)
			}
			text := string(b)
			for _, want := range []string{"listen 127.0.0.1:18080", "server 127.0.0.1:18081", "pid " + dir + "/nginx.pid", fmt.Sprintf("worker_processes %d;", targetProcs)} {
				if !strings.Contains(text, want) {
					t.Errorf("rendered config lacks %q", want)
				}
			}
			if strings.Contains(text, "[[") || strings.Contains(text, "<no value>") {
				t.Error("template left unrendered")
			}
			if file == "subfilter.conf" {
				for _, want := range []string{
					`sub_filter "<h1 class=\"hero-title\">Gear up, \"now\" \\ ${dollar}5 off</h1>" $bench_inner;`,
					`"<aside id=\"promo\" class=\"promo\">\n  <p>Join for ${dollar}0</p>\n</aside>"`,
					`"<a class=\"cta\" href=\"/offers?seg=$bench_segv\">"`,
					`"<body class=\"bench-p\">"`,
					"sub_filter_once off;",
					`proxy_set_header Accept-Encoding "";`,
				} {
					if !strings.Contains(text, want) {
						t.Errorf("rendered config lacks %s", want)
					}
				}
			}
			nginx, err := exec.LookPath("nginx")
			if err != nil {
				t.Skip("nginx not installed (apt-get install nginx-light): rendered but not checked with nginx -t")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			out, err := run(ctx, dir, nil, nginx, "-t", "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", conf, "-g", "daemon off;")
			if err != nil {
				t.Fatalf("nginx -t: %v\n%s\n--- config ---\n%s", err, out, text)
			}
		})
	}
}

func TestBespokeRuleTemplatesRender(t *testing.T) {
	for _, file := range []string{"none.yaml", "edits.yaml", "seen.yaml"} {
		dst := filepath.Join(t.TempDir(), file)
		if err := renderTemplate(filepath.Join("peers", "bespoke", file), dst, baseTemplateData(pageSelectors["shop"])); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		b, _ := os.ReadFile(dst)
		text := string(b)
		if strings.Contains(text, "[[") || !strings.Contains(text, `{{ geo.country or "your area" }}`) {
			t.Errorf("%s rendered badly:\n%s", file, text)
		}
		if file != "none.yaml" && !strings.Contains(text, `remove: "#legacy-promo"`) {
			t.Errorf("%s: the page's selectors are missing:\n%s", file, text)
		}
		if file == "seen.yaml" && !strings.Contains(text, `hide_seen: { select: "li.card", id: "@data-item-id", keep_at_least: 4 }`) {
			t.Errorf("seen.yaml: no hide_seen:\n%s", text)
		}
	}
}

func TestFindElement(t *testing.T) {
	page := `<body class=x><DIV CLASS=legacy ID=legacy-promo><div>in</div><B>b</B></DIV>
<main id="listing"><h1>Men's <span>(2)</span></h1><a href=/m>m</a><img src=x></main>`
	for _, tc := range []struct{ sel, open, whole string }{
		{"#legacy-promo", `<DIV CLASS=legacy ID=legacy-promo>`, `<DIV CLASS=legacy ID=legacy-promo><div>in</div><B>b</B></DIV>`},
		{"#listing h1", `<h1>`, `<h1>Men's <span>(2)</span></h1>`},
		{"main a", `<a href=/m>`, `<a href=/m>m</a>`},
		{"body", `<body class=x>`, ""},
		{"img", `<img src=x>`, `<img src=x>`},
	} {
		el, err := findElement(page, tc.sel)
		if err != nil {
			if tc.sel == "body" {
				continue // no </body> in this fragment
			}
			t.Errorf("%s: %v", tc.sel, err)
			continue
		}
		if el.Open != tc.open || tc.whole != "" && el.Whole != tc.whole {
			t.Errorf("%s: open %q whole %q", tc.sel, el.Open, el.Whole)
		}
	}
	if _, err := findElement(page, "#nope"); err == nil {
		t.Error("#nope found")
	}
	if got := withAttr(`<a href=/m>`, "href", "/x"); got != `<a href="/x">` {
		t.Errorf("withAttr %q", got)
	}
	if got := withClass(`<body class="plp theme-light" data-x=1>`, "bench-p"); got != `<body class="plp theme-light bench-p" data-x=1>` {
		t.Errorf("withClass %q", got)
	}
	if got := withClass(`<body>`, "bench-p"); got != `<body class="bench-p">` {
		t.Errorf("withClass %q", got)
	}
}

func TestSavedPagesHaveTheEditedElements(t *testing.T) {
	for name, sel := range pageSelectors {
		file := filepath.Join("..", "testdata", "pages", name+".html")
		if name == "demo" {
			file = filepath.Join("..", "testdata", "demo", "site", "index.html")
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Logf("%s: %v (not checked)", name, err)
			continue
		}
		var d templateData
		if err := pageAnchors(string(b), sel, &d); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if n := countElements(string(b), sel.Card); n < 4 {
			t.Errorf("%s: %d %s items", name, n, sel.Card)
		}
	}
}

func TestVaryMatchesTheLuaScript(t *testing.T) {
	// peers/wrk/vary.lua repeats these lists; a change to one must be made
	// to the other.
	b, err := os.ReadFile(filepath.Join("peers", "wrk", "vary.lua"))
	if err != nil {
		t.Fatal(err)
	}
	lua := string(b)
	for _, v := range append(append(append([]string{}, countries...), segments...), agents...) {
		if !strings.Contains(lua, `"`+v+`"`) {
			t.Errorf("vary.lua lacks %q", v)
		}
	}
	got := string(varyWith([]string{"bsk=1"})(4, nil))
	want := "Cookie: seg=returning; uid=u4; _ga=GA1.2.4.1700000000; bsk=1\r\nCF-IPCountry: ES\r\nUser-Agent: " + agents[1] + "\r\n"
	if got != want {
		t.Errorf("vary(4):\n got %q\nwant %q", got, want)
	}
}
