package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/server"
)

// geoSite serves rules greeting a visitor at 203.0.113.5 by the
// country a GeoIP database at db places them in, watching files every
// watch.
func geoSite(t *testing.T, watch, db string) *liveSite {
	o := markedOrigin(t, "A")
	conf := fmt.Sprintf("geo: { geoip: %q, trusted_proxies: \"127.0.0.1/32\" }\nroutes:\n  - { name: shop, origin: %q, rules: greet.yaml }\n", db, o.URL)
	rules := `rules:
  - name: fr
    when: geo.country == "FR"
    actions:
      - set_inner: { select: "#t", text: Bonjour }
  - name: de
    when: geo.country == "DE"
    actions:
      - set_inner: { select: "#t", text: Hallo }
`
	return startLiveHead(t, "watch: "+watch+"\n", conf, map[string]string{"greet.yaml": rules})
}

// greeting asks for the page as a visitor at 203.0.113.5 and returns
// the greeting ("Hello" when no rule chose one).
func greeting(client *http.Client, url string) (string, error) {
	req, _ := http.NewRequest("GET", url+"/", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.5")
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", resp.Status, body)
	}
	_, after, ok := strings.Cut(string(body), `<h1 id="t">`)
	greet, _, _ := strings.Cut(after, "<")
	if !ok {
		return "", fmt.Errorf("no greeting in %q", body)
	}
	return greet, nil
}

// renameOver writes b to path as geoipupdate does: a new file renamed
// over the old one.
func renameOver(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path+".new", b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

// TestGeoIPFileWatched: a GeoIP database updated while bespoke serves
// (renamed over, as geoipupdate does, or written in place, as cp and
// tar do) is loaded by the file watch, under load, without a request
// failing: it was read at start only, and a file written in place
// crashed the process with SIGBUS. A file that does not load (truncated
// and left so) leaves lookups finding nothing, is logged once and
// counted, and the next good file loads.
func TestGeoIPFileWatched(t *testing.T) {
	db := filepath.Join(t.TempDir(), "city.mmdb")
	renameOver(t, db, server.CityDB(t, "FR"))
	ls := geoSite(t, "50ms", db)
	var failed atomic.Int64
	var firstErr atomic.Value
	var greet atomic.Value
	stop := underLoad(4, func(client *http.Client) {
		g, err := greeting(client, ls.url)
		if err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
			return
		}
		greet.Store(g)
	})
	stop = sync.OnceFunc(stop)
	defer stop()
	waitGreeting := func(want, after string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if g, _ := greet.Load().(string); g == want {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		g, _ := greet.Load().(string)
		t.Fatalf("%s: visitors are greeted %q, want %q", after, g, want)
	}
	// waitLoaded waits for the watch to have loaded n files: a file
	// written in place with the same layout is read through the old
	// mapping before the watch looks at it, so the greeting alone does
	// not say the file was loaded.
	waitLoaded := func(n float64, after string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			ok, _ := counterValue(t, ls.live, "bespoke_geoip_reloads_total", map[string]string{"result": "ok"})
			if ok >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: bespoke_geoip_reloads_total{result=ok} = %v, want %v", after, ok, n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitGreeting("Bonjour", "start")

	renameOver(t, db, server.CityDB(t, "DE"))
	waitGreeting("Hallo", "the file renamed over")
	waitLoaded(1, "the file renamed over")

	if err := os.WriteFile(db, server.CityDB(t, "FR"), 0o644); err != nil { // truncated, then written
		t.Fatal(err)
	}
	waitGreeting("Bonjour", "the file written in place")
	waitLoaded(2, "the file written in place")

	if err := os.Truncate(db, 0); err != nil {
		t.Fatal(err)
	}
	waitGreeting("Hello", "the file truncated")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(ls.log.String(), "GeoIP database not loaded") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // six more looks at the same bad file
	if n := strings.Count(ls.log.String(), "GeoIP database not loaded"); n != 1 {
		t.Errorf("the truncated file was logged %d times, want once:\n%s", n, ls.log)
	}

	renameOver(t, db, server.CityDB(t, "DE"))
	waitGreeting("Hallo", "a good file after the bad one")
	waitLoaded(3, "a good file after the bad one")
	stop()
	if failed.Load() > 0 {
		t.Errorf("%d requests failed; the first: %v", failed.Load(), firstErr.Load())
	}
	if bad, _ := counterValue(t, ls.live, "bespoke_geoip_reloads_total", map[string]string{"result": "error"}); bad < 1 {
		t.Errorf("bespoke_geoip_reloads_total{result=error} = %v, want 1 or more", bad)
	}
	if built, _ := counterValue(t, ls.live, "bespoke_geoip_build_timestamp_seconds", nil); built < float64(time.Now().Add(-time.Hour).Unix()) {
		t.Errorf("bespoke_geoip_build_timestamp_seconds = %v, want the database's build time, now", built)
	}
}

// TestGeoIPFileReloaded: with the watch off, a reload (SIGHUP, POST
// /_bespoke/reload) loads the GeoIP database again when its file
// changed, though the configuration did not.
func TestGeoIPFileReloaded(t *testing.T) {
	db := filepath.Join(t.TempDir(), "city.mmdb")
	renameOver(t, db, server.CityDB(t, "FR"))
	ls := geoSite(t, "0s", db)
	client := &http.Client{Timeout: 10 * time.Second}
	if g, err := greeting(client, ls.url); err != nil || g != "Bonjour" {
		t.Fatalf("start: %q, %v", g, err)
	}
	renameOver(t, db, server.CityDB(t, "DE"))
	if g, err := greeting(client, ls.url); err != nil || g != "Bonjour" {
		t.Fatalf("before the reload: %q, %v; want the file loaded, FR", g, err)
	}
	if _, err := ls.live.Reload(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	if g, err := greeting(client, ls.url); err != nil || g != "Hallo" {
		t.Fatalf("after the reload: %q, %v; want DE", g, err)
	}
	if !strings.Contains(ls.log.String(), `msg="GeoIP database loaded"`) || !strings.Contains(ls.log.String(), "by=reload") {
		t.Errorf("the reload of the database is not logged:\n%s", ls.log)
	}
}
