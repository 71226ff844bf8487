package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// gcHeadroom is how much the heap may grow past what is live before the
// garbage collector runs, at least, in bespoke serve (unless GOGC is
// set). What a proxy keeps live is small: pooled buffers and edit maps,
// a few MB (the plugins' code and memory live outside the Go heap). At
// Go's default target (GOGC=100: grow by what is live) the collector ran
// every 4-10 MB allocated, every 200 to 500 requests of the benchmark's
// page, for 3% of the CPU in collections and more in write barriers and
// assists; with 32 MB of headroom it runs about a fifth as often, and
// under load the proxy's CPU per request fell by about 5% (see
// RATIONALE.md, "Why does bespoke serve tune the garbage collector?").
// Once the live heap is larger than the headroom (many open connections)
// the target is Go's default again, so that the heap's peak stays within
// twice what is live, as without tuning.
const gcHeadroom = 32 << 20

// gcPercentFor returns the GOGC that lets a heap of live bytes grow by
// gcHeadroom, or by live when that is more.
func gcPercentFor(live uint64) int {
	if live == 0 || live >= gcHeadroom {
		return 100
	}
	return int(min(gcHeadroom*100/live, 1000))
}

// tuneGC keeps the collector's target at gcPercentFor the live heap,
// checked every period, until ctx is done; it does nothing when getenv
// says GOGC was set (the runtime read it: the operator's choice stands).
// GOMEMLIMIT, when set, still caps the heap.
func tuneGC(ctx context.Context, getenv func(string) string, period time.Duration) {
	if getenv("GOGC") != "" {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	set := func() {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			debug.SetGCPercent(gcPercentFor(sample[0].Value.Uint64()))
		}
	}
	set()
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			set()
		}
	}
}
