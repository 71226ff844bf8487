package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// redisClients is how many clients the redis-server on addr has
// connected, the one asking aside.
func redisClients(t *testing.T, addr string) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "INFO clients\r\n")
	r := bufio.NewReader(c)
	head, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var n int
	fmt.Sscanf(head, "$%d", &n)
	b := make([]byte, n+2)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_clients:"); ok {
			var k int
			fmt.Sscan(v, &k)
			return k - 1
		}
	}
	t.Fatalf("no connected_clients in %q", b)
	return 0
}

func openFDs(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(es)
}

// TestReloadStormLeaksNothing: 60 configurations loaded one after the
// other, the seen store going from cookies to Redis and back, the
// routes renamed, limits.held_bytes changed, while clients ask for
// pages: once the configurations replaced are closed, the process holds
// as many goroutines, file descriptors and Redis connections as after
// the first few, and the metrics gather.
func TestReloadStormLeaksNothing(t *testing.T) {
	redis, _ := redisServer(t, "")
	o := markedOrigin(t, "A")
	conf := func(i int) string {
		seen := `{ store: cookie }`
		if i%3 == 1 {
			seen = `{ store: redis, redis: "redis://` + redis + `/0" }`
		}
		routes := fmt.Sprintf("  - { name: r%d, origin: %q, rules: a.yaml }\n", i%4, o.URL)
		if i%2 == 0 {
			routes += fmt.Sprintf("  - { name: s%d, path: /s/, origin: %q, rules: a.yaml }\n", i%5, o.URL)
		}
		return fmt.Sprintf("watch: 0\ncache_dir: \"-\"\nlog: { access: false }\nseen: %s\nlimits: { held_bytes: %dMiB }\nroutes:\n%s", seen, 8+i%3, routes)
	}
	ls := startLiveHead(t, "watch: 0\n", fmt.Sprintf("routes:\n  - { name: first, origin: %q }\n", o.URL), map[string]string{"a.yaml": markRules("x")})
	get := func(path string) func(*http.Client) {
		return func(client *http.Client) {
			if resp, err := client.Get(ls.url + path); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}
	stop := underLoad(2, get("/"))
	load := func(i int) {
		t.Helper()
		if err := os.WriteFile(ls.file, []byte(conf(i)), 0o644); err != nil {
			t.Fatal(err)
		}
		if res := ls.reload(t); res.Error != "" {
			t.Fatalf("configuration %d: %s", i, res.Error)
		}
	}
	// settle samples the counts until they are within bound of the
	// first ones: the configurations replaced close in the background
	// once their last request ended, and their goroutines end after.
	settle := func(bound func(g, fds, rc int) bool) (g, fds, rc int) {
		for range 200 {
			g, fds, rc = runtime.NumGoroutine(), openFDs(t), redisClients(t, redis)
			if _, err := ls.live.Server().Metrics.Registry.Gather(); err != nil {
				t.Fatalf("gathering the metrics: %v", err)
			}
			if bound(g, fds, rc) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		return
	}
	for i := range 6 {
		load(i)
	}
	stop()
	// The first sample taken once no reload runs: the same counts 5
	// times in a row.
	var g0, fd0, rc0, same int
	settle(func(g, fds, rc int) bool {
		if g == g0 && fds == fd0 && rc == rc0 {
			same++
		} else {
			g0, fd0, rc0, same = g, fds, rc, 0
		}
		return same == 5
	})
	stop = underLoad(2, get("/s/"))
	for i := 6; i < 66; i++ {
		load(i)
	}
	stop()
	within := func(g, fds, rc int) bool { return g <= g0+20 && fds <= fd0+10 && rc <= rc0+4 }
	g1, fd1, rc1 := settle(within)
	t.Logf("after 6 configurations: %d goroutines, %d fds, %d redis clients; after 66: %d, %d, %d", g0, fd0, rc0, g1, fd1, rc1)
	if !within(g1, fd1, rc1) {
		t.Errorf("60 configurations later, %d goroutines (%d before), %d file descriptors (%d), %d Redis connections (%d)", g1, g0, fd1, fd0, rc1, rc0)
	}
}
