package seen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/caps"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/internal/syncbuf"
	"github.com/bespoke-edge/bespoke/internal/testproc"
	"github.com/redis/go-redis/v9"
)

// redisServer is the redis-server the tests share, started by the first
// test that needs it and stopped by TestMain.
var redisServer struct {
	once   sync.Once
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
	dir    string
	addr   string
	err    error
	skip   string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if redisServer.cmd != nil {
		redisServer.cmd.Process.Kill()
		<-redisServer.exited
		os.RemoveAll(redisServer.dir)
	}
	os.Exit(code)
}

// redisAddr is the address of a running redis-server on a free loopback
// port, without persistence. Without redis-server on PATH the test is
// skipped, or fails when CI is set.
func redisAddr(t testing.TB) string {
	t.Helper()
	redisServer.once.Do(startRedis)
	if redisServer.skip != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s; CI must install it", redisServer.skip)
		}
		t.Skip(redisServer.skip)
	}
	if redisServer.err != nil {
		t.Fatal(redisServer.err)
	}
	return redisServer.addr
}

func startRedis() {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		redisServer.skip = "redis-server is not installed (apt-get install redis-server)"
		return
	}
	dir, err := os.MkdirTemp("", "seen-redis")
	if err != nil {
		redisServer.err = err
		return
	}
	redisServer.dir = dir
	for range 5 { // a port found free can be taken before the server binds it
		addr := freeAddr()
		port := addr[strings.LastIndexByte(addr, ':')+1:]
		cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--dir", dir)
		if err := cmd.Start(); err != nil {
			redisServer.err = err
			return
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			select {
			case <-exited:
				redisServer.err = fmt.Errorf("redis-server on %s exited", addr)
			default:
			}
			if redisServer.err != nil {
				break
			}
			if c, err := net.Dial("tcp", addr); err == nil && testproc.Owns(cmd.Process.Pid, addr) {
				c.Close()
				redisServer.cmd, redisServer.exited, redisServer.addr = cmd, exited, addr
				return
			} else if err == nil {
				c.Close() // another test's server took the port: this one exits
			}
			time.Sleep(10 * time.Millisecond)
		}
		cmd.Process.Kill()
		<-exited
	}
	if redisServer.err == nil {
		redisServer.err = errors.New("redis-server did not start")
	}
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func newRedisStore(t testing.TB, cfg RedisConfig) *RedisStore {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = "redis://" + redisAddr(t) + "/0"
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "test:" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	}
	if cfg.Timeout == 0 {
		// The store's 20 ms default is for production; a busy test
		// machine can take longer to answer, and these tests are about
		// what Redis answers, not how fast. Tests of timeouts set theirs.
		cfg.Timeout = hangGuard
	}
	s, err := NewRedisStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rawClient is a plain client on the test server, to look behind the
// store.
func rawClient(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: redisAddr(t)})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRedisRoundTrip(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	st := newRedisStore(t, RedisConfig{Params: Params{Now: clk.Now, Window: 7 * day}})
	s, info := st.Load(ctx, nil, "v1")
	if info != (LoadInfo{Source: SourceNew}) || s.Seen("sku-secret-1") {
		t.Fatalf("first load: %+v", info)
	}
	s.Shown("sku-secret-1")
	s.Shown("sku-2")
	if err := st.Save(ctx, nil, "v1", s, false); err != nil {
		t.Fatal(err)
	}
	if !st.Flush(2 * time.Second) {
		t.Fatal("the save was not written")
	}
	raw := rawClient(t)
	key := st.SeenKey("v1")
	ttl, err := raw.TTL(ctx, key).Result()
	if err != nil || ttl <= 7*day-time.Minute || ttl > 7*day {
		t.Errorf("TTL %v, %v; want the window, 7 days", ttl, err)
	}
	val, err := raw.Get(ctx, key).Bytes()
	if err != nil || len(val) == 0 || strings.Contains(string(val), "sku") {
		t.Errorf("stored value %q, %v", val, err)
	}

	s, info = st.Load(ctx, nil, "v1")
	if info != (LoadInfo{Source: SourceRedis}) || !s.Seen("sku-secret-1") || !s.Seen("sku-2") || s.Seen("sku-3") || s.Changed() {
		t.Errorf("second load: %+v", info)
	}
	// Another visitor sees nothing of it; another proxy sees all of it.
	if s, info := st.Load(ctx, nil, "v2"); s.Seen("sku-2") || info.Source != SourceNew {
		t.Errorf("other visitor: %+v", info)
	}
	other := newRedisStore(t, RedisConfig{Prefix: st.prefix, Params: Params{Now: clk.Now, Window: 7 * day}})
	if s, _ := other.Load(ctx, nil, "v1"); !s.Seen("sku-2") {
		t.Error("a second store on the same server does not share the state")
	}
	if got := [...]int64{st.Loads.Load(), st.Hits.Load(), st.Misses.Load(), st.Saves.Load(), st.Errors.Load(), st.Timeouts.Load()}; got != [...]int64{3, 1, 2, 1, 0, 0} {
		t.Errorf("counters loads, hits, misses, saves, errors, timeouts = %v", got)
	}
	// Unchanged: nothing queued.
	if err := st.Save(ctx, nil, "v1", s, false); err != nil || st.pending.Load() != 0 {
		t.Errorf("saving an unchanged set: %v, %d pending", err, st.pending.Load())
	}
}

func TestRedisStoredStates(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	st := newRedisStore(t, RedisConfig{Params: Params{Now: clk.Now}})
	raw := rawClient(t)
	s, _ := st.Load(ctx, nil, "old")
	s.Shown("a")
	oldState := s.encode()
	clk.Set(clk.Now().Add(31 * day))

	keyed := newRedisStore(t, RedisConfig{Prefix: st.prefix, Key: testKey, Params: Params{Now: clk.Now}})
	ks, _ := keyed.Load(ctx, nil, "keyed")
	ks.Shown("a")

	tests := []struct {
		name  string
		value []byte
		want  string
	}{
		{"garbage", []byte("garbage"), DroppedOldFormat},
		{"empty", []byte{}, DroppedMalformed},
		{"truncated", oldState[:len(oldState)-1], DroppedMalformed},
		{"expired", oldState, DroppedExpired},
		{"written with another key", ks.encode(), DroppedOldFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := strings.ReplaceAll(tt.name, " ", "-")
			if err := raw.Set(ctx, st.SeenKey(id), tt.value, time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			before := st.Invalid.Load()
			s, info := st.Load(ctx, nil, id)
			if info.Dropped != tt.want || info.Source != SourceNew || s.Seen("a") {
				t.Errorf("%+v, want dropped %q", info, tt.want)
			}
			if st.Invalid.Load() != before+1 {
				t.Error("not counted as invalid")
			}
		})
	}
}

func TestRedisVisitorIDs(t *testing.T) {
	ctx := context.Background()
	st := newRedisStore(t, RedisConfig{})
	for _, id := range []string{"", strings.Repeat("x", maxVisitorID+1), "a{b}c"} {
		s, info := st.Load(ctx, nil, id)
		if info != (LoadInfo{Source: SourceNew}) {
			t.Errorf("id of %d bytes: %+v", len(id), info)
		}
		s.Shown("a")
		if err := st.Save(ctx, nil, id, s, false); !errors.Is(err, ErrNoVisitor) {
			t.Errorf("id of %d bytes: Save = %v", len(id), err)
		}
	}
	if st.Loads.Load() != 0 {
		t.Errorf("%d lookups for requests without a visitor id", st.Loads.Load())
	}
}

// silentServer accepts connections and never answers, until the returned
// function closes it and every connection it accepted (then connections
// fail at once, and new ones are refused). Closing twice is harmless.
func silentServer(t *testing.T) (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	released := false
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			// A connection accepted while release ran would otherwise
			// never be closed, and a client waiting on it would wait
			// out its whole timeout.
			if released {
				c.Close()
			} else {
				conns = append(conns, c)
			}
			mu.Unlock()
		}
	}()
	release := func() {
		mu.Lock()
		defer mu.Unlock()
		if released {
			return
		}
		released = true
		ln.Close()
		for _, c := range conns {
			c.Close()
		}
	}
	t.Cleanup(release)
	return ln.Addr().String(), release
}

// hangGuard bounds waits that only end if the code under test is right;
// far above any real duration, it turns a hang into a failure.
const hangGuard = 30 * time.Second

// TestRedisTimeout: a Redis that never answers costs a load its timeout,
// not the request: the server below answers nothing, so a load that
// returns at all was ended by a deadline.
func TestRedisTimeout(t *testing.T) {
	ctx := context.Background()
	addr, _ := silentServer(t)
	st := newRedisStore(t, RedisConfig{URL: "redis://" + addr, Timeout: 30 * time.Millisecond, SaveTimeout: time.Hour})
	for i := range 3 {
		s, info := st.Load(ctx, nil, "v1")
		if info != (LoadInfo{Source: SourceNew, Dropped: DroppedTimeout}) || s == nil {
			t.Errorf("load %d: %+v", i, info)
		}
	}
	if st.Timeouts.Load() != 3 {
		t.Errorf("%d timeouts counted, want 3", st.Timeouts.Load())
	}

	// The request's own deadline is honoured too: this store's timeout is
	// an hour, so only the request's deadline can end the load.
	patient := newRedisStore(t, RedisConfig{URL: "redis://" + addr, Timeout: time.Hour, SaveTimeout: time.Hour})
	short, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel()
	if _, info := patient.Load(short, nil, "v1"); info.Dropped != DroppedTimeout {
		t.Errorf("request deadline: %+v", info)
	}

	// A set whose load timed out is not saved over what may be stored.
	s, _ := st.Load(ctx, nil, "v1")
	s.Shown("a")
	if err := st.Save(ctx, nil, "v1", s, false); !errors.Is(err, ErrUnknownState) || st.SkippedSaves.Load() != 1 || st.pending.Load() != 0 {
		t.Errorf("saving after a timeout: %v, %d skipped, %d pending", err, st.SkippedSaves.Load(), st.pending.Load())
	}
	// Three timeouts in a row: the server is taken for lost, and loads no
	// longer wait for it.
	if st.Up() || st.Lost.Load() != 1 {
		t.Errorf("after 3 timeouts in a row: up %v, lost %d times", st.Up(), st.Lost.Load())
	}
	if _, info := st.Load(ctx, nil, "v1"); info.Dropped != DroppedRedisError {
		t.Errorf("a load while the server is lost: %+v", info)
	}
}

// TestRedisSaveDoesNotWait: Save returns while Redis has not answered
// (it never answers until released, and the write may wait an hour), and
// the write fails in the background once the server goes away.
func TestRedisSaveDoesNotWait(t *testing.T) {
	ctx := context.Background()
	addr, release := silentServer(t)
	st := newRedisStore(t, RedisConfig{URL: "redis://" + addr, SaveTimeout: time.Hour})
	s := st.l.newSet(st.l.nowSec())
	s.Shown("a")
	if err := st.Save(ctx, nil, "v1", s, false); err != nil {
		t.Fatal(err)
	}
	if n := st.pending.Load(); n != 1 {
		t.Fatalf("%d saves pending after Save returned, want 1 (queued, not written)", n)
	}
	if st.Saves.Load() != 0 || st.SaveErrors.Load() != 0 {
		t.Fatalf("the write ended before the server answered: %d saved, %d failed", st.Saves.Load(), st.SaveErrors.Load())
	}
	release()
	if !st.Flush(hangGuard) {
		t.Fatal("the write did not end after the server went away")
	}
	if st.SaveErrors.Load() != 1 {
		t.Errorf("%d save errors, want 1", st.SaveErrors.Load())
	}
}

func TestRedisDown(t *testing.T) {
	ctx := context.Background()
	st := newRedisStore(t, RedisConfig{URL: "redis://" + freeAddr(), Timeout: 50 * time.Millisecond})
	for i := range 3 {
		s, info := st.Load(ctx, nil, "v1")
		if info != (LoadInfo{Source: SourceNew, Dropped: DroppedRedisError}) || s == nil || s.Seen("a") {
			t.Errorf("load %d: %+v", i, info)
		}
		// Not saved over the stored state, which could not be read.
		s.Shown("a")
		if err := st.Save(ctx, nil, "v1", s, false); !errors.Is(err, ErrUnknownState) {
			t.Errorf("Save: %v", err)
		}
		// A new visitor's set is saved, and the write fails.
		s = st.l.newSet(st.l.nowSec())
		s.Shown("a")
		if err := st.Save(ctx, nil, "v1", s, false); err != nil {
			t.Errorf("Save: %v", err)
		}
	}
	if st.SkippedSaves.Load() != 3 {
		t.Errorf("%d saves skipped, want 3", st.SkippedSaves.Load())
	}
	if st.Errors.Load() != 3 {
		t.Errorf("%d errors counted, want 3", st.Errors.Load())
	}
	if !st.Flush(hangGuard) || st.SaveErrors.Load() != 3 {
		t.Errorf("%d save errors, want 3", st.SaveErrors.Load())
	}
	if st.Up() || st.Lost.Load() != 1 {
		t.Errorf("up %v, lost %d times; want down, lost once", st.Up(), st.Lost.Load())
	}
}

// startOwnRedis starts a redis-server of the test's own on addr (the
// shared one must not be stopped) and returns a function that stops it.
func startOwnRedis(t *testing.T, addr string) (stop func()) {
	t.Helper()
	redisAddr(t) // skips without redis-server
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop = func() {
		cmd.Process.Kill()
		<-exited
	}
	for deadline := time.Now().Add(hangGuard); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatalf("redis-server on %s exited", addr)
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			t.Cleanup(stop)
			return stop
		}
	}
	stop()
	t.Fatalf("redis-server on %s did not start", addr)
	return nil
}

// TestRedisOutage: Redis stops and comes back on the same address. While
// it is away, loads answer at once without a state, saves of sets that
// could not be loaded are skipped (and say so), and the writes queued
// before fail; once it is back, the store uses it again without a
// restart, and what was stored before the outage is there.
func TestRedisOutage(t *testing.T) {
	ctx := context.Background()
	addr := freeAddr()
	stop := startOwnRedis(t, addr)
	st := newRedisStore(t, RedisConfig{URL: "redis://" + addr, Timeout: time.Second, Retry: 10 * time.Millisecond})
	s, _ := st.Load(ctx, nil, "v1")
	s.Shown("before")
	if err := st.Save(ctx, nil, "v1", s, false); err != nil || !st.Flush(hangGuard) || st.Saves.Load() != 1 {
		t.Fatalf("saving before the outage: %v, %d saved", err, st.Saves.Load())
	}

	stop()
	s, info := st.Load(ctx, nil, "v1")
	if info.Dropped != DroppedRedisError || s.Seen("before") {
		t.Fatalf("the first load of the outage: %+v", info)
	}
	if st.Up() {
		t.Fatal("a refused connection did not take the server for lost")
	}
	for range 20 {
		s, info := st.Load(ctx, nil, "v1")
		if info.Dropped != DroppedRedisError {
			t.Fatalf("a load during the outage: %+v", info)
		}
		s.Shown("during")
		if err := st.Save(ctx, nil, "v1", s, false); !errors.Is(err, ErrUnknownState) {
			t.Fatalf("a save during the outage: %v", err)
		}
	}
	if st.SkippedSaves.Load() != 20 || st.Errors.Load() != 21 {
		t.Errorf("%d saves skipped, %d load errors; want 20 and 21", st.SkippedSaves.Load(), st.Errors.Load())
	}

	back := time.Now()
	startOwnRedis(t, addr)
	for !st.Up() {
		if time.Since(back) > hangGuard {
			t.Fatal("the store did not reconnect")
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("loads use Redis again %v after it listens (retry every 10 ms)", time.Since(back).Round(time.Millisecond))
	// A new server: the state from before is gone with the old one (no
	// persistence here), and the store writes and reads the new one.
	s, info = st.Load(ctx, nil, "v1")
	if info != (LoadInfo{Source: SourceNew}) {
		t.Fatalf("the first load after the outage: %+v", info)
	}
	s.Shown("after")
	if err := st.Save(ctx, nil, "v1", s, false); err != nil || !st.Flush(hangGuard) {
		t.Fatal(err)
	}
	if s, info := st.Load(ctx, nil, "v1"); info.Source != SourceRedis || !s.Seen("after") {
		t.Errorf("after the outage: %+v, Seen(after) %v", info, s.Seen("after"))
	}
	if st.Lost.Load() != 1 || st.Reconnects.Load() != 1 {
		t.Errorf("lost %d times, reconnected %d times; want 1 and 1", st.Lost.Load(), st.Reconnects.Load())
	}
}

// TestRedisQueueFull: with Redis stuck, saves beyond the queue are refused
// at once and counted. The server never answers and a write may wait an
// hour, so a Save that waited for Redis would hang the test.
func TestRedisQueueFull(t *testing.T) {
	ctx := context.Background()
	addr, release := silentServer(t)
	st := newRedisStore(t, RedisConfig{URL: "redis://" + addr, Queue: 2, Writers: 1, SaveTimeout: time.Hour})
	s := st.l.newSet(st.l.nowSec())
	s.Shown("a")
	const saves = 20
	var full int
	for range saves {
		if err := st.Save(ctx, nil, "v1", s, false); errors.Is(err, ErrQueueFull) {
			full++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if full == 0 || int64(full) != st.DroppedSaves.Load() {
		t.Errorf("%d saves refused, %d counted as dropped, of %d", full, st.DroppedSaves.Load(), saves)
	}
	// The single writer takes what is queued at most once more before it
	// is stuck on a write that cannot end, so of five more saves at most
	// two fit in the queue of two.
	full = 0
	for range 5 {
		if err := st.Save(ctx, nil, "v1", s, false); errors.Is(err, ErrQueueFull) {
			full++
		}
	}
	if full < 3 {
		t.Errorf("%d of 5 saves refused with a queue of 2", full)
	}
	// Close writes what is queued; it returns once the server is gone and
	// the stuck write fails.
	release()
	st.Close()
	if err := st.Save(ctx, nil, "v1", s, false); !errors.Is(err, ErrClosed) {
		t.Errorf("Save after Close: %v", err)
	}
	if s, info := st.Load(ctx, nil, "v1"); s == nil || info.Source != SourceNew {
		t.Errorf("Load after Close: %+v", info)
	}
}

// TestRedisHammer: many visitors loading and saving at once.
func TestRedisHammer(t *testing.T) {
	ctx := context.Background()
	st := newRedisStore(t, RedisConfig{Timeout: 2 * time.Second})
	const workers, rounds = 16, 30
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("hammer-%d", w)
			for i := range rounds {
				s, info := st.Load(ctx, nil, id)
				if info.Dropped != "" {
					t.Errorf("%s: %+v", id, info)
					return
				}
				s.Shown(fmt.Sprintf("%s-%d", id, i))
				if err := st.Save(ctx, http.Header{}, id, s, false); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if !st.Flush(5 * time.Second) {
		t.Fatal("saves not written")
	}
	// A load can come before the previous save is written, so only the
	// last round's item is sure to be there: one visitor's saves are
	// written in order.
	for w := range workers {
		id := fmt.Sprintf("hammer-%d", w)
		if s, _ := st.Load(ctx, nil, id); !s.Seen(fmt.Sprintf("%s-%d", id, rounds-1)) {
			t.Errorf("%s: the last item is not seen", id)
		}
	}
	if st.DroppedSaves.Load() != 0 || st.SaveErrors.Load() != 0 {
		t.Errorf("%d dropped, %d failed", st.DroppedSaves.Load(), st.SaveErrors.Load())
	}
}

// Caps counts kept in Redis: one MGET reads them with the seen-state,
// in the visitor's slot; a second store (another proxy) reads the same
// count; a load that fails gives counts that are never saved.
func TestRedisCaps(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	st := newRedisStore(t, RedisConfig{Params: Params{Now: clk.Now}})
	cs, err := caps.NewShared(st, clk.Now, 0)
	if err != nil {
		t.Fatal(err)
	}
	set, _, b, err := st.LoadWithCaps(ctx, nil, "v1")
	counts := cs.FromShared(b, err)
	if err != nil || b != nil || counts.Count("1d:invite", day) != 0 {
		t.Fatalf("first load: %q, %v", b, err)
	}
	counts.Hit("1d:invite", day)
	set.Shown("sku-1")
	if err := counts.Save("v1", 30*day, false); err != nil {
		t.Fatal(err)
	}
	if err := st.Save(ctx, nil, "v1", set, false); err != nil {
		t.Fatal(err)
	}
	if !st.Flush(2 * time.Second) {
		t.Fatal("the saves were not written")
	}
	if sk, ck := st.SeenKey("v1"), st.CapsKey("v1"); !strings.Contains(ck, "{v1}") || !strings.Contains(sk, "{v1}") || sk == ck {
		t.Errorf("keys %q and %q do not share the hash tag {v1}", sk, ck)
	}
	raw := rawClient(t)
	if ttl, err := raw.TTL(ctx, st.CapsKey("v1")).Result(); err != nil || ttl <= 29*day || ttl > 30*day {
		t.Errorf("caps TTL %v, %v; want 30 days", ttl, err)
	}

	other := newRedisStore(t, RedisConfig{Prefix: st.prefix, Params: Params{Now: clk.Now}})
	ocs, _ := caps.NewShared(other, clk.Now, 0)
	set, info, b, err := other.LoadWithCaps(ctx, nil, "v1")
	counts = ocs.FromShared(b, err)
	if info.Source != SourceRedis || !set.Seen("sku-1") || counts.Count("1d:invite", day) != 1 {
		t.Errorf("another proxy reads %+v, seen %v, count %d", info, set.Seen("sku-1"), counts.Count("1d:invite", day))
	}
	// Counts without a seen-state: a miss for the set, the counts read.
	counts = ocs.LoadShared(ctx, "v1")
	if counts.Count("1d:invite", day) != 1 {
		t.Errorf("LoadShared: count %d", counts.Count("1d:invite", day))
	}
	raw.Del(ctx, other.SeenKey("v1"))
	if _, info, b, err := other.LoadWithCaps(ctx, nil, "v1"); info.Source != SourceNew || ocs.FromShared(b, err).Count("1d:invite", day) != 1 {
		t.Errorf("caps without a seen-state: %+v %q %v", info, b, err)
	}

	// A store that cannot answer: unknown counts, not saved.
	addr, closeSilent := silentServer(t)
	defer closeSilent()
	dead := newRedisStore(t, RedisConfig{URL: "redis://" + addr, Timeout: 30 * time.Millisecond})
	dcs, _ := caps.NewShared(dead, clk.Now, 0)
	_, _, b, err = dead.LoadWithCaps(ctx, nil, "v1")
	counts = dcs.FromShared(b, err)
	if !counts.Unknown || counts.Dropped != "unavailable" {
		t.Errorf("a load that timed out gives %+v", counts)
	}
	counts.Hit("1d:invite", day)
	if err := counts.Save("v1", day, false); err == nil {
		t.Error("unknown counts were saved")
	}
}

// TestRedisOutageLogged: an outage is one structured event when the
// store loses its server and one when it answers again, and the Redis
// client's own messages (a failed dial per probe, ten a second) reach
// the same logger, in its format, one per redisLogEvery: they were
// printed on stderr in plain text, whatever the log format.
func TestRedisOutageLogged(t *testing.T) {
	ctx := context.Background()
	addr := freeAddr()
	stop := startOwnRedis(t, addr)
	var buf syncbuf.Buffer
	st := newRedisStore(t, RedisConfig{URL: "redis://" + addr, Timeout: time.Second, Retry: 10 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	if _, info := st.Load(ctx, nil, "v1"); info.Failed() {
		t.Fatalf("before the outage: %+v", info)
	}
	stop()
	st.Load(ctx, nil, "v1")
	if st.Up() {
		t.Fatal("a refused connection did not take the server for lost")
	}
	time.Sleep(300 * time.Millisecond) // about 30 probes, each a failed dial
	startOwnRedis(t, addr)
	for deadline := time.Now().Add(hangGuard); !st.Up(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the store did not reconnect")
		}
	}
	var lost, back, client int
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec struct {
			Level, Msg, Addrs, Err, Detail string
			DownFor                        int64 `json:"down_for"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a line that is not JSON: %q", line)
		}
		switch {
		case strings.HasPrefix(rec.Msg, "Redis seen store lost"):
			lost++
			if rec.Level != "WARN" || rec.Addrs != addr || !strings.Contains(rec.Err, "refused") {
				t.Errorf("the outage's event: %s", line)
			}
		case rec.Msg == "Redis seen store answers again":
			back++
			if rec.Level != "INFO" || rec.Addrs != addr || rec.DownFor < int64(300*time.Millisecond) {
				t.Errorf("the recovery's event: %s", line)
			}
		case rec.Msg == "Redis client":
			client++
			if rec.Level != "WARN" || !strings.Contains(rec.Detail, "connection refused") {
				t.Errorf("the client's message: %s", line)
			}
		default:
			t.Errorf("an unexpected record: %s", line)
		}
	}
	if lost != 1 || back != 1 || client != 1 {
		t.Errorf("%d outage events, %d recoveries, %d client messages; want 1, 1 and 1 (one per %v):\n%s", lost, back, client, redisLogEvery, &buf)
	}
}

// TestRedisClientLogRate: the client's messages are logged at most one
// per interval, each saying how many were left out since the last; a
// new logger logs its first at once, and none is logged before one.
func TestRedisClientLogRate(t *testing.T) {
	var buf syncbuf.Buffer
	now := time.Unix(0, 0)
	l := &redisLog{every: 10 * time.Second, now: func() time.Time { return now }}
	l.Printf(context.Background(), "dropped before a logger is set")
	l.setLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})))
	steps := []struct {
		after time.Duration
		n     int
	}{{0, 3}, {9 * time.Second, 5}, {time.Second, 1}, {time.Minute, 1}}
	for _, s := range steps {
		now = now.Add(s.after)
		for i := range s.n {
			l.Printf(context.Background(), "redis: connection pool: failed to dial after %d attempts: %s", i+1, "refused")
		}
	}
	want := `level=WARN msg="Redis client" detail="connection pool: failed to dial after 1 attempts: refused"` + "\n" +
		`level=WARN msg="Redis client" detail="connection pool: failed to dial after 1 attempts: refused" left_out=7` + "\n" +
		`level=WARN msg="Redis client" detail="connection pool: failed to dial after 1 attempts: refused"` + "\n"
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestRedisRefusesClient: a server that refuses the store's credentials
// (or its database) is taken for lost and logged, as one that cannot be
// reached is; it used to count as up, every load failing in silence.
func TestRedisRefusesClient(t *testing.T) {
	ctx := context.Background()
	addr := freeAddr()
	startOwnRedis(t, addr)
	admin := redis.NewClient(&redis.Options{Addr: addr})
	defer admin.Close()
	if err := admin.ConfigSet(ctx, "requirepass", "right-one").Err(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ url, want string }{
		{"redis://:wrong@" + addr, "WRONGPASS"},
		{"redis://" + addr, "NOAUTH"},
		{"redis://:right-one@" + addr + "/99", "DB index"},
	} {
		var buf syncbuf.Buffer
		st := newRedisStore(t, RedisConfig{URL: tt.url, Timeout: time.Second, Retry: 10 * time.Millisecond,
			Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
		if _, info := st.Load(ctx, nil, "v1"); info.Dropped != DroppedRedisError {
			t.Errorf("%s: load %+v, want %s", tt.url, info, DroppedRedisError)
		}
		if st.Up() {
			t.Errorf("%s: the store counts itself up", tt.url)
		}
		if log := buf.String(); !strings.Contains(log, "Redis seen store lost") || !strings.Contains(log, tt.want) || !strings.Contains(log, `"level":"WARN"`) {
			t.Errorf("%s: logged %q, want a warning naming %s", tt.url, log, tt.want)
		}
	}
	st := newRedisStore(t, RedisConfig{URL: "redis://:right-one@" + addr + "/1", Timeout: time.Second})
	if _, info := st.Load(ctx, nil, "v1"); info.Failed() || !st.Up() {
		t.Fatalf("with the right password: %+v, up %v", info, st.Up())
	}
}

// TestRedisReadsItsQueuedSaves: a visitor's next request, loaded before
// the background write of the previous one's state has landed, sees what
// that one showed (and the caps it counted): the store answers from what
// it queued. Writes are held back here by pausing Redis's writes.
func TestRedisReadsItsQueuedSaves(t *testing.T) {
	ctx := context.Background()
	addr := freeAddr()
	startOwnRedis(t, addr)
	admin := redis.NewClient(&redis.Options{Addr: addr})
	defer admin.Close()
	st := newRedisStore(t, RedisConfig{URL: "redis://" + addr, Timeout: time.Second})
	if err := admin.Do(ctx, "CLIENT", "PAUSE", "2000", "WRITE").Err(); err != nil {
		t.Skipf("CLIENT PAUSE WRITE (Redis 6.2): %v", err)
	}
	defer admin.Do(ctx, "CLIENT", "UNPAUSE")
	set, _ := st.Load(ctx, nil, "v1")
	set.Shown("a")
	if err := st.Save(ctx, nil, "v1", set, false); err != nil {
		t.Fatal(err)
	}
	set.Release()
	if err := st.SaveCaps("v1", []byte("caps-1"), time.Minute, nil, nil); err != nil {
		t.Fatal(err)
	}
	next, info, caps, err := st.LoadWithCaps(ctx, nil, "v1")
	if err != nil || info.Source != SourceRedis || !next.Seen("a") || string(caps) != "caps-1" {
		t.Fatalf("the next request, before the write landed: %+v, seen a %v, caps %q, %v", info, next.Seen("a"), caps, err)
	}
	next.Shown("b")
	st.Save(ctx, nil, "v1", next, false)
	next.Release()
	admin.Do(ctx, "CLIENT", "UNPAUSE")
	if !st.Flush(hangGuard) {
		t.Fatal("the saves were not written")
	}
	if n := len(st.recent); n != 0 {
		t.Fatalf("%d saves still held after they were written", n)
	}
	last, info := st.Load(ctx, nil, "v1")
	defer last.Release()
	if info.Source != SourceRedis || !last.Seen("a") || !last.Seen("b") {
		t.Fatalf("after the writes: %+v, seen a %v, b %v", info, last.Seen("a"), last.Seen("b"))
	}
}

// TestRedisNewVisitorTTL: the first state saved for a visitor Redis held
// nothing for lives NewVisitorTTL; once the visitor comes back, the
// window. A client that never returns its cookie (each request a new
// visitor id) used to leave a key for the whole window per request.
func TestRedisNewVisitorTTL(t *testing.T) {
	ctx := context.Background()
	st := newRedisStore(t, RedisConfig{URL: "redis://" + redisAddr(t), Timeout: time.Second, NewVisitorTTL: time.Hour})
	raw := rawClient(t)
	id := fmt.Sprintf("ttl-%d", time.Now().UnixNano())
	for visit, want := range []time.Duration{time.Hour, DefaultWindow} {
		set, _ := st.Load(ctx, nil, id)
		set.Shown(fmt.Sprint("item-", visit))
		if err := st.Save(ctx, nil, id, set, false); err != nil {
			t.Fatal(err)
		}
		set.Release()
		if !st.Flush(hangGuard) {
			t.Fatal("not written")
		}
		ttl, err := raw.TTL(ctx, st.SeenKey(id)).Result()
		if err != nil || ttl > want || ttl < want-time.Minute {
			t.Fatalf("visit %d: TTL %v (%v), want %v", visit+1, ttl, err, want)
		}
	}
	if _, err := NewRedisStore(RedisConfig{URL: "redis://a:1", NewVisitorTTL: -time.Second}); err == nil {
		t.Fatal("a negative NewVisitorTTL was accepted")
	}
}

// TestRedisReturningVisitorKeepsTheWindow: a visitor who sends its id
// cookie back is a returning one, whose state lives the window even when
// Redis holds none for it (its first state, kept NewVisitorTTL, expired
// while it was away). It got NewVisitorTTL again: a visitor who came
// back once a day had its state kept an hour each time, and was shown
// every day the items it had seen the day before. A request without the
// cookie (a first visit, a crawler) gets NewVisitorTTL.
func TestRedisReturningVisitorKeepsTheWindow(t *testing.T) {
	ctx := context.Background()
	st := newRedisStore(t, RedisConfig{URL: "redis://" + redisAddr(t), Timeout: time.Second, NewVisitorTTL: time.Hour})
	raw := rawClient(t)
	for _, tc := range []struct {
		name   string
		cookie bool
		want   time.Duration
	}{
		{"returning", true, DefaultWindow},
		{"first visit", false, time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := reqctx.NewVisitorID()
			r, _ := http.NewRequest(http.MethodGet, "http://shop.example/", nil)
			if tc.cookie {
				r.Header.Set("Cookie", "consent=yes; "+reqctx.VisitorCookie+"="+id)
			}
			set, info := st.Load(ctx, r, id)
			defer set.Release()
			if info.Source != SourceNew || info.Dropped != "" {
				t.Fatalf("LoadInfo %+v, want a visitor Redis holds nothing for", info)
			}
			set.Shown("item")
			if err := st.Save(ctx, nil, id, set, false); err != nil {
				t.Fatal(err)
			}
			if !st.Flush(hangGuard) {
				t.Fatal("not written")
			}
			ttl, err := raw.TTL(ctx, st.SeenKey(id)).Result()
			if err != nil || ttl > tc.want || ttl < tc.want-time.Minute {
				t.Fatalf("TTL %v (%v), want %v", ttl, err, tc.want)
			}
		})
	}
}

// TestRedisConcurrentSavesMerge: requests of one visitor that load the
// same state and save (two tabs, a page's parallel API calls, two
// proxies) all count: a save finds the state another wrote meanwhile and
// adds its showings to it. With a plain SET the last one won: of four
// tabs' 200 items, some 50 were kept.
func TestRedisConcurrentSavesMerge(t *testing.T) {
	ctx := context.Background()
	url := "redis://" + redisAddr(t)
	prefix := fmt.Sprintf("tabs-%d:", time.Now().UnixNano())
	proxies := []*RedisStore{newRedisStore(t, RedisConfig{URL: url, Prefix: prefix, Timeout: time.Second}), newRedisStore(t, RedisConfig{URL: url, Prefix: prefix, Timeout: time.Second})}
	id := fmt.Sprintf("tabs-%d", time.Now().UnixNano())
	first, _ := proxies[0].Load(ctx, nil, id)
	first.Shown("start")
	proxies[0].Save(ctx, nil, id, first, false)
	first.Release()
	proxies[0].Flush(hangGuard)
	// Four tabs load the same state, then each shows its own items.
	var tabs []*Set
	for i := range 4 {
		s, info := proxies[i%2].Load(ctx, nil, id)
		if info.Source != SourceRedis {
			t.Fatalf("tab %d: %+v", i, info)
		}
		tabs = append(tabs, s)
	}
	for i, s := range tabs {
		for _, item := range ids(fmt.Sprint("tab", i), 50) {
			s.Shown(item)
		}
		if err := proxies[i%2].Save(ctx, nil, id, s, false); err != nil {
			t.Fatal(err)
		}
		s.Release()
	}
	for _, p := range proxies {
		if !p.Flush(hangGuard) {
			t.Fatal("not written")
		}
	}
	got, _ := proxies[1].Load(ctx, nil, id)
	defer got.Release()
	kept := 0
	for i := range 4 {
		for _, item := range ids(fmt.Sprint("tab", i), 50) {
			if got.Seen(item) {
				kept++
			}
		}
	}
	if kept != 200 || !got.Seen("start") {
		t.Fatalf("%d of the tabs' 200 items kept (and start: %v)", kept, got.Seen("start"))
	}
	if proxies[0].Merges.Load()+proxies[1].Merges.Load() == 0 {
		t.Fatal("no save had to merge: the test proves nothing")
	}
	// A state another request left where none was, or none where one
	// was (expired), is merged with, or written, alike.
	raw := rawClient(t)
	lone := id + "-lone"
	a, _ := proxies[0].Load(ctx, nil, lone)
	b, _ := proxies[1].Load(ctx, nil, lone)
	a.Shown("a")
	b.Shown("b")
	proxies[0].Save(ctx, nil, lone, a, false)
	proxies[0].Flush(hangGuard)
	proxies[1].Save(ctx, nil, lone, b, false)
	proxies[1].Flush(hangGuard)
	c, _ := proxies[0].Load(ctx, nil, lone)
	if !c.Seen("a") || !c.Seen("b") {
		t.Fatalf("two first visits at once: a %v, b %v", c.Seen("a"), c.Seen("b"))
	}
	raw.Del(ctx, proxies[0].SeenKey(lone))
	c.Shown("c")
	proxies[0].Save(ctx, nil, lone, c, false)
	c.Release()
	proxies[0].Flush(hangGuard)
	d, _ := proxies[1].Load(ctx, nil, lone)
	defer d.Release()
	if !d.Seen("c") {
		t.Fatal("a save over a state that expired meanwhile was lost")
	}
}

// TestRedisWithoutScripts: a Redis user whose ACL allows GET, MGET and
// SET but no scripts still gets its states saved (overwriting, as SET
// does), with one warning; the store stays up.
func TestRedisWithoutScripts(t *testing.T) {
	ctx := context.Background()
	addr := freeAddr()
	startOwnRedis(t, addr)
	admin := redis.NewClient(&redis.Options{Addr: addr})
	defer admin.Close()
	if err := admin.Do(ctx, "ACL", "SETUSER", "bsk", "on", ">pw", "~*", "+get", "+mget", "+set", "+ping").Err(); err != nil {
		t.Skipf("ACL (Redis 6): %v", err)
	}
	savesWithoutScripts(t, "redis://bsk:pw@"+addr)
}

// TestRedisMergeKeepsWindow: a first visit's save (NewVisitorTTL) that
// finds a state another request stored meanwhile merges into it with the
// window's TTL: the merged state is a returning visitor's, which a short
// TTL would have thrown away within the hour.
func TestRedisMergeKeepsWindow(t *testing.T) {
	ctx := context.Background()
	url := "redis://" + redisAddr(t)
	prefix := fmt.Sprintf("ttl-%d:", time.Now().UnixNano())
	a := newRedisStore(t, RedisConfig{URL: url, Prefix: prefix, Timeout: time.Second, NewVisitorTTL: time.Hour})
	b := newRedisStore(t, RedisConfig{URL: url, Prefix: prefix, Timeout: time.Second, NewVisitorTTL: time.Hour})
	raw := rawClient(t)
	first, _ := a.Load(ctx, nil, "v") // nothing stored yet
	for i := range 2 {
		s, _ := b.Load(ctx, nil, "v")
		s.Shown(fmt.Sprint("b", i))
		b.Save(ctx, nil, "v", s, false)
		s.Release()
		b.Flush(hangGuard)
	}
	first.Shown("a")
	a.Save(ctx, nil, "v", first, false)
	first.Release()
	a.Flush(hangGuard)
	ttl, _ := raw.TTL(ctx, a.SeenKey("v")).Result()
	got, _ := a.Load(ctx, nil, "v")
	defer got.Release()
	if ttl < DefaultWindow-time.Minute || !got.Seen("a") || !got.Seen("b1") {
		t.Fatalf("after the merge: TTL %v, seen a %v, b1 %v", ttl, got.Seen("a"), got.Seen("b1"))
	}
}

// TestRedisWithoutEval: a server without EVAL (renamed away, as managed
// services do) gets the states saved as plain SETs, warned once; saves
// used to fail there, every one, with the store up.
func TestRedisWithoutEval(t *testing.T) {
	addr := freeAddr()
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--dir", t.TempDir(), "--rename-command", "EVAL", "")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(hangGuard); ; time.Sleep(5 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start")
		}
	}
	savesWithoutScripts(t, "redis://"+addr)
}

// savesWithoutScripts checks, on a server that runs no EVAL for the
// store at url, that two requests' states are saved (as plain SETs),
// with no write error, one warning, and the store up.
func savesWithoutScripts(t *testing.T, url string) {
	t.Helper()
	ctx := context.Background()
	var buf syncbuf.Buffer
	st := newRedisStore(t, RedisConfig{URL: url, Timeout: time.Second, Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	for i := range 2 {
		s, info := st.Load(ctx, nil, "v")
		if info.Failed() {
			t.Fatalf("load %d: %+v", i, info)
		}
		s.Shown(fmt.Sprint("item-", i))
		st.Save(ctx, nil, "v", s, false)
		s.Release()
		st.Flush(hangGuard)
	}
	got, _ := st.Load(ctx, nil, "v")
	defer got.Release()
	if !got.Seen("item-0") || !got.Seen("item-1") || st.SaveErrors.Load() != 0 || !st.Up() {
		t.Fatalf("saved %v %v, %d write errors, up %v; log %s", got.Seen("item-0"), got.Seen("item-1"), st.SaveErrors.Load(), st.Up(), &buf)
	}
	if n := strings.Count(buf.String(), "runs no write script"); n != 1 {
		t.Fatalf("%d warnings, want 1: %s", n, &buf)
	}
}

// TestRedisCapsMerge: two requests of one visitor at once, each counting
// a capped rule, both count: the later save adds its hits to the counts
// the earlier stored. With a plain SET one hit was lost, and the rule
// showed once more than its cap.
func TestRedisCapsMerge(t *testing.T) {
	ctx := context.Background()
	url := "redis://" + redisAddr(t)
	prefix := fmt.Sprintf("capsmerge-%d:", time.Now().UnixNano())
	a := newRedisStore(t, RedisConfig{URL: url, Prefix: prefix, Timeout: time.Second})
	b := newRedisStore(t, RedisConfig{URL: url, Prefix: prefix, Timeout: time.Second})
	ca, _ := caps.NewShared(a, nil, 0)
	cb, _ := caps.NewShared(b, nil, 0)
	first := ca.LoadShared(ctx, "v")
	first.Hit("86400:promo", 24*time.Hour)
	first.Save("v", time.Hour, false)
	a.Flush(hangGuard)
	// Two tabs read the count 1, each shows the rule once more.
	x, y := ca.LoadShared(ctx, "v"), cb.LoadShared(ctx, "v")
	x.Hit("86400:promo", 24*time.Hour)
	y.Hit("86400:promo", 24*time.Hour)
	y.Hit("3600:banner", time.Hour)
	if err := x.Save("v", time.Hour, false); err != nil {
		t.Fatal(err)
	}
	a.Flush(hangGuard)
	if err := y.Save("v", time.Hour, false); err != nil {
		t.Fatal(err)
	}
	b.Flush(hangGuard)
	got := ca.LoadShared(ctx, "v")
	if n, m := got.Count("86400:promo", 24*time.Hour), got.Count("3600:banner", time.Hour); n != 3 || m != 1 {
		t.Fatalf("after two tabs: promo %d, banner %d; want 3 and 1", n, m)
	}
	if b.Merges.Load() == 0 {
		t.Fatal("no save merged: the test proves nothing")
	}
	// A route's save with shorter windows keeps the TTL another route's
	// longer window gave the counts.
	long := ca.LoadShared(ctx, "v")
	long.Hit("4838400:long", 56*24*time.Hour)
	long.Save("v", 56*24*time.Hour, false)
	a.Flush(hangGuard)
	short := cb.LoadShared(ctx, "v")
	short.Hit("86400:promo", 24*time.Hour)
	short.Save("v", 30*24*time.Hour, false)
	b.Flush(hangGuard)
	if ttl, _ := rawClient(t).TTL(ctx, a.CapsKey("v")).Result(); ttl < 56*24*time.Hour-time.Minute {
		t.Fatalf("the counts' TTL was cut to %v", ttl)
	}
}

// TestRedisCapsNewVisitor: the counts of a visitor whose id the client
// has not sent back (a first visit, a crawler with a new id on every
// request) live the store's new-visitor TTL, not their windows; a
// returning visitor's renew keeps them their windows, the counts
// whole, and a save of a returning visitor gives them the window. Each
// request of a client that never keeps cookies left a key for 30 days.
func TestRedisCapsNewVisitor(t *testing.T) {
	ctx := context.Background()
	st := newRedisStore(t, RedisConfig{Prefix: fmt.Sprintf("capsnew-%d:", time.Now().UnixNano()), Timeout: time.Second})
	cs, _ := caps.NewShared(st, nil, time.Hour)
	raw := rawClient(t)
	week := 7 * day
	ttl := func(id string) time.Duration {
		t.Helper()
		st.Flush(hangGuard)
		d, err := raw.TTL(ctx, st.CapsKey(id)).Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, tt := range []struct {
		name string
		// back: the visitor comes back with its id; hit: and counts a
		// view then.
		back, hit bool
		min, max  time.Duration
	}{
		{"never back", false, false, time.Hour - time.Minute, time.Hour},
		{"back, counting nothing", true, false, week - time.Minute, week},
		{"back, counting", true, true, week - time.Minute, week},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id := strings.ReplaceAll(tt.name, " ", "-")
			first := cs.LoadShared(ctx, id)
			first.Hit("604800:invite", week)
			if err := first.Save(id, week, true); err != nil {
				t.Fatal(err)
			}
			if got := ttl(id); got < time.Hour-time.Minute || got > time.Hour {
				t.Fatalf("a new visitor's counts live %v, want an hour", got)
			}
			if tt.back {
				next := cs.LoadShared(ctx, id)
				if err := next.Renew(id, week); err != nil {
					t.Fatal(err)
				}
				if tt.hit {
					next.Hit("86400:promo", day)
					if err := next.Save(id, week, false); err != nil {
						t.Fatal(err)
					}
				}
			}
			if got := ttl(id); got < tt.min || got > tt.max {
				t.Errorf("the counts live %v, want %v to %v", got, tt.min, tt.max)
			}
			got := cs.LoadShared(ctx, id)
			if got.Dropped != "" || got.Count("604800:invite", week) != 1 || got.Count("86400:promo", day) != map[bool]int{true: 1}[tt.hit] {
				t.Errorf("counts after: dropped %q, invite %d, promo %d", got.Dropped, got.Count("604800:invite", week), got.Count("86400:promo", day))
			}
			if !tt.back {
				return
			}
			// Renewed once: a returning visitor's next load writes
			// nothing.
			saves := st.Saves.Load()
			if err := got.Renew(id, week); err != nil || !st.Flush(hangGuard) || st.Saves.Load() != saves {
				t.Errorf("renewed again: %v, %d saves", err, st.Saves.Load()-saves)
			}
		})
	}
}

// TestRedisDownAtStart: a store whose server does not answer is taken
// for lost at start, before a visitor comes: bespoke_seen_redis_up reads
// 0 for a process that never reached its server.
func TestRedisDownAtStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	st := newRedisStore(t, RedisConfig{URL: "redis://" + addr, Timeout: 50 * time.Millisecond})
	for deadline := time.Now().Add(10 * time.Second); st.Up(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the store still says its server is up")
		}
	}
	if st.Lost.Load() != 1 {
		t.Errorf("lost %d times", st.Lost.Load())
	}
}

// TestRedisACL: a Redis user with the rights OPERATIONS.md names saves
// with the write script, and passes Check; one without TTL, which the
// script calls on a stored state, is refused the script from a visitor's
// second save on: the saves fall back to plain SETs, said once, and
// Check names the script. Those saves failed, uncounted and unlogged.
func TestRedisACL(t *testing.T) {
	ctx := context.Background()
	addr := freeAddr()
	startOwnRedis(t, addr)
	admin := redis.NewClient(&redis.Options{Addr: addr})
	defer admin.Close()
	if err := admin.Do(ctx, "ACL", "SETUSER", "full", "on", ">pw", "~*", "+get", "+mget", "+set", "+ttl", "+ping", "+eval").Err(); err != nil {
		t.Skipf("ACL (Redis 6): %v", err)
	}
	if err := admin.Do(ctx, "ACL", "SETUSER", "nottl", "on", ">pw", "~*", "+get", "+mget", "+set", "+ping", "+eval").Err(); err != nil {
		t.Fatal(err)
	}
	var buf syncbuf.Buffer
	st := newRedisStore(t, RedisConfig{URL: "redis://full:pw@" + addr, Timeout: time.Second, Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	if err := st.Check(ctx); err != nil {
		t.Fatalf("Check with the documented rights: %v", err)
	}
	for i := range 2 {
		s, _ := st.Load(ctx, nil, "v")
		s.Shown(fmt.Sprint("item-", i))
		st.Save(ctx, nil, "v", s, false)
		s.Release()
		st.Flush(hangGuard)
	}
	if st.SaveErrors.Load() != 0 || st.noScript.Load() || buf.String() != "" {
		t.Fatalf("with the documented rights: %d write errors, script off %v, log %s", st.SaveErrors.Load(), st.noScript.Load(), &buf)
	}
	savesWithoutScripts(t, "redis://nottl:pw@"+addr)
	limited := newRedisStore(t, RedisConfig{URL: "redis://nottl:pw@" + addr, Timeout: time.Second})
	if err := limited.Check(ctx); err == nil || !strings.Contains(err.Error(), "write script") {
		t.Fatalf("Check without TTL: %v", err)
	}
}

// TestRedisRefusedSavesLogged: a full server (maxmemory, noeviction)
// refuses every save with OOM while loads go on: the refusal is counted
// and logged, once a minute, with Redis's reply. It was counted alone.
func TestRedisRefusedSavesLogged(t *testing.T) {
	ctx := context.Background()
	addr := freeAddr()
	startOwnRedis(t, addr)
	admin := redis.NewClient(&redis.Options{Addr: addr})
	defer admin.Close()
	if err := admin.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if err := admin.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	var buf syncbuf.Buffer
	st := newRedisStore(t, RedisConfig{URL: "redis://" + addr, Timeout: time.Second, Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	for i := range 3 {
		s, info := st.Load(ctx, nil, fmt.Sprint("v", i))
		if info.Failed() {
			t.Fatalf("load %d: %+v", i, info)
		}
		s.Shown("a")
		st.Save(ctx, nil, fmt.Sprint("v", i), s, false)
		s.Release()
		st.Flush(hangGuard)
	}
	if st.SaveErrors.Load() != 3 || !st.Up() {
		t.Fatalf("%d write errors, up %v", st.SaveErrors.Load(), st.Up())
	}
	if n := strings.Count(buf.String(), "Redis refuses seen saves"); n != 1 || !strings.Contains(buf.String(), "OOM") {
		t.Fatalf("%d warnings, want 1 naming OOM: %s", n, &buf)
	}
}

// TestRedisCapsLoadsTimeOut: a route whose rules cap but keep no
// seen-filter loads caps alone; they time out, are counted, and after
// three in a row the server is taken for lost, as seen-states' loads do.
// Each waited the whole timeout, uncounted, for as long as it lasted.
func TestRedisCapsLoadsTimeOut(t *testing.T) {
	addr, _ := silentServer(t)
	st := newRedisStore(t, RedisConfig{URL: "redis://" + addr, Timeout: 30 * time.Millisecond, SaveTimeout: time.Hour})
	for i := range 3 {
		if _, err := st.LoadCaps(context.Background(), "v1"); err == nil {
			t.Fatalf("load %d answered", i)
		}
	}
	if st.Timeouts.Load() != 3 || st.Up() || st.Lost.Load() != 1 {
		t.Fatalf("%d timeouts, up %v, lost %d times", st.Timeouts.Load(), st.Up(), st.Lost.Load())
	}
	// Lost: loads answer at once, without asking.
	if _, err := st.LoadCaps(context.Background(), "v1"); !errors.Is(err, errNoAnswer) {
		t.Fatalf("a load while lost: %v", err)
	}
}

// TestRedisComesBackThroughASlowLink: a server whose new connections take
// longer to set up (dial, HELLO, PING: three round trips) than a load's
// timeout, but whose answers on a connection come within it, is taken
// back after an outage. The probe gave a new connection's first PING the
// load's timeout, and the store stayed down for good.
func TestRedisComesBackThroughASlowLink(t *testing.T) {
	addr := freeAddr()
	stop := startOwnRedis(t, addr)
	link := delayLink(t, addr, 8*time.Millisecond) // 16 ms a round trip
	st := newRedisStore(t, RedisConfig{URL: "redis://" + link, Timeout: 25 * time.Millisecond, Retry: 100 * time.Millisecond})
	ctx := context.Background()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, info := st.Load(ctx, nil, "v"); !info.Failed() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the store never loaded through the link")
		}
	}
	stop()
	st.Load(ctx, nil, "v") // refused: lost
	if st.Up() {
		t.Fatal("the store is up with its server gone")
	}
	startOwnRedis(t, addr)
	for deadline := time.Now().Add(10 * time.Second); !st.Up() && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
	}
	if !st.Up() {
		t.Fatal("the server is back, the store still takes it for lost")
	}
}

// delayLink is a TCP relay to addr that holds each piece of data d in
// each direction, and returns its address.
func delayLink(t *testing.T, addr string, d time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	relay := func(dst, src net.Conn) {
		defer dst.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				time.Sleep(d)
				if _, err := dst.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			go relay(s, c)
			go relay(c, s)
		}
	}()
	return ln.Addr().String()
}

// TestRefusedSavesLoggedAfterTheClockWentBack: saves Redis refuses (OOM,
// READONLY) are logged once a minute; a line after one logged before the
// clock was set back (NTP, by hand) is logged too: the minute was
// counted on the wall clock, and a clock set back an hour kept every
// refusal silent for that hour.
func TestRefusedSavesLoggedAfterTheClockWentBack(t *testing.T) {
	for _, tc := range []struct {
		name    string
		lastLog time.Duration // from now
		logged  bool
	}{
		{"logged just now", 0, false},
		{"logged a minute ago", -refusedEvery, true},
		{"logged before the clock was set back an hour", time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf syncbuf.Buffer
			s := &RedisStore{log: slog.New(slog.NewTextHandler(&buf, nil))}
			s.target.Options.Addrs = []string{"127.0.0.1:6379"}
			s.refusedWarned.Store(time.Now().Add(tc.lastLog).UnixNano())
			s.refusedSave(errors.New("OOM command not allowed when used memory > 'maxmemory'"))
			if got := strings.Contains(buf.String(), "Redis refuses seen saves"); got != tc.logged {
				t.Errorf("logged %v, want %v: %q", got, tc.logged, buf.String())
			}
		})
	}
}

// TestRedisRefusesCommands: a Redis user that may connect and PING but
// not run what the store runs. One that may not read the store's keys
// (an ACL key pattern for another prefix) is taken for lost once, stays
// lost while the probe's PING answers, and comes back on its own once
// the ACL allows the keys; one that may read but not write keeps its
// loads, its refused saves counted and logged once a minute. Both
// flapped: each load or save took the server for lost and each probe's
// PING took it back, two lines in the log per request.
func TestRedisRefusesCommands(t *testing.T) {
	ctx := context.Background()
	addr := freeAddr()
	startOwnRedis(t, addr)
	admin := redis.NewClient(&redis.Options{Addr: addr})
	defer admin.Close()
	for _, tt := range []struct {
		name, user string
		acl        []any // the user's rights, after its name and password
		loads      bool  // whether its loads are answered
		fixed      []any // rights that let it load, for the recovery
	}{
		{"keys of another prefix", "otherkeys", []any{"~other:*", "+get", "+mget", "+set", "+ttl", "+ping", "+eval"}, false, []any{"~*"}},
		{"no write", "readonly", []any{"~*", "+get", "+mget", "+ttl", "+ping"}, true, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := admin.Do(ctx, append([]any{"ACL", "SETUSER", tt.user, "on", ">pw"}, tt.acl...)...).Err(); err != nil {
				t.Skipf("ACL (Redis 6): %v", err)
			}
			var buf syncbuf.Buffer
			st := newRedisStore(t, RedisConfig{URL: "redis://" + tt.user + ":pw@" + addr, Timeout: time.Second, Retry: 5 * time.Millisecond,
				Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
			const requests = 10
			for i := range requests {
				s, info := st.Load(ctx, nil, fmt.Sprint("v", i))
				if info.Failed() == tt.loads {
					t.Fatalf("load %d: %+v", i, info)
				}
				s.Shown("a")
				st.Save(ctx, nil, fmt.Sprint("v", i), s, false)
				s.Release()
				st.Flush(hangGuard)
				time.Sleep(20 * time.Millisecond) // four probes' time
			}
			log := buf.String()
			if tt.loads {
				if !st.Up() || st.Lost.Load() != 0 || st.SaveErrors.Load() != requests {
					t.Errorf("up %v, lost %d times, %d write errors; want up, never lost, %d", st.Up(), st.Lost.Load(), st.SaveErrors.Load(), requests)
				}
				if n := strings.Count(log, "Redis refuses seen saves"); n != 1 || !strings.Contains(log, "NOPERM") {
					t.Errorf("%d warnings of refused saves, want 1 naming NOPERM:\n%s", n, log)
				}
			} else {
				if st.Up() || st.Lost.Load() != 1 || st.Reconnects.Load() != 0 {
					t.Errorf("up %v, lost %d times, back %d times; want lost once for good", st.Up(), st.Lost.Load(), st.Reconnects.Load())
				}
				if n := strings.Count(log, "Redis seen store lost"); n != 1 || !strings.Contains(log, "NOPERM") {
					t.Errorf("%d outage warnings, want 1 naming NOPERM:\n%s", n, log)
				}
			}
			if n := strings.Count(log, "\n"); n > 2 {
				t.Errorf("%d lines logged for %d requests:\n%s", n, requests, log)
			}
			if tt.fixed == nil {
				return
			}
			if err := admin.Do(ctx, append([]any{"ACL", "SETUSER", tt.user}, tt.fixed...)...).Err(); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(hangGuard); !st.Up(); time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the store did not come back once the ACL allowed its keys")
				}
			}
			if _, info := st.Load(ctx, nil, "v0"); info.Failed() {
				t.Fatalf("a load once the ACL allows it: %+v", info)
			}
		})
	}
}

// TestRedisForeignValues: a visitor's keys holding what the store did
// not write there (another application's hash or list, bytes of another
// format) are read as no state and replaced by the next save, whichever
// load read them. A key of another type failed every load of the
// visitor (GET answers WRONGTYPE) and every save (the write script's
// GET too), logged as Redis refusing saves, for as long as it lived.
func TestRedisForeignValues(t *testing.T) {
	ctx := context.Background()
	raw := rawClient(t)
	for _, v := range []struct {
		name  string
		write func(key string) error
	}{
		{"hash", func(key string) error { return raw.HSet(ctx, key, "f", "v").Err() }},
		{"list", func(key string) error { return raw.RPush(ctx, key, "a", "b").Err() }},
		{"bytes", func(key string) error { return raw.Set(ctx, key, "\x00garbage\xff", time.Hour).Err() }},
		{"empty", func(key string) error { return raw.Set(ctx, key, "", time.Hour).Err() }},
	} {
		for _, how := range []string{"Load", "LoadWithCaps", "LoadCaps"} {
			t.Run(v.name+"/"+how, func(t *testing.T) {
				var buf syncbuf.Buffer
				st := newRedisStore(t, RedisConfig{Timeout: time.Second, Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
				const id = "v"
				for _, key := range []string{st.SeenKey(id), st.CapsKey(id)} {
					if err := v.write(key); err != nil {
						t.Fatal(err)
					}
				}
				switch how {
				case "LoadCaps":
					b, err := st.LoadCaps(ctx, id)
					if err != nil {
						t.Fatalf("LoadCaps: %v", err)
					}
					if err := st.SaveCaps(id, []byte("counts"), time.Hour, b, func(cur []byte) []byte { return []byte("counts") }); err != nil {
						t.Fatal(err)
					}
				default:
					var s *Set
					var info LoadInfo
					var err error
					if how == "Load" {
						s, info = st.Load(ctx, nil, id)
					} else {
						var b []byte
						s, info, b, err = st.LoadWithCaps(ctx, nil, id)
						if err == nil {
							err = st.SaveCaps(id, []byte("counts"), time.Hour, b, func(cur []byte) []byte { return []byte("counts") })
						}
					}
					if info.Failed() || err != nil {
						t.Fatalf("%s: %+v, %v", how, info, err)
					}
					s.Shown("a")
					if err := st.Save(ctx, nil, id, s, false); err != nil {
						t.Fatalf("Save: %v", err)
					}
					s.Release()
				}
				if !st.Flush(hangGuard) {
					t.Fatal("not written")
				}
				if how == "Load" && st.Invalid.Load() != 1 {
					t.Errorf("%d invalid states counted, want 1", st.Invalid.Load())
				}
				if st.Errors.Load() != 0 || st.SaveErrors.Load() != 0 || !st.Up() || buf.String() != "" {
					t.Fatalf("%d load errors, %d write errors, up %v; log %s", st.Errors.Load(), st.SaveErrors.Load(), st.Up(), &buf)
				}
				if b, err := st.LoadCaps(ctx, id); how != "Load" && (err != nil || string(b) != "counts") {
					t.Errorf("the counts saved over it: %q, %v", b, err)
				}
				if how != "LoadCaps" {
					s, info := st.Load(ctx, nil, id)
					defer s.Release()
					if info.Source != SourceRedis || !s.Seen("a") {
						t.Errorf("the state saved over it: %+v, seen %v", info, s.Seen("a"))
					}
				}
			})
		}
	}
}

// TestRedisCloseWhileHung: closing the store while Redis does not answer
// (stopped, SIGSTOP) ends within its bound, and the saves still queued
// then are counted as dropped, not as saves Redis refused: each failed
// on the closed client and was logged as "Redis refuses seen saves",
// a warning about the server at every shutdown during an outage.
func TestRedisCloseWhileHung(t *testing.T) {
	addr, _ := silentServer(t)
	var buf syncbuf.Buffer
	st, err := NewRedisStore(RedisConfig{URL: "redis://" + addr, Timeout: 10 * time.Millisecond, SaveTimeout: 50 * time.Millisecond,
		Writers: 1, Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	const saves = 40 * maxBatch // 40 writes of 50 ms, more than Close waits
	queueSaves(t, st, saves)
	closeWithin(t, st, "Close did not return")
	timeouts, dropped, failed := st.SaveTimeouts.Load(), st.DroppedSaves.Load(), st.SaveErrors.Load()
	if st.Saves.Load()+timeouts+dropped+failed != saves || dropped == 0 || failed != 0 {
		t.Errorf("of %d saves: %d written, %d timed out, %d dropped, %d failed; want each counted once, those left at Close dropped", saves, st.Saves.Load(), timeouts, dropped, failed)
	}
	if strings.Contains(buf.String(), "refuses") {
		t.Errorf("saves dropped at Close logged as refused by Redis:\n%s", &buf)
	}
}

// TestRedisCloseWhileLost: closing a store whose server is lost (it
// stopped answering, SIGSTOP) does not wait for the writes queued for
// it, which can only time out: Close waited SaveTimeout and a second
// (50 times seen.timeout), holding bespoke's exit that long after its
// shutdown grace. The queued saves are dropped.
func TestRedisCloseWhileLost(t *testing.T) {
	addr, _ := silentServer(t)
	st, err := NewRedisStore(RedisConfig{URL: "redis://" + addr, Timeout: 10 * time.Millisecond, SaveTimeout: time.Hour, Writers: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range lostAfterTimeouts {
		st.Load(context.Background(), nil, fmt.Sprint("v", i))
	}
	if st.Up() {
		t.Fatal("the server was not taken for lost")
	}
	const saves = 3 * maxBatch
	queueSaves(t, st, saves)
	closeWithin(t, st, "Close waited for the writes to a lost server")
	if n := st.DroppedSaves.Load(); n != saves {
		t.Errorf("%d saves dropped, want %d", n, saves)
	}
}

// queueSaves saves n visitors' states, each showing one item.
func queueSaves(t *testing.T, st *RedisStore, n int) {
	t.Helper()
	for i := range n {
		s := st.l.newSet(st.l.nowSec())
		s.Shown("a")
		if err := st.Save(context.Background(), nil, fmt.Sprint("v", i), s, false); err != nil {
			t.Fatal(err)
		}
		s.Release()
	}
}

// closeWithin closes st, failing with why if it has not returned after
// hangGuard.
func closeWithin(t *testing.T, st *RedisStore, why string) {
	t.Helper()
	start := time.Now()
	done := make(chan struct{})
	go func() { st.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(hangGuard):
		t.Fatal(why)
	}
	t.Logf("Close took %v", time.Since(start).Round(time.Millisecond))
}

// A Redis beside the proxy is often reached by its Unix socket.
func TestRedisUnixSocket(t *testing.T) {
	redisAddr(t) // skips, or fails under CI, without redis-server
	dir := t.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	cmd := exec.Command("redis-server", "--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatal("redis-server exited")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not open its socket")
		}
	}

	ctx := context.Background()
	clk := newClock()
	st := newRedisStore(t, RedisConfig{URL: "unix://" + sock + "?db=3", Params: Params{Now: clk.Now, Window: 7 * day}})
	if got := st.Addrs(); !slices.Equal(got, []string{sock}) {
		t.Errorf("Addrs() = %q, want the socket", got)
	}
	s, _ := st.Load(ctx, nil, "v1")
	s.Shown("sku-1")
	if err := st.Save(ctx, nil, "v1", s, false); err != nil {
		t.Fatal(err)
	}
	if !st.Flush(2 * time.Second) {
		t.Fatal("the save was not written")
	}
	if s, info := st.Load(ctx, nil, "v1"); info.Source != SourceRedis || !s.Seen("sku-1") {
		t.Errorf("load after save: %+v", info)
	}
	raw := redis.NewClient(&redis.Options{Network: "unix", Addr: sock, DB: 3})
	defer raw.Close()
	if n, err := raw.Exists(ctx, st.SeenKey("v1")).Result(); n != 1 || err != nil {
		t.Errorf("the state is not in database 3 of the socket's server: %d, %v", n, err)
	}
	if err := st.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
