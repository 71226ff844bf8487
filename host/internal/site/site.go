// Package site is a plugin ready to personalize requests: the loaded Wasm
// module and its pool, the request-context builder for its slots, and its
// selectors compiled for the rewriter. A Site is one generation of a
// plugin; a reload builds a new Site beside the old one.
package site

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/engine"
	"github.com/bespoke-edge/bespoke/host/internal/plan"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/host/internal/rewrite"
	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/internal/escape"
	"github.com/bespoke-edge/bespoke/plugin"
)

// Site is one loaded plugin. It is safe for concurrent use.
type Site struct {
	// Name says where the plugin came from (a file name).
	Name string
	// Generation numbers the plugins a proxy has loaded, from 1.
	Generation int64
	// Loaded is when the plugin finished loading.
	Loaded time.Time
	// Warnings are the rule file's (a rule that never matches, ...), each
	// file:line:col first; none for a compiled plugin.
	Warnings []string

	module   *engine.Module
	builder  *reqctx.Builder
	program  *rewrite.Program
	actions  *plan.Program
	manifest *plugin.Manifest
	// touchesNonHTML is set when some rule sets headers, cookies or
	// redirects, which can concern any response, not only HTML pages.
	touchesNonHTML bool
	// varyNonHTML are the request headers what the rules that can touch
	// other responses than pages decide depends on (see VaryNonHTML);
	// varyAsset those of the rules that can touch a response neither a
	// page nor a JSON document (see VaryAsset).
	varyNonHTML, varyAsset []string
	// nonHTMLRules and assetRules say, by rule, whether VaryNonHTML and
	// VaryAsset name what the rule reads; nil when they name what every
	// rule reads.
	nonHTMLRules, assetRules []bool
	// sameForAll says, by rule, that what the rule does depends on the
	// request's URL alone (see SameForAll); nil when the manifest does
	// not say what rules read.
	sameForAll []bool
	// varyExperiments are the request headers the visitor's variants
	// depend on (see VaryExperiments).
	varyExperiments []string
	// originHeaders are the request headers only the proxy sends the
	// origin (see OriginHeaders).
	originHeaders []string
	// allVaries are the three lists; narrow narrows them for a
	// request (nil when nothing can), its path read from the slot
	// pathSlot.
	allVaries Varies
	narrow    *narrowing
	pathSlot  int
	hasEdits  bool
	usesSeen  bool
	usesCaps  bool

	scratch sync.Pool // *Request
}

// Load loads an artifact into a site.
func Load(ctx context.Context, eng *engine.Engine, name string, art *plugin.Artifact, rc reqctx.Config) (*Site, error) {
	prog, err := rewrite.CompileStrings(art.Manifest.Selectors)
	if err != nil {
		return nil, fmt.Errorf("%s: selectors: %w", name, err)
	}
	mod, err := eng.Load(ctx, art)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s := &Site{
		Name:     name,
		Loaded:   time.Now(),
		module:   mod,
		builder:  reqctx.NewBuilder(rc, art.Manifest.Slots),
		program:  prog,
		actions:  plan.Compile(art.Manifest),
		manifest: art.Manifest,
	}
	var reads, assetReads []int // of the rules that touch other responses, assets
	readsSeen, assetReadsSeen := false, false
	var nonHTMLRules, assetRules []bool
	for _, r := range art.Manifest.Rules {
		touched := s.touchesNonHTML
		s.touchesNonHTML = false
		// asset: the rule can change a response that is neither a page
		// nor a JSON document (a header, a cookie, a redirect, a cap
		// counted, an item seen), which no edit of either changes.
		asset := false
		if r.Cap != nil {
			s.usesCaps = true
			s.touchesNonHTML, asset = true, true
		}
		for _, a := range r.Actions {
			if a.Op == plugin.OpSetHeader && a.On == "request" {
				s.originHeader(a.Name)
			}
			if a.Op == plugin.OpHideSeen || a.Op == plugin.OpReorder {
				// The items' ids: an edit map checks them byte for byte.
				prog.ReadAttrs(a.IDAttr)
			}
			switch {
			case a.Op == plugin.OpHideSeen:
				s.hasEdits, s.usesSeen = true, true
			case a.Op == plugin.OpMarkSeen:
				s.touchesNonHTML, s.usesSeen, asset = true, true, true
			case plugin.JSONOp(a.Op):
				s.touchesNonHTML = true
				s.usesSeen = s.usesSeen || a.Op == plugin.OpJSONHideSeen
			case plugin.ElementOp(a.Op):
				s.hasEdits = true
			default:
				s.touchesNonHTML, asset = true, true
			}
		}
		if s.touchesNonHTML {
			reads = append(reads, r.Reads...)
			readsSeen = readsSeen || r.ReadsSeen
		}
		if asset {
			assetReads = append(assetReads, r.Reads...)
			assetReadsSeen = assetReadsSeen || r.ReadsSeen
		}
		if art.Manifest.RuleReads {
			s.sameForAll = append(s.sameForAll, urlOnly(art.Manifest, r))
		}
		nonHTMLRules = append(nonHTMLRules, s.touchesNonHTML)
		assetRules = append(assetRules, asset)
		s.touchesNonHTML = s.touchesNonHTML || touched
	}
	s.usesSeen = s.usesSeen || mod.Imports(plugin.ImportSeen)
	s.varyNonHTML = s.builder.Vary()
	s.varyAsset = s.varyNonHTML
	if art.Manifest.RuleReads {
		s.varyNonHTML = s.builder.VaryOf(reads, readsSeen)
		s.varyAsset = s.builder.VaryOf(assetReads, assetReadsSeen)
		s.nonHTMLRules, s.assetRules = nonHTMLRules, assetRules
	}
	s.allVaries = Varies{Page: s.builder.Vary(), NonHTML: s.varyNonHTML, Asset: s.varyAsset}
	var expReads []int
	for _, x := range art.Manifest.Experiments {
		if len(x.Reads) == 0 {
			// A plugin that does not say what a variant depends on.
			expReads = nil
			s.varyExperiments = s.builder.Vary()
			break
		}
		expReads = append(expReads, x.Reads...)
	}
	if expReads != nil {
		s.varyExperiments = s.builder.VaryOf(expReads, false)
	}
	s.pathSlot = -1
	for i, sl := range art.Manifest.Slots {
		if sl.Attr == "path" && sl.From == nil {
			s.pathSlot = i
			break
		}
	}
	s.narrow = newNarrowing(s)
	return s, nil
}

// urlOnly reports whether rule r decides, and writes, from the request's
// URL alone (its path, host and query, and what is computed from them):
// it reads no visitor's state (seen items, caps, the visitor id), no
// header, no address and no time, and records nothing.
func urlOnly(m *plugin.Manifest, r plugin.Rule) bool {
	if r.ReadsSeen || r.Cap != nil {
		return false
	}
	for _, a := range r.Actions {
		switch a.Op {
		case plugin.OpHideSeen, plugin.OpMarkSeen, plugin.OpJSONHideSeen, plugin.OpSetCookie:
			return false
		}
	}
	for _, i := range r.Reads {
		if i < 0 || i >= len(m.Slots) || !urlSlot(&m.Slots[i]) {
			return false
		}
	}
	return true
}

// urlSlot reports whether a slot's value is read from the request's URL,
// which a shared cache keys its copies by.
func urlSlot(s *plugin.Slot) bool {
	for s.From != nil {
		s = s.From
	}
	switch s.Attr {
	case "path", "host", "query":
		return true
	}
	return false
}

// originHeader adds name, which a rule sets on the request to the
// origin, to OriginHeaders unless a browser sends it of itself.
func (s *Site) originHeader(name string) {
	// X_Tier is X-Tier to CGI-style origins (PHP, WSGI, Rack read both
	// as HTTP_X_TIER): kept with dashes, and the proxy takes both out.
	c := http.CanonicalHeaderKey(strings.ReplaceAll(name, "_", "-"))
	if !escape.BrowserHeader(c) && !slices.Contains(s.originHeaders, c) {
		s.originHeaders = append(s.originHeaders, c)
	}
}

// LoadFile loads a rule file (.yaml, .yml: compiled first) or a compiled
// plugin (.wasm).
func LoadFile(ctx context.Context, eng *engine.Engine, path string, rc reqctx.Config) (*Site, error) {
	art, warnings, err := readPlugin(path)
	if err != nil {
		return nil, err
	}
	s, err := Load(ctx, eng, path, art, rc)
	if err != nil {
		return nil, err
	}
	s.Warnings = warnings
	return s, nil
}

// ReadPlugin reads a rule file, compiling it, or a compiled plugin.
func ReadPlugin(path string) (*plugin.Artifact, error) {
	art, _, err := readPlugin(path)
	return art, err
}

// readPlugin is ReadPlugin, which also returns a rule file's warnings. A
// plugin is told by its first bytes, not by its name: SITE.WASM or
// site.plugin is loaded, not compiled as a rule file.
func readPlugin(path string) (*plugin.Artifact, []string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if bytes.HasPrefix(b, []byte("\x00asm")) {
		art, err := plugin.ReadArtifact(b)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return art, nil, nil
	}
	res, err := compiler.Compile(path, b)
	if err != nil {
		return nil, nil, err
	}
	var warnings []string
	for _, w := range res.Warnings {
		warnings = append(warnings, w.Error())
	}
	return res.Artifact, warnings, nil
}

// Manifest returns the plugin's manifest.
func (s *Site) Manifest() *plugin.Manifest { return s.manifest }

// Module returns the engine module.
func (s *Site) Module() *engine.Module { return s.module }

// Program returns the compiled selectors.
func (s *Site) Program() *rewrite.Program { return s.program }

// Actions returns the plugin's actions, prepared.
func (s *Site) Actions() *plan.Program { return s.actions }

// UsesSeen reports whether the plugin reads or writes seen-filters.
func (s *Site) UsesSeen() bool { return s.usesSeen }

// UsesCaps reports whether some rule has a frequency cap.
func (s *Site) UsesCaps() bool { return s.usesCaps }

// NeedsDevice reports whether the rules read the device (so responses ask
// for Client Hints).
func (s *Site) NeedsDevice() bool { return s.builder.NeedsDevice() }

// ReadsVisitor reports whether decisions read the visitor id (visitor.id,
// visitor.new, experiments and rollouts bucketed by it), so that a new
// visitor's id must be kept in a cookie.
func (s *Site) ReadsVisitor() bool { return s.builder.ReadsVisitor() }

// HasEdits reports whether some rule edits pages.
func (s *Site) HasEdits() bool { return s.hasEdits }

// VaryNonHTML returns the request headers a response that no page
// edit can change (an asset, an API's JSON, a page where no rule edits
// pages) varies with: those the rules that set headers, cookies, a
// redirect, a frequency cap, an item seen, or edit JSON read, where
// Vary names those of every rule. A plugin whose manifest does not say
// what each rule reads gets Vary's.
func (s *Site) VaryNonHTML() []string { return s.varyNonHTML }

// SameForAll reports whether every rule of matched (indices of rules)
// decides and acts from the request's URL alone: a rule without a
// condition, or on the path, that sets a header or edits the page. What
// they did, every visitor who asks for the URL gets, so the response may
// stay in a shared cache, which keys its copies by URL (and by the Vary
// of what the other rules read, as for a response no rule changed).
func (s *Site) SameForAll(matched []int) bool {
	if s.sameForAll == nil {
		return len(matched) == 0
	}
	for _, ri := range matched {
		if ri < 0 || ri >= len(s.sameForAll) || !s.sameForAll[ri] {
			return false
		}
	}
	return true
}

// OriginHeaders returns the request headers (canonical) that some rule
// sets on the request to the origin and that no browser sends of itself
// (X-Segment, X-Tier): the origin reads them as the rules' word, so the
// proxy takes a visitor's own out of every request, whether a rule sets
// them this time or not. Otherwise a visitor who sent X-Tier: gold would
// be served as gold where no rule says so. Standard fields (Accept-Language,
// User-Agent) keep the visitor's value when no rule sets them.
func (s *Site) OriginHeaders() []string { return s.originHeaders }

// VaryExperiments returns the request headers the visitor's variants
// depend on (the visitor id's cookie, what the experiments' when
// conditions read): a page names them, so its Vary names these whatever
// rules can change it. Empty when the plugin runs no experiment.
func (s *Site) VaryExperiments() []string { return s.varyExperiments }

// VaryAsset returns the request headers a response that is neither a
// page nor a JSON document (a style sheet, an image) varies with: those
// the rules that set headers, cookies, a redirect, a frequency cap or an
// item seen read, and not those of the rules that edit only pages or
// JSON, which cannot change it. A plugin whose manifest does not say
// what each rule reads gets Vary's.
func (s *Site) VaryAsset() []string { return s.varyAsset }

// InVaryNonHTML reports whether VaryNonHTML names the request headers
// rule ri (an index of the manifest's rules) reads: a rule that can
// change a response no page edit changes, or any rule of a plugin whose
// manifest does not say what each rule reads.
func (s *Site) InVaryNonHTML(ri int) bool { return in(s.nonHTMLRules, ri) }

// InVaryAsset reports whether VaryAsset names the request headers rule
// ri reads (see InVaryNonHTML).
func (s *Site) InVaryAsset(ri int) bool { return in(s.assetRules, ri) }

// in reports whether rule ri is one of rules, a list by rule; nil holds
// every rule.
func in(rules []bool, ri int) bool {
	return rules == nil || ri < 0 || ri >= len(rules) || rules[ri]
}

// TouchesNonHTML reports whether some rule sets headers, cookies or
// redirects.
func (s *Site) TouchesNonHTML() bool { return s.touchesNonHTML }

// Vary returns the request headers decisions depend on.
func (s *Site) Vary() []string { return s.builder.Vary() }

// Hold keeps the site's plugin open until Drop, or reports false when the
// site was retired (see engine.Module.Hold).
func (s *Site) Hold() bool { return s.module.Hold() }

// Drop ends a Hold.
func (s *Site) Drop() { s.module.Drop() }

// Retire closes the site once its decisions in flight end.
func (s *Site) Retire() { s.module.Retire() }

// Close retires the site and waits for decisions in flight, at most until
// ctx is done.
func (s *Site) Close(ctx context.Context) error { return s.module.Close(ctx) }

// Request is the per-request state of a decision. Get one with NewRequest
// and give it back with Release.
type Request struct {
	Values   []plugin.Value
	Decision plugin.Decision
	Plan     plan.Plan
	Visitor  reqctx.Visitor
	// Err is set when the plugin failed; the plan is then empty and the
	// page must be served as the origin sent it.
	Err error
	// ByAddress: the values depend on the client's address
	// (reqctx.Facts): a response they change must be private.
	ByAddress bool
	// Varies are the Vary lists of the responses to the request (see
	// Site.Varies); nil when its values were not built.
	Varies *Varies
}

// NewRequest returns a cleared Request.
func (s *Site) NewRequest() *Request {
	if r, ok := s.scratch.Get().(*Request); ok {
		r.Err, r.ByAddress, r.Varies = nil, false, nil
		return r
	}
	return &Request{}
}

// Release returns r for reuse; r must not be used after.
func (s *Site) Release(r *Request) { s.scratch.Put(r) }

// Decide builds the context of hr, runs the rules and builds the plan into
// out. A plugin failure leaves out.Plan empty and sets out.Err: the caller
// serves the page unpersonalized. So does a panic of the host's code on
// the way (reading the request, building the plan): it is a bug of
// bespoke's, and must cost what a trap costs, not the visitor's response
// (see recoverDecide).
func (s *Site) Decide(ctx context.Context, hr *http.Request, v reqctx.Visitor, secure bool, seen func(string) bool, out *Request) {
	defer recoverDecide(out)
	if ov := v.Overrides; ov != nil && len(ov.Variants) > 0 {
		v.Overrides = s.forced(ov)
	}
	out.Visitor = v
	var facts reqctx.Facts
	out.Values, facts = s.builder.BuildFacts(hr, v, out.Values)
	out.ByAddress = facts.ByAddress
	out.Plan.Reset()
	if err := s.module.Decide(ctx, out.Values, seen, &out.Decision); err != nil {
		out.Err = err
		return
	}
	out.Varies = s.Varies(out.Values, &out.Decision)
	s.actions.Build(&out.Decision, out.Values, plan.Options{Secure: secure, URL: hr.URL, Host: hr.Host, Method: hr.Method}, &out.Plan)
}

// forced returns ov with the variants it names (Overrides.Variants)
// turned into the buckets that give them under this plugin's weights,
// over ov.Buckets, which hold the buckets of the weights a preview link
// was made under.
func (s *Site) forced(ov *reqctx.Overrides) *reqctx.Overrides {
	m := s.manifest
	out := *ov
	out.Buckets = maps.Clone(ov.Buckets)
	for _, x := range m.Experiments {
		want, ok := ov.Variants[x.Name]
		if !ok {
			continue
		}
		// An experiment's when cannot read a variant: its one bucket
		// slot is its own.
		key := ""
		for _, i := range x.Reads {
			if i >= 0 && i < len(m.Slots) && m.Slots[i].Attr == "bucket" {
				key = m.Slots[i].Key()
				break
			}
		}
		start := 0
		for vi, name := range x.Variants {
			if vi >= len(x.Weights) {
				break
			}
			if name == want {
				if key != "" && x.Weights[vi] > 0 {
					if out.Buckets == nil {
						out.Buckets = map[string]int{}
					}
					out.Buckets[key] = start
				}
				break
			}
			start += x.Weights[vi]
		}
	}
	return &out
}

// PanicError is a panic recovered while deciding: out.Err of a Decide
// whose host code panicked, with the panic's value and stack.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("deciding panicked: %v", e.Value) }

// recoverDecide turns a panic of Decide into out.Err, with an empty
// plan: whatever the plan held when it panicked is not applied.
func recoverDecide(out *Request) {
	if v := recover(); v != nil {
		out.Plan.Reset()
		out.Err = &PanicError{Value: v, Stack: debug.Stack()}
	}
}

// BuildValues computes the context of a request without deciding.
func (s *Site) BuildValues(hr *http.Request, v reqctx.Visitor) []plugin.Value {
	return s.builder.Build(hr, v, nil)
}

// DecideValues runs the rules on given values (for explain and tests).
func (s *Site) DecideValues(ctx context.Context, vals []plugin.Value, out *Request) {
	defer recoverDecide(out)
	out.Values = vals
	out.Plan.Reset()
	if err := s.module.Decide(ctx, vals, nil, &out.Decision); err != nil {
		out.Err = err
		return
	}
	s.actions.Build(&out.Decision, vals, plan.Options{}, &out.Plan)
}
