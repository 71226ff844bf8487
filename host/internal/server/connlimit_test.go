package server

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

func TestMaxConnections(t *testing.T) {
	tests := []struct {
		name        string
		configured  int
		files, open int64
		want        int
	}{
		{"configured", 300, 1 << 20, 20, 300},
		{"configured past the files", 5000, 1024, 20, 5000},
		{"a shell's default", 0, 1024, 20, (1024 - 20 - fdReserve) / 2},
		{"a service's", 0, 524288, 30, (524288 - 30 - fdReserve) / 2},
		{"few files", 0, 64, 12, minDerivedConns},
		{"unlimited", 0, 0, 12, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := maxConnections(tt.configured, tt.files, tt.open); got != tt.want {
				t.Errorf("maxConnections(%d, %d, %d) = %d, want %d", tt.configured, tt.files, tt.open, got, tt.want)
			}
		})
	}
}

// TestListenerBoundsConnections: with two connections open, the limit,
// a third visitor waits in the listen queue, keep-alive is turned off
// (its idle connections closed), and it is accepted once one closes,
// however it closes: by the server, or a TLS handshake that failed.
// Keep-alive is on again once accepts have not waited for a while.
func TestListenerBoundsConnections(t *testing.T) {
	for _, withTLS := range []bool{false, true} {
		name := "plain"
		if withTLS {
			name = "TLS"
		}
		t.Run(name, func(t *testing.T) {
			raw, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var cfg *tls.Config
			if withTLS {
				cfg = testTLSConfig(t)
			}
			lim := newConnLimit(2)
			l := newVisitorListener(raw, cfg, 5*time.Second, lim, slog.New(slog.DiscardHandler))
			defer l.Close()
			var shed atomic.Int32 // 1: off, 2: on again
			l.retry.shed = func(on bool) {
				if on {
					shed.Store(1)
				} else {
					shed.Store(2)
				}
			}
			accepted := make(chan net.Conn, 4)
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					accepted <- c
				}
			}()
			dial := func() {
				go func() {
					var c net.Conn
					var err error
					if withTLS {
						c, err = tls.Dial("tcp", raw.Addr().String(), &tls.Config{InsecureSkipVerify: true})
					} else {
						c, err = net.Dial("tcp", raw.Addr().String())
					}
					if err == nil {
						defer c.Close()
						c.SetReadDeadline(time.Now().Add(20 * time.Second))
						io.Copy(io.Discard, c) // until the server closes it
					}
				}()
			}
			next := func(what string) net.Conn {
				t.Helper()
				select {
				case c := <-accepted:
					return c
				case <-time.After(10 * time.Second):
					t.Fatalf("%s: no connection accepted (%d open)", what, lim.conns())
					return nil
				}
			}
			dial()
			dial()
			a, b := next("the first"), next("the second")
			dial()
			select {
			case c := <-accepted:
				c.Close()
				t.Fatalf("a third connection accepted with two open, the limit")
			case <-time.After(300 * time.Millisecond):
			}
			if lim.waits.Load() != 1 || shed.Load() != 1 {
				t.Errorf("at the limit: %d waits counted, keep-alive state %d; want 1 wait and keep-alive off", lim.waits.Load(), shed.Load())
			}
			a.Close()
			c := next("the third, one closed")
			if withTLS {
				// A handshake that fails gives its place back too.
				junk, err := net.Dial("tcp", raw.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				b.Close()
				io.WriteString(junk, "\x16\x03\x01\x00\x05hello")
				junk.SetReadDeadline(time.Now().Add(10 * time.Second))
				io.Copy(io.Discard, junk)
				junk.Close()
				dial()
				b = next("after a failed handshake")
			}
			b.Close()
			c.Close()
			deadline := time.Now().Add(10 * time.Second)
			for lim.conns() != 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if n := lim.conns(); n != 0 {
				t.Errorf("%d connections counted open once all closed", n)
			}
			// Accepts that have not waited for shedFor turn keep-alive
			// on again.
			time.Sleep(shedFor)
			dial()
			next("after the load").Close()
			if shed.Load() != 2 {
				t.Errorf("keep-alive state %d once accepts no longer wait, want on again", shed.Load())
			}
		})
	}
}
