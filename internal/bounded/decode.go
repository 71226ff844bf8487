package bounded

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// reader reads the WebAssembly binary format. Every read checks what is
// left, so that a hostile count can never make it allocate or read past
// the input. LEB128 numbers are read as strictly as the specification
// says (at most ceil(N/7) bytes, unused bits of the last byte zero or the
// sign), so that this reader and the runtime's cannot disagree on where
// an instruction ends.
type reader struct {
	b   []byte
	off int // offset of b[0] in the module, for messages
	pos int
}

var errEOF = errors.New("unexpected end")

func (r *reader) done() bool { return r.pos >= len(r.b) }

// at is the module offset of the next byte.
func (r *reader) at() int { return r.off + r.pos }

func (r *reader) errorf(format string, args ...any) error {
	return fmt.Errorf("at byte %d: %s", r.at(), fmt.Sprintf(format, args...))
}

func (r *reader) byte() (byte, error) {
	if r.pos >= len(r.b) {
		return 0, r.errorf("%v", errEOF)
	}
	c := r.b[r.pos]
	r.pos++
	return c, nil
}

func (r *reader) bytes(n uint32) ([]byte, error) {
	if uint64(n) > uint64(len(r.b)-r.pos) {
		return nil, r.errorf("%v (%d bytes announced, %d left)", errEOF, n, len(r.b)-r.pos)
	}
	s := r.b[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return s, nil
}

// u32 reads an unsigned LEB128 of at most 32 bits.
func (r *reader) u32() (uint32, error) {
	var v uint32
	for i := 0; ; i++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if i == 4 && c&0xf0 != 0 {
			return 0, r.errorf("integer too large")
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, nil
		}
	}
}

// s32 reads a signed LEB128 of at most 32 bits.
func (r *reader) s32() (int32, error) {
	var v uint32
	for i := 0; ; i++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if i == 4 {
			// 4 bits left: the other 3 must repeat the sign bit.
			if c&0x80 != 0 || (c&0x08 == 0 && c&0x70 != 0) || (c&0x08 != 0 && c&0x70 != 0x70) {
				return 0, r.errorf("integer too large")
			}
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if i < 4 && c&0x40 != 0 {
				v |= ^uint32(0) << (7 * (i + 1))
			}
			return int32(v), nil
		}
	}
}

// s64 reads a signed LEB128 of at most 64 bits.
func (r *reader) s64() (int64, error) {
	var v uint64
	for i := 0; ; i++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if i == 9 {
			// 1 bit left: the other 6 must repeat it.
			if c != 0 && c != 0x7f {
				return 0, r.errorf("integer too large")
			}
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if i < 9 && c&0x40 != 0 {
				v |= ^uint64(0) << (7 * (i + 1))
			}
			return int64(v), nil
		}
	}
}

func (r *reader) name() (string, error) {
	n, err := r.u32()
	if err != nil {
		return "", err
	}
	b, err := r.bytes(n)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return "", r.errorf("name is not UTF-8")
	}
	return string(b), nil
}

// count reads a vector's length and checks that the rest of the input can
// hold that many elements of at least min bytes each.
func (r *reader) count(min int) (uint32, error) {
	n, err := r.u32()
	if err != nil {
		return 0, err
	}
	if uint64(n)*uint64(min) > uint64(len(r.b)-r.pos) {
		return 0, r.errorf("%d elements announced, the section is too short for them", n)
	}
	return n, nil
}

// valType is a value type; 0 is "any" on a polymorphic stack.
type valType byte

const (
	anyType valType = 0
	tI32    valType = 0x7f
	tI64    valType = 0x7e
	tF32    valType = 0x7d
	tF64    valType = 0x7c
)

func (t valType) String() string {
	switch t {
	case tI32:
		return "i32"
	case tI64:
		return "i64"
	case tF32:
		return "f32"
	case tF64:
		return "f64"
	}
	return "any"
}

func (r *reader) valType() (valType, error) {
	c, err := r.byte()
	if err != nil {
		return 0, err
	}
	switch t := valType(c); t {
	case tI32, tI64, tF32, tF64:
		return t, nil
	}
	return 0, r.errorf("value type 0x%02x is outside the bounded subset", c)
}

// constExpr reads an initializer: one constant of type t, then end.
func (r *reader) constExpr(t valType) (int64, error) {
	op, err := r.byte()
	if err != nil {
		return 0, err
	}
	var v int64
	switch {
	case op == 0x41 && t == tI32:
		x, err := r.s32()
		if err != nil {
			return 0, err
		}
		v = int64(x)
	case op == 0x42 && t == tI64:
		if v, err = r.s64(); err != nil {
			return 0, err
		}
	case op == 0x43 && t == tF32:
		if _, err := r.bytes(4); err != nil {
			return 0, err
		}
	case op == 0x44 && t == tF64:
		if _, err := r.bytes(8); err != nil {
			return 0, err
		}
	default:
		return 0, r.errorf("initializer must be one %s constant", t)
	}
	if end, err := r.byte(); err != nil || end != 0x0b {
		return 0, r.errorf("initializer must be one %s constant", t)
	}
	return v, nil
}
