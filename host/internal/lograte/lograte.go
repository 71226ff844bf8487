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

// Limiter lets at most Burst lines through in any Period (a line goes
// when the Burst-th line before it is a Period old), and counts those it
// holds back: the next line let through reports that count (logged as
// left_out). A fault that starts is logged at once. The zero Limiter
// lets every line through. It is safe for concurrent use.
//
// Periods that start with their first line, which it kept before, let
// twice Burst through in less than a Period: a Period's last lines and
// the next one's first.
type Limiter struct {
	Period time.Duration
	Burst  int

	mu    sync.Mutex
	times []time.Time // the last Burst lines let through, a ring
	i     int         // where the oldest is, once it is full
	left  int         // lines held back since the last one let through
}

// Allow reports whether a line may be written at now and, when it may,
// how many were held back since the last one written.
func (l *Limiter) Allow(now time.Time) (ok bool, leftOut int) {
	if l.Period <= 0 || l.Burst <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case len(l.times) < l.Burst:
		l.times = append(l.times, now)
	case now.Sub(l.times[l.i]) >= l.Period || now.Before(l.times[l.i]): // (a clock that went back: let it through)
		l.times[l.i] = now
		l.i = (l.i + 1) % l.Burst
	default:
		l.left++
		return false, 0
	}
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
