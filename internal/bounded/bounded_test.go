package bounded_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/bounded"
	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/internal/guest"
	"github.com/bespoke-edge/bespoke/internal/rulegen"
	"github.com/bespoke-edge/bespoke/internal/wasm"
	"github.com/bespoke-edge/bespoke/plugin"
)

// baseGuest is a hand-written guest inside the subset that uses every
// part of it: both host functions, the string helpers on a slot's value
// and a constant, and a store into the Decision. Each hostile module
// below is this one with one thing changed.
func baseGuest() *guest.Module {
	g := &guest.Module{
		Manifest: plugin.Manifest{
			Compiler: "hand-written",
			Slots:    []plugin.Slot{{Attr: "cookie", Arg: "a", Bytes: true}, {Attr: "path", Bytes: true}},
			Patterns: []string{"^/x"},
			Rules:    []plugin.Rule{{Name: "r", Actions: []plugin.Action{}}},
		},
		Imports: []string{plugin.ImportRegexMatch, plugin.ImportSeen},
		Helpers: true,
		Data:    []byte("hello"),
	}
	g.Decide = containsOrMatch(g, slotLenArg(g, 1), 3)
	return g
}

// containsOrMatch is a decide body: rule 0 holds when the path contains
// clen bytes of the data (its length given by length), or matches
// pattern 0.
func containsOrMatch(g *guest.Module, length func(*wasm.Code), clen int32) *wasm.Code {
	l := g.Layout()
	c := &wasm.Code{}
	c.I32Const(0) // the store's address
	c.I32Const(0).I32Load(l.Slots + plugin.SlotSize + plugin.SlotPtr)
	length(c)
	c.I32Const(int32(l.Data + 1)).I32Const(clen).Call(g.HelperIndex(bounded.Contains))
	c.I32Const(0).I32Const(1).Call(0) // regex_match(0, path)
	c.I32Or().I64ExtendI32U().I64Store(l.Decision)
	return c.I32Const(0)
}

// seenCalls is the base guest deciding with n calls of seen about its
// one symbol, sym.
func seenCalls(sym string, n int) *guest.Module {
	g := baseGuest()
	g.Manifest.Symbols = []string{sym}
	c := &wasm.Code{}
	for range n {
		c.I32Const(0).Call(1).Drop() // seen(0)
	}
	g.Decide = c.I32Const(0)
	return g
}

// slotLenArg pushes the length of slot i as the host wrote it.
func slotLenArg(g *guest.Module, i uint32) func(*wasm.Code) {
	return func(c *wasm.Code) { c.I32Const(0).I32Load(g.Layout().Slots + i*plugin.SlotSize + plugin.SlotLen) }
}

func build(t testing.TB, g *guest.Module) []byte {
	t.Helper()
	b, err := guest.Build(*g)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// verify reads the artifact as the host does, then verifies it.
func verify(b []byte) error {
	art, err := plugin.ReadArtifact(b)
	if err != nil {
		return err
	}
	_, err = bounded.Verify(b, art.Manifest)
	return err
}

// withFunc returns the base guest with one more function, and decide
// calling it.
func withFunc(f guest.Func, decide func(g *guest.Module) *wasm.Code) *guest.Module {
	g := baseGuest()
	g.Funcs = append(g.Funcs, f)
	g.Decide = decide(g)
	return g
}

// chain is n functions, each calling the next one twice: 2^n calls from
// a module of a few hundred bytes.
func chain(n int) *guest.Module {
	g := baseGuest()
	for i := range n {
		c := &wasm.Code{}
		if i < n-1 {
			next := g.FuncIndex(i + 1)
			c.Call(next).Call(next).I32Add()
		} else {
			c.I32Const(1)
		}
		g.Funcs = append(g.Funcs, guest.Func{Name: "f", Results: []wasm.ValType{wasm.I32}, Body: c})
	}
	g.Decide = (&wasm.Code{}).Call(g.FuncIndex(0)).Drop().I32Const(0)
	return g
}

// tamperedContains is the contains helper with the increment of its
// index removed: the same shape, a loop that never ends.
func tamperedContains(g *guest.Module) guest.Func {
	f := bounded.HelperFunc(bounded.Contains, 0, g.HelperIndex(bounded.StartsWith))
	body := f.EncodeBody()
	// Skip the locals declaration; the body ends with "end".
	inc := []byte{0x20, 0x04, 0x41, 0x01, 0x6a, 0x21, 0x04} // local.get 4; i32.const 1; i32.add; local.set 4
	i := bytes.Index(body, inc)
	if i < 0 {
		panic("contains helper without an increment")
	}
	code := append(append([]byte{}, body[3:i]...), body[i+len(inc):len(body)-1]...)
	return guest.Func{Name: "contains", Params: bounded.HelperParams, Results: bounded.HelperResults, Locals: []wasm.ValType{wasm.I32}, Body: (&wasm.Code{}).Raw(code...)}
}

// raw builds a minimal module in the subset (decide returns 0) with the
// ABI's custom sections, after mutate has changed it.
func raw(t testing.TB, mutate func(m *wasm.Module)) []byte {
	t.Helper()
	secs, err := plugin.CustomSections(build(t, &guest.Module{Manifest: plugin.Manifest{Rules: []plugin.Rule{{Name: "r", Actions: []plugin.Action{}}}}}))
	if err != nil {
		t.Fatal(err)
	}
	m := &wasm.Module{MemoryMin: 1}
	i32 := []wasm.ValType{wasm.I32}
	m.Funcs = append(m.Funcs, wasm.Func{Type: m.Type(nil, i32), Body: (&wasm.Code{}).I32Const(0)})
	m.Globals = append(m.Globals, wasm.Global{Type: wasm.I32, Init: plugin.ABIVersion})
	m.Exports = append(m.Exports,
		wasm.Export{Name: plugin.ExportMemory, Kind: wasm.ExportMemory},
		wasm.Export{Name: plugin.ExportDecide, Kind: wasm.ExportFunc},
		wasm.Export{Name: plugin.ExportABIVersion, Kind: wasm.ExportGlobal})
	m.Customs = append(m.Customs,
		wasm.Custom{Name: plugin.SectionABI, Payload: secs[plugin.SectionABI]},
		wasm.Custom{Name: plugin.SectionManifest, Payload: secs[plugin.SectionManifest]})
	mutate(m)
	return m.Encode()
}

// insertSection puts a section with the given id and payload where the
// binary format orders it.
func insertSection(b []byte, id byte, payload []byte) []byte {
	sec := append([]byte{id}, uleb(uint32(len(payload)))...)
	sec = append(sec, payload...)
	pos := 8
	for pos < len(b) {
		sid := b[pos]
		size, n := readUleb(b[pos+1:])
		if sid != 0 && sid > id {
			break
		}
		pos += 1 + n + int(size)
	}
	out := append([]byte{}, b[:pos]...)
	out = append(out, sec...)
	return append(out, b[pos:]...)
}

func uleb(v uint32) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func readUleb(b []byte) (uint32, int) {
	var v uint32
	for i, c := range b {
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, len(b)
}

// TestHostileModules: every way out of the subset is detected, with a
// message that says which.
func TestHostileModules(t *testing.T) {
	i32 := []wasm.ValType{wasm.I32}
	tests := []struct {
		name  string
		wasm  func(t *testing.T) []byte
		wants string // in the error; "" when the module is in the subset
	}{
		{"the base guest is in the subset", func(t *testing.T) []byte { return build(t, baseGuest()) }, ""},
		{"a guest that only matches", func(t *testing.T) []byte {
			g := &guest.Module{Manifest: plugin.Manifest{Rules: []plugin.Rule{{Name: "r", Actions: []plugin.Action{}}}}}
			g.Decide = guest.MatchAll(g.Layout(), 1)
			return build(t, g)
		}, ""},
		// seen hashes its symbol: 4,000 calls about a 1 MiB one would
		// run for seconds without a deadline; about a short one, they
		// stay within the subset's cost.
		{"many seen calls about a long symbol", func(t *testing.T) []byte {
			return build(t, seenCalls(strings.Repeat("x", 1<<20), 4000))
		}, "over the subset's static cost"},
		{"many seen calls about a short symbol", func(t *testing.T) []byte {
			return build(t, seenCalls("sku-1", 4000))
		}, ""},
		{"loop in decide", func(t *testing.T) []byte {
			g := baseGuest()
			g.Decide = guest.Loop()
			return build(t, g)
		}, "loop outside the string helpers"},
		{"loop in another function", func(t *testing.T) []byte {
			return build(t, withFunc(guest.Func{Name: "spin", Body: (&wasm.Code{}).Loop(wasm.BlockEmpty).Br(0).End()}, func(g *guest.Module) *wasm.Code {
				return (&wasm.Code{}).Call(g.FuncIndex(0)).I32Const(0)
			}))
		}, "function 3 (spin): at byte"},
		{"a helper whose loop never advances", func(t *testing.T) []byte {
			g := baseGuest()
			g.Funcs = append(g.Funcs, tamperedContains(g))
			l := g.Layout()
			c := &wasm.Code{}
			c.I32Const(0).I32Load(l.Slots + plugin.SlotPtr)
			c.I32Const(0).I32Load(l.Slots + plugin.SlotLen)
			c.I32Const(int32(l.Data)).I32Const(1).Call(g.FuncIndex(0)).Drop().I32Const(0)
			g.Decide = c
			return build(t, g)
		}, "loop outside the string helpers"},
		{"a module name shorter than its subsection", func(t *testing.T) []byte {
			// The runtime decodes the name and then finds the section's
			// length wrong: the verifier must refuse it first.
			sub := []byte{0, 10, 2, 'a', 'b', 0, 0, 0, 0, 0, 0, 0}
			return appendCustom(withoutCustom(t, build(t, baseGuest()), "name"), "name", sub)
		}, "module name: bytes left over"},
		{"local names that overrun their subsection", func(t *testing.T) []byte {
			sub := []byte{2, 7, 1, 0, 1, 0, 1, 'x', 0}
			return appendCustom(withoutCustom(t, build(t, baseGuest()), "name"), "name", sub)
		}, "local names: bytes left over"},
		{"memory.grow", func(t *testing.T) []byte {
			g := baseGuest()
			g.Decide = (&wasm.Code{}).I32Const(1).MemoryGrow().Drop().I32Const(0)
			return build(t, g)
		}, "memory.grow"},
		{"memory grown in a loop", func(t *testing.T) []byte {
			g := baseGuest()
			g.Decide = guest.GrowMemory()
			return build(t, g)
		}, "loop"},
		{"memory.size", func(t *testing.T) []byte {
			g := baseGuest()
			g.Decide = (&wasm.Code{}).Raw(0x3f, 0x00).Drop().I32Const(0)
			return build(t, g)
		}, "memory.size"},
		{"call_indirect", func(t *testing.T) []byte {
			g := baseGuest()
			g.Decide = (&wasm.Code{}).I32Const(0).Raw(0x11, 0x00, 0x00)
			return build(t, g)
		}, "call_indirect"},
		{"a table", func(t *testing.T) []byte {
			return insertSection(build(t, baseGuest()), 4, []byte{1, 0x70, 0x00, 1})
		}, "indirect calls"},
		{"element segments", func(t *testing.T) []byte {
			return insertSection(build(t, baseGuest()), 9, []byte{1, 0x00, 0x41, 0x00, 0x0b, 1, 0})
		}, "element segments"},
		{"a start function", func(t *testing.T) []byte {
			return insertSection(build(t, baseGuest()), 8, []byte{2})
		}, "start function"},
		{"recursion", func(t *testing.T) []byte {
			g := baseGuest()
			g.Funcs = append(g.Funcs, guest.Func{Name: "again", Results: i32, Body: (&wasm.Code{}).Call(g.FuncIndex(0))})
			g.Decide = (&wasm.Code{}).Call(g.FuncIndex(0))
			return build(t, g)
		}, "function 3 (again): calls function 3"},
		{"mutual recursion", func(t *testing.T) []byte {
			g := baseGuest()
			g.Funcs = append(g.Funcs,
				guest.Func{Name: "ping", Results: i32, Body: (&wasm.Code{}).Call(g.FuncIndex(1))},
				guest.Func{Name: "pong", Results: i32, Body: (&wasm.Code{}).Call(g.FuncIndex(0))})
			g.Decide = (&wasm.Code{}).Call(g.FuncIndex(0))
			return build(t, g)
		}, "call cycle"},
		{"decide calling itself", func(t *testing.T) []byte {
			g := baseGuest()
			g.Decide = (&wasm.Code{}).Call(g.DecideIndex())
			return build(t, g)
		}, "call cycle"},
		{"calls that multiply: 2^40 from 40 functions", func(t *testing.T) []byte { return build(t, chain(40)) }, "static cost"},
		{"calls that multiply, within the cost", func(t *testing.T) []byte { return build(t, chain(12)) }, ""},
		{"a foreign import", func(t *testing.T) []byte {
			return raw(t, func(m *wasm.Module) {
				m.Imports = append(m.Imports, wasm.Import{Module: "env", Name: "abort", Type: m.Type(nil, nil)})
				m.Exports[1].Index = 1
			})
		}, "imports env.abort"},
		{"a host function under another name", func(t *testing.T) []byte {
			return raw(t, func(m *wasm.Module) {
				m.Imports = append(m.Imports, wasm.Import{Module: plugin.ImportModule, Name: "exec", Type: m.Type(i32, i32)})
				m.Exports[1].Index = 1
			})
		}, "bespoke.exec"},
		{"a host function with the wrong type", func(t *testing.T) []byte {
			return raw(t, func(m *wasm.Module) {
				m.Imports = append(m.Imports, wasm.Import{Module: plugin.ImportModule, Name: plugin.ImportSeen, Type: m.Type([]wasm.ValType{wasm.I64}, i32)})
				m.Exports[1].Index = 1
			})
		}, "the ABI says"},
		{"an imported memory", func(t *testing.T) []byte {
			// import "bespoke" "memory" (memory 1)
			p := []byte{1, 7, 'b', 'e', 's', 'p', 'o', 'k', 'e', 6, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00, 0x01}
			return insertSection(raw(t, func(*wasm.Module) {}), 2, p)
		}, "not a function"},
		{"an extra export", func(t *testing.T) []byte {
			return raw(t, func(m *wasm.Module) {
				m.Exports = append(m.Exports, wasm.Export{Name: "helper", Kind: wasm.ExportFunc})
			})
		}, `exports "helper"`},
		{"no decide export", func(t *testing.T) []byte {
			return raw(t, func(m *wasm.Module) { m.Exports = append(m.Exports[:1], m.Exports[2]) })
		}, `does not export "bespoke_decide"`},
		{"decide of the wrong type", func(t *testing.T) []byte {
			return raw(t, func(m *wasm.Module) {
				m.Funcs[0] = wasm.Func{Type: m.Type(i32, i32), Body: (&wasm.Code{}).LocalGet(0)}
			})
		}, "the ABI says [] -> [i32]"},
		{"a mutable ABI version", func(t *testing.T) []byte {
			return raw(t, func(m *wasm.Module) { m.Globals[0].Mutable = true })
		}, "immutable i32 global"},
		{"a wrong ABI version in the global", func(t *testing.T) []byte {
			return raw(t, func(m *wasm.Module) { m.Globals[0].Init = 99 })
		}, "immutable i32 global"},
		{"an unknown custom section", func(t *testing.T) []byte {
			return raw(t, func(m *wasm.Module) { m.Customs = append(m.Customs, wasm.Custom{Name: "payload", Payload: []byte{1}}) })
		}, `custom section "payload"`},
		{"a repeated custom section", func(t *testing.T) []byte {
			return raw(t, func(m *wasm.Module) { m.Customs = append(m.Customs, m.Customs[1]) })
		}, "appears twice"},
		{"a store into the slot table", func(t *testing.T) []byte {
			g := baseGuest()
			l := g.Layout()
			g.Decide = (&wasm.Code{}).I32Const(0).I32Const(1 << 30).I32Store(l.Slots + plugin.SlotSize + plugin.SlotLen).I32Const(0)
			return build(t, g)
		}, "outside the Decision"},
		{"a store into the constants", func(t *testing.T) []byte {
			g := baseGuest()
			g.Decide = (&wasm.Code{}).I32Const(0).I32Const(0).I32Store(g.Layout().Data).I32Const(0)
			return build(t, g)
		}, "outside the Decision"},
		{"a store at a computed address", func(t *testing.T) []byte {
			g := baseGuest()
			l := g.Layout()
			g.Decide = (&wasm.Code{}).I32Const(0).I32Load(l.Slots).I32Const(0).I32Store(l.Decision).I32Const(0)
			return build(t, g)
		}, "computed address"},
		{"a helper on a constant length", func(t *testing.T) []byte {
			g := baseGuest()
			g.Decide = containsOrMatch(g, func(c *wasm.Code) { c.I32Const(1 << 30) }, 3)
			return build(t, g)
		}, "not a slot's"},
		{"a helper on a length the module wrote", func(t *testing.T) []byte {
			g := baseGuest()
			g.Decide = containsOrMatch(g, func(c *wasm.Code) { c.I32Const(0).I32Load(g.Layout().Decision) }, 3)
			return build(t, g)
		}, "not a slot's"},
		{"a helper on a constant longer than the data", func(t *testing.T) []byte {
			g := baseGuest()
			g.Decide = containsOrMatch(g, slotLenArg(g, 1), 1<<20)
			return build(t, g)
		}, "constant length over"},
		{"a helper's arguments from outside the block", func(t *testing.T) []byte {
			g := baseGuest()
			l := g.Layout()
			c := &wasm.Code{}
			c.I32Const(0).I32Load(l.Slots + plugin.SlotPtr)
			c.I32Const(0).I32Load(l.Slots + plugin.SlotLen)
			c.I32Const(int32(l.Data)).I32Const(1)
			c.Block(wasm.BlockI32).Call(g.HelperIndex(bounded.StartsWith)).End().Drop().Drop().Drop().Drop().I32Const(0)
			g.Decide = c
			return build(t, g)
		}, "not in view"},
		{"constants outside the data area", func(t *testing.T) []byte {
			return raw(t, func(m *wasm.Module) { m.Data = append(m.Data, wasm.Data{Offset: 0, Bytes: []byte{1, 2, 3}}) })
		}, "outside the module's constants"},
		{"a type error", func(t *testing.T) []byte {
			g := baseGuest()
			g.Decide = (&wasm.Code{}).I64Const(1).I32Eqz()
			return build(t, g)
		}, "type mismatch: i64 where i32"},
		{"an empty operand stack", func(t *testing.T) []byte {
			g := baseGuest()
			g.Decide = (&wasm.Code{}).I32Const(1).I32Add()
			return build(t, g)
		}, "underflow"},
		{"a branch out of range", func(t *testing.T) []byte {
			g := baseGuest()
			g.Decide = (&wasm.Code{}).I32Const(0).Br(3)
			return build(t, g)
		}, "branch depth 3 out of range"},
		{"if with a result and no else", func(t *testing.T) []byte {
			g := baseGuest()
			g.Decide = (&wasm.Code{}).I32Const(1).If(wasm.BlockI32).I32Const(1).End()
			return build(t, g)
		}, "no else"},
		{"values left at the end", func(t *testing.T) []byte {
			g := baseGuest()
			g.Decide = (&wasm.Code{}).I32Const(1).I32Const(0)
			return build(t, g)
		}, "values left"},
		{"many locals", func(t *testing.T) []byte {
			g := baseGuest()
			g.Locals = append(make([]wasm.ValType, 30000), wasm.I64)
			for i := range 30000 {
				g.Locals[i] = wasm.I32
			}
			g.Decide = (&wasm.Code{}).LocalGet(30000).I64Eqz()
			return build(t, g)
		}, ""},
		{"a local out of range", func(t *testing.T) []byte {
			g := baseGuest()
			g.Locals = []wasm.ValType{wasm.I32, wasm.I32}
			g.Decide = (&wasm.Code{}).LocalGet(2)
			return build(t, g)
		}, "local 2 out of range"},
		{"a local of the wrong type", func(t *testing.T) []byte {
			g := baseGuest()
			g.Locals = []wasm.ValType{wasm.I32, wasm.I64}
			g.Decide = (&wasm.Code{}).LocalGet(1)
			return build(t, g)
		}, "type mismatch: i64 where i32"},
		{"too many locals", func(t *testing.T) []byte {
			g := baseGuest()
			g.Locals = make([]wasm.ValType, 60000)
			for i := range g.Locals {
				g.Locals[i] = wasm.I32
			}
			return build(t, g)
		}, "more than 50000 locals"},
		{"global.set of the ABI version", func(t *testing.T) []byte {
			g := baseGuest()
			g.Decide = (&wasm.Code{}).I32Const(2).GlobalSet(0).I32Const(0)
			return build(t, g)
		}, "immutable global"},
		{"a bulk memory instruction", func(t *testing.T) []byte {
			g := baseGuest()
			g.Decide = (&wasm.Code{}).I32Const(0).I32Const(0).I32Const(8).Raw(0xfc, 0x0b, 0x00).I32Const(0)
			return build(t, g)
		}, "opcode 0xfc"},
		{"an overlong integer", func(t *testing.T) []byte {
			g := baseGuest()
			g.Decide = (&wasm.Code{}).Raw(0x41, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00)
			return build(t, g)
		}, "integer too large"},
		{"a truncated module", func(t *testing.T) []byte {
			b := build(t, baseGuest())
			// Cut inside the code section, keep the custom sections.
			i := bytes.Index(b, []byte(plugin.SectionManifest))
			return b[:i-40]
		}, "unexpected end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.wasm(t)
			var err error
			if tt.wants == "unexpected end" {
				// ReadArtifact would refuse the module first; give the
				// verifier a manifest of its own.
				_, err = bounded.Verify(b, &plugin.Manifest{ABI: plugin.ABIVersion, Layout: plugin.NewLayout(0, 1, 0, 0)})
			} else {
				err = verify(b)
			}
			if tt.wants == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted; want an error containing %q", tt.wants)
			}
			var be *bounded.Error
			if !errors.As(err, &be) {
				t.Fatalf("err = %v (%T), want a *bounded.Error", err, err)
			}
			if !strings.Contains(err.Error(), tt.wants) {
				t.Fatalf("err = %v\nwant it to contain %q", err, tt.wants)
			}
		})
	}
}

// TestCompiledRulesVerify: what the rule compiler writes is in the
// subset, far below the cost limit. (host/internal/site's TestScaleAgrees loads
// 10,000 rules from a .wasm file and checks they run bounded.)
func TestCompiledRulesVerify(t *testing.T) {
	demo, err := os.ReadFile("../../testdata/demo/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"demo": demo}
	for _, n := range []int{1, 10, 100, 1000} {
		files[fmt.Sprint(n, " generated rules")] = rulegen.Rules(n, 1)
	}
	for name, src := range files {
		res, err := compiler.Compile(name+".yaml", src)
		if err != nil {
			t.Fatal(err)
		}
		r, err := bounded.Verify(res.Artifact.Wasm, res.Artifact.Manifest)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r.Helpers == 0 || r.Cost <= 0 || r.Cost > bounded.MaxCost/16 {
			t.Errorf("%s: %+v", name, r)
		}
	}
}

// TestHelpersAreTheCanonicalOnes: the encoder and the verifier agree on
// the helpers' bytes, and a helper renamed or retyped is not one.
func TestHelpersAreTheCanonicalOnes(t *testing.T) {
	g := baseGuest()
	// The same bytes under a type with an extra parameter: not a helper,
	// so its loop is refused.
	sw := bounded.HelperFunc(bounded.StartsWith, 0, 0)
	g.Funcs = append(g.Funcs, guest.Func{Name: "lookalike", Params: append([]wasm.ValType{wasm.I32}, bounded.HelperParams...), Results: bounded.HelperResults, Locals: sw.Locals, Body: sw.Body})
	err := verify(build(t, g))
	if err == nil || !strings.Contains(err.Error(), "lookalike") {
		t.Fatalf("err = %v, want the look-alike refused", err)
	}
}

// BenchmarkVerify is the verifier's cost at load: the demo rules' module,
// and a generated file of 1,000 and 10,000 rules.
func BenchmarkVerify(b *testing.B) {
	demo, err := os.ReadFile("../../testdata/demo/rules.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		src  []byte
	}{{"demo", demo}, {"rules=1000", rulegen.Rules(1000, 1)}, {"rules=10000", rulegen.Rules(10000, 1)}} {
		b.Run(c.name, func(b *testing.B) {
			res, err := compiler.Compile(c.name+".yaml", c.src)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(res.Artifact.Wasm)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bounded.Verify(res.Artifact.Wasm, res.Artifact.Manifest); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// appendCustom appends a custom section to a module.
func appendCustom(mod []byte, name string, payload []byte) []byte {
	body := append([]byte{byte(len(name))}, name...)
	body = append(body, payload...)
	out := append([]byte(nil), mod...)
	out = append(out, 0)
	for n := uint32(len(body)); ; {
		b := byte(n & 0x7f)
		n >>= 7
		if n == 0 {
			out = append(out, b)
			break
		}
		out = append(out, b|0x80)
	}
	return append(out, body...)
}

// withoutCustom returns mod without its custom section called name.
func withoutCustom(t *testing.T, mod []byte, name string) []byte {
	t.Helper()
	out := append([]byte(nil), mod[:8]...)
	for i := 8; i < len(mod); {
		start := i
		id := mod[i]
		i++
		var size, shift uint32
		for {
			b := mod[i]
			i++
			size |= uint32(b&0x7f) << shift
			shift += 7
			if b < 0x80 {
				break
			}
		}
		end := i + int(size)
		if id == 0 && int(mod[i]) == len(name) && string(mod[i+1:i+1+len(name)]) == name {
			i = end
			continue
		}
		out = append(out, mod[start:end]...)
		i = end
	}
	return out
}

// TestSlowInstructionsCost: the static cost counts an instruction by the
// time it can take, not one each. A chain of square roots, of divisions
// or of loads each at the address the one before read (a pointer chase
// through the module's data) runs each step in the time of some ten
// simple instructions: counted one each, a module of them at the limit
// decided in some 90 ms without a deadline, where MaxCost is some 10 ms
// (and a module with a deadline gets 50). Loads at constant addresses,
// which the compiled rules make of slots, stay one.
func TestSlowInstructionsCost(t *testing.T) {
	type form struct {
		name string
		// step repeats one step of the chain; the stack holds an i32,
		// local 0 is an i32 (the divisor), local 1 an f64.
		step   func(c *wasm.Code)
		weight int64 // the cost of one step
	}
	raw := func(ops ...byte) func(c *wasm.Code) { return func(c *wasm.Code) { c.Raw(ops...) } }
	l := baseGuest().Layout()
	forms := []form{
		{"i32.add", raw(0x20, 0, 0x6a), 2},
		{"i32.div_u", raw(0x20, 0, 0x6e), 1 + bounded.DivideCost},
		{"i32.rem_s", raw(0x20, 0, 0x6f), 1 + bounded.DivideCost},
		{"i64.div_s", raw(0xac, 0x20, 0, 0xac, 0x7f, 0xa7), 4 + bounded.DivideCost},
		{"f64.sqrt", raw(0xb7, 0x9f, 0xaa), 2*bounded.ConvertCost + bounded.DivideCost},
		{"f32.div", raw(0xb2, 0x20, 0, 0xb2, 0x95, 0xa8), 1 + 3*bounded.ConvertCost + bounded.DivideCost},
		{"f64.floor", raw(0x21, 0, 0x20, 1, 0x9c, 0x21, 1, 0x20, 0), 5},
		{"a load at a computed address", raw(0x28, 2, 0), bounded.LoadCost},
		{"a load at a constant address", func(c *wasm.Code) { c.Drop().I32Const(0).I32Load(l.Data) }, 3},
	}
	costOf := func(t *testing.T, f form, n int) int64 {
		g := baseGuest()
		g.Locals = []wasm.ValType{wasm.I32, wasm.F64}
		c := (&wasm.Code{}).I32Const(int32(l.Data))
		for range n {
			f.step(c)
		}
		g.Decide = c.Drop().I32Const(0)
		b := build(t, g)
		art, err := plugin.ReadArtifact(b)
		if err != nil {
			t.Fatal(err)
		}
		res, err := bounded.Verify(b, art.Manifest)
		if err != nil {
			t.Fatal(err)
		}
		return res.Cost
	}
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			if got := costOf(t, f, 11) - costOf(t, f, 1); got != 10*f.weight {
				t.Errorf("a step costs %d, want %d", got/10, f.weight)
			}
		})
	}
}

// TestCallDepth: calls nest at most MaxCallDepth deep. A chain of
// functions each calling the next once costs few instructions, but each
// call takes a new frame on a stack that grows with the chain and new
// code: 200,000 of them, 2 MB of file, decided in 14 to 37 ms without a
// deadline and left 7 MB of stack with each instance.
func TestCallDepth(t *testing.T) {
	nested := func(n int) *guest.Module {
		g := baseGuest()
		for i := range n {
			c := (&wasm.Code{}).I32Const(1)
			if i < n-1 {
				c = (&wasm.Code{}).Call(g.FuncIndex(i + 1))
			}
			g.Funcs = append(g.Funcs, guest.Func{Name: "f", Results: []wasm.ValType{wasm.I32}, Body: c})
		}
		g.Decide = (&wasm.Code{}).Call(g.FuncIndex(0))
		return g
	}
	tests := []struct {
		name  string
		depth int // of calls from decide
		want  string
	}{
		{"at the limit", bounded.MaxCallDepth, ""},
		{"one deeper", bounded.MaxCallDepth + 1, fmt.Sprintf("calls nest %d deep, over the subset's %d", bounded.MaxCallDepth+1, bounded.MaxCallDepth)},
		{"200,000 deep", 200000, "calls nest 200000 deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := verify(build(t, nested(tt.depth)))
			switch {
			case tt.want == "" && err != nil:
				t.Fatal(err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("err = %v, want it to say %q", err, tt.want)
			}
		})
	}
}
