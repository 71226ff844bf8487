package proxy

import (
	"io"
	"sync/atomic"
)

// DefaultHeldBytes is the default of Config.Held: what the bodies held
// whole at one time may take, every route together.
const DefaultHeldBytes = 256 << 20

// reasonHeldBytes: the bodies held whole at this moment (JSON documents
// and their edited forms, pages held back for their cookies) took all of
// Config.Held, so this one was not held.
const reasonHeldBytes = "held_bytes"

// Budget bounds the bytes that bodies held whole take at one time. A
// proxy holds a JSON document it edits, with its edited form, and a
// page it holds back for its cookies, until the visitor has read it; a
// visitor who reads slowly, or many HTTP/2 streams on one connection
// that read nothing, keep them held. Each is bounded on its own
// (max_rewrite_bytes, the seen-filter's hold-back), but not their number:
// past the budget a body is not held, and passes as the origin sent it.
// The routes of a server share one. It is safe for concurrent use.
type Budget struct {
	max  int64
	used atomic.Int64
}

// NewBudget returns a budget of n bytes.
func NewBudget(n int64) *Budget { return &Budget{max: n} }

// Max returns the bytes the budget holds.
func (b *Budget) Max() int64 { return b.max }

// Used returns the bytes taken now.
func (b *Budget) Used() int64 { return b.used.Load() }

// take takes n bytes, if they are left.
func (b *Budget) take(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.max {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

// charge takes n bytes already in use, whether or not they are left:
// what a body took past what it was given (see rewritingBody.fill).
func (b *Budget) charge(n int64) { b.used.Add(n) }

// give returns n bytes taken.
func (b *Budget) give(n int64) {
	if n != 0 {
		b.used.Add(-n)
	}
}

// holdMargin is what a page held back may grow by as it is rewritten,
// over its length: inserted markup.
const holdMargin = 64 << 10

// errHeldBytes: the budget of bodies held whole is spent.
var errHeldBytes = errHeld{}

type errHeld struct{}

func (errHeld) Error() string { return "the bodies held whole take all of held_bytes" }

// heldReader reads a body that is held whole, taking from the budget
// what each read may bring before it reads: past the budget it returns
// errHeldBytes.
type heldReader struct {
	r     io.Reader
	b     *Budget
	taken int64
}

func (h *heldReader) Read(p []byte) (int, error) {
	want := int64(len(p))
	if !h.b.take(want) {
		return 0, errHeldBytes
	}
	n, err := h.r.Read(p)
	h.b.give(want - int64(n))
	h.taken += int64(n)
	return n, err
}
