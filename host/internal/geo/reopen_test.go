package geo

import (
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// countryDB returns the bytes of a City database that places
// 203.0.113.0/24 in country.
func countryDB(t *testing.T, country string) []byte {
	t.Helper()
	b, err := os.ReadFile(writeDB(t, "GeoLite2-City", map[string]mmdbtype.Map{
		"203.0.113.0/24": {"country": mmdbtype.Map{"iso_code": mmdbtype.String(country)}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var reopenIP = netip.MustParseAddr("203.0.113.9")

func countryOf(db *DB) string {
	info, _ := db.Lookup(reopenIP)
	return info.Country
}

// replace writes b to path as geoipupdate does: a new file renamed over
// the old one, whose mapping keeps reading the old content.
func replace(t *testing.T, path string, b []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestDBReopen: a database file replaced is served once Reopen loads
// it, the old one until then; a file that did not change is not loaded
// again, and one that does not open leaves the database serving.
func TestDBReopen(t *testing.T) {
	path, db := openFR(t)
	if loaded, err := db.Reopen(); loaded || err != nil {
		t.Fatalf("unchanged file: Reopen = %v, %v", loaded, err)
	}
	if _, changed := db.Changed(); changed {
		t.Fatal("unchanged file taken for changed")
	}

	replace(t, path, countryDB(t, "DE"))
	if _, changed := db.Changed(); !changed {
		t.Fatal("replaced file not taken for changed")
	}
	if got := countryOf(db); got != "FR" {
		t.Fatalf("before Reopen: %q, want the file opened, FR", got)
	}
	if loaded, err := db.Reopen(); !loaded || err != nil {
		t.Fatalf("replaced file: Reopen = %v, %v", loaded, err)
	}
	if got := countryOf(db); got != "DE" {
		t.Fatalf("after Reopen: %q, want DE", got)
	}
	if m, ok := db.Meta(); !ok || m.Type != "GeoLite2-City" || m.Built.IsZero() {
		t.Errorf("Meta = %+v, %v", m, ok)
	}

	for name, b := range map[string][]byte{
		"not a database": []byte("<html>404</html>"),
		"ASN database":   mustRead(t, writeDB(t, "GeoLite2-ASN", map[string]mmdbtype.Map{"203.0.113.0/24": {"autonomous_system_number": mmdbtype.Uint32(64500)}})),
	} {
		replace(t, path, b)
		if loaded, err := db.Reopen(); loaded || err == nil {
			t.Errorf("%s: Reopen = %v, %v; want an error", name, loaded, err)
		}
		if got := countryOf(db); got != "DE" {
			t.Errorf("%s rejected: %q, want the database serving, DE", name, got)
		}
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, changed := db.Changed(); !changed {
		t.Error("removed file not taken for changed")
	}
	if loaded, err := db.Reopen(); loaded || err == nil {
		t.Errorf("removed file: Reopen = %v, %v", loaded, err)
	}
	if got := countryOf(db); got != "DE" {
		t.Errorf("file removed: %q, want the database serving, DE", got)
	}

	db.Close()
	replace(t, path, countryDB(t, "IT"))
	if loaded, _ := db.Reopen(); loaded || countryOf(db) != "" {
		t.Error("a closed database was opened again")
	}
}

// openFR opens a database file of its own placing 203.0.113.0/24 in
// France, and returns its path.
func openFR(t *testing.T) (string, *DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "city.mmdb")
	replace(t, path, countryDB(t, "FR"))
	db, err := OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return path, db
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDBWrittenInPlace: a database file written over in place (cp, tar,
// curl -o) leaves the mapping past the file's end as it is truncated: a
// lookup there crashed the process with SIGBUS. It finds nothing now,
// and so do the lookups after it, until Reopen loads the new content.
func TestDBWrittenInPlace(t *testing.T) {
	path, db := openFR(t)
	var faults, firsts atomic.Int64
	db.OnFault(func(first bool) {
		faults.Add(1)
		if first {
			firsts.Add(1)
		}
	})
	if got := countryOf(db); got != "FR" {
		t.Fatalf("opened: %q, want FR", got)
	}

	if err := os.Truncate(path, 0); err != nil { // as cp and tar begin
		t.Fatal(err)
	}
	for range 10 {
		if info, ok := db.Lookup(reopenIP); ok {
			t.Fatalf("truncated file: Lookup = %+v", info)
		}
	}
	if faults.Load() != 1 || firsts.Load() != 1 {
		t.Errorf("faults %d (first %d), want 1: lookups after the first fault find nothing without reading the mapping", faults.Load(), firsts.Load())
	}
	if loaded, err := db.Reopen(); loaded || err == nil {
		t.Errorf("empty file: Reopen = %v, %v", loaded, err)
	}

	f, err := os.OpenFile(path, os.O_WRONLY, 0) // the same file, written in place
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(countryDB(t, "DE")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, changed := db.Changed(); !changed {
		t.Fatal("file written in place not taken for changed")
	}
	if loaded, err := db.Reopen(); !loaded || err != nil {
		t.Fatalf("written in place: Reopen = %v, %v", loaded, err)
	}
	if got := countryOf(db); got != "DE" {
		t.Fatalf("reopened: %q, want DE", got)
	}

	// Written in place with no lookup in between: Changed, looking at
	// the file, stops lookups before one reads the new bytes at the old
	// offsets.
	if err := os.WriteFile(path, countryDB(t, "IT")[:100], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, changed := db.Changed(); !changed {
		t.Fatal("file truncated and written in place not taken for changed")
	}
	if info, ok := db.Lookup(reopenIP); ok {
		t.Errorf("file seen written in place: Lookup = %+v, want nothing", info)
	}
	faults.Store(0)
	if err := os.WriteFile(path, countryDB(t, "IT"), 0o644); err != nil {
		t.Fatal(err)
	}
	if loaded, err := db.Reopen(); !loaded || err != nil {
		t.Fatalf("rewritten: Reopen = %v, %v", loaded, err)
	}
	if got := countryOf(db); got != "IT" {
		t.Errorf("rewritten: %q, want IT", got)
	}
}

// TestReopenWhileLookingUp: files swapped under lookups in progress,
// renamed over and written in place, and reopened: every lookup
// answers one of the files' countries or nothing, and none crashes.
func TestReopenWhileLookingUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	dbs := [][]byte{countryDB(t, "FR"), countryDB(t, "DE")}
	replace(t, path, dbs[0])
	db, err := OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var answered, none atomic.Int64
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				switch got := countryOf(db); got {
				case "FR", "DE":
					answered.Add(1)
				case "":
					none.Add(1)
				default:
					t.Errorf("lookup answered %q", got)
					return
				}
			}
		})
	}
	deadline := time.Now().Add(500 * time.Millisecond)
	for i := 0; time.Now().Before(deadline); i++ {
		b := dbs[i%2]
		if i%3 == 0 {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		} else {
			replace(t, path, b)
		}
		db.Changed()
		db.Reopen()
	}
	close(stop)
	wg.Wait()
	if answered.Load() == 0 {
		t.Errorf("no lookup answered (%d found nothing)", none.Load())
	}
	t.Logf("%d lookups answered, %d found nothing", answered.Load(), none.Load())
}
