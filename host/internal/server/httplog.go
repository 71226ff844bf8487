package server

import (
	stdlog "log"
	"log/slog"
	"strings"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/lograte"
)

// httpErrorLog is the ErrorLog of the visitors' and the admin HTTP
// servers. net/http logs there what a visitor's connection did wrong
// before any handler runs (an HTTP/2 client that breaks the protocol,
// sends a GOAWAY with an error, or a bad preface), one line per
// connection: a flood of broken clients would write at its rate. So
// those lines are logged as the proxy's warnings are, at most
// warnBurst in warnPeriod, the next one logged carrying left_out; a
// handler's panic, a bug, is a kind of its own that the flood does not
// hold back.
func httpErrorLog(log *slog.Logger) *stdlog.Logger {
	w := &httpErrorWriter{log: log}
	w.set.Period, w.set.Burst = warnPeriod, warnBurst
	return stdlog.New(w, "", 0)
}

// The limits of httpErrorLog, those of the proxy's warnings.
const (
	warnPeriod = 10 * time.Second
	warnBurst  = 10
)

type httpErrorWriter struct {
	log *slog.Logger
	set lograte.Set
}

func (w *httpErrorWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSuffix(string(p), "\n")
	kind := "connection"
	if strings.Contains(msg, "panic serving") {
		kind = "panic"
	}
	ok, left := w.set.Allow(kind, time.Now())
	if !ok {
		return len(p), nil
	}
	if left > 0 {
		w.log.Warn(msg, "left_out", left)
	} else {
		w.log.Warn(msg)
	}
	return len(p), nil
}
