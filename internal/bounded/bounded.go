// Package bounded defines the subset of WebAssembly whose running time is
// bounded by construction, and verifies that a plugin module is in it.
//
// A module in the subset has no loop except in the string helpers (whose
// bytes the verifier knows), no call cycle, no indirect call, no memory
// growth, imports only the host functions of the ABI, writes memory only
// in its Decision (and the scratch space after it), and calls the string
// helpers only on a value the host wrote (its length read from the slot
// table) and a constant no longer than the module's data. Its instructions
// executed per decision are then at most its static cost (Cost) per byte
// of the longest value, and the host can run it without termination
// checks, as it runs the rules it has just compiled.
//
// The verifier reads the binary itself: sections, then every function
// body, type-checked as the WebAssembly specification validates code, with
// the constants and slot-length loads tracked on the operand stack. It is
// written to be run on hostile input: it never panics, never allocates
// more than a small multiple of the input, and rejects anything it does
// not fully understand. A module it rejects still runs, with a deadline.
package bounded

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/bespoke-edge/bespoke/plugin"
)

// MaxCost is the largest static cost (instructions executed in one
// decision, the slow ones counted for what they take, see DivideCost;
// per byte of the longest value for the contains helper) of a module in
// the subset: about 10 ms of machine time, the order of the
// host's default deadline. Rule files compile far below it (10,000 rules:
// under 1% of it, 0.92%).
const MaxCost = 1 << 24

// MaxCallDepth is how deep the calls of a module in the subset may nest
// (from bespoke_decide, the string helpers and host functions left
// out). A call costs its instruction, but takes a frame on a stack that
// grows with the nesting, and its callee's code, cold when each is
// another function's: a chain of 200,000 functions each calling the
// next decided in 14 to 37 ms. Rule files nest a few deep.
const MaxCallDepth = 1000

// MinValueBound is the shortest value bound (Result.MaxValue) a module
// may have to run without a deadline: the 4 KiB browsers allow a cookie.
// (10,000 generated rules read values of up to some 6 KB in their bounded
// time.)
const MinValueBound = 4 << 10

// MaxValue is the length of the longest value a module the verifier
// accepted may be given, its cost then staying within MaxCost: values
// longer than it would let a contains test or a regex on a visitor's
// header run for seconds, without termination checks. 0 means no value
// at all; -1, no bound.
func (r *Result) MaxValue() int64 {
	switch {
	case r.PerByte <= 0:
		return -1
	case r.Cost >= MaxCost:
		return 0
	}
	return (MaxCost - r.Cost) / r.PerByte
}

// Error says why a module is outside the bounded subset.
type Error struct {
	// Func is the index of the function at fault, or -1 for the module's
	// structure.
	Func int
	// Name is the function's name from the name section, when it has one.
	Name string
	// Msg says what is wrong, with the byte offset in the module when
	// there is one.
	Msg string
}

func (e *Error) Error() string {
	switch {
	case e.Func < 0:
		return "not in the bounded subset: " + e.Msg
	case e.Name != "":
		return fmt.Sprintf("not in the bounded subset: function %d (%s): %s", e.Func, e.Name, e.Msg)
	}
	return fmt.Sprintf("not in the bounded subset: function %d: %s", e.Func, e.Msg)
}

// Result is what the verifier learned of a module in the subset.
type Result struct {
	// Cost and PerByte are the module's static cost: bespoke_decide
	// executes at most Cost + PerByte × n instructions, n the length of
	// the longest value the host gives it (the contains helper and the
	// host's regex_match run in time linear in it). The host bounds n so
	// that this stays within MaxCost (see MaxValue).
	Cost, PerByte int64
	// Funcs is the number of functions the module defines, Helpers how
	// many of them are string helpers.
	Funcs, Helpers int
}

// Verify checks that wasm, whose manifest m has been validated
// (plugin.ReadArtifact does both), is in the bounded subset. The error,
// when not nil, is an *Error.
func Verify(wasm []byte, m *plugin.Manifest) (*Result, error) {
	mod, err := parse(wasm)
	if err != nil {
		return nil, err
	}
	v := &verifier{mod: mod, m: m}
	for _, p := range m.Patterns {
		n := PatternSize(p)
		v.patternSize = append(v.patternSize, n)
		v.maxPattern = max(v.maxPattern, n)
	}
	for _, s := range m.Symbols {
		v.maxSymbol = max(v.maxSymbol, len(s))
	}
	if err := v.structure(); err != nil {
		return nil, err
	}
	return v.code()
}

// Limits that keep the verifier's memory proportional to its input and
// its work linear in it.
const (
	maxLocals  = 50000 // per function, parameters included
	maxParams  = 1000
	maxResults = 1
)

type funcType struct {
	params, results []valType
}

func (t funcType) String() string { return fmt.Sprintf("%v -> %v", t.params, t.results) }

func (t funcType) equal(params, results []valType) bool {
	return bytes.Equal(valBytes(t.params), valBytes(params)) && bytes.Equal(valBytes(t.results), valBytes(results))
}

func valBytes(ts []valType) []byte {
	b := make([]byte, len(ts))
	for i, t := range ts {
		b[i] = byte(t)
	}
	return b
}

type global struct {
	t       valType
	mutable bool
	init    int64
}

type export struct {
	name  string
	kind  byte
	index uint32
}

type body struct {
	off   int // of the body's first byte (its locals) in the module
	bytes []byte
}

type dataSeg struct {
	offset uint32
	size   uint32
}

// module is a parsed module: only what the subset allows can be in it.
type module struct {
	types     []funcType
	imports   []string // imported functions' names, all in module plugin.ImportModule
	impTypes  []uint32
	funcs     []uint32 // type of each defined function
	hasMemory bool
	memMin    uint32
	globals   []global
	exports   []export
	bodies    []body
	data      []dataSeg
	dataBytes uint64
	customs   map[string][]byte
	names     map[uint32]string
}

// Section ids, in the order a module must have them.
const (
	secCustom   = 0
	secType     = 1
	secImport   = 2
	secFunction = 3
	secTable    = 4
	secMemory   = 5
	secGlobal   = 6
	secExport   = 7
	secStart    = 8
	secElement  = 9
	secCode     = 10
	secData     = 11
)

func structErr(format string, args ...any) error {
	return &Error{Func: -1, Msg: fmt.Sprintf(format, args...)}
}

// parse reads a module's sections.
func parse(wasm []byte) (*module, error) {
	if len(wasm) < 8 || !bytes.Equal(wasm[:8], []byte{0, 'a', 's', 'm', 1, 0, 0, 0}) {
		return nil, structErr("not a WebAssembly 1.0 module (bad magic or version)")
	}
	mod := &module{customs: map[string][]byte{}}
	r := &reader{b: wasm, pos: 8}
	last := byte(0)
	for !r.done() {
		id, err := r.byte()
		if err != nil {
			return nil, structErr("%v", err)
		}
		size, err := r.u32()
		if err != nil {
			return nil, structErr("section %d: %v", id, err)
		}
		start := r.pos
		payload, err := r.bytes(size)
		if err != nil {
			return nil, structErr("section %d: %v", id, err)
		}
		s := &reader{b: payload, off: start}
		if id != secCustom {
			if id <= last {
				return nil, structErr("section %d after section %d: out of order or repeated", id, last)
			}
			last = id
		}
		if err := mod.section(id, s); err != nil {
			return nil, structErr("%s section: %v", sectionName(id), err)
		}
		if !s.done() {
			return nil, structErr("%s section: %d bytes left over", sectionName(id), len(s.b)-s.pos)
		}
	}
	if len(mod.bodies) != len(mod.funcs) {
		return nil, structErr("%d functions declared, %d bodies", len(mod.funcs), len(mod.bodies))
	}
	return mod, nil
}

func sectionName(id byte) string {
	names := []string{"custom", "type", "import", "function", "table", "memory", "global", "export", "start", "element", "code", "data", "data count"}
	if int(id) < len(names) {
		return names[id]
	}
	return fmt.Sprintf("unknown (id %d)", id)
}

func (mod *module) section(id byte, r *reader) error {
	switch id {
	case secCustom:
		name, err := r.name()
		if err != nil {
			return err
		}
		if _, dup := mod.customs[name]; dup {
			return fmt.Errorf("%q appears twice", name)
		}
		mod.customs[name] = r.b[r.pos:]
		r.pos = len(r.b)
		return nil
	case secType:
		n, err := r.count(3)
		if err != nil {
			return err
		}
		for range n {
			if c, err := r.byte(); err != nil || c != 0x60 {
				return r.errorf("not a function type")
			}
			var t funcType
			for _, list := range []*[]valType{&t.params, &t.results} {
				k, err := r.count(1)
				if err != nil {
					return err
				}
				for range k {
					vt, err := r.valType()
					if err != nil {
						return err
					}
					*list = append(*list, vt)
				}
			}
			if len(t.params) > maxParams || len(t.results) > maxResults {
				return r.errorf("function type %v: more parameters or results than the subset allows", t)
			}
			mod.types = append(mod.types, t)
		}
	case secImport:
		n, err := r.count(4)
		if err != nil {
			return err
		}
		for range n {
			module, err := r.name()
			if err != nil {
				return err
			}
			name, err := r.name()
			if err != nil {
				return err
			}
			kind, err := r.byte()
			if err != nil {
				return err
			}
			if kind != 0 {
				return fmt.Errorf("imports %s.%s, which is not a function: a plugin imports only host functions", module, name)
			}
			ti, err := r.u32()
			if err != nil {
				return err
			}
			if module != plugin.ImportModule || (name != plugin.ImportRegexMatch && name != plugin.ImportSeen) {
				return fmt.Errorf("imports %s.%s, which is not a host function of the ABI", module, name)
			}
			if int(ti) >= len(mod.types) {
				return fmt.Errorf("import %s.%s: type %d out of range", module, name, ti)
			}
			want := []valType{tI32, tI32}
			if name == plugin.ImportSeen {
				want = want[:1]
			}
			if !mod.types[ti].equal(want, []valType{tI32}) {
				return fmt.Errorf("imports %s.%s as %v, the ABI says %v -> [i32]", module, name, mod.types[ti], want)
			}
			for _, im := range mod.imports {
				if im == name {
					return fmt.Errorf("imports %s.%s twice", module, name)
				}
			}
			mod.imports = append(mod.imports, name)
			mod.impTypes = append(mod.impTypes, ti)
		}
	case secFunction:
		n, err := r.count(1)
		if err != nil {
			return err
		}
		for range n {
			ti, err := r.u32()
			if err != nil {
				return err
			}
			if int(ti) >= len(mod.types) {
				return r.errorf("type %d out of range", ti)
			}
			mod.funcs = append(mod.funcs, ti)
		}
	case secTable:
		if n, err := r.u32(); err != nil || n != 0 {
			return fmt.Errorf("a table allows indirect calls, which the subset excludes")
		}
	case secMemory:
		n, err := r.u32()
		if err != nil {
			return err
		}
		if n != 1 {
			return fmt.Errorf("%d memories: the subset has exactly one", n)
		}
		flags, err := r.byte()
		if err != nil {
			return err
		}
		if flags > 1 {
			return fmt.Errorf("memory flags 0x%02x (shared or 64-bit memory) are outside the subset", flags)
		}
		if mod.memMin, err = r.u32(); err != nil {
			return err
		}
		max := uint32(65536)
		if flags == 1 {
			if max, err = r.u32(); err != nil {
				return err
			}
		}
		if mod.memMin > 65536 || max > 65536 || mod.memMin > max {
			return fmt.Errorf("memory limits %d..%d pages are invalid", mod.memMin, max)
		}
		mod.hasMemory = true
	case secGlobal:
		n, err := r.count(4)
		if err != nil {
			return err
		}
		for range n {
			t, err := r.valType()
			if err != nil {
				return err
			}
			mut, err := r.byte()
			if err != nil {
				return err
			}
			if mut > 1 {
				return r.errorf("global mutability 0x%02x", mut)
			}
			v, err := r.constExpr(t)
			if err != nil {
				return err
			}
			mod.globals = append(mod.globals, global{t: t, mutable: mut == 1, init: v})
		}
	case secExport:
		n, err := r.count(3)
		if err != nil {
			return err
		}
		for range n {
			name, err := r.name()
			if err != nil {
				return err
			}
			kind, err := r.byte()
			if err != nil {
				return err
			}
			idx, err := r.u32()
			if err != nil {
				return err
			}
			mod.exports = append(mod.exports, export{name: name, kind: kind, index: idx})
		}
	case secStart:
		return fmt.Errorf("a start function runs outside bespoke_decide; the ABI has none")
	case secElement:
		if n, err := r.u32(); err != nil || n != 0 {
			return fmt.Errorf("element segments fill tables, which the subset excludes")
		}
	case secCode:
		n, err := r.count(2)
		if err != nil {
			return err
		}
		for range n {
			size, err := r.u32()
			if err != nil {
				return err
			}
			off := r.at()
			b, err := r.bytes(size)
			if err != nil {
				return err
			}
			mod.bodies = append(mod.bodies, body{off: off, bytes: b})
		}
	case secData:
		n, err := r.count(4)
		if err != nil {
			return err
		}
		for range n {
			mode, err := r.u32()
			if err != nil {
				return err
			}
			if mode != 0 {
				return fmt.Errorf("data segment mode %d: the subset has active segments of memory 0 only", mode)
			}
			off, err := r.constExpr(tI32)
			if err != nil {
				return err
			}
			size, err := r.u32()
			if err != nil {
				return err
			}
			if _, err := r.bytes(size); err != nil {
				return err
			}
			mod.data = append(mod.data, dataSeg{offset: uint32(off), size: size})
			mod.dataBytes += uint64(size)
		}
	default:
		return fmt.Errorf("outside the subset")
	}
	return nil
}

// verifier checks a parsed module against the subset and a manifest.
type verifier struct {
	mod *module
	m   *plugin.Manifest
	// kinds says which defined functions are string helpers.
	kinds []Helper
	// patternSize is the program size of each of the manifest's
	// patterns, maxPattern the largest.
	patternSize []int
	maxPattern  int
	// maxSymbol is the length of the manifest's longest symbol.
	maxSymbol int
}

// structure checks everything but the code: exports, memory, data, custom
// sections.
func (v *verifier) structure() error {
	mod, m := v.mod, v.m
	if !mod.hasMemory {
		return structErr("no memory: the ABI exports one as %q", plugin.ExportMemory)
	}
	nimp := uint32(len(mod.imports))
	seen := map[string]bool{}
	for _, e := range mod.exports {
		if seen[e.name] {
			return structErr("export %q appears twice", e.name)
		}
		seen[e.name] = true
		switch {
		case e.name == plugin.ExportMemory && e.kind == 2 && e.index == 0:
		case e.name == plugin.ExportDecide && e.kind == 0:
			if e.index < nimp || e.index-nimp >= uint32(len(mod.funcs)) {
				return structErr("export %q is not a function the module defines", e.name)
			}
			if t := mod.types[mod.funcs[e.index-nimp]]; !t.equal(nil, []valType{tI32}) {
				return structErr("export %q has type %v, the ABI says [] -> [i32]", e.name, t)
			}
		case e.name == plugin.ExportABIVersion && e.kind == 3:
			if int(e.index) >= len(mod.globals) {
				return structErr("export %q: global %d out of range", e.name, e.index)
			}
			if g := mod.globals[e.index]; g.t != tI32 || g.mutable || g.init != plugin.ABIVersion {
				return structErr("export %q must be an immutable i32 global holding %d", e.name, plugin.ABIVersion)
			}
		default:
			return structErr("exports %q (kind %d): the ABI exports only %q, %q and %q", e.name, e.kind, plugin.ExportMemory, plugin.ExportDecide, plugin.ExportABIVersion)
		}
	}
	for _, name := range []string{plugin.ExportMemory, plugin.ExportDecide, plugin.ExportABIVersion} {
		if !seen[name] {
			return structErr("does not export %q", name)
		}
	}
	for name, payload := range mod.customs {
		switch name {
		case plugin.SectionABI:
			if len(payload) != 4 || binary.LittleEndian.Uint32(payload) != plugin.ABIVersion {
				return structErr("custom section %q does not hold ABI %d", name, plugin.ABIVersion)
			}
		case plugin.SectionManifest:
		case "name":
			names, err := functionNames(payload)
			if err != nil {
				return structErr("name section: %v", err)
			}
			mod.names = names
		default:
			return structErr("custom section %q is not one of the ABI's", name)
		}
	}
	if _, ok := mod.customs[plugin.SectionManifest]; !ok {
		return structErr("no %q section", plugin.SectionManifest)
	}
	if _, ok := mod.customs[plugin.SectionABI]; !ok {
		return structErr("no %q section", plugin.SectionABI)
	}
	// Constants live between Data and Heap: the host writes below (slot
	// table) and above (values), the module writes only its Decision.
	l := m.Layout
	for i, d := range mod.data {
		if uint64(d.offset) < uint64(l.Data) || uint64(d.offset)+uint64(d.size) > uint64(l.Heap) {
			return structErr("data segment %d at %d..%d lies outside the module's constants (%d..%d)", i, d.offset, uint64(d.offset)+uint64(d.size), l.Data, l.Heap)
		}
	}
	return nil
}

// functionNames reads the function-name subsection of a name section.
// Other subsections (module, local names) are skipped.
func functionNames(payload []byte) (map[uint32]string, error) {
	r := &reader{b: payload}
	names := map[uint32]string{}
	last := -1
	for !r.done() {
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		if int(id) <= last {
			return nil, r.errorf("subsection %d out of order", id)
		}
		last = int(id)
		size, err := r.u32()
		if err != nil {
			return nil, err
		}
		b, err := r.bytes(size)
		if err != nil {
			return nil, err
		}
		s := &reader{b: b, off: r.at() - len(b)}
		// The runtime decodes the module-name, function-names and
		// local-names subsections and requires each to fill its declared
		// size exactly; it skips the others. Hold them to the same.
		switch id {
		case 0:
			if _, err := s.name(); err != nil {
				return nil, err
			}
			if !s.done() {
				return nil, s.errorf("module name: bytes left over")
			}
			continue
		case 2:
			if err := localNames(s); err != nil {
				return nil, err
			}
			continue
		case 1:
		default:
			continue
		}
		n, err := s.count(2)
		if err != nil {
			return nil, err
		}
		for range n {
			idx, err := s.u32()
			if err != nil {
				return nil, err
			}
			name, err := s.name()
			if err != nil {
				return nil, err
			}
			names[idx] = name
		}
		if !s.done() {
			return nil, s.errorf("function names: bytes left over")
		}
	}
	return names, nil
}

// localNames reads a local-names subsection: per function, its locals'
// names; it must fill the subsection exactly.
func localNames(s *reader) error {
	n, err := s.count(2)
	if err != nil {
		return err
	}
	for range n {
		if _, err := s.u32(); err != nil {
			return err
		}
		m, err := s.count(2)
		if err != nil {
			return err
		}
		for range m {
			if _, err := s.u32(); err != nil {
				return err
			}
			if _, err := s.name(); err != nil {
				return err
			}
		}
	}
	if !s.done() {
		return s.errorf("local names: bytes left over")
	}
	return nil
}
