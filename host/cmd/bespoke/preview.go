package main

import (
	"context"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/config"
	"github.com/bespoke-edge/bespoke/host/internal/demo"
	"github.com/bespoke-edge/bespoke/host/internal/preview"
	"github.com/bespoke-edge/bespoke/internal/ir"
)

func previewCmd(args []string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return previewContext(ctx, args, stdout, stderr)
}

// previewContext serves the preview until ctx is done.
func previewContext(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("preview", stdout, "[RULES.yaml | --rules FILE] [--origin URL | --pages DIR] [--listen ADDR]")
	rulesFile := fs.String("rules", "", "rule `file` to preview, reloaded as it changes (default: the bundled demo rules)")
	origin := fs.String("origin", "", "origin `URL` to fetch pages from")
	pages := fs.String("pages", "", "`directory` of saved pages to use as the origin (default: the rule file's pages:, or the demo site)")
	listen := fs.String("listen", "127.0.0.1:8081", "`address` of the preview; keep it on loopback: it shows the rules and fetches from the origin")
	var hosts hostsFlag
	fs.Var(&hosts, "preview-host", "a Host `name` (or address prefix, 10.0.0.0/8) the preview answers to besides loopback ones and --listen's (repeatable)")
	var g geoFlags
	g.register(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := givenEmpty(fs, args, "give one, or leave OPTION out to use the bundled demo's rules", "rules"); err != nil {
		return err
	}
	// The file may be named as check, test and explain take it.
	switch {
	case len(pos) > 1:
		return usagef("unexpected argument %q: preview reads one rule file", pos[1])
	case len(pos) == 1 && *rulesFile != "":
		return usagef("unexpected argument %q: the rules are already given with --rules", pos[0])
	case len(pos) == 1 && pos[0] == "":
		return usagef("an empty argument names no rule file")
	case len(pos) == 1:
		*rulesFile = pos[0]
	}
	if *origin != "" && *pages != "" {
		return usagef("give --origin or --pages, not both")
	}
	rc, closeGeo, err := g.config()
	if err != nil {
		return err
	}
	defer closeGeo()

	t := preview.Target{Context: rc}
	var originHandler http.Handler
	switch {
	case *rulesFile == "":
		t.File = demo.RulesName
		t.Read = func() ([]byte, error) { return demo.Rules(), nil }
		if *origin == "" && *pages == "" {
			originHandler = demo.Handler()
		}
	default:
		path := *rulesFile
		t.File = path
		t.Read = func() ([]byte, error) { return os.ReadFile(path) }
		if *origin == "" && *pages == "" {
			src, err := os.ReadFile(path)
			if err != nil {
				// Said as check says it, with the option that named it.
				if why := config.Readable(path); why != nil {
					err = why
				}
				if len(pos) == 0 {
					return fmt.Errorf("--rules %q: %v", path, err)
				}
				return fmt.Errorf("%s: %v", path, err)
			}
			dir := pagesOf(src)
			if dir == "" {
				return usagef("give --origin URL or --pages DIR, or add pages: DIR to %s", path)
			}
			*pages = ir.FromFile(filepath.Dir(path), dir)
		}
	}
	if *pages != "" {
		if st, err := os.Stat(*pages); err != nil || !st.IsDir() {
			return usagef("--pages %q: not a directory", *pages)
		}
		originHandler = preview.StaticOrigin(os.DirFS(*pages))
	}
	if originHandler != nil {
		u, stop, err := serveLoopback(originHandler)
		if err != nil {
			return err
		}
		defer stop()
		*origin = u
	}
	u, err := url.Parse(*origin)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return usagef("--origin %q: write an absolute URL such as http://127.0.0.1:3000", *origin)
	}
	t.Origin = u
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return inUse(err, "--listen")
	}
	srv, err := preview.New([]preview.Target{t}, preview.Options{Hosts: append(hosts, listenHosts(*listen, ln.Addr())...)})
	if err != nil {
		ln.Close()
		return err
	}
	defer srv.Close()
	fmt.Fprintf(stdout, "bespoke preview of %s (pages from %s) on http://%s/\n", t.File, t.Origin, displayAddr(ln.Addr()))
	warnBeyondLoopback(stderr, "preview", ln.Addr())
	return servePreview(ctx, ln, srv, nil)
}

// warnBeyondLoopback says, when a listener of the operator's or the
// editors' (the preview, the admin API) takes connections from beyond
// this machine, that its Host check is no access control: whoever
// reaches it can use it.
func warnBeyondLoopback(stderr io.Writer, what string, a net.Addr) {
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Unmap().IsLoopback() {
		return
	}
	fmt.Fprintf(stderr, "bespoke: warning: the %s listens on %s, beyond this machine, and asks no password: anyone who reaches it can use it (keep it on 127.0.0.1, or behind a proxy that authenticates)\n", what, a)
}

// listenHosts returns the Host values that name a preview listening on
// addr (as given: a name stays a name) at a, besides the loopback ones it
// answers to anyway: none when it listens on every interface, else its
// host (the name given and the address it took) with the port, and alone
// too on port 80, which browsers leave out.
func listenHosts(addr string, a net.Addr) []string {
	_, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return nil
	}
	var out []string
	for _, hp := range []string{addr, a.String()} {
		h, _, err := net.SplitHostPort(hp)
		if err != nil || h == "" {
			continue
		}
		if ip, err := netip.ParseAddr(h); err == nil && (ip.IsUnspecified() || ip.IsLoopback()) {
			continue
		}
		for _, v := range []string{net.JoinHostPort(h, port), h} {
			if v == h && port != "80" || slices.Contains(out, v) {
				continue
			}
			out = append(out, v)
		}
	}
	return out
}

// servePreview serves the preview on ln until ctx is done; errLog, when
// not nil, takes the server's errors (Go's standard logger's otherwise).
func servePreview(ctx context.Context, ln net.Listener, h http.Handler, errLog *stdlog.Logger) error {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: errLog}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	if err := hs.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// serveLoopback serves h on a loopback port and returns its URL.
func serveLoopback(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}
