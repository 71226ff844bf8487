package seen

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/internal/syncbuf"
	"github.com/bespoke-edge/bespoke/internal/testproc"
)

// A master watched by a real Sentinel (redis-server --sentinel) on
// loopback, reached by a redis+sentinel:// URL: the store asks the
// Sentinel where the master is, and saves and loads there.
func TestRedisSentinelStore(t *testing.T) {
	bin := testproc.Need(t, "redis-server", "redis-server", "the Sentinel test")
	dir := t.TempDir()
	master := freeAddr()
	_, mport, _ := net.SplitHostPort(master)
	masterCmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", mport, "--save", "", "--appendonly", "no", "--dir", dir)
	testproc.Start(t, master, masterCmd)
	sentinel := freeAddr()
	_, sport, _ := net.SplitHostPort(sentinel)
	conf := filepath.Join(dir, "sentinel.conf")
	// Sentinel rewrites its configuration file: it must be its own.
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("bind 127.0.0.1\nport %s\ndir %s\nsentinel monitor mymaster 127.0.0.1 %s 1\n", sport, dir, mport)), 0o644); err != nil {
		t.Fatal(err)
	}
	testproc.Start(t, sentinel, exec.Command(bin, conf, "--sentinel"))

	ctx := context.Background()
	var buf syncbuf.Buffer
	st := newRedisStore(t, RedisConfig{URL: "redis+sentinel://" + sentinel + "/mymaster", Retry: 20 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
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

	// The master goes, with no replica to promote: the outage is the
	// store's, logged and shown by Up, as a single server's is. It was
	// neither, while every load failed.
	masterCmd.Process.Kill() // testproc.Start waits for it
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		c, err := net.Dial("tcp", master)
		if err != nil {
			break
		}
		c.Close()
	}
	if _, info := st.Load(ctx, nil, "v1"); !info.Failed() {
		t.Fatalf("a load with the master gone: %+v", info)
	}
	if st.Up() || st.Lost.Load() != 1 || !strings.Contains(buf.String(), "Redis seen store lost") {
		t.Fatalf("with the master gone: up %v, lost %d times, log %s", st.Up(), st.Lost.Load(), &buf)
	}
	// It comes back where the Sentinel says it is: the store follows.
	testproc.Start(t, master, exec.Command(bin, "--bind", "127.0.0.1", "--port", mport, "--save", "", "--appendonly", "no", "--dir", dir))
	for deadline := time.Now().Add(10 * time.Second); !st.Up() && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
	}
	if !st.Up() || st.Reconnects.Load() != 1 {
		t.Fatalf("with the master back: up %v, %d reconnects, log %s", st.Up(), st.Reconnects.Load(), &buf)
	}
}
