package main

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/demo"
)

var demoCard = regexp.MustCompile(`<li class="card"[^>]*data-item-id="([^"]+)"`)

func demoCards(body string) []string {
	var out []string
	for _, m := range demoCard.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// browserLike fetches with a cookie jar and the headers a browser sends
// for a navigation (dest "document"), a fetch() ("empty") or a
// subresource ("style", "image").
type browserLike struct {
	t *testing.T
	c *http.Client
}

func newBrowserLike(t *testing.T) *browserLike {
	jar, _ := cookiejar.New(nil)
	return &browserLike{t: t, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

func (b *browserLike) get(url, dest string) string {
	b.t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Sec-Fetch-Dest", dest)
	// A person's browser: Go's own User-Agent is taken for a bot.
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36")
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		b.t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return string(body)
}

// TestServeDemoVisits: `bespoke serve --demo` as `make run` starts it.
// Three visits to the shop page show 12 cards each that the visitor has
// not been shown (the README's walkthrough), then the first 12 again;
// the API likewise, 10 items a visit; and the newsletter invitation,
// capped at two page views a day, shows on two page views whatever the
// style sheets and images loaded around them.
func TestServeDemoVisits(t *testing.T) {
	s := serveBinary(t, "--demo")
	html, err := fs.ReadFile(demo.Site(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	page := demoCards(string(html))

	v := newBrowserLike(t)
	invites := 0
	for visit, want := range [][]string{page[:12], page[12:24], page[24:36], page[:12]} {
		body := v.get(s.url+"/", "document")
		if got := demoCards(body); !slices.Equal(got, want) {
			t.Fatalf("visit %d shows %q,\nwant %q", visit+1, got, want)
		}
		if strings.Contains(body, `id="newsletter-invite"`) {
			invites++
		}
		for _, asset := range []struct{ path, dest string }{{"/static/site.css", "style"}, {"/static/logo.svg", "image"}, {"/favicon.svg", "image"}} {
			v.get(s.url+asset.path, asset.dest)
		}
	}
	if invites != 2 {
		t.Errorf("the invitation capped at 2 a day showed on %d of 4 page views", invites)
	}

	doc, err := fs.ReadFile(demo.Site(), "api/recommendations.json")
	if err != nil {
		t.Fatal(err)
	}
	api := jsonItemIDs(t, string(doc))
	app := newBrowserLike(t)
	for visit, want := range [][]string{api[:10], api[10:20], api[20:30], api[:10]} {
		if got := jsonItemIDs(t, app.get(s.url+"/api/recommendations.json", "empty")); !slices.Equal(got, want) {
			t.Fatalf("API visit %d shows %q,\nwant %q", visit+1, got, want)
		}
	}
}

func jsonItemIDs(t *testing.T, body string) []string {
	t.Helper()
	var doc struct {
		Items []struct{ ID string } `json:"items"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	var out []string
	for _, it := range doc.Items {
		out = append(out, it.ID)
	}
	return out
}
