package server

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/geo"
	"github.com/bespoke-edge/bespoke/host/internal/metrics"
)

// geoIP keeps a server's GeoIP database current: the file is loaded
// again when it changes (a weekly geoipupdate, say), by the watch and by
// a reload, without a configuration reload or a restart; a file that
// does not load leaves the one serving, and is logged once.
type geoIP struct {
	db  *geo.DB
	log *slog.Logger
	// reloads, errors, faults are bespoke_geoip_*'s counts.
	reloads, errors, faults atomic.Int64
	// failed is the stamp of the file that last failed to load: it is
	// logged once, and tried again when it changes or a reload asks.
	failed atomic.Pointer[string]
	// short is the stamp of the file last not opened for want of the
	// process's resources, logged once and tried again at each look.
	short atomic.Pointer[string]
}

// newGeoIP serves db, recording in m; forget takes its metrics out.
func newGeoIP(db *geo.DB, log *slog.Logger, m *metrics.Metrics) (*geoIP, func()) {
	g := &geoIP{db: db, log: log}
	db.OnFault(func(first bool) {
		g.faults.Add(1)
		if first {
			log.Warn("GeoIP database written in place under its mapping: lookups find nothing until it loads again", "geoip", db.Path(),
				"hint", "write a new file and rename it over the old one, as geoipupdate does")
		}
	})
	forget := m.GeoIP(func() metrics.GeoIPStats {
		st := metrics.GeoIPStats{Reloads: g.reloads.Load(), Errors: g.errors.Load(), Faults: g.faults.Load()}
		if meta, ok := db.Meta(); ok {
			st.Built = meta.Built.Unix()
		}
		return st
	})
	return g, forget
}

// reload loads the file again if it changed; why names what asked
// (watch, reload). A reload asked for logs a file that failed again; the
// watch logs each failing file once.
func (g *geoIP) reload(why string) {
	stamp, changed := g.db.Changed()
	if !changed {
		return
	}
	if why == "watch" {
		if last := g.failed.Load(); last != nil && *last == stamp {
			return
		}
	}
	start := time.Now()
	loaded, err := g.db.Reopen()
	switch {
	case err != nil && outOfResources(err):
		// Says nothing of the file (every file descriptor in use by a
		// load): taken as failed, it was not tried again until it
		// changed, and the database written in place found nothing
		// until then.
		if last := g.short.Swap(&stamp); last == nil || *last != stamp {
			g.errors.Add(1)
			g.log.Warn("GeoIP database not opened for want of the process's resources; tried again at the next look, the one before goes on", "geoip", g.db.Path(), "by", why, "err", err)
		}
	case err != nil:
		g.errors.Add(1)
		g.failed.Store(&stamp)
		g.log.Error("GeoIP database not loaded; the one before goes on", "geoip", g.db.Path(), "by", why, "err", err)
	case loaded:
		g.reloads.Add(1)
		g.failed.Store(nil)
		g.short.Store(nil)
		meta, _ := g.db.Meta()
		g.log.Info("GeoIP database loaded", "geoip", g.db.Path(), "by", why, "type", meta.Type, "built", meta.Built.Format(time.RFC3339), "took", time.Since(start).Round(time.Millisecond))
	}
}

// watch loads the file again once it changed and then stayed the same
// for one look, every interval, until ctx ends: a file being written
// (in place, or a copy not yet renamed) is not loaded, nor rejected,
// half written.
func (g *geoIP) watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var pending string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		stamp, changed := g.db.Changed()
		if !changed {
			pending = ""
			continue
		}
		if stamp != pending {
			pending = stamp
			continue
		}
		g.reload("watch")
	}
}

// outOfResources reports whether err says the process, or the system,
// ran out of what opening or mapping a file takes (file descriptors,
// memory), rather than anything of the file.
func outOfResources(err error) bool {
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOMEM, syscall.ENOBUFS} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
