// Package corpus fetches the public test corpora some tests read (pages
// saved from real sites, a JSON conformance suite) the way Go fetches any
// module: from the module proxy, into the module cache, pinned by version
// and checksum, so that every run reads the same bytes and a machine with
// only Go and network access to the proxy can run them.
package corpus

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Module returns the directory in the module cache holding module (path
// and version, "example.com/m@v1.2.3"), downloading it when it is not
// there yet. It fails t when the download fails or the module's checksum
// is not sum: a corpus that changed would make the test's verdicts
// meaningless.
func Module(t testing.TB, module, sum string) string {
	t.Helper()
	out, err := exec.Command("go", "mod", "download", "-json", module).Output()
	var mod struct{ Dir, Sum, Error string }
	if err == nil {
		err = json.Unmarshal(out, &mod)
	}
	if err != nil || mod.Error != "" {
		t.Fatalf("fetching the public corpus %s from the Go module proxy: %v %s", module, err, mod.Error)
	}
	if mod.Sum != sum {
		t.Fatalf("%s has checksum %s, want %s", module, mod.Sum, sum)
	}
	return mod.Dir
}

// Strings returns the JSON list of strings in file, a corpus kept in the
// repository's testdata because no module holds it (the Big List of
// Naughty Strings, testdata/naughty).
func Strings(t testing.TB, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return list
}

// HTML5LibInputs returns the inputs of html5lib's tree-construction
// tests, as golang.org/x/net (a dependency, so in the module cache) ships
// them for its html package: 1,778 documents nobody here wrote, most of
// them what the HTML standard's tree builder finds hardest.
func HTML5LibInputs(t testing.TB) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/net").Output()
	if err != nil {
		t.Fatalf("finding golang.org/x/net: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "html", "testdata", "html5lib-tests", "tree-construction")
	files, err := filepath.Glob(filepath.Join(dir, "*.dat"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no html5lib tests in %s (%v)", dir, err)
	}
	var inputs []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range strings.Split(string(b), "#data\n")[1:] {
			in, _, _ := strings.Cut(tc, "\n#errors")
			inputs = append(inputs, in)
		}
	}
	return inputs
}

// Stream is one named byte stream of a corpus read by Streams.
type Stream struct {
	Name  string
	Bytes []byte
}

// Streams returns the byte streams of file, a corpus kept in the
// repository's testdata as lines of a name, a tab and the bytes written
// as a Go string literal (the raw request streams of
// host/internal/server/testdata/desync); blank lines and lines starting
// with # are skipped.
func Streams(t testing.TB, file string) []Stream {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []Stream
	for n, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name, quoted, ok := strings.Cut(line, "\t")
		s, err := strconv.Unquote(quoted)
		if !ok || err != nil {
			t.Fatalf("%s:%d: want a name, a tab and a Go string: %v", file, n+1, err)
		}
		out = append(out, Stream{name, []byte(s)})
	}
	return out
}
