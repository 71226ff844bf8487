package rules_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/rules"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func ExampleCompile() {
	src := []byte(`
rules:
  - name: french-hero
    when: geo.country == "FR" and device.type == "mobile"
    actions:
      - set_inner: { select: "#hero h1", text: "Bonjour" }
`)
	res, err := rules.Compile("site.yaml", src)
	if err != nil {
		fmt.Println(err)
		return
	}
	m := res.Artifact.Manifest
	fmt.Println("rules:", m.Rules[0].Name)
	fmt.Println("reads:", m.Slots[0].Attr, m.Slots[1].Attr)
	fmt.Println("small:", len(res.Artifact.Wasm) < 2048)
	// Output:
	// rules: french-hero
	// reads: geo.country device.type
	// small: true
}

func ExampleCheck() {
	err := rules.Check("site.yaml", []byte(`
rules:
  - name: typo
    when: geo.contry == "FR"
    actions:
      - remove: "#promo"
`))
	fmt.Println(err)
	// Output:
	// site.yaml:4:11: unknown attribute or segment "geo.contry"; did you mean "geo.country"?
}

// TestDemoGolden pins the compiler's output for the demo rules: the IR dump
// and the manifest. A change to either is deliberate: run
// go test ./rules/ -update and review the diff.
func TestDemoGolden(t *testing.T) {
	res, err := compiler.CompileFile("../testdata/demo/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	secs, err := plugin.CustomSections(res.Artifact.Wasm)
	if err != nil {
		t.Fatal(err)
	}
	var manifest bytes.Buffer
	json.Indent(&manifest, secs[plugin.SectionManifest], "", "  ")
	manifest.WriteByte('\n')
	golden(t, "demo.ir", []byte(res.Program.Dump()))
	golden(t, "demo.manifest.json", manifest.Bytes())
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("..", "testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./rules/ -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; run go test ./rules/ -update and review the diff.\ngot:\n%s", path, got)
	}
}

func TestCompileRejectsNothingValid(t *testing.T) {
	// An empty rule list is a valid (if useless) plugin.
	res, err := rules.Compile("empty.yaml", []byte("rules: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Artifact.Manifest.Rules) != 0 {
		t.Fatal("rules appeared from nowhere")
	}
}

// FuzzCompile feeds arbitrary rule files to the whole compiler: it must
// return an artifact the host accepts or a list of positioned errors,
// never panic.
func FuzzCompile(f *testing.F) {
	demo, _ := os.ReadFile("../testdata/demo/rules.yaml")
	f.Add(demo)
	f.Add([]byte("rules:\n  - name: a\n    when: cookie(\"x\") >= 3 or path matches \"^/a\"\n    actions: [remove: \"#p\"]\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		res, err := rules.Compile("f.yaml", src)
		if err != nil {
			return
		}
		if _, err := plugin.ReadArtifact(res.Artifact.Wasm); err != nil {
			t.Fatalf("compiled artifact rejected: %v", err)
		}
	})
}
