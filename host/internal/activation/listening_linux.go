package activation

import (
	"net"
	"syscall"
)

// listening reports whether ln's socket listens (SO_ACCEPTCONN), as
// sd_is_socket(3) asks with its listening argument. A socket unit with
// Accept=yes passes a connection instead, which net.FileListener takes
// all the same and whose every Accept then fails.
func listening(ln net.Listener) (bool, error) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return true, nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false, err
	}
	var v int
	var serr error
	if err := raw.Control(func(fd uintptr) {
		v, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
	}); err != nil {
		return false, err
	}
	if serr != nil {
		return false, serr
	}
	return v != 0, nil
}
