package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/editmap"
	"github.com/bespoke-edge/bespoke/host/internal/rewrite"
)

// originBody is an origin's body that hands out at most step bytes per
// read, the way a socket hands out what has arrived, and io.EOF with the
// last bytes, as net/http's body of a known length does; it is reused,
// so that the test counts the body path's allocations, not its own.
type originBody struct {
	bytes.Reader
	step int
}

func (o *originBody) Read(p []byte) (int, error) {
	if o.step > 0 && len(p) > o.step {
		p = p[:o.step]
	}
	n, err := o.Reader.Read(p)
	if err == nil && o.Len() == 0 {
		err = io.EOF
	}
	return n, err
}

func (*originBody) Close() error { return nil }

// visitor is the ResponseWriter's side of a paced body: it records the
// writes, and the flushes the body asks for.
type visitor struct {
	out     bytes.Buffer
	writes  int
	flushes int
	// flushedAt is how many bytes had been written at each flush.
	flushedAt []int
}

func (v *visitor) Write(p []byte) (int, error) {
	v.writes++
	return v.out.Write(p)
}

func (*visitor) headersAfter(time.Duration) {}
func (*visitor) quietHeaders()              {}

func (v *visitor) flushNow() {
	v.flushes++
	if len(v.flushedAt) < cap(v.flushedAt) {
		v.flushedAt = append(v.flushedAt, v.out.Len())
	}
}

// shopEdits are five edits of the shop page, as the load tests make.
func shopEdits(t testing.TB) (*rewrite.Program, []rewrite.Edit, []byte) {
	page, err := os.ReadFile("../../../testdata/pages/shop.html")
	if err != nil {
		t.Fatal(err)
	}
	prog, err := rewrite.CompileStrings([]string{".listing-head h1", "#promo-strip a", "body", "#listing", "#legacy-promo"})
	if err != nil {
		t.Fatal(err)
	}
	edits := []rewrite.Edit{
		{Selector: 0, Op: rewrite.SetInner, Content: []byte("Picked for you")},
		{Selector: 1, Op: rewrite.SetAttr, Attr: "href", Value: "/offers?seg=gold"},
		{Selector: 2, Op: rewrite.AddClass, Attr: "bench-p"},
		{Selector: 3, Op: rewrite.InsertBefore, Content: []byte(`<div class="bench-banner">Members save 10%</div>`)},
		{Selector: 4, Op: rewrite.Remove},
	}
	return prog, edits, page
}

// serveBody streams page through a rewriting body as ReverseProxy does:
// reads into its pooled copy buffer (the body writes itself to v, and
// hands over nothing), each written to v.
func serveBody(t testing.TB, origin *originBody, page []byte, prog *rewrite.Program, edits []rewrite.Edit, v *visitor) {
	serveMapped(t, origin, page, prog, edits, v, nil, nil)
}

// serveMapped is serveBody with the page's edit map in maps (nil: none),
// counted in st.
func serveMapped(t testing.TB, origin *originBody, page []byte, prog *rewrite.Program, edits []rewrite.Edit, v *visitor, maps *editmap.Cache, st *MapStats) {
	origin.Reset(page)
	src, err := newSource(origin, "", 100, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	rb := newRewritingBody(src, prog, edits, rewrite.Options{}, "", "text/html; charset=utf-8", 8<<20)
	if maps != nil {
		key, _ := editmap.NewKey(`"shop"`, int64(len(page)), "route", "/")
		rb.maps, rb.mapKey, rb.mapStats = maps, key, st
	}
	rb.to = v
	buf := bufferPool{}.Get()
	for {
		n, err := rb.Read(buf)
		if n > 0 {
			v.Write(buf[:n])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	bufferPool{}.Put(buf)
	rb.Close()
}

// TestRewritingBodyAllocs: once its pools are warm, a rewritten page
// costs no allocation on the body path (source, rewriter, output
// buffer, copy buffer).
func TestRewritingBodyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	prog, edits, page := shopEdits(t)
	origin := &originBody{}
	v := &visitor{}
	serveBody(t, origin, page, prog, edits, v)
	if got := v.out.String(); !strings.Contains(got, "Members save 10%") || !strings.Contains(got, "Picked for you") {
		t.Fatal("the page was not rewritten")
	}
	allocs := testing.AllocsPerRun(20, func() {
		v.out.Reset()
		serveBody(t, origin, page, prog, edits, v)
	})
	if allocs != 0 {
		t.Errorf("a rewritten page costs %.1f allocations on the body path, want 0", allocs)
	}
}

// TestSplicedBodyAllocs: once its map is made and the pools are warm, a
// spliced page costs no allocation on the body path either, and comes
// out as the rewriter writes it.
func TestSplicedBodyAllocs(t *testing.T) {
	prog, edits, page := shopEdits(t)
	origin := &originBody{}
	want := &visitor{}
	serveBody(t, origin, page, prog, edits, want)
	maps, st := editmap.New(4<<20), &MapStats{}
	v := &visitor{}
	serveMapped(t, origin, page, prog, edits, v, maps, st) // makes the map
	v.out.Reset()
	serveMapped(t, origin, page, prog, edits, v, maps, st)
	if st.Hits.Load() != 1 {
		t.Fatalf("hits %d, misses %d, fallbacks %d: the page was not spliced", st.Hits.Load(), st.Misses.Load(), st.Fallbacks.Load())
	}
	if !bytes.Equal(v.out.Bytes(), want.out.Bytes()) {
		t.Fatal("the spliced page differs from the rewritten one")
	}
	if raceEnabled {
		return // sync.Pool drops items at random under the race detector
	}
	allocs := testing.AllocsPerRun(20, func() {
		v.out.Reset()
		serveMapped(t, origin, page, prog, edits, v, maps, st)
	})
	if allocs != 0 {
		t.Errorf("a spliced page costs %.1f allocations on the body path, want 0", allocs)
	}
}

// BenchmarkRewritingBody is the body path of one rewritten shop page,
// without HTTP: source, rewriter, output buffer and copy buffer.
func BenchmarkRewritingBody(b *testing.B) {
	prog, edits, page := shopEdits(b)
	origin := &originBody{}
	v := &visitor{}
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		v.out.Reset()
		serveBody(b, origin, page, prog, edits, v)
	}
}

// TestRewritingBodyPacing: the body hands over pieces as large as the
// copy buffer while the origin keeps up, and asks for a flush only when
// the origin paused, before reading on, with what was handed over.
func TestRewritingBodyPacing(t *testing.T) {
	prog, edits, page := shopEdits(t)
	for _, tc := range []struct {
		name string
		step int // bytes the origin has ready per read; 0: all
		// wantFlushes: how many flushes the body may ask for.
		maxFlushes int
	}{
		// Every read fills the buffer: the origin never pauses, and the
		// end of the body is flushed by the server, not the body.
		{"at once", 0, 0},
		// Every read is short: the origin pauses after each, and what
		// each brought leaves before the next read.
		{"trickle", 5000, len(page)/5000 + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &visitor{flushedAt: make([]int, 0, 64)}
			serveBody(t, &originBody{step: tc.step}, page, prog, edits, v)
			if v.flushes > tc.maxFlushes {
				t.Errorf("%d flushes, want at most %d", v.flushes, tc.maxFlushes)
			}
			if tc.step == 0 {
				// Pieces of pieceSize, the last one shorter.
				if want := v.out.Len()/pieceSize + 1; v.writes > want {
					t.Errorf("%d writes of %d bytes, want at most %d", v.writes, v.out.Len(), want)
				}
				return
			}
			if v.flushes == 0 {
				t.Fatal("an origin that pauses after every read got no flush")
			}
			// Each flush sends everything handed over so far, and each
			// comes after the first bytes of a pause, so flushes advance.
			for i := 1; i < len(v.flushedAt); i++ {
				if v.flushedAt[i] <= v.flushedAt[i-1] {
					t.Errorf("flush %d at %d bytes, after flush %d at %d: nothing new was sent", i, v.flushedAt[i], i-1, v.flushedAt[i-1])
				}
			}
		})
	}
}

// TestLargeWritePassesBuffers checks, on a real connection, what writeTo
// counts on to skip a flush: a write of passesBuffers bytes to a chunked
// net/http response leaves nothing of it in the server's buffers. The
// handler writes once (at each buffer state: empty, and after a small
// write that its buffers hold) and then waits, without a flush, until
// the client has read every byte written.
func TestLargeWritePassesBuffers(t *testing.T) {
	for _, before := range []int{0, 100, 3000} {
		t.Run(fmt.Sprint(before), func(t *testing.T) {
			read := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.Write(bytes.Repeat([]byte("s"), before))
				w.Write(bytes.Repeat([]byte("L"), passesBuffers))
				select {
				case <-read:
				case <-time.After(20 * time.Second):
				}
				io.WriteString(w, "end")
			}))
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if len(resp.TransferEncoding) == 0 {
				t.Fatalf("the response is not chunked (%v): the test does not check what it should", resp.Header)
			}
			got := make(chan error, 1)
			go func() {
				_, err := io.ReadFull(resp.Body, make([]byte, before+passesBuffers))
				got <- err
			}()
			select {
			case err := <-got:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%d bytes written after %d were held by the server without a flush: writeTo must flush after writes this large", passesBuffers, before)
			}
			close(read)
			if rest, _ := io.ReadAll(resp.Body); string(rest) != "end" {
				t.Errorf("the rest of the body is %q", rest)
			}
		})
	}
}

// brokenBody is an origin's body that hands out reads as given, then
// fails with err, as a connection the origin closed mid-body.
type brokenBody struct {
	reads [][]byte
	err   error
}

func (b *brokenBody) Read(p []byte) (int, error) {
	if len(b.reads) == 0 {
		return 0, b.err
	}
	n := copy(p, b.reads[0])
	b.reads[0] = b.reads[0][n:]
	if len(b.reads[0]) == 0 {
		b.reads = b.reads[1:]
	}
	return n, nil
}

func (*brokenBody) Close() error { return nil }

// TestBrokenOffBodyHandsNothingHeld: a body whose origin breaks off
// before any of it was handed to the visitor writes nothing of what it
// holds (its output not yet a piece, the origin never having paused):
// the visitor is answered instead (Proxy.unsent). Once some of it was
// handed over, what was rewritten before the break follows it.
func TestBrokenOffBodyHandsNothingHeld(t *testing.T) {
	prog, edits, page := shopEdits(t)
	for _, c := range []struct {
		name      string
		reads     []int // sizes of the origin's reads before the break
		wantWrite bool
	}{
		{name: "full reads, then the break", reads: []int{bufSize, bufSize}, wantWrite: false},
		{name: "no byte, then the break", reads: nil, wantWrite: false},
		{name: "a pause, then the break", reads: []int{10000}, wantWrite: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			origin := &brokenBody{err: io.ErrUnexpectedEOF}
			at := 0
			for _, n := range c.reads {
				origin.reads = append(origin.reads, page[at:at+n])
				at += n
			}
			src, err := newSource(origin, "", 100, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			rb := newRewritingBody(src, prog, edits, rewrite.Options{}, "", "text/html; charset=utf-8", 8<<20)
			v := &visitor{}
			rb.to = v
			n, err := rb.Read(make([]byte, bufSize))
			if n != 0 || err != io.ErrUnexpectedEOF {
				t.Fatalf("Read = %d, %v; want 0 and the origin's error", n, err)
			}
			if wrote := v.out.Len() > 0; wrote != c.wantWrite {
				t.Errorf("%d bytes written to the visitor, want some: %v", v.out.Len(), c.wantWrite)
			}
			rb.Close()
		})
	}
}
