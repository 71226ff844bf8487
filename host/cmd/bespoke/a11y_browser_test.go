package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/demo"
	"github.com/bespoke-edge/bespoke/internal/chromium"
)

// axeTags are the rules axe runs: WCAG 2.0 and 2.1, levels A and AA.
var axeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa"}

// a11yPage is a page to audit: its path on the front server, and the
// width of the window it is shown in (a phone's, for a phone visitor).
type a11yPage struct {
	name, path string
	phone      bool
}

// a11yResult is what axe found on one page: violations, and what it
// could not decide (needs review).
type a11yResult struct {
	Name       string          `json:"name"`
	URL        string          `json:"url"`
	Rules      int             `json:"rules"` // rules that ran: passed, failed, undecided or not applicable
	Error      string          `json:"error"`
	Violations []a11yViolation `json:"violations"`
	Review     []a11yViolation `json:"review"`
}

// a11yViolation is one rule of axe's and the elements that fail it.
type a11yViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  []any  `json:"target"`
		HTML    string `json:"html"`
		Summary string `json:"summary"`
	} `json:"nodes"`
}

// a11yHarness loads the pages one after the other, each in a frame of a
// desktop's or a phone's size, runs axe in the frame's window, and writes
// what it found on each as JSON into <pre id="out">.
const a11yHarness = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>axe</title></head><body>
<pre id="out"></pre>
<iframe src="/a11y/wait" title="wait" hidden></iframe>
<script type="application/json" id="pages">%s</script>
<script>
(async function () {
  var out = document.getElementById("out");
  try {
    var pages = JSON.parse(document.getElementById("pages").textContent);
    var src = await (await fetch("/a11y/axe.js")).text();
    var results = [];
    for (var i = 0; i < pages.length; i++) {
      // One page at a time, in the window's viewport: Chromium does not
      // render a frame out of view, and axe reads colors from what was
      // rendered.
      var p = pages[i], f = document.createElement("iframe");
      f.style.cssText = "position:absolute;top:0;left:0;border:0;width:" + (p.phone ? 390 : 1280) + "px;height:" + (p.phone ? 844 : 900) + "px";
      var r = {name: p.name, url: p.path};
      try {
        // A page that does not load is said, not waited for.
        await new Promise(function (done, fail) {
          f.onload = done;
          setTimeout(function () { fail(new Error("not loaded in 20 s")); }, 20000);
          f.src = p.path;
          document.body.appendChild(f);
        });
        var w = f.contentWindow;
        r.url = w.location.href;
        w.eval(src);
        var res = await w.axe.run(w.document, {runOnly: {type: "tag", values: %s}, iframes: false, resultTypes: ["violations", "incomplete"]});
        var nodes = function (v) {
          return {id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(function (n) {
            return {target: n.target, html: n.html.slice(0, 160), summary: n.failureSummary};
          })};
        };
        r.rules = res.violations.length + res.passes.length + res.incomplete.length + res.inapplicable.length;
        r.violations = res.violations.map(nodes);
        r.review = res.incomplete.map(nodes);
      } catch (e) { r.error = String(e); }
      results.push(r);
      f.remove();
    }
    out.textContent = JSON.stringify(results);
  } catch (e) { out.textContent = JSON.stringify([{error: String(e)}]); }
  fetch("/a11y/done");
})();
</script></body></html>`

// a11yFront serves the harness and axe under /a11y/, and every other
// request from backend. It takes the Content-Security-Policy off
// responses: the preview's frames come with a sandbox policy that makes
// them an origin of their own, out of the harness's reach, and axe is
// run by eval; what axe checks is the document, which the policy does
// not change.
func a11yFront(t *testing.T, backend http.Handler, pages []a11yPage) *httptest.Server {
	t.Helper()
	axe, err := os.ReadFile("../../../testdata/axe/axe.min.js")
	if err != nil {
		t.Fatal(err)
	}
	list, _ := json.Marshal(pages)
	tags, _ := json.Marshal(axeTags)
	harness := fmt.Sprintf(a11yHarness, strings.ReplaceAll(string(list), "</", `<\/`), tags)
	// The page's load event, which --dump-dom waits for, comes once its
	// frame /a11y/wait is loaded, which is once axe is done.
	done := make(chan struct{})
	var once sync.Once
	mux := http.NewServeMux()
	mux.HandleFunc("/a11y/done", func(w http.ResponseWriter, r *http.Request) { once.Do(func() { close(done) }) })
	mux.HandleFunc("/a11y/wait", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-done:
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/a11y/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, harness)
	})
	mux.HandleFunc("/a11y/axe.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		w.Write(axe)
	})
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/events") {
			// The preview's live reload, which axe does not need: each
			// page's stream held a connection of the six Chromium opens
			// to a host, and a page removed from the harness did not
			// always give its own back before the next loaded, which
			// then waited for one. A 204 tells EventSource to stop.
			w.WriteHeader(http.StatusNoContent)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	return httptest.NewServer(mux)
}

// MarshalJSON writes a page as the harness reads it.
func (p a11yPage) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{"name": p.name, "path": p.path, "phone": p.phone})
}

// forward is a reverse proxy to target that sends the request's Host as
// target's (the preview answers its own) and drops the responses'
// Content-Security-Policy (see a11yFront).
func forward(target string) *httputil.ReverseProxy {
	u, _ := url.Parse(target)
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u) },
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Del("Content-Security-Policy")
			return nil
		},
	}
}

// a11yAudit runs axe on pages in one run of Chromium, through front.
func a11yAudit(t *testing.T, bin string, front *httptest.Server, pages []a11yPage) map[string]a11yResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dom := chromium.Run(ctx, t, bin, t.TempDir(), "--window-size=1300,900", "--dump-dom", front.URL+"/a11y/")
	var results []a11yResult
	chromium.Answer(t, dom, &results)
	got := map[string]a11yResult{}
	for _, r := range results {
		if r.Error != "" {
			t.Fatalf("axe on %s (%s): %s", r.Name, r.URL, r.Error)
		}
		got[r.Name] = r
	}
	return got
}

// visitor is who the site's front sends a request as: headers a CDN or
// the browser would add, and cookies of its own, kept between requests.
type visitor struct {
	header http.Header
	jar    http.CookieJar
	// stay drops a redirect's Location, for the browser to show the
	// page a redirect comes with rather than follow it.
	stay bool
}

// visitorFront serves /v/NAME/PATH as visitor NAME gets PATH from proxy,
// /origin/PATH as the demo origin serves it, and any other path (the
// pages' style sheets and images) from proxy.
func visitorFront(proxy string, visitors map[string]*visitor) http.Handler {
	origin := demo.Handler()
	fwd := forward(proxy)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := strings.CutPrefix(r.URL.Path, "/origin/"); ok {
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/" + p
			origin.ServeHTTP(w, r2)
			return
		}
		rest, ok := strings.CutPrefix(r.URL.Path, "/v/")
		if !ok {
			fwd.ServeHTTP(w, r)
			return
		}
		name, p, _ := strings.Cut(rest, "/")
		v := visitors[name]
		if v == nil {
			http.NotFound(w, r)
			return
		}
		u, _ := url.Parse(proxy + "/" + p)
		u.RawQuery = r.URL.RawQuery
		resp, err := v.get(u.String())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			if k != "Set-Cookie" && (k != "Location" || !v.stay) {
				w.Header()[k] = vs
			}
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})
}

// get fetches u as the visitor, with its cookies, keeping those it gets.
func (v *visitor) get(u string) (*http.Response, error) {
	req, _ := http.NewRequest("GET", u, nil)
	for k, vs := range v.header {
		req.Header[k] = vs
	}
	c := &http.Client{Jar: v.jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return c.Do(req)
}

// startOutput runs a command of bespoke until the test ends, and returns
// the address it prints after says.
func startOutput(t *testing.T, says string, run func(ctx context.Context, stdout io.Writer) error) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, pw)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if _, u, ok := strings.Cut(sc.Text(), says); ok {
			go io.Copy(io.Discard, pr)
			return "http://" + strings.TrimSuffix(u, "/")
		}
	}
	t.Fatalf("no line with %q", says)
	return ""
}

// a11yAllowed lists the violations a page may keep, by page and axe rule,
// with why. A page not listed must have none.
var a11yAllowed = []struct{ page, rule, why string }{
	// A redirect's body is the line Go's http.Redirect writes too, for
	// clients that do not follow redirects: browsers follow it and never
	// show it.
	{"the redirect from /sale-2025", "html-has-lang", "a redirect's body, which browsers do not show"},
	{"the redirect from /sale-2025", "document-title", "a redirect's body, which browsers do not show"},
	{"the redirect from /sale-2025", "bypass", "a redirect's body, which browsers do not show"},
	// The preview's page before dims what the rules remove (opacity
	// .55), for the editor to see what goes: no visitor gets it.
	{"preview, before, for a crawler", "color-contrast", "the preview dims the promo slot the rules remove"},
}

// checkA11y fails t for each violation of a page that a11yAllowed does
// not list (and each rule axe could not decide but color-contrast), and for each that it lists on these pages and axe did not
// find: an allowance outlives what it allowed, or axe finds nothing.
func checkA11y(t *testing.T, pages []a11yPage, got map[string]a11yResult) {
	t.Helper()
	found := map[[2]string]bool{}
	for _, p := range pages {
		r, ok := got[p.name]
		if !ok || r.Rules == 0 {
			t.Errorf("%s: axe did not run", p.name)
			continue
		}
		// What axe could not decide fails too, but for the contrast of
		// a text over an image or a gradient, which a person judges.
		failed := r.Violations
		for _, v := range r.Review {
			if v.ID == "color-contrast" {
				t.Logf("%s: axe could not decide the contrast of %d elements", p.name, len(v.Nodes))
				continue
			}
			v.Impact += ", needs review"
			failed = append(failed, v)
		}
	next:
		for _, v := range failed {
			found[[2]string{p.name, v.ID}] = true
			for _, a := range a11yAllowed {
				if a.page == p.name && a.rule == v.ID {
					continue next
				}
			}
			var b strings.Builder
			for _, n := range v.Nodes {
				fmt.Fprintf(&b, "\n\t%v %s\n\t\t%s", n.Target, html.UnescapeString(n.HTML), strings.ReplaceAll(n.Summary, "\n", "\n\t\t"))
			}
			t.Errorf("%s (%s): %s (%s): %s%s", p.name, r.URL, v.ID, v.Impact, v.Help, b.String())
		}
	}
	for _, a := range a11yAllowed {
		if _, ok := got[a.page]; ok && !found[[2]string{a.page, a.rule}] {
			t.Errorf("%s: %s is allowed (%s) but axe no longer finds it", a.page, a.rule, a.why)
		}
	}
}

// TestAccessibilitySite runs axe-core (testdata/axe) in headless Chromium,
// with its WCAG 2.0 and 2.1 A and AA rules, on the demo site's pages as
// its origin serves them, and on its home page as `bespoke serve --demo`
// rewrites it for visitors whose rules insert, replace, hide, reorder and
// remove (a French reader, a phone in Lyon, a returning visitor whose
// seen cards are hidden, a club member with a full cart, a newsletter
// reader, our app's web view, a crawler...). A page has no violation but
// those a11yAllowed lists.
func TestAccessibilitySite(t *testing.T) {
	t.Parallel() // with TestAccessibilityPreview, in a Chromium of its own
	bin := chromium.Path(t)
	phone := "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
	desktop := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"

	proxy := startOutput(t, " through http://", func(ctx context.Context, stdout io.Writer) error {
		return serveContext(ctx, []string{"--demo", "--rules", demoRules, "--listen", "127.0.0.1:0", "--admin", "",
			"--access-log=false", "--cache-dir", "-"}, stdout, io.Discard)
	})
	visitors := map[string]*visitor{}
	add := func(name string, h ...string) {
		jar, _ := cookiejar.New(nil)
		v := &visitor{header: http.Header{"User-Agent": {desktop}}, jar: jar}
		for i := 0; i+1 < len(h); i += 2 {
			v.header.Set(h[i], h[i+1])
		}
		visitors[name] = v
	}
	add("us", "CF-IPCountry", "US")
	add("fr", "CF-IPCountry", "FR", "Accept-Language", "fr-FR,fr;q=0.9")
	add("lyon-phone", "CloudFront-Viewer-Country", "FR", "CloudFront-Viewer-City", "Lyon", "User-Agent", phone)
	add("near-lyon", "CF-IPCountry", "FR", "CF-IPLatitude", "45.75", "CF-IPLongitude", "4.85")
	add("swiss", "CF-IPCountry", "CH", "Accept-Language", "de-CH,de;q=0.9")
	add("returning")
	add("member", "Cookie", "club=gold; cart_items=3")
	add("app", "User-Agent", phone, "X-Northwind-App", "3.4.1")
	add("crawler", "User-Agent", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
	add("newsletter")
	add("stay")
	visitors["stay"].stay = true
	// The returning visitor was shown the first twelve cards: the page
	// audited has the next twelve, titled for them.
	resp, err := visitors["returning"].get(proxy + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	pages := []a11yPage{}
	for _, p := range []string{"", "fr/", "sale", "stores", "journal/", "journal/first-light-on-the-ridge", "p/sku-1001", "no-such-page"} {
		pages = append(pages, a11yPage{name: "origin /" + p, path: "/origin/" + p})
	}
	pages = append(pages,
		a11yPage{name: "us /", path: "/v/us/"},
		a11yPage{name: "us /p/sku-1001", path: "/v/us/p/sku-1001"},
		a11yPage{name: "fr /", path: "/v/fr/"},
		a11yPage{name: "fr /fr/", path: "/v/fr/fr/"},
		a11yPage{name: "lyon-phone /", path: "/v/lyon-phone/", phone: true},
		a11yPage{name: "near-lyon /", path: "/v/near-lyon/"},
		a11yPage{name: "swiss /", path: "/v/swiss/"},
		a11yPage{name: "returning /", path: "/v/returning/"},
		a11yPage{name: "member /", path: "/v/member/"},
		a11yPage{name: "app /", path: "/v/app/", phone: true},
		a11yPage{name: "crawler /", path: "/v/crawler/"},
		a11yPage{name: "newsletter /", path: "/v/newsletter/?ref=newsletter-42"},
		a11yPage{name: "the redirect from /sale-2025", path: "/v/stay/sale-2025"},
	)
	front := a11yFront(t, visitorFront(proxy, visitors), pages)
	defer front.Close()
	checkA11y(t, pages, a11yAudit(t, bin, front, pages))
}

// TestAccessibilityPreview runs axe-core in headless Chromium, as
// TestAccessibilitySite does, on the pages of `bespoke preview`: the
// preview on first load, for a visitor from Lyon on a phone and for a
// returning one, for a rule file that does not compile, the two pages it
// shows side by side (and the page after rules that insert a list item
// and a summary), and what it shows for JSON, for a page the origin
// redirects and when the origin does not answer. A page has no violation
// but those a11yAllowed lists.
func TestAccessibilityPreview(t *testing.T) {
	t.Parallel()
	bin := chromium.Path(t)
	origin := httptest.NewServer(demo.Handler())
	defer origin.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	file := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(file, demo.Rules(), 0o644); err != nil {
		t.Fatal(err)
	}
	start := func(args ...string) string {
		return startOutput(t, ") on http://", func(ctx context.Context, stdout io.Writer) error {
			return previewContext(ctx, append([]string{"--listen", "127.0.0.1:0"}, args...), stdout, io.Discard)
		})
	}
	good := start()
	broken := start("--rules", file, "--origin", origin.URL)
	gone := start("--origin", down.URL)
	// A page of its own whose rules insert a list item after a comment
	// and a details' summary, both of which the after frame marks
	// without a wrapper around them.
	sizes := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Sizes</title></head><body><main><h1>Sizes</h1>
<ul id="sizes"><li>S</li><li>M</li></ul>
<details id="chart"><p>S fits a 90 cm chest.</p></details>
</main></body></html>`)
	}))
	defer sizes.Close()
	sizesRules := filepath.Join(t.TempDir(), "sizes.yaml")
	if err := os.WriteFile(sizesRules, []byte(`version: 1
rules:
  - name: winter-sizes
    actions:
      - append: { select: "#sizes", html: "<!-- the winter range --><li>XL</li>" }
      - prepend: { select: "#chart", html: "<summary>Size chart</summary>" }
`), 0o644); err != nil {
		t.Fatal(err)
	}
	own := start("--rules", sizesRules, "--origin", sizes.URL)
	// A broken edit: the page shows the errors, each with its line (one
	// wider than the page), and the pages of the last version that
	// compiled.
	src := string(demo.Rules())
	edit := strings.Replace(src, `when: geo.country == "US"`, `when: geo.country == US and geo.city in ["Seattle", "Denver", "Portland", "Boise", "Spokane", "Tacoma", "Bellevue", "Everett", "Olympia", "Yakima", "Missoula"]`, 1)
	edit = strings.Replace(edit, `when: path == "/sale-2025"`, `when: path startswith "/sale-2025"`, 1)
	if edit == src {
		t.Fatal("the demo rules changed: update the broken edit")
	}
	if err := os.WriteFile(file, []byte(edit), 0o644); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(broken + "/state")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), `"stale": true`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the preview did not pick up the broken edit")
		}
	}
	// The front serves the good preview, /broken/, /gone/ and /own/ the
	// others: their pages' frames, at /frame, are the good one's.
	fwd, fwdBroken, fwdGone, fwdOwn := forward(good), forward(broken), forward(gone), forward(own)
	backend := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		to := fwd
		for prefix, h := range map[string]*httputil.ReverseProxy{"/broken/": fwdBroken, "/gone/": fwdGone, "/own/": fwdOwn} {
			if p, ok := strings.CutPrefix(r.URL.Path, prefix); ok {
				r.URL.Path, to = "/"+p, h
			}
		}
		to.ServeHTTP(w, r)
	})
	lyon := "country=FR&city=Lyon&device=phone&at=2026-12-05T18:30:00%2B01:00"
	pages := []a11yPage{
		{name: "preview, first load", path: "/"},
		{name: "preview, a visitor from Lyon on a phone", path: "/?" + lyon},
		{name: "preview, a returning visitor", path: "/?visitor=alice&returning=on&seen=sku-1001,sku-1002"},
		{name: "preview, before", path: "/frame?side=before&" + lyon},
		{name: "preview, after", path: "/frame?side=after&" + lyon},
		{name: "preview, after on a phone", path: "/frame?side=after&" + lyon, phone: true},
		{name: "preview, before, for a crawler", path: "/frame?side=before&device=bot"},
		{name: "preview, after, for a German reader in Switzerland", path: "/frame?side=after&country=CH&lang=de-CH"},
		{name: "preview, in a phone's window", path: "/?" + lyon, phone: true},
		{name: "preview, JSON after", path: "/frame?side=after&url=%2Fapi%2Frecommendations.json"},
		{name: "preview, the origin redirects", path: "/frame?side=after&url=%2Fjournal"},
		{name: "preview, a rule file that does not compile", path: "/broken/?" + lyon},
		{name: "preview, the origin does not answer", path: "/gone/"},
		{name: "preview, after, the origin does not answer", path: "/gone/frame?side=after"},
		{name: "preview, after, a list item and a summary inserted", path: "/own/frame?side=after"},
	}
	front := a11yFront(t, backend, pages)
	defer front.Close()
	checkA11y(t, pages, a11yAudit(t, bin, front, pages))
}
