package wire

import (
	"sync"
	"sync/atomic"
	"time"
)

// workers run the in-process upstream's handlers, each request on a
// goroutine of its own, and keep a goroutine that served one for the
// next. A new goroutine starts with a small stack, and handlers behind a
// proxy run deep (Caddy's reverse_proxy: a request clone, an httptrace,
// a transport's round trip): growing the stack, a copy each time it
// doubles, took 2.6% of the CPU of a request through Caddy with the
// bespoke directive. A goroutine that served a request keeps its grown
// stack, as net/http's connection goroutines do between the requests of
// a connection.
//
// At most maxIdle wait at once, each for idleFor; close ends them.
type workers struct {
	once, closed sync.Once
	jobs         chan func() // unbuffered: a send is taken by a waiting worker
	done         chan struct{}
	idle         atomic.Int32
}

const (
	maxIdle = 64
	idleFor = 30 * time.Second
)

func (ws *workers) init() {
	ws.once.Do(func() {
		ws.jobs = make(chan func())
		ws.done = make(chan struct{})
	})
}

// run runs f on a waiting worker, or on a new one.
func (ws *workers) run(f func()) {
	ws.init()
	select {
	case ws.jobs <- f:
	default:
		go ws.work(f)
	}
}

// work runs f, then the jobs it is handed, until it has waited idleFor,
// the pool has maxIdle waiting, or close.
func (ws *workers) work(f func()) {
	var idle *time.Timer
	for {
		f()
		f = nil // nothing of the last request stays reachable while it waits
		if ws.idle.Add(1) > maxIdle {
			ws.idle.Add(-1)
			return
		}
		if idle == nil {
			idle = time.NewTimer(idleFor)
		} else {
			idle.Reset(idleFor)
		}
		select {
		case f = <-ws.jobs:
			ws.idle.Add(-1)
		case <-idle.C:
			ws.idle.Add(-1)
			return
		case <-ws.done:
			ws.idle.Add(-1)
			idle.Stop()
			return
		}
	}
}

// close ends the waiting workers, and those that finish a request after
// it. run goes on starting a goroutine per request.
func (ws *workers) close() {
	ws.init()
	ws.closed.Do(func() { close(ws.done) })
}
