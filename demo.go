// Package bespoke personalizes web pages at the edge: content editors write
// rules, the compiler (package rules) turns them into a small WebAssembly
// plugin, and the host (package host/...) runs it in a reverse proxy that
// rewrites the origin's pages as they stream through.
//
// This package holds only the bundled demo: a small shop site and the rules
// that personalize it, served by `bespoke serve --demo`.
package bespoke

import "embed"

// Demo holds testdata/demo: site/ (the demo origin's files) and rules.yaml.
//
//go:embed testdata/demo
var Demo embed.FS
