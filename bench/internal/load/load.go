// Package load is the HTTP load generator of the benchmark harness.
//
// It has two modes. ClosedLoop keeps N keep-alive connections busy for a
// duration and reports the requests per second the target sustained.
// OpenLoop offers a fixed rate whatever the target does and reports
// latency measured from each request's intended send time (start +
// i/rate), not from when a connection became free to send it: when the
// target stalls, the requests that should have gone out meanwhile are
// charged the wait, as a real visitor would be. Measuring from the actual
// send time instead (coordinated omission) hides stalls, because a
// stalled target also stops the generator from sending.
package load

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Vary appends the per-request header lines ("Name: value\r\n", see
// AppendHeader) for request number i. It must be deterministic in i and
// safe for concurrent use.
type Vary func(i uint64, dst []byte) []byte

// Config describes one load run.
type Config struct {
	// URL is the page to request; only http is supported.
	URL string
	// Header is sent with every request (in addition to Host).
	Header http.Header
	// Vary adds the headers that change from one request to the next.
	Vary Vary
	// Conns is the number of keep-alive connections; 0 means 32.
	Conns int
	// Duration is how long requests are sent.
	Duration time.Duration
	// Rate is the offered rate of OpenLoop in requests per second.
	Rate float64
	// Timeout bounds one request, dial included; 0 means 10s.
	Timeout time.Duration
	// Drain is how long OpenLoop waits, after the last intended send time,
	// for requests still queued or in flight; those left are counted as
	// errors. 0 means 10s.
	Drain time.Duration
}

// Result is what one run measured. Durations are in nanoseconds in JSON.
type Result struct {
	Mode string `json:"mode"`
	// Sent counts the requests attempted.
	Sent int64 `json:"sent"`
	// OK counts 2xx and 3xx responses.
	OK int64 `json:"ok"`
	// BadStatus counts responses of any other status.
	BadStatus int64 `json:"bad_status"`
	// Errors counts transport errors, timeouts and requests never sent
	// before the drain deadline.
	Errors int64 `json:"errors"`
	// Statuses counts responses by status code.
	Statuses map[int]int64 `json:"statuses"`
	// FirstError describes the first error or bad status seen.
	FirstError string `json:"first_error,omitempty"`
	// Bytes is the total of response bodies.
	Bytes int64 `json:"bytes"`
	// Elapsed is from the first send to the last response.
	Elapsed time.Duration `json:"elapsed_ns"`
	// Throughput is responses (any status) per second of Elapsed.
	Throughput float64 `json:"throughput_rps"`
	// Rate is the offered rate (OpenLoop only).
	Rate float64 `json:"rate_rps,omitempty"`
	// Latency summarizes the response times: from the intended send time
	// in OpenLoop, from the actual send in ClosedLoop.
	Latency Latency `json:"latency"`
	// Hist holds every latency in microseconds.
	Hist *hdrhistogram.Histogram `json:"-"`
}

// Latency is a summary of a latency histogram: how many requests, their
// mean, the 50th, 90th, 99th and 99.9th percentiles and the maximum.
type Latency struct {
	Count int64         `json:"count"`
	Mean  time.Duration `json:"mean_ns"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	P999  time.Duration `json:"p999_ns"`
	Max   time.Duration `json:"max_ns"`
}

// Failed is the number of requests that did not get a 2xx or 3xx answer.
func (r *Result) Failed() int64 { return r.BadStatus + r.Errors }

// newHist records microseconds from 1 µs to 100 s with 3 significant
// digits: 0.1% resolution at every scale.
func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, 100_000_000, 3) }

func summarize(h *hdrhistogram.Histogram) Latency {
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	return Latency{
		Count: h.TotalCount(),
		Mean:  time.Duration(h.Mean() * float64(time.Microsecond)),
		P50:   us(h.ValueAtQuantile(50)),
		P90:   us(h.ValueAtQuantile(90)),
		P99:   us(h.ValueAtQuantile(99)),
		P999:  us(h.ValueAtQuantile(99.9)),
		Max:   us(h.Max()),
	}
}

// recorder collects the outcome of requests from all workers.
type recorder struct {
	mu       sync.Mutex
	hist     *hdrhistogram.Histogram
	statuses map[int]int64
	first    string
	sent     atomic.Int64
	ok       atomic.Int64
	bad      atomic.Int64
	errs     atomic.Int64
	bytes    atomic.Int64
}

func newRecorder() *recorder {
	return &recorder{hist: newHist(), statuses: map[int]int64{}}
}

func (r *recorder) record(status int, n int64, err error, latency time.Duration) {
	r.sent.Add(1)
	r.bytes.Add(n)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err != nil:
		r.errs.Add(1)
		if r.first == "" {
			r.first = err.Error()
		}
		return
	case status >= 200 && status < 400:
		r.ok.Add(1)
	default:
		r.bad.Add(1)
		if r.first == "" {
			r.first = fmt.Sprintf("status %d", status)
		}
	}
	r.statuses[status]++
	us := latency.Microseconds()
	if us < 1 {
		us = 1
	}
	r.hist.RecordValue(min(us, r.hist.HighestTrackableValue()))
}

func (r *recorder) result(mode string, elapsed time.Duration) *Result {
	res := &Result{
		Mode:       mode,
		Sent:       r.sent.Load(),
		OK:         r.ok.Load(),
		BadStatus:  r.bad.Load(),
		Errors:     r.errs.Load(),
		Statuses:   r.statuses,
		FirstError: r.first,
		Bytes:      r.bytes.Load(),
		Elapsed:    elapsed,
		Latency:    summarize(r.hist),
		Hist:       r.hist,
	}
	if elapsed > 0 {
		res.Throughput = float64(res.OK+res.BadStatus) / elapsed.Seconds()
	}
	return res
}

// prepared is a validated Config.
type prepared struct {
	Config
	addr string
	head []byte
}

func prepare(cfg Config) (*prepared, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("load: %q is not an http:// URL", cfg.URL)
	}
	if cfg.Duration <= 0 {
		return nil, errors.New("load: Duration must be positive")
	}
	if cfg.Conns <= 0 {
		cfg.Conns = 32
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Drain <= 0 {
		cfg.Drain = 10 * time.Second
	}
	head, err := requestHead(http.MethodGet, u.RequestURI(), u.Host, cfg.Header)
	if err != nil {
		return nil, err
	}
	return &prepared{Config: cfg, addr: u.Host, head: head}, nil
}

// request returns request i's bytes, reusing buf.
func (p *prepared) request(i uint64, buf []byte) []byte {
	buf = append(buf[:0], p.head...)
	if p.Vary != nil {
		buf = p.Vary(i, buf)
	}
	return append(buf, "\r\n"...)
}

// ClosedLoop keeps cfg.Conns connections busy, each sending its next
// request as soon as the previous answer is read, for cfg.Duration. The
// result's Throughput is the maximum the target sustained at that
// concurrency; its latencies are from the actual send time and say little
// about what visitors would see at a lower load (use OpenLoop for that).
func ClosedLoop(ctx context.Context, cfg Config) (*Result, error) {
	p, err := prepare(cfg)
	if err != nil {
		return nil, err
	}
	rec := newRecorder()
	var next atomic.Uint64
	start := time.Now()
	end := start.Add(p.Duration)
	var wg sync.WaitGroup
	for range p.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newConn(p.addr, p.Timeout)
			defer c.close()
			var buf []byte
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				i := next.Add(1) - 1
				buf = p.request(i, buf)
				status, n, err := c.roundTrip(buf)
				rec.record(status, n, err, time.Since(t0))
				if err != nil {
					pause(ctx, 10*time.Millisecond) // no hot loop against a dead target
				}
			}
		}()
	}
	wg.Wait()
	return rec.result("closed", time.Since(start)), ctx.Err()
}

// OpenLoop sends request i at start + i/cfg.Rate for cfg.Duration, on the
// first of cfg.Conns connections that is free, and measures each latency
// from that intended time. Requests wait in a queue when every connection
// is busy, and the wait counts: a target that stalls for 100 ms shows it in
// the latency of every request that should have been sent during the
// stall. The connections must be enough for the rate (Little's law: rate ×
// latency); too few make the queue, and so the latencies, grow.
func OpenLoop(ctx context.Context, cfg Config) (*Result, error) {
	p, err := prepare(cfg)
	if err != nil {
		return nil, err
	}
	if p.Rate <= 0 {
		return nil, errors.New("load: OpenLoop needs a positive Rate")
	}
	total := int64(p.Duration.Seconds() * p.Rate)
	if total < 1 {
		total = 1
	}
	const maxQueued = 1 << 20
	interval := float64(time.Second) / p.Rate
	rec := newRecorder()
	queue := make(chan int64, min(total, maxQueued))
	// The connections are opened before the clock starts: a request's
	// latency is the target's, not a TCP handshake's (with 32
	// connections and a short run, the handshakes would be more than 1%
	// of the requests, inside the p99). One that fails to open is dialed
	// again by its first request, which is then charged for it.
	conns := make([]*conn, p.Conns)
	for i := range conns {
		conns[i] = newConn(p.addr, p.Timeout)
		conns[i].dial()
	}
	start := time.Now().Add(time.Millisecond)
	intended := func(i int64) time.Time { return start.Add(time.Duration(float64(i) * interval)) }
	drainBy := intended(total).Add(p.Drain)

	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.close()
			var buf []byte
			for i := range queue {
				if ctx.Err() != nil {
					continue
				}
				due := intended(i)
				if time.Now().After(drainBy) {
					rec.record(0, 0, errDropped, 0)
					continue
				}
				buf = p.request(uint64(i), buf)
				status, n, err := c.roundTrip(buf)
				rec.record(status, n, err, time.Since(due))
			}
		}()
	}

	// The dispatcher releases every request whose time has come, then
	// sleeps until the next one; a late wake-up releases a burst, and
	// their latencies still count from their own intended times.
	timer := time.NewTimer(0)
	defer timer.Stop()
dispatch:
	for i := int64(0); i < total; {
		now := time.Now()
		for i < total && !intended(i).After(now) {
			queue <- i
			i++
		}
		if i == total {
			break
		}
		timer.Reset(intended(i).Sub(now))
		select {
		case <-ctx.Done():
			break dispatch
		case <-timer.C:
		}
	}
	close(queue)
	wg.Wait()
	res := rec.result("open", time.Since(start))
	res.Rate = p.Rate
	return res, ctx.Err()
}

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// StatusSummary formats Statuses as "200×N, 502×M", sorted by code.
func (r *Result) StatusSummary() string {
	codes := make([]int, 0, len(r.Statuses))
	for c := range r.Statuses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	s := ""
	for _, c := range codes {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%d×%d", c, r.Statuses[c])
	}
	return s
}
