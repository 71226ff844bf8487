// Package ruletest runs the tests written next to rules: each test gives a
// visitor's context (directly, or as a request) and names the rules that must
// and must not match. A test runs through the compiled Wasm module, as the
// proxy would, and through the reference evaluator; the two must agree.
package ruletest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/bespoke-edge/bespoke/host/reqctx"
	"github.com/bespoke-edge/bespoke/host/site"
	"github.com/bespoke-edge/bespoke/plugin"
	"github.com/bespoke-edge/bespoke/rules/eval"
	"github.com/bespoke-edge/bespoke/rules/ir"
)

// Result is the outcome of one test.
type Result struct {
	Test *ir.Test
	// Matched are the rules that matched, by name.
	Matched []string
	// Failures says what went wrong; empty when the test passed.
	Failures []string
}

// Passed reports whether the test passed.
func (r Result) Passed() bool { return len(r.Failures) == 0 }

// Run runs every test of prog against s, which must be loaded from prog.
func Run(ctx context.Context, s *site.Site, prog *ir.Program) ([]Result, error) {
	ev, err := eval.New(prog)
	if err != nil {
		return nil, err
	}
	var out []Result
	for _, t := range prog.Tests {
		out = append(out, runOne(ctx, s, ev, prog, t))
	}
	return out, nil
}

// DefaultUserAgent is the User-Agent of test requests that give none: a
// desktop browser, since tests describe visitors, not scripts.
const DefaultUserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"

// Request returns the HTTP request a test describes (GET / when it
// describes none). It comes from 127.0.0.1, as through a CDN or load
// balancer in front, so the CDN headers a test gives are believed.
func Request(t *ir.Request) *http.Request {
	method, target := "GET", "/"
	if t != nil {
		method, target = t.Method, t.URL
	}
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = "127.0.0.1:40000"
	r.Header.Set("User-Agent", DefaultUserAgent)
	if t == nil {
		return r
	}
	for _, h := range t.Headers {
		if http.CanonicalHeaderKey(h[0]) == "User-Agent" {
			r.Header.Set(h[0], h[1])
			continue
		}
		r.Header.Add(h[0], h[1])
	}
	if len(t.Cookies) > 0 {
		var parts []string
		for _, c := range t.Cookies {
			parts = append(parts, c[0]+"="+c[1])
		}
		r.Header.Add("Cookie", strings.Join(parts, "; "))
	}
	return r
}

// Values computes the context of a test: its request through the same
// builder the proxy uses, then the attribute values it gives directly.
func Values(s *site.Site, t *ir.Test) []plugin.Value {
	hr := Request(t.Request)
	vals := s.BuildValues(hr, reqctx.ResolveVisitor(hr))
	for i, slot := range s.Manifest().Slots {
		v, ok := t.Values[slot.Key()]
		if !ok {
			continue
		}
		a, _ := plugin.LookupAttr(slot.Attr)
		if a.Type == plugin.Bool {
			vals[i] = reqctx.BoolValue(v == "true")
		} else {
			vals[i] = reqctx.TextValue(v)
		}
	}
	return vals
}

func runOne(ctx context.Context, s *site.Site, ev *eval.Evaluator, prog *ir.Program, t *ir.Test) Result {
	res := Result{Test: t}
	vals := Values(s, t)
	var req site.Request
	s.DecideValues(ctx, vals, &req)
	if req.Err != nil {
		res.Failures = append(res.Failures, fmt.Sprintf("the plugin failed: %v", req.Err))
		return res
	}
	ref := ev.Eval(&eval.Env{Values: vals})
	if !ref.Equal(&req.Decision) {
		res.Failures = append(res.Failures, fmt.Sprintf("the compiled module and the reference evaluator disagree: %v vs %v (a compiler bug; please report it)", names(prog, &req.Decision), names(prog, &ref)))
	}
	res.Matched = names(prog, &req.Decision)
	for _, i := range t.Match {
		if !req.Decision.Has(i) {
			res.Failures = append(res.Failures, fmt.Sprintf("expected %s to match, but it did not", prog.Rules[i].Name))
		}
	}
	for _, i := range t.NoMatch {
		if req.Decision.Has(i) {
			res.Failures = append(res.Failures, fmt.Sprintf("expected %s not to match, but it did", prog.Rules[i].Name))
		}
	}
	return res
}

func names(prog *ir.Program, d *plugin.Decision) []string {
	var out []string
	for _, i := range d.Rules(nil) {
		out = append(out, prog.Rules[i].Name)
	}
	return out
}
