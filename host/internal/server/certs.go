package server

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// certReloader serves a certificate from a pair of PEM files and reloads
// it when they change, without a restart: at most every interval, a
// handshake looks at the files' sizes and modification times, and a
// changed pair is loaded for the handshakes that follow. A pair that does
// not load (a key written before its certificate, say) is logged, and the
// previous certificate keeps serving until the files are right.
type certReloader struct {
	certFile, keyFile string
	interval          time.Duration
	log               *slog.Logger

	cert    atomic.Pointer[tls.Certificate]
	mu      sync.Mutex // one reload at a time
	stamp   string     // sizes and times of the files loaded
	checked atomic.Int64
}

// newCertReloader loads the pair, failing when it does not load.
func newCertReloader(certFile, keyFile string, interval time.Duration, log *slog.Logger) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile, interval: interval, log: log}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// fileStamp identifies the current state of the two files.
func (c *certReloader) fileStamp() (string, error) {
	var st string
	for _, f := range []string{c.certFile, c.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		st += fmt.Sprintf("%d:%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return st, nil
}

// reload loads the pair if the files changed since the last load.
func (c *certReloader) reload() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	stamp, err := c.fileStamp()
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	if stamp == c.stamp && c.cert.Load() != nil {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("tls: %s and %s: %w", c.certFile, c.keyFile, err)
	}
	first := c.cert.Load() == nil
	c.cert.Store(&cert)
	c.stamp = stamp
	if !first {
		c.log.Info("TLS certificate reloaded", "cert", c.certFile)
	}
	return nil
}

// getCertificate is tls.Config.GetCertificate.
func (c *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	// A clock that reads earlier than the last look was set back (by
	// NTP, by hand): look now, rather than once it has caught up with
	// that look, which kept a renewed certificate from serving for as
	// long as the clock went back.
	now := time.Now().UnixNano()
	if last := c.checked.Load(); (now-last >= int64(c.interval) || now < last) && c.checked.CompareAndSwap(last, now) {
		if err := c.reload(); err != nil {
			c.log.Warn("TLS certificate not reloaded; the previous one keeps serving", "err", err)
		}
	}
	return c.cert.Load(), nil
}

// tlsConfig returns the listener's TLS configuration: TLS 1.2 and up with
// Go's default cipher suites and curves (forward secrecy only, no RSA key
// exchange, post-quantum key agreement where the client offers it),
// HTTP/2 and HTTP/1.1 by ALPN.
func (c *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: c.getCertificate,
	}
}
