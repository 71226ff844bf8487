package bounded_test

import (
	"strings"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/bounded"
)

// TestAdmit: what any module must keep to before it is compiled: a start
// function, a table without a maximum or with a large one, a function of
// a type the module does not declare (the runtime's validator panics on
// it), and an oversized module are refused, with the reason.
func TestAdmit(t *testing.T) {
	header := "\x00asm\x01\x00\x00\x00"
	types := "\x01\x04\x01\x60\x00\x00"
	funcs := "\x03\x02\x01\x00"
	code := "\x0a\x04\x01\x02\x00\x0b"
	table := func(limits string) string {
		body := "\x01\x70" + limits
		return "\x04" + string(rune(len(body))) + body
	}
	// One passive segment of k entries: a section of k+6 bytes.
	elems := func(k int) string {
		body := "\x01\x01\x00" + string([]byte{byte(k) | 0x80, byte(k >> 7 & 0x7f), byte(k >> 14)}) + strings.Repeat("\x00", k)
		return "\x09" + string([]byte{byte(len(body)) | 0x80, byte(len(body)>>7&0x7f) | 0x80, byte(len(body) >> 14)}) + body
	}
	// n tables of up to 5000 entries (0x88 0x27).
	tables := func(n int) string {
		body := string(rune(n)) + strings.Repeat("\x70\x01\x00\x88\x27", n)
		return "\x04" + string(rune(len(body))) + body
	}
	tests := []struct {
		name, module, want string
	}{
		{"plain", header + types + funcs + code, ""},
		{"start function", header + types + funcs + "\x08\x01\x00" + code, "start function"},
		{"small table", header + types + funcs + table("\x01\x01\x04") + code, ""},
		{"table without a maximum", header + types + funcs + table("\x00\x01") + code, "no maximum"},
		{"table too large", header + types + funcs + table("\x01\x01\x80\x80\x80\x40") + code, "over the 10000"},
		{"table minimum too large", header + types + funcs + table("\x01\x80\x80\x80\x40\x80\x80\x80\x40") + code, "over the 10000"},
		// Each table is allocated at every instantiation: 5000 tables of
		// 10,000 entries in a file of 30 KB took 400 MB an instance.
		{"two tables within the entries", header + types + funcs + tables(2) + code, ""},
		{"tables over the entries in all", header + types + funcs + tables(3) + code, "3 tables of up to 15000 entries in all, over the 10000"},
		// Every instance holds each global: 1.5 million in 7.5 MB took
		// some 600 MB for 4 instances.
		{"globals within the limit", header + types + funcs + "\x06\x06\x01\x7f\x00\x41\x00\x0b" + code, ""},
		{"too many globals", header + types + funcs + "\x06\x08\x91\x4e\x7f\x00\x41\x00\x0b\x00" + code, "10001 globals, over the 10000"},
		// A passive segment's entries are made again at every
		// instantiation: 7 million took 1.5 s a new instance.
		{"element segments within the limit", header + types + funcs + elems(200) + code, ""},
		{"element segments too large", header + types + funcs + elems(bounded.MaxElementBytes-5) + code, "element segments take 131073 bytes, over the 131072"},
		{"a function of a type not declared", header + types + "\x03\x02\x01\x09" + code, "function 0 has type 9, but the module declares 1 types"},
		{"functions without types", header + funcs + code, "declares 0 types"},
		{"not wasm", "\x00asm\x02\x00\x00\x00", "not a WebAssembly 1.0 module"},
		{"truncated", header + "\x01\x10\x01", "unexpected end"},
		{"too large", header + "\x00\x80\x80\x80\x04" + strings.Repeat("\x00", bounded.MaxModuleBytes), "over the"},
	}
	for _, tt := range tests {
		err := bounded.Admit([]byte(tt.module))
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
}
