package server

import (
	"net"
	"sync"
	"sync/atomic"
)

// connLimit bounds the visitors' connections open at once
// (limits.max_connections). A proxy spends a file descriptor on each
// visitor's connection and another on the origin's that serves it: with
// the visitors' let in up to the process's limit (ulimit -n), the
// origin's could not be dialled, and the visitors got 502s. At the bound
// the listener accepts nothing, the connections waiting in the kernel's
// listen queue, and closes the idle keep-alive ones (see
// acceptRetry.full), as HAProxy's maxconn, derived from ulimit -n, does.
type connLimit struct {
	max int64
	// open are the places taken: the connections accepted and not yet
	// closed, and the place of the one the listener is accepting
	// (pending, 1 while it waits in Accept), taken first so that no
	// connection is accepted past max.
	open, pending, waits atomic.Int64
	// freed holds a token once a connection closed, for the accepting
	// goroutine waiting: one is enough, as it looks at open again.
	freed chan struct{}
}

func newConnLimit(max int) *connLimit {
	return &connLimit{max: int64(max), freed: make(chan struct{}, 1)}
}

// take takes a connection's place, waiting while max are open (full is
// called once for each wait); it reports false when done closes first.
// One goroutine takes at a time: the one that accepts.
func (c *connLimit) take(done <-chan struct{}, full func()) bool {
	waited := false
	for {
		if n := c.open.Load(); n < c.max {
			if c.open.CompareAndSwap(n, n+1) {
				return true
			}
			continue
		}
		if !waited {
			waited = true
			c.waits.Add(1)
			full()
		}
		select {
		case <-c.freed:
		case <-done:
			return false
		}
	}
}

// conns returns the connections open: the places taken, less the one
// the listener holds for the connection it waits for.
func (c *connLimit) conns() int64 { return c.open.Load() - c.pending.Load() }

// give gives a place back.
func (c *connLimit) give() {
	c.open.Add(-1)
	select {
	case c.freed <- struct{}{}:
	default:
	}
}

// limitedConn is a visitor's connection, which gives its place back
// when it closes, however it ends: net/http's close, a TLS handshake's
// failure, a handler that hijacked it.
type limitedConn struct {
	net.Conn
	lim  *connLimit
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.lim.give)
	return err
}

// NetConn returns the connection it wraps: the proxy resets a socket
// whose transfer it cuts (see proxy's resetCut).
func (c *limitedConn) NetConn() net.Conn { return c.Conn }

// CloseWrite half-closes the connection when it can (see
// guardConn.CloseWrite).
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// fdReserve are the file descriptors a derived limit leaves aside for
// what is opened after start, not for a connection: rule and GeoIP files
// read again, a Redis pool, log files, the admin API's connections.
const fdReserve = 64

// minDerivedConns is the least a derived limit lets in: a process with
// fewer descriptors than that still serves, and the start says so.
const minDerivedConns = 8

// maxConnections returns the visitors' connection limit: configured, or,
// 0, half of the file descriptors the process may open (files is its
// limit, ulimit -n) and does not use (open, at start), less fdReserve,
// the other half left for the origins' connections. No limit (files 0,
// unknown, or unlimited) is 0.
func maxConnections(configured int, files, open int64) int {
	if configured > 0 {
		return configured
	}
	if files <= 0 {
		return 0
	}
	return int(max((files-open-fdReserve)/2, minDerivedConns))
}
