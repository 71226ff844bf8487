// Package testproc starts the real servers some tests need (nginx,
// redis-server) as processes of the test: it finds the program, skips
// the test without it (fails it in CI, which must install it), and waits
// until the server listens; and the raw TCP servers that tests script
// byte by byte (Serve).
package testproc

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/internal/syncbuf"
)

// Need returns the path of the program named, looked up in PATH and
// then in /usr/sbin (where Debian puts nginx). Without it the test is
// skipped, saying what could not run (why) and how to install it; with
// CI=true it fails: CI must install what its tests need (.ci/run).
func Need(t testing.TB, name, pkg, why string) string {
	t.Helper()
	if bin, err := exec.LookPath(name); err == nil {
		return bin
	}
	if bin, err := exec.LookPath(filepath.Join("/usr/sbin", name)); err == nil {
		return bin
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed; CI must install it (.ci/run)", name)
	}
	t.Skipf("%s is not installed (apt-get install %s): %s cannot run", name, pkg, why)
	return ""
}

// Start starts cmd and waits (at most 10 s) until addr accepts
// connections; the process is killed when the test ends. When it exits
// first, or never listens, the test fails with its output and the
// contents of the log files named.
func Start(t testing.TB, addr string, cmd *exec.Cmd, logs ...string) {
	t.Helper()
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	report := func() string {
		s := out.String()
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			s += "\n" + l + ":\n" + string(b)
		}
		return s
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatalf("%s exited:\n%s", cmd, report())
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			if Owns(cmd.Process.Pid, addr) {
				return
			}
			// Another process took the port: this one will exit.
		}
	}
	t.Fatalf("%s did not listen on %s:\n%s", cmd, addr, report())
}

// FreeAddr returns a loopback address no one listens on now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Nginx starts nginx (one process, no daemon, its files in a temporary
// directory) with the http block's contents that server returns for the
// address it listens on, and returns that address. why says what cannot
// run without nginx.
func Nginx(t testing.TB, why string, server func(addr string) string) string {
	t.Helper()
	bin := Need(t, "nginx", "nginx", why)
	dir := t.TempDir()
	addr := FreeAddr(t)
	// One process, which keeps the user it was started as (no workers
	// that would drop to nobody and fail to read the test's files).
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
%[2]s
}
`, dir, server(addr))
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	errLog := filepath.Join(dir, "error.log")
	Start(t, addr, exec.Command(bin, "-p", dir, "-c", path, "-e", errLog), errLog)
	return addr
}

// Owns reports whether the process pid listens on the TCP port of addr,
// from /proc: a test that picks a free port and starts a server on it can
// lose the port to another test's server in between, and then a dial
// reaches that other server. Where /proc cannot say, it reports true.
func Owns(pid int, addr string) bool {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return true
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return true
	}
	inodes := map[string]bool{}
	readable := false
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		readable = true
		for _, line := range strings.Split(string(b), "\n")[1:] {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fs := strings.Fields(line)
			if len(fs) < 10 || fs[3] != "0A" { // 0A: LISTEN
				continue
			}
			_, hexPort, ok := strings.Cut(fs[1], ":")
			if n, err := strconv.ParseUint(hexPort, 16, 32); ok && err == nil && int(n) == port {
				inodes[fs[9]] = true
			}
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if !readable || err != nil {
		return true
	}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") && inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
			return true
		}
	}
	return false
}

// Serve accepts connections on a loopback port until the test ends,
// handing each to serve on a goroutine of its own, and returns the
// listener (its Addr is the server's address). It is for the origins and
// relays a test scripts byte by byte, which net/http would not let
// misbehave; serve closes its connection.
func Serve(t testing.TB, serve func(net.Conn)) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return ln
}

// Varnish starts varnishd in the foreground, its working directory in a
// temporary directory, with the VCL that vcl returns for the address of
// the backend it is given (backend), or with Varnish's builtin VCL alone
// in front of backend when vcl is nil, and returns the address it
// listens on. why says what cannot run without Varnish.
func Varnish(t testing.TB, why, backend string, vcl func(backend string) string) string {
	t.Helper()
	bin := Need(t, "varnishd", "varnish", why)
	// Run as root, varnishd drops its child to its own user, which must
	// reach the working directory.
	dir := sharedTempDir(t, 0o755)
	addr := FreeAddr(t)
	args := []string{"-F", "-a", addr, "-n", filepath.Join(dir, "work"), "-s", "malloc,16m", "-T", "none",
		"-p", "thread_pool_min=5", "-p", "thread_pools=1"}
	if vcl == nil {
		args = append(args, "-b", backend)
	} else {
		path := filepath.Join(dir, "site.vcl")
		if err := os.WriteFile(path, []byte(vcl(backend)), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-f", path)
	}
	startGroup(t, addr, exec.Command(bin, args...))
	return addr
}

// Squid starts squid in the foreground (no daemon, no disk cache, its
// files in a temporary directory) as a reverse proxy (accel mode) in
// front of backend, with the configuration lines extra besides, and
// returns the address it listens on. why says what cannot run without
// Squid.
func Squid(t testing.TB, why, backend, extra string) string {
	t.Helper()
	bin := Need(t, "squid", "squid", why)
	// Run as root, squid drops to its own user, which writes its logs
	// and pid file here.
	dir := sharedTempDir(t, 0o777)
	addr := FreeAddr(t)
	host, port, err := net.SplitHostPort(backend)
	if err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`http_port %[2]s accel defaultsite=localhost vhost
cache_peer %[3]s parent %[4]s 0 no-query no-digest originserver name=site
cache_peer_access site allow all
http_access allow all
cache_mem 16 MB
pid_filename %[1]s/squid.pid
access_log stdio:%[1]s/access.log
cache_log %[1]s/cache.log
coredump_dir %[1]s
shutdown_lifetime 0 seconds
pinger_enable off
dns_nameservers 127.0.0.1
%[5]s
`, dir, addr, host, port, extra)
	if os.Geteuid() == 0 {
		conf += "cache_effective_user proxy\n"
	}
	path := filepath.Join(dir, "squid.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// A service name of its own: squid names its shared memory segments
	// after it (/dev/shm/squid-cf__metadata.shm by default), which
	// another squid on the machine, or one killed before, holds.
	_, p, _ := net.SplitHostPort(addr)
	name := "bespoketest" + p
	t.Cleanup(func() {
		segments, _ := filepath.Glob(filepath.Join("/dev/shm", name+"-*"))
		for _, f := range segments {
			os.Remove(f)
		}
	})
	cacheLog := filepath.Join(dir, "cache.log")
	startGroup(t, addr, exec.Command(bin, "-n", name, "-N", "-f", path), cacheLog)
	return addr
}

// startGroup starts cmd as Start does, in a process group of its own,
// which is killed whole when the test ends: varnishd serves from a
// process it forks, which its manager, killed alone, leaves running.
func startGroup(t testing.TB, addr string, cmd *exec.Cmd, logs ...string) {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Before Start, so that it runs when Start fails too, and after
	// Start's kill: the group outlives its leader.
	t.Cleanup(func() {
		if cmd.Process != nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	})
	Start(t, addr, cmd, logs...)
}

// sharedTempDir is a temporary directory, removed when the test ends,
// with mode perm, that a server dropping to a user of its own reaches:
// t.TempDir's parent is readable by the test's user alone.
func sharedTempDir(t testing.TB, perm os.FileMode) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "testproc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, perm); err != nil {
		t.Fatal(err)
	}
	return dir
}
