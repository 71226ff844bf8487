package seen

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/caps"
	"github.com/bespoke-edge/bespoke/host/internal/seen/rediscluster"
	"github.com/bespoke-edge/bespoke/internal/syncbuf"
	"github.com/redis/go-redis/v9"
)

// On a real 3-primary / 3-replica Redis Cluster: each visitor's seen-state
// and caps counts share one slot (so one MGET reads both, which a Cluster
// refuses across slots), visitors spread over the three primaries, and a
// second store (another proxy) given other seeds reads what the first
// wrote.
func TestRedisClusterStore(t *testing.T) {
	cl := rediscluster.Start(t)
	ctx := context.Background()
	clk := newClock()
	st := newRedisStore(t, RedisConfig{URL: cl.Seeds(), Params: Params{Now: clk.Now}})
	if st.Mode() != RedisCluster {
		t.Fatalf("mode %s for %s", st.Mode(), cl.Seeds())
	}
	cs, _ := caps.NewShared(st, clk.Now, 0)
	const visitors = 60
	for i := range visitors {
		id := fmt.Sprintf("visitor-%02d", i)
		set, info, b, err := st.LoadWithCaps(ctx, nil, id)
		if err != nil || info.Failed() {
			t.Fatalf("%s: load %+v, %v", id, info, err)
		}
		counts := cs.FromShared(b, err)
		counts.Hit("1d:invite", day)
		set.Shown("sku-" + id)
		if err := st.Save(ctx, nil, id, set, false); err != nil {
			t.Fatal(err)
		}
		if err := counts.Save(id, day, false); err != nil {
			t.Fatal(err)
		}
	}
	if !st.Flush(5 * time.Second) {
		t.Fatal("saves not written")
	}
	if st.Saves.Load() != 2*visitors || st.SaveErrors.Load() != 0 {
		t.Fatalf("%d writes, %d failed; want %d, 0", st.Saves.Load(), st.SaveErrors.Load(), 2*visitors)
	}

	primaries := map[string]int{}
	for i := range visitors {
		id := fmt.Sprintf("visitor-%02d", i)
		s1, err1 := cl.Slot(ctx, st.SeenKey(id))
		s2, err2 := cl.Slot(ctx, st.CapsKey(id))
		if err1 != nil || err2 != nil || s1 != s2 {
			t.Fatalf("%s: slots %d (%v) and %d (%v) differ", id, s1, err1, s2, err2)
		}
		p, err := cl.Primary(ctx, s1)
		if err != nil {
			t.Fatal(err)
		}
		primaries[p.Addr]++
	}
	if len(primaries) != 3 {
		t.Errorf("%d visitors landed on %d primaries, want all 3: %v", visitors, len(primaries), primaries)
	}

	// Another proxy, knowing the cluster by one seed only.
	other := newRedisStore(t, RedisConfig{URL: "redis+cluster://" + cl.Nodes[5].Addr, Prefix: st.prefix, Params: Params{Now: clk.Now}})
	ocs, _ := caps.NewShared(other, clk.Now, 0)
	for i := range visitors {
		id := fmt.Sprintf("visitor-%02d", i)
		set, info, b, err := other.LoadWithCaps(ctx, nil, id)
		if info.Source != SourceRedis || !set.Seen("sku-"+id) || set.Seen("sku-other") || ocs.FromShared(b, err).Count("1d:invite", day) != 1 {
			t.Fatalf("%s through another seed: %+v, caps %q %v", id, info, b, err)
		}
	}
	t.Logf("%d visitors over the primaries %v; %d loads, %d writes", visitors, primaries, st.Loads.Load()+other.Loads.Load(), st.Saves.Load())
}

// TestRedisClusterRefusalLogged: a Cluster whose nodes refuse the
// store's keys (an ACL for another prefix) fails every load; that is
// logged, once a minute at most, with Redis's reply. A Cluster is never
// taken for lost as a whole, and these failures were counted but never
// logged: nothing said why no visitor was filtered.
func TestRedisClusterRefusalLogged(t *testing.T) {
	cl := rediscluster.Start(t)
	ctx := context.Background()
	for _, n := range cl.Nodes {
		c := redis.NewClient(&redis.Options{Addr: n.Addr})
		err := c.Do(ctx, "ACL", "SETUSER", "bsk", "on", ">pw", "~other:*", "+@all").Err()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	var buf syncbuf.Buffer
	st := newRedisStore(t, RedisConfig{URL: "redis+cluster://bsk:pw@" + cl.Nodes[0].Addr, Timeout: 5 * time.Second,
		Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	const loads = 20
	for i := range loads {
		if _, info := st.Load(ctx, nil, fmt.Sprint("v", i)); !info.Failed() {
			t.Fatalf("load %d: %+v", i, info)
		}
	}
	if st.Errors.Load() != loads {
		t.Errorf("%d load errors, want %d", st.Errors.Load(), loads)
	}
	log := buf.String()
	if n := strings.Count(log, "\n"); n != 1 || !strings.Contains(log, "NOPERM") || !strings.Contains(log, `"level":"WARN"`) {
		t.Errorf("%d lines logged for %d failed loads, want 1 warning naming NOPERM:\n%s", n, loads, log)
	}
}
