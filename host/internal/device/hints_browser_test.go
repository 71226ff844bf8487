package device

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/internal/chromium"
)

var updateHints = flag.Bool("update", false, "record Chromium's Client Hints again in testdata/clienthints/chromium.json")

// hintsGolden holds the Client Hints headless Chromium sent (see its
// README.md).
var hintsGolden = filepath.Join("..", "..", "..", "testdata", "clienthints", "chromium.json")

// uaMetadata is the DevTools protocol's Emulation.UserAgentMetadata.
type uaMetadata struct {
	Brands          []uaBrand `json:"brands"`
	FullVersionList []uaBrand `json:"fullVersionList,omitempty"`
	Platform        string    `json:"platform"`
	PlatformVersion string    `json:"platformVersion"`
	Architecture    string    `json:"architecture"`
	Model           string    `json:"model"`
	Mobile          bool      `json:"mobile"`
}

type uaBrand struct {
	Brand   string `json:"brand"`
	Version string `json:"version"`
}

// hintProfile is a browser Chromium plays: itself, or the User-Agent and
// metadata of Emulation.setUserAgentOverride, which Chromium then
// serializes into the hints itself. Want is how device classifies it with
// every hint; the zero Want means as its User-Agent alone says, its OS
// version aside.
type hintProfile struct {
	Name      string      `json:"name"`
	UserAgent string      `json:"user_agent,omitempty"`
	Metadata  *uaMetadata `json:"metadata,omitempty"`
	Want      *Info       `json:"want,omitempty"`
	// Requests are the page's and then its image's, after the page
	// answered Accept-CH: User-Agent and every Sec-CH-UA* line sent.
	Requests []hintRequest `json:"requests"`
}

type hintRequest struct {
	Path    string              `json:"path"`
	Headers map[string][]string `json:"headers"`
}

// hintProfiles are the browsers the test has Chromium play: itself, and
// phones, tablets and desktops whose brand lists hold the characters
// Chromium's GREASE brands use, and a quote and a backslash.
func hintProfiles() []hintProfile {
	const chrome = "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 "
	return []hintProfile{
		{Name: "default"},
		{Name: "android phone",
			UserAgent: "Mozilla/5.0 (Linux; Android 10; K) " + chrome + "Mobile Safari/537.36",
			Metadata: &uaMetadata{Brands: []uaBrand{{"Chromium", "156"}, {"Google Chrome", "156"}, {`Not"A\Brand`, "99"}},
				Platform: "Android", PlatformVersion: "14.0.0", Model: "Pixel 8", Mobile: true},
			Want: &Info{Type: Mobile, OS: "android", OSVersion: "14", Browser: "chrome", BrowserVersion: "156.0"}},
		{Name: "android tablet asking for desktop sites",
			UserAgent: "Mozilla/5.0 (Linux; Android 10; K) " + chrome + "Safari/537.36",
			Metadata: &uaMetadata{Brands: []uaBrand{{"Not;A=Brand", "8"}, {"Chromium", "156"}, {"Samsung Internet", "29.0"}},
				Platform: "Android", PlatformVersion: "15.0.0", Model: "SM-X710", Mobile: false},
			Want: &Info{Type: Tablet, OS: "android", OSVersion: "15", Browser: "samsung", BrowserVersion: "29.0"}},
		{Name: "phone with an empty model",
			UserAgent: "Mozilla/5.0 (Linux; Android 10; K) " + chrome + "Mobile Safari/537.36",
			Metadata: &uaMetadata{Brands: []uaBrand{{"Opera", "120"}, {"Chromium", "156"}, {"Not(A:Brand", "24"}},
				Platform: "Android", PlatformVersion: "13", Model: "", Mobile: true},
			Want: &Info{Type: Mobile, OS: "android", OSVersion: "13", Browser: "opera", BrowserVersion: "120"}},
		{Name: "Brave on Windows 11",
			UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) " + chrome + "Safari/537.36",
			Metadata: &uaMetadata{Brands: []uaBrand{{"Brave", "156"}, {"Chromium", "156"}, {"Not/A)Brand", "24"}},
				Platform: "Windows", PlatformVersion: "15.0.0", Architecture: "x86"},
			Want: &Info{Type: Desktop, OS: "windows", OSVersion: "11", Browser: "brave", BrowserVersion: "156.0"}},
		{Name: "Edge on macOS",
			UserAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) " + chrome + "Safari/537.36",
			Metadata: &uaMetadata{Brands: []uaBrand{{"Not=A?Brand", "99"}, {"Microsoft Edge", "156"}, {"Chromium", "156"}, {`\"Brave\";v=\"1\", x`, "1"}},
				Platform: "macOS", PlatformVersion: "14.4.1", Architecture: "arm"},
			Want: &Info{Type: Desktop, OS: "macos", OSVersion: "14.4", Browser: "edge", BrowserVersion: "156.0"}},
	}
}

// hintHeaders are the headers a capture keeps.
func hintHeaders(h http.Header) map[string][]string {
	out := map[string][]string{}
	for k, v := range h {
		if k == "User-Agent" || strings.HasPrefix(k, "Sec-Ch-Ua") {
			out[k] = v
		}
	}
	return out
}

// checkHintProfile checks what device makes of each request of p: every
// hint parses as RFC 9651 says, and the classification is p's Want, or,
// for Chromium itself, what its User-Agent alone says.
func checkHintProfile(t *testing.T, p hintProfile) {
	t.Helper()
	if len(p.Requests) != 2 {
		t.Fatalf("%s: %d requests recorded, want the page's and its image's", p.Name, len(p.Requests))
	}
	for _, r := range p.Requests {
		h := http.Header(r.Headers)
		for k, lines := range r.Headers {
			typ := "item"
			if k == "Sec-Ch-Ua" {
				typ = "list"
			}
			if k != "User-Agent" {
				if _, err := sfParseField(lines, typ); err != nil {
					t.Errorf("%s %s: %s: %q %v", p.Name, r.Path, k, lines, err)
				}
			}
		}
		req := httptest.NewRequest("GET", r.Path, nil)
		req.Header = h
		ua, hints := FromRequest(req)
		got := Classify(ua, hints)
		want := Classify(ua, Hints{})
		if p.Want != nil {
			want = *p.Want
			if r.Path == "/" {
				// Before Accept-CH: no platform version, no model.
				want.OSVersion = Classify(ua, Hints{Platform: hints.Platform}).OSVersion
				if !p.Metadata.Mobile && p.Metadata.Platform == "Android" {
					want.Type = Tablet
				}
			}
		} else if got.OS == want.OS && hints.PlatformVersion != "" {
			want.OSVersion = got.OSVersion
		}
		if got != want {
			t.Errorf("%s %s: %q with %+v\n got %+v\nwant %+v", p.Name, r.Path, ua, hints, got, want)
		}
	}
	if after := p.Requests[1].Headers; len(after["Sec-Ch-Ua-Platform-Version"]) == 0 || len(after["Sec-Ch-Ua-Model"]) == 0 {
		t.Errorf("%s: no platform version or model after Accept-CH: %q", p.Name, after)
	}
}

// TestChromiumHintsGolden classifies the Client Hints Chromium sent, as
// testdata/clienthints/chromium.json keeps them, without a browser.
func TestChromiumHintsGolden(t *testing.T) {
	var golden struct {
		Chromium string        `json:"chromium"`
		Profiles []hintProfile `json:"profiles"`
	}
	b, err := os.ReadFile(hintsGolden)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	if len(golden.Profiles) != len(hintProfiles()) {
		t.Errorf("%d profiles recorded, %d played", len(golden.Profiles), len(hintProfiles()))
	}
	for _, p := range golden.Profiles {
		checkHintProfile(t, p)
	}
}

// TestChromiumClientHints has headless Chromium play each of
// hintProfiles against a server on loopback that answers Accept-CH,
// checks what device makes of the hints it sent, and compares them with
// testdata/clienthints/chromium.json: the same hints on each request, the
// same values where the profile set them, and the same classification.
// With -update it records them there again.
func TestChromiumClientHints(t *testing.T) {
	bin := chromium.Path(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	profiles := captureHints(ctx, t, bin, hintProfiles())
	for _, p := range profiles {
		checkHintProfile(t, p)
	}
	if *updateHints {
		version, _ := exec.CommandContext(ctx, bin, "--version").Output()
		b, err := json.MarshalIndent(map[string]any{"chromium": strings.TrimSpace(string(version)), "profiles": profiles}, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(hintsGolden, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	var golden struct {
		Profiles []hintProfile `json:"profiles"`
	}
	b, err := os.ReadFile(hintsGolden)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	for i, p := range profiles {
		if i >= len(golden.Profiles) || len(golden.Profiles[i].Requests) != len(p.Requests) {
			t.Errorf("%s: not recorded as it was sent; run with -update", p.Name)
			continue
		}
		for j, r := range p.Requests {
			g := golden.Profiles[i].Requests[j]
			var names, gnames []string
			for k, v := range r.Headers {
				names = append(names, k)
				// Chromium's own brand list and User-Agent change with
				// its version; a profile's are its own.
				if p.Metadata != nil && !slices.Equal(v, g.Headers[k]) {
					t.Errorf("%s %s: %s: %q, recorded %q", p.Name, r.Path, k, v, g.Headers[k])
				}
			}
			for k := range g.Headers {
				gnames = append(gnames, k)
			}
			slices.Sort(names)
			slices.Sort(gnames)
			if !slices.Equal(names, gnames) {
				t.Errorf("%s %s: Chromium sent %q, recorded %q", p.Name, r.Path, names, gnames)
			}
			ua, h := FromRequest(&http.Request{Header: r.Headers})
			gua, gh := FromRequest(&http.Request{Header: g.Headers})
			got, was := Classify(ua, h), Classify(gua, gh)
			got.BrowserVersion, was.BrowserVersion = "", ""
			if got != was {
				t.Errorf("%s %s: classified %+v, recorded hints %+v", p.Name, r.Path, got, was)
			}
		}
	}
}

// captureHints runs Chromium with --remote-debugging-pipe and, for each
// profile, opens a tab, sets its User-Agent override if it has one, and
// loads a page from a server of the profile's own (an origin of its own,
// for Accept-CH is remembered per origin) that answers Accept-CH and
// holds an image; it returns the profiles with the requests recorded.
func captureHints(ctx context.Context, t *testing.T, bin string, profiles []hintProfile) []hintProfile {
	t.Helper()
	cmdR, toBrowser, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fromBrowser, cmdW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := chromium.Command(ctx, bin, t.TempDir(), "--remote-debugging-pipe", "about:blank")
	// The DevTools protocol over a pipe reads commands from fd 3 and
	// writes answers to fd 4, each a JSON message ending in a NUL.
	cmd.ExtraFiles = []*os.File{cmdR, cmdW}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmdR.Close()
	cmdW.Close()
	c := &devtools{w: toBrowser, r: bufio.NewReader(fromBrowser)}
	defer func() {
		c.call("", "Browser.close", nil, nil)
		toBrowser.Close()
		cmd.Wait()
		fromBrowser.Close()
	}()
	for i := range profiles {
		p := &profiles[i]
		var mu sync.Mutex
		var once sync.Once
		done := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			if r.URL.Path == "/" || r.URL.Path == "/after" {
				p.Requests = append(p.Requests, hintRequest{Path: r.URL.Path, Headers: hintHeaders(r.Header)})
			}
			mu.Unlock()
			switch r.URL.Path {
			case "/":
				w.Header().Set("Accept-CH", AcceptCH)
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprint(w, `<!DOCTYPE html><title>hints</title><img src="/after">`)
			case "/after":
				w.Header().Set("Content-Type", "image/gif")
				w.Write([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"))
				once.Do(func() { close(done) })
			default:
				http.NotFound(w, r)
			}
		}))
		var target struct {
			TargetID string `json:"targetId"`
		}
		c.must(t, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
		var session struct {
			SessionID string `json:"sessionId"`
		}
		c.must(t, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &session)
		if p.Metadata != nil {
			c.must(t, session.SessionID, "Emulation.setUserAgentOverride", map[string]any{"userAgent": p.UserAgent, "userAgentMetadata": p.Metadata}, nil)
		}
		c.must(t, session.SessionID, "Page.navigate", map[string]any{"url": srv.URL + "/"}, nil)
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatalf("%s: Chromium requested no image: %v", p.Name, ctx.Err())
		}
		c.must(t, "", "Target.closeTarget", map[string]any{"targetId": target.TargetID}, nil)
		srv.Close()
	}
	return profiles
}

// devtools sends DevTools protocol commands to Chromium and reads their
// answers, skipping the events between.
type devtools struct {
	w  *os.File
	r  *bufio.Reader
	id int
}

func (c *devtools) call(session, method string, params, result any) error {
	c.id++
	msg := map[string]any{"id": c.id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if _, err := c.w.Write(append(b, 0)); err != nil {
		return err
	}
	for {
		line, err := c.r.ReadBytes(0)
		if err != nil {
			return err
		}
		var answer struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(line[:len(line)-1], &answer); err != nil {
			return err
		}
		if answer.ID != c.id {
			continue
		}
		if answer.Error != nil {
			return errors.New(answer.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(answer.Result, result)
		}
		return nil
	}
}

func (c *devtools) must(t *testing.T, session, method string, params, result any) {
	t.Helper()
	if err := c.call(session, method, params, result); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
}
