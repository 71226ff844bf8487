package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/internal/corpus"
)

type scanned struct {
	line      string
	smuggling bool
}

func scanAll(stream []byte, chunk int) ([]scanned, bool) {
	var got []scanned
	s := h1Scanner{verdict: func(l []byte, smuggling bool) { got = append(got, scanned{string(l), smuggling}) }}
	for len(stream) > 0 {
		n := min(chunk, len(stream))
		s.feed(stream[:n])
		stream = stream[n:]
	}
	return got, s.stopped()
}

func TestH1Scanner(t *testing.T) {
	tests := []struct {
		name    string
		stream  string
		want    []scanned
		stopped bool
	}{
		{"pipelined requests with bodies",
			"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
				"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nTrailer: t\r\n\r\n" +
				"GET /c HTTP/1.1\r\nHost: x\r\n\r\n",
			[]scanned{{"POST /a HTTP/1.1", false}, {"POST /b HTTP/1.1", false}, {"GET /c HTTP/1.1", false}}, false},
		{"both framings: smuggling",
			"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 46\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
			[]scanned{{"POST / HTTP/1.1", true}, {"GET /smuggled HTTP/1.1", false}}, false},
		{"names in any case, bare LF",
			"POST / HTTP/1.1\nhost: x\ntransfer-encoding: chunked\ncontent-length: 3\n\n0\r\n\r\n",
			[]scanned{{"POST / HTTP/1.1", true}}, false},
		{"HTTP/1.0 ignores Transfer-Encoding for framing, and refuses a request that has one",
			"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\nGET /next HTTP/1.0\r\n\r\n",
			[]scanned{{"POST / HTTP/1.0", true}, {"GET /next HTTP/1.0", false}}, false},
		{"an upgrade does not stop the scan: net/http reads the next request unless the connection was switched",
			"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" +
				"POST /p HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n24\r\n" +
				"POST /q HTTP/1.1\r\nContent-Length:\r\n 5\r\n\r\nhello",
			[]scanned{{"GET /ws HTTP/1.1", false}, {"POST /p HTTP/1.0", true}, {"POST /q HTTP/1.1", true}}, true},
		{"nor does a CONNECT, which net/http reads on after when it is answered",
			"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\nPOST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
			[]scanned{{"CONNECT a:443 HTTP/1.1", false}, {"POST / HTTP/1.1", true}}, false},
		{"an offer of h2c alone does not stop it: net/http takes no such upgrade",
			"GET / HTTP/1.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n" +
				"POST /next HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			[]scanned{{"GET / HTTP/1.1", false}, {"POST /next HTTP/1.1", false}}, false},
		{"a header folded onto the next line is refused, and stops the scan: net/http joins the lines",
			"POST / HTTP/1.1\r\nUpgrade: h2c\r\n websocket\r\nTransfer-Encoding:\r\n\tchunked\r\n\r\n0\r\n\r\nGET /next HTTP/1.1\r\n\r\n",
			[]scanned{{"POST / HTTP/1.1", true}}, true},
		{"HTTP/2's preface stops the scan",
			"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04",
			[]scanned{{"PRI * HTTP/2.0", false}}, true},
		{"a bad chunk size stops the scan",
			"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
			[]scanned{{"POST / HTTP/1.1", false}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, chunk := range []int{1, 3, 7, 1 << 20} {
				got, stopped := scanAll([]byte(tt.stream), chunk)
				if len(got) != len(tt.want) || stopped != tt.stopped {
					t.Fatalf("chunks of %d: %v stopped %v, want %v stopped %v", chunk, got, stopped, tt.want, tt.stopped)
				}
				for i := range got {
					if got[i] != tt.want[i] {
						t.Fatalf("chunks of %d: %v, want %v", chunk, got, tt.want)
					}
				}
			}
		})
	}
}

// FuzzH1Scanner holds the scanner to net/http's request parser: on a
// stream of requests, every request net/http reads (and whose body it
// reads whole) is one the scanner saw, in the same order, unless the
// scanner said it stopped following the stream.
func FuzzH1Scanner(f *testing.F) {
	f.Add([]byte("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: x\r\n\r\n"), uint8(3))
	f.Add([]byte("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n"), uint8(1))
	f.Add([]byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /s HTTP/1.1\r\n\r\n"), uint8(9))
	f.Add([]byte("\r\nGET / HTTP/1.0\r\nContent-Length: 0\r\n\r\n"), uint8(2))
	for _, c := range desyncStreams(f) {
		f.Add(c.Bytes, uint8(7))
	}
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8) {
		if err := scannerAgrees(stream, int(chunk)+1); err != nil {
			t.Fatal(err)
		}
	})
}

// scannerAgrees feeds stream to the scanner in pieces of chunk bytes and
// reads it with http.ReadRequest in a loop, and says where they first
// disagree: every request net/http reads (and whose body it reads whole)
// must be one the scanner saw, in the same order, unless the scanner
// said it stopped following the stream. Past an Upgrade or a CONNECT
// too: net/http reads on after one the handler does not switch.
func scannerAgrees(stream []byte, chunk int) error {
	got, stopped := scanAll(stream, chunk)
	br := bufio.NewReader(bytes.NewReader(stream))
	for i := 0; ; i++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			return nil
		}
		_, err = io.Copy(io.Discard, req.Body)
		if i >= len(got) {
			if stopped {
				return nil
			}
			return fmt.Errorf("net/http read request %d (%s %s), the scanner saw %d: %v", i, req.Method, req.RequestURI, len(got), got)
		}
		if !strings.HasPrefix(got[i].line, req.Method+" "+req.RequestURI+" ") {
			return fmt.Errorf("request %d: net/http read %s %s, the scanner %q", i, req.Method, req.RequestURI, got[i].line)
		}
		if err != nil {
			return nil
		}
	}
}

// desyncStreams reads testdata/desync/streams.txt: the request streams
// built from the HTTP Garden's payloads and RFC 9112's edge cases (see
// its README.md).
func desyncStreams(t testing.TB) []corpus.Stream {
	return corpus.Streams(t, "testdata/desync/streams.txt")
}

// TestH1ScannerAgreesOnCorpus holds the scanner to net/http's parser on
// every stream of the corpus, fed whole and in pieces.
func TestH1ScannerAgreesOnCorpus(t *testing.T) {
	streams := desyncStreams(t)
	if len(streams) < 100 {
		t.Fatalf("read %d streams, want the corpus", len(streams))
	}
	for _, c := range streams {
		for _, chunk := range []int{1, 2, 5, 1 << 20} {
			if err := scannerAgrees(c.Bytes, chunk); err != nil {
				t.Errorf("%s, pieces of %d: %v", c.Name, chunk, err)
			}
		}
	}
}

// guardListener wraps each connection it accepts in a guardConn, as the
// server's listener does, and hands it to the test.
type guardListener struct {
	net.Listener
	conns chan *guardConn
}

func (l guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	g := newGuardConn(c)
	l.conns <- g
	return g, nil
}

// TestHijackStopsTheScan: past an Upgrade the handler declines, the
// guard follows the connection's next requests, and refuses one that
// smuggles; once the handler takes a connection over (a 101), it stops,
// and keeps nothing of what the other protocol sends.
func TestHijackStopsTheScan(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan *guardConn, 2)
	srv := &http.Server{ConnContext: connContext, Handler: refuseSmuggling(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/switch" {
			io.WriteString(w, "declined")
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n")
		brw.Flush()
		io.Copy(c, brw) // an echo, in the other protocol
	}))}
	go srv.Serve(guardListener{ln, conns})
	t.Cleanup(func() { srv.Close() })

	dial := func() (net.Conn, *bufio.Reader, *guardConn) {
		t.Helper()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return c, bufio.NewReader(c), <-conns
	}
	statuses := func(br *bufio.Reader, n int) []int {
		t.Helper()
		var got []int
		for range n {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("after %v: %v", got, err)
			}
			io.Copy(io.Discard, resp.Body)
			got = append(got, resp.StatusCode)
		}
		return got
	}

	c, br, _ := dial()
	io.WriteString(c, "GET /declined HTTP/1.1\r\nHost: a\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n"+
		"POST /p HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n24\r\n")
	if got := statuses(br, 2); got[0] != 200 || got[1] != 400 {
		t.Errorf("a declined upgrade, then Transfer-Encoding in HTTP/1.0: %v, want 200 then 400", got)
	}

	c, br, g := dial()
	io.WriteString(c, "GET /switch HTTP/1.1\r\nHost: a\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
	if got := statuses(br, 1); got[0] != 101 {
		t.Fatalf("an upgrade: %v", got)
	}
	frames := bytes.Repeat([]byte{0x81}, 64<<10)
	go c.Write(frames)
	if _, err := io.ReadFull(br, make([]byte, len(frames))); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	stopped, kept := g.scan.stopped(), len(g.scan.line)
	g.mu.Unlock()
	if !stopped || kept != 0 {
		t.Errorf("after a 101 and %d bytes of the other protocol: scan stopped %v, %d bytes kept", len(frames), stopped, kept)
	}
}
