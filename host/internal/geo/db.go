package geo

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2/mmdbdata"
)

// DB is an open MaxMind-format database: GeoIP2 or GeoLite2 City or
// Country, or another database with their record layout. It is safe for
// concurrent use, Close and Reopen included: they wait for the lookups
// in progress. A nil *DB, like a closed one, knows no address.
//
// The file is memory-mapped, so a file written over in place (cp, tar,
// curl -o, where geoipupdate renames a new file over it) changes, or
// leaves past its end, the memory a lookup reads: the process would
// crash with SIGBUS. A lookup that faults finds nothing instead, and so
// does every lookup after it, until Reopen loads the file again.
type DB struct {
	path string
	// mu guards reader, whose memory Close and Reopen unmap: a lookup
	// reading it as it went crashed the process (a configuration reload
	// of bespoke serve closes the configuration replaced under the
	// requests that outlive its grace).
	mu     sync.RWMutex
	reader *maxminddb.Reader
	// stale: the mapping is not the file's content any more (a lookup
	// faulted, or the file was seen written in place); lookups find
	// nothing until Reopen.
	stale atomic.Bool
	// onFault is called as a lookup faults; first says it is the first
	// since the file was opened.
	onFault func(first bool)

	// reopen serializes Reopen and Changed; opened is the file as
	// reader was opened from it.
	reopen sync.Mutex
	opened os.FileInfo
}

// Database types are told apart by name: one naming a location product is
// accepted even if it also names another (DB-IP's "Location-ISP"), and one
// naming only a non-location product is refused, since opening it is a
// configuration mistake better reported at once than a database that never
// answers. Unknown names are accepted and judged by their records.
var (
	locationTypes    = []string{"city", "country", "location", "enterprise"}
	nonLocationTypes = []string{"asn", "isp", "connection-type", "domain", "anonymous", "ip-risk", "ip-score"}
)

// OpenDB opens the database file at path, memory-mapped. It refuses a
// database whose type says it has no location data (ASN, ISP, Domain,
// Connection-Type, Anonymous-IP and the like).
func OpenDB(path string) (*DB, error) {
	fi, r, err := openReader(path)
	if err != nil {
		return nil, err
	}
	return &DB{path: path, reader: r, opened: fi}, nil
}

// openReader opens the file at path and returns it with what it was
// before it was opened: a file replaced in between is then taken for
// changed by the next look, and loaded once more, where a stamp taken
// after would hide the replacement.
func openReader(path string) (os.FileInfo, *maxminddb.Reader, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("geoip database %s: %w", path, err)
	}
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("geoip database %s: %w", path, err)
	}
	if t := r.Metadata.DatabaseType; !hasLocation(t) {
		r.Close()
		return nil, nil, fmt.Errorf("geoip database %s: type %q has no location data; use a City or Country database", path, t)
	}
	return fi, r, nil
}

// OnFault sets f to be called as a lookup faults (the file was written
// in place under the mapping), first true for the first fault since the
// file was opened; set it before the first lookup.
func (db *DB) OnFault(f func(first bool)) {
	if db != nil {
		db.onFault = f
	}
}

// Path returns the file the database was opened from.
func (db *DB) Path() string { return db.path }

// Meta describes the database open.
type Meta struct {
	// Type is the database's type, as its metadata names it
	// ("GeoLite2-City").
	Type string
	// Built is when the database was built.
	Built time.Time
}

// Meta describes the database open; ok is false when it is closed.
func (db *DB) Meta() (m Meta, ok bool) {
	if db == nil {
		return Meta{}, false
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.reader == nil {
		return Meta{}, false
	}
	md := db.reader.Metadata
	return Meta{Type: md.DatabaseType, Built: time.Unix(int64(md.BuildEpoch), 0).UTC()}, true
}

// Changed reports whether the file at path is not the one open: replaced
// (renamed over, as geoipupdate does), written in place, or gone; or a
// lookup faulted. A file seen written in place is stale at once: its
// mapping may already read the new bytes at the old offsets, so lookups
// find nothing until Reopen. stamp identifies what the file is now, for
// a caller waiting for it to settle.
func (db *DB) Changed() (stamp string, changed bool) {
	if db == nil {
		return "", false
	}
	db.reopen.Lock()
	defer db.reopen.Unlock()
	fi, err := os.Stat(db.path)
	if err != nil {
		return "gone: " + err.Error(), true
	}
	stamp = fmt.Sprintf("%d:%d", fi.Size(), fi.ModTime().UnixNano())
	if db.opened == nil || !os.SameFile(db.opened, fi) {
		return stamp, true
	}
	if fi.Size() != db.opened.Size() || !fi.ModTime().Equal(db.opened.ModTime()) {
		db.stale.Store(true)
		return stamp, true
	}
	return stamp, db.stale.Load()
}

// Reopen loads the file again when it changed (see Changed), and serves
// it from then on: the lookups in progress end on the old mapping, which
// is closed after them. A file that does not open leaves the database
// as it was (and a stale one finding nothing) and is returned as the
// error; loaded is true when the new file serves. A closed database
// stays closed.
func (db *DB) Reopen() (loaded bool, err error) {
	if db == nil {
		return false, nil
	}
	db.reopen.Lock()
	defer db.reopen.Unlock()
	fi, err := os.Stat(db.path)
	if err != nil {
		return false, fmt.Errorf("geoip database %s: %w", db.path, err)
	}
	if !db.stale.Load() && db.opened != nil && os.SameFile(db.opened, fi) && fi.Size() == db.opened.Size() && fi.ModTime().Equal(db.opened.ModTime()) {
		return false, nil
	}
	fi, r, err := openReader(db.path)
	if err != nil {
		return false, err
	}
	db.mu.Lock()
	old := db.reader
	if old == nil {
		db.mu.Unlock()
		r.Close()
		return false, nil
	}
	db.reader, db.opened = r, fi
	db.stale.Store(false)
	db.mu.Unlock()
	// No lookup reads it: those that began before the swap ended before
	// the write lock was granted.
	old.Close()
	return true, nil
}

func hasLocation(dbType string) bool {
	t := strings.ToLower(dbType)
	for _, good := range locationTypes {
		if strings.Contains(t, good) {
			return true
		}
	}
	for _, bad := range nonLocationTypes {
		if strings.Contains(t, bad) {
			return false
		}
	}
	return true
}

// Close releases the database once the lookups in progress end; those
// after it find nothing. Closing a nil or closed *DB does nothing.
func (db *DB) Close() error {
	if db == nil {
		return nil
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.reader == nil {
		return nil
	}
	r := db.reader
	db.reader = nil
	return r.Close()
}

// Lookup locates ip (an IPv4-mapped IPv6 address is looked up as IPv4). ok
// is false when the database has no record for it or the record holds none
// of the fields Info carries. Fields are validated like header values, and
// Source is "geoip". An unreadable record counts as not found: one bad
// record must not fail a request.
func (db *DB) Lookup(ip netip.Addr) (info Info, ok bool) {
	if db == nil || !ip.IsValid() {
		return Info{}, false
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.reader == nil || db.stale.Load() {
		return Info{}, false
	}
	defer db.survive(&info, &ok)
	prev := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(prev)
	return db.lookup(ip)
}

// survive turns a lookup that faulted into one that found nothing, and
// makes the database stale: the mapping no longer holds what was opened
// (a file truncated in place leaves pages past its end, SIGBUS without
// SetPanicOnFault; one being rewritten, bytes the decoder was not
// written for, which panic as well).
func (db *DB) survive(info *Info, ok *bool) {
	if recover() == nil {
		return
	}
	*info, *ok = Info{}, false
	first := db.stale.CompareAndSwap(false, true)
	if db.onFault != nil {
		db.onFault(first)
	}
}

func (db *DB) lookup(ip netip.Addr) (Info, bool) {
	ip = ip.Unmap().WithZone("")
	res := db.reader.Lookup(ip)
	if !res.Found() {
		return Info{}, false
	}
	rec := recordPool.Get().(*record)
	*rec = record{}
	err := res.Decode(rec)
	r := *rec
	recordPool.Put(rec)
	if err != nil {
		return Info{}, false
	}
	info := Info{IP: ip, Source: SourceGeoIP}
	info.Country = normCountry(r.country)
	info.Region = normRegion(r.region, info.Country)
	info.City = normCity(r.city)
	info.Timezone = normTimezone(r.timezone)
	info.Continent = normContinent(r.continent)
	if r.hasLat && r.hasLon {
		info.Lat, info.Lon, info.HasLatLon = validLatLon(r.lat, r.lon)
	}
	if info.Country == "" && info.Continent == "" && info.City == "" && info.Timezone == "" && !info.HasLatLon {
		return Info{}, false
	}
	if info.Continent == "" {
		info.Continent = continentFor(info.Country)
	}
	return info, true
}

// recordPool recycles records: Decode takes an interface, so a record
// passed to it always escapes to the heap.
var recordPool = sync.Pool{New: func() any { return new(record) }}

// record is the part of a GeoIP2 City or Country record that Info needs:
//
//	continent.code, country.iso_code, subdivisions[0].iso_code,
//	city.names.en, location.latitude, location.longitude, location.time_zone
//
// It decodes itself with the cursor API, reading those fields and skipping
// everything else (names in other languages, geoname ids, postal codes,
// registered and represented countries) without materialising them. A
// field of an unexpected type is skipped as if absent, so databases from
// other vendors with a looser schema still work.
type record struct {
	continent, country, region, city, timezone string
	lat, lon                                   float64
	hasLat, hasLon                             bool
}

// UnmarshalMaxMindDBCursor implements mmdbdata.CursorUnmarshaler.
func (r *record) UnmarshalMaxMindDBCursor(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	return eachField(c, func(key []byte, v mmdbdata.Cursor) (mmdbdata.Cursor, error) {
		switch string(key) {
		case "continent":
			return stringField(v, "code", &r.continent)
		case "country":
			return stringField(v, "iso_code", &r.country)
		case "city":
			return eachField(v, func(key []byte, v mmdbdata.Cursor) (mmdbdata.Cursor, error) {
				if string(key) == "names" {
					return stringField(v, "en", &r.city)
				}
				return v.Skip()
			})
		case "subdivisions":
			return firstSubdivision(v, &r.region)
		case "location":
			return eachField(v, func(key []byte, v mmdbdata.Cursor) (mmdbdata.Cursor, error) {
				switch string(key) {
				case "latitude":
					return floatValue(v, &r.lat, &r.hasLat)
				case "longitude":
					return floatValue(v, &r.lon, &r.hasLon)
				case "time_zone":
					return stringValue(v, &r.timezone)
				}
				return v.Skip()
			})
		}
		return v.Skip()
	})
}

// eachField calls f for every entry of the map at c and returns the cursor
// after the map; f must return the cursor after the value it was given. A
// value that is not a map is skipped.
func eachField(c mmdbdata.Cursor, f func(key []byte, v mmdbdata.Cursor) (mmdbdata.Cursor, error)) (mmdbdata.Cursor, error) {
	m, err := c.Map()
	if err != nil {
		return skipIfOtherKind(c, err)
	}
	var next mmdbdata.Cursor
	for {
		key, v, ok := m.Next(next)
		if !ok {
			break
		}
		if next, err = f(key, v); err != nil {
			return mmdbdata.Cursor{}, err
		}
	}
	if err := m.Err(); err != nil {
		return mmdbdata.Cursor{}, err
	}
	return m.End()
}

// skipIfOtherKind turns a read that failed because the value at c has
// another type into skipping that value; other errors (a corrupt database)
// are returned. Reading first and checking the type only on failure keeps
// the common case to one pass over the value's header.
func skipIfOtherKind(c mmdbdata.Cursor, err error) (mmdbdata.Cursor, error) {
	var kind mmdbdata.UnexpectedKindError
	if errors.As(err, &kind) {
		return c.Skip()
	}
	return mmdbdata.Cursor{}, err
}

// stringField reads the string at key of the map at c into dst.
func stringField(c mmdbdata.Cursor, key string, dst *string) (mmdbdata.Cursor, error) {
	return eachField(c, func(k []byte, v mmdbdata.Cursor) (mmdbdata.Cursor, error) {
		if string(k) == key {
			return stringValue(v, dst)
		}
		return v.Skip()
	})
}

// maxString bounds the strings read from a record; real ones are far
// shorter, and a corrupt database must not make a request copy megabytes.
const maxString = 256

// stringValue reads the string at c into dst, or skips a value of another
// type or size.
func stringValue(c mmdbdata.Cursor, dst *string) (mmdbdata.Cursor, error) {
	s, next, err := c.ReadStringMaxSize(maxString)
	if err != nil {
		var kind mmdbdata.UnexpectedKindError
		if errors.As(err, &kind) || c.CheckMaxSize(stringKind, maxString) != nil {
			return c.Skip()
		}
		return mmdbdata.Cursor{}, err
	}
	*dst = s
	return next, nil
}

var stringKind = mmdbdata.NewKindSet(mmdbdata.KindString)

// floatValue reads a number at c into dst and sets ok, or skips a value of
// another type. GeoIP2 stores coordinates as doubles; integers are accepted
// for databases written by other tools.
func floatValue(c mmdbdata.Cursor, dst *float64, ok *bool) (mmdbdata.Cursor, error) {
	f, next, err := c.ReadFloat()
	if err == nil {
		*dst, *ok = f, true
		return next, nil
	}
	var kind mmdbdata.UnexpectedKindError
	if !errors.As(err, &kind) {
		return mmdbdata.Cursor{}, err
	}
	u, signed, next, err := c.ReadInteger()
	if err != nil {
		return skipIfOtherKind(c, err)
	}
	if signed {
		*dst = float64(int64(u))
	} else {
		*dst = float64(u)
	}
	*ok = true
	return next, nil
}

// firstSubdivision reads subdivisions[0].iso_code, the largest subdivision
// (the region, not the department or county), and skips the rest.
func firstSubdivision(c mmdbdata.Cursor, dst *string) (mmdbdata.Cursor, error) {
	s, err := c.Slice()
	if err != nil {
		return skipIfOtherKind(c, err)
	}
	var next mmdbdata.Cursor
	for {
		i, v, ok := s.Next(next)
		if !ok {
			break
		}
		if i == 0 {
			next, err = stringField(v, "iso_code", dst)
		} else {
			next, err = v.Skip()
		}
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
	}
	if err := s.Err(); err != nil {
		return mmdbdata.Cursor{}, err
	}
	return s.End()
}
