package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// configMap is a configuration file as Kubernetes mounts a ConfigMap:
// bespoke.yaml a link to ..data/bespoke.yaml, ..data a link to a
// directory of one version, swapped by a rename.
type configMap struct {
	dir string
	n   int
}

func (c *configMap) write(t *testing.T, src string) {
	t.Helper()
	c.n++
	v := fmt.Sprintf("..v%d", c.n)
	if err := os.Mkdir(filepath.Join(c.dir, v), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.dir, v, "bespoke.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(c.dir, "..data_tmp")
	if err := os.Symlink(v, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if c.n > 1 {
		os.RemoveAll(filepath.Join(c.dir, fmt.Sprintf("..v%d", c.n-1)))
	} else if err := os.Symlink("..data/bespoke.yaml", filepath.Join(c.dir, "bespoke.yaml")); err != nil {
		t.Fatal(err)
	}
}

// TestReloadStorm: bespoke serve --config with its file mounted as a
// ConfigMap is sent 60 SIGHUPs and 40 POST /_bespoke/reload while the
// file is swapped 30 times (its origin and route's name changing) and
// the file watch looks every 50 ms, with clients asking for pages: no
// request fails, the last file is the one that serves, the metrics
// gather, and a SIGHUP right after SIGTERM does not keep the process
// from draining and exiting 0.
func TestReloadStorm(t *testing.T) {
	a, b, c := namedOrigin(t, "A"), namedOrigin(t, "B"), namedOrigin(t, "C")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(helloRules), 0o644); err != nil {
		t.Fatal(err)
	}
	cm := &configMap{dir: dir}
	conf := func(origin string) string {
		name := "shop"
		if origin == b.URL {
			name = "store"
		}
		return "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\ncache_dir: \"-\"\nlog: { access: false }\nseen: { store: cookie }\n" +
			"routes:\n  - { name: " + name + ", origin: \"" + origin + "\", rules: " + filepath.Join(dir, "rules.yaml") + " }\n"
	}
	cm.write(t, conf(a.URL))
	cs := startConfig(t, filepath.Join(dir, "bespoke.yaml"), "--watch", "50ms")
	var wg sync.WaitGroup
	var failed, served atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := http.Get(cs.url + "/")
				if err == nil {
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || !strings.Contains(string(body), "Bonjour") {
						err = fmt.Errorf("%s: %s", resp.Status, body)
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				served.Add(1)
			}
		}()
	}
	var storm sync.WaitGroup
	storm.Add(2)
	go func() {
		defer storm.Done()
		for range 60 {
			cs.cmd.Process.Signal(syscall.SIGHUP)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	go func() {
		defer storm.Done()
		for range 40 {
			if resp, err := http.Post(cs.admin+"/_bespoke/reload", "", nil); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}()
	for i := range 30 {
		if i%2 == 0 {
			cm.write(t, conf(b.URL))
		} else {
			cm.write(t, conf(a.URL))
		}
		time.Sleep(20 * time.Millisecond)
	}
	storm.Wait()
	cm.write(t, conf(c.URL))
	waitFor(t, 20*time.Second, "the last configuration", func() bool {
		return strings.Contains(cs.get(t, "/"), `<p id="o">C</p>`)
	})
	close(stop)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d requests failed across the reloads; the first: %v", n, n+served.Load(), firstErr.Load())
	}
	resp, err := http.Get(cs.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /metrics after the reloads: %s", resp.Status)
	}
	m := cs.scrape(t)
	t.Logf("%d requests served; configuration generation %v, %v reloads rejected", served.Load(), sample(m, "bespoke_config_generation"), sample(m, `bespoke_config_reloads_total{result="error"}`))
	if sample(m, `bespoke_requests_total{outcome="personalized",route="shop"}`) < 0 {
		t.Errorf("the route serving, shop, has no series:\n%s", grepLines(m, "bespoke_requests_total"))
	}
	// The route the last configuration dropped leaves once the
	// configuration replaced is closed.
	waitFor(t, 20*time.Second, "the route dropped to leave the metrics", func() bool {
		return !strings.Contains(cs.scrape(t), `route="store"`)
	})

	cs.cmd.Process.Signal(syscall.SIGTERM)
	cs.cmd.Process.Signal(syscall.SIGHUP)
	if err := cs.cmd.Wait(); err != nil {
		t.Errorf("bespoke serve, sent SIGTERM then SIGHUP, exited with %v:\n%s", err, cs.stderr)
	}
	if s := grepLines(cs.stderr.String(), "panic"); s != "" {
		t.Errorf("panics:\n%s", s)
	}
}
