// Package compiler runs the rule compiler's stages, each a package of its
// own, and hands the host's tools the checked program along with the
// plugin:
//
//	syntax   YAML and conditions -> syntax tree, with positions
//	check    names, types, values, selectors -> ir.Program
//	codegen  ir.Program -> Wasm module with the manifest in custom sections
//
// Package rules is its public face, which keeps the program (the IR, free
// to change) to the module.
package compiler

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"unicode/utf8"

	"github.com/bespoke-edge/bespoke/internal/check"
	"github.com/bespoke-edge/bespoke/internal/codegen"
	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/internal/syntax"
	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/rules/diag"
)

// Result is a compiled rule file.
type Result struct {
	// Program is the checked IR: for explain, tests, the preview and the
	// reference evaluator.
	Program *ir.Program
	// Artifact is the plugin: the Wasm module and its manifest.
	Artifact *plugin.Artifact
	// Warnings are the problems that do not stop the file compiling (a
	// rule that never matches, a comparison that always holds), sorted
	// by position.
	Warnings diag.List
}

// Check parses and checks a rule file without generating code. The error,
// when not nil, is a diag.List: every error with its file:line:col.
func Check(name string, src []byte) (*ir.Program, error) {
	p, l := Diagnose(name, src)
	if err := l.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

// Diagnose parses and checks a rule file and returns its program (nil when
// it has errors) and every problem found, errors and warnings, sorted by
// position. A YAML error does not hide the others: what YAML cannot read
// is reported and left out, and the rest is checked.
func Diagnose(name string, src []byte) (p *ir.Program, l diag.List) {
	defer func() {
		if v := recover(); v != nil {
			p, l = nil, diag.List{compilerBug(name, v)}
		}
	}()
	if e := encoding(name, src); e != nil {
		// Read as UTF-8, such a file gives errors about its quoting or
		// indentation, which are not what is wrong.
		return nil, diag.List{e}
	}
	f, errs := parse(name, src)
	p, more := checkRun(f)
	errs = append(errs, more...)
	errs = dedupe(errs)
	errs.Sort()
	if len(errs.Errors()) > 0 {
		return nil, errs
	}
	sum := sha256.Sum256(src)
	p.SourceHash = "sha256:" + hex.EncodeToString(sum[:])
	return p, errs
}

// The stages, replaced in tests by ones that panic.
var (
	parse    = syntax.ParsePartial
	checkRun = check.Run
	generate = codegen.GenerateArtifact
)

// compilerBug turns a panic in the compiler's stages into an error about
// the file: a file that trips a bug is rejected as one with a mistake is,
// so that a proxy or a preview reloading it keeps serving the rules it
// has, and the editor learns what to report. It names the function that
// panicked, the first frame outside the runtime.
func compilerBug(name string, v any) *diag.Error {
	where := ""
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, "runtime.") {
			where = fmt.Sprintf(" in %s (%s:%d)", f.Function, filepath.Base(f.File), f.Line)
			break
		}
		if !more {
			break
		}
	}
	return diag.Errorf(diag.Pos{File: name}, "the compiler failed on this file, a bug in bespoke: %v%s", v, where).
		WithHint("report it with this file; meanwhile a change elsewhere in the file may avoid it, and a proxy keeps serving the rules it has").WithCode("internal")
}

// encoding reports a rule file that is not UTF-8 text: a compiled plugin,
// UTF-16 (Notepad's "Unicode"), or a legacy encoding such as Latin-1,
// at the first byte UTF-8 cannot read.
func encoding(name string, src []byte) *diag.Error {
	switch {
	case bytes.HasPrefix(src, []byte("\x00asm")):
		return diag.Errorf(diag.Pos{File: name}, "this is a compiled plugin (WebAssembly), not a rule file").
			WithHint("give it where plugins go (serve --plugin); check, test and compile read the .yaml it was compiled from").WithCode("encoding")
	case bytes.HasPrefix(src, []byte{0xFF, 0xFE}), bytes.HasPrefix(src, []byte{0xFE, 0xFF}):
		return diag.Errorf(diag.Pos{File: name, Line: 1, Col: 1}, "the file is UTF-16 text; rule files are UTF-8").
			WithHint("save it as UTF-8 (in Notepad: Save as, Encoding: UTF-8)").WithCode("encoding")
	case utf8.Valid(src):
		return nil
	}
	line, col := 1, 1
	for i := 0; i < len(src); {
		r, n := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && n <= 1 {
			return diag.Errorf(diag.Pos{File: name, Line: line, Col: col}, "the byte 0x%02X is not UTF-8: the file is in another encoding (Latin-1 or Windows-1252, most likely)", src[i]).
				WithHint("save the file as UTF-8").WithCode("encoding")
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += n
	}
	return nil
}

// dedupe drops a problem reported twice at one position.
func dedupe(l diag.List) diag.List {
	seen := map[string]bool{}
	out := l[:0]
	for _, e := range l {
		k := e.Pos.String() + "\x00" + e.Msg
		if !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}

// Compile compiles a rule file into a plugin artifact.
func Compile(name string, src []byte) (res *Result, err error) {
	p, l := Diagnose(name, src)
	if err := l.Err(); err != nil {
		return nil, err
	}
	defer func() {
		if v := recover(); v != nil {
			res, err = nil, diag.List{compilerBug(name, v)}
		}
	}()
	art, err := generate(p)
	if err != nil {
		return nil, fmt.Errorf("%s: generating code: %w", name, err)
	}
	// A manifest the host would refuse is a compiler bug, caught here
	// rather than at load. The host gets the manifest codegen wrote, not
	// one decoded from the module's bytes: decoding it again cost an
	// eighth of compiling a large file, and TestArtifactManifest checks
	// that the two are the same.
	if err := art.Manifest.Validate(); err != nil {
		return nil, fmt.Errorf("%s: compiler produced an invalid artifact: %w", name, err)
	}
	return &Result{Program: p, Artifact: art, Warnings: l.Warnings()}, nil
}

// CompileFile reads and compiles the rule file at path.
func CompileFile(path string) (*Result, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Compile(path, src)
}
