package main

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestGCPercentFor(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 100},              // nothing read yet
		{1 << 20, 1000},       // 1 MB live: capped
		{4 << 20, 800},        // 4 MB live: 32 MB of headroom
		{16 << 20, 200},       // 16 MB: 32 MB
		{32 << 20, 100},       // the headroom is what is live
		{300 << 20, 100},      // many connections: Go's default
		{gcHeadroom - 1, 100}, // just below: 100.0000x%
	} {
		if got := gcPercentFor(c.live); got != c.want {
			t.Errorf("gcPercentFor(%d) = %d, want %d", c.live, got, c.want)
		}
	}
}

// TestTuneGC: serve's tuning applies only when GOGC is not set; a GOGC of
// the operator's is left as the runtime read it.
func TestTuneGC(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	runtime.GC() // the live heap is known after a collection
	for _, env := range []string{"", "100", "off", "50"} {
		debug.SetGCPercent(100)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			tuneGC(ctx, func(k string) string {
				if k == "GOGC" {
					return env
				}
				return ""
			}, time.Millisecond)
			close(done)
		}()
		time.Sleep(20 * time.Millisecond)
		cancel()
		<-done
		got := debug.SetGCPercent(100)
		if tuned := got != 100; tuned != (env == "") {
			t.Errorf("GOGC=%q: the GC percent is %d", env, got)
		}
	}
}
