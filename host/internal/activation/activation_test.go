package activation

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestListeners starts this test binary again as a service manager
// would, with two listening sockets at descriptors 3 and 4 and the
// variables naming them, and reads what the child found.
func TestListeners(t *testing.T) {
	if os.Getenv("ACTIVATION_CHILD") != "" {
		t.Skip("the child's part runs in TestChild")
	}
	for _, tc := range []struct {
		name, env, want string
		// conn passes a connection at descriptor 3, as a socket unit
		// with Accept=yes does, in place of the listening socket.
		conn bool
	}{
		{"named", "LISTEN_FDS=2 LISTEN_FDNAMES=visitors:admin", "visitors=A admin=B", false},
		{"named in the other order", "LISTEN_FDS=2 LISTEN_FDNAMES=admin:visitors", "visitors=B admin=A", false},
		{"unnamed", "LISTEN_FDS=2", "visitors=A admin=B", false},
		{"one", "LISTEN_FDS=1", "visitors=A admin=none", false},
		{"another process's", "LISTEN_FDS=2 LISTEN_PID=1", "none", false},
		{"none", "", "none", false},
		{"not a number", "LISTEN_FDS=two", "error: LISTEN_FDS=\"two\": not a number of sockets", false},
		{"a connection (Accept=yes)", "LISTEN_FDS=2", "error: passed socket 1 (fd 3) is a connection, not a listening socket: set Accept=no (the default) in the socket unit", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := listen(t), listen(t)
			fa, _ := a.(*net.TCPListener).File()
			if tc.conn {
				c, err := net.Dial("tcp", a.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				fa.Close()
				fa, _ = c.(*net.TCPConn).File()
			}
			fb, _ := b.(*net.TCPListener).File()
			defer fa.Close()
			defer fb.Close()
			env := tc.env
			if env != "" && !strings.Contains(env, "LISTEN_PID") {
				env = "LISTEN_PID=$$ " + env
			}
			cmd := exec.Command("sh", "-c", env+` exec "$0" -test.run='^TestChild$'`, os.Args[0])
			cmd.Env = append(os.Environ(), "ACTIVATION_CHILD=1", "A="+a.Addr().String(), "B="+b.Addr().String())
			cmd.ExtraFiles = []*os.File{fa, fb}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			var got string
			sc := bufio.NewScanner(strings.NewReader(string(out)))
			for sc.Scan() {
				if l, ok := strings.CutPrefix(sc.Text(), "result: "); ok {
					got = l
				}
			}
			if got != tc.want {
				t.Errorf("got %q, want %q\n%s", got, tc.want, out)
			}
		})
	}
}

// TestChild is the child's part of TestListeners: it says which of the
// parent's listeners (A, B) it got for each role, and that the
// variables are gone.
func TestChild(t *testing.T) {
	if os.Getenv("ACTIVATION_CHILD") == "" {
		t.Skip("run by TestListeners")
	}
	socks, err := Listeners()
	if os.Getenv("LISTEN_FDS") != "" || os.Getenv("LISTEN_PID") != "" {
		fmt.Println("result: the variables stayed")
		return
	}
	if err != nil {
		fmt.Println("result: error: " + err.Error())
		return
	}
	if len(socks) == 0 {
		fmt.Println("result: none")
		return
	}
	v, a, err := Roles(socks)
	if err != nil {
		fmt.Println("result: error: " + err.Error())
		return
	}
	which := func(ln net.Listener) string {
		if ln == nil {
			return "none"
		}
		switch ln.Addr().String() {
		case os.Getenv("A"):
			return "A"
		case os.Getenv("B"):
			return "B"
		}
		return ln.Addr().String()
	}
	fmt.Printf("result: visitors=%s admin=%s\n", which(v), which(a))
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func TestRoles(t *testing.T) {
	a, b, c := listen(t), listen(t), listen(t)
	for _, tc := range []struct {
		name         string
		socks        []Socket
		visitors, ad net.Listener
		err          string
	}{
		{"by name", []Socket{{"admin", a}, {"visitors", b}}, b, a, ""},
		{"https", []Socket{{"https", a}}, a, nil, ""},
		{"by order", []Socket{{"bespoke.socket", a}, {"bespoke.socket", b}}, a, b, ""},
		{"a named admin and one more", []Socket{{"admin", a}, {"", b}}, b, a, ""},
		{"only admin", []Socket{{"admin", a}}, nil, nil, "no passed socket is for visitors"},
		{"three", []Socket{{"", a}, {"", b}, {"", c}}, nil, nil, "3 sockets were passed"},
		{"two admins", []Socket{{"admin", a}, {"admin", b}}, nil, nil, "two passed sockets are named admin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, ad, err := Roles(tc.socks)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil || v != tc.visitors || ad != tc.ad {
				t.Errorf("got %v, %v, %v", v, ad, err)
			}
		})
	}
}
