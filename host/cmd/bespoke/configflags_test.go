package main

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/config"
)

// TestServeConfigRefusesFileOptions: with --config, an option the file
// replaces is refused (it would be ignored), naming the key to set
// instead, and nothing is served.
func TestServeConfigRefusesFileOptions(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bespoke.yaml")
	if err := os.WriteFile(file, []byte("routes: [{ origin: \"http://127.0.0.1:9\" }]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--debug-headers"}, "--debug-headers is not read with --config: set log.debug_headers in " + file},
		{[]string{"--listen", "127.0.0.1:0", "--rules", "site.yaml"}, "--rules is not read with --config: set routes[].rules in " + file},
		{[]string{"--seen-store=redis", "--redis", "redis://127.0.0.1:6379/0"}, "--redis is not read with --config: set seen.redis"},
	}
	for _, tt := range tests {
		code, _, errOut := bespoke(append([]string{"serve", "--config", file}, tt.args...)...)
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tt.args, code, errOut, tt.want)
		}
	}
}

// TestServeOptionsWithConfig: every option of bespoke serve is either
// one the configuration file replaces, naming a key the file has, or one
// that overrides the file, or one the file has no key for: a new option
// must say which.
func TestServeOptionsWithConfig(t *testing.T) {
	overrides := map[string]bool{"listen": true, "admin": true, "tls-cert": true, "tls-key": true, "h2c": true,
		"admin-token-file": true, "admin-host": true, "watch": true}
	notInFile := map[string]bool{"config": true, "demo": true, "preview": true, "dev-preview": true, "dev-clock": true}
	_, _, help := bespoke("serve", "-h")
	names := regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`).FindAllStringSubmatch(help, -1)
	if len(names) < 20 {
		t.Fatalf("found %d options in serve -h:\n%s", len(names), help)
	}
	for _, m := range names {
		name := m[1]
		key, replaced := inConfigFile[name]
		switch {
		case replaced && (overrides[name] || notInFile[name]):
			t.Errorf("--%s is both replaced by the file and not", name)
		case replaced:
			if !hasKey(reflect.TypeFor[config.Config](), key) {
				t.Errorf("--%s: the configuration file has no key %s", name, key)
			}
		case !overrides[name] && !notInFile[name]:
			t.Errorf("--%s: say whether a configuration file replaces it (inConfigFile), or it overrides the file", name)
		}
	}
}

// hasKey reports whether the YAML key path (a.b, routes[].c) names a
// field of t.
func hasKey(t reflect.Type, path string) bool {
	for _, part := range strings.Split(path, ".") {
		part, list := strings.CutSuffix(part, "[]")
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return false
		}
		found := false
		for i := range t.NumField() {
			f := t.Field(i)
			if strings.Split(f.Tag.Get("yaml"), ",")[0] == part {
				t, found = f.Type, true
				break
			}
		}
		if !found || list != (t.Kind() == reflect.Slice) {
			return false
		}
		if list {
			t = t.Elem()
		}
	}
	return true
}
