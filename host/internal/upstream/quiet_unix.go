//go:build unix

package upstream

import (
	"errors"
	"net"
	"syscall"
)

// quiet reports whether nc, idle in the pool, is still open and has
// nothing to read. The origin may have closed it, or sent something
// nobody asked for (a 408 before closing): either way, a request written
// on it would get no answer or the wrong one. It asks the kernel without
// waiting and without taking the bytes (MSG_PEEK|MSG_DONTWAIT), one
// system call, where http.Transport keeps a goroutine reading every idle
// connection.
func quiet(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var buf [1]byte
	ok = false
	err = rc.Read(func(fd uintptr) bool {
		// Bytes to read, or none at all (the origin closed it), answer
		// without an error; an open, quiet connection would have to wait.
		_, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ok = errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK)
		return true // never wait for the connection to be readable
	})
	return err == nil && ok
}

// isConnReset reports whether err says the origin reset the connection.
func isConnReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
