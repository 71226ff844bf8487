// Package version says which build of bespoke is running: its release,
// the source revision the Go toolchain recorded, and the toolchain, for
// `bespoke version` and the bespoke_build_info metric.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Module is bespoke's module path.
const Module = "github.com/bespoke-edge/bespoke"

// Release names a release build; set it with
// -ldflags "-X github.com/bespoke-edge/bespoke/internal/version.Release=v1.2.3".
// Without it, the module version Go recorded is used (a `go install
// ...@v1.2.3` has one), else "dev".
var Release = ""

// Info describes a build.
type Info struct {
	// Version is the release, the module's version, or "dev".
	Version string
	// Revision is the source revision the build was made from, Time its
	// commit time, and Modified whether the tree had uncommitted changes
	// (all empty when Go recorded none: a build outside a checkout).
	Revision string
	Time     string
	Modified bool
	// Go is the toolchain and platform: go1.26.8 linux/amd64.
	Go string
}

// Get describes this build, from what the linker and the Go toolchain
// recorded. Embedded in another program (a Caddy binary), the version is
// the bespoke module's among its dependencies.
func Get() Info {
	return fromBuild(debug.ReadBuildInfo())
}

func fromBuild(bi *debug.BuildInfo, ok bool) Info {
	i := Info{Version: Release, Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	if ok && i.Version == "" {
		mod := &bi.Main
		for _, d := range bi.Deps {
			if mod.Path != Module && d.Path == Module {
				mod = d
			}
		}
		if mod.Path == Module && mod.Version != "" && mod.Version != "(devel)" {
			i.Version = mod.Version
		}
	}
	if ok && bi.Main.Path == Module {
		// The revision is the main module's: only bespoke's own binary
		// has bespoke's.
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				i.Revision = s.Value
			case "vcs.time":
				i.Time = s.Value
			case "vcs.modified":
				i.Modified = s.Value == "true"
			}
		}
	}
	if r := i.ShortRevision(); r != "" && strings.Contains(i.Version, r) {
		// A pseudo-version Go made from the checkout
		// (v0.0.0-20261204123326-78ef05968f06+dirty) says no more than
		// the revision does.
		i.Version = ""
	}
	if i.Version == "" {
		i.Version = "dev"
	}
	return i
}

// ShortRevision is the revision's first 12 characters.
func (i Info) ShortRevision() string {
	if len(i.Revision) > 12 {
		return i.Revision[:12]
	}
	return i.Revision
}

// String reads: v1.2.3 (3f2c1e7a9b0d, 2026-12-04T12:00:00Z, modified; go1.26.8 linux/amd64).
func (i Info) String() string {
	var parts []string
	if i.Revision != "" {
		parts = append(parts, i.ShortRevision())
	}
	if i.Time != "" {
		parts = append(parts, i.Time)
	}
	if i.Modified {
		parts = append(parts, "modified")
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%s (%s)", i.Version, i.Go)
	}
	return fmt.Sprintf("%s (%s; %s)", i.Version, strings.Join(parts, ", "), i.Go)
}
