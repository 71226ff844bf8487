package server

import (
	"reflect"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/config"
)

// TestRestartOnly: each setting of the listeners, the admin API's guard,
// the cookies' key and the log's format that a new configuration changes
// is named, and set back to its running value; the others apply.
func TestRestartOnly(t *testing.T) {
	base := func() *config.Config {
		admin := "127.0.0.1:9090"
		c := &config.Config{Listen: ":8080", Admin: &admin, Routes: []config.Route{{Name: "shop", Origin: "http://a.test"}}}
		c.Defaults()
		return c
	}
	for _, c := range []struct {
		key    string // "": applies
		change func(*config.Config)
	}{
		{"listen", func(c *config.Config) { c.Listen = ":8081" }},
		{"admin", func(c *config.Config) { none := ""; c.Admin = &none }},
		{"admin_token_file", func(c *config.Config) { c.AdminTokenFile = "/etc/bespoke/token" }},
		{"admin_hosts", func(c *config.Config) { c.AdminHosts = []string{"admin.internal"} }},
		{"tls.cert", func(c *config.Config) { c.TLS.Cert = "/etc/bespoke/cert.pem" }},
		{"tls.key", func(c *config.Config) { c.TLS.Key = "/etc/bespoke/key.pem" }},
		{"h2c", func(c *config.Config) { c.H2C = true }},
		{"limits.read_header_timeout", func(c *config.Config) { c.Limits.ReadHeader = config.Duration(1) }},
		{"limits.idle_timeout", func(c *config.Config) { c.Limits.Idle = config.Duration(1) }},
		{"limits.max_header_bytes", func(c *config.Config) { c.Limits.MaxHeaderBytes = 1 << 10 }},
		{"limits.send_timeout", func(c *config.Config) { c.Limits.SendTimeout = config.Duration(1) }},
		{"limits.max_connections", func(c *config.Config) { c.Limits.MaxConnections = 10 }},
		{"secret_file", func(c *config.Config) { c.SecretFile = "/etc/bespoke/secret" }},
		{"log.format", func(c *config.Config) { c.Log.Format = "json" }},
		{"log.level", func(c *config.Config) { c.Log.Level = "debug" }},
		{"", func(c *config.Config) { c.Routes[0].Origin = "http://b.test" }},
		{"", func(c *config.Config) { c.Limits.PoolSize = 9 }},
		{"", func(c *config.Config) { c.Limits.BodyTimeout = config.Duration(1) }},
		{"", func(c *config.Config) { c.Log.DebugHeaders = true }},
		{"", func(c *config.Config) { c.Seen.Store = "off" }},
		{"", func(c *config.Config) { c.Geo.TimeZone = "Europe/Paris" }},
	} {
		running, next := base(), base()
		c.change(next)
		applied := *next
		got := restartOnly(running, next, false)
		if c.key == "" {
			if len(got) != 0 {
				t.Errorf("a change that applies was kept: %v", got)
			}
			if !reflect.DeepEqual(*next, applied) {
				t.Errorf("a change that applies was undone")
			}
			continue
		}
		if len(got) != 1 || got[0].key != c.key {
			t.Errorf("%s changed: kept %v, want it alone", c.key, got)
		}
		if !reflect.DeepEqual(next, running) {
			t.Errorf("%s changed: not set back to its running value", c.key)
		}
	}
	// With a level a reload sets (LiveOptions.Level, as bespoke serve
	// has), log.level applies.
	running, next := base(), base()
	next.Log.Level = "debug"
	if got := restartOnly(running, next, true); len(got) != 0 || next.Log.Level != "debug" {
		t.Errorf("log.level with a level a reload sets: kept %v, level %q", got, next.Log.Level)
	}
}
