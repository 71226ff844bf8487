package compiler

import (
	"errors"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/check"
	"github.com/bespoke-edge/bespoke/internal/codegen"
	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/internal/syntax"
	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/rules/diag"
)

// TestCompilerBugIsAnError: a panic in any stage is an error about the
// file, naming the panic and where it happened, from Diagnose, Check
// and Compile alike; nothing panics out of the compiler.
func TestCompilerBugIsAnError(t *testing.T) {
	src := []byte("rules:\n  - name: r\n    actions: [remove: x]\n")
	for _, stage := range []struct {
		name    string
		breakIt func() (undo func())
	}{
		{"parse", func() func() {
			parse = func(string, []byte) (*syntax.File, diag.List) { panic("parse broke") }
			return func() { parse = syntax.ParsePartial }
		}},
		{"check", func() func() {
			checkRun = func(*syntax.File) (*ir.Program, diag.List) {
				var s []int
				_ = s[len(s)+1] // an index out of range, as the checker's was
				return nil, nil
			}
			return func() { checkRun = check.Run }
		}},
		{"codegen", func() func() {
			generate = func(*ir.Program) (*plugin.Artifact, error) { panic("codegen broke") }
			return func() { generate = codegen.GenerateArtifact }
		}},
	} {
		t.Run(stage.name, func(t *testing.T) {
			defer stage.breakIt()()
			_, err := Compile("r.yaml", src)
			var l diag.List
			if !errors.As(err, &l) || len(l) != 1 {
				t.Fatalf("Compile: %v, want one error", err)
			}
			e := l[0]
			if e.Code != "internal" || !strings.HasPrefix(e.Error(), "r.yaml: the compiler failed on this file, a bug in bespoke: ") || !strings.Contains(e.Msg, " in github.com/bespoke-edge/bespoke/internal/compiler.") {
				t.Errorf("Compile: %v (code %q)", e, e.Code)
			}
			if stage.name != "codegen" {
				if _, l := Diagnose("r.yaml", src); len(l) != 1 || l[0].Code != "internal" {
					t.Errorf("Diagnose: %v", l)
				}
				if _, err := Check("r.yaml", src); err == nil {
					t.Error("Check: no error")
				}
			}
		})
	}
}
