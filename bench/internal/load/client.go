package load

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// conn is one keep-alive HTTP/1.1 connection. The generator writes request
// bytes itself instead of going through http.Transport: the client shares
// the machine's cores with the server under test, and a transport's
// per-connection goroutines and header maps would take CPU from it.
// Responses are still parsed by net/http, so chunked bodies, Connection:
// close and malformed answers are handled the standard way.
type conn struct {
	addr    string
	timeout time.Duration
	c       net.Conn
	br      *bufio.Reader
	bw      *bufio.Writer
	sink    []byte
}

func newConn(addr string, timeout time.Duration) *conn {
	return &conn{addr: addr, timeout: timeout}
}

// dial connects, unless the connection is open.
func (c *conn) dial() error {
	if c.c != nil {
		return nil
	}
	nc, err := net.DialTimeout("tcp", c.addr, c.timeout)
	if err != nil {
		return err
	}
	c.c = nc
	if c.br == nil {
		c.br = bufio.NewReaderSize(nc, 32<<10)
		c.bw = bufio.NewWriterSize(nc, 4<<10)
	} else {
		c.br.Reset(nc)
		c.bw.Reset(nc)
	}
	return nil
}

// roundTrip sends one request, reads the whole response and returns its
// status and body size. On any error the connection is closed, so the
// next call dials again.
func (c *conn) roundTrip(req []byte) (status int, n int64, err error) {
	if err := c.dial(); err != nil {
		return 0, 0, err
	}
	c.c.SetDeadline(time.Now().Add(c.timeout))
	if _, err = c.bw.Write(req); err == nil {
		err = c.bw.Flush()
	}
	if err != nil {
		c.close()
		return 0, 0, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.close()
		return 0, 0, err
	}
	n, err = c.discard(resp.Body)
	resp.Body.Close()
	if err != nil {
		c.close()
		return resp.StatusCode, n, err
	}
	if resp.Close {
		c.close()
	}
	return resp.StatusCode, n, nil
}

// discard reads r to its end into a buffer larger than the bufio.Reader's,
// which then reads from the socket straight into it: one system call per
// socket buffer's worth instead of one per 32 KiB, and no copy.
// (io.Copy to io.Discard would read 8 KiB at a time.)
func (c *conn) discard(r io.Reader) (int64, error) {
	if c.sink == nil {
		c.sink = make([]byte, 256<<10)
	}
	var n int64
	for {
		m, err := r.Read(c.sink)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func (c *conn) close() {
	if c.c != nil {
		c.c.Close()
		c.c = nil
	}
}

// errDropped counts a request whose intended send time passed the end of
// the drain window: the target never got to it.
var errDropped = errors.New("not sent before the drain deadline")

// requestHead builds the fixed part of every request.
func requestHead(method, path, host string, header http.Header) ([]byte, error) {
	if method == "" {
		method = http.MethodGet
	}
	if path == "" || path[0] != '/' {
		return nil, fmt.Errorf("load: path %q must start with /", path)
	}
	b := fmt.Appendf(nil, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, host)
	for k, vs := range header {
		for _, v := range vs {
			b = AppendHeader(b, k, v)
		}
	}
	return b, nil
}

// AppendHeader appends one "Name: value" header line to a request being
// built by a Vary function.
func AppendHeader(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}
