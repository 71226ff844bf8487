// Package preview is a live preview of rules for editors, served to a
// browser on a loopback address: pick a visitor (country, city, device,
// language, cookies, headers, time, visitor id, forced variants, what the
// visitor has seen), see which rules match and why, and see the page as
// the origin sends it and as this visitor gets it, side by side, with what
// the rules changed highlighted. The page reloads itself when the rule
// file changes; a broken edit shows its errors at their line and column,
// with the last version that compiled still shown below.
//
// What it shows is what the proxy does: the visitor goes through the
// proxy's own context builder, plugin, plan and rewriter (package visit),
// and the page is fetched from the origin as the proxy would forward the
// request.
//
// It also mints preview links (Links): the same visitor's forced variants
// and time, opened through the running proxy in any browser.
//
// It answers only to a Host that names it and to its own pages, as the
// admin listener does (ServeHTTP, package webguard): what it shows and
// fetches is for the editor's browser, not for any page that browser
// opens.
package preview

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/engine"
	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
	"github.com/bespoke-edge/bespoke/host/internal/site"
	"github.com/bespoke-edge/bespoke/host/internal/visit"
	"github.com/bespoke-edge/bespoke/host/internal/webguard"
	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/internal/ir"
	"github.com/bespoke-edge/bespoke/rules/diag"
)

// Target is a rule file to preview and the origin whose pages it edits.
type Target struct {
	// Name labels the target when there are several (a route's name).
	Name string
	// File is the rule file's name, as errors give it.
	File string
	// Read returns the rule file's current text; it is called whenever
	// the preview looks for changes.
	Read func() ([]byte, error)
	// Origin is where pages come from.
	Origin *url.URL
	// Context configures the visitor's context (geography, time zone);
	// the zero Config is reqctx's default.
	Context reqctx.Config
	// Path is the path the target's route serves ("/blog/"), where its
	// preview starts; empty means "/". The preview's URL paths are the
	// visitor's, under it, which the proxy sends the origin as they are.
	Path string
	// Proxy, when not empty, is the URL of the proxy serving this target
	// ("http://localhost:8080"), without the route's path (the URL path
	// has it): the preview then offers links to open the page through it
	// with the forced variants and time (Links must be set).
	Proxy string
	// Links signs preview links; nil offers none.
	Links *Links
	// Host is the host of the target's route ("shop.example.com"), the
	// Host its visitors send, which a path in the preview is asked
	// with; empty (a route of any host, or of a wildcard) means the
	// proxy's, else the origin's.
	Host string
	// ConsentCookie and ConsentDeny are the proxy's consent settings
	// (seen.consent_cookie, seen.consent_deny): a visitor whose cookie
	// declines is one nothing is counted for, as through the proxy.
	// Empty means Sec-GPC alone declines.
	ConsentCookie string
	ConsentDeny   []string
}

// Options configure a Server. The zero Options are usable.
type Options struct {
	// Poll is how often rule files are checked for changes; 0 means
	// 250ms.
	Poll time.Duration
	// Client fetches pages from origins; nil means a client with a 10 s
	// timeout.
	Client *http.Client
	// Hosts are the Host names ("preview.internal", with or without a
	// port), addresses and address prefixes ("10.0.0.0/8") the preview
	// answers to besides loopback ones; any other Host is refused (a DNS
	// rebinding attack points a name of its own at the preview). The
	// Server does not know where it is served: a caller listening on an
	// address beyond loopback lists it here. Nil means loopback only.
	Hosts []string
}

// Server serves the preview. Create it with New; Close it.
type Server struct {
	eng    *engine.Engine
	client *http.Client
	hosts  webguard.Hosts
	mux    *http.ServeMux

	mu      sync.Mutex
	changed chan struct{} // closed and replaced when a target's version changes
	// list is the targets' list, replaced by SetTargets; gone is the sum
	// of the versions of the targets it took out, and of its calls, so
	// that version only grows.
	list []*target
	gone int
	stop context.CancelFunc
	done chan struct{}
}

// target is a Target and what it compiled to.
type target struct {
	Target
	mu      sync.Mutex
	hash    [32]byte
	pending [32]byte // a change seen once, built when seen again
	version int
	cur     *build // the current text's build, which may have failed
	good    *build // the last build that compiled
}

// build is one version of a rule file.
type build struct {
	version int
	at      time.Time
	src     []byte
	prog    *ir.Program
	site    *site.Site
	diags   diag.List
	readErr error
}

// New starts a preview of targets; it compiles each now, and again each
// time its file changes.
func New(targets []Target, opt Options) (*Server, error) {
	if len(targets) == 0 {
		return nil, errors.New("preview: nothing to preview")
	}
	eng, err := engine.New(engine.Config{CacheDir: "-", PoolSize: 2})
	if err != nil {
		return nil, err
	}
	s := &Server{eng: eng, client: opt.Client, hosts: webguard.NewHosts(opt.Hosts), changed: make(chan struct{}), done: make(chan struct{})}
	if s.client == nil {
		s.client = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if err := checkTargets(targets); err != nil {
		eng.Close(context.Background())
		return nil, err
	}
	for _, t := range targets {
		s.list = append(s.list, &target{Target: t})
	}
	for _, t := range s.list {
		s.refresh(t, false)
	}
	poll := opt.Poll
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	go s.watch(ctx, poll)
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /{$}", s.page)
	s.mux.HandleFunc("GET /frame", s.frame)
	s.mux.HandleFunc("GET /events", s.events)
	s.mux.HandleFunc("GET /state", s.state)
	return s, nil
}

func checkTargets(targets []Target) error {
	if len(targets) == 0 {
		return errors.New("preview: nothing to preview")
	}
	for _, t := range targets {
		if t.Read == nil || t.Origin == nil {
			return fmt.Errorf("preview: target %q needs Read and Origin", t.Name)
		}
	}
	return nil
}

// SetTargets replaces what the preview shows, as a proxy's reload
// replaces its routes: a target equal to one shown keeps its builds
// (its Read aside, compared by File), the others are compiled now, and
// the pages open reload themselves. With no target, or one without Read
// or Origin, it returns an error and changes nothing.
func (s *Server) SetTargets(targets []Target) error {
	if err := checkTargets(targets); err != nil {
		return err
	}
	old := s.targets()
	var list, fresh []*target
	kept := map[*target]bool{}
	for _, nt := range targets {
		var t *target
		for _, ot := range old {
			if !kept[ot] && sameTarget(ot.Target, nt) {
				t = ot
				break
			}
		}
		if t == nil {
			t = &target{Target: nt}
			fresh = append(fresh, t)
		} else {
			kept[t] = true
		}
		list = append(list, t)
	}
	for _, t := range fresh {
		s.refresh(t, false)
	}
	s.mu.Lock()
	gone := s.gone + 1 // this call: the sum moves even if no version does
	s.list = list
	for _, t := range old {
		if !kept[t] {
			t.mu.Lock()
			gone += t.version
			t.mu.Unlock()
		}
	}
	s.gone = gone
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	for _, t := range old {
		if kept[t] {
			continue
		}
		t.mu.Lock()
		if t.good != nil && t.good.site != nil {
			// Pages rendering with it hold it until they are done.
			t.good.site.Retire()
		}
		t.mu.Unlock()
	}
	return nil
}

// sameTarget reports whether a and b preview the same route the same
// way. Functions cannot be compared: Read is known by File, and the
// context's clock is taken for the same.
func sameTarget(a, b Target) bool {
	ac, bc := a.Context, b.Context
	ac.Now, bc.Now = nil, nil
	return a.Name == b.Name && a.File == b.File && a.Origin.String() == b.Origin.String() &&
		a.Path == b.Path && a.Host == b.Host && a.Proxy == b.Proxy && a.Links == b.Links &&
		a.ConsentCookie == b.ConsentCookie && slices.Equal(a.ConsentDeny, b.ConsentDeny) &&
		reflect.DeepEqual(ac, bc)
}

// targets returns the targets' list as it is now.
func (s *Server) targets() []*target {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.list
}

// ServeHTTP implements http.Handler. On every endpoint it refuses what a
// web page other than the preview's own could have sent (package
// webguard): the page and /state show the rules, and /frame fetches from
// the origin, often an internal one, with the headers and cookies its
// query names. Under a DNS-rebound Host a page would read them all; from
// another site it would still have the origin asked what it chose.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.hosts.Has(r.Host) {
		http.Error(w, "403 Forbidden: this Host is not the preview's (open it at a loopback address, or add the name with --preview-host)", http.StatusForbidden)
		return
	}
	if why := webguard.CrossSite(r); why != "" {
		http.Error(w, "403 Forbidden: "+why+" (a page of another site cannot open the preview: type or paste its address)", http.StatusForbidden)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Close stops watching and releases the compiled rules.
func (s *Server) Close() {
	s.stop()
	<-s.done
	for _, t := range s.targets() {
		t.mu.Lock()
		if t.good != nil && t.good.site != nil {
			t.good.site.Close(context.Background())
		}
		t.mu.Unlock()
	}
	s.eng.Close(context.Background())
}

func (s *Server) watch(ctx context.Context, every time.Duration) {
	defer close(s.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		for _, t := range s.targets() {
			s.refresh(t, true)
		}
	}
}

// refresh reads t's rule file and, when it changed, compiles it. With
// settle, a change is compiled only once two reads in a row agree on it:
// editors (and os.WriteFile) write a file in several steps, and the
// halfway states are not worth showing as errors.
func (s *Server) refresh(t *target, settle bool) {
	src, err := t.Read()
	sum := sha256.Sum256(src)
	if err != nil {
		sum = sha256.Sum256([]byte("error: " + err.Error()))
	}
	t.mu.Lock()
	if t.cur != nil && sum == t.hash {
		t.mu.Unlock()
		return
	}
	if settle && t.cur != nil && sum != t.pending {
		t.pending = sum
		t.mu.Unlock()
		return
	}
	t.hash = sum
	t.mu.Unlock()

	b := &build{at: time.Now(), src: src, readErr: err}
	if err == nil {
		b.prog, b.diags = compiler.Diagnose(t.File, src)
		if b.prog != nil {
			res, cerr := compiler.Compile(t.File, src)
			if cerr == nil {
				b.site, cerr = site.Load(context.Background(), s.eng, t.File, res.Artifact, t.Context)
			}
			if cerr != nil {
				b.prog, b.readErr = nil, cerr
			}
		}
	}
	// The version moves with the build it numbers: a page rendered
	// while this one compiled shows the build before and the version
	// before, and its event stream announces this one.
	t.mu.Lock()
	t.version++
	b.version = t.version
	t.cur = b
	var old *site.Site
	if b.site != nil {
		if t.good != nil {
			old = t.good.site
		}
		t.good = b
	}
	t.mu.Unlock()
	if old != nil {
		old.Retire()
	}
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// snapshot returns t's current build and the last good one, held: release
// must be called when done with them.
func (t *target) snapshot() (cur, good *build, release func()) {
	for {
		t.mu.Lock()
		cur, good = t.cur, t.good
		t.mu.Unlock()
		if good == nil {
			return cur, nil, func() {}
		}
		if good.site.Hold() {
			return cur, good, good.site.Drop
		}
		// Retired between the read and the hold: a newer build is in.
	}
}

func (s *Server) target(c Context) *target {
	list := s.targets()
	if c.Target < 0 || c.Target >= len(list) {
		return list[0]
	}
	return list[c.Target]
}

// version returns the sum of the targets' versions, which the page's
// event stream compares with. It is read before the builds a page shows
// (decide), so that a build published in between makes the page's
// version old, and the page reload, rather than its content old under a
// version that will never be announced.
func (s *Server) version() int {
	s.mu.Lock()
	v, list := s.gone, s.list
	s.mu.Unlock()
	for _, t := range list {
		t.mu.Lock()
		v += t.version
		t.mu.Unlock()
	}
	return v
}

// events streams a "changed" event when a rule file changes, so that the
// page reloads itself.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	since, _ := strconv.Atoi(r.URL.Query().Get("v"))
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "retry: 1000\n\n")
	flusher.Flush()
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if v := s.version(); v != since {
			fmt.Fprintf(w, "event: changed\ndata: %d\n\n", v)
			flusher.Flush()
			since = v
		}
		select {
		case <-r.Context().Done():
			return
		case <-ch:
		case <-time.After(15 * time.Second):
			fmt.Fprintf(w, ": still here\n\n")
			flusher.Flush()
		}
	}
}

// visitResult is a context decided with a target's last good build.
type visitResult struct {
	version  int // s.version() before the builds were taken
	ctx      Context
	t        *target
	cur      *build
	good     *build
	spec     visit.Spec
	problems []string
	res      *visit.Result
	err      error
	release  func()
}

// decide runs the context of a request.
func (s *Server) decide(r *http.Request) *visitResult {
	c := parseContext(r.URL.Query())
	t := s.target(c)
	if c.URL == "" {
		c.URL = cmp.Or(t.Path, "/")
	}
	vr := &visitResult{ctx: c, t: t, version: s.version()}
	vr.cur, vr.good, vr.release = t.snapshot()
	vr.spec, vr.problems = c.Spec()
	vr.spec.ConsentCookie, vr.spec.ConsentDeny = t.ConsentCookie, t.ConsentDeny
	if hostOf(vr.spec, "") == "" {
		// A path: the visitor's Host is the route's, else the proxy's,
		// else the origin's (an origin that writes links from
		// X-Forwarded-Host writes them to a site that exists).
		h := t.Origin.Host
		if u, err := url.Parse(t.Proxy); err == nil && t.Proxy != "" && u.Host != "" {
			h = u.Host
		}
		if t.Host != "" {
			h = t.Host
		}
		vr.spec.Headers = append(vr.spec.Headers, [2]string{"Host", h})
	}
	if h := c.pastedHost(); h != "" && !strings.EqualFold(h, t.Origin.Host) {
		vr.problems = append(vr.problems, fmt.Sprintf("the address names %s: the page comes from this preview's origin, %s, at %s, and the rules see Host: %s (a Host header in the form changes it)",
			h, strings.TrimSuffix(t.Origin.String(), "/"), vr.spec.URL, hostOf(vr.spec, h)))
	}
	if vr.good == nil {
		return vr
	}
	// Variants and counts the rules no longer know (after an edit) are
	// dropped, not errors: the visitor is shown as assigned, with a
	// note when the experiment is still there.
	for _, name := range slices.Sorted(maps.Keys(vr.spec.Variants)) {
		want := vr.spec.Variants[name]
		x := experiment(vr.good.prog, name)
		if x == nil {
			delete(vr.spec.Variants, name)
		} else if !slices.Contains(x.Variants, want) {
			delete(vr.spec.Variants, name)
			vr.problems = append(vr.problems, fmt.Sprintf("experiment %s has no variant %q (its variants are %s): the visitor gets the variant it is assigned",
				name, want, strings.Join(x.Variants, ", ")))
		}
	}
	for name := range vr.spec.Shown {
		if !hasCappedRule(vr.good.prog, name) {
			delete(vr.spec.Shown, name)
		}
	}
	vr.res, vr.err = visit.Run(r.Context(), vr.good.site, vr.good.prog, vr.spec)
	return vr
}

// hostOf returns the Host the visit sends: the form's Host header, else
// def.
func hostOf(spec visit.Spec, def string) string {
	for _, h := range spec.Headers {
		if strings.EqualFold(h[0], "Host") {
			def = h[1]
		}
	}
	return def
}

func experiment(p *ir.Program, name string) *ir.Experiment {
	for _, x := range p.Experiments {
		if x.Name == name {
			return x
		}
	}
	return nil
}

func hasCappedRule(p *ir.Program, name string) bool {
	for _, r := range p.Rules {
		if r.Name == name && r.Cap != nil {
			return true
		}
	}
	return false
}

// fetch asks the origin for the page of a decided visit.
func (s *Server) fetch(ctx context.Context, vr *visitResult) (*visit.Page, error) {
	return vr.res.Fetch(ctx, s.client, vr.t.Origin)
}

// pageURL returns the URL of the visit's page at the origin, against
// which the page's relative links resolve (local.css on /journal/rel is
// /journal/local.css).
func (vr *visitResult) pageURL() string {
	u := *vr.t.Origin
	u.Path = strings.TrimSuffix(u.Path, "/") + vr.res.Request.URL.Path
	u.RawPath = strings.TrimSuffix(vr.t.Origin.EscapedPath(), "/") + vr.res.Request.URL.EscapedPath()
	u.RawQuery = vr.res.Request.URL.RawQuery
	u.Fragment = ""
	return u.String()
}

// proxyLink returns the link that opens this visit through the proxy with
// its forced variants and time, or "" when the target offers none.
func (vr *visitResult) proxyLink() string {
	t := vr.t
	if t.Links == nil || t.Proxy == "" || vr.good == nil {
		return ""
	}
	p := Preview{At: vr.spec.At, Variants: vr.spec.Variants}
	if len(vr.spec.Variants) > 0 {
		b, err := visit.Buckets(vr.good.prog, vr.spec.Variants)
		if err != nil {
			return ""
		}
		p.Buckets = b
	}
	return t.Links.Link(strings.TrimSuffix(t.Proxy, "/")+vr.spec.URL, p)
}

// lineOf returns line n (1-based) of src.
func lineOf(src []byte, n int) string {
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(src, '\n')
		if j < 0 {
			return ""
		}
		src = src[j+1:]
	}
	if j := bytes.IndexByte(src, '\n'); j >= 0 {
		src = src[:j]
	}
	return strings.TrimRight(string(src), "\r")
}
