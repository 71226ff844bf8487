package proxy

import (
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/editmap"
	"github.com/bespoke-edge/bespoke/host/internal/rewrite"
)

// mapPageLimit is the longest page (decoded) that gets an edit map: a
// splice keeps the page it reads, to read it again should it stop
// matching the map, and the rewrite's memory bound must hold twice it.
const mapPageLimit = 512 << 10

// MapStats counts what the edit maps did (see RATIONALE.md, "Parse once,
// splice per visitor").
type MapStats struct {
	Hits   atomic.Int64 // pages spliced with their map, whole
	Misses atomic.Int64 // pages rewritten in full: no map (or one of another program)
	// TooLarge counts the pages rewritten in full though their map was
	// cached: with the visitor's edits, the rewrite could reach its
	// memory bound (rewrite_buffer), which only a full rewrite keeps.
	TooLarge  atomic.Int64
	Fallbacks atomic.Int64 // pages that stopped matching their map: rewritten in full from there
	// Resumed counts the pages that stopped matching their map and
	// matched it again further on: rewritten in full only in between
	// (see rewrite's resync.go).
	Resumed atomic.Int64
	// Volatile counts the hits whose page differed from the map's in
	// volatile values only (see rewrite's volatile.go).
	Volatile atomic.Int64
	// Streamed counts the pages rewritten in full without a map because
	// their origin sends them as it renders them, with pauses (see
	// Cache.Streamed), which a splice would hold up to a block through.
	Streamed atomic.Int64
}

// defaultStreamPause is how long the origin of a page may wait mid-page
// before the page is taken for one sent as it is rendered
// (Config.StreamPause): about what holding a
// few KiB of it through such a pause may cost the visitor, and longer
// than a busy origin's reads wait.
const defaultStreamPause = 50 * time.Millisecond

// EditMaps returns the proxy's edit map cache (nil when disabled).
func (p *Proxy) EditMaps() *editmap.Cache { return p.maps }

// mapKey returns the identity of the page of resp for the edit map
// cache: the route, the URL, and the origin's strong ETag or else the
// length it said; and its URL's key, for an identity the cache has not
// seen (see package editmap). A page that says neither (a page streamed
// as it is made, chunked, as most servers send what they render) is
// known by its URL alone: the key decides only how often a map is found
// (the Splicer checks every block), and most pages served so, rendered
// for each request, still come back the same or differ in a few values.
// ok is false when the cache is off.
func (p *Proxy) mapKey(resp *http.Response) (key, page editmap.Key, ok bool) {
	if p.maps == nil {
		return 0, 0, false
	}
	et := resp.Header.Get("Etag")
	if strings.HasPrefix(et, "W/") {
		et = ""
	}
	u := resp.Request.URL
	page = editmap.PageKey(p.cfg.Route, resp.Request.Host, u.Path, u.RawQuery)
	if key, ok = editmap.NewKey(et, resp.ContentLength, p.cfg.Route, resp.Request.Host, u.Path, u.RawQuery); !ok {
		key = page
	}
	return key, page, true
}

// newRewriter makes the page's rewriter: a Splicer when the cache has
// the page's map, else a Rewriter, with a MapBuilder beside it when the
// page should get a map.
func (b *rewritingBody) newRewriter(edits []rewrite.Edit) {
	if b.maps != nil && b.maps.Streaming(b.mapKey) {
		b.mapStats.Streamed.Add(1)
	} else if b.maps != nil {
		m, from := b.maps.Lookup(b.mapKey, b.pageKey, b.prog)
		b.usedKey = from
		if m != nil {
			// A page streamed to the visitor as it is, where no edit of
			// this visitor's selects an element of the map's page, is
			// its own output: written from where it was read (writeTo),
			// not copied into out.
			opt := b.opt
			opt.Direct = b.to != nil && b.enc == nil && !b.precommit
			b.splicer = b.prog.NewSplicer(b.writer(), m, edits, opt)
			b.rw = b.splicer
			b.hookRewriter()
			return
		}
		b.mapStats.Misses.Add(1)
		// A URL whose map failed for another identity holds back this
		// one's too (a page that changes length with its text), and
		// makes it look for volatile values (one that changes length
		// with a request id).
		// (Want counts a miss: once for a page known by its URL alone,
		// which gets a map from its second view on.)
		if (!b.byURL || b.maps.Again(b.mapKey)) && b.maps.Want(b.mapKey) && (b.byURL || b.maps.Want(b.pageKey)) {
			b.builder = b.prog.NewMapBuilder(int(min(mapPageLimit, b.maxBytes)))
			if b.maps.Varies(b.mapKey) || b.maps.Varies(b.pageKey) {
				b.builder.LookForVolatile()
			}
		}
	}
	b.rewriter = b.prog.NewRewriter(b.writer(), edits, b.opt)
	b.rw = b.rewriter
	b.hookRewriter()
}

// hookRewriter lets a test wrap the page's rewriter (see
// testHookRewriter).
func (b *rewritingBody) hookRewriter() {
	if testHookRewriter != nil {
		b.rw = testHookRewriter(b.rw)
	}
}

// seenDone reports whether the page's items are all recorded, as its
// edit map tells (see Splicer.SeenDone): a page rewritten without a map
// says so only at its end.
func (b *rewritingBody) seenDone() bool {
	return b.splicer != nil && b.rw == pageRewriter(b.splicer) && b.splicer.SeenDone()
}

// mapped records, once the page is rewritten, what its map did, and
// stores the map a builder made.
func (b *rewritingBody) mapped() {
	switch {
	case b.splicer != nil:
		switch at := b.splicer.FellBack(); {
		case b.splicer.TooLarge():
			b.mapStats.TooLarge.Add(1)
		case !b.splicer.Used():
			b.mapStats.Misses.Add(1)
		case at >= 0 && b.splicer.Resumed():
			// The map serves the rest of the page, and the next: kept.
			// Unless it did not look for volatile values, which the
			// part that differed may be (a token): the next map does.
			b.mapStats.Resumed.Add(1)
			b.metrics.EditMapFallback(b.route, at)
			if _, looked := b.splicer.Map().Volatile(); !looked {
				b.maps.Failed(b.usedKey)
			}
		case at >= 0:
			b.mapStats.Fallbacks.Add(1)
			b.maps.Failed(b.usedKey)
			b.metrics.EditMapFallback(b.route, at)
		default:
			b.mapStats.Hits.Add(1)
			if b.splicer.Volatile() > 0 {
				b.mapStats.Volatile.Add(1)
			}
		}
	case b.builder != nil:
		m := b.builder.Close()
		b.maps.Put(b.mapKey, m)
		if b.pageKey != b.mapKey {
			b.maps.Put(b.pageKey, m)
		}
		b.dropBuilder()
	}
	// The map was found under the key it was used by: a page with a
	// validator or a length gets its URL's map when its own is gone.
	key := b.mapKey
	if b.splicer != nil && b.splicer.Used() {
		key = b.usedKey
	}
	if b.paused && b.maps.Paused(key, int(b.pausedAt)) {
		// Its origin waited mid-page, at the place a view of the map
		// waited before: the page's maps are not kept (its own and its
		// URL's), and the next few views get none.
		b.maps.Streamed(b.mapKey)
		if b.pageKey != b.mapKey {
			b.maps.Streamed(b.pageKey)
		}
	}
}

// dropBuilder lets the map builder go, without a map.
func (b *rewritingBody) dropBuilder() {
	if b.builder != nil {
		b.builder.Release()
		b.builder = nil
	}
}

// EditMapStats returns the counts of what the edit maps did.
func (p *Proxy) EditMapStats() *MapStats { return &p.mapStats }
