package host_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bespoke-edge/bespoke/host"
)

// TestNextUntypedBody: a handler that writes a body without a
// Content-Type gets the type net/http's server gives it from its first
// bytes, behind the middleware as without it, and a page so typed is
// personalized. The middleware sent such a page untyped and untouched.
func TestNextUntypedBody(t *testing.T) {
	greet := `<html><body><p id="greet">Hello</p></body></html>`
	png := []byte("\x89PNG\r\n\x1a\n" + strings.Repeat("\x00", 64))
	bigPage := greet + strings.Repeat("<p>filler</p>\n", 80000) // 1.1 MB, past the pipe
	for _, c := range []struct {
		name     string
		h        http.HandlerFunc
		personal bool // the rules edit the page
	}{
		{"a page in one write", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, greet)
		}, true},
		{"a page in small writes, starting with blank lines, as html/template writes", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "\n\n")
			for i := 0; i < len(greet); i += 5 {
				io.WriteString(w, greet[i:min(i+5, len(greet))])
			}
		}, true},
		{"a page larger than the pipe in one write", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, bigPage)
		}, true},
		{"a status first", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, greet)
		}, true},
		{"a flush after the first bytes", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<!doctype html>")
			w.(http.Flusher).Flush()
			io.WriteString(w, greet)
		}, true},
		{"an image", func(w http.ResponseWriter, r *http.Request) {
			w.Write(png)
		}, false},
		{"a type set to none", func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = nil
			io.WriteString(w, greet)
		}, false},
		{"an encoded body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "identity")
			io.WriteString(w, greet)
		}, false},
		{"no body", func(w http.ResponseWriter, r *http.Request) {}, false},
		{"204", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		}, false},
		{"a flush, then a long wait", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			plain := httptest.NewServer(c.h)
			defer plain.Close()
			front := httptest.NewServer(newHandler(t, host.Config{Next: c.h, Rules: []byte(everyone)}))
			defer front.Close()
			var types [2]string
			var bodies [2][]byte
			for i, u := range []string{plain.URL, front.URL} {
				client := &http.Client{Timeout: 10 * time.Second}
				resp, err := client.Get(u + "/")
				if err != nil {
					t.Fatal(err)
				}
				types[i] = strings.Join(resp.Header.Values("Content-Type"), ", ")
				if resp.StatusCode == http.StatusAccepted {
					// The headers came while the handler waits.
					resp.Body.Close()
					continue
				}
				bodies[i], err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			if types[0] != types[1] {
				t.Errorf("Content-Type %q behind the middleware, %q without", types[1], types[0])
			}
			if personal := bytes.Contains(bodies[1], []byte("Hi there")); personal != c.personal {
				t.Errorf("personalized: %v, want %v: %.80q", personal, c.personal, bodies[1])
			}
			if !c.personal && !bytes.Equal(bodies[0], bodies[1]) {
				t.Errorf("the body changed: %.80q, want %.80q", bodies[1], bodies[0])
			}
		})
	}
}

// everyone greets every visitor.
const everyone = `version: 1
rules:
  - name: greet
    actions:
      - set_inner: { select: "#greet", text: "Hi there" }
`

// TestMaxRewriteBytes: a body past MaxRewriteBytes passes untouched when
// its length is known from the start; one whose length is not (Next
// writes no Content-Length) is rewritten up to the limit, as the field's
// doc says; a JSON document passes untouched.
func TestMaxRewriteBytes(t *testing.T) {
	page := `<html><body><p id="greet">Hello</p>` + strings.Repeat("<p>filler</p>", 100) + `</body></html>`
	doc := `{"title":"Hello","items":[` + strings.Repeat(`"filler",`, 100) + `"end"]}`
	const src = `version: 1
rules:
  - name: greet
    actions:
      - set_inner: { select: "#greet", text: "Hi there" }
      - json_set: { path: title, value: "Hi there" }
`
	for _, c := range []struct {
		name, ctype, body string
		length            bool // Next sets Content-Length
		personal          bool
	}{
		{"a page of known length", "text/html; charset=utf-8", page, true, false},
		{"a page of unknown length", "text/html; charset=utf-8", page, false, true},
		{"a JSON document of unknown length", "application/json", doc, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", c.ctype)
				if c.length {
					w.Header().Set("Content-Length", strconv.Itoa(len(c.body)))
				}
				io.WriteString(w, c.body)
			})
			front := httptest.NewServer(newHandler(t, host.Config{Next: app, Rules: []byte(src), MaxRewriteBytes: 200}))
			defer front.Close()
			resp, err := http.Get(front.URL + "/")
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if personal := strings.Contains(string(b), "Hi there"); personal != c.personal {
				t.Errorf("personalized: %v, want %v", personal, c.personal)
			}
			if !c.personal && string(b) != c.body {
				t.Errorf("the body changed: %.80q", b)
			}
			if c.personal && !strings.HasSuffix(string(b), strings.Repeat("<p>filler</p>", 80)+`</body></html>`) {
				t.Errorf("the rest of the page was not copied: ...%q", b[max(0, len(b)-40):])
			}
		})
	}
}

// TestNextFlushSendsHeaders: a Flush before anything is written sends
// the status and headers, as net/http's does, so that an event stream or
// a long poll is open for the visitor before its first event. They waited
// for the first write.
func TestNextFlushSendsHeaders(t *testing.T) {
	for _, c := range []struct {
		name   string
		h      func(w http.ResponseWriter)
		status int
		ctype  string
	}{
		{"an event stream", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.(http.Flusher).Flush()
		}, 200, "text/event-stream"},
		{"through http.ResponseController", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			http.NewResponseController(w).Flush()
		}, 200, "application/json"},
		{"untyped", func(w http.ResponseWriter) {
			w.(http.Flusher).Flush()
		}, 200, ""},
		{"a status, untyped", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusAccepted)
			w.(http.Flusher).Flush()
		}, 202, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			release := make(chan struct{})
			app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c.h(w)
				select {
				case <-release:
				case <-r.Context().Done():
				}
			})
			front := httptest.NewServer(newHandler(t, host.Config{Next: app, Rules: []byte(everyone)}))
			defer front.Close()
			defer close(release)
			type result struct {
				resp *http.Response
				err  error
			}
			got := make(chan result, 1)
			go func() {
				resp, err := http.Get(front.URL + "/")
				if err == nil {
					resp.Body.Close()
				}
				got <- result{resp, err}
			}()
			select {
			case r := <-got:
				if r.err != nil {
					t.Fatal(r.err)
				}
				if resp := r.resp; resp.StatusCode != c.status || resp.Header.Get("Content-Type") != c.ctype {
					t.Errorf("%d %q, want %d %q", resp.StatusCode, resp.Header.Get("Content-Type"), c.status, c.ctype)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("no headers while the handler waits after its Flush")
			}
		})
	}
}

// TestNextShortOfItsContentLength: a handler that declares a
// Content-Length and returns before writing all of it (http.ServeContent
// whose file read failed halfway, a copy from storage that broke off)
// leaves net/http's visitor a response cut short, which no client or
// cache takes for whole. Behind the middleware, a page the rules edit
// went out rewritten with a length of its own (or chunked to its end),
// a complete-looking page that was half of one; it is now an origin that
// broke off: a 502 before any of it was sent, a cut transfer after.
func TestNextShortOfItsContentLength(t *testing.T) {
	small := `<html><body><p id="greet">Hello</p>` + strings.Repeat("<p>filler</p>", 100) + `</body></html>`
	large := `<html><body><p id="greet">Hello</p>` + strings.Repeat("<p>filler</p>\n", 100000) + `</body></html>`
	for _, c := range []struct {
		name, page, ctype string
	}{
		{"a small page", small, "text/html; charset=utf-8"},
		{"a page larger than what is held", large, "text/html; charset=utf-8"},
		{"a JSON document", `{"greeting": "hello", "items": [1, 2, 3]}`, "application/json"},
		{"a style sheet", strings.Repeat("p { color: red }\n", 100), "text/css"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", c.ctype)
				w.Header().Set("Content-Length", strconv.Itoa(len(c.page)))
				io.WriteString(w, c.page[:len(c.page)*2/3])
			})
			front := httptest.NewServer(newHandler(t, host.Config{Next: h, Rules: []byte(everyone + `      - json_set: { path: greeting, value: "hi" }
`)}))
			defer front.Close()
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true}}
			resp, err := client.Get(front.URL + "/")
			if err != nil {
				return // cut before the headers came
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK {
				t.Fatalf("a whole-looking 200 of %d bytes (Content-Length %d) for a body cut at %d of %d: %.80q",
					len(body), resp.ContentLength, len(c.page)*2/3, len(c.page), body)
			}
		})
	}
}
