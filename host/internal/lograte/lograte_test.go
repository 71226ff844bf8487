package lograte

import (
	"sync"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type step struct {
		ms   int
		ok   bool
		left int
	}
	tests := []struct {
		name  string
		l     *Limiter
		steps []step
	}{
		{"zero lets all through", &Limiter{}, []step{{0, true, 0}, {0, true, 0}, {1, true, 0}}},
		{"burst then held back, counted on the next", &Limiter{Period: time.Second, Burst: 2}, []step{
			{0, true, 0}, {10, true, 0}, {20, false, 0}, {999, false, 0}, {1000, true, 2}, {1001, false, 0}, {1010, true, 1}, {1011, false, 0}}},
		// The end of one period and the start of the next let through
		// twice the burst in less than a period.
		{"no more than the burst in any period", &Limiter{Period: time.Second, Burst: 2}, []step{
			{900, true, 0}, {950, true, 0}, {1000, false, 0}, {1899, false, 0}, {1900, true, 2}, {1949, false, 0}, {1950, true, 1}}},
		{"a period starts with the first line after the last", &Limiter{Period: time.Second, Burst: 1}, []step{
			{0, true, 0}, {5000, true, 0}, {5500, false, 0}, {6000, true, 1}}},
		{"a clock that went back starts a period", &Limiter{Period: time.Second, Burst: 1}, []step{
			{5000, true, 0}, {4000, true, 0}, {4100, false, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, s := range tt.steps {
				ok, left := tt.l.Allow(at(s.ms))
				if ok != s.ok || left != s.left {
					t.Fatalf("step %d (%d ms): %v, left_out %d; want %v, %d", i, s.ms, ok, left, s.ok, s.left)
				}
			}
		})
	}
}

// TestLimiterConcurrent: lines from many goroutines are each let through
// or counted once.
func TestLimiterConcurrent(t *testing.T) {
	l := &Limiter{Period: time.Hour, Burst: 10}
	now := time.Now()
	var mu sync.Mutex
	through := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				if ok, _ := l.Allow(now); ok {
					mu.Lock()
					through++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if through != 10 {
		t.Fatalf("%d lines through, want 10", through)
	}
	if ok, left := l.Allow(now.Add(time.Hour)); !ok || left != 7990 {
		t.Fatalf("next period: %v, left_out %d; want true, 7990", ok, left)
	}
}

func TestSetKindsApart(t *testing.T) {
	s := &Set{Period: time.Minute, Burst: 1}
	now := time.Now()
	if ok, _ := s.Allow("a", now); !ok {
		t.Fatal("first a held back")
	}
	if ok, _ := s.Allow("a", now); ok {
		t.Fatal("second a let through")
	}
	if ok, _ := s.Allow("b", now); !ok {
		t.Fatal("b held back by a's flood")
	}
	if ok, left := s.Allow("a", now.Add(time.Minute)); !ok || left != 1 {
		t.Fatalf("a after a minute: %v, %d", ok, left)
	}
}
