package wire

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
)

// pipeEnds is what a test needs of a pipe: the writer's and the reader's
// sides, so that bufPipe and io.Pipe run the same code.
type pipeEnds struct {
	w     io.Writer
	close func(error) // the writer's close; nil: io.EOF
	r     io.ReadCloser
}

func newPipes() map[string]func() pipeEnds {
	return map[string]func() pipeEnds{
		"bufPipe": func() pipeEnds {
			p := newBufPipe()
			return pipeEnds{p, p.CloseWithError, p}
		},
		"io.Pipe": func() pipeEnds {
			r, w := io.Pipe()
			return pipeEnds{w, func(err error) { w.CloseWithError(err) }, r}
		},
	}
}

// TestBufPipeAgreesWithIOPipe: for writes and reads of random sizes,
// from a byte to several times the buffer, and a writer that ends with
// or without an error, bufPipe's reader gets what io.Pipe's gets: the
// bytes written, in order, then the writer's error.
func TestBufPipeAgreesWithIOPipe(t *testing.T) {
	sizes := []int{1, 7, 4096, 32 << 10, pipeCap - 1, pipeCap, pipeCap + 1, 3 * pipeCap}
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 1))
		var writes [][]byte
		total := 0
		for n := 1 + rng.IntN(12); len(writes) < n; {
			size := sizes[rng.IntN(len(sizes))]
			if rng.IntN(4) == 0 {
				size = rng.IntN(size + 1) // and 0
			}
			w := make([]byte, size)
			for i := range w {
				w[i] = byte(total + i)
			}
			total += size
			writes = append(writes, w)
		}
		var reads []int
		for range 64 {
			reads = append(reads, 1+rng.IntN(sizes[rng.IntN(len(sizes))]))
		}
		var end error
		if seed%3 == 0 {
			end = errors.New("the handler failed")
		}
		results := map[string]string{}
		for name, newPipe := range newPipes() {
			got, err := pump(newPipe(), writes, reads, end)
			results[name] = string(got)
			if want := bytes.Join(writes, nil); !bytes.Equal(got, want) {
				t.Errorf("seed %d, %s: read %d bytes, want the %d written", seed, name, len(got), len(want))
			}
			if want := end; want == nil && err != nil || want != nil && err != want {
				t.Errorf("seed %d, %s: read ended with %v, want %v", seed, name, err, want)
			}
		}
		if results["bufPipe"] != results["io.Pipe"] {
			t.Errorf("seed %d: bufPipe and io.Pipe read different bytes", seed)
		}
	}
}

// pump writes writes into p on a goroutine, each buffer cleared once its
// Write returned (as a handler reusing its buffer does), then closes it
// with end, and reads with buffers of the sizes reads cycles through.
func pump(p pipeEnds, writes [][]byte, reads []int, end error) ([]byte, error) {
	go func() {
		for _, w := range writes {
			b := bytes.Clone(w)
			p.w.Write(b)
			clear(b)
		}
		p.close(end)
	}()
	var got []byte
	for i := 0; ; i++ {
		buf := make([]byte, reads[i%len(reads)])
		n, err := p.r.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			p.r.Close()
			return got, err
		}
	}
}

// TestBufPipeWaitsForRoom: a writer that has filled the buffer waits
// until the reader takes some; the buffer never holds more than pipeCap.
func TestBufPipeWaitsForRoom(t *testing.T) {
	p := newBufPipe()
	page := bytes.Repeat([]byte("0123456789abcdef"), pipeCap/16*2+5) // over twice the buffer
	written := make(chan int, 1)
	go func() {
		n, _ := p.Write(page)
		written <- n
		p.CloseWithError(nil)
	}()
	waitForWriter(p)
	p.mu.Lock()
	held := len(*p.buf) - p.r
	p.mu.Unlock()
	if held != pipeCap {
		t.Fatalf("the waiting writer left %d bytes in the pipe, want %d", held, pipeCap)
	}
	got, err := io.ReadAll(p)
	if err != nil || !bytes.Equal(got, page) {
		t.Fatalf("read %d bytes, %v; want %d", len(got), err, len(page))
	}
	if n := <-written; n != len(page) {
		t.Fatalf("Write returned %d, want %d", n, len(page))
	}
}

// waitForWriter returns once p's writer waits for room.
func waitForWriter(p *bufPipe) {
	for {
		p.mu.Lock()
		w := p.wwait
		p.mu.Unlock()
		if w {
			return
		}
		runtime.Gosched()
	}
}

// TestBufPipeClose: the ends' closes, and what each side sees after.
func TestBufPipeClose(t *testing.T) {
	errBoom := errors.New("boom")
	t.Run("the reader's close ends a waiting write", func(t *testing.T) {
		p := newBufPipe()
		res := make(chan error)
		go func() {
			_, err := p.Write(make([]byte, pipeCap+1))
			res <- err
		}()
		waitForWriter(p)
		p.Close()
		if err := <-res; !errors.Is(err, io.ErrClosedPipe) {
			t.Fatalf("the waiting write: %v, want io.ErrClosedPipe", err)
		}
		if p.buf != nil {
			t.Error("the closed pipe kept its buffer")
		}
		if _, err := p.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
			t.Errorf("a write after the close: %v", err)
		}
		if n, err := p.Read(make([]byte, 8)); n != 0 || !errors.Is(err, io.ErrClosedPipe) {
			t.Errorf("a read after the close: %d, %v", n, err)
		}
	})
	t.Run("the reader's close with an error", func(t *testing.T) {
		p := newBufPipe()
		p.closeRead(errBoom)
		if _, err := p.Write([]byte("x")); err != errBoom {
			t.Errorf("a write after the close: %v, want %v", err, errBoom)
		}
	})
	t.Run("the writer's error after its bytes", func(t *testing.T) {
		p := newBufPipe()
		p.Write([]byte("<p>start"))
		p.CloseWithError(errBoom)
		p.CloseWithError(nil) // the first close stands
		got, err := io.ReadAll(p)
		if string(got) != "<p>start" || err != errBoom {
			t.Errorf("read %q, %v", got, err)
		}
		if _, err := p.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
			t.Errorf("a write after the writer's close: %v", err)
		}
	})
	t.Run("an empty read", func(t *testing.T) {
		p := newBufPipe()
		if n, err := p.Read(nil); n != 0 || err != nil {
			t.Errorf("an empty read of an open, empty pipe: %d, %v", n, err)
		}
	})
}

// TestBufPipeReleases: the buffer goes back to the pool whenever the
// reader has taken everything, so an idle stream holds none.
func TestBufPipeReleases(t *testing.T) {
	p := newBufPipe()
	if p.buf != nil {
		t.Fatal("a new pipe holds a buffer")
	}
	p.Write([]byte("event: 1\n\n"))
	if p.buf == nil {
		t.Fatal("a write left no buffer")
	}
	buf := make([]byte, 4)
	p.Read(buf)
	if p.buf == nil {
		t.Fatal("a read of part of the bytes released the buffer")
	}
	io.ReadFull(p, make([]byte, 6))
	if p.buf != nil {
		t.Fatal("the emptied pipe kept its buffer")
	}
}

// FuzzBufPipe: for any sizes of writes and reads (each byte pair of the
// input gives a write of up to 263 KB, past the buffer's size, and a
// read of up to 132 KB), bufPipe's reader gets what io.Pipe's gets.
func FuzzBufPipe(f *testing.F) {
	f.Add([]byte{1, 1})
	f.Add([]byte{255, 64, 0, 1, 32, 255, 254, 2})
	f.Fuzz(func(t *testing.T, plan []byte) {
		if len(plan) > 64 {
			return
		}
		var writes [][]byte
		var reads []int
		total := 0
		for i := 0; i+1 < len(plan); i += 2 {
			w := make([]byte, int(plan[i])*1031)
			for j := range w {
				w[j] = byte((total + j) % 251)
			}
			total += len(w)
			writes = append(writes, w)
			reads = append(reads, int(plan[i+1])*517+1)
		}
		if len(reads) == 0 {
			reads = []int{1}
		}
		want := bytes.Join(writes, nil)
		for name, newPipe := range newPipes() {
			got, err := pump(newPipe(), writes, reads, nil)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s: read %d bytes, %v; want %d", name, len(got), err, len(want))
			}
		}
	})
}
