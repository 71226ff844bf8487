package host

import (
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/proxy"
)

// TestDefaultTransportTimeouts: the timeouts of the transport a nil
// Transport means are those Config.Transport's doc gives; it gave none,
// and an event stream quiet for a minute was cut without a word of it.
// The wait for the origin's headers is nginx's (proxy_read_timeout,
// 60 s, bounds it as it bounds a body's silences): an origin that takes
// 30 to 60 s to start answering (a report, an export) got a 504 from
// bespoke where nginx waited for it. The proxy's own default transport
// waits as long.
func TestDefaultTransportTimeouts(t *testing.T) {
	c, _, err := translate(Config{Origin: "http://127.0.0.1:8080"})
	if err != nil {
		t.Fatal(err)
	}
	u := c.Limits.Upstream
	for _, d := range []struct {
		name      string
		got, want time.Duration
	}{
		{"dial", u.DialTimeout.D(), 5 * time.Second},
		{"response headers", u.ResponseHeaderTimeout.D(), 60 * time.Second},
		{"a body's silence", u.ReadTimeout.D(), 60 * time.Second},
		{"response headers, the proxy's own transport", proxy.NewTransport().ResponseHeaderTimeout, 60 * time.Second},
	} {
		if d.got != d.want {
			t.Errorf("%s: %v, the doc says %v", d.name, d.got, d.want)
		}
	}
}
