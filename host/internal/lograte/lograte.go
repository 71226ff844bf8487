// Package lograte bounds how often log lines of one kind are written. A
// fault that comes with every request (a plugin that traps, an origin
// that is down, a page too large to rewrite) would otherwise write a
// line per request, at the rate of the traffic, on top of the access
// log; its metrics count every occurrence, and a few lines name it.
package lograte

import (
	"sync"
	"time"
)

// Limiter lets at most Burst lines through in each Period and counts
// those it holds back: the next line let through reports that count
// (logged as left_out). A Period starts with the first line after the
// last one ended, so a fault that starts is logged at once. The zero
// Limiter lets every line through. It is safe for concurrent use.
type Limiter struct {
	Period time.Duration
	Burst  int

	mu    sync.Mutex
	start time.Time // when the current period started
	n     int       // lines let through in it
	left  int       // lines held back since the last one let through
}

// Allow reports whether a line may be written at now and, when it may,
// how many were held back since the last one written.
func (l *Limiter) Allow(now time.Time) (ok bool, leftOut int) {
	if l.Period <= 0 || l.Burst <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.start.IsZero() || now.Sub(l.start) >= l.Period || now.Before(l.start) {
		l.start, l.n = now, 0
	}
	if l.n >= l.Burst {
		l.left++
		return false, 0
	}
	l.n++
	leftOut, l.left = l.left, 0
	return true, leftOut
}

// Set is a Limiter per kind of line, each with the Set's Period and
// Burst: one kind that floods does not hold back the others. Kinds are
// the program's own constants, so a Set stays small. The zero Set lets
// every line through.
type Set struct {
	Period time.Duration
	Burst  int

	m sync.Map // kind → *Limiter
}

// Allow is Limiter.Allow for the lines of kind.
func (s *Set) Allow(kind string, now time.Time) (ok bool, leftOut int) {
	l, found := s.m.Load(kind)
	if !found {
		l, _ = s.m.LoadOrStore(kind, &Limiter{Period: s.Period, Burst: s.Burst})
	}
	return l.(*Limiter).Allow(now)
}
