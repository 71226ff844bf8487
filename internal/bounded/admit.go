package bounded

import (
	"bytes"
	"fmt"
)

// What any module must keep to before the runtime compiles and
// instantiates it, in the subset or not: what the host cannot bound once
// the module is compiled, a deadline per decision notwithstanding.
const (
	// MaxModuleBytes bounds what the runtime's compiler is given: its
	// time and memory grow with the code (10,000 rules compile to some
	// 2 MB).
	MaxModuleBytes = 8 << 20
	// MaxTableEntries bounds the entries of a module's tables, all
	// together: a table is allocated whole at every instantiation,
	// outside the linear memory the host limits, and a declaration of
	// a few bytes asks for 10,000 entries.
	MaxTableEntries = 10000
	// MaxElementBytes bounds a module's element section: the entries of
	// a passive segment are made again at every instantiation, on the
	// request that needs a new instance, and a byte of the file is an
	// entry. Tables of MaxTableEntries need a few bytes an entry.
	MaxElementBytes = 128 << 10
	// MaxGlobals bounds a module's globals: each instance holds every
	// one, outside the linear memory, for a few bytes of the file each.
	// (10,000 rules compile to 14.)
	MaxGlobals = 10000
)

// Admit checks the structure of any module the host is to load, before
// the runtime compiles it: its size, no start function (the runtime would
// run it at every instantiation, with no deadline, on the request that
// needs a new instance), tables with a declared maximum, within
// MaxTableEntries in all, element segments of at most MaxElementBytes,
// at most MaxGlobals globals, and functions of types the module
// declares. It reads section headers, the type,
// function and table sections and the count of globals only; the
// runtime validates the rest.
func Admit(wasm []byte) error {
	if len(wasm) > MaxModuleBytes {
		return structErr("the module is %d bytes, over the %d a plugin may have", len(wasm), MaxModuleBytes)
	}
	if len(wasm) < 8 || !bytes.Equal(wasm[:8], []byte{0, 'a', 's', 'm', 1, 0, 0, 0}) {
		return structErr("not a WebAssembly 1.0 module (bad magic or version)")
	}
	r := &reader{b: wasm, pos: 8}
	types := -1 // the type section's count, once read
	for !r.done() {
		id, err := r.byte()
		if err != nil {
			return structErr("%v", err)
		}
		size, err := r.u32()
		if err != nil {
			return structErr("section %d: %v", id, err)
		}
		start := r.pos
		payload, err := r.bytes(size)
		if err != nil {
			return structErr("section %d: %v", id, err)
		}
		switch id {
		case secType:
			n, err := (&reader{b: payload, off: start}).u32()
			if err != nil {
				return structErr("type section: %v", err)
			}
			types = int(n)
		case secFunction:
			if err := admitFunctions(&reader{b: payload, off: start}, max(types, 0)); err != nil {
				return structErr("function section: %v", err)
			}
		case secStart:
			return structErr("the module has a start function, which the runtime would run, without a deadline, whenever it makes an instance: a plugin has none (see plugin/README.md)")
		case secTable:
			if err := admitTables(&reader{b: payload, off: start}); err != nil {
				return structErr("table section: %v", err)
			}
		case secElement:
			if size > MaxElementBytes {
				return structErr("the module's element segments take %d bytes, over the %d a plugin's may", size, MaxElementBytes)
			}
		case secGlobal:
			n, err := (&reader{b: payload, off: start}).u32()
			if err != nil {
				return structErr("global section: %v", err)
			}
			if n > MaxGlobals {
				return structErr("the module has %d globals, over the %d a plugin may have", n, MaxGlobals)
			}
		}
	}
	return nil
}

// admitFunctions checks a function section: each function's type is one
// the type section declares. The runtime's validator indexes the types
// with it unchecked, and panics on a module (one flipped byte of a
// plugin file) that names another.
func admitFunctions(r *reader, types int) error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		t, err := r.u32()
		if err != nil {
			return err
		}
		if int64(t) >= int64(types) {
			return fmt.Errorf("function %d has type %d, but the module declares %d types", i, t, types)
		}
	}
	return nil
}

// admitTables checks a table section: each table's limits, and their
// maxima added up.
func admitTables(r *reader) error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	var total uint64
	for i := uint32(0); i < n; i++ {
		if _, err := r.byte(); err != nil { // the reference type
			return err
		}
		flag, err := r.byte()
		if err != nil {
			return err
		}
		lo, err := r.u32()
		if err != nil {
			return err
		}
		if flag&1 == 0 {
			return fmt.Errorf("table %d declares no maximum: a plugin's tables declare one of at most %d entries", i, MaxTableEntries)
		}
		hi, err := r.u32()
		if err != nil {
			return err
		}
		if lo > MaxTableEntries || hi > MaxTableEntries {
			return fmt.Errorf("table %d has up to %d entries, over the %d a plugin's table may have", i, max(lo, hi), MaxTableEntries)
		}
		if total += uint64(max(lo, hi)); total > MaxTableEntries {
			return fmt.Errorf("%d tables of up to %d entries in all, over the %d a plugin's tables may have", i+1, total, MaxTableEntries)
		}
	}
	return nil
}
