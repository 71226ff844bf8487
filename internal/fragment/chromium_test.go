package fragment

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/internal/chromium"
)

// chromiumProbe writes each case's page (the markup in an element between
// two markers, as staysPut and staysInside build it) into an iframe's
// document, where Chromium's own parser builds it with scripting on, and
// records whether the markers stayed put; the answers go in a <pre> that
// --dump-dom shows.
const chromiumProbe = `<!DOCTYPE html><body><iframe id=f></iframe><script>
var cases = %s, out = [];
var d = document.getElementById("f").contentDocument;
for (var k = 0; k < cases.length; k++) {
  var c = cases[k];
  d.open(); d.write(c.page); d.close();
  var p = function(id){ var e = d.getElementById(id); return e ? e.parentNode : null; };
  var ok;
  if (c.inside) {
    var m = d.getElementById("c-main"), el = d.querySelector(".c-elem");
    ok = !!m && p("c-next") === m && p("c-more") === m && p("c-out") === m.parentNode &&
      !!el && el.parentNode === m && !!el.nextSibling && el.nextSibling.nodeType === 3 && el.nextSibling.data.trim() === "x";
  } else {
    var cx = d.getElementById("c-ctx"), parent = d.getElementById("c-parent");
    var after = d.getElementById("c-after");
    ok = !!cx && !!parent && !!after && after.localName === "c-m" && after.parentNode === cx &&
      p("c-out") === parent && cx.parentNode === parent;
  }
  out.push(ok ? 1 : 0);
}
var pre = document.createElement("pre");
pre.id = "result";
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>`

var chromiumResult = regexp.MustCompile(`(?s)<pre id="result">(.*?)</pre>`)

// TestChromiumAgrees holds Check to its definition on a browser's
// parser: for fragments of TestCheck and 1,500 random ones, headless
// Chromium builds each page disagreement asks about (the markup in the
// flow contexts, in the element a stray end tag names, as the content of
// the content differential's elements), and must answer as Check and
// CheckContent say. Where x/net/html, the reference they are built on,
// and Chromium part, the test logs it: the one known, x/net/html's
// tokenizer taking <math x=y/> to close itself where the '/' is the
// value's, Check refuses.
func TestChromiumAgrees(t *testing.T) {
	bin := chromium.Path(t)
	r := rand.New(rand.NewPCG(7, 11))
	srcs := []string{
		``, `<div class="app-banner">Get the app</div>`, `<li>a<li>b`, `<ul><li>a<li>b</ul>`,
		`<select><option>a<option>b</select>`, `<table><tr><td>a<td>b</table>`, `<p>x<div>y</div></p>`,
		`<b><i>misnested</b></i>`, `<svg><path d="M0 0"/></svg>`, `<svg><style>a{}</style></svg>`,
		`<div class=banner>Hi</div`, `<!-- x`, `<script>x()`, `<textarea>hi`, `text <`, `</div>`, `<p>x</p></p>`,
		`<svg><![CDATA[ x`, `<math><mi><b>x</b></mi></math>`, `<noscript><p>x</p></noscript>`, `<math x=y/></ul>`,
	}
	for range 1500 {
		srcs = append(srcs, randomFragment(r))
	}
	type question struct {
		Page   string `json:"page"`
		Inside bool   `json:"inside"`
	}
	type key struct {
		src, elem string
		inside    bool
	}
	var qs []question
	var keys []key
	ask := func(src, elem string, inside bool) {
		keys = append(keys, key{src, elem, inside})
		if inside {
			qs = append(qs, question{Page: insidePage(src, elem), Inside: true})
		} else {
			qs = append(qs, question{Page: putPage(src, elem)})
		}
	}
	for _, src := range srcs {
		for _, ctx := range flowContexts {
			ask(src, ctx, false)
		}
		if prob := Check(src); prob != nil {
			if ctx := strayContext(prob); ctx != "" && ctx != "div" {
				ask(src, ctx, false)
			}
		}
		for _, elem := range contentContexts {
			ask(src, elem, true)
		}
	}
	js, err := json.Marshal(qs)
	if err != nil {
		t.Fatal(err)
	}
	page := fmt.Sprintf(chromiumProbe, js)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dom := chromium.DumpPage(ctx, t, bin, page, nil)
	m := chromiumResult.FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("no answers in Chromium's document (%d bytes)", len(dom))
	}
	var got []int
	if err := json.Unmarshal([]byte(m[1]), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(qs) {
		t.Fatalf("Chromium answered %d questions of %d", len(got), len(qs))
	}
	answers := map[key]bool{}
	parted := 0
	for i, k := range keys {
		answers[k] = got[i] == 1
		ref := staysPut(k.src, k.elem)
		if k.inside {
			ref = staysInside(k.src, k.elem)
		}
		if ref != answers[k] {
			if parted++; parted <= 5 {
				t.Logf("x/net/html and Chromium part on %q in <%s> (inside %v): %v, %v", k.src, k.elem, k.inside, ref, answers[k])
			}
		}
	}
	chrome := parser{
		staysPut:    func(src, ctx string) bool { return answer(t, answers, key{src, ctx, false}) },
		staysInside: func(src, elem string) bool { return answer(t, answers, key{src, elem, true}) },
	}
	failed := 0
	for _, src := range srcs {
		if d := disagreement(src, chrome); d != "" {
			if failed++; failed <= 20 {
				t.Errorf("in Chromium: %s", d)
			}
		}
	}
	t.Logf("%d pages of %d fragments; x/net/html and Chromium part on %d; Check and Chromium on %d fragments", len(qs), len(srcs), parted, failed)
}

// answer looks up what Chromium made of a page the test asked about.
func answer[K comparable](t *testing.T, answers map[K]bool, k K) bool {
	a, ok := answers[k]
	if !ok {
		t.Fatalf("Chromium was not asked %v", k)
	}
	return a
}
