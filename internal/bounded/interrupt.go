package bounded

import (
	"bytes"
	"errors"
	"fmt"
)

// entryCheck is what Interruptible puts at the start of every function
// body: an empty loop (loop, the empty block type, end).
var entryCheck = []byte{0x03, 0x40, 0x0b}

// Interruptible returns wasm with an empty loop at the start of every
// function body, for a module that runs with a deadline. The runtime's
// compiler checks for the deadline only at the head of each loop: a
// module without a loop whose calls multiply (a function calling the
// next twice, forty deep: 2^40 calls) or that recurses would otherwise
// run to its end, for hours, whatever its deadline. With the loop, each
// call checks too. The other sections are kept byte for byte. It reads
// any module Admit admits; the error says where one it cannot read is
// malformed (which the runtime would refuse too).
func Interruptible(wasm []byte) ([]byte, error) {
	if len(wasm) < 8 || !bytes.Equal(wasm[:8], []byte{0, 'a', 's', 'm', 1, 0, 0, 0}) {
		return nil, errors.New("not a WebAssembly 1.0 module (bad magic or version)")
	}
	r := &reader{b: wasm, pos: 8}
	for !r.done() {
		start := r.pos
		id, err := r.byte()
		if err != nil {
			return nil, fmt.Errorf("malformed module: %v", err)
		}
		size, err := r.u32()
		if err != nil {
			return nil, fmt.Errorf("malformed module: section %d: %v", id, err)
		}
		at := r.pos
		payload, err := r.bytes(size)
		if err != nil {
			return nil, fmt.Errorf("malformed module: section %d: %v", id, err)
		}
		if id != secCode {
			continue
		}
		code, err := withEntryChecks(&reader{b: payload, off: at})
		if err != nil {
			return nil, fmt.Errorf("malformed code section: %v", err)
		}
		out := make([]byte, 0, len(wasm)+len(code)-len(payload)+5)
		out = append(out, wasm[:start]...)
		out = append(out, secCode)
		out = appendU32(out, uint32(len(code)))
		out = append(out, code...)
		return append(out, wasm[r.pos:]...), nil
	}
	return wasm, nil // no code, nothing to interrupt
}

// withEntryChecks rewrites a code section's payload with entryCheck after
// each body's locals.
func withEntryChecks(r *reader) ([]byte, error) {
	n, err := r.count(2)
	if err != nil {
		return nil, err
	}
	out := appendU32(make([]byte, 0, len(r.b)+int(n)*(len(entryCheck)+1)), n)
	for i := range n {
		size, err := r.u32()
		if err != nil {
			return nil, err
		}
		at := r.at()
		b, err := r.bytes(size)
		if err != nil {
			return nil, err
		}
		body := &reader{b: b, off: at}
		runs, err := body.count(2)
		if err != nil {
			return nil, fmt.Errorf("function body %d: %v", i, err)
		}
		for range runs {
			if _, err := body.u32(); err != nil {
				return nil, fmt.Errorf("function body %d: %v", i, err)
			}
			// Every value type the runtime knows is one byte: numbers,
			// v128, funcref, externref.
			t, err := body.byte()
			if err != nil {
				return nil, fmt.Errorf("function body %d: %v", i, err)
			}
			if (t < 0x7b || t > 0x7f) && t != 0x70 && t != 0x6f {
				return nil, fmt.Errorf("function body %d: %s", i, body.errorf("local of value type 0x%02x", t))
			}
		}
		out = appendU32(out, size+uint32(len(entryCheck)))
		out = append(out, b[:body.pos]...)
		out = append(out, entryCheck...)
		out = append(out, b[body.pos:]...)
	}
	if !r.done() {
		return nil, r.errorf("%d bytes after the last function body", len(r.b)-r.pos)
	}
	return out, nil
}

func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
