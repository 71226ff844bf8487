package bounded

import (
	"github.com/bespoke-edge/bespoke/internal/wasm"
)

// Helper names one of the string helpers, the only functions of the
// bounded subset that may loop. Each is (ptr, len, cptr, clen i32) -> i32:
// whether the len bytes at ptr start with, end with or contain the clen
// bytes at cptr. A module may hold any number of copies; the verifier
// recognizes them by their exact bytes.
type Helper int

// The string helpers.
const (
	// StartsWith loops at most min(len, clen) times.
	StartsWith Helper = iota + 1
	// EndsWith calls StartsWith once on the last clen bytes.
	EndsWith
	// Contains calls StartsWith at most len-clen+1 times.
	Contains
)

func (h Helper) String() string {
	switch h {
	case StartsWith:
		return "starts_with"
	case EndsWith:
		return "ends_with"
	case Contains:
		return "contains"
	}
	return "not a helper"
}

// HelperParams and HelperResults are the signature of every helper.
var (
	HelperParams  = []wasm.ValType{wasm.I32, wasm.I32, wasm.I32, wasm.I32}
	HelperResults = []wasm.ValType{wasm.I32}
)

// HelperFunc returns helper h as a function of type typ (which must be
// HelperParams -> HelperResults). startsWith is the function index of the
// StartsWith helper that EndsWith and Contains call; StartsWith ignores
// it.
func HelperFunc(h Helper, typ, startsWith uint32) wasm.Func {
	const p, n, cp, cn, i = 0, 1, 2, 3, 4
	c := &wasm.Code{}
	// A constant longer than the value is in it nowhere: return 0. Every
	// loop below relies on clen <= len.
	c.LocalGet(cn).LocalGet(n).I32GtU().If(wasm.BlockEmpty).I32Const(0).Return().End()
	switch h {
	case StartsWith:
		c.Block(wasm.BlockEmpty).Loop(wasm.BlockEmpty)
		c.LocalGet(i).LocalGet(cn).I32GeU().BrIf(1)
		c.LocalGet(p).LocalGet(i).I32Add().I32Load8U(0)
		c.LocalGet(cp).LocalGet(i).I32Add().I32Load8U(0)
		c.I32Ne().If(wasm.BlockEmpty).I32Const(0).Return().End()
		c.LocalGet(i).I32Const(1).I32Add().LocalSet(i).Br(0)
		c.End().End().I32Const(1)
		return wasm.Func{Name: h.String(), Type: typ, Locals: []wasm.ValType{wasm.I32}, Body: c}
	case EndsWith:
		c.LocalGet(p).LocalGet(n).I32Add().LocalGet(cn).I32Sub().LocalGet(cn).LocalGet(cp).LocalGet(cn).Call(startsWith)
		return wasm.Func{Name: h.String(), Type: typ, Body: c}
	case Contains:
		c.Loop(wasm.BlockEmpty)
		c.LocalGet(p).LocalGet(i).I32Add().LocalGet(cn).LocalGet(cp).LocalGet(cn).Call(startsWith)
		c.If(wasm.BlockEmpty).I32Const(1).Return().End()
		c.LocalGet(i).LocalGet(n).LocalGet(cn).I32Sub().I32GeU().If(wasm.BlockEmpty).I32Const(0).Return().End()
		c.LocalGet(i).I32Const(1).I32Add().LocalSet(i).Br(0)
		c.End().I32Const(0)
		return wasm.Func{Name: h.String(), Type: typ, Locals: []wasm.ValType{wasm.I32}, Body: c}
	}
	panic("bounded: unknown helper")
}

// helperBody is the encoded body of h, as the code section holds it.
func helperBody(h Helper, startsWith uint32) []byte {
	f := HelperFunc(h, 0, startsWith)
	return f.EncodeBody()
}
