package wire

import (
	"io"
	"sync"
)

// bufPipe is the body of an in-process upstream's response: the
// handler's writes are copied into a buffer the proxy reads from, and
// return without waiting for the read. io.Pipe hands every write over to
// the reader and waits for it to take the bytes, so a page written 32 KiB
// at a time wakes the reader's goroutine, on another thread, for each
// write, and the writer again when it is done; those wake-ups cost a third
// of a middleware request's time (BenchmarkMiddleware). With a buffer, the
// writer runs ahead and the reader takes what has been written in one
// read, so a page smaller than the buffer costs a wake-up or two.
//
// The buffer is bounded (pipeCap): a handler that writes more than the
// reader takes waits for room, so memory stays bounded whatever it
// writes. It comes from a pool at the first write and goes back when the
// reader has taken everything, so a long-lived stream holds none while it
// is idle.
type bufPipe struct {
	// wmu and rmu make each Write and each Read whole, as io.Pipe's are,
	// when goroutines share a side: a side has one waiter at most.
	wmu, rmu sync.Mutex

	mu   sync.Mutex
	buf  *[]byte // nil until a write, and whenever it is empty
	r    int     // where the next read starts in *buf
	werr error   // set when the writer closed: io.EOF or its error
	rerr error   // set when the reader closed: io.ErrClosedPipe or its error

	// A side that waits says so and receives on its channel; the other
	// side sends after it changed what the waiter waits for.
	rwait, wwait bool
	rwake, wwake chan struct{}
}

// pipeCap is the most a pipe holds that the reader has not taken: more
// than most pages (the shop page is 156 KB), so their writer seldom waits.
const pipeCap = 256 << 10

var pipeBufs = sync.Pool{New: func() any { b := make([]byte, 0, pipeCap); return &b }}

func newBufPipe() *bufPipe {
	return &bufPipe{rwake: make(chan struct{}, 1), wwake: make(chan struct{}, 1)}
}

// Write copies p into the buffer, waiting for room when it is full. It
// fails with io.ErrClosedPipe once the reader closed.
func (p *bufPipe) Write(b []byte) (int, error) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	n := 0
	p.mu.Lock()
	for {
		if p.rerr != nil {
			p.mu.Unlock()
			return n, p.rerr
		}
		if p.werr != nil {
			p.mu.Unlock()
			return n, io.ErrClosedPipe
		}
		if n == len(b) {
			p.mu.Unlock()
			return n, nil
		}
		if p.buf == nil {
			p.buf = pipeBufs.Get().(*[]byte)
		}
		buf := *p.buf
		if p.r > 0 && len(buf) == cap(buf) {
			// Full, with bytes taken at the front: move the rest down.
			buf = buf[:copy(buf, buf[p.r:])]
			p.r = 0
		}
		if k := min(cap(buf)-len(buf), len(b)-n); k > 0 {
			buf = append(buf, b[n:n+k]...)
			n += k
			*p.buf = buf
			p.wakeReader()
			continue
		}
		p.wwait = true
		p.mu.Unlock()
		<-p.wwake
		p.mu.Lock()
	}
}

// CloseWithError closes the writing side: the reader gets what was
// written, then err (io.EOF when err is nil).
func (p *bufPipe) CloseWithError(err error) {
	if err == nil {
		err = io.EOF
	}
	p.mu.Lock()
	if p.werr == nil {
		p.werr = err
	}
	p.wakeReader()
	p.mu.Unlock()
}

// Read takes what was written, waiting for a write when there is none.
func (p *bufPipe) Read(b []byte) (int, error) {
	p.rmu.Lock()
	defer p.rmu.Unlock()
	p.mu.Lock()
	for {
		if p.rerr != nil {
			p.mu.Unlock()
			return 0, p.rerr
		}
		if p.buf != nil && p.r < len(*p.buf) {
			buf := *p.buf
			n := copy(b, buf[p.r:])
			if p.r += n; p.r == len(buf) {
				p.release()
			}
			p.wakeWriter()
			p.mu.Unlock()
			return n, nil
		}
		if p.werr != nil {
			p.mu.Unlock()
			return 0, p.werr
		}
		if len(b) == 0 {
			p.mu.Unlock()
			return 0, nil
		}
		p.rwait = true
		p.mu.Unlock()
		<-p.rwake
		p.mu.Lock()
	}
}

// Close closes the reading side: the writer's writes fail from then on
// with io.ErrClosedPipe.
func (p *bufPipe) Close() error {
	p.closeRead(io.ErrClosedPipe)
	return nil
}

// closeRead closes the reading side: the writer's writes, and reads,
// fail from then on with err.
func (p *bufPipe) closeRead(err error) {
	p.mu.Lock()
	if p.rerr == nil {
		p.rerr = err
		if p.buf != nil {
			p.release()
		}
	}
	p.wakeWriter()
	p.mu.Unlock()
}

// release puts the emptied buffer back in the pool. p.mu is held.
func (p *bufPipe) release() {
	*p.buf = (*p.buf)[:0]
	pipeBufs.Put(p.buf)
	p.buf, p.r = nil, 0
}

// wakeReader and wakeWriter end the other side's wait, if it waits.
// p.mu is held, so the flag and the send agree.
func (p *bufPipe) wakeReader() {
	if p.rwait {
		p.rwait = false
		p.rwake <- struct{}{}
	}
}

func (p *bufPipe) wakeWriter() {
	if p.wwait {
		p.wwait = false
		p.wwake <- struct{}{}
	}
}
