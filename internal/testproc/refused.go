package testproc

import (
	"fmt"
	"syscall"
	"testing"
)

// RefusedAddr returns a loopback address, host:port, where connections
// are refused for as long as the test runs. A socket bound to the port
// that never listens holds it, so that no server another test starts
// meanwhile can take it: a port found free and closed again was taken
// by the time it was dialed, and answered (a 404 where a 502 was meant).
func RefusedAddr(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	in, ok := sa.(*syscall.SockaddrInet4)
	if !ok {
		t.Fatalf("a socket bound to 127.0.0.1 has the address %v", sa)
	}
	return fmt.Sprintf("127.0.0.1:%d", in.Port)
}
