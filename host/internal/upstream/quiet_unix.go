//go:build unix

package upstream

import (
	"errors"
	"net"
	"syscall"
)

// peeker asks whether a connection idle in the pool is still open and
// has nothing to read. The origin may have closed it, or sent something
// nobody asked for (a 408 before closing): either way, a request written
// on it would get no answer or the wrong one. It asks the kernel without
// waiting and without taking the bytes (MSG_PEEK|MSG_DONTWAIT), one
// system call, where http.Transport keeps a goroutine reading every idle
// connection. What a check needs is made once per connection, so that
// checking allocates nothing.
type peeker struct {
	rc  syscall.RawConn // nil: the connection has no descriptor to ask
	try func(fd uintptr) bool
	ok  bool
	buf [1]byte
}

// init readies p for nc.
func (p *peeker) init(nc net.Conn) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return
	}
	if rc, err := sc.SyscallConn(); err == nil {
		p.rc = rc
		p.try = p.peek
	}
}

// peek is what the descriptor is asked, inside RawConn.Read.
func (p *peeker) peek(fd uintptr) bool {
	// Bytes to read, or none at all (the origin closed it), answer
	// without an error; an open, quiet connection would have to wait.
	_, _, err := syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	p.ok = errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK)
	return true // never wait for the connection to be readable
}

// quiet reports whether the connection is open and has nothing to read.
func (p *peeker) quiet() bool {
	if p.rc == nil {
		return true
	}
	p.ok = false
	return p.rc.Read(p.try) == nil && p.ok
}

// isConnReset reports whether err says the origin reset the connection.
func isConnReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
