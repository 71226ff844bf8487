package server_test

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestConfigReloadClosesGeoIPAfterItsRequests: with shutdown_grace: 0,
// a configuration replaced is closed under the requests still running on
// it (200 reloads under load, the rules reading the visitor's country from
// a GeoIP database): its database is closed once the lookups in progress
// end, and every request is answered. It was closed under them, its
// memory unmapped as they read it (the race detector's report; without
// it, a crash of the process).
func TestConfigReloadClosesGeoIPAfterItsRequests(t *testing.T) {
	db, err := filepath.Abs("../../../testdata/geoip/test-city.mmdb")
	if err != nil {
		t.Fatal(err)
	}
	o := markedOrigin(t, "A")
	conf := func(i int) string {
		return fmt.Sprintf("# version %d\nshutdown_grace: 0s\ngeo: { geoip: %q, trusted_proxies: \"127.0.0.1/32\" }\nroutes:\n  - { name: shop, origin: %q, rules: fr.yaml }\n", i, db, o.URL)
	}
	rules := "rules:\n  - name: fr\n    when: geo.country == \"FR\"\n    actions:\n      - set_inner: { select: \"#t\", text: Bonjour }\n"
	ls := startLive(t, conf(0), map[string]string{"fr.yaml": rules})
	var failed, served, untouched atomic.Int64
	var first atomic.Value
	stop := underLoad(6, func(client *http.Client) {
		req, _ := http.NewRequest("GET", ls.url+"/", nil)
		req.Header.Set("X-Forwarded-For", "203.0.113.5")
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("%s: %s", resp.Status, body)
			} else if !strings.Contains(string(body), "Bonjour") {
				// A request whose configuration closed before
				// it decided is served as the origin sent it.
				untouched.Add(1)
			}
		}
		if err != nil {
			failed.Add(1)
			first.CompareAndSwap(nil, err.Error())
			return
		}
		served.Add(1)
	})
	for i := 1; i <= 200; i++ {
		ls.write(t, conf(i))
		if res := ls.reload(t); res.Error != "" {
			t.Fatalf("reload %d: %s", i, res.Error)
		}
	}
	stop()
	t.Logf("%d requests served across 200 reloads, %d of them untouched", served.Load(), untouched.Load())
	if failed.Load() > 0 {
		t.Errorf("%d requests failed; the first: %v", failed.Load(), first.Load())
	}
}

// geoIPWatchers is how many goroutines watch a GeoIP database file.
func geoIPWatchers(t *testing.T) int {
	t.Helper()
	var b strings.Builder
	if err := pprof.Lookup("goroutine").WriteTo(&b, 2); err != nil {
		t.Fatal(err)
	}
	return strings.Count(b.String(), "server.(*geoIP).watch(")
}

// TestConfigReloadEndsTheGeoIPWatch: a configuration with a GeoIP
// database, watched, reloaded 20 times: once the configurations replaced
// are closed, one watch of the file is left, the serving one's. Each
// replaced configuration's watch ran on for the life of the process,
// looking at the file every watch interval and, once geoipupdate had
// replaced it, opening and mapping the new file into the closed database
// at every look.
func TestConfigReloadEndsTheGeoIPWatch(t *testing.T) {
	db, err := filepath.Abs("../../../testdata/geoip/test-city.mmdb")
	if err != nil {
		t.Fatal(err)
	}
	o := markedOrigin(t, "A")
	conf := func(i int) string {
		return fmt.Sprintf("# version %d\ngeo: { geoip: %q }\nroutes:\n  - { name: shop, origin: %q }\n", i, db, o.URL)
	}
	// A watch interval no look of this test reaches: the watches wait.
	ls := startLiveHead(t, "watch: 1h\n", conf(0), nil)
	// The watch's goroutine shows in it once it runs.
	before := 0
	for range 5000 {
		if before = geoIPWatchers(t); before > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if before == 0 {
		t.Fatal("the configuration serving does not watch its GeoIP database")
	}
	for i := 1; i <= 20; i++ {
		ls.write(t, conf(i))
		if res := ls.reload(t); res.Error != "" {
			t.Fatalf("reload %d: %s", i, res.Error)
		}
	}
	ls.live.WaitReplaced()
	if after := geoIPWatchers(t); after > before {
		t.Errorf("20 configurations replaced and closed left %d watches of the GeoIP file, %d before", after, before)
	}
}
