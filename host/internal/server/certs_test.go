package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writePair writes a self-signed certificate for name and its key, as
// PEM files, with modification time at.
func writePair(t *testing.T, certFile, keyFile, name string, at time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for file, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "EC PRIVATE KEY", Bytes: kb}} {
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(file, at, at); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCertReloadAfterTheClockWentBack: the certificate files are looked
// at again once interval has passed since the last look, or when the
// clock reads earlier than that look (a host's clock set back, by NTP
// after a suspend, by an operator): the looks were made on the wall
// clock, and a clock set back an hour kept a renewed certificate from
// being served for that hour.
func TestCertReloadAfterTheClockWentBack(t *testing.T) {
	const interval = time.Second
	for _, tc := range []struct {
		name     string
		lastLook time.Duration // from now
		reloaded bool
	}{
		{"looked at just now", 0, false},
		{"looked at an interval ago", -interval, true},
		{"looked at before the clock was set back an hour", time.Hour, true},
		{"looked at before the clock was set back a second", interval, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
			writePair(t, certFile, keyFile, "old.example", time.Now().Add(-time.Minute))
			c, err := newCertReloader(certFile, keyFile, interval, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			writePair(t, certFile, keyFile, "renewed.example", time.Now())
			c.checked.Store(time.Now().Add(tc.lastLook).UnixNano())
			cert, err := c.getCertificate(nil)
			if err != nil {
				t.Fatal(err)
			}
			leaf, err := x509.ParseCertificate(cert.Certificate[0])
			if err != nil {
				t.Fatal(err)
			}
			if got := leaf.Subject.CommonName == "renewed.example"; got != tc.reloaded {
				t.Errorf("served %s: renewed %v, want %v", leaf.Subject.CommonName, got, tc.reloaded)
			}
		})
	}
}
