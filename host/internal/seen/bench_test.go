package seen

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// requestWork is one page's use of a set: 50 Seen tests, half of them for
// items shown before, and 10 new items shown.
var (
	benchProbes = append(ids("sku", 25), ids("fresh", 25)...)
	benchShown  = ids("new", 10)
)

// BenchmarkCookieRequest is the seen-state's cost in one request: decode
// a cookie of about 200 items, 50 tests, 10 new items recorded, encode,
// release (as the proxy does once the response is written). The tests and
// the records are one call each, as a list's are (the rewriter asks for
// a list's members at once); BenchmarkCookieRequest/one-by-one calls
// Seen and Shown per item.
func BenchmarkCookieRequest(b *testing.B) {
	ctx := context.Background()
	st := newCookieStore(b, CookieConfig{})
	r, _ := http.NewRequest("GET", "https://shop.example/", nil)
	r.AddCookie(&http.Cookie{Name: st.CookieName(), Value: validValue(b, st, ids("sku", 200)...)})
	for _, lists := range []bool{true, false} {
		name := "lists"
		if !lists {
			name = "one-by-one"
		}
		b.Run(name, func(b *testing.B) {
			var h http.Header
			rec := make([]int32, len(benchProbes))
			b.ReportAllocs()
			for b.Loop() {
				s, info := st.Load(ctx, r, "")
				if info.Source != SourceCookie {
					b.Fatalf("%+v", info)
				}
				if lists {
					s.Recencies(benchProbes, rec)
					s.ShownAll(benchShown)
				} else {
					for _, id := range benchProbes {
						s.Seen(id)
					}
					for _, id := range benchShown {
						s.Shown(id)
					}
				}
				h = http.Header{}
				if err := st.Save(ctx, h, "", s, true); err != nil {
					b.Fatal(err)
				}
				s.Release()
			}
			cookies := (&http.Response{Header: h}).Cookies()
			if len(cookies) != 1 {
				b.Fatalf("Set-Cookie %q", h.Values("Set-Cookie"))
			}
			b.ReportMetric(float64(len(cookies[0].Value)), "cookie-bytes")
		})
	}
}

// BenchmarkRedisRequest is the same page with the Redis store, viewed by
// a returning visitor: one GET, the tests, the page's 10 items shown, and
// Save, which queues a SET of a changed set. Every view changes it, past
// the first iteration too: Shown counts each showing, of an item already
// in the set as well, so each iteration is a view's read and its write
// (2 commands). It reports what Redis sees per view: commands, round
// trips (the GET on the request's path, and the writers' pipelines off
// it, which batch saves under load: one request at a time, as here, is
// their worst case, though a pipeline sometimes takes two SETs, so a
// view makes a little under 2), and the bytes of keys and values sent
// and received. The capacity model (bench/capacity) reads them.
func BenchmarkRedisRequest(b *testing.B) {
	ctx := context.Background()
	st := newRedisStore(b, RedisConfig{})
	hook := &countingHook{}
	s, _ := st.Load(ctx, nil, "bench")
	for _, id := range ids("sku", 200) {
		s.Shown(id)
	}
	if err := st.Save(ctx, nil, "bench", s, false); err != nil {
		b.Fatal(err)
	}
	st.Flush(5 * time.Second)
	st.c().AddHook(hook)
	b.ReportAllocs()
	for b.Loop() {
		s, info := st.Load(ctx, nil, "bench")
		if info.Source != SourceRedis {
			b.Fatalf("%+v", info)
		}
		for _, id := range benchProbes {
			s.Seen(id)
		}
		for _, id := range benchShown {
			s.Shown(id)
		}
		st.Save(ctx, nil, "bench", s, false)
		s.Release()
	}
	b.StopTimer()
	st.Flush(5 * time.Second)
	b.ReportMetric(float64(st.DroppedSaves.Load())/float64(b.N), "dropped/op")
	b.ReportMetric(float64(hook.cmds.Load())/float64(b.N), "redis-cmds/op")
	b.ReportMetric(float64(hook.trips.Load())/float64(b.N), "redis-round-trips/op")
	b.ReportMetric(float64(hook.bytes.Load())/float64(b.N), "redis-bytes/op")
}

// countingHook counts what a client sends Redis: commands, round trips,
// and the bytes of keys and values (arguments sent, string replies).
type countingHook struct{ cmds, trips, bytes atomic.Int64 }

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.trips.Add(1)
		err := next(ctx, cmd)
		h.count(cmd)
		return err
	}
}

func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.trips.Add(1)
		err := next(ctx, cmds)
		for _, c := range cmds {
			h.count(c)
		}
		return err
	}
}

func (h *countingHook) count(cmd redis.Cmder) {
	h.cmds.Add(1)
	for _, a := range cmd.Args()[1:] {
		switch v := a.(type) {
		case string:
			h.bytes.Add(int64(len(v)))
		case []byte:
			h.bytes.Add(int64(len(v)))
		}
	}
	if sc, ok := cmd.(*redis.StringCmd); ok {
		h.bytes.Add(int64(len(sc.Val())))
	}
}

// BenchmarkSeen is one Seen test on a set of 1,000 items in two
// generations: the digest and two filter tests.
func BenchmarkSeen(b *testing.B) {
	st := newCookieStore(b, CookieConfig{})
	s := st.l.newSet(st.l.nowSec())
	for _, id := range ids("sku", 1000) {
		s.Shown(id)
	}
	s.prev, s.hasPrev = s.cur, true
	for b.Loop() {
		s.Seen("sku-123456")
	}
}
