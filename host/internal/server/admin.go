package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/bespoke-edge/bespoke/host/internal/lograte"
	"github.com/bespoke-edge/bespoke/host/internal/webguard"
)

// AdminHandler serves the operator's endpoints, meant for a listener that
// is not reachable from the internet. A browser on the operator's machine
// can still reach it, so requests a web page could make are refused (see
// guardAdmin), and with a token configured every endpoint but the health
// checks needs it:
//
//	GET  /metrics            Prometheus metrics
//	GET  /healthz            200 while the process runs
//	GET  /readyz             200 once every route's plugin is loaded, else 503
//	                         (and 503 while shutting down)
//	GET  /_bespoke/status    routes, plugins, generations, last reloads (JSON);
//	                         with a configuration file (Live), its generation
//	                         and last reload on each route
//	POST /_bespoke/reload    reload every route, or ?route=NAME; 200 when all
//	                         loaded, 422 when one was rejected (it keeps
//	                         serving its previous plugin); with a
//	                         configuration file and no route, the file
//	                         too once it changed (422 when rejected: the
//	                         configuration serving goes on)
//	GET  /debug/pprof/       Go's runtime profiles (CPU, heap, goroutines,
//	                         execution trace), for `go tool pprof`
func (s *Server) AdminHandler() http.Handler { return s.adminHandler(s) }

// adminTarget is what the admin API reports on and reloads: a Server,
// or a Live and the configuration it serves.
type adminTarget interface {
	isDraining() bool
	Ready() bool
	status() any
	Reload(ctx context.Context, name string) ([]RouteResult, error)
}

func (s *Server) isDraining() bool { return s.draining.Load() }
func (s *Server) status() any      { return s.Status() }

// adminHandler is AdminHandler answering for t, with s's metrics, token
// and hosts.
func (s *Server) adminHandler(t adminTarget) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Metrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if t.isDraining() {
			http.Error(w, "not ready: shutting down", http.StatusServiceUnavailable)
			return
		}
		if !t.Ready() {
			http.Error(w, "not ready: a plugin is not loaded yet", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("GET /_bespoke/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, t.status())
	})
	mux.HandleFunc("POST /_bespoke/reload", func(w http.ResponseWriter, r *http.Request) {
		route := r.URL.Query().Get("route")
		s.log.Info("reload asked over the admin API", "remote", remoteHost(r), "route", route)
		res, err := t.Reload(r.Context(), route)
		if err != nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		status := http.StatusOK
		for _, x := range res {
			if x.Error != "" {
				status = http.StatusUnprocessableEntity
			}
		}
		writeJSON(w, status, res)
	})
	// The profiles are what an operator needs to say where a busy proxy's
	// CPU goes; they are behind the same guard as everything else here.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return guardAdmin(mux, s.adminToken, s.cfg.AdminHosts, s.log)
}

// remoteHost is the address r's connection came from, without its port.
func remoteHost(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// guardAdmin refuses admin requests a web page could have made, or that
// come under a name the operator did not give the listener (see package
// webguard): a Host other than a loopback name or address or one of hosts,
// an Origin other than the listener's own, or a Sec-Fetch-Site other than
// same-origin or none (a cross-site form or fetch). With a token, every
// request but /healthz and /readyz must carry Authorization: Bearer token.
// /healthz and /readyz, which show and change nothing, answer under any
// Host, for orchestrators' probes. A refusal is logged with where it
// came from (never the token sent), at most warnBurst of a reason in
// warnPeriod: someone guessing the token shows without flooding the log.
func guardAdmin(next http.Handler, token string, hosts []string, log *slog.Logger) http.Handler {
	allowed := webguard.NewHosts(hosts)
	refusals := &lograte.Set{Period: warnPeriod, Burst: warnBurst}
	refused := func(r *http.Request, reason string) {
		if ok, left := refusals.Allow(reason, time.Now()); ok {
			args := []any{"reason", reason, "remote", remoteHost(r), "method", r.Method, "path", r.URL.Path, "host", r.Host}
			if left > 0 {
				args = append(args, "left_out", left)
			}
			log.Warn("admin request refused", args...)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probe := r.URL.Path == "/healthz" || r.URL.Path == "/readyz"
		if !probe && !allowed.Has(r.Host) {
			refused(r, "host")
			http.Error(w, "403 Forbidden: this Host is not the admin listener's (add it to admin_hosts)", http.StatusForbidden)
			return
		}
		if why := webguard.CrossSite(r); why != "" {
			refused(r, "cross_site")
			http.Error(w, "403 Forbidden: "+why, http.StatusForbidden)
			return
		}
		if token != "" && !probe {
			got, ok := bearer(r.Header.Get("Authorization"))
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
				refused(r, "token")
				w.Header().Set("WWW-Authenticate", `Bearer realm="bespoke admin"`)
				http.Error(w, "401 Unauthorized: send Authorization: Bearer <admin token>", http.StatusUnauthorized)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// bearer returns the token of an Authorization header of the Bearer
// scheme. The scheme is case-insensitive (RFC 9110 11.1: "bearer" and
// "BEARER" are Bearer) and one or more spaces part it from the token.
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimLeft(token, " "), true
}

// RouteStatus describes a route for the status endpoint.
type RouteStatus struct {
	Name       string    `json:"name"`
	Host       string    `json:"host,omitempty"`
	Path       string    `json:"path"`
	Origin     string    `json:"origin"`
	Plugin     string    `json:"plugin,omitempty"`
	Generation int64     `json:"generation"`
	Rules      int       `json:"rules"`
	Loaded     time.Time `json:"loaded,omitzero"`
	LastReload *struct {
		At    time.Time `json:"at"`
		Error string    `json:"error,omitempty"`
	} `json:"last_reload,omitempty"`
	// Config is the configuration file's generation and last reload, for
	// bespoke serve --config (see Live), the same on every route.
	Config *ConfigStatus `json:"config,omitempty"`
	// InFlight is Module.InFlight: the requests using this generation,
	// their responses included, and once more each one deciding (the
	// field's name is kept for the scripts that read it).
	InFlight int64 `json:"decisions_in_flight"`
}

// Status describes every route.
func (s *Server) Status() []RouteStatus {
	var out []RouteStatus
	for _, r := range s.Routes {
		st := RouteStatus{Name: r.Config.Name, Host: r.Config.Host, Path: r.Config.Path, Origin: r.Config.Origin}
		if p := r.Proxy.Site(); p != nil {
			st.Plugin, st.Generation, st.Rules, st.Loaded = p.Name, p.Generation, len(p.Manifest().Rules), p.Loaded
			st.InFlight = p.Module().InFlight()
		}
		if last := r.Reloader.Last(); last != nil {
			st.LastReload = &struct {
				At    time.Time `json:"at"`
				Error string    `json:"error,omitempty"`
			}{At: last.At}
			if last.Err != nil {
				st.LastReload.Error = last.Err.Error()
			}
		}
		out = append(out, st)
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
