package load

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func page(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, "<!DOCTYPE html><title>t</title><p>hello</p>")
}

func TestClosedLoopCountsAndVaries(t *testing.T) {
	var seen sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get("X-Req"), r.Header.Get("X-Fixed"))
		page(w, r)
	}))
	defer srv.Close()
	res, err := ClosedLoop(context.Background(), Config{
		URL:      srv.URL + "/p",
		Header:   http.Header{"X-Fixed": {"yes"}},
		Vary:     func(i uint64, b []byte) []byte { return AppendHeader(b, "X-Req", strconv.FormatUint(i, 10)) },
		Conns:    4,
		Duration: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK == 0 || res.Failed() != 0 {
		t.Fatalf("ok %d, failed %d (%s)", res.OK, res.Failed(), res.FirstError)
	}
	if res.Throughput <= 0 || res.Latency.Count != res.OK {
		t.Fatalf("throughput %v, latency count %d for %d answers", res.Throughput, res.Latency.Count, res.OK)
	}
	for i := int64(0); i < res.Sent; i++ {
		v, ok := seen.Load(strconv.FormatInt(i, 10))
		if !ok || v != "yes" {
			t.Fatalf("request %d: not received with its headers (%v)", i, v)
		}
	}
	if want := int64(len(`<!DOCTYPE html><title>t</title><p>hello</p>`)) * res.OK; res.Bytes != want {
		t.Fatalf("bytes %d, want %d", res.Bytes, want)
	}
}

func TestChunkedAndCloseAndErrors(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) % 4 {
		case 0:
			w.WriteHeader(http.StatusBadGateway)
		case 1:
			w.Header().Set("Connection", "close")
			page(w, r)
		default:
			// Flushing twice forces a chunked body.
			io.WriteString(w, strings.Repeat("a", 5000))
			w.(http.Flusher).Flush()
			io.WriteString(w, strings.Repeat("b", 5000))
		}
	}))
	defer srv.Close()
	res, err := ClosedLoop(context.Background(), Config{URL: srv.URL + "/", Conns: 2, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 {
		t.Fatalf("transport errors: %d (%s)", res.Errors, res.FirstError)
	}
	if res.BadStatus == 0 || res.Statuses[http.StatusBadGateway] != res.BadStatus {
		t.Fatalf("502s not counted: %s", res.StatusSummary())
	}
	if res.OK < 2*res.BadStatus {
		t.Fatalf("ok %d, bad %d", res.OK, res.BadStatus)
	}
}

func TestTransportErrorsAreCounted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(page))
	url := srv.URL + "/"
	srv.Close()
	res, err := OpenLoop(context.Background(), Config{URL: url, Conns: 2, Duration: 100 * time.Millisecond, Rate: 100})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != res.Sent || res.Errors == 0 || res.FirstError == "" {
		t.Fatalf("sent %d, errors %d (%q)", res.Sent, res.Errors, res.FirstError)
	}
}

// retry runs check up to three times and fails with its last error: for
// the one loose bound on a median (TestOpenLoopChargesStallsFromIntendedTime),
// which a test binary sharing two cores with others, starved for a few
// hundred milliseconds, could miss.
func retry(t *testing.T, check func() error) {
	t.Helper()
	var err error
	for range 3 {
		if err = check(); err == nil {
			return
		}
		t.Logf("retrying: %v", err)
	}
	t.Fatal(err)
}

// TestOpenLoopHonoursRate checks that an open-loop run sends exactly
// rate × duration requests and never one before its time: the k-th
// request the server sees arrives no earlier than k / rate after the run
// was asked for, which a burst would break at once. A slow machine can
// only make requests later, so the check holds however busy it is; how
// late they are is the latency, which is checked for sense only.
func TestOpenLoopHonoursRate(t *testing.T) {
	var mu sync.Mutex
	var times []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		page(w, r)
	}))
	defer srv.Close()
	const rate = 400.0
	t0 := time.Now()
	res, err := OpenLoop(context.Background(), Config{URL: srv.URL + "/", Conns: 8, Duration: time.Second, Rate: rate})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != int64(rate) || res.OK != res.Sent || int64(len(times)) != res.Sent {
		t.Fatalf("sent %d, ok %d, received %d; want %v", res.Sent, res.OK, len(times), rate)
	}
	// Arrivals in order; eight connections may reorder neighbours, not
	// bring a request forward past its due time.
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	for k, at := range times {
		if due := time.Duration(float64(k) / rate * float64(time.Second)); at.Sub(t0) < due {
			t.Fatalf("request %d arrived %v into the run, before it was due at %v: sent in a burst", k, at.Sub(t0), due)
		}
	}
	if res.Latency.Count != res.OK || res.Latency.P50 <= 0 || res.Latency.P50 > res.Latency.Max {
		t.Fatalf("latency of %d answers: p50 %v, max %v", res.Latency.Count, res.Latency.P50, res.Latency.Max)
	}
}

// A server that pauses every request for 100 ms once, like a long garbage
// collection, must show the pause in the p99 of an open-loop run: the
// requests due during the pause queue up and are charged the wait. The
// rate is low and the connections many, so that even a loaded machine
// clears the backlog at once and only the stall shows.
func TestOpenLoopChargesStallsFromIntendedTime(t *testing.T) {
	retry(t, func() error { return stallOnce(t) })
}

func stallOnce(t *testing.T) error {
	var gate sync.RWMutex
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 30 {
			gate.Lock()
			time.Sleep(100 * time.Millisecond)
			gate.Unlock()
		} else {
			gate.RLock()
			//lint:ignore SA2001 waiting for the stall to end is the point
			gate.RUnlock()
		}
		page(w, r)
	}))
	defer srv.Close()
	// One connection: during the stall, the requests due wait in the
	// generator, not at the server (with several connections they were
	// sent and waited there, and the test passed with the waits timed
	// from the actual send).
	res, err := OpenLoop(context.Background(), Config{URL: srv.URL + "/", Conns: 1, Duration: time.Second, Rate: 100})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed() != 0 {
		t.Fatalf("%d failed: %s", res.Failed(), res.FirstError)
	}
	lat := res.Latency
	t.Logf("p50 %v p90 %v p99 %v max %v", lat.P50, lat.P90, lat.P99, lat.Max)
	if lat.Max < 95*time.Millisecond {
		t.Fatalf("max %v: the 100 ms stall is missing", lat.Max)
	}
	// About 10 requests were due during the stall (10% of 100): the p99
	// must be well into it. Timed from the actual send, only the one
	// request in flight would have waited (the others queued behind it,
	// unsent), and the p99 would be short.
	if lat.P99 < 60*time.Millisecond {
		t.Fatalf("p99 %v: requests due during the stall were not charged the wait", lat.P99)
	}
	if over := countOver(res, 50*time.Millisecond); over < 4 {
		t.Fatalf("%d requests over 50 ms, want the ~5 due in the first half of the stall", over)
	}
	// The stall held the ~10 requests due during it, not the run: the
	// median is under the stall's length. A loose bound, since a starved
	// test binary delays every request; retried for that.
	if lat.P50 >= 100*time.Millisecond {
		return fmt.Errorf("p50 %v: the stall leaked into the median", lat.P50)
	}
	return nil
}

func countOver(r *Result, d time.Duration) int64 {
	var n int64
	for _, b := range r.Hist.Distribution() {
		if time.Duration(b.From)*time.Microsecond >= d {
			n += b.Count
		}
	}
	return n
}

func TestOpenLoopStopsOnCancel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(page))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := OpenLoop(ctx, Config{URL: srv.URL + "/", Conns: 2, Duration: time.Minute, Rate: 100})
	if err == nil {
		t.Fatal("no error after cancel")
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("took %v to stop", d)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{URL: "https://127.0.0.1/", Duration: time.Second},
		{URL: "http://127.0.0.1/", Duration: 0},
		{URL: "::", Duration: time.Second},
	} {
		if _, err := ClosedLoop(context.Background(), cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
	if _, err := OpenLoop(context.Background(), Config{URL: "http://127.0.0.1:1/", Duration: time.Second}); err == nil {
		t.Error("open loop without a rate: no error")
	}
}

func ExampleAppendHeader() {
	b := AppendHeader(nil, "Cookie", "seg=club")
	fmt.Printf("%q\n", b)
	// Output: "Cookie: seg=club\r\n"
}
