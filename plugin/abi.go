// Package plugin is the contract between the rule compiler and the host: the
// ABI a rule module exports and imports, the memory layout of the Context the
// host writes and the Decision the module writes back, the catalog of
// attributes both sides agree on, and the artifact format (a .wasm file whose
// custom sections carry the manifest).
//
// The compiler (package rules) produces artifacts that satisfy this contract;
// the host (package host/internal/engine) refuses any artifact that does not. A
// hand-written guest needs only what this package documents; see README.md.
package plugin

// ABIVersion is the version of the contract described in this package. The
// host loads only artifacts built for this version; any change to the memory
// layout, the exports or the imports increments it.
const ABIVersion = 1

// BoundedCompiler names the compiler whose modules have no unbounded loop
// (rules compiled by bespoke): a manifest's Compiler is this, a slash and a
// version. The name alone proves nothing: the host runs a module without
// termination checks only when it passes verification (package
// internal/bounded), whoever built it.
const BoundedCompiler = "bespoke-rules"

// Names the module exports.
const (
	// ExportMemory is the module's linear memory, where the Context and the
	// Decision live.
	ExportMemory = "memory"
	// ExportDecide is the function the host calls once per request, after it
	// has written the Context: () -> i32. It returns 0 on success; any other
	// value is a guest-detected error and the host serves the page
	// unpersonalized.
	ExportDecide = "bespoke_decide"
	// ExportABIVersion is an immutable i32 global holding ABIVersion.
	ExportABIVersion = "bespoke_abi_version"
)

// Names the module may import. Every import lives in module ImportModule and
// is provided by the host with the stack-based API (no reflection).
const (
	// ImportModule is the module name of all host functions.
	ImportModule = "bespoke"
	// ImportRegexMatch is (pattern i32, slot i32) -> i32: 1 when the value of
	// slot matches Manifest.Patterns[pattern], else 0. Patterns are RE2
	// (linear time), compiled once by the host when it loads the artifact.
	ImportRegexMatch = "regex_match"
	// ImportSeen is (symbol i32) -> i32: 1 when the visitor's seen-filter
	// holds the item named Manifest.Symbols[symbol], else 0.
	ImportSeen = "seen"
)

// Custom sections of an artifact.
const (
	// SectionABI holds ABIVersion as 4 little-endian bytes. It is read before
	// anything else so that an artifact from another version gets a clear
	// error instead of a confusing one.
	SectionABI = "bespoke.abi"
	// SectionManifest holds the Manifest as JSON.
	SectionManifest = "bespoke.manifest"
)

// Memory layout of one slot in the slot table (Layout.Slots). Every slot is
// SlotSize bytes, little-endian:
//
//	+0  u32 ptr    address of the value's bytes (in the heap), when present
//	+4  u32 len    length of the value in bytes
//	+8  i32 sym    index in Manifest.Symbols of a symbol equal to the value, else -1
//	+12 u32 flags  FlagPresent | FlagNumber
//	+16 f64 num    numeric value, meaningful when FlagNumber is set
//
// Interning values to symbols lets the module compare strings for equality
// with one integer compare; the host does the lookup once per slot.
const (
	SlotSize     = 24
	SlotPtr      = 0
	SlotLen      = 4
	SlotSym      = 8
	SlotFlags    = 12
	SlotNum      = 16
	FlagPresent  = 1 // the value exists (a cookie that was sent, a known country)
	FlagNumber   = 2 // the value is a finite number (num is valid)
	NoSymbol     = -1
	ReservedLow  = 16 // bytes at address 0 never used, so a zero pointer is never data
	PageSize     = 65536
	decisionWord = 8
)

// Layout is where things live in a module's memory. All offsets are
// addresses in the module's linear memory, 8-byte aligned, in this order:
// reserved low bytes, slot table, decision (matched-rule bitset then variant
// array), module constants (the data segment), heap. The host writes slot
// values into the heap, growing memory when a Context does not fit.
type Layout struct {
	// Slots is the address of the slot table: len(Manifest.Slots) entries of
	// SlotSize bytes.
	Slots uint32 `json:"slots"`
	// Decision is the address of the matched-rules bitset: one u64 word per 64
	// rules, bit i%64 of word i/64 set when rule i matched.
	Decision uint32 `json:"decision"`
	// Variants is the address of one i32 per experiment: the index of the
	// variant the visitor was assigned, or -1 when not enrolled.
	Variants uint32 `json:"variants"`
	// Data is the address of the module's constant data.
	Data uint32 `json:"data"`
	// Heap is the first address the host may write values to; memory above it
	// belongs to the host for the duration of one call.
	Heap uint32 `json:"heap"`
}

// DecisionWords is the number of u64 words of a matched-rules bitset for n
// rules.
func DecisionWords(n int) int { return (n + 63) / 64 }

// NewLayout computes the layout for a module with the given number of slots,
// rules, experiments and bytes of constant data. The compiler uses it, and the
// host uses it to check a manifest's layout.
func NewLayout(slots, rules, experiments, data int) Layout {
	var l Layout
	l.Slots = ReservedLow
	l.Decision = align8(l.Slots + uint32(slots*SlotSize))
	l.Variants = l.Decision + uint32(DecisionWords(rules)*decisionWord)
	l.Data = align8(l.Variants + uint32(experiments*4))
	l.Heap = align8(l.Data + uint32(data))
	return l
}

func align8(x uint32) uint32 { return (x + 7) &^ 7 }
