package host

import (
	"testing"
	"time"
)

// TestDefaultTransportTimeouts: the timeouts of the transport a nil
// Transport means are those Config.Transport's doc gives; it gave none,
// and an event stream quiet for a minute was cut without a word of it.
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
		{"response headers", u.ResponseHeaderTimeout.D(), 30 * time.Second},
		{"a body's silence", u.ReadTimeout.D(), 60 * time.Second},
	} {
		if d.got != d.want {
			t.Errorf("%s: %v, the doc says %v", d.name, d.got, d.want)
		}
	}
}
