package main

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"
)

// The micro-benchmarks report absolute figures (MB/s, µs), and a shared
// machine's speed moves under them: the same benchmark on the same code
// has measured twice as slow in one package's minutes of a run as an hour
// later. speedProbe is how the report tells such a spell from a change:
// the harness runs it before and after each package (nothing else runs
// then), and a package whose probes took much longer than the run's
// median ran while the machine was slow.

// probeText is the bytes the probe scans: markup-like text (tags,
// attributes, quoted values, runs of text), made once from a fixed seed,
// so that every probe does the same work.
var probeText = func() []byte {
	const parts = `<li class="card" data-id="p-1">` + `text and more text ` + `</li>` + `<a href=/x>` + "\n  "
	b := make([]byte, 0, 64<<10)
	x := uint64(0x9e3779b97f4a7c15)
	for len(b) < cap(b)-64 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		i := int(x % uint64(len(parts)-8))
		b = append(b, parts[i:i+8]...)
	}
	return b
}()

// probePasses is how many times one run scans probeText: about 3 ms on
// a 2-core cloud VM.
const probePasses = 24

// probeOnce scans probeText probePasses times the way a tokenizer does
// (a branch per byte on its class, a state, a running hash of what it
// reads) and returns how long that took.
func probeOnce() time.Duration {
	t0 := time.Now()
	var h uint64
	for range probePasses {
		inTag, quoted := false, byte(0)
		for _, c := range probeText {
			switch {
			case quoted != 0:
				if c == quoted {
					quoted = 0
				}
			case c == '<':
				inTag = true
			case c == '>':
				inTag = false
			case inTag && (c == '"' || c == '\''):
				quoted = c
			}
			h = h*31 + uint64(c)
			if inTag {
				h ^= h >> 29
			}
		}
	}
	d := time.Since(t0)
	runtime.KeepAlive(h) // the work's result is kept, so the work is done
	return d
}

// speedProbe is the median time of seven probe runs, in nanoseconds.
func speedProbe() float64 {
	var ts [7]time.Duration
	for i := range ts {
		ts[i] = probeOnce()
	}
	slices.Sort(ts[:])
	return float64(ts[len(ts)/2])
}

// slowSpell is the probe ratio from which a package is reported as having
// run in a slow spell of the machine.
const slowSpell = 1.25

// slowdown is how much slower than usual the machine ran while the
// package whose path ends in pkgSuffix ran: the longer of its two probes
// (before and after it) over the median of the run's probes; 0 when
// unknown.
func (m *microResult) slowdown(pkgSuffix string) float64 {
	if m == nil || m.ProbeMedian <= 0 {
		return 0
	}
	for _, p := range m.Packages {
		if pkgSuffix != "" && strings.HasSuffix(p.Pkg, pkgSuffix) {
			if p.ProbeBefore <= 0 || p.ProbeAfter <= 0 {
				return 0
			}
			return max(p.ProbeBefore, p.ProbeAfter) / m.ProbeMedian
		}
	}
	return 0
}

// spellNote is what a goal read from the package pkg's benchmarks says
// of the machine's speed then: "" when it ran at its usual speed.
func (m *microResult) spellNote(pkg string) string {
	if f := m.slowdown(pkg); f >= slowSpell {
		return fmt.Sprintf(" (ran in a slow spell: the speed probe took %.2f× its median)", f)
	}
	return ""
}
