//go:build linux

package server

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/geo"
	"github.com/bespoke-edge/bespoke/host/internal/metrics"
	"github.com/bespoke-edge/bespoke/internal/syncbuf"
)

// TestGeoIPRetriedOutOfFiles: a new GeoIP database that the watch could
// not open for want of file descriptors (a load that took every one) is
// tried again at the watch's next look, and loads once it can: it was
// taken for a file that does not load, logged at Error, and not tried
// again until the file changed again, so the new database did not
// serve (a database written in place, none at all) until the next
// weekly update or a reload.
func TestGeoIPRetriedOutOfFiles(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("the process's file descriptor limit cannot be lowered here (no /proc)")
	}
	path := filepath.Join(t.TempDir(), "city.mmdb")
	if err := os.WriteFile(path, cityDB(t, "FR"), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := geo.OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var logs syncbuf.Buffer
	g, forget := newGeoIP(db, slog.New(slog.NewTextHandler(&logs, nil)), metrics.New())
	defer forget()
	// geoipupdate: a new file renamed over the old one.
	if err := os.WriteFile(path+".new", cityDB(t, "DE"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}

	// The watch's look, with no file descriptor free: every one from 3
	// on is over the limit, those open stay open.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skip(err)
	}
	low := lim
	low.Cur = 3
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skipf("cannot lower the file descriptor limit: %v", err)
	}
	g.reload("watch")
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if g.reloads.Load() != 0 || !strings.Contains(logs.String(), "too many open files") {
		t.Fatalf("the look with no file descriptor free: %d loads, logs:\n%s", g.reloads.Load(), &logs)
	}

	// The next look, descriptors free again.
	g.reload("watch")
	if g.reloads.Load() != 1 {
		t.Fatalf("the new database was not loaded once it could be opened: %d loads, logs:\n%s", g.reloads.Load(), &logs)
	}
	if meta, _ := db.Meta(); meta.Type != "GeoLite2-City" {
		t.Errorf("database serving: %+v", meta)
	}
	if n := strings.Count(logs.String(), "too many open files"); n != 1 {
		t.Errorf("the look out of descriptors logged %d times, want once:\n%s", n, &logs)
	}
}
