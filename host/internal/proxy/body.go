package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/editmap"
	"github.com/bespoke-edge/bespoke/host/internal/metrics"
	"github.com/bespoke-edge/bespoke/host/internal/rewrite"
)

// rewritingBody reads the origin's body (a source: decoded, limited) and
// returns it rewritten, re-encoded for the visitor. It holds one read
// buffer and what the rewriter produced from the last read.
//
// The rewriter is made at the first read, once the start of the page has
// said which character encoding inserted text must be written in. Past
// maxBytes of decoded input it stops rewriting and copies the rest
// through; a page in an encoding the rewriter cannot scan is copied
// through whole.
type rewritingBody struct {
	src *source
	rw  pageRewriter
	out bytes.Buffer
	// enc compresses the rewritten bytes for the visitor, when it accepts
	// it; nil sends them as they are.
	enc encoder
	buf []byte
	// to is the visitor's writer (see statusWriter), nil when the body
	// is read instead. The body writes itself to it, from its own
	// buffer, in pieces as large as the copy buffer while the origin
	// keeps up, and flushes it when the origin pauses, with bytes written
	// since the last flush that net/http may still hold (buffered).
	// handed says that some of the body was handed over; flushed, that
	// the response's headers were sent ahead of it.
	to       visitorWriter
	handed   bool
	buffered bool
	flushed  bool
	// headersWait is how long an origin that pauses before any of the
	// body was handed over may keep the visitor without the response's
	// headers (see writeTo).
	headersWait time.Duration
	// head holds the start of the page while its encoding is not known.
	head []byte
	done bool
	err  error
	// copying: the body is copied through, not rewritten (past maxBytes,
	// or an encoding the rewriter cannot scan).
	copying bool
	// precommit: the headers are not sent yet, so for a body the source
	// can replay (a compressed one) a limit or an encoding the rewriter
	// cannot scan ends the rewrite with an error, and the caller sends
	// the origin's body as it came instead. An identity body is not
	// recorded (it would double what a held page costs): it is handled
	// as once streaming, rewritten up to the limit or copied through.
	precommit bool

	// What the rewriter is made with, at the first read.
	prog     *rewrite.Program
	edits    []rewrite.Edit
	opt      rewrite.Options
	declared pageCharset // from the Content-Type; name "" when none
	maxBytes int64

	// onDone runs once, when the whole body has been rewritten; onLimit
	// when a limit, the page's encoding or a failure of the rewriter
	// changes how it is handled (reason, and "stopped", "untouched" or
	// "cut"; the failure is in err).
	onDone  func()
	onLimit func(reason, result string)
	// onLeft runs when the body is closed after some of it was handed
	// over but before its end: the visitor left, or the transfer was
	// cut.
	onLeft func()
	// in and spent are the bytes rewritten and the time it took, for
	// metrics recorded when the body is closed.
	in      int64
	spent   time.Duration
	metrics *metrics.Metrics
	route   string

	// The page's edit map (see mapping.go): a splicer uses the one the
	// cache had; a builder records one for the cache.
	// mapKey is the page's identity, pageKey its URL's, usedKey the one
	// the splicer's map was found under.
	maps                     *editmap.Cache
	mapKey, pageKey, usedKey editmap.Key
	mapStats                 *MapStats
	splicer                  *rewrite.Splicer
	builder                  *rewrite.MapBuilder
	rewriter                 *rewrite.Rewriter // the full rewriter, when no splicer
	// byURL says the page is known by its URL alone (it has neither
	// validator nor length: see mapKey); streamPause is how long the
	// origin of a page with a map may wait mid-page before the page is
	// taken for one sent as it is rendered (with or without a validator
	// or a length), paused says it did, with the splice holding part of
	// a block, and pausedAt after how many bytes (see originPaused).
	byURL       bool
	streamPause time.Duration
	paused      bool
	pausedAt    int64
	// caughtUp says the splice held nothing back after the last read,
	// which came back short (see Splicer.Pause).
	caughtUp bool
	// held is what a page held back took from budget (see Budget),
	// given back when the body is released.
	budget *Budget
	held   int64
}

// visitorWriter is the visitor's side of a rewritten body: where it is
// written, and flushed when the origin pauses (see statusWriter).
type visitorWriter interface {
	io.Writer
	flushNow()
	// headersAfter sends the response's headers after d, unless the
	// body wrote first or quietHeaders was called; quietHeaders stops
	// that, once the body is done with the writer.
	headersAfter(d time.Duration)
	quietHeaders()
}

// pageRewriter is what rewrites the page: a Rewriter, or a Splicer when
// the page's edit map is known.
type pageRewriter interface {
	io.Writer
	Close() error
	Stop() error
	Release()
	AppliedCount(i int) int
	// RefusedTotal counts the elements where an edit would have
	// written values of the request as code (Edit.Interpolated).
	RefusedTotal() int
	// Overflowed reports whether rewriting stopped at the memory bound.
	Overflowed() bool
}

// Sizes of the body path. A rewritten body of unknown length goes out in
// chunks, and net/http makes two writes of each chunk (its header and
// the first bytes from its buffer, then the rest): few large pieces
// (pieceSize) while the origin keeps up make few writes. A splice reads
// readSize at a time into the page it keeps; the rewriter, and the
// splice's first read, read into the body's buffer of bufSize.
const (
	readSize  = 64 << 10
	bufSize   = 32 << 10
	pieceSize = 128 << 10
	// maxPooledOut bounds the output buffers kept for later bodies: a
	// piece, grown once, or a page held back whole.
	maxPooledOut = 4 * pieceSize
	// passesBuffers is a write that net/http's buffers pass on whole
	// before Write returns: they hold 2 KiB before chunking and 4 KiB of
	// the connection's, and bufio writes anything larger than what it has
	// room for straight through once it is empty. After such a write, a
	// flush would send only the chunk's closing CRLF: a syscall and a
	// 2-byte packet that the visitor's browser has no use for, so a pause
	// of the origin flushes only after a smaller write (see writeTo;
	// TestLargeWriteLeavesUnflushed checks it on a real connection).
	passesBuffers = 16 << 10
)

var bodyPool = sync.Pool{New: func() any { return &rewritingBody{buf: make([]byte, bufSize)} }}

// newRewritingBody returns a body that rewrites src with edits and writes
// it in encoding ("" for none). contentType is the response's, for its
// charset.
func newRewritingBody(src *source, prog *rewrite.Program, edits []rewrite.Edit, opt rewrite.Options, encoding, contentType string, maxBytes int64) *rewritingBody {
	b := bodyPool.Get().(*rewritingBody)
	// All of a pooled body's state goes but its buffers: a field left
	// from the previous response (a flush already made) would change how
	// this one streams.
	*b = rewritingBody{out: b.out, buf: b.buf, head: b.head[:0]}
	b.out.Reset()
	b.src, b.prog, b.edits, b.opt, b.maxBytes = src, prog, edits, opt, maxBytes
	b.declared, _ = headerCharset(contentType)
	b.enc = newEncoder(encoding, &b.out)
	return b
}

// writer is where rewritten bytes go.
func (b *rewritingBody) writer() io.Writer {
	if b.enc != nil {
		return b.enc
	}
	return &b.out
}

// fill rewrites ahead until the body ends, fails, limit bytes of output
// are held, or enough reports true (nil: never), and reports whether it
// got what it held the body for: its end, or enough.
//
// room is what out may take (0: unbounded). It is grown to room at once
// once half of it is used: grown by doubling, a page held to 1 MiB took
// 2 MiB whenever the write that passed 1 MiB found it full.
func (b *rewritingBody) fill(limit, room int, enough func() bool) bool {
	for !b.done && b.err == nil && b.out.Len() < limit {
		if enough != nil && enough() {
			return true
		}
		if b.out.Cap() < room && b.out.Len() >= room/2 {
			grown := make([]byte, b.out.Len(), room)
			copy(grown, b.out.Bytes())
			b.out = *bytes.NewBuffer(grown)
		}
		b.step()
	}
	return b.done || enough != nil && enough()
}

// step reads once from the origin and rewrites what it got. A splicer
// reads into the end of the page it keeps, so that the page is not
// copied there. A panic of the rewriter ends the body with a
// rewriteFailure (see failed).
func (b *rewritingBody) step() {
	defer func() {
		if v := recover(); v != nil {
			b.failed(recovered(v))
		}
	}()
	buf := b.buf
	if b.splicer != nil && b.rw == pageRewriter(b.splicer) {
		if s := b.splicer.Spare(readSize); s != nil {
			buf = s
		}
	}
	// A page that has a map, or is getting one: does its origin pause?
	// (Only once a read came back short, when the next one may wait.)
	// A page with a validator or a length may be sent as it renders too.
	timed := !b.paused && (b.splicer != nil || b.builder != nil) && b.src.paused()
	var t0 time.Time
	if timed {
		t0 = time.Now()
	}
	n, err := b.src.Read(buf)
	if timed && time.Since(t0) >= b.streamPause {
		b.originPaused()
	}
	eof := err == io.EOF
	if err != nil && !eof {
		b.err = err
		if !b.precommit && (errors.Is(err, errDecodeRatio) || errors.Is(err, errBadEncoding)) {
			// The headers are gone: all that is left is to cut the
			// transfer, as when the origin breaks off.
			b.limit(reasonFor(err), "cut")
		}
		return
	}
	if n > 0 || eof {
		t := time.Now()
		b.write(buf[:n], eof)
		// The origin may pause here: a splice writes what a rewrite has
		// by now, where the map's origin paused too.
		b.caughtUp = !eof && b.src.paused() && b.splicer != nil && b.rw == pageRewriter(b.splicer) && b.splicer.Pause()
		if b.enc != nil && !eof && b.src.paused() {
			// Stream: what was rewritten leaves when the origin pauses,
			// not when the compressor's window fills.
			b.enc.Flush()
		}
		b.spent += time.Since(t)
		b.in += int64(n)
	}
	if eof {
		t := time.Now()
		if b.rw != nil {
			b.rw.Close()
			if b.rw.Overflowed() {
				// A list too long to hold: its edits, and those after it,
				// were not applied. Counted, so that it is not silent.
				b.limit(reasonRewriteBuffer, "stopped")
			}
			b.mapped()
		}
		if b.enc != nil {
			b.enc.Close()
		}
		b.spent += time.Since(t)
		b.done = true
		if b.onDone != nil {
			b.onDone()
			b.onDone = nil
		}
	}
}

// originPaused is what a wait of the origin mid-page (after a read that
// came back short) does. A map being made records the place, where its
// splices will write what a rewrite has by then (rewrite.Splicer.Pause);
// a splice that did so here (caughtUp) held nothing back; another held
// the rest of a block through the wait, and the cache is told where
// (Cache.Paused), to make no maps for the page should it pause there
// again.
func (b *rewritingBody) originPaused() {
	switch {
	case b.builder != nil && b.builder.Pause():
	case b.splicer != nil && b.caughtUp:
	default:
		b.paused, b.pausedAt = true, b.in
	}
}

// failed ends the body after its rewriter panicked. What the rewriters
// hold is whatever the panic left: they are dropped, not pooled, and so
// is the encoder they wrote to; the page's edit map (used or being
// built) is forgotten.
func (b *rewritingBody) failed(f *rewriteFailure) {
	b.rw, b.splicer, b.rewriter, b.builder, b.enc = nil, nil, nil, nil, nil
	b.maps.Forget(b.mapKey)
	b.maps.Forget(b.pageKey)
	b.err = f
	if !b.precommit {
		// The headers are gone: the transfer is cut (see failure.go).
		b.limit(reasonRewriteFailed, "cut")
	}
}

// write rewrites (or copies) p; eof says the page ends after it.
func (b *rewritingBody) write(p []byte, eof bool) {
	if b.rw == nil && !b.copying {
		var ok bool
		if p, ok = b.start(p, eof); !ok {
			return // still looking for the page's encoding; p is in head
		}
	}
	switch {
	case b.copying:
		b.writer().Write(p)
	default:
		over := b.src.out - b.maxBytes // p is the last len(p) bytes read
		if over <= 0 || b.precommit && b.src.replayable() {
			b.rw.Write(p)
			if b.builder != nil {
				b.builder.Write(p)
			}
			if over > 0 {
				b.err = errTooLarge // sent again as the origin sent it
			}
			return
		}
		// Bounded work per page: the rewrite stops at maxBytes of it,
		// wherever the reads end (a page split otherwise was rewritten a
		// read further on some responses than others), and the rest is
		// copied through.
		keep := max(int64(len(p))-over, 0)
		b.rw.Write(p[:keep])
		b.rw.Stop()
		b.dropBuilder()
		b.copying = true
		if !b.rw.Overflowed() {
			// A rewriter that gave up at its memory bound before (a
			// list too long to hold) is counted for it at the end:
			// this limit stopped nothing more.
			b.limit(reasonTooLarge, "stopped")
		}
		b.writer().Write(p[keep:])
	}
}

// start decides, from the start of the page and p, the bytes read next,
// how it is written: it returns false while more bytes are needed (they
// are kept in head), and true once the rewriter is made, or copying set,
// with the bytes to write first. The first read usually decides: it is
// then returned as it is, not copied into head.
func (b *rewritingBody) start(p []byte, eof bool) ([]byte, bool) {
	in := p
	if len(b.head) > 0 {
		b.head = append(b.head, p...)
		in = b.head
	}
	wait := func() ([]byte, bool) {
		if len(b.head) == 0 {
			b.head = append(b.head, p...)
		}
		return nil, false
	}
	if len(in) < 3 && !eof {
		return wait() // a byte order mark overrides everything
	}
	cs, ok := bomCharset(in)
	undeclared := false
	switch {
	case ok:
	case b.declared.name != "":
		cs = b.declared
	default:
		// Looked for even when only ASCII is inserted: a page that
		// declares ISO-2022-JP in a <meta> is read by the browser with
		// ASCII escape sequences that switch to two-byte characters,
		// which would swallow the quotes around an inserted value.
		if c, found := prescan(in); found {
			cs = c
		} else if len(in) < prescanLimit && !eof {
			return wait()
		} else {
			cs, undeclared = utf8Page, true
		}
	}
	if !cs.rewritable() {
		if b.precommit && b.src.replayable() {
			b.err = errCharset
			return nil, false
		}
		b.copying = true
		b.limit(reasonCharset, "untouched")
		return in, true
	}
	if cs.enc != nil {
		// Selectors compare what the page's bytes read as; an edit map
		// holds where they matched on a page read as UTF-8, and is not
		// for a page in another encoding (rare enough to rewrite whole).
		b.maps = nil
	}
	edits, opt := inCharset(cs, undeclared, b.edits, b.opt)
	b.opt = opt
	b.newRewriter(edits)
	return in, true
}

// whole reports whether the body has been rewritten to its end, without
// error, and none of it handed over yet: out holds all of it.
func (b *rewritingBody) whole() bool { return b.done && b.err == nil && !b.handed }

// originFailed reports whether the body's error came from the origin's
// connection, rather than from a limit, the body's encoding or the
// rewriter.
func (b *rewritingBody) originFailed() bool {
	for _, e := range []error{errDecodeRatio, errBadEncoding, errTooLarge, errCharset, errRewriteFailed} {
		if errors.Is(b.err, e) {
			return false
		}
	}
	return true
}

// limit reports a limit or encoding that changed how the page is handled.
func (b *rewritingBody) limit(reason, result string) {
	if b.onLimit != nil {
		b.onLimit(reason, result)
	}
}

// Read moves the rewritten body on. With a visitor's writer (to), it
// writes the whole rest of the body to it (see writeTo) and returns
// io.EOF, or the error that stopped it: httputil.ReverseProxy then
// copies nothing, and each piece leaves from the buffer it was rewritten
// into instead of being copied once more into the proxy's.
//
// Without one, it hands over the rewritten body in pieces as large as p,
// the way io.Copy's buffer moves a plain body: it reads from the origin
// until p can be filled, the body ends, or the origin pauses with
// something to hand over. The origin paused when its last read came back
// short; one that filled the read buffer exactly as the origin paused is
// taken for a busy origin, and what it brought waits for the origin's
// next bytes or its end.
func (b *rewritingBody) Read(p []byte) (int, error) {
	if b.to != nil {
		err := b.writeTo(b.to)
		b.to.quietHeaders()
		return 0, err
	}
	for b.out.Len() < len(p) {
		if b.done || b.err != nil {
			if b.out.Len() > 0 {
				break
			}
			if b.done {
				return 0, io.EOF
			}
			return 0, b.err
		}
		if b.src.paused() && b.out.Len() > 0 {
			break
		}
		b.step()
	}
	n, _ := b.out.Read(p)
	b.handed = b.handed || n > 0
	return n, nil
}

// errVisitorGone reports a failed write to the visitor. It is
// context.Canceled, which ReverseProxy takes for a visitor that went
// away: it aborts the handler, as on a failed write of its own, without
// logging a read error of the origin's.
var errVisitorGone = context.Canceled

// writeTo writes the rest of the rewritten body to w: in pieces of at
// least pieceSize while the origin keeps up, or what there is when the
// origin pauses or the body ends; a splice that takes the page (see
// newRewriter) writes it from the page it keeps. Before a read from the
// origin that may wait, what was written is flushed. The origin paused
// when its last read came back short; one that filled the read buffer
// exactly as the origin paused is taken for a busy origin, and what it
// brought waits for the origin's next bytes or its end. It returns
// io.EOF at the body's end.
func (b *rewritingBody) writeTo(w visitorWriter) error {
	for {
		if b.err != nil && !b.handed {
			// Broken off (the origin, or the rewriter) before any of
			// the body was handed over: what is held goes nowhere, and
			// the visitor, who got nothing yet, is answered instead
			// (see Proxy.unsent).
			return b.err
		}
		if s := b.splicer; s != nil && s.Direct() {
			// The page itself, up to where it was checked: before what
			// out holds (a Rewriter's, once the page stopped matching).
			if n := s.Pending(); n > 0 && (n >= pieceSize || b.done || b.err != nil || b.src.paused() || b.out.Len() > 0) {
				p := s.Take()
				_, err := w.Write(p)
				b.handed = true
				b.buffered = b.buffered || len(p) < passesBuffers
				if err != nil {
					return errVisitorGone
				}
			}
		}
		if n := b.out.Len(); n > 0 && (n >= pieceSize || b.done || b.err != nil || b.src.paused()) {
			_, err := w.Write(b.out.Bytes())
			b.buffered = b.buffered || n < passesBuffers
			b.out.Reset()
			b.handed = true
			if err != nil {
				return errVisitorGone
			}
		}
		switch {
		case b.done:
			return io.EOF
		case b.err != nil:
			return b.err
		}
		switch {
		case !b.src.paused():
		case b.buffered:
			w.flushNow()
			b.buffered, b.flushed = false, true
		case !b.handed && !b.flushed:
			// Before the first byte (a page that does not name its
			// encoding waits for the 1024 bytes the browser's prescan
			// reads; a list hide_seen or limit holds whole), a slow
			// origin's visitor gets the headers meanwhile, as the origin
			// sent them; not at once, as for a pause of the origin's
			// later: an origin that breaks off right after the start is
			// answered with a 502 while none of the response has gone.
			w.headersAfter(b.headersWait)
		}
		b.step()
	}
}

// release returns the body's buffers without closing the source.
func (b *rewritingBody) release() {
	if b.budget != nil {
		b.budget.give(b.held)
		b.budget, b.held = nil, 0
	}
	if b.rw != nil {
		b.rw.Release()
		b.rw = nil
	}
	b.dropBuilder()
	b.splicer, b.rewriter, b.maps = nil, nil, nil
	releaseEncoder(b.enc)
	b.enc = nil
	b.src = nil
	b.edits = nil
	b.onDone, b.onLimit, b.onLeft = nil, nil, nil
	b.to = nil
	if b.out.Cap() <= maxPooledOut && cap(b.head) <= 64<<10 {
		bodyPool.Put(b)
	}
}

func (b *rewritingBody) Close() error {
	if b.onLeft != nil && !b.done && b.handed {
		b.onLeft()
	}
	src := b.src
	err := src.Close()
	b.metrics.Rewrite(b.route, "html", b.in, b.spent)
	if b.rw != nil {
		// The values the page's elements refused, with those the plan
		// refused (counted when deciding).
		b.metrics.Refused(b.route, b.rw.RefusedTotal())
	}
	b.release()
	putSource(src)
	return err
}
