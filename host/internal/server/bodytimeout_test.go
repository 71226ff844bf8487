package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/config"
)

// TestStalledUploads: a visitor who stops sending the body of its
// request is answered 408 and its connection closed once it has been
// silent for limits.body_timeout (nginx's client_body_timeout), and the
// origin's connection, which was reading the upload, is freed. Such a
// visitor held both for as long as it stayed: a thousand of them, a
// thousand connections to the origin, for ever. One who keeps sending is
// not cut, however long the upload lasts.
func TestStalledUploads(t *testing.T) {
	var got, cut atomic.Int32
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			cut.Add(1)
			return
		}
		got.Add(1)
		fmt.Fprintf(w, "read %d", n)
	}))
	defer origin.Close()
	cfg := faultConfig(t, origin.URL)
	cfg.Limits.BodyTimeout = config.Duration(time.Second)
	cfg.H2C = true
	r := start(t, cfg)
	addr := strings.TrimPrefix(r.url, "http://")
	wait := func(what string, n *atomic.Int32, want int32) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); n.Load() < want && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		}
		if n.Load() != want {
			t.Errorf("%s: %d, want %d", what, n.Load(), want)
		}
	}

	t.Run("HTTP/1.1", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nx")
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("no response to a stalled upload: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Errorf("a stalled upload got %d, want 408", resp.StatusCode)
		}
		if !resp.Close {
			t.Error("the connection of a stalled upload is kept")
		}
		wait("uploads the origin saw cut", &cut, 1)
	})

	t.Run("HTTP/2", func(t *testing.T) {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetUnencryptedHTTP2(true)
		defer tr.CloseIdleConnections()
		body, send := io.Pipe()
		defer send.Close()
		go send.Write([]byte("x"))
		req, _ := http.NewRequest(http.MethodPost, r.url+"/upload", body)
		req.ContentLength = 1000
		resp, err := (&http.Client{Transport: tr, Timeout: 20 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("no response to a stalled upload: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Errorf("a stalled upload got %d, want 408", resp.StatusCode)
		}
		wait("uploads the origin saw cut", &cut, 2)
	})

	t.Run("an upload that goes on", func(t *testing.T) {
		body, send := io.Pipe()
		go func() {
			for range 30 {
				time.Sleep(100 * time.Millisecond)
				if _, err := send.Write([]byte("x")); err != nil {
					return
				}
			}
			send.Close()
		}()
		req, _ := http.NewRequest(http.MethodPost, r.url+"/upload", body)
		resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != "read 30" {
			t.Errorf("an upload of 3 s that never stopped for 1 s got %d %q", resp.StatusCode, b)
		}
		if got.Load() != 1 {
			t.Errorf("the origin read %d whole uploads, want 1", got.Load())
		}
	})
}
