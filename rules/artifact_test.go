package rules_test

import (
	"fmt"
	"os"
	"reflect"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/rulegen"
	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/rules"
)

// checkManifest checks that the manifest a compiled artifact carries is
// the one the host decodes from its module (plugin.ReadArtifact, as a
// plugin loaded from a file is read): the compiler hands over the
// manifest it wrote instead of decoding it again.
func checkManifest(t *testing.T, name string, res *rules.Result) {
	t.Helper()
	read, err := plugin.ReadArtifact(res.Artifact.Wasm)
	if err != nil {
		t.Errorf("%s: the module's manifest does not read back: %v", name, err)
		return
	}
	if !reflect.DeepEqual(read.Manifest, res.Artifact.Manifest) {
		t.Errorf("%s: the manifest read from the module differs from the compiler's:\nread     %+v\ncompiled %+v", name, read.Manifest, res.Artifact.Manifest)
	}
}

// TestArtifactManifest compiles the bundled rule files and generated ones
// of every size and checks each artifact's manifest against the one read
// from its module (the documentation's examples are checked the same way
// by TestSyntaxExamples and TestGuideExamples).
func TestArtifactManifest(t *testing.T) {
	files := map[string][]byte{}
	for _, path := range []string{"../testdata/demo/rules.yaml", "../testdata/pages/shop-rules.yaml"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files[path] = b
	}
	for _, n := range []int{1, 10, 100, 1000} {
		for seed := uint64(1); seed <= 4; seed++ {
			files[fmt.Sprintf("rulegen(%d, %d)", n, seed)] = rulegen.Rules(n, seed)
		}
	}
	for name, src := range files {
		res, err := rules.Compile(name, src)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkManifest(t, name, res)
	}
}
