package seen

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A master watched by a real Sentinel (redis-server --sentinel) on
// loopback, reached by a redis+sentinel:// URL: the store asks the
// Sentinel where the master is, and saves and loads there.
func TestRedisSentinelStore(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed; CI must install it")
		}
		t.Skip("redis-server is not installed (apt-get install redis-server)")
	}
	dir := t.TempDir()
	master := freeAddr()
	_, mport, _ := net.SplitHostPort(master)
	startProcess(t, master, bin, "--bind", "127.0.0.1", "--port", mport, "--save", "", "--appendonly", "no", "--dir", dir)
	sentinel := freeAddr()
	_, sport, _ := net.SplitHostPort(sentinel)
	conf := filepath.Join(dir, "sentinel.conf")
	// Sentinel rewrites its configuration file: it must be its own.
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("bind 127.0.0.1\nport %s\ndir %s\nsentinel monitor mymaster 127.0.0.1 %s 1\n", sport, dir, mport)), 0o644); err != nil {
		t.Fatal(err)
	}
	startProcess(t, sentinel, bin, conf, "--sentinel")

	ctx := context.Background()
	st := newRedisStore(t, RedisConfig{URL: "redis+sentinel://" + sentinel + "/mymaster"})
	if st.Mode() != RedisSentinel {
		t.Fatalf("mode %s", st.Mode())
	}
	var s *Set
	var info LoadInfo
	// The Sentinel answers once it has looked at the master.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if s, info = st.Load(ctx, nil, "v1"); !info.Failed() || time.Now().After(deadline) {
			break
		}
	}
	if info.Failed() {
		t.Fatalf("load through the Sentinel: %+v", info)
	}
	s.Shown("sku-1")
	if err := st.Save(ctx, nil, "v1", s, false); err != nil {
		t.Fatal(err)
	}
	if !st.Flush(5 * time.Second) {
		t.Fatal("the save was not written")
	}
	if s, info := st.Load(ctx, nil, "v1"); info.Source != SourceRedis || !s.Seen("sku-1") {
		t.Errorf("second load: %+v", info)
	}
}

// startProcess starts bin with args and waits until addr accepts
// connections; the process is killed when the test ends.
func startProcess(t *testing.T, addr, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatalf("%s %v exited:\n%s", bin, args, out.String())
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("%s %v did not listen on %s", bin, args, addr)
}
