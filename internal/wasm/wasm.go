// Package wasm encodes WebAssembly modules in the binary format: the parts
// the rule compiler emits (function imports, one memory, globals, exports,
// code, active data, custom sections and function names). It is public so
// that hand-written guests and tests that need unusual modules (one that
// traps, loops or grows memory) can be built without a toolchain.
package wasm

import (
	"encoding/binary"
	"math"
	"slices"
)

// ValType is a value type.
type ValType byte

// Value types.
const (
	I32 ValType = 0x7f
	I64 ValType = 0x7e
	F64 ValType = 0x7c
)

// BlockType is the type of a block: empty or one result.
type BlockType byte

// Block types.
const (
	BlockEmpty BlockType = 0x40
	BlockI32   BlockType = BlockType(I32)
)

// FuncType is a function signature.
type FuncType struct {
	Params, Results []ValType
}

// Import is an imported function.
type Import struct {
	Module, Name string
	Type         uint32
}

// Func is a function defined by the module.
type Func struct {
	Name   string // for the name section, shown in traps and stack traces
	Type   uint32
	Locals []ValType
	Body   *Code
}

// Global is a global variable initialized to a constant.
type Global struct {
	Type    ValType
	Mutable bool
	Init    int64 // for I32 and I64
}

// Export kinds.
const (
	ExportFunc   = 0x00
	ExportMemory = 0x02
	ExportGlobal = 0x03
)

// Export exports an index of some kind under a name.
type Export struct {
	Name  string
	Kind  byte
	Index uint32
}

// Data is an active data segment of memory 0.
type Data struct {
	Offset uint32
	Bytes  []byte
}

// Custom is a custom section.
type Custom struct {
	Name    string
	Payload []byte
}

// Module is a module to encode. Function indexes count imports first.
type Module struct {
	Types     []FuncType
	Imports   []Import
	Funcs     []Func
	MemoryMin uint32
	MemoryMax uint32 // 0 means no maximum
	Globals   []Global
	Exports   []Export
	Data      []Data
	Customs   []Custom
}

// Type returns the index of a signature, adding it when new.
func (m *Module) Type(params, results []ValType) uint32 {
	for i, t := range m.Types {
		if string(valBytes(t.Params)) == string(valBytes(params)) && string(valBytes(t.Results)) == string(valBytes(results)) {
			return uint32(i)
		}
	}
	m.Types = append(m.Types, FuncType{Params: params, Results: results})
	return uint32(len(m.Types) - 1)
}

func valBytes(v []ValType) []byte {
	b := make([]byte, len(v))
	for i, t := range v {
		b[i] = byte(t)
	}
	return b
}

// Section ids.
const (
	secCustom = 0
	secType   = 1
	secImport = 2
	secFunc   = 3
	secMemory = 5
	secGlobal = 6
	secExport = 7
	secCode   = 10
	secData   = 11
)

// Encode returns the module's binary form.
func (m *Module) Encode() []byte {
	// Room for all but the code section, which grows it once.
	out := make([]byte, 0, 4096+m.dataLen())
	out = append(out, 0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00)
	if len(m.Types) > 0 {
		var b []byte
		b = uleb(b, uint64(len(m.Types)))
		for _, t := range m.Types {
			b = append(b, 0x60)
			b = uleb(b, uint64(len(t.Params)))
			b = append(b, valBytes(t.Params)...)
			b = uleb(b, uint64(len(t.Results)))
			b = append(b, valBytes(t.Results)...)
		}
		out = section(out, secType, b)
	}
	if len(m.Imports) > 0 {
		var b []byte
		b = uleb(b, uint64(len(m.Imports)))
		for _, im := range m.Imports {
			b = name(b, im.Module)
			b = name(b, im.Name)
			b = append(b, 0x00) // function
			b = uleb(b, uint64(im.Type))
		}
		out = section(out, secImport, b)
	}
	if len(m.Funcs) > 0 {
		var b []byte
		b = uleb(b, uint64(len(m.Funcs)))
		for _, f := range m.Funcs {
			b = uleb(b, uint64(f.Type))
		}
		out = section(out, secFunc, b)
	}
	{
		b := []byte{1}
		if m.MemoryMax > 0 {
			b = append(b, 0x01)
			b = uleb(b, uint64(m.MemoryMin))
			b = uleb(b, uint64(m.MemoryMax))
		} else {
			b = append(b, 0x00)
			b = uleb(b, uint64(m.MemoryMin))
		}
		out = section(out, secMemory, b)
	}
	if len(m.Globals) > 0 {
		var b []byte
		b = uleb(b, uint64(len(m.Globals)))
		for _, g := range m.Globals {
			b = append(b, byte(g.Type))
			if g.Mutable {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
			switch g.Type {
			case I64:
				b = append(b, 0x42)
			default:
				b = append(b, 0x41)
			}
			b = sleb(b, g.Init)
			b = append(b, 0x0b)
		}
		out = section(out, secGlobal, b)
	}
	if len(m.Exports) > 0 {
		var b []byte
		b = uleb(b, uint64(len(m.Exports)))
		for _, e := range m.Exports {
			b = name(b, e.Name)
			b = append(b, e.Kind)
			b = uleb(b, uint64(e.Index))
		}
		out = section(out, secExport, b)
	}
	if len(m.Funcs) > 0 {
		// The code section is most of a module: written in place, its
		// size counted first, not built apart and copied.
		locals := make([][]byte, len(m.Funcs))
		size := ulebLen(uint64(len(m.Funcs)))
		for i, f := range m.Funcs {
			locals[i] = localDecls(nil, f.Locals)
			n := f.bodyLen(len(locals[i]))
			size += ulebLen(uint64(n)) + n
		}
		out = slices.Grow(out, 1+ulebLen(uint64(size))+size)
		out = append(out, secCode)
		out = uleb(out, uint64(size))
		out = uleb(out, uint64(len(m.Funcs)))
		for i, f := range m.Funcs {
			out = uleb(out, uint64(f.bodyLen(len(locals[i]))))
			out = append(out, locals[i]...)
			if f.Body != nil {
				out = append(out, f.Body.b...)
			}
			out = append(out, 0x0b) // end
		}
	}
	if len(m.Data) > 0 {
		var b []byte
		b = uleb(b, uint64(len(m.Data)))
		for _, d := range m.Data {
			b = append(b, 0x00, 0x41) // active, memory 0, i32.const
			b = sleb(b, int64(int32(d.Offset)))
			b = append(b, 0x0b)
			b = uleb(b, uint64(len(d.Bytes)))
			b = append(b, d.Bytes...)
		}
		out = section(out, secData, b)
	}
	out = m.names(out)
	for _, c := range m.Customs {
		var b []byte
		b = name(b, c.Name)
		b = append(b, c.Payload...)
		out = section(out, secCustom, b)
	}
	return out
}

// names writes the "name" custom section's function-name subsection.
func (m *Module) names(out []byte) []byte {
	var sub []byte
	n := 0
	for i, f := range m.Funcs {
		if f.Name != "" {
			n++
			_ = i
		}
	}
	if n == 0 && len(m.Imports) == 0 {
		return out
	}
	sub = uleb(sub, uint64(n+len(m.Imports)))
	for i, im := range m.Imports {
		sub = uleb(sub, uint64(i))
		sub = name(sub, im.Module+"."+im.Name)
	}
	for i, f := range m.Funcs {
		if f.Name != "" {
			sub = uleb(sub, uint64(len(m.Imports)+i))
			sub = name(sub, f.Name)
		}
	}
	var b []byte
	b = name(b, "name")
	b = append(b, 1) // function names
	b = uleb(b, uint64(len(sub)))
	b = append(b, sub...)
	return section(out, secCustom, b)
}

// EncodeBody returns the function's body as the code section holds it:
// its local declarations, its instructions and the final end.
func (f *Func) EncodeBody() []byte {
	var body []byte
	if f.Body != nil {
		body = make([]byte, 0, len(f.Body.b)+8)
	}
	body = localDecls(body, f.Locals)
	if f.Body != nil {
		body = append(body, f.Body.b...)
	}
	return append(body, 0x0b) // end
}

// bodyLen is the length of the function's body as the code section holds
// it, when its local declarations take locals bytes.
func (f *Func) bodyLen(locals int) int {
	n := locals + 1 // end
	if f.Body != nil {
		n += len(f.Body.b)
	}
	return n
}

// dataLen is the length of the data segments' bytes.
func (m *Module) dataLen() int {
	n := 0
	for _, d := range m.Data {
		n += len(d.Bytes)
	}
	return n
}

// ulebLen is the length of v in unsigned LEB128.
func ulebLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// localDecls compresses a list of locals into runs of one type.
func localDecls(b []byte, locals []ValType) []byte {
	type run struct {
		n int
		t ValType
	}
	var runs []run
	for _, t := range locals {
		if len(runs) > 0 && runs[len(runs)-1].t == t {
			runs[len(runs)-1].n++
		} else {
			runs = append(runs, run{1, t})
		}
	}
	b = uleb(b, uint64(len(runs)))
	for _, r := range runs {
		b = uleb(b, uint64(r.n))
		b = append(b, byte(r.t))
	}
	return b
}

func section(out []byte, id byte, body []byte) []byte {
	out = append(out, id)
	out = uleb(out, uint64(len(body)))
	return append(out, body...)
}

func name(b []byte, s string) []byte {
	b = uleb(b, uint64(len(s)))
	return append(b, s...)
}

func uleb(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}

func sleb(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		done := (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0)
		if !done {
			c |= 0x80
		}
		b = append(b, c)
		if done {
			return b
		}
	}
}

// Code is a function body under construction. Methods append one
// instruction each and return the Code so that short sequences read in order.
type Code struct{ b []byte }

// Raw appends bytes as they are: instructions the encoder has no method
// for, or malformed code for tests.
func (c *Code) Raw(b ...byte) *Code { c.b = append(c.b, b...); return c }

// Append appends the instructions of o.
func (c *Code) Append(o *Code) *Code { c.b = append(c.b, o.b...); return c }

// Len returns the body's size in bytes.
func (c *Code) Len() int { return len(c.b) }

func (c *Code) op(o byte) *Code { c.b = append(c.b, o); return c }

func (c *Code) opU(o byte, v uint32) *Code {
	c.b = append(c.b, o)
	c.b = uleb(c.b, uint64(v))
	return c
}

func (c *Code) mem(o byte, align, offset uint32) *Code {
	c.b = append(c.b, o)
	c.b = uleb(c.b, uint64(align))
	c.b = uleb(c.b, uint64(offset))
	return c
}

// Control instructions.
func (c *Code) Unreachable() *Code       { return c.op(0x00) }
func (c *Code) Block(t BlockType) *Code  { c.b = append(c.b, 0x02, byte(t)); return c }
func (c *Code) Loop(t BlockType) *Code   { c.b = append(c.b, 0x03, byte(t)); return c }
func (c *Code) If(t BlockType) *Code     { c.b = append(c.b, 0x04, byte(t)); return c }
func (c *Code) Else() *Code              { return c.op(0x05) }
func (c *Code) End() *Code               { return c.op(0x0b) }
func (c *Code) Br(depth uint32) *Code    { return c.opU(0x0c, depth) }
func (c *Code) BrIf(depth uint32) *Code  { return c.opU(0x0d, depth) }
func (c *Code) Return() *Code            { return c.op(0x0f) }
func (c *Code) Call(f uint32) *Code      { return c.opU(0x10, f) }
func (c *Code) Drop() *Code              { return c.op(0x1a) }
func (c *Code) Select() *Code            { return c.op(0x1b) }
func (c *Code) LocalGet(i uint32) *Code  { return c.opU(0x20, i) }
func (c *Code) LocalSet(i uint32) *Code  { return c.opU(0x21, i) }
func (c *Code) LocalTee(i uint32) *Code  { return c.opU(0x22, i) }
func (c *Code) GlobalGet(i uint32) *Code { return c.opU(0x23, i) }
func (c *Code) GlobalSet(i uint32) *Code { return c.opU(0x24, i) }
func (c *Code) I32Load(off uint32) *Code { return c.mem(0x28, 2, off) }
func (c *Code) I64Load(off uint32) *Code { return c.mem(0x29, 3, off) }
func (c *Code) F64Load(off uint32) *Code { return c.mem(0x2b, 3, off) }
func (c *Code) I32Load8U(off uint32) *Code {
	return c.mem(0x2d, 0, off)
}
func (c *Code) I32Store(off uint32) *Code { return c.mem(0x36, 2, off) }

// MemoryGrow grows memory 0 by the pages on the stack, leaving the old
// size or -1.
func (c *Code) MemoryGrow() *Code         { c.b = append(c.b, 0x40, 0x00); return c }
func (c *Code) I64Store(off uint32) *Code { return c.mem(0x37, 3, off) }

// I32Const pushes an i32.
func (c *Code) I32Const(v int32) *Code {
	c.b = append(c.b, 0x41)
	c.b = sleb(c.b, int64(v))
	return c
}

// I64Const pushes an i64.
func (c *Code) I64Const(v int64) *Code {
	c.b = append(c.b, 0x42)
	c.b = sleb(c.b, v)
	return c
}

// F64Const pushes an f64.
func (c *Code) F64Const(v float64) *Code {
	c.b = append(c.b, 0x44)
	c.b = binary.LittleEndian.AppendUint64(c.b, math.Float64bits(v))
	return c
}

// Numeric instructions.
func (c *Code) I32Eqz() *Code        { return c.op(0x45) }
func (c *Code) I64Eqz() *Code        { return c.op(0x50) }
func (c *Code) I64Ne() *Code         { return c.op(0x52) }
func (c *Code) I32Eq() *Code         { return c.op(0x46) }
func (c *Code) I32Ne() *Code         { return c.op(0x47) }
func (c *Code) I32LtU() *Code        { return c.op(0x49) }
func (c *Code) I32GtU() *Code        { return c.op(0x4b) }
func (c *Code) I32GeS() *Code        { return c.op(0x4e) }
func (c *Code) I32GeU() *Code        { return c.op(0x4f) }
func (c *Code) F64Eq() *Code         { return c.op(0x61) }
func (c *Code) F64Ne() *Code         { return c.op(0x62) }
func (c *Code) F64Lt() *Code         { return c.op(0x63) }
func (c *Code) F64Gt() *Code         { return c.op(0x64) }
func (c *Code) F64Le() *Code         { return c.op(0x65) }
func (c *Code) F64Ge() *Code         { return c.op(0x66) }
func (c *Code) I32Add() *Code        { return c.op(0x6a) }
func (c *Code) I32Sub() *Code        { return c.op(0x6b) }
func (c *Code) I32And() *Code        { return c.op(0x71) }
func (c *Code) I32Or() *Code         { return c.op(0x72) }
func (c *Code) I32ShrU() *Code       { return c.op(0x76) }
func (c *Code) I64And() *Code        { return c.op(0x83) }
func (c *Code) I64Or() *Code         { return c.op(0x84) }
func (c *Code) I64Xor() *Code        { return c.op(0x85) }
func (c *Code) I64Shl() *Code        { return c.op(0x86) }
func (c *Code) I64ShrU() *Code       { return c.op(0x88) }
func (c *Code) I64Rotl() *Code       { return c.op(0x89) }
func (c *Code) I32WrapI64() *Code    { return c.op(0xa7) }
func (c *Code) I64ExtendI32U() *Code { return c.op(0xad) }
