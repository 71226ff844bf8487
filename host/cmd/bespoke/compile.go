package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/rules/diag"
)

func compileCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("compile", stdout, "RULES.yaml [-o SITE.wasm] [--dump-ir]")
	out := fs.String("o", "", "output `file` (default: the rule file's name with .wasm; - for stdout)")
	dumpIR := fs.Bool("dump-ir", false, "print the checked IR (slots, symbols, conditions) to stdout")
	dumpManifest := fs.Bool("dump-manifest", false, "print the manifest embedded in the module")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("expected one rule file, got %d", len(pos))
	}
	// The module and a dump on stdout would be one stream no tool reads.
	for _, d := range []struct {
		name string
		on   bool
	}{{"--dump-ir", *dumpIR}, {"--dump-manifest", *dumpManifest}} {
		if *out == "-" && d.on {
			return usagef("-o - writes the module to stdout, where %s prints too: give -o FILE", d.name)
		}
	}
	src, err := readRuleFile(pos[0])
	if err != nil {
		return report(stderr, err)
	}
	// A slip of -o that names the rules (or a link to them) would
	// replace them with the module.
	if *out != "" && *out != "-" {
		in, ierr := os.Stat(pos[0])
		o, oerr := os.Stat(*out)
		if ierr == nil && oerr == nil && os.SameFile(in, o) {
			return usagef("-o %s is the rule file: give another file for the module", *out)
		}
	}
	res, err := compiler.Compile(pos[0], src)
	if err != nil {
		return report(stderr, err)
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(stderr, w)
	}
	if *dumpIR {
		fmt.Fprint(stdout, res.Program.Dump())
	}
	if *dumpManifest {
		sec, _ := customManifest(res.Artifact.Wasm)
		fmt.Fprintln(stdout, sec)
	}
	path := *out
	if path == "" {
		path = strings.TrimSuffix(pos[0], filepath.Ext(pos[0])) + ".wasm"
	}
	if path == "-" {
		if _, err := stdout.Write(res.Artifact.Wasm); err != nil {
			return err
		}
		path = "standard output"
	} else if err := os.WriteFile(path, res.Artifact.Wasm, 0o644); err != nil {
		return err
	}
	m := res.Artifact.Manifest
	fmt.Fprintf(stderr, "%s: %s, %s, %s -> %s (%d bytes)\n",
		pos[0], count(len(m.Rules), "rule"), count(len(res.Program.Segments), "segment"), count(len(m.Slots), "slot"), path, len(res.Artifact.Wasm))
	return nil
}

// report prints compile errors one per line, file:line:col first, with a
// count when there are several, and returns errReported.
func report(w io.Writer, err error) error {
	var list diag.List
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Fprintln(w, e.Error())
		}
		if len(list) > 1 {
			fmt.Fprintf(w, "%d errors\n", len(list))
		}
		return errReported
	}
	fmt.Fprintln(w, err)
	return errReported
}

// customManifest returns a module's manifest section, indented.
func customManifest(wasm []byte) (string, error) {
	secs, err := plugin.CustomSections(wasm)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, secs[plugin.SectionManifest], "", "  "); err != nil {
		return "", err
	}
	return b.String(), nil
}
