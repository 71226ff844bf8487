package plugin

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/bespoke-edge/bespoke/internal/escape"
)

// Artifact is a compiled rule module: the Wasm binary and the manifest read
// from its custom sections.
type Artifact struct {
	// Wasm is the whole module, custom sections included.
	Wasm []byte
	// Manifest is the decoded SectionManifest.
	Manifest *Manifest
}

// ABIError reports an artifact built for another ABI version.
type ABIError struct {
	Got, Want int
}

func (e *ABIError) Error() string {
	if e.Got == 0 {
		return fmt.Sprintf("not a bespoke plugin: the module has no %q section (this host speaks plugin ABI %d)", SectionABI, e.Want)
	}
	return fmt.Sprintf("plugin built for ABI %d, but this host speaks ABI %d: recompile the rules with this version of bespoke (bespoke compile)", e.Got, e.Want)
}

var wasmHeader = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// ReadArtifact reads the custom sections of a Wasm module and checks that
// they describe a module for this ABI, without compiling the code. It returns
// an *ABIError for a module of another ABI version.
func ReadArtifact(wasm []byte) (*Artifact, error) {
	sections, err := CustomSections(wasm)
	if err != nil {
		return nil, err
	}
	abi, ok := sections[SectionABI]
	if !ok {
		return nil, &ABIError{Want: ABIVersion}
	}
	if len(abi) != 4 {
		return nil, fmt.Errorf("malformed %q section: %d bytes, want 4", SectionABI, len(abi))
	}
	if v := int(binary.LittleEndian.Uint32(abi)); v != ABIVersion {
		return nil, &ABIError{Got: v, Want: ABIVersion}
	}
	raw, ok := sections[SectionManifest]
	if !ok {
		return nil, fmt.Errorf("plugin has no %q section", SectionManifest)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("malformed %q section: %w", SectionManifest, err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &Artifact{Wasm: wasm, Manifest: &m}, nil
}

// CustomSections returns the payloads of a module's custom sections by name
// (the last one wins when a name repeats). It checks the module's header and
// section framing, nothing else.
func CustomSections(wasm []byte) (map[string][]byte, error) {
	if !bytes.HasPrefix(wasm, wasmHeader) {
		return nil, errors.New("not a WebAssembly module (bad magic or version)")
	}
	out := make(map[string][]byte)
	b := wasm[len(wasmHeader):]
	for len(b) > 0 {
		id := b[0]
		size, n := uleb(b[1:])
		if n == 0 || uint64(len(b)-1-n) < size {
			return nil, errors.New("truncated WebAssembly module")
		}
		body := b[1+n : 1+n+int(size)]
		b = b[1+n+int(size):]
		if id != 0 {
			continue
		}
		nameLen, k := uleb(body)
		if k == 0 || uint64(len(body)-k) < nameLen {
			return nil, errors.New("malformed custom section name")
		}
		out[string(body[k:k+int(nameLen)])] = body[k+int(nameLen):]
	}
	return out, nil
}

// uleb decodes an unsigned LEB128 of at most 32 bits; n is 0 when malformed.
func uleb(b []byte) (v uint64, n int) {
	var shift uint
	for i, c := range b {
		if i == 5 {
			return 0, 0
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, i + 1
		}
		shift += 7
	}
	return 0, 0
}

// Validate checks that a manifest is consistent: a layout in order and
// without overlap, slots naming known attributes, and every index in
// range; and that every action is one the rule checker accepts as far as
// safety goes (CheckAction, CheckMarkup), since a manifest can be edited
// by hand. The host never trusts a manifest it has not validated.
func (m *Manifest) Validate() error {
	if m.ABI != ABIVersion {
		return &ABIError{Got: m.ABI, Want: ABIVersion}
	}
	l := m.Layout
	words := DecisionWords(len(m.Rules))
	switch {
	case l.Slots < ReservedLow,
		uint64(l.Decision) < uint64(l.Slots)+uint64(len(m.Slots))*SlotSize,
		uint64(l.Variants) < uint64(l.Decision)+uint64(words)*decisionWord,
		uint64(l.Data) < uint64(l.Variants)+uint64(len(m.Experiments))*4,
		l.Heap < l.Data,
		l.Decision%8 != 0, l.Slots%8 != 0:
		return fmt.Errorf("manifest layout is inconsistent: %+v for %d slots, %d rules, %d experiments", l, len(m.Slots), len(m.Rules), len(m.Experiments))
	}
	for i, s := range m.Slots {
		if err := validSlot(s, 0); err != nil {
			return fmt.Errorf("manifest slot %d: %w", i, err)
		}
	}
	for i, e := range m.Experiments {
		total := 0
		for _, w := range e.Weights {
			if w < 0 {
				return fmt.Errorf("manifest experiment %d: negative weight", i)
			}
			total += w
		}
		if len(e.Weights) != len(e.Variants) || total > Buckets {
			return fmt.Errorf("manifest experiment %q: weights %v for variants %v", e.Name, e.Weights, e.Variants)
		}
		for _, i := range e.Reads {
			if i < 0 || i >= len(m.Slots) {
				return fmt.Errorf("manifest experiment %q: reads slot %d", e.Name, i)
			}
		}
	}
	checkTemplate := func(t Template) error {
		for _, p := range t {
			if p.Slot < -1 || p.Slot >= len(m.Slots) {
				return fmt.Errorf("template refers to slot %d of %d", p.Slot, len(m.Slots))
			}
			if p.Experiment < 0 || p.Experiment > len(m.Experiments) {
				return fmt.Errorf("template refers to experiment %d of %d", p.Experiment, len(m.Experiments))
			}
		}
		return nil
	}
	for ri, r := range m.Rules {
		for _, i := range r.Reads {
			if i < 0 || i >= len(m.Slots) {
				return fmt.Errorf("manifest rule %q: reads slot %d", r.Name, i)
			}
		}
		for _, i := range r.ValueReads {
			if !slices.Contains(r.Reads, i) {
				return fmt.Errorf("manifest rule %q: value_reads slot %d is not in reads", r.Name, i)
			}
		}
		if err := r.Path.check(len(m.Patterns), 0); err != nil {
			return fmt.Errorf("manifest rule %q: path: %w", r.Name, err)
		}
		if r.Cap != nil && (r.Cap.Slot < 0 || r.Cap.Slot >= len(m.Slots) || m.Slots[r.Cap.Slot].Attr != "cap") {
			return fmt.Errorf("manifest rule %q: cap slot %d", r.Name, r.Cap.Slot)
		}
		for ai, a := range r.Actions {
			if !slices.Contains(ops, a.Op) {
				return fmt.Errorf("manifest rule %q action %d: unknown operation %q (the plugin needs a newer host)", r.Name, ai, a.Op)
			}
			if a.Select < -1 || a.Select >= len(m.Selectors) {
				return fmt.Errorf("manifest rule %d action %d: selector %d of %d", ri, ai, a.Select, len(m.Selectors))
			}
			if (a.Select >= 0) != ElementOp(a.Op) {
				return fmt.Errorf("manifest rule %q action %d: %s with selector %d", r.Name, ai, a.Op, a.Select)
			}
			if err := checkTemplate(a.Content); err != nil {
				return fmt.Errorf("manifest rule %q action %d: %w", r.Name, ai, err)
			}
			for _, t := range []Template{a.Value, a.Order, a.Item} {
				if err := checkTemplate(t); err != nil {
					return fmt.Errorf("manifest rule %q action %d: %w", r.Name, ai, err)
				}
			}
			if prob := CheckAction(&a); prob != nil {
				return fmt.Errorf("manifest rule %q action %d (%s at %s): %w", r.Name, ai, a.Op, a.Pos, prob)
			}
			if a.Select >= 0 {
				if prob, _, _ := CheckMarkup(&a, m.Selectors[a.Select]); prob != nil {
					return fmt.Errorf("manifest rule %q action %d (%s at %s): %w", r.Name, ai, a.Op, a.Pos, prob)
				}
			}
		}
	}
	return nil
}

// Ops returns every operation, in the order the docs present them.
func Ops() []string { return slices.Clone(ops) }

var ops = []string{
	OpSetInner, OpReplace, OpRemove, OpInsertBefore, OpInsertAfter, OpPrepend, OpAppend,
	OpSetAttr, OpRemoveAttr, OpAddClass, OpRemoveClass,
	OpRemoveKeepContent, OpLimit, OpReorder, OpHideSeen,
	OpRedirect, OpSetHeader, OpSetCookie, OpMarkSeen,
	OpJSONSet, OpJSONRemove, OpJSONHideSeen, OpJSONLimit, OpJSONReorder,
}

// JSONOp reports whether op edits JSON responses.
func JSONOp(op string) bool { return strings.HasPrefix(op, "json_") }

// ElementOp reports whether op changes elements of the page (and so takes a
// selector).
func ElementOp(op string) bool {
	switch op {
	case OpRedirect, OpSetHeader, OpSetCookie, OpMarkSeen:
		return false
	}
	return !JSONOp(op)
}

// validSlot checks a slot names a known attribute with the arguments it
// takes; depth bounds From chains.
func validSlot(s Slot, depth int) error {
	a, ok := LookupAttr(s.Attr)
	if !ok {
		return fmt.Errorf("unknown attribute %q (the plugin needs a newer host)", s.Attr)
	}
	if (a.Arg != "") != (s.Arg != "") {
		return fmt.Errorf("attribute %s with argument %q", s.Attr, s.Arg)
	}
	if a.From != (s.From != nil) {
		return fmt.Errorf("attribute %s: computed from %v", s.Attr, s.From)
	}
	if s.From != nil {
		if depth > 2 {
			return fmt.Errorf("attribute %s: computed from too deep a chain", s.Attr)
		}
		return validSlot(*s.From, depth+1)
	}
	return nil
}

// CheckAction checks that the host can apply action a safely, whoever
// wrote the manifest: where it puts values of the request
// (CheckEscaping), the name of the header or cookie it sets
// (escape.CheckHeaderName, escape.CheckCookieName), the length of a
// cookie (escape.CheckCookieValue), raw JSON
// (escape.CheckRawJSON) and a redirect's status (RedirectStatus). The
// rule checker makes the same checks, through the same functions, and
// reports them with their positions; Manifest.Validate refuses a
// manifest with any, and the host's plan never applies such an action.
// (CheckMarkup, which needs the action's selector, is the other check
// both make.)
func CheckAction(a *Action) *escape.Problem {
	switch a.Op {
	case OpSetHeader:
		if prob := escape.CheckHeaderName(a.Name, a.On == "request"); prob != nil {
			return prob
		}
	case OpSetCookie:
		if prob := escape.CheckCookieName(a.Name); prob != nil {
			return prob
		}
		if prob := escape.CheckCookieValue(a.Name, a.Value.Pieces()); prob != nil {
			return prob
		}
	case OpJSONSet:
		if a.JSON {
			if prob := escape.CheckRawJSON(a.Value.Pieces()); prob != nil {
				return prob
			}
		}
	case OpRedirect:
		if !RedirectStatus(a.Status) {
			return &escape.Problem{Piece: -1, Msg: fmt.Sprintf("redirect status %d is not a redirect", a.Status), Hint: "use 301 or 308 (permanent), 302 or 307 (temporary), or 303"}
		}
	}
	return CheckEscaping(a)
}

// RedirectStatus reports whether code is a status redirect may answer
// with: 301, 302, 303, 307 or 308.
func RedirectStatus(code int) bool {
	switch code {
	case 301, 302, 303, 307, 308:
		return true
	}
	return false
}

// CheckEscaping checks that action a puts no value of the request where
// no escaping makes it safe (package escape): a code attribute, a URL
// whose scheme or host the value would choose, script in html content,
// a response header that is a URL or a policy; and that a schemes
// option lists vetted schemes, on an action with a URL to apply them
// to. The rule checker reports the same problems with their positions;
// the host refuses a manifest that has any.
func CheckEscaping(a *Action) *escape.Problem {
	if a.Schemes != nil {
		if prob := escape.CheckSchemes(a.Schemes); prob != nil {
			return prob
		}
	}
	switch a.Op {
	case OpSetAttr:
		return escape.CheckAttr(a.Name, a.Value.Pieces(), a.Schemes)
	case OpRedirect:
		return escape.CheckRedirect(a.Value.Pieces(), a.Schemes)
	case OpSetHeader:
		return escape.CheckHeader(a.Name, a.On != "request", a.Value.Pieces())
	case OpSetInner, OpReplace, OpInsertBefore, OpInsertAfter, OpPrepend, OpAppend:
		if a.HTML {
			return escape.CheckHTML(a.Content.Pieces(), a.Schemes)
		}
	}
	if a.Schemes != nil {
		return &escape.Problem{Piece: -1, Msg: "schemes apply to URLs: set_attr of a URL attribute, html content, redirect", Hint: "remove schemes"}
	}
	return nil
}
