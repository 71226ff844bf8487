package plan_test

import (
	"testing"

	"github.com/bespoke-edge/bespoke/host/internal/plan"
	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/plugin"
)

// benchBuild measures Build for one rule's actions, cookie("v") set.
func benchBuild(b *testing.B, actions string) {
	res, err := compiler.Compile("bench.yaml", []byte("rules:\n  - name: r\n    actions:\n"+actions))
	if err != nil {
		b.Fatal(err)
	}
	m := res.Artifact.Manifest
	prog := plan.Compile(m)
	vals := make([]plugin.Value, len(m.Slots))
	for i := range vals {
		vals[i] = plugin.Value{Str: "spring-sale", Present: true}
	}
	d := plugin.Decision{Matched: []uint64{1}}
	var p plan.Plan
	b.ReportAllocs()
	for b.Loop() {
		prog.Build(&d, vals, plan.Options{}, &p)
	}
}

// BenchmarkBuildText is a text value: HTML escaping only.
func BenchmarkBuildText(b *testing.B) {
	benchBuild(b, "      - set_inner: { select: h1, text: 'Picked for you in {{ cookie(\"v\") }}' }\n")
}

// BenchmarkBuildURL is the benchmark rule set's link: a query value,
// escaped for its part and verified against its skeleton.
func BenchmarkBuildURL(b *testing.B) {
	benchBuild(b, "      - set_attr: { select: a, name: href, value: '/offers?seg={{ cookie(\"v\") or \"none\" }}' }\n")
}

// BenchmarkBuildHTMLURL is html content with a URL attribute taking a
// value, tokenized with x/net/html to be verified.
func BenchmarkBuildHTMLURL(b *testing.B) {
	benchBuild(b, "      - append: { select: body, html: '<a href=\"/stores/{{ cookie(\"v\") }}\">{{ cookie(\"v\") }}</a>' }\n")
}
