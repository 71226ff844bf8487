package proxy

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestStatusWriterHoldsTheStatus: the status goes to the server with
// the first byte of the body or a flush, not before, so that a response
// none of which was sent can be abandoned (and answered otherwise); a
// flush with nothing written sends nothing; 1xx go at once.
func TestStatusWriterHoldsTheStatus(t *testing.T) {
	for _, c := range []struct {
		name        string
		do          func(w *statusWriter)
		wantCode    int  // what the server was given (0: nothing)
		wantAbandon bool // abandon reports that nothing was sent
	}{
		{name: "written header only", do: func(w *statusWriter) { w.WriteHeader(200) }, wantAbandon: true},
		{name: "a byte", do: func(w *statusWriter) { w.WriteHeader(201); w.Write([]byte("x")) }, wantCode: 201},
		{name: "a flush", do: func(w *statusWriter) { w.WriteHeader(200); w.Flush() }, wantCode: 200},
		{name: "a flush with nothing written", do: func(w *statusWriter) { w.Flush() }, wantAbandon: true},
		{name: "a paced flush commits", do: func(w *statusWriter) { w.setPaced(); w.WriteHeader(200); w.Flush() }, wantCode: 200},
		{name: "early hints go at once", do: func(w *statusWriter) { w.WriteHeader(103) }, wantCode: 103, wantAbandon: true},
		{name: "committed at the end", do: func(w *statusWriter) { w.WriteHeader(304); w.commit() }, wantCode: 304},
		{name: "headers after a wait", do: func(w *statusWriter) {
			w.WriteHeader(200)
			w.headersAfter(time.Millisecond)
			time.Sleep(50 * time.Millisecond)
		}, wantCode: 200},
		{name: "headers not after quiet", do: func(w *statusWriter) {
			w.WriteHeader(200)
			w.headersAfter(time.Millisecond)
			w.quietHeaders()
			time.Sleep(50 * time.Millisecond)
		}, wantAbandon: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := &codeRecorder{ResponseRecorder: httptest.NewRecorder()}
			w := &statusWriter{ResponseWriter: rec}
			c.do(w)
			if got := rec.code(); got != c.wantCode {
				t.Errorf("the server was given %d, want %d", got, c.wantCode)
			}
			if got := w.abandon(); got != c.wantAbandon {
				t.Errorf("abandon = %v, want %v", got, c.wantAbandon)
			}
			w.stop()
		})
	}
}

// codeRecorder records the first status a handler gave, 1xx included.
type codeRecorder struct {
	*httptest.ResponseRecorder
	mu    sync.Mutex
	first int
}

func (r *codeRecorder) WriteHeader(code int) {
	r.mu.Lock()
	if r.first == 0 {
		r.first = code
	}
	r.mu.Unlock()
	r.ResponseRecorder.WriteHeader(code)
}

func (r *codeRecorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	if r.first == 0 {
		r.first = http.StatusOK
	}
	r.mu.Unlock()
	return r.ResponseRecorder.Write(b)
}

func (r *codeRecorder) Flush() {
	r.mu.Lock()
	if r.first == 0 {
		r.first = http.StatusOK
	}
	r.mu.Unlock()
	r.ResponseRecorder.Flush()
}

func (r *codeRecorder) code() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.first
}
