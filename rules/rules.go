// Package rules compiles rule files into plugin artifacts, and checks them
// with every problem at its file:line:col (package diag). The compiler's
// stages live under the module's internal/ (syntax, check, codegen);
// what this package promises is the artifact and the diagnostics.
package rules

import (
	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/rules/diag"
)

// Result is a compiled rule file.
type Result struct {
	// Artifact is the plugin: the Wasm module and its manifest.
	Artifact *plugin.Artifact
	// Warnings are the problems that did not stop the file compiling (a
	// rule that never matches, a comparison that always holds), sorted
	// by position; nil when there are none.
	Warnings diag.List
}

// Check parses and checks a rule file without generating code. The error,
// when not nil, is a diag.List: every error with its file:line:col.
func Check(name string, src []byte) error {
	_, err := compiler.Check(name, src)
	return err
}

// Diagnose parses and checks a rule file and returns every problem found,
// errors and warnings, sorted by position. A YAML error does not hide the
// others: what YAML cannot read is reported and left out, and the rest is
// checked. The file compiles when the list has no errors (l.Err() == nil).
func Diagnose(name string, src []byte) diag.List {
	_, l := compiler.Diagnose(name, src)
	return l
}

// Compile compiles a rule file into a plugin artifact.
func Compile(name string, src []byte) (*Result, error) {
	res, err := compiler.Compile(name, src)
	if err != nil {
		return nil, err
	}
	return &Result{Artifact: res.Artifact, Warnings: res.Warnings}, nil
}

// CompileFile reads and compiles the rule file at path.
func CompileFile(path string) (*Result, error) {
	res, err := compiler.CompileFile(path)
	if err != nil {
		return nil, err
	}
	return &Result{Artifact: res.Artifact, Warnings: res.Warnings}, nil
}
