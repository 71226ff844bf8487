package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/bespoke-edge/bespoke/bench/internal/load"
)

// targetProcs is every target's parallelism: the Go processes (bespoke, the Go
// proxy, Caddy, the origin) run with GOMAXPROCS set to it and nginx with
// as many workers, so that the peers stay matched on a machine with more
// CPUs than the 2 of the runs so far (nginx's "auto" would start one
// worker per CPU, Go's default one P per CPU; the load generator keeps
// Go's default).
const targetProcs = 2

// harness is one benchmark run.
type harness struct {
	opts    options
	sup     *supervisor
	started time.Time
	command string

	root, tmp, out string
	page           pageInfo
	sel            Selectors // the page's elements the edits change
	machine        machineInfo

	self       string // this executable, re-executed for the helpers
	bespoke    string // the built bespoke binary, "" when it did not build
	bespokeErr string
	bespokeArg []string // serve options this bespoke build has
	caddy      string   // the built caddy-bespoke binary, "" when not built
	caddyErr   string
	nginx      string
	wrk        string

	origin    *proc
	originURL string // base URL of the shared origin
	targets   []*target

	rate           float64
	rateNote       string
	runs           []*runResult
	micro          *microResult
	notes          []string
	failedRequests int64
	// failedPackages are the packages whose micro-benchmarks failed.
	failedPackages []string
}

// pageInfo is the page every target serves.
type pageInfo struct {
	Name string `json:"name"`
	Dir  string `json:"dir"`
	Path string `json:"path"`
	File string `json:"file"`
	Note string `json:"note,omitempty"`
	body string
	// served is the directory the origin serves: the page and the
	// warm-up pages.
	served string
}

// runResult is one target measured in one round.
type runResult struct {
	Target string `json:"target"`
	Round  int    `json:"round"`
	// Throughput is the closed-loop run, Latency the fixed-rate run.
	Throughput *load.Result `json:"throughput,omitempty"`
	Latency    *load.Result `json:"latency,omitempty"`
	// CPU seconds per 1,000 requests of the target's processes, of the
	// origin and of the load generator, at full load and at the fixed rate.
	CPUPer1k       float64 `json:"cpu_s_per_1k"`
	CPUPer1kAtRate float64 `json:"cpu_s_per_1k_at_rate"`
	OriginCPUPer1k float64 `json:"origin_cpu_s_per_1k"`
	ClientCPUPer1k float64 `json:"client_cpu_s_per_1k"`
	// Elsewhere is the CPUs other processes kept busy during the
	// throughput run, ElsewhereAtRate during the latency run.
	Elsewhere       float64 `json:"busy_elsewhere_cpus"`
	ElsewhereAtRate float64 `json:"busy_elsewhere_cpus_at_rate"`
	PeakRSSKiB      int64   `json:"peak_rss_kib"`
	Processes       int     `json:"processes"`
	WrkRPS          float64 `json:"wrk_rps,omitempty"`
	WrkProblem      string  `json:"wrk_problem,omitempty"`
	Error           string  `json:"error,omitempty"`
}

func (h *harness) logf(format string, args ...any) {
	fmt.Printf("[%4.0fs] %s\n", time.Since(h.started).Seconds(), fmt.Sprintf(format, args...))
}

func (h *harness) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	h.notes = append(h.notes, s)
	h.logf("note: %s", s)
}

func (h *harness) run(ctx context.Context) error {
	var err error
	if h.root, err = findRoot(); err != nil {
		return err
	}
	h.out = h.opts.Out
	if h.out == "" {
		h.out = filepath.Join(h.root, "bench", "results")
	}
	if h.out, err = filepath.Abs(h.out); err != nil {
		return err
	}
	if err := os.MkdirAll(h.out, 0o755); err != nil {
		return err
	}
	if h.self, err = os.Executable(); err != nil {
		return err
	}
	if h.tmp, err = h.sup.tempDir("bespoke-bench-"); err != nil {
		return err
	}
	if h.opts.Keep {
		h.logf("temporary directory (kept): %s", h.tmp)
	}
	h.machine = describeMachine(ctx, h.root)
	h.logf("machine: %s, %d CPUs, %s; %s", h.machine.CPU, h.machine.CPUs, h.machine.Memory, h.machine.Go)
	if err := h.findPage(); err != nil {
		return err
	}
	h.logf("page: %s (%d bytes, %d items)", h.page.File, len(h.page.body), countElements(h.page.body, h.sel.Card))
	if err := h.startOrigin(ctx); err != nil {
		return err
	}
	h.buildBespoke(ctx)
	h.buildCaddy(ctx)
	h.findTools(ctx)
	h.prepareTargets(ctx)
	active := h.active()
	if len(active) == 0 {
		h.note("no target can run")
	} else {
		for r := 1; r <= h.opts.Rounds; r++ {
			if err := h.round(ctx, r, active); err != nil {
				return err
			}
		}
	}
	if h.opts.Micro {
		h.micro = h.runMicro(ctx)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return h.writeResults()
}

func (h *harness) findPage() error {
	name := h.opts.Page
	p := pageInfo{Name: name}
	switch {
	case strings.HasSuffix(name, ".html"):
		abs, err := filepath.Abs(name)
		if err != nil {
			return err
		}
		p.Dir, p.Path, p.File = filepath.Dir(abs), "/"+filepath.Base(abs), abs
	case name == "demo":
		p.Dir, p.Path = filepath.Join(h.root, "testdata", "demo", "site"), "/"
		p.File = filepath.Join(p.Dir, "index.html")
	default:
		p.Dir, p.Path = filepath.Join(h.root, "testdata", "pages"), "/"+name+".html"
		p.File = filepath.Join(p.Dir, name+".html")
		if _, err := os.Stat(p.File); err != nil && name == "shop" {
			p.Note = "testdata/pages/shop.html is missing; serving the demo shop (testdata/demo/site/index.html) instead"
			p.Name, p.Dir, p.Path = "demo", filepath.Join(h.root, "testdata", "demo", "site"), "/"
			p.File = filepath.Join(p.Dir, "index.html")
		}
	}
	b, err := os.ReadFile(p.File)
	if err != nil {
		return fmt.Errorf("-page %s: %w", name, err)
	}
	p.body = string(b)
	h.page = p
	h.sel = selectorsFor(p.Name)
	if err := h.writeSite(); err != nil {
		return err
	}
	if strings.HasSuffix(name, ".html") {
		h.note("%s is not one of the saved pages: the edits use the demo shop's selectors (%s, %s, ...)", name, h.sel.Inner, h.sel.Attr)
	}
	if p.Note != "" {
		h.note("%s", p.Note)
	}
	return nil
}

// warmupPages are served beside the page, each with a third of its
// items: a visitor's first view is one of them, so a returning visitor's
// seen-filter holds a third of the page's items, as if seen elsewhere on
// the site. (After a view of the page itself, every item would be seen and
// hide_seen would leave a near-empty page.)
var warmupPages = []string{"/seen-warmup-1.html", "/seen-warmup-2.html"}

// returningVisitors is how many returning visitors the load sends in
// turn: each is made by a first view of a warm-up page (alternately),
// with its own visitor id, experiment buckets and signed seen-filter
// cookie, so that no cache of one visitor's cookie or decision serves
// most requests. Their cookies stay as the first view set them: carried
// from response to response, a visitor would soon have seen every item,
// and hide_seen would leave a near-empty page.
const returningVisitors = 32

// visitorPaths are the first views that make the returning visitors.
func visitorPaths() []string {
	ps := make([]string, returningVisitors)
	for i := range ps {
		ps[i] = warmupPages[i%len(warmupPages)]
	}
	return ps
}

// writeSite writes what the origin serves: the page, and the warm-up
// pages.
func (h *harness) writeSite() error {
	h.page.served = filepath.Join(h.tmp, "site")
	if err := os.MkdirAll(h.page.served, 0o755); err != nil {
		return err
	}
	name := strings.TrimPrefix(h.page.Path, "/")
	if name == "" {
		name = "index.html"
	}
	if err := os.WriteFile(filepath.Join(h.page.served, name), []byte(h.page.body), 0o644); err != nil {
		return err
	}
	for i, p := range warmupPages {
		part := keepEvery(h.page.body, h.sel.Card, 3, i)
		if err := os.WriteFile(filepath.Join(h.page.served, strings.TrimPrefix(p, "/")), []byte(part), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// startOrigin starts the origin every proxy forwards to; it lives for the
// whole run.
func (h *harness) startOrigin(ctx context.Context) error {
	addr, err := freePort()
	if err != nil {
		return err
	}
	p, err := h.sup.start(startOpts{
		name: "origin", argv: []string{h.self, "origin", "-dir", h.page.served, "-listen", addr},
		env: []string{"GOMAXPROCS=" + strconv.Itoa(targetProcs)}, dir: h.root, logs: h.tmp, ready: helperReady,
	})
	if err != nil {
		return err
	}
	h.origin, h.originURL = p, "http://"+addr
	if err := p.waitReady(ctx, h.originURL+h.page.Path, 20*time.Second); err != nil {
		return err
	}
	h.logf("origin on %s (process %d)", h.originURL, p.pid())
	return nil
}

func (h *harness) buildBespoke(ctx context.Context) {
	bin := filepath.Join(h.tmp, "bespoke")
	if h.opts.Bespoke != "" {
		abs, err := filepath.Abs(h.opts.Bespoke)
		if err != nil {
			h.bespokeErr = err.Error()
			return
		}
		bin = abs
		h.note("bespoke is %s, given with -bespoke, not built from this tree", h.opts.Bespoke)
	} else {
		h.logf("building bespoke (go build ./host/cmd/bespoke)")
		out, err := run(ctx, h.root, nil, "go", "build", "-o", bin, "./host/cmd/bespoke")
		if err != nil {
			h.bespokeErr = "build failed: " + firstLines(out, 3)
			h.note("bespoke does not build: %s", firstLines(out, 3))
			return
		}
	}
	h.bespoke = bin
	help, _ := run(ctx, h.root, nil, bin, "serve", "-h")
	// Three bespoke processes run at once: the admin listener's fixed
	// default port would collide.
	if strings.Contains(string(help), "-admin") {
		h.bespokeArg = append(h.bespokeArg, "--admin=")
	}
}

// buildCaddy builds Caddy with the bespoke module (caddy/cmd/caddy-bespoke,
// a Go module of its own), when a Caddy target is to run.
func (h *harness) buildCaddy(ctx context.Context) {
	want := false
	for _, name := range h.opts.Targets {
		if d := findDef(name); d != nil && d.kind == kindCaddy {
			want = true
		}
	}
	if !want {
		return
	}
	// Not h.tmp/caddy-bespoke: that is the target's directory.
	bin := filepath.Join(h.tmp, "bin", "caddy-bespoke")
	h.logf("building caddy-bespoke (go build ./cmd/caddy-bespoke in caddy/)")
	out, err := run(ctx, filepath.Join(h.root, "caddy"), nil, "go", "build", "-o", bin, "./cmd/caddy-bespoke")
	if err != nil {
		h.caddyErr = "build failed: " + firstLines(out, 3)
		h.note("caddy-bespoke does not build: %s", firstLines(out, 3))
		return
	}
	h.caddy = bin
}

func (h *harness) findTools(ctx context.Context) {
	if p, err := exec.LookPath("nginx"); err == nil {
		h.nginx = p
		out, _ := run(ctx, h.root, nil, p, "-v")
		h.machine.Nginx = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "nginx version:"))
	} else {
		h.machine.Nginx = "not installed"
	}
	if p, err := exec.LookPath("wrk"); err == nil {
		h.wrk = p
		out, _ := run(ctx, h.root, nil, p, "-v")
		h.machine.Wrk, _, _ = strings.Cut(firstLines(out, 1), " [")
	} else {
		h.machine.Wrk = "not installed"
	}
}

func (h *harness) active() []*target {
	var a []*target
	for _, t := range h.targets {
		if t.skip == "" {
			a = append(a, t)
		}
	}
	return a
}

// prepareTargets renders each target's configuration and checks it with
// the tool that will run it.
func (h *harness) prepareTargets(ctx context.Context) {
	names := h.opts.Targets
	for i := 0; i < len(names); i++ {
		name := names[i]
		t := &target{targetDef: *findDef(name)}
		h.targets = append(h.targets, t)
		if err := h.prepare(ctx, t); err != nil {
			t.skip = err.Error()
		}
		if t.skip != "" {
			h.logf("%-16s skipped: %s", t.Name, t.skip)
			// -quick still gives a bespoke figure when hide_seen cannot run.
			if name == "bespoke-seen" && h.opts.quickSet && h.bespoke != "" {
				names = append(names[:i+1:i+1], append([]string{"bespoke-edits"}, names[i+1:]...)...)
				h.note("-quick: bespoke-seen cannot run, so bespoke-edits is measured in its place")
			}
		} else {
			h.logf("%-16s ready to run: %s", t.Name, t.Desc)
		}
	}
}

func (h *harness) prepare(ctx context.Context, t *target) error {
	if t.kind == kindOrigin {
		t.base, t.url = h.originURL, h.originURL+h.page.Path
		return nil
	}
	addr, err := freePort()
	if err != nil {
		return err
	}
	t.addr, t.base, t.url = addr, "http://"+addr, "http://"+addr+h.page.Path
	if t.vary != "" {
		t.url += "?" + varyQuery + t.vary
	}
	t.dir = filepath.Join(h.tmp, t.Name)
	if err := os.MkdirAll(t.dir, 0o755); err != nil {
		return err
	}
	sel := h.sel
	if t.absent {
		sel = absentSelectors
	}
	data := baseTemplateData(sel)
	switch t.kind {
	case kindBespoke:
		if h.bespoke == "" {
			return fmt.Errorf("not available: bespoke %s", h.bespokeErr)
		}
		for _, s := range []string{sel.Inner, sel.Attr, sel.Class, sel.Before, sel.Remove, sel.Card} {
			if _, err := findElement(h.page.body, s); err != nil && t.wantEdits {
				h.note("%s: %v on %s: that edit will do nothing", t.Name, err, h.page.Name)
			}
		}
		t.config = filepath.Join(t.dir, t.file)
		if err := renderTemplate(filepath.Join(h.root, "bench", "peers", "bespoke", t.file), t.config, data); err != nil {
			return err
		}
		out, err := run(ctx, h.root, nil, h.bespoke, "check", t.config)
		if err != nil {
			return fmt.Errorf("not available: %s", firstLines(out, 3))
		}
	case kindCaddy:
		if h.caddy == "" {
			return fmt.Errorf("not available: caddy-bespoke %s", h.caddyErr)
		}
		if t.rules != "" {
			data.Rules = t.rules
			if err := renderTemplate(filepath.Join(h.root, "bench", "peers", "bespoke", t.rules), filepath.Join(t.dir, t.rules), data); err != nil {
				return err
			}
		}
		data.Dir, data.Listen, data.Origin = t.dir, t.addr, strings.TrimPrefix(h.originURL, "http://")
		t.config = filepath.Join(t.dir, "Caddyfile")
		if err := renderTemplate(filepath.Join(h.root, "bench", "peers", "caddy", t.file), t.config, data); err != nil {
			return err
		}
		out, err := run(ctx, t.dir, caddyEnv(t), h.caddy, "validate", "--adapter", "caddyfile", "--config", t.config)
		if err != nil {
			return fmt.Errorf("not available: caddy validate: %s", firstLines(out, 3))
		}
	case kindNginx:
		if h.nginx == "" {
			return errors.New("nginx not installed: apt-get install nginx-light")
		}
		if t.wantEdits {
			if err := pageAnchors(h.page.body, h.sel, &data); err != nil {
				return fmt.Errorf("not available: the page lacks what sub_filter must match: %v", err)
			}
		}
		if err := h.renderNginx(t, data); err != nil {
			return err
		}
		out, err := run(ctx, t.dir, nil, h.nginxArgs(t, "-t")...)
		if err != nil {
			return fmt.Errorf("not available: nginx -t: %s", firstLines(out, 3))
		}
	}
	return nil
}

// caddyEnv keeps Caddy's data and configuration in the run's directory.
func caddyEnv(t *target) []string {
	return []string{"XDG_DATA_HOME=" + filepath.Join(t.dir, "data"), "XDG_CONFIG_HOME=" + filepath.Join(t.dir, "config"), "HOME=" + t.dir}
}

// renderNginx writes t's nginx.conf, with the run's ports and directory.
func (h *harness) renderNginx(t *target, data templateData) error {
	data.Dir, data.Listen, data.Origin = t.dir, t.addr, strings.TrimPrefix(h.originURL, "http://")
	if os.Geteuid() == 0 {
		// nginx started by root hands its workers to "nobody", who could
		// not write the run's directory: they run as the caller instead.
		data.User = "root"
	}
	t.config = filepath.Join(t.dir, "nginx.conf")
	return renderTemplate(filepath.Join(h.root, "bench", "peers", "nginx", t.file), t.config, data)
}

func (h *harness) nginxArgs(t *target, extra ...string) []string {
	args := []string{h.nginx, "-p", t.dir, "-e", filepath.Join(t.dir, "error.log"), "-c", t.config, "-g", "daemon off;"}
	return append(args, extra...)
}

// startTarget starts t's process and waits until it serves the page.
func (h *harness) startTarget(ctx context.Context, t *target, round int) error {
	o := startOpts{name: fmt.Sprintf("%s-r%d", t.Name, round), dir: h.root, logs: h.tmp, env: []string{"GOMAXPROCS=" + strconv.Itoa(targetProcs)}}
	switch t.kind {
	case kindOrigin:
		t.proc = h.origin
		return nil
	case kindGoproxy:
		o.argv = []string{h.self, "goproxy", "-origin", h.originURL, "-listen", t.addr}
		o.ready = helperReady
	case kindBespoke:
		o.argv = append([]string{h.bespoke, "serve", "--origin", h.originURL, "--rules", t.config,
			"--listen", t.addr, "--access-log=false", "--cache-dir", "-"}, h.bespokeArg...)
		o.argv = append(o.argv, t.args...)
		if h.opts.Profile != "" {
			addr, err := freePort()
			if err != nil {
				return err
			}
			t.admin = addr
			o.argv = append(o.argv, "--admin="+addr) // the last --admin wins
		}
		o.ready = bespokeReady
	case kindNginx:
		o.argv, o.dir = h.nginxArgs(t), t.dir
	case kindCaddy:
		o.argv, o.dir = []string{h.caddy, "run", "--adapter", "caddyfile", "--config", t.config}, t.dir
		o.env = append(o.env, caddyEnv(t)...)
	}
	p, err := h.sup.start(o)
	if err != nil {
		return err
	}
	t.proc = p
	return p.waitReady(ctx, t.url, 60*time.Second)
}

func (h *harness) stopTarget(t *target) {
	if t.proc != nil && t.proc != h.origin {
		t.proc.stop()
	}
	t.proc = nil
}

// round measures every active target once: all throughputs, then all
// latencies at the run's fixed rate.
func (h *harness) round(ctx context.Context, r int, active []*target) error {
	h.logf("round %d/%d: starting %d targets", r, h.opts.Rounds, len(active))
	results := map[*target]*runResult{}
	var live []*target
	for _, t := range active {
		res := &runResult{Target: t.Name, Round: r}
		h.runs = append(h.runs, res)
		results[t] = res
		if err := h.startTarget(ctx, t, r); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			res.Error = "did not start: " + err.Error()
			h.logf("%-16s %s", t.Name, res.Error)
			h.stopTarget(t)
			continue
		}
		jars, err := captureJars(ctx, t.base, visitorPaths())
		if err != nil {
			res.Error = "cookie capture failed: " + err.Error()
			h.logf("%-16s %s", t.Name, res.Error)
			h.stopTarget(t)
			continue
		}
		t.jars = jars
		if r == 1 {
			t.verify = verifyTarget(ctx, t, h.page.body, h.sel)
			msg := t.verify.Summary()
			if t.verify.Problem != "" {
				msg += "; WARNING: " + t.verify.Problem
				h.note("%s does not do what it should: %s", t.Name, t.verify.Problem)
			}
			h.logf("%-16s check: %s", t.Name, msg)
		}
		live = append(live, t)
	}
	defer func() {
		for _, t := range live {
			h.stopTarget(t)
		}
	}()

	// Each round measures the targets in an order of its own (the same
	// in every run of the harness), so that a target's place in the
	// round, early or late, cold or after the busiest, does not favour
	// it round after round.
	live = roundOrder(live, r)
	h.logf("round %d order: %s", r, namesOf(live))
	for _, t := range live {
		if err := h.measureThroughput(ctx, t, results[t]); err != nil {
			return err
		}
	}
	if h.rate == 0 {
		h.pickRate(live, results)
	}
	for _, t := range live {
		if results[t].Throughput == nil {
			continue
		}
		if err := h.measureLatency(ctx, t, results[t]); err != nil {
			return err
		}
	}
	for _, t := range live {
		if t.proc != nil {
			g := readGroup(t.proc.pid())
			results[t].PeakRSSKiB, results[t].Processes = g.HWMKiB, g.Procs
		}
	}
	return nil
}

// roundOrder returns the targets in round r's order: a permutation drawn
// from the round's number, so that runs of the harness agree.
func roundOrder(ts []*target, r int) []*target {
	out := append([]*target(nil), ts...)
	rng := rand.New(rand.NewPCG(0x62656e6368, uint64(r)))
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func namesOf(ts []*target) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	return strings.Join(names, " ")
}

func (h *harness) loadConfig(t *target) load.Config {
	return load.Config{
		URL:      t.url,
		Header:   baseHeader(),
		Vary:     varyWith(t.jars),
		Conns:    h.opts.Conns,
		Duration: h.opts.Duration,
	}
}

// cpuSnap is the CPU time of the target, the origin, the harness and the
// whole machine, and when it was read.
type cpuSnap struct {
	target, origin, client, machine float64
	at                              time.Time
}

func (h *harness) snap(t *target) cpuSnap {
	return cpuSnap{
		target:  readGroup(t.proc.pid()).CPU,
		origin:  readGroup(h.origin.pid()).CPU,
		client:  selfCPU(),
		machine: machineBusy(),
		at:      time.Now(),
	}
}

// elsewhere is how many CPUs, on average between two snapshots, were busy
// with anything but the target, the origin and the harness: other
// tenants' work that makes the figures noisy.
func elsewhere(before, after cpuSnap, targetIsOrigin bool) float64 {
	ours := (after.target - before.target) + (after.client - before.client)
	if !targetIsOrigin {
		ours += after.origin - before.origin
	}
	secs := after.at.Sub(before.at).Seconds()
	if secs <= 0 {
		return 0
	}
	return max(0, (after.machine-before.machine-ours)/secs)
}

func per1k(cpu float64, requests int64) float64 {
	if requests == 0 {
		return 0
	}
	return cpu / float64(requests) * 1000
}

func (h *harness) measureThroughput(ctx context.Context, t *target, res *runResult) error {
	cfg := h.loadConfig(t)
	cfg.Duration = h.opts.Warmup
	if _, err := load.ClosedLoop(ctx, cfg); err != nil {
		return err
	}
	cfg.Duration = h.opts.Duration
	profiled := h.startProfile(ctx, t, res.Round, "")
	before := h.snap(t)
	lr, err := load.ClosedLoop(ctx, cfg)
	if err != nil {
		return err
	}
	after := h.snap(t)
	if err := <-profiled; err != nil {
		h.note("%s: no CPU profile in round %d: %v", t.Name, res.Round, err)
	}
	res.Throughput = lr
	res.CPUPer1k = per1k(after.target-before.target, lr.Sent)
	res.OriginCPUPer1k = per1k(after.origin-before.origin, lr.Sent)
	res.ClientCPUPer1k = per1k(after.client-before.client, lr.Sent)
	res.Elsewhere = elsewhere(before, after, t.kind == kindOrigin)
	h.countFailures(t, "throughput", lr)
	h.logf("round %d throughput %-16s %9s req/s  p99 %-9s cpu %.3f s/1k  failed %d%s",
		res.Round, t.Name, thousands(lr.Throughput), fmtDur(lr.Latency.P99), res.CPUPer1k, lr.Failed(), busyNote(res.Elsewhere))
	if h.opts.Wrk && h.wrk != "" && res.Round == 1 {
		res.WrkRPS, res.WrkProblem = h.runWrk(ctx, t)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msg := thousands(res.WrkRPS) + " req/s"
		if res.WrkProblem != "" {
			msg += " (" + res.WrkProblem + ")"
		}
		h.logf("round %d wrk        %-16s %s", res.Round, t.Name, msg)
	}
	return nil
}

func (h *harness) countFailures(t *target, phase string, lr *load.Result) {
	if n := lr.Failed(); n > 0 {
		h.failedRequests += n
		h.note("%s, %s: %d of %d requests failed (%s; first: %s)", t.Name, phase, n, lr.Sent, lr.StatusSummary(), lr.FirstError)
	}
}

// defaultRate is the rate of the latency runs: one rate for every run,
// so that the goals at the fixed rate (CPU per request, p99 added) mean
// the same from one run to the next.
const defaultRate = 800

// pickRate sets the rate of every latency run: defaultRate, or half the
// slowest target's throughput in the first round (to two significant
// digits) when that is lower, so that every target is compared at the
// same load and none is saturated.
func (h *harness) pickRate(live []*target, results map[*target]*runResult) {
	if h.opts.Rate > 0 {
		h.rate = h.opts.Rate
		h.rateNote = "set with -rate"
		return
	}
	slowest, name := math.Inf(1), ""
	for _, t := range live {
		if r := results[t].Throughput; r != nil && r.Throughput > 0 && r.Throughput < slowest {
			slowest, name = r.Throughput, t.Name
		}
	}
	if name == "" {
		h.rate = 100
		h.rateNote = "no throughput measured; 100 req/s"
		return
	}
	h.rate, h.rateNote = defaultRate, fmt.Sprintf("the fixed rate of every run; the slowest target, %s, served %s req/s in round 1", name, thousands(slowest))
	if half := roundSignificant(slowest/2, 2); half < defaultRate {
		h.rate = half
		h.rateNote = fmt.Sprintf("half of the slowest target's round-1 throughput (%s, %s req/s), below the usual %s req/s, which would come near saturating it", name, thousands(slowest), thousands(defaultRate))
	}
	h.logf("latency runs at %s req/s: %s", thousands(h.rate), h.rateNote)
}

func roundSignificant(v float64, digits int) float64 {
	if v <= 0 {
		return 0
	}
	p := math.Pow(10, math.Floor(math.Log10(v))-float64(digits-1))
	return math.Max(1, math.Floor(v/p)*p)
}

func (h *harness) measureLatency(ctx context.Context, t *target, res *runResult) error {
	cfg := h.loadConfig(t)
	cfg.Rate = h.rate
	profiled := h.startProfile(ctx, t, res.Round, "-fixed")
	before := h.snap(t)
	lr, err := load.OpenLoop(ctx, cfg)
	if err != nil {
		return err
	}
	after := h.snap(t)
	if err := <-profiled; err != nil {
		h.note("%s: no CPU profile of the latency run in round %d: %v", t.Name, res.Round, err)
	}
	res.Latency = lr
	res.CPUPer1kAtRate = per1k(after.target-before.target, lr.Sent)
	res.ElsewhereAtRate = elsewhere(before, after, t.kind == kindOrigin)
	h.countFailures(t, "latency", lr)
	h.logf("round %d latency    %-16s p50 %-9s p99 %-9s p99.9 %-9s max %-9s failed %d%s",
		res.Round, t.Name, fmtDur(lr.Latency.P50), fmtDur(lr.Latency.P99), fmtDur(lr.Latency.P999), fmtDur(lr.Latency.Max), lr.Failed(), busyNote(res.ElsewhereAtRate))
	return nil
}

var (
	wrkRPS    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	wrkSocket = regexp.MustCompile(`Socket errors:[^\n]*`)
)

// runWrk measures t's throughput with wrk and peers/wrk/vary.lua, the same
// connections, duration and request variation.
func (h *harness) runWrk(ctx context.Context, t *target) (float64, string) {
	threads := min(2, h.opts.Conns)
	secs := max(1, int(math.Round(h.opts.Duration.Seconds())))
	env := []string{"BENCH_COOKIES=" + strings.Join(t.jars, "\n"), "BENCH_WRK_THREADS=" + strconv.Itoa(threads)}
	out, err := run(ctx, h.root, env, h.wrk, "-t", strconv.Itoa(threads), "-c", strconv.Itoa(h.opts.Conns),
		"-d", strconv.Itoa(secs)+"s", "--timeout", "10s", "-s", filepath.Join(h.root, "bench", "peers", "wrk", "vary.lua"), t.url)
	if err != nil {
		return 0, "wrk failed: " + firstLines(out, 2)
	}
	m := wrkRPS.FindSubmatch(out)
	if m == nil {
		return 0, "no Requests/sec in wrk's output"
	}
	rps, _ := strconv.ParseFloat(string(m[1]), 64)
	var problems []string
	if m := wrkNon2xx.FindSubmatch(out); m != nil {
		problems = append(problems, string(m[1])+" non-2xx/3xx")
	}
	if m := wrkSocket.Find(out); m != nil {
		problems = append(problems, string(m))
	}
	return rps, strings.Join(problems, "; ")
}

// noisyCPUs is how busy other processes may keep the machine before a
// figure is flagged as noisy.
const noisyCPUs = 0.25

func busyNote(cpus float64) string {
	if cpus < noisyCPUs {
		return ""
	}
	return fmt.Sprintf("  (other processes busy: %.1f CPUs)", cpus)
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.0fs", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	}
}

// thousands formats v rounded, with thin separators: 12,345.
func thousands(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// startProfile asks t's admin listener, with -profile, for a CPU profile
// as long as a run (in whole seconds, as net/http/pprof takes them), and
// writes it to TARGET-rROUND.pprof for a throughput run, with suffix
// "-fixed" for the latency run at the fixed rate; the channel says when
// it is done. The two differ: at a fixed rate the threads go idle
// between requests, and waking them is much of the cost. A profile
// costs the target a little CPU (a signal 100 times a second), so a run
// that takes them measures a little less than one that does not.
func (h *harness) startProfile(ctx context.Context, t *target, round int, suffix string) <-chan error {
	done := make(chan error, 1)
	if h.opts.Profile == "" || t.admin == "" {
		done <- nil
		return done
	}
	secs := max(1, int(h.opts.Duration/time.Second))
	go func() {
		done <- func() error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet,
				fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", t.admin, secs), nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("admin listener answered %s", resp.Status)
			}
			if err := os.MkdirAll(h.opts.Profile, 0o755); err != nil {
				return err
			}
			f, err := os.Create(filepath.Join(h.opts.Profile, fmt.Sprintf("%s-r%d%s.pprof", t.Name, round, suffix)))
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, resp.Body); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		}()
	}()
	return done
}
