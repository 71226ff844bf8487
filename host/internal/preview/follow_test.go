package preview_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/preview"
	"github.com/bespoke-edge/bespoke/host/internal/visit"
	"github.com/bespoke-edge/bespoke/internal/chromium"
)

// journal is a site whose pages sit below /, with relative links.
var journal = fstest.MapFS{
	"journal/rel.html": {Data: []byte(`<!DOCTYPE html><html><head><link rel="stylesheet" href="local.css"></head><body>
<p><a id="jump" href="#newsletter-signup">Sign up</a> <a id="next" href="other">Next</a></p>
<div style="height:4000px"></div><form id="newsletter-signup"><p>Newsletter</p></form>
</body></html>`)},
	"journal/other.html": {Data: []byte(`<!DOCTYPE html><html><head></head><body><h1 id="other">Other</h1></body></html>`)},
	"journal/local.css":  {Data: []byte(`h1{color:red}`)},
}

// harness drives the preview, loaded in a frame of the same origin, the
// way an editor's clicks would, and writes what it saw into its document
// for --dump-dom (an image that loads once it is done holds the dump
// back): a click on an in-page anchor in the after frame, then a
// click on a relative link in the before frame.
const harness = `<!DOCTYPE html><html><body><pre id="out"></pre><img src="/done" alt="">
<iframe id="p" style="width:1400px;height:900px" src="/?url=/journal/rel"></iframe>
<script>
var p = document.getElementById("p"), out = document.getElementById("out"), step = 0;
function log(s) { out.textContent += s + "\n"; }
function done() { fetch("/finish"); }
function url(f) { var d = f.contentDocument; return d ? d.location.pathname + d.location.search : "cross-origin"; }
p.addEventListener("load", function () {
  var d = p.contentDocument, before = d.getElementById("before"), after = d.getElementById("after");
  step++;
  if (step === 1) {
    log("css " + before.contentDocument.querySelector("link").href);
    after.contentDocument.getElementById("jump").click();
    log("anchor scrolled " + (after.contentWindow.scrollY > 1000));
    log("anchor frame " + url(after));
    before.contentDocument.getElementById("next").click();
    setTimeout(function () { log("after next: before " + url(before) + " after " + url(after)); done(); }, 5000);
  } else {
    log("preview " + p.contentWindow.location.search);
    log("before " + url(before));
    log("after " + url(after));
    log("other " + (before.contentDocument.getElementById("other") !== null) + " " + (after.contentDocument.getElementById("other") !== null));
    done();
  }
});
</script></body></html>`

// TestBrowserLinksStayInThePreview clicks links in the frames: an
// in-page anchor scrolls its frame; a link to another page of the origin
// opens it in both frames, for the same visitor, with what the first
// page left (an item seen); relative URLs resolve
// against the page's own URL.
func TestBrowserLinksStayInThePreview(t *testing.T) {
	bin := chromium.Path(t)
	origin := httptest.NewServer(preview.StaticOrigin(journal))
	defer origin.Close()
	file := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(file, []byte("rules:\n  - name: hi\n    actions:\n      - set_inner: { select: h1, text: Hi }\n  - name: read\n    actions:\n      - mark_seen: journal-read\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(origin.URL)
	pv, err := preview.New([]preview.Target{{File: "rules.yaml", Read: func() ([]byte, error) { return os.ReadFile(file) }, Origin: u}}, preview.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pv.Close()
	dom := drive(t, bin, pv, harness)
	for _, want := range []string{
		"css " + origin.URL + "/journal/local.css",
		"anchor scrolled true",
		"anchor frame /frame?side=after&amp;device=desktop&amp;t=0&amp;url=%2Fjournal%2Frel",
		// The same visitor, who has now read a page.
		"preview ?device=desktop&amp;returning=on&amp;seen=journal-read&amp;t=0&amp;url=%2Fjournal%2Fother&amp;visitor=" + visit.SimulatedID,
		"before /frame?side=before&amp;device=desktop&amp;returning=on&amp;seen=journal-read&amp;t=0&amp;url=%2Fjournal%2Fother&amp;visitor=" + visit.SimulatedID,
		"after /frame?side=after&amp;device=desktop&amp;returning=on&amp;seen=journal-read&amp;t=0&amp;url=%2Fjournal%2Fother&amp;visitor=" + visit.SimulatedID,
		"other true true",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the harness lacks %q:\n%s", want, dom[:strings.Index(dom, "</pre>")+1])
		}
	}
}

// drive serves page at /harness beside the preview pv, loads it in
// Chromium and returns the document it built, once the page fetched
// /finish (or after 20 s): a page that drives the preview in a frame of
// the same origin as an editor would, writing what it saw in its own
// document. Its image /done, which loads once it finished, holds back
// the dump.
func drive(t *testing.T, bin string, pv http.Handler, page string, opts ...string) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/", pv)
	mux.HandleFunc("GET /harness", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(page))
	})
	finished := make(chan struct{})
	var once sync.Once
	mux.HandleFunc("GET /finish", func(http.ResponseWriter, *http.Request) { once.Do(func() { close(finished) }) })
	mux.HandleFunc("GET /done", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-finished:
		case <-time.After(20 * time.Second):
		}
		http.NotFound(w, r)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	return browse(t, bin, srv.URL+"/harness", append([]string{"--dump-dom"}, opts...)...)
}

// narrow loads the preview in a 390 px frame, as on a phone, and writes
// its width, its frames' and how its controls are named.
const narrow = `<!DOCTYPE html><html><body><pre id="out"></pre><img src="/done" alt="">
<iframe id="p" style="width:390px;height:844px;border:0" src="/?country=FR&device=phone"></iframe>
<script>
var p = document.getElementById("p"), out = document.getElementById("out");
function log(s) { out.textContent += s + "\n"; }
p.addEventListener("load", function () {
  var d = p.contentDocument;
  log("overflows " + (d.documentElement.scrollWidth > 390));
  ["before", "after"].forEach(function (id) { log(id + " wide " + (d.getElementById(id).getBoundingClientRect().width >= 300)); });
  log("h1 " + d.querySelectorAll("h1").length);
  var s = d.querySelector("#rules summary");
  log("why named " + s.getAttribute("aria-label"));
  var b = d.querySelector("#rules button.name");
  log("pressed " + b.getAttribute("aria-pressed"));
  b.click();
  log("pressed " + b.getAttribute("aria-pressed"));
  log("note " + (d.getElementById("sandbox-note") || {}).textContent);
  fetch("/finish");
});
</script></body></html>`

// TestBrowserNarrowAndNamed: on a phone's width the preview fits, its
// frames one under the other; its controls have names of their own; it
// says that scripts and forms are off in the frames.
func TestBrowserNarrowAndNamed(t *testing.T) {
	bin := chromium.Path(t)
	e := newEnv(t, rulesV1, nil, "")
	dom := drive(t, bin, e.pv, narrow)
	for _, want := range []string{
		"overflows false", "before wide true", "after wide true", "h1 1",
		"why named why french", "pressed false\npressed true",
		"note In these two pages, scripts do not run and forms do not submit",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the harness lacks %q:\n%s", want, dom[:strings.Index(dom, "</pre>")+1])
		}
	}
}

// keepsTyping types a city without submitting it and opens a "why",
// then has the rule file saved (/edit): once the page reloaded for the
// new rules, it writes what the form and the rules list hold.
const keepsTyping = `<!DOCTYPE html><html><body><pre id="out"></pre><img src="/done" alt="">
<iframe id="p" style="width:1200px;height:800px;border:0" src="/?country=FR"></iframe>
<script>
var p = document.getElementById("p"), out = document.getElementById("out"), loads = 0;
function log(s) { out.textContent += s + "\n"; }
p.addEventListener("load", function () {
  var d = p.contentDocument;
  if (++loads === 1) {
    d.getElementById("city").value = "Paris";
    d.querySelector("li.rule[data-name=french] details").open = true;
    fetch("/edit");
    return;
  }
  log("city " + d.getElementById("city").value);
  log("country " + d.getElementById("country").value);
  log("why open " + d.querySelector("li.rule[data-name=french] details").open);
  log("rules " + d.querySelectorAll("li.rule").length);
  fetch("/finish");
});
</script></body></html>`

// TestBrowserKeepsWhatWasTyped: saving the rule file reloads the
// preview without losing what the editor typed but had not submitted,
// nor the explanations they had open.
func TestBrowserKeepsWhatWasTyped(t *testing.T) {
	bin := chromium.Path(t)
	e := newEnv(t, rulesV1, nil, "")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/edit" {
			e.write(t, rulesV1+"  - name: added\n    actions:\n      - remove: \"#nothing\"\n")
			return
		}
		e.pv.ServeHTTP(w, r)
	})
	dom := drive(t, bin, h, keepsTyping)
	for _, want := range []string{"city Paris", "country FR", "why open true", "rules 5"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the harness lacks %q:\n%s", want, dom[:strings.Index(dom, "</pre>")+1])
		}
	}
}

// odd are pages whose links the preview once failed to follow: an svg
// link, an anchor that is no valid escape.
var odd = fstest.MapFS{
	"odd.html": {Data: []byte(`<!DOCTYPE html><html><head></head><body>
<p><a id="bad" href="#%zz">Bad</a></p>
<svg width="100" height="20"><a id="svg" href="/journal/other"><text x="0" y="15">Other</text></a></svg>
</body></html>`)},
	"journal/other.html": journal["journal/other.html"],
}

// oddHarness clicks the bad anchor, then the svg link, in the after
// frame.
const oddHarness = `<!DOCTYPE html><html><body><pre id="out"></pre><img src="/done" alt="">
<iframe id="p" style="width:1400px;height:900px" src="/?url=/odd"></iframe>
<script>
var p = document.getElementById("p"), out = document.getElementById("out"), step = 0, errors = 0;
function log(s) { out.textContent += s + "\n"; }
function url(f) { var d = f.contentDocument; return d ? d.location.pathname + d.location.search : "cross-origin"; }
p.addEventListener("load", function () {
  var d = p.contentDocument, after = d.getElementById("after");
  step++;
  if (step === 1) {
    after.contentWindow.addEventListener("error", function () { errors++; });
    after.contentDocument.getElementById("bad").dispatchEvent(new MouseEvent("click", { bubbles: true, cancelable: true, button: 0 }));
    log("errors " + errors);
    after.contentDocument.querySelector("#svg text").dispatchEvent(new MouseEvent("click", { bubbles: true, cancelable: true, button: 0 }));
    setTimeout(function () { log("still " + url(after)); fetch("/finish"); }, 5000);
  } else {
    log("preview " + p.contentWindow.location.search);
    fetch("/finish");
  }
});
</script></body></html>`

// TestBrowserOddLinks: with the origin written in capitals (the browser
// writes a lower-case host), a bad anchor does nothing and throws
// nothing, and an svg link opens its page in the preview.
func TestBrowserOddLinks(t *testing.T) {
	bin := chromium.Path(t)
	origin := httptest.NewServer(preview.StaticOrigin(odd))
	defer origin.Close()
	file := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(file, []byte("rules:\n  - name: hi\n    actions:\n      - set_inner: { select: h1, text: Hi }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(strings.Replace(origin.URL, "127.0.0.1", "LocalHost", 1))
	pv, err := preview.New([]preview.Target{{File: "rules.yaml", Read: func() ([]byte, error) { return os.ReadFile(file) }, Origin: u}}, preview.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pv.Close()
	dom := drive(t, bin, pv, oddHarness)
	for _, want := range []string{"errors 0", "preview ?device=desktop&amp;returning=on&amp;t=0&amp;url=%2Fjournal%2Fother&amp;visitor=" + visit.SimulatedID} {
		if !strings.Contains(dom, want) {
			t.Errorf("the harness lacks %q:\n%s", want, dom[:strings.Index(dom, "</pre>")+1])
		}
	}
}

// places is a site whose link points to a place in another page.
var places = fstest.MapFS{
	"a.html": {Data: []byte(`<!DOCTYPE html><html><head></head><body><p><a id="to" href="/b#far">Far</a></p></body></html>`)},
	"b.html": {Data: []byte(`<!DOCTYPE html><html><head></head><body><div style="height:4000px"></div><h2 id="far">Far</h2><div style="height:4000px"></div></body></html>`)},
}

// placeHarness clicks the link to /b#far in the after frame, then writes
// where the preview and its frames are.
const placeHarness = `<!DOCTYPE html><html><body><pre id="out"></pre><img src="/done" alt="">
<iframe id="p" style="width:1400px;height:900px" src="/?url=/a"></iframe>
<script>
var p = document.getElementById("p"), out = document.getElementById("out"), step = 0;
function log(s) { out.textContent += s + "\n"; }
p.addEventListener("load", function () {
  var d = p.contentDocument, before = d.getElementById("before"), after = d.getElementById("after");
  if (++step === 1) {
    after.contentDocument.getElementById("to").click();
    return;
  }
  log("url " + new URLSearchParams(p.contentWindow.location.search).get("url"));
  log("before at far " + (before.contentWindow.scrollY > 3000) + " " + before.contentWindow.location.hash);
  log("after at far " + (after.contentWindow.scrollY > 3000) + " " + after.contentWindow.location.hash);
  fetch("/finish");
});
</script></body></html>`

// TestBrowserLinkToAPlace: a link to a place in another page (the demo's
// "/stores#Lyon") opens that page in the preview scrolled to the place,
// in both frames. The fragment was dropped: the page opened at its top,
// and the editor could not see where the link lands.
func TestBrowserLinkToAPlace(t *testing.T) {
	bin := chromium.Path(t)
	e := newEnvWith(t, "rules:\n  - name: hi\n    actions:\n      - set_inner: { select: h2, text: Here }\n", nil, "", preview.Options{}, preview.StaticOrigin(places))
	dom := drive(t, bin, e.pv, placeHarness)
	for _, want := range []string{"url /b#far", "before at far true #far", "after at far true #far"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the harness lacks %q:\n%s", want, dom[:strings.Index(dom, "</pre>")+1])
		}
	}
}
