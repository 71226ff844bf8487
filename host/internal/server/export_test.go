package server

import (
	"net"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// CityDB is cityDB, for the tests outside the package.
var CityDB = cityDB

// cityDB is a GeoIP database that places 203.0.113.0/24 in country.
func cityDB(t *testing.T, country string) []byte {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-City", IncludeReservedNetworks: true, RecordSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	_, n, _ := net.ParseCIDR("203.0.113.0/24")
	if err := w.Insert(n, mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(country)}}); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if _, err := w.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return []byte(b.String())
}

// WaitReplaced waits until the configurations a reload replaced are
// closed.
func (l *Live) WaitReplaced() { l.oldWG.Wait() }
