package server

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/config"
)

// TestSecretSources: the key comes from secret_file, else
// $BESPOKE_SECRET, else a random key per process; a key shorter than 16
// bytes is an error from either (a short $BESPOKE_SECRET was ignored,
// and a random key used, so that cookies did not survive a restart).
func TestSecretSources(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	long := filepath.Join(dir, "long")
	os.WriteFile(short, []byte("fifteen-bytes-x\n"), 0o600)
	os.WriteFile(long, []byte("sixteen-bytes-xx\n"), 0o600)
	tests := []struct {
		name, file, env string
		want, err       string
	}{
		{"a file", long, "", "sixteen-bytes-xx", ""},
		{"a short file", short, "", "", "secret_file " + short + ": the key must be at least 16 bytes"},
		{"the file before the environment", long, "from-the-environment", "sixteen-bytes-xx", ""},
		{"the environment", "", "sixteen-bytes-xx", "sixteen-bytes-xx", ""},
		{"a short environment", "", "fifteen-bytes-x", "", "$BESPOKE_SECRET: the key must be at least 16 bytes"},
		{"neither", "", "", string(processKey()), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("BESPOKE_SECRET", tt.env)
			s := &Server{cfg: &config.Config{SecretFile: tt.file}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			key, err := s.secret(false)
			switch {
			case tt.err != "":
				if err == nil || err.Error() != tt.err {
					t.Errorf("err = %v, want %s", err, tt.err)
				}
			case err != nil:
				t.Errorf("%v", err)
			case !bytes.Equal(key, []byte(tt.want)):
				t.Errorf("key %q, want %q", key, tt.want)
			}
		})
	}
}
