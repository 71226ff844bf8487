package server

import (
	"net/http"
	"time"
)

// withSendTimeout bounds each write to the visitor to d (nginx's
// send_timeout): a visitor who stops reading has its connection closed
// once a write has waited d (at least d/2: see deadlineWriter), rather
// than holding the request, and the
// origin's connection it reads from (of the few max_conns_per_host
// allows), for as long as it stays. The deadline is set before each
// write and cleared when the handler returns, so a connection kept alive
// starts its next request without one, and an upgraded connection (a
// WebSocket, hijacked) never gets one. 0 leaves writes unbounded.
func withSendTimeout(next http.Handler, d time.Duration) http.Handler {
	if d <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dw := &deadlineWriter{ResponseWriter: w, rc: http.NewResponseController(w), d: d}
		defer func() {
			if dw.set {
				dw.rc.SetWriteDeadline(time.Time{})
			}
		}()
		next.ServeHTTP(dw, r)
	})
}

// deadlineWriter sets a write deadline before each write.
type deadlineWriter struct {
	http.ResponseWriter
	rc  *http.ResponseController
	d   time.Duration
	set bool
	// renew is when the deadline set is no longer d/2 away: writes
	// before it keep it (setting one costs a few hundred nanoseconds,
	// and a page goes in several writes), so a write that blocks is cut
	// after between d/2 and d.
	renew time.Time
}

func (w *deadlineWriter) arm() {
	now := time.Now()
	if w.set && now.Before(w.renew) {
		return
	}
	if w.rc.SetWriteDeadline(now.Add(w.d)) == nil {
		w.set, w.renew = true, now.Add(w.d/2)
	}
}

func (w *deadlineWriter) Write(b []byte) (int, error) {
	w.arm()
	return w.ResponseWriter.Write(b)
}

// Flush implements http.Flusher, which the proxy asks its writer for.
func (w *deadlineWriter) Flush() {
	w.arm()
	w.rc.Flush()
}

// Unwrap lets http.ResponseController reach the server's writer (to
// hijack an upgraded connection, set deadlines).
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
