package preview_test

import (
	"bytes"
	"context"
	"flag"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/demo"
	"github.com/bespoke-edge/bespoke/host/internal/preview"
	"github.com/bespoke-edge/bespoke/internal/chromium"
)

var updateScreenshot = flag.Bool("update", false, "rewrite screenshot.png, the preview's picture in the README")

// browse runs headless Chromium on target with a fresh profile and the
// given options (--dump-dom, --screenshot=...) and returns its output.
func browse(t *testing.T, bin, target string, opts ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{"--window-size=1400,900", "--hide-scrollbars"}, opts...)
	return chromium.Run(ctx, t, bin, t.TempDir(), append(args, target)...)
}

var marksAttr = regexp.MustCompile(`<iframe id="(before|after)"[^>]*data-marks="(\d+)"`)

// TestBrowserPreview loads the preview of the demo in a real browser and
// reads the document the browser built: both frames, each with its
// highlighted elements; the rule list; the page as a phone gets it; then,
// after a broken edit of the rule file, the errors at their positions with
// the last version that compiled still shown. It takes a screenshot and
// checks its layout: the dark bar, the form, and in the frames the colors
// of what the rules target (blue, before) and change (pink, after).
func TestBrowserPreview(t *testing.T) {
	bin := chromium.Path(t)
	origin := httptest.NewServer(demo.Handler())
	defer origin.Close()
	file := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(file, demo.Rules(), 0o644); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(origin.URL)
	pv, err := preview.New([]preview.Target{{File: "rules.yaml", Read: func() ([]byte, error) { return os.ReadFile(file) }, Origin: u}},
		preview.Options{Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer pv.Close()
	srv := httptest.NewServer(pv)
	defer srv.Close()
	query := "/?country=FR&city=Lyon&device=phone&at=2026-12-05T18:30:00%2B01:00"

	dom := browse(t, bin, srv.URL+query, "--dump-dom")
	marks := map[string]int{}
	for _, m := range marksAttr.FindAllStringSubmatch(dom, -1) {
		marks[m[1]], _ = strconv.Atoi(m[2])
	}
	if marks["before"] < 5 || marks["after"] < 5 {
		t.Errorf("highlighted elements: %v, want both frames marked", marks)
	}
	if !regexp.MustCompile(`<span id="marks">\d+ changes highlighted</span>`).MatchString(dom) {
		t.Error("the page does not count the highlighted changes")
	}
	for _, rule := range []string{"french-hero", "euro-prices", "nearby-store", "app-banner", "winter-evenings"} {
		if !strings.Contains(dom, `<li class="rule matched" data-rule="`) || !strings.Contains(dom, `data-name="`+rule+`"`) {
			t.Errorf("the rule list lacks %s", rule)
		}
		if !regexp.MustCompile(`<li class="rule matched" data-rule="\d+" data-name="` + rule + `"`).MatchString(dom) {
			t.Errorf("%s is not shown as matched", rule)
		}
	}
	if !regexp.MustCompile(`<li class="rule unmatched" data-rule="\d+" data-name="us-shipping"`).MatchString(dom) {
		t.Error("us-shipping is not shown as unmatched")
	}

	// The after frame as a phone in Lyon gets it, as the browser builds
	// it: the marks are elements and classes of the document.
	after := browse(t, bin, srv.URL+"/frame?side=after&country=FR&city=Lyon&device=phone", "--dump-dom", "--window-size=390,844")
	for _, want := range []string{
		`<h1 class="hero-title bsk-edit bsk-r`, "Équipez-vous pour la saison",
		`<bespoke-edit class="bsk-ins bsk-r`, `<div class="app-banner" role="note">`,
		`<a id="store-link" href="/stores#Lyon" class="bsk-edit`,
	} {
		if !strings.Contains(after, want) {
			t.Errorf("the phone's after frame lacks %q", want)
		}
	}

	shot := filepath.Join(t.TempDir(), "preview.png")
	browse(t, bin, srv.URL+query, "--screenshot="+shot)
	checkLayout(t, shot)
	if *updateScreenshot {
		writeSmallPNG(t, shot, "screenshot.png")
	}

	// A broken edit: the page shows the errors and keeps the last version
	// that compiled.
	src, _ := os.ReadFile(file)
	broken := strings.Replace(string(src), `when: geo.country == "US"`, `when: geo.country == US`, 1)
	broken = strings.Replace(broken, `when: path == "/sale-2025"`, `when: path startswith "/sale-2025"`, 1)
	if broken == string(src) {
		t.Fatal("the demo rules changed: update the broken edit")
	}
	if err := os.WriteFile(file, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(srv.URL + "/state")
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
		time.Sleep(50 * time.Millisecond)
	}
	dom = browse(t, bin, srv.URL+query, "--dump-dom")
	for _, want := range []string{
		`<section class="errors" id="errors">`, "rules.yaml does not compile: 2 errors",
		`<code class="where">rules.yaml:`, "US is not quoted", "unknown operator `startswith`",
		"did you mean `starts_with`?", `<iframe id="after"`, "does not compile · showing the version of",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("after a broken edit, the page lacks %q", want)
		}
	}
	for _, m := range marksAttr.FindAllStringSubmatch(dom, -1) {
		if n, _ := strconv.Atoi(m[2]); n == 0 {
			t.Errorf("after a broken edit, the %s frame shows nothing highlighted", m[1])
		}
	}
}

// TestBrowserFrameOpenedDirectly opens a frame on its own, as a link or
// the address bar would, rather than in the preview's sandboxed iframe:
// the origin's page comes edited, and its script does not run, on the
// preview's origin where it could read the rules. It ran. In the
// preview's page the frame is marked as before.
func TestBrowserFrameOpenedDirectly(t *testing.T) {
	bin := chromium.Path(t)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!DOCTYPE html><html><head><title>Shop</title></head><body><h1 id="t">Hello</h1>
<script>document.getElementById("t").setAttribute("data-ran", "yes")</script></body></html>`)
	}))
	defer origin.Close()
	srv := servePreview(t, origin.URL, "rules:\n  - name: french\n    actions:\n      - set_inner: { select: \"#t\", text: Bonjour }\n")

	frame := browse(t, bin, srv.URL+"/frame?side=after", "--dump-dom")
	if !regexp.MustCompile(`<h1 id="t" class="bsk-edit bsk-r0"[^>]*>Bonjour</h1>`).MatchString(frame) {
		t.Errorf("the frame opened on its own is not the edited page:\n%s", frame)
	}
	if strings.Contains(frame, `data-ran="yes"`) {
		t.Error("the origin's script ran in the frame opened on its own")
	}
	dom := browse(t, bin, srv.URL+"/", "--dump-dom")
	for _, m := range marksAttr.FindAllStringSubmatch(dom, -1) {
		if n, _ := strconv.Atoi(m[2]); n != 1 {
			t.Errorf("the %s frame in the page: %d elements marked, want 1", m[1], n)
		}
	}
	if len(marksAttr.FindAllStringSubmatch(dom, -1)) != 2 {
		t.Errorf("the page did not read both frames' marks:\n%s", dom)
	}
}

// TestBrowserListItemsGoneAndMoved: in a real browser, the preview page
// matches the items of a list a rule edits across its two frames: in the
// page before, the items this visitor does not get (one seen, one beyond
// the limit) are marked gone; in the page after, those the rule moved.
func TestBrowserListItemsGoneAndMoved(t *testing.T) {
	bin := chromium.Path(t)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!DOCTYPE html><html><head><title>Shop</title></head><body><ul class="recs">`+
			`<li data-item-id="a">A</li><li data-item-id="b">B</li><li data-item-id="c">C</li><li data-item-id="d">D</li></ul></body></html>`)
	}))
	defer origin.Close()
	srv := servePreview(t, origin.URL, `rules:
  - name: fresh
    actions:
      - hide_seen: { select: "ul.recs > li", id: "@data-item-id" }
      - reorder: { select: "ul.recs > li", id: "@data-item-id", order: ["c", "b"] }
      - limit: { select: "ul.recs > li", n: 2 }
`)
	dom := browse(t, bin, srv.URL+"/?seen=a", "--dump-dom")
	gone := regexp.MustCompile(`<iframe id="before"[^>]*data-gone="(\d+)"`).FindStringSubmatch(dom)
	moved := regexp.MustCompile(`<iframe id="after"[^>]*data-moved="(\d+)"`).FindStringSubmatch(dom)
	if gone == nil || gone[1] != "2" || moved == nil || moved[1] != "2" {
		t.Errorf("items gone %v and moved %v, want 2 (a, seen; d, beyond the limit) and 2 (c before b):\n%s", gone, moved, dom)
	}
}

// servePreview serves the preview of rules, a fixed rule file, for the
// origin at originURL, until the test ends.
func servePreview(t *testing.T, originURL, rules string) *httptest.Server {
	t.Helper()
	u, err := url.Parse(originURL)
	if err != nil {
		t.Fatal(err)
	}
	pv, err := preview.New([]preview.Target{{File: "rules.yaml", Read: func() ([]byte, error) { return []byte(rules), nil }, Origin: u}}, preview.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(pv)
	t.Cleanup(func() { srv.Close(); pv.Close() })
	return srv
}

// checkLayout checks the screenshot's structure, not its pixels: its size,
// the dark bar on top, the light form on the left, and in the frames'
// area more blue (targets) on the left and more pink (edits) on the right.
func checkLayout(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	if b.Dx() != 1400 || b.Dy() != 900 {
		t.Fatalf("screenshot %v, want 1400x900", b.Size())
	}
	near := func(c color.Color, want [3]int) bool {
		r, g, bl, _ := c.RGBA()
		d := func(x uint32, y int) int { v := int(x>>8) - y; return v * v }
		return d(r, want[0])+d(g, want[1])+d(bl, want[2]) < 50*50
	}
	count := func(x0, y0, x1, y1 int, want [3]int) int {
		n := 0
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				if near(img.At(x, y), want) {
					n++
				}
			}
		}
		return n
	}
	area := func(x0, y0, x1, y1 int) int { return (x1 - x0) * (y1 - y0) }
	bar, form := [3]int{0x24, 0x29, 0x2f}, [3]int{0xf6, 0xf8, 0xfa}
	pink, blue := [3]int{0xe6, 0x00, 0x7e}, [3]int{0x1f, 0x6f, 0xeb}
	if n := count(0, 0, 1400, 30, bar); n < area(0, 0, 1400, 30)/2 {
		t.Errorf("the top bar: %d dark pixels", n)
	}
	if n := count(0, 60, 250, 880, form); n < area(0, 60, 250, 880)/2 {
		t.Errorf("the form: %d light pixels", n)
	}
	mid := 270 + (1400-270)/2
	leftBlue, rightBlue := count(270, 450, mid, 900, blue), count(mid, 450, 1400, 900, blue)
	leftPink, rightPink := count(270, 450, mid, 900, pink), count(mid, 450, 1400, 900, pink)
	if leftBlue < 500 || rightPink < 500 || leftBlue < 3*rightBlue || rightPink < 3*leftPink {
		t.Errorf("the frames: blue %d left, %d right; pink %d left, %d right", leftBlue, rightBlue, leftPink, rightPink)
	}
}

// writeSmallPNG writes a copy of a screenshot with at most 256 colors,
// which keeps the README's picture small.
func writeSmallPNG(t *testing.T, from, to string) {
	t.Helper()
	f, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	pal := image.NewPaletted(img.Bounds(), popular(img, 256))
	draw.Draw(pal, img.Bounds(), img, image.Point{}, draw.Src)
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, pal); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", to, buf.Len())
}

// popular returns a palette of the n most common colors of img, each the
// mean of the pixels that round to it (4 bits a channel): a screenshot of
// a page is mostly flat colors, which it keeps exactly.
func popular(img image.Image, n int) color.Palette {
	type bin struct{ r, g, b, count int }
	bins := map[int]*bin{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			k := int(r>>12)<<8 | int(g>>12)<<4 | int(bl>>12)
			e := bins[k]
			if e == nil {
				e = &bin{}
				bins[k] = e
			}
			e.r, e.g, e.b, e.count = e.r+int(r>>8), e.g+int(g>>8), e.b+int(bl>>8), e.count+1
		}
	}
	all := make([]*bin, 0, len(bins))
	for _, e := range bins {
		all = append(all, e)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].count > all[j].count })
	var pal color.Palette
	for _, e := range all[:min(n, len(all))] {
		pal = append(pal, color.RGBA{uint8(e.r / e.count), uint8(e.g / e.count), uint8(e.b / e.count), 255})
	}
	return pal
}
