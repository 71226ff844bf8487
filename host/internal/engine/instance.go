package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/bespoke-edge/bespoke/internal/bounded"
	"github.com/bespoke-edge/bespoke/plugin"
)

// instance is one instantiated module and what a call needs, allocated once.
type instance struct {
	m     *Module
	mod   api.Module
	mem   api.Memory
	fn    api.Function
	stack []uint64
	// During a call: the request's values and seen-filter, for host
	// functions.
	vals []plugin.Value
	seen Seen
	// call is the context of every call of a module that runs without
	// a deadline, allocated once.
	call callContext
	// counted is the memory of the instance Stats.LiveMemory holds.
	counted uint32
}

// callContext is the context of one call into an instance. Host functions
// receive the calling module, not our state: they find their instance in
// the context with a type assertion, where a map keyed by module would
// cost a look-up (and a lock-free map's hashing) per host call.
type callContext struct {
	context.Context
	inst *instance
}

type instanceKey struct{}

// Value answers instanceKey with the instance, for a runtime that would
// wrap the context before handing it to host functions.
func (c *callContext) Value(key any) any {
	if key == (instanceKey{}) {
		return c.inst
	}
	return c.Context.Value(key)
}

// instanceOf finds the instance a host function was called from.
func instanceOf(ctx context.Context) *instance {
	if c, ok := ctx.(*callContext); ok {
		return c.inst
	}
	inst, _ := ctx.Value(instanceKey{}).(*instance)
	return inst
}

func (m *Module) newInstance(ctx context.Context) (*instance, error) {
	mod, err := m.runtime.InstantiateModule(ctx, m.compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		return nil, fmt.Errorf("instantiating plugin: %w", err)
	}
	inst := &instance{m: m, mod: mod, mem: mod.Memory(), fn: mod.ExportedFunction(plugin.ExportDecide), stack: make([]uint64, 1)}
	inst.call = callContext{Context: context.Background(), inst: inst}
	g := mod.ExportedGlobal(plugin.ExportABIVersion)
	if g != nil && g.Type() != api.ValueTypeI32 {
		mod.Close(ctx)
		return nil, fmt.Errorf("plugin exports %s as %s: the ABI asks for an immutable i32", plugin.ExportABIVersion, api.ValueTypeName(g.Type()))
	}
	if g == nil || int(api.DecodeI32(g.Get())) != plugin.ABIVersion {
		mod.Close(ctx)
		return nil, &plugin.ABIError{Got: abiOf(g), Want: plugin.ABIVersion}
	}
	if _, mutable := g.(api.MutableGlobal); mutable {
		mod.Close(ctx)
		return nil, fmt.Errorf("plugin exports %s as a mutable global: the ABI asks for an immutable one", plugin.ExportABIVersion)
	}
	if inst.mem == nil {
		mod.Close(ctx)
		return nil, errors.New("plugin has no memory")
	}
	l := m.manifest.Layout
	if uint64(l.Heap) > uint64(inst.mem.Size()) {
		mod.Close(ctx)
		return nil, fmt.Errorf("plugin memory (%d bytes) is smaller than its layout (heap at %d)", inst.mem.Size(), l.Heap)
	}
	m.stats.Instances.Add(1)
	m.stats.Live.Add(1)
	inst.recount()
	return inst, nil
}

func abiOf(g api.Global) int {
	if g == nil {
		return 0
	}
	return int(api.DecodeI32(g.Get()))
}

// recount brings Stats.LiveMemory to the instance's memory as it is:
// grown by the host for a large context, or by a plugin's own
// memory.grow, which a plugin that is not bespoke's may do.
func (inst *instance) recount() {
	if n := inst.mem.Size(); n != inst.counted {
		inst.m.stats.LiveMemory.Add(int64(n) - int64(inst.counted))
		inst.counted = n
	}
}

// decide writes vals into the slot table and heap, calls the module, and
// reads the decision.
func (inst *instance) decide(ctx context.Context, vals []plugin.Value, seen Seen, d *plugin.Decision) error {
	m := inst.m
	l := m.manifest.Layout
	need := uint64(l.Heap)
	slots := m.manifest.Slots
	for i := range vals {
		if vals[i].Present && slots[i].Bytes {
			need += uint64(len(vals[i].Str))
		}
	}
	if size := uint64(inst.mem.Size()); need > size {
		pages := (need - size + plugin.PageSize - 1) / plugin.PageSize
		if pages > math.MaxUint32 {
			return errors.New("context too large")
		}
		if _, ok := inst.mem.Grow(uint32(pages)); !ok {
			return fmt.Errorf("context of %d bytes exceeds the plugin's memory limit", need)
		}
		inst.recount()
	}
	buf, ok := inst.mem.Read(0, inst.mem.Size())
	if !ok {
		return errors.New("plugin memory unreadable")
	}
	heap := l.Heap
	for i := range vals {
		v := &vals[i]
		s := buf[l.Slots+uint32(i)*plugin.SlotSize:][:plugin.SlotSize]
		if !v.Present {
			clear(s)
			binary.LittleEndian.PutUint32(s[plugin.SlotSym:], math.MaxUint32) // -1
			continue
		}
		if slots[i].Bytes {
			n := copy(buf[heap:], v.Str)
			binary.LittleEndian.PutUint32(s[plugin.SlotPtr:], heap)
			binary.LittleEndian.PutUint32(s[plugin.SlotLen:], uint32(n))
			heap += uint32(n)
		} else {
			binary.LittleEndian.PutUint64(s[plugin.SlotPtr:], 0)
		}
		binary.LittleEndian.PutUint32(s[plugin.SlotSym:], uint32(m.interns[i].lookup(v.Str)))
		flags := uint32(plugin.FlagPresent)
		num := 0.0
		if v.Number {
			flags |= plugin.FlagNumber
			num = v.Num
		}
		binary.LittleEndian.PutUint32(s[plugin.SlotFlags:], flags)
		binary.LittleEndian.PutUint64(s[plugin.SlotNum:], math.Float64bits(num))
	}

	// The outputs start empty: no rule matched, no experiment enrolled.
	// An instance serves one visitor after another, and a guest that sets
	// only the bits of the rules that match would otherwise hand each
	// visitor what the one before matched. (The compiler's modules write
	// every word; this costs a few stores.)
	words := plugin.DecisionWords(len(m.manifest.Rules))
	if out, ok := inst.mem.Read(l.Decision, uint32(words*8)); ok {
		clear(out)
	}
	if n := len(m.manifest.Experiments); n > 0 {
		if vs, ok := inst.mem.Read(l.Variants, uint32(n*4)); ok {
			for e := range n {
				binary.LittleEndian.PutUint32(vs[e*4:], math.MaxUint32) // -1
			}
		}
	}
	inst.vals, inst.seen = vals, seen
	defer func() { inst.vals, inst.seen = nil, nil }()
	// A bounded module needs no deadline, and the request's context has
	// nothing to say to it: it runs with the instance's own context.
	call := &inst.call
	if m.interrupt {
		// Only modules that may loop pay for a deadline: wazero watches the
		// context from a goroutine per call, which may still read it after
		// the call returns, so the context is a new one each time.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.cfg.DecideTimeout)
		defer cancel()
		call = &callContext{Context: ctx, inst: inst}
	}
	if err := inst.fn.CallWithStack(call, inst.stack); err != nil {
		if call.Err() != nil {
			return fmt.Errorf("plugin decision: %w", call.Err())
		}
		return fmt.Errorf("plugin trapped: %w", err)
	}
	if status := api.DecodeI32(inst.stack[0]); status != 0 {
		return fmt.Errorf("plugin reported error %d", status)
	}
	// The memory may have grown during the call; read a fresh view.
	out, ok := inst.mem.Read(l.Decision, uint32(words*8))
	if !ok {
		return errors.New("plugin decision out of memory bounds")
	}
	if cap(d.Matched) < words {
		d.Matched = make([]uint64, words)
	}
	d.Matched = d.Matched[:words]
	for w := range words {
		d.Matched[w] = binary.LittleEndian.Uint64(out[w*8:])
	}
	// Bits past the last rule mean nothing; a guest that sets them must
	// not make the host look up rules that do not exist.
	if r := len(m.manifest.Rules) % 64; r != 0 {
		d.Matched[words-1] &= 1<<r - 1
	}
	d.Variants = d.Variants[:0]
	if n := len(m.manifest.Experiments); n > 0 {
		vs, ok := inst.mem.Read(l.Variants, uint32(n*4))
		if !ok {
			return errors.New("plugin variants out of memory bounds")
		}
		for e := range n {
			d.Variants = append(d.Variants, int32(binary.LittleEndian.Uint32(vs[e*4:])))
		}
	}
	return nil
}

// hostFuncTypes are the signatures of the host functions, by import name.
var hostFuncTypes = map[string][2][]api.ValueType{
	plugin.ImportRegexMatch: {{api.ValueTypeI32, api.ValueTypeI32}, {api.ValueTypeI32}},
	plugin.ImportSeen:       {{api.ValueTypeI32}, {api.ValueTypeI32}},
}

// hostModule defines the functions modules import, with the stack-based API
// (no reflection on the per-request path).
func (m *Module) hostModule(ctx context.Context) error {
	b := m.runtime.NewHostModuleBuilder(plugin.ImportModule)
	t := hostFuncTypes[plugin.ImportRegexMatch]
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(m.regexMatch), t[0], t[1]).Export(plugin.ImportRegexMatch)
	t = hostFuncTypes[plugin.ImportSeen]
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(m.seenFunc), t[0], t[1]).Export(plugin.ImportSeen)
	_, err := b.Instantiate(ctx)
	return err
}

// regexMatch is (pattern, slot) -> 0|1. Out-of-range arguments trap, so a
// broken module fails the request rather than deciding on garbage. It
// remembers nothing: the compiler's modules ask once per pattern and slot
// and remember the answer themselves.
func (m *Module) regexMatch(ctx context.Context, _ api.Module, stack []uint64) {
	inst := instanceOf(ctx)
	p, s := api.DecodeI32(stack[0]), api.DecodeI32(stack[1])
	if inst == nil || p < 0 || int(p) >= len(m.patterns) || s < 0 || int(s) >= len(inst.vals) {
		panic(fmt.Errorf("regex_match(%d, %d) out of range", p, s))
	}
	v := &inst.vals[s]
	stack[0] = 0
	if !v.Present {
		return
	}
	// Go's regexp takes time linear in the value times the pattern's
	// program, and a host call runs to its end whatever the deadline: a
	// call that could take longer than a bounded module's whole decision
	// traps instead, and none starts past the deadline.
	if cost := int64(bounded.RegexByteCost) * int64(max(m.patternSize[p], 1)) * int64(len(v.Str)); cost > bounded.MaxCost {
		panic(fmt.Errorf("regex_match(%d, %d): a value of %d bytes is too long for the pattern %q (over the bounded cost)", p, s, len(v.Str), m.patterns[p]))
	}
	if err := ctx.Err(); err != nil {
		panic(err)
	}
	if m.maxValue >= 0 && int64(len(v.Str)) > m.maxValue {
		// Without a deadline, a value past the module's bound.
		panic(ErrValueTooLong)
	}
	if m.patterns[p].MatchString(v.Str) {
		stack[0] = 1
	}
}

// seenFunc is (symbol) -> 0|1.
func (m *Module) seenFunc(ctx context.Context, _ api.Module, stack []uint64) {
	inst := instanceOf(ctx)
	sym := api.DecodeI32(stack[0])
	if sym < 0 || int(sym) >= len(m.manifest.Symbols) {
		panic(fmt.Errorf("seen(%d) out of range", sym))
	}
	stack[0] = 0
	if inst != nil && inst.seen != nil && inst.seen(m.manifest.Symbols[sym]) {
		stack[0] = 1
	}
}
