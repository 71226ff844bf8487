// Package activation takes the listening sockets a service manager opened
// for the process (systemd's socket activation: sd_listen_fds(3)). The
// manager keeps them open while the process restarts, so that a new
// binary, a changed configuration or a crash loses no connection: the
// kernel queues them until the next process accepts.
package activation

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// firstFD is the first descriptor passed (SD_LISTEN_FDS_START).
const firstFD = 3

// Socket is one passed listening socket.
type Socket struct {
	// Name is the socket's FileDescriptorName= (the socket unit's name
	// when it sets none).
	Name     string
	Listener net.Listener
}

// Listeners returns the sockets passed to this process, in order, or none
// when no manager passed any (LISTEN_PID is not this process's). It
// takes the variables out of the environment, so that a program bespoke
// starts does not take the sockets for its own.
func Listeners() ([]Socket, error) {
	pid, fds, names := os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES")
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	if pid == "" || fds == "" {
		return nil, nil
	}
	if p, err := strconv.Atoi(pid); err != nil || p != os.Getpid() {
		// Meant for another process (a parent that did not take them
		// out): not ours to use.
		return nil, nil
	}
	n, err := strconv.Atoi(fds)
	if err != nil || n < 0 || n > 64 {
		return nil, fmt.Errorf("LISTEN_FDS=%q: not a number of sockets", fds)
	}
	var named []string
	if names != "" {
		named = strings.Split(names, ":")
	}
	out := make([]Socket, 0, n)
	fail := func(err error) ([]Socket, error) {
		for _, o := range out {
			o.Listener.Close()
		}
		return nil, err
	}
	for i := range n {
		s := Socket{}
		if i < len(named) {
			s.Name = named[i]
		}
		f := os.NewFile(uintptr(firstFD+i), s.Name)
		// FileListener takes a copy of the descriptor, closed on exec.
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return fail(fmt.Errorf("passed socket %d (fd %d%s) is not a listening stream socket: %w", i+1, firstFD+i, nameNote(s.Name), err))
		}
		if ok, err := listening(ln); err != nil || !ok {
			ln.Close()
			if err != nil {
				return fail(fmt.Errorf("passed socket %d (fd %d%s): %w", i+1, firstFD+i, nameNote(s.Name), err))
			}
			return fail(fmt.Errorf("passed socket %d (fd %d%s) is a connection, not a listening socket: set Accept=no (the default) in the socket unit", i+1, firstFD+i, nameNote(s.Name)))
		}
		s.Listener = ln
		out = append(out, s)
	}
	return out, nil
}

func nameNote(name string) string {
	if name == "" {
		return ""
	}
	return ", " + name
}

// Roles picks the visitors' and the admin listener among the passed
// sockets: one named "admin" is the admin listener, one named "visitors"
// (or "http", "https") the visitors'; the others, in order, fill what is
// left, the visitors' first. admin is nil when no socket is left for it.
func Roles(socks []Socket) (visitors, admin net.Listener, err error) {
	var rest []net.Listener
	for _, s := range socks {
		switch s.Name {
		case "admin":
			if admin != nil {
				return nil, nil, errors.New("two passed sockets are named admin")
			}
			admin = s.Listener
		case "visitors", "http", "https":
			if visitors != nil {
				return nil, nil, fmt.Errorf("two passed sockets are named for visitors (%s)", s.Name)
			}
			visitors = s.Listener
		default:
			rest = append(rest, s.Listener)
		}
	}
	for _, ln := range rest {
		switch {
		case visitors == nil:
			visitors = ln
		case admin == nil:
			admin = ln
		default:
			return nil, nil, fmt.Errorf("%d sockets were passed; bespoke serve listens on two at most, for visitors and the admin API (name them with FileDescriptorName=visitors and admin)", len(socks))
		}
	}
	if visitors == nil {
		return nil, nil, errors.New("no passed socket is for visitors: name it FileDescriptorName=visitors")
	}
	return visitors, admin, nil
}
