package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/demo"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/host/internal/seen/rediscluster"
	"github.com/bespoke-edge/bespoke/internal/testproc"
	"github.com/redis/go-redis/v9"
)

// keyPrefix is the Redis store's default key prefix.
const keyPrefix = "bespoke:"

// clusterSite is the demo origin and its rules, served by two `bespoke
// serve` processes sharing the secret (serveBinary's BESPOKE_SECRET) and
// a Redis Cluster.
type clusterSite struct {
	cluster *rediscluster.Cluster
	proxies [2]*served
	page    []string // the shop page's cards, in the origin's order
}

func startClusterSite(t *testing.T) *clusterSite {
	t.Helper()
	cl := rediscluster.Start(t)
	origin := httptest.NewServer(demo.Handler())
	t.Cleanup(origin.Close)
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rules, demo.Rules(), 0o644); err != nil {
		t.Fatal(err)
	}
	cs := &clusterSite{cluster: cl}
	for i := range cs.proxies {
		// A loaded test machine can take longer than the production 20 ms
		// to answer a read; the failover test is about what happens when
		// a primary is gone, not how fast Redis is.
		cs.proxies[i] = serveBinary(t, "--origin", origin.URL, "--rules", rules,
			"--seen-store", "redis", "--redis", cl.Seeds(), "--seen-timeout", "100ms")
	}
	resp, err := http.Get(origin.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cs.page = demoCards(string(body))
	if len(cs.page) < 36 {
		t.Fatalf("the demo page has %d cards", len(cs.page))
	}
	return cs
}

// startNginx starts nginx balancing round-robin over upstreams, and
// returns its address. Each response says which upstream served it
// (X-Upstream).
func startNginx(t *testing.T, upstreams ...string) string {
	t.Helper()
	var servers strings.Builder
	for _, u := range upstreams {
		fmt.Fprintf(&servers, "    server %s;\n", u)
	}
	return testproc.Nginx(t, "the test of two proxies behind a balancer", func(addr string) string {
		return fmt.Sprintf(`  upstream bespoke {
%s    keepalive 8;
  }
  server {
    listen %s;
    location / {
      proxy_pass http://bespoke;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_buffering off;
      add_header X-Upstream $upstream_addr always;
    }
  }`, servers.String(), addr)
	})
}

// A visitor alternating between two `bespoke serve` processes behind
// nginx round-robin keeps one visitor id, one experiment variant, one
// seen-set and one cap count: the demo's walkthrough (12 cards not shown
// yet per visit, the invitation capped at two page views a day) holds as
// with one process, and the state lives in the Redis Cluster, not in
// cookies.
func TestTwoProxiesOneVisitor(t *testing.T) {
	cs := startClusterSite(t)
	lb := startNginx(t, cs.proxies[0].addr, cs.proxies[1].addr)
	page := cs.page
	rdb := cs.cluster.Client()
	ctx := context.Background()

	for v := range 3 {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
		var ids, variants, upstreams []string
		states := []string{""} // the seen-state before each visit
		stateOf := func(id string) string {
			v, _ := rdb.Get(ctx, keyPrefix+"{"+id+"}:seen").Result()
			return v
		}
		invites, invited := 0, false
		capsBefore := "" // the cap counts before the last visit
		for visit, want := range [][]string{page[:12], page[12:24], page[24:36], page[:12]} {
			if visit > 0 {
				// Saves are written after the response, in the background
				// (a millisecond or so here, seconds on a machine busy
				// with other tests); a person's next page view comes
				// seconds later. Wait until this one's are there: the
				// seen-state, and the cap counts when the invitation
				// showed (two writes, which may land in either order).
				id, before := ids[0], states[visit-1]
				waitFor(t, 20*time.Second, "the visit's seen-state to reach Redis", func() bool {
					now, err := rdb.Get(ctx, keyPrefix+"{"+id+"}:seen").Result()
					return err == nil && now != before
				})
				if invited {
					waitFor(t, 20*time.Second, "the visit's cap counts to reach Redis", func() bool {
						now, err := rdb.Get(ctx, keyPrefix+"{"+id+"}:caps").Result()
						return err == nil && now != capsBefore
					})
				}
				states = append(states, stateOf(ids[0]))
				capsBefore, _ = rdb.Get(ctx, keyPrefix+"{"+id+"}:caps").Result()
			}
			req, _ := http.NewRequest("GET", "http://"+lb+"/", nil)
			req.Header.Set("Sec-Fetch-Dest", "document")
			req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("visitor %d, visit %d: %s", v, visit+1, resp.Status)
			}
			upstreams = append(upstreams, resp.Header.Get("X-Upstream"))
			for _, ck := range resp.Cookies() {
				if ck.Name == "bsk_caps" || strings.HasPrefix(ck.Name, "bsk_seen") {
					t.Errorf("visitor %d, visit %d: cookie %s set; the state belongs in Redis", v, visit+1, ck.Name)
				}
			}
			u, _ := url.Parse("http://" + lb + "/")
			for _, ck := range jar.Cookies(u) {
				if ck.Name == reqctx.VisitorCookie {
					ids = append(ids, ck.Value)
				}
			}
			variants = append(variants, resp.Header.Get("X-Bespoke-Experiments"))
			if got := demoCards(string(body)); !slices.Equal(got, want) {
				t.Fatalf("visitor %d, visit %d (through %s) shows %q,\nwant %q", v, visit+1, upstreams[visit], got, want)
			}
			invited = strings.Contains(string(body), `id="newsletter-invite"`)
			if invited {
				invites++
			}
		}
		if upstreams[0] == upstreams[1] || upstreams[0] != upstreams[2] || upstreams[1] != upstreams[3] {
			t.Errorf("visitor %d: served by %q; want the two proxies in turn", v, upstreams)
		}
		if len(ids) != 4 || slices.Compact(slices.Clone(ids))[0] != ids[3] || len(slices.Compact(slices.Clone(ids))) != 1 {
			t.Errorf("visitor %d: visitor ids %q; want one", v, ids)
		}
		if variants[0] == "" || len(slices.Compact(slices.Clone(variants))) != 1 {
			t.Errorf("visitor %d: experiment variants %q; want one", v, variants)
		}
		if invites != 2 {
			t.Errorf("visitor %d: the invitation capped at 2 a day showed on %d of 4 page views", v, invites)
		}
		id := ids[0]
		for _, key := range []string{keyPrefix + "{" + id + "}:seen", keyPrefix + "{" + id + "}:caps"} {
			if n, err := rdb.Exists(ctx, key).Result(); err != nil || n != 1 {
				t.Errorf("visitor %d: %s not in the cluster (%d, %v)", v, key, n, err)
			}
		}
		t.Logf("visitor %d: id %s, variant %q, upstreams %q, invitation on %d of 4 views", v, id, variants[0], upstreams, invites)
	}
}

// probe asks proxy for the shop page as a prefetch, for visitor id: a
// prefetch reads the seen-state (hide_seen applies) but records nothing,
// so it shows whether the state could be read without changing it.
func probe(c *http.Client, proxy, id string) (status int, cards []string, err error) {
	req, _ := http.NewRequest("GET", proxy+"/", nil)
	req.Header.Set("Sec-Purpose", "prefetch")
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36")
	req.AddCookie(&http.Cookie{Name: reqctx.VisitorCookie, Value: id})
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, demoCards(string(body)), err
}

// view is a page view of visitor id through proxy.
func view(c *http.Client, proxy, id string) (int, []string, error) {
	req, _ := http.NewRequest("GET", proxy+"/", nil)
	req.Header.Set("Sec-Fetch-Dest", "document")
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36")
	req.AddCookie(&http.Cookie{Name: reqctx.VisitorCookie, Value: id})
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, demoCards(string(body)), err
}

// A primary of the Redis Cluster stops mid-load (killed, as in a crash).
// Requests keep being served through both proxies with no error; the
// visitors whose slots it held get pages unfiltered by what they saw
// (fail-open) until a replica is promoted, and then filtered again from
// the state the replica holds. The figures (requests, errors, requests
// served unfiltered, time until the replica served) are logged.
func TestClusterFailoverUnderLoad(t *testing.T) {
	cs := startClusterSite(t)
	cl, page := cs.cluster, cs.page
	ctx := context.Background()
	proxies := []string{cs.proxies[0].url, cs.proxies[1].url}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()

	// Visitors by the primary their keys live on; the victim is the
	// primary of the first one.
	slotOf := func(id string) int {
		s, err := cl.Slot(ctx, keyPrefix+"{"+id+"}:seen")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	var victimProbes, otherProbes, loadVisitors []string
	victimSlot := -1
	var victim *rediscluster.Node
	for len(victimProbes) < 4 || len(otherProbes) < 4 {
		id := reqctx.NewVisitorID()
		slot := slotOf(id)
		p, err := cl.Primary(ctx, slot)
		if err != nil {
			t.Fatal(err)
		}
		if victim == nil {
			victim, victimSlot = p, slot
		}
		switch {
		case p == victim && len(victimProbes) < 4:
			victimProbes = append(victimProbes, id)
		case p != victim && len(otherProbes) < 4:
			otherProbes = append(otherProbes, id)
		}
	}
	for range 40 {
		loadVisitors = append(loadVisitors, reqctx.NewVisitorID())
	}
	// Each probe visitor has seen the first 12 cards, and the victim's
	// replica holds that before the primary goes.
	for i, id := range slices.Concat(victimProbes, otherProbes) {
		if st, cards, err := view(client, proxies[i%2], id); err != nil || st != 200 || !slices.Equal(cards, page[:12]) {
			t.Fatalf("first view of %s: %d %v %q", id, st, err, cards)
		}
	}
	replica, err := cl.Replica(ctx, victimSlot)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(&redis.Options{Addr: replica.Addr, OnConnect: func(ctx context.Context, cn *redis.Conn) error {
		return cn.ReadOnly(ctx).Err()
	}})
	defer rc.Close()
	waitFor(t, 30*time.Second, "the victim's replica to hold the probe visitors' states", func() bool {
		for _, id := range victimProbes {
			if n, err := rc.Exists(ctx, keyPrefix+"{"+id+"}:seen").Result(); err != nil || n != 1 {
				return false
			}
		}
		return true
	})
	for _, id := range slices.Concat(victimProbes, otherProbes) {
		if st, cards, err := probe(client, proxies[0], id); err != nil || st != 200 || !slices.Equal(cards, page[12:24]) {
			t.Fatalf("probe of %s before the failover: %d %v %q", id, st, err, cards)
		}
	}

	// The load: 4 workers, each request 2 ms after the previous one ends,
	// 70% page views of random visitors, 30% probes, alternating proxies.
	type result struct {
		at       time.Duration
		probe    bool
		victim   bool
		err      string
		filtered bool
	}
	var (
		mu      sync.Mutex
		results []result
		stop    atomic.Bool
		n       atomic.Int64
		wg      sync.WaitGroup
	)
	const maxRequests = 20000
	start := time.Now()
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for !stop.Load() && n.Add(1) <= maxRequests {
				proxy := proxies[r.IntN(2)]
				var res result
				var st int
				var cards []string
				var err error
				if r.IntN(10) < 3 {
					res.probe = true
					i := r.IntN(len(victimProbes) + len(otherProbes))
					var id string
					if i < len(victimProbes) {
						id, res.victim = victimProbes[i], true
					} else {
						id = otherProbes[i-len(victimProbes)]
					}
					st, cards, err = probe(client, proxy, id)
					res.filtered = slices.Equal(cards, page[12:24])
				} else {
					st, cards, err = view(client, proxy, loadVisitors[r.IntN(len(loadVisitors))])
				}
				res.at = time.Since(start)
				switch {
				case err != nil:
					res.err = err.Error()
				case st != 200:
					res.err = fmt.Sprintf("status %d", st)
				case len(cards) != 12:
					res.err = fmt.Sprintf("%d cards", len(cards))
				}
				mu.Lock()
				results = append(results, res)
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}

	time.Sleep(time.Second)
	killedAt := time.Since(start)
	victim.Stop()
	promoteCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	err = cl.WaitHealthy(promoteCtx)
	cancel()
	promotedAt := time.Since(start)
	if err != nil {
		stop.Store(true)
		wg.Wait()
		t.Fatal(err)
	}
	// Load goes on until every victim probe is filtered again, in a row.
	recovered := false
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && !stop.Load(); {
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		ok, streak := false, 0
		for _, r := range slices.Backward(results) {
			if !r.probe || !r.victim {
				continue
			}
			if !r.filtered {
				break
			}
			if streak++; streak >= 3*len(victimProbes) {
				ok = true
				break
			}
		}
		mu.Unlock()
		if ok {
			recovered = true
			break
		}
	}
	time.Sleep(500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	total := time.Since(start)

	var errs []string
	var probes, victimUnfiltered, otherUnfiltered int
	var lastUnfiltered, firstUnfiltered time.Duration = -1, -1
	for _, r := range results {
		if r.err != "" {
			errs = append(errs, r.err)
		}
		if !r.probe {
			continue
		}
		probes++
		if !r.filtered && r.err == "" {
			if r.victim {
				victimUnfiltered++
				if firstUnfiltered < 0 {
					firstUnfiltered = r.at
				}
				lastUnfiltered = r.at
			} else {
				otherUnfiltered++
			}
		}
	}
	sort.Strings(errs)
	t.Logf("failover: %d requests in %v (%d probes) through 2 proxies; %d errors; primary %s killed at %v, cluster healthy again %v later",
		len(results), total.Round(time.Millisecond), probes, len(errs), victim.Addr, killedAt.Round(time.Millisecond), (promotedAt - killedAt).Round(time.Millisecond))
	if victimUnfiltered > 0 {
		t.Logf("failover: %d probes of the lost primary's visitors served unfiltered (fail-open), from %v to %v after the kill: seen-filtering back %v after the kill",
			victimUnfiltered, (firstUnfiltered - killedAt).Round(time.Millisecond), (lastUnfiltered - killedAt).Round(time.Millisecond), (lastUnfiltered - killedAt).Round(time.Millisecond))
	} else {
		t.Logf("failover: no probe of the lost primary's visitors was served unfiltered")
	}
	t.Logf("failover: %d probes of the other primaries' visitors served unfiltered", otherUnfiltered)
	if len(errs) > 0 {
		t.Errorf("%d of %d requests failed during the failover; first: %q", len(errs), len(results), errs[:min(len(errs), 5)])
	}
	if !recovered {
		t.Errorf("seen-filtering of the lost primary's visitors did not resume within 15 s of the promotion")
	}
	// Every probe visitor's state survived: the replica had it.
	for _, id := range slices.Concat(victimProbes, otherProbes) {
		if st, cards, err := probe(client, proxies[1], id); err != nil || st != 200 || !slices.Equal(cards, page[12:24]) {
			t.Errorf("probe of %s after the failover: %d %v %q", id, st, err, cards)
		}
	}
}

// waitFor polls cond every 20 ms, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
