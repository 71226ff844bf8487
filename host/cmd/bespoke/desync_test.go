package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/internal/corpus"
	"github.com/bespoke-edge/bespoke/internal/testproc"
)

// desyncCorpus reads the request streams built from the HTTP Garden's
// payloads and RFC 9112's edge cases (see that folder's README.md).
func desyncCorpus(t *testing.T) []corpus.Stream {
	return corpus.Streams(t, "../../internal/server/testdata/desync/streams.txt")
}

// Each stream is sent from a loopback address of its own, 127.1.x.y,
// which the front proxies and bespoke name in X-Forwarded-For: what the
// origin is sent is told apart by stream that way when the streams run
// at once, without changing a byte of them.
func streamAddr(id int) *net.TCPAddr {
	return &net.TCPAddr{IP: net.IPv4(127, 1, byte(id>>8), byte(id))}
}

// streamOf returns the stream the first address of an X-Forwarded-For
// chain was sent from; -1 when it is none's.
func streamOf(xff string) int {
	first, _, _ := strings.Cut(xff, ",")
	ip := net.ParseIP(strings.TrimSpace(first)).To4()
	if ip == nil || ip[0] != 127 || ip[1] != 1 {
		return -1
	}
	return int(ip[2])<<8 | int(ip[3])
}

// echoOrigin records each request it is sent, by stream.
type echoOrigin struct {
	mu   sync.Mutex
	seen map[int][]rfcRequest
}

// take returns what the origin was sent for the streams numbered from
// first to last, and what it was sent in no stream's name, which it
// forgets.
func (o *echoOrigin) take(first, last int) map[int][]rfcRequest {
	o.mu.Lock()
	defer o.mu.Unlock()
	seen := map[int][]rfcRequest{-1: o.seen[-1]}
	delete(o.seen, -1)
	for id := first; id <= last; id++ {
		seen[id] = slices.Clone(o.seen[id])
	}
	return seen
}

func (o *echoOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	id := streamOf(r.Header.Get("X-Forwarded-For"))
	req := newRFCRequest(r.Method, r.URL.RequestURI(), body)
	if err == nil {
		// A body that breaks off is no request the origin acts on:
		// bespoke refused it after it began to pass it on.
		o.mu.Lock()
		o.seen[id] = append(o.seen[id], req)
		o.mu.Unlock()
	}
	w.Header().Set("Cache-Control", "no-store, private")
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintln(w, req)
}

// tap relays connections to backend and keeps what each one sent.
type tap struct {
	mu      sync.Mutex
	streams []*bytes.Buffer
}

func startTap(t *testing.T, backend string) (*tap, string) {
	tp := &tap{}
	ln := testproc.Serve(t, func(c net.Conn) {
		defer c.Close()
		b, err := net.Dial("tcp", backend)
		if err != nil {
			return
		}
		defer b.Close()
		rec := &bytes.Buffer{}
		tp.mu.Lock()
		tp.streams = append(tp.streams, rec)
		tp.mu.Unlock()
		go func() {
			io.Copy(c, b)
			c.Close()
		}()
		buf := make([]byte, 32<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				tp.mu.Lock()
				rec.Write(buf[:n])
				tp.mu.Unlock()
				if _, werr := b.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
	return tp, ln.Addr().String()
}

// forwarded reads what the tap's connections carried as RFC 9112 does:
// the requests by stream, and the streams in which a connection stopped
// (a request RFC 9112 refuses, or the end of the connection after one).
func (tp *tap) forwarded() (map[int][]rfcRequest, map[int]string) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	reqs, stops := map[int][]rfcRequest{}, map[int]string{}
	for _, s := range tp.streams {
		rs, stop := rfcParse(s.Bytes())
		last := -1
		for _, r := range rs {
			last = streamOf(r.xff)
			r.xff = ""
			reqs[last] = append(reqs[last], r)
		}
		if stop != "" {
			// The stream of the request it stopped in is not known; it
			// is the next of that connection's, most likely the same
			// stream's as the last.
			stops[last] = stop
		}
	}
	return reqs, stops
}

// exchange sends stream on a new connection to addr and reads the
// answers until want of them came (and a moment more, for any the
// stream did not ask for), the connection closes, or 2 s pass.
// It returns the status codes.
func exchange(from *net.TCPAddr, addr string, stream []byte, want int) []int {
	c, err := (&net.Dialer{LocalAddr: from}).Dial("tcp", addr)
	if err != nil {
		return nil
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write(stream); err != nil {
		return nil
	}
	var codes []int
	br := bufio.NewReader(c)
	for {
		if len(codes) == want {
			c.SetDeadline(time.Now().Add(100 * time.Millisecond))
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return codes
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 200 {
			codes = append(codes, resp.StatusCode)
		}
	}
}

// desyncCounts are the outcomes of the corpus on one path.
type desyncCounts struct {
	streams, agree, frontRefused, bespokeRefused, frontLenient, bespokeLenient, desync int
	lenient, refused                                                                   []string
}

// refusedByNetHTTP are the streams RFC 9112 reads whole that net/http
// refuses (with 400, 501 or 417, closing the connection), which is
// allowed or harmless: a refusal desyncs nothing.
var refusedByNetHTTP = map[string]string{
	"cl-list-same":                "Content-Length: 1, 1 may be read as 1 (RFC 9110 8.6), or refused",
	"te-leading-comma":            "an empty list element before chunked, which a recipient must ignore (RFC 9110 5.6.1); net/http answers 501",
	"chunk-size-trailing-tab-ext": "whitespace before a chunk extension's ; (BWS, RFC 9112 7.1.1): net/http's chunked reader refuses it after the request was passed on, and the origin's read of the body fails",
	"empty-lines-between":         "two empty lines between requests: a server should ignore at least one (RFC 9112 2.2)",
	"expect-unknown":              "an expectation it does not know: 417 (RFC 9110 10.1.1)",
}

// TestRequestBoundaries sends the corpus's request streams raw to bespoke
// serve, directly and behind nginx, Varnish and Squid, in front of an
// origin that records what it is sent, and a relay between the front
// proxy and bespoke that records what the proxy forwarded. Read as RFC
// 9112 reads them, what the client sent and what the front forwarded
// say which requests there are, with which bodies; the origin must be
// sent those, or fewer (bespoke refused one and closed the connection),
// and never one the front did not forward as one, two glued, or a body
// cut elsewhere. Where bespoke reads past a request RFC 9112 refuses, it
// is listed, and must still read only whole requests of the stream.
func TestRequestBoundaries(t *testing.T) {
	cases := desyncCorpus(t)
	origin := &echoOrigin{seen: map[int][]rfcRequest{}}
	srv := httptest.NewServer(origin)
	t.Cleanup(srv.Close)
	rules := writeRules(t, helloRules)
	s := serveBinary(t, "--origin", srv.URL, "--rules", rules)

	paths := []struct {
		name  string
		front func(t *testing.T, backend string) string
	}{
		{"direct", nil},
		{"nginx", func(t *testing.T, backend string) string {
			return testproc.Nginx(t, "the request boundary test behind nginx", func(addr string) string {
				return fmt.Sprintf(`  upstream bespoke { server %s; keepalive 4; }
  server {
    listen %s;
    location / {
      proxy_pass http://bespoke;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }`, backend, addr)
			})
		}},
		{"varnish", func(t *testing.T, backend string) string {
			return testproc.Varnish(t, "the request boundary test behind Varnish", backend, nil)
		}},
		{"squid", func(t *testing.T, backend string) string {
			return testproc.Squid(t, "the request boundary test behind Squid", backend, "")
		}},
	}
	for n, path := range paths {
		t.Run(path.name, func(t *testing.T) {
			base := (n + 1) * 1000
			entry, tp := s.addr, (*tap)(nil)
			if path.front != nil {
				var tapAddr string
				tp, tapAddr = startTap(t, s.addr)
				entry = path.front(t, tapAddr)
			}
			sent := map[int][]rfcRequest{}
			sentStop := map[int]string{}
			var wg sync.WaitGroup
			slots := make(chan struct{}, 24)
			for i, c := range cases {
				id := base + i
				reqs, stop := rfcParse(c.Bytes)
				sent[id], sentStop[id] = reqs, stop
				wg.Add(1)
				slots <- struct{}{}
				go func() {
					defer wg.Done()
					defer func() { <-slots }()
					exchange(streamAddr(id), entry, c.Bytes, max(len(reqs), 1))
				}()
			}
			wg.Wait()
			time.Sleep(200 * time.Millisecond) // what bespoke still passes on

			forwarded, fwdStop := sent, sentStop
			if tp != nil {
				forwarded, fwdStop = tp.forwarded()
			}
			seen := origin.take(base, base+len(cases)-1)
			var k desyncCounts
			for i, c := range cases {
				id := base + i
				k.streams++
				// net/http answers OPTIONS * itself (with 200 and no
				// body): it is not bespoke's to pass on.
				fwd := slices.DeleteFunc(slices.Clone(forwarded[id]), func(r rfcRequest) bool { return r.target == "*" })
				got := seen[id]
				if tp != nil && len(fwd) < len(sent[id]) {
					k.frontRefused++
				}
				if tp != nil && len(fwd) > len(sent[id]) && sentStop[id] != "" {
					k.frontLenient++
					k.lenient = append(k.lenient, fmt.Sprintf("%s (front, past %s: %v)", c.Name, sentStop[id], fwd[len(sent[id]):]))
				}
				extra, missing := difference(got, fwd), difference(fwd, got)
				switch {
				case len(extra) == 0 && len(missing) == 0 && (tp != nil || slices.Equal(got, fwd)):
					// A front proxy may send one client's requests on
					// several connections: their order is not kept.
					k.agree++
				case len(extra) == 0 && len(missing) > 0 && (tp != nil || slices.Equal(got, fwd[:len(got)])):
					k.bespokeRefused++
					k.refused = append(k.refused, c.Name)
					if _, known := refusedByNetHTTP[c.Name]; !known && fwdStop[id] == "" {
						t.Errorf("%s: RFC 9112 reads %v, the origin was sent %v", c.Name, fwd, got)
					}
				case len(missing) == 0 && fwdStop[id] != "" && !strings.HasPrefix(fwdStop[id], framingPrefix) &&
					(tp != nil || slices.Equal(got[:len(fwd)], fwd)):
					// Past what RFC 9112 refuses (a bare LF, a version
					// it does not know), but not past a request whose
					// end is in doubt.
					k.bespokeLenient++
					k.lenient = append(k.lenient, fmt.Sprintf("%s (bespoke, past %s: %v)", c.Name, fwdStop[id], extra))
				default:
					k.desync++
					t.Errorf("%s: the client sent %v (stopping: %q), the front forwarded %v (stopping: %q), the origin was sent %v",
						c.Name, sent[id], sentStop[id], fwd, fwdStop[id], got)
				}
			}
			// A request the origin was sent in no stream's name is one
			// bespoke read inside what the front forwarded as another.
			if stray := difference(seen[-1], forwarded[-1]); len(stray) > 0 {
				k.desync++
				t.Errorf("the origin was sent %v, which no front proxy forwarded", stray)
			}
			t.Logf("%s: %d streams, %d agree, refused by the front %d, by bespoke %d (%s), read past what RFC 9112 refuses by the front %d, by bespoke %d, desyncs %d",
				path.name, k.streams, k.agree, k.frontRefused, k.bespokeRefused, strings.Join(k.refused, ", "), k.frontLenient, k.bespokeLenient, k.desync)
			// Honest streams reach the origin whole on every path: a
			// path where nothing got through would agree on nothing.
			for i, c := range cases {
				if (c.Name == "plain-get" || c.Name == "pipelined-three") && !slices.Equal(seen[base+i], sent[base+i]) {
					t.Errorf("%s: the origin was sent %v, want %v", c.Name, seen[base+i], sent[base+i])
				}
			}
			if path.front == nil {
				for name := range refusedByNetHTTP {
					if !slices.Contains(k.refused, name) {
						t.Errorf("%s is listed as refused by net/http, and was not: %s", name, refusedByNetHTTP[name])
					}
				}
			}
			for _, l := range k.lenient {
				t.Logf("  lenient: %s", l)
			}
		})
	}
}

// difference returns the requests of a that b does not have, each of b
// matching one of a.
func difference(a, b []rfcRequest) []rfcRequest {
	left := slices.Clone(b)
	var out []rfcRequest
	for _, r := range a {
		if i := slices.Index(left, r); i >= 0 {
			left = slices.Delete(left, i, i+1)
		} else {
			out = append(out, r)
		}
	}
	return out
}
