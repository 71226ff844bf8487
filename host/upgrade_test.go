package host_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host"
)

// echoUpgrade answers a request to switch to the "echo" protocol by
// taking over the connection and sending back each line it reads; other
// requests get a page.
var echoUpgrade = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") != "echo" {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, `<p id="greet">Hi</p>`)
		return
	}
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "cannot hijack: "+err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
	rw.Flush()
	for {
		line, err := rw.ReadString('\n')
		if err != nil {
			return
		}
		rw.WriteString("echo: " + line)
		rw.Flush()
	}
})

// TestUpgradePassesThrough: a request to switch protocols (as a
// WebSocket's handshake is) reaches the upstream, whether an Origin or
// Next, and the connection then carries the new protocol both ways.
func TestUpgradePassesThrough(t *testing.T) {
	backend := httptest.NewServer(echoUpgrade)
	defer backend.Close()
	rulesSrc := []byte("version: 1\nrules:\n  - name: greet\n    actions:\n      - set_inner: { select: \"#greet\", text: \"Hello\" }\n")
	for _, tc := range []struct {
		name string
		cfg  host.Config
	}{
		{"origin", host.Config{Origin: backend.URL}},
		{"next", host.Config{Next: echoUpgrade}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Rules, cfg.Secret, cfg.Logger, cfg.CacheDir = rulesSrc, []byte(secret), quiet, "-"
			h, err := host.New(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close(context.Background())
			srv := httptest.NewServer(h)
			defer srv.Close()

			// The page is still personalized.
			resp, err := http.Get(srv.URL + "/")
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(page), "Hello") {
				t.Fatalf("page not personalized: %s", page)
			}

			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(conn, "GET /socket HTTP/1.1\r\nHost: shop.test\r\nConnection: keep-alive, Upgrade\r\nUpgrade: echo\r\n\r\n")
			br := bufio.NewReader(conn)
			resp, err = http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "echo" {
				t.Fatalf("handshake answered %s, Upgrade %q", resp.Status, resp.Header.Get("Upgrade"))
			}
			for _, msg := range []string{"one\n", "two\n"} {
				io.WriteString(conn, msg)
				got, err := br.ReadString('\n')
				if err != nil {
					t.Fatal(err)
				}
				if got != "echo: "+msg {
					t.Fatalf("got %q after sending %q", got, msg)
				}
			}
		})
	}
}

// TestH2COfferDeclined: an offer of HTTP/2 by Upgrade: h2c (curl --http2
// on an http:// URL) is declined, as bespoke serve declines it: the page
// is personalized and answered in HTTP/1.1, and the upstream sees no
// offer. Next got the request as it came, past the rules, as a protocol
// switch, and wrote the page unpersonalized; an Origin got the offer,
// whose 101 would switch the visitor's connection to it.
func TestH2COfferDeclined(t *testing.T) {
	var seen atomicString
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get("Upgrade") + "|" + r.Header.Get("Http2-Settings") + "|" + r.Header.Get("Connection"))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	})
	origin := httptest.NewServer(app)
	defer origin.Close()
	for _, c := range []struct {
		name string
		cfg  host.Config
	}{
		{"Next", host.Config{Next: app}},
		{"Origin", host.Config{Origin: origin.URL}},
	} {
		for _, connection := range []string{"Upgrade, HTTP2-Settings", "keep-alive, Upgrade, HTTP2-Settings"} {
			t.Run(c.name+", Connection: "+connection, func(t *testing.T) {
				resp, b := getUpgrading(t, c.cfg, map[string]string{"Connection": connection, "Upgrade": "h2c", "HTTP2-Settings": "AAMAAABkAARAAAAAAAIAAAAA"})
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "Thanks for reading") {
					t.Errorf("%s, not personalized: %s", resp.Status, b)
				}
				if got := seen.Load(); strings.Contains(strings.ToLower(got), "h2c") || strings.Contains(strings.ToLower(got), "settings") {
					t.Errorf("the upstream saw the offer: Upgrade|HTTP2-Settings|Connection %q", got)
				}
			})
		}
	}
}

// atomicString is a string read and written from several goroutines.
type atomicString struct {
	mu sync.Mutex
	s  string
}

func (a *atomicString) Store(s string) { a.mu.Lock(); a.s = s; a.mu.Unlock() }
func (a *atomicString) Load() string   { a.mu.Lock(); defer a.mu.Unlock(); return a.s }

// TestUpgradeAnsweredWithAPage: a request to switch protocols that the
// upstream answers with a page instead: an Origin's page is personalized,
// Next's goes out as Next wrote it, past the rules, as ServeHTTP's doc
// says (Next has the request before the rules would run).
func TestUpgradeAnsweredWithAPage(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	})
	origin := httptest.NewServer(app)
	defer origin.Close()
	for _, c := range []struct {
		name     string
		cfg      host.Config
		personal bool
	}{
		{"Origin", host.Config{Origin: origin.URL}, true},
		{"Next", host.Config{Next: app}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, b := getUpgrading(t, c.cfg, map[string]string{"Connection": "Upgrade", "Upgrade": "websocket"})
			if personal := strings.Contains(string(b), "Thanks for reading"); resp.StatusCode != http.StatusOK || personal != c.personal {
				t.Errorf("%s, personalized %v, want 200, %v: %s", resp.Status, personal, c.personal, b)
			}
		})
	}
}

// getUpgrading gets /?ref=newsletter through a handler of cfg with the
// greeting rules, the request carrying headers, and returns the response
// and its body.
func getUpgrading(t *testing.T, cfg host.Config, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	cfg.Rules = []byte(greeting)
	front := httptest.NewServer(newHandler(t, cfg))
	defer front.Close()
	req, _ := http.NewRequest("GET", front.URL+"/?ref=newsletter", nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

// TestUpgradeWithoutTheRulesHeaders: a header the rules set on the
// request (X-Tier) is theirs alone to send the upstream, on a request to
// switch protocols too: a WebSocket opened with X-Tier: gold reached
// Next with it, past the rules.
func TestUpgradeWithoutTheRulesHeaders(t *testing.T) {
	tiers := make(chan string, 2)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tiers <- r.Header.Get("X-Tier") + "|" + r.Header.Get("X_tier")
		if r.Header.Get("Upgrade") == "" {
			io.WriteString(w, "page")
			return
		}
		w.WriteHeader(http.StatusUpgradeRequired)
	})
	h, err := host.New(context.Background(), host.Config{Next: next, Secret: []byte(secret), Logger: quiet, CacheDir: "-",
		Rules: []byte("rules:\n  - name: gold\n    when: cookie(\"plan\") == \"gold\"\n    actions:\n      - set_header: { name: X-Tier, value: gold, on: request }\n")})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, upgrade := range []bool{false, true} {
		req, _ := http.NewRequest("GET", srv.URL+"/live", nil)
		req.Header.Set("X-Tier", "gold")
		req.Header.Set("X_Tier", "gold")
		if upgrade {
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", "websocket")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := <-tiers; got != "|" {
			t.Errorf("upgrade %v: Next got X-Tier|X_Tier %q, want none", upgrade, got)
		}
	}
}
