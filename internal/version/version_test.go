package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuild(t *testing.T) {
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "78ef05968f06aa11bb22cc33dd44ee55ff667788"},
		{Key: "vcs.time", Value: "2026-12-04T12:33:26Z"}, {Key: "vcs.modified", Value: "true"}}
	tests := []struct {
		name    string
		release string
		bi      *debug.BuildInfo
		ok      bool
		want    string // before the toolchain
	}{
		{"no build information", "", nil, false, "dev ("},
		{"a checkout: Go's pseudo-version says no more than the revision", "",
			&debug.BuildInfo{Main: debug.Module{Path: Module, Version: "v0.0.0-20261204123326-78ef05968f06+dirty"}, Settings: vcs}, true,
			"dev (78ef05968f06, 2026-12-04T12:33:26Z, modified; "},
		{"go install ...@v1.4.0", "", &debug.BuildInfo{Main: debug.Module{Path: Module, Version: "v1.4.0"}}, true, "v1.4.0 ("},
		{"a release set at link time", "v1.5.0",
			&debug.BuildInfo{Main: debug.Module{Path: Module, Version: "(devel)"}, Settings: vcs[:1]}, true, "v1.5.0 (78ef05968f06; "},
		{"inside a Caddy binary: the dependency's version, not Caddy's revision", "",
			&debug.BuildInfo{Main: debug.Module{Path: "caddy", Version: "(devel)"}, Deps: []*debug.Module{{Path: Module, Version: "v1.4.0"}}, Settings: vcs}, true,
			"v1.4.0 ("},
	}
	for _, tt := range tests {
		Release = tt.release
		got := fromBuild(tt.bi, tt.ok).String()
		if !strings.HasPrefix(got, tt.want) || !strings.HasSuffix(got, ")") || !strings.Contains(got, "go") {
			t.Errorf("%s: %q, want it to start with %q", tt.name, got, tt.want)
		}
	}
	Release = ""
}
