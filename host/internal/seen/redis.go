package seen

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bespoke-edge/bespoke/host/internal/reqctx"
)

// Defaults for the zero values of RedisConfig.
const (
	DefaultRedisPrefix  = "bespoke:"
	DefaultRedisTimeout = 20 * time.Millisecond
	DefaultRedisQueue   = 4096
	DefaultRedisWriters = 2
)

// maxVisitorID bounds a Redis key's visitor part: a longer id is not one
// the proxy issued, and is treated as no id.
const maxVisitorID = 256

// usableID reports whether a visitor id can key Redis: not empty, not too
// long, and without braces, which would move the key's hash tag.
func usableID(id string) bool {
	return id != "" && len(id) <= maxVisitorID && !strings.ContainsAny(id, "{}")
}

// maxBatch is how many queued saves one write sends in a pipeline.
const maxBatch = 64

// ErrClosed is returned by RedisStore.Save after Close.
var ErrClosed = errors.New("seen: the Redis store is closed")

// ErrQueueFull is returned by RedisStore.Save when the write queue is full
// (Redis is slower than the traffic): the save is dropped and counted in
// DroppedSaves, and the visitor keeps the state saved before.
var ErrQueueFull = errors.New("seen: the Redis save queue is full; the save was dropped")

// ErrNoVisitor is returned by RedisStore.Save for a request without a
// usable visitor id: there is no key to save under.
var ErrNoVisitor = errors.New("seen: no visitor id to save the state under")

// ErrUnknownState is returned by RedisStore.Save for a set whose load
// failed (a timeout, or Redis unreachable), and by CookieStore.Save for
// one loaded from a request the browser kept the cookie out of: it is
// not saved, since the stored state, which may hold much more, would be
// replaced by this request's items alone. The Redis store counts it in
// SkippedSaves.
var ErrUnknownState = errors.New("seen: the stored state could not be read; not overwritten")

// DefaultRedisRetry is how often a RedisStore that lost its server tries
// to reach it again, when RedisConfig.Retry is 0.
const DefaultRedisRetry = 100 * time.Millisecond

// lostAfterTimeouts is how many loads in a row must time out for the
// store to take its server for lost, as it does at once when it cannot
// connect.
const lostAfterTimeouts = 3

// RedisConfig configures a RedisStore. It is copied when the store is
// built; later changes to it have no effect.
type RedisConfig struct {
	Params
	// URL names one server, a Cluster or a Sentinel-watched master, in
	// one of the forms ParseRedisURL reads (redis://host:port/db,
	// rediss:// for TLS, a comma-separated list of Cluster seeds,
	// redis+cluster://, redis+sentinel://host:port/master, a Unix socket
	// unix:///path); required. The
	// timeout and retry options of a single server's URL are replaced by
	// the ones below.
	URL string
	// Prefix starts every key; empty means DefaultRedisPrefix. A
	// visitor's keys are Prefix{id}:seen and Prefix{id}:caps: the braces
	// make a hash tag, so that on a Cluster both live in one slot and one
	// command reads them.
	Prefix string
	// Timeout bounds a load, connecting included: past it the page is
	// served as if nothing had been seen. 0 means DefaultRedisTimeout.
	Timeout time.Duration
	// SaveTimeout bounds one background write (a pipeline of up to 64
	// saves). 0 means 50 times Timeout, at least 250 ms.
	SaveTimeout time.Duration
	// Queue bounds the saves waiting to be written, shared evenly between
	// the writers; a save that finds its writer's share full is dropped
	// and counted. 0 means DefaultRedisQueue.
	Queue int
	// Writers is the number of goroutines writing saves; one visitor's
	// saves all go to one writer, in order. 0 means DefaultRedisWriters.
	Writers int
	// Key, when set, keys the item digests, so that a copy of the
	// database cannot be tested for candidate item ids without it. Nil
	// means a fixed salt: Redis is not readable by visitors. States are
	// not signed: only the proxies write to Redis.
	Key []byte
	// Retry is how often the store tries to reach a server it lost (see
	// RedisStore). 0 means DefaultRedisRetry.
	Retry time.Duration
	// NewVisitorTTL is the TTL of a state saved for a new visitor, whose
	// request sends no visitor id cookie back and for whom Redis holds
	// nothing (see Save); 0 means the window, and a longer one is cut to
	// it.
	NewVisitorTTL time.Duration
	// Logger receives the store's events, at Warn when it takes its
	// server for lost and at Info when the server answers again; nil
	// means slog.Default(). The Redis client's own messages (a dial that
	// failed, a Sentinel that named a new master) go to the Logger of the
	// last store built, as go-redis has one logger for the process, at
	// Warn and at most one every 10 seconds, with the number left out.
	Logger *slog.Logger
}

// RedisStore keeps seen-states in Redis, under Prefix{visitor id}:seen,
// with a TTL of the window, so that several proxies share them. The value
// is the same encoding as the cookie's, without the MAC and base64. It
// also keeps frequency-cap counts (caps.Shared) under Prefix{visitor
// id}:caps, in the same Cluster slot.
//
// A load is one command within Timeout: GET, or MGET of both keys when the
// request needs the caps too (LoadWithCaps); a timeout or an error gives
// an empty set. Saves are asynchronous: Save encodes the state and queues
// it without waiting, and background writers send the queue as pipelines
// (of a script that writes the state with its TTL, see below), so a slow
// Redis never delays a page. When the
// queue is full a save is dropped and counted. Close writes what is queued.
//
// On a single server, when it cannot be reached (a connection refused or
// reset, or three loads in a row timing out) or refuses the store's loads
// (a wrong password, an ACL without its keys) the store takes it for
// lost: loads answer at once with an empty set (Dropped
// DroppedRedisError) instead of each waiting for its timeout, and a
// background probe PINGs the server and reads a key as loads do every
// Retry (100 ms). Once it answers, the store starts a new
// client (the old one's connection pool would go on refusing to dial for
// up to a second after an outage) and loads use Redis again: filtering
// comes back within Retry of the server.
//
// On a Cluster one primary lost takes only its slots' visitors with it,
// so the store is never taken for lost as a whole: a load that fails asks
// the client to reload the slot map (at most every 200 ms), and once a
// replica has been promoted the visitors of those slots are read from it.
// Until then their loads fail within Timeout and their pages are served
// as if nothing had been seen; saves of states whose load failed are
// skipped, so nothing stored is overwritten. Writes that reached the lost
// primary but not its replica before it died are lost (Redis replication
// is asynchronous). Behind Sentinel the client follows the master
// Sentinel names.
//
// Two requests of one visitor at once (two tabs, a page's parallel API
// calls, on one proxy or two) load the same state; each save writes only
// over the state it was loaded from (a script compares it), and a save
// that finds another's state there adds its showings to it and tries
// again (Merges counts them), so that both count. The cookie store cannot
// do so: a browser keeps the last cookie set.
//
// It is safe for concurrent use. A nil or zero RedisStore is not usable:
// build one with NewRedisStore.
type RedisStore struct {
	l           *layout
	client      atomic.Pointer[clientBox]
	target      RedisTarget // to start a new client after an outage
	prefix      string
	timeout     time.Duration
	saveTimeout time.Duration
	retry       time.Duration
	ttl         time.Duration
	newTTL      time.Duration // of a visitor's first state
	log         *slog.Logger

	// lostAt is when the server was taken for lost, written by lost
	// before it starts the probe, which reads it.
	lostAt time.Time

	// noScript: the server refused the write script (an ACL without
	// EVAL); saves are plain SETs from then on.
	noScript atomic.Bool
	// refusedWarned is when a refused save was last logged,
	// clusterWarned a Cluster's failed load or save.
	refusedWarned, clusterWarned atomic.Int64

	// down: the server is taken for lost and a probe is running;
	// timeoutsInARow counts loads that timed out since the last answer.
	down           atomic.Bool
	timeoutsInARow atomic.Int32
	stop           chan struct{} // closed by Close: the probe ends
	// used is set by the first load: the PING sent at start no longer
	// speaks for the server.
	used atomic.Bool

	mu     sync.RWMutex // guards closed against saves and probes racing Close
	closed bool
	// queues has one queue per writer; a visitor's saves all go through
	// one, so that they are written in the order they were made.
	queues  []chan save
	pending atomic.Int64 // queued or being written
	// recent holds, by key, the data of the last save queued for it
	// until it is written: a load reads it in place of what Redis holds,
	// so that a visitor's next request, sent before the background write
	// landed (a page's next fetch() of an infinite scroll), sees what
	// the previous one showed. It holds at most what the queues do.
	recentMu sync.Mutex
	recent   map[string]queued
	seq      uint64 // guarded by recentMu
	wg       sync.WaitGroup
	once     sync.Once
	err      error // from closing the client

	// Counters for metrics, since the store was built. Loads counts
	// lookups (requests without a visitor id make none); each ends as one
	// of Hits (a usable state), Misses (none stored), Invalid (stored but
	// dropped), Timeouts or Errors (Redis unreachable, or an error
	// reply; loads while the server is lost count here).
	Loads, Hits, Misses, Invalid, Timeouts, Errors atomic.Int64
	// Saves counts states written (seen-states and caps counts alike);
	// SaveErrors the writes that failed
	// other than by timing out, SaveTimeouts those that timed out;
	// DroppedSaves the saves dropped for a full queue or after Close;
	// SkippedSaves the sets not saved because their load failed.
	Saves, SaveErrors, SaveTimeouts, DroppedSaves, SkippedSaves atomic.Int64
	// Merges counts the saves that found another request's state where
	// the one they were loaded from was, and added their showings to it.
	Merges atomic.Int64
	// Lost counts the times the server was taken for lost, Reconnects
	// the times it answered again.
	Lost, Reconnects atomic.Int64
}

// clientBox holds the client, an interface, for atomic swaps.
type clientBox struct{ c redis.UniversalClient }

type save struct {
	key  string
	data []byte
	ttl  time.Duration
	seq  uint64 // numbers it in recent
	// merge, when set, makes the write one over the state the save's
	// request loaded only, merging with any other (see mergeWrite).
	merge *merge
}

// merge is what a save needs to write over a state other than the one
// it was loaded from (expect, see casExpect): apply makes, from the state
// stored instead, that state with the save's request's own changes (a
// seen-state's showings, caps' hits), and storedTTL is the TTL to write
// it with.
type merge struct {
	expect    string
	apply     func(cur []byte) ([]byte, bool)
	storedTTL time.Duration
}

// casNone is casExpect of no stored state.
const casNone = "-"

// casExpect is how the write script recognizes the state a set was
// loaded from: its SHA-1 (redis.sha1hex), or casNone.
func casExpect(loaded []byte) string {
	if loaded == nil {
		return casNone
	}
	sum := sha1.Sum(loaded)
	return hex.EncodeToString(sum[:])
}

// casScript writes a seen-state only over the state it was loaded from
// (KEYS[1]; ARGV: the state, its TTL in seconds, casExpect of the state
// loaded), and otherwise answers what is stored instead ("" for none),
// for the store to merge its showings into and try again. Two requests
// of one visitor at once (two tabs, a page's parallel API calls) then
// both count, where a plain SET kept the later one's only.
//
// A key of another type (another application's hash or list) holds no
// state of the store's: it is written over as an empty key is.
//
// A write never shortens the TTL a stored state has left: the routes of a
// host share a visitor's caps, each route with windows of its own, and a
// first visit's short TTL must not cut the window of a state another
// request stored meanwhile.
var casScript = redis.NewScript(`
local cur = redis.pcall('GET', KEYS[1])
if type(cur) == 'table' and cur.err then
  if string.sub(cur.err, 1, 9) ~= 'WRONGTYPE' then return cur end
  cur = false
end
if (cur == false and ARGV[3] == '-') or (cur ~= false and redis.sha1hex(cur) == ARGV[3]) then
  local ttl = tonumber(ARGV[2])
  if cur ~= false then
    local left = redis.call('TTL', KEYS[1])
    if left > ttl then ttl = left end
  end
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
  return false
end
if cur == false then return '' end
return cur
`)

// maxMerges bounds the attempts of one save to write over states other
// requests keep writing; past it the save is written as it is.
const maxMerges = 3

// queued is a save's data in RedisStore.recent.
type queued struct {
	data []byte
	seq  uint64
}

// startPing bounds the PING a new store sends its server.
const startPing = 2 * time.Second

// NewRedisStore returns a store for the deployment cfg.URL names, or an
// error for a bad URL or out-of-range sizes. A server that is down does
// not stop the proxy from starting: the store PINGs it once in the
// background, and takes it for lost when it does not answer.
func NewRedisStore(cfg RedisConfig) (*RedisStore, error) {
	target, err := ParseRedisURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultRedisPrefix
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultRedisTimeout
	}
	if cfg.SaveTimeout == 0 {
		cfg.SaveTimeout = max(50*cfg.Timeout, 250*time.Millisecond)
	}
	if cfg.Queue == 0 {
		cfg.Queue = DefaultRedisQueue
	}
	if cfg.Writers == 0 {
		cfg.Writers = DefaultRedisWriters
	}
	if cfg.Retry == 0 {
		cfg.Retry = DefaultRedisRetry
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Timeout < 0 || cfg.SaveTimeout < 0 || cfg.Queue < 0 || cfg.Writers < 0 || cfg.Retry < 0 || cfg.NewVisitorTTL < 0 {
		return nil, errors.New("seen: RedisConfig Timeout, SaveTimeout, Queue, Writers, Retry and NewVisitorTTL must not be negative")
	}
	if cfg.Writers > 256 {
		return nil, fmt.Errorf("seen: RedisConfig Writers %d is more than 256", cfg.Writers)
	}
	var salt []byte
	if len(cfg.Key) > 0 {
		h := hmac.New(sha256.New, cfg.Key)
		h.Write([]byte("bespoke/seen/item-salt"))
		salt = h.Sum(nil)
	}
	l, err := cfg.Params.layout(salt)
	if err != nil {
		return nil, err
	}
	// Loads are bounded by their context (Timeout); the socket timeouts
	// bound the background writes. No retries: a retry would double the
	// worst case of a load, and a lost save costs little.
	opt := &target.Options
	opt.ContextTimeoutEnabled = true
	opt.ReadTimeout = cfg.SaveTimeout
	opt.WriteTimeout = cfg.SaveTimeout
	opt.DialTimeout = cfg.SaveTimeout
	opt.PoolTimeout = cfg.SaveTimeout
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	// Fewer round trips on each new connection: no CLIENT SETINFO, and
	// RESP2, which sets up no push notifications. GET, MGET and SET need
	// nothing from RESP3.
	if opt.Protocol == 0 {
		opt.Protocol = 2
	}
	opt.DisableIdentity = true
	if target.simple != nil {
		o := target.simple
		o.ContextTimeoutEnabled, o.ReadTimeout, o.WriteTimeout = true, opt.ReadTimeout, opt.WriteTimeout
		o.DialTimeout, o.PoolTimeout, o.MaxRetries, o.DialerRetries = opt.DialTimeout, opt.PoolTimeout, -1, 1
		o.Protocol, o.DisableIdentity = opt.Protocol, true
	}
	s := &RedisStore{
		l:           l,
		target:      target,
		prefix:      cfg.Prefix,
		timeout:     cfg.Timeout,
		saveTimeout: cfg.SaveTimeout,
		retry:       cfg.Retry,
		ttl:         time.Duration(l.window) * time.Second,
		newTTL:      time.Duration(l.window) * time.Second,
		log:         cfg.Logger,
		stop:        make(chan struct{}),
		recent:      map[string]queued{},
	}
	if cfg.NewVisitorTTL > 0 {
		// Whole seconds, as SET's EX takes them.
		s.newTTL = min(s.newTTL, max(cfg.NewVisitorTTL.Truncate(time.Second), time.Second))
	}
	clientLog.setLogger(cfg.Logger)
	useClientLog()
	s.client.Store(&clientBox{s.newClient()})
	for range cfg.Writers {
		q := make(chan save, max(cfg.Queue/cfg.Writers, 1))
		s.queues = append(s.queues, q)
		s.wg.Add(1)
		go s.writer(q)
	}
	// One PING at start, in the background: a server that does not
	// answer is taken for lost (logged, Up false, the probe started)
	// before a visitor comes, not only once one does.
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		// Bounded apart from the store's timeout, which may be long:
		// the client reads until the deadline, whatever the store's
		// Close (which waits for this) says.
		ctx, cancel := context.WithTimeout(context.Background(), min(max(s.timeout, s.retry), startPing))
		defer cancel()
		go func() {
			select {
			case <-s.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		err := s.Ping(ctx)
		if err == nil || s.used.Load() {
			// Visitors' loads came first: they tell, on their own path,
			// whether the server answers; a late PING would report an
			// outage theirs did not see, or one they already reported.
			return
		}
		select {
		case <-s.stop: // closed meanwhile
		default:
			s.lost(err)
		}
	}()
	return s, nil
}

// newClient starts a client for the store's deployment.
func (s *RedisStore) newClient() redis.UniversalClient {
	switch s.target.Mode {
	case RedisCluster:
		o := s.target.Options.Cluster()
		// The slot map is reloaded when a load fails (see failed); the
		// periodic reload only catches moves nothing failed on.
		o.ClusterStateReloadInterval = 10 * time.Second
		return redis.NewClusterClient(o)
	case RedisSentinel:
		return redis.NewFailoverClient(s.target.Options.Failover())
	}
	return redis.NewClient(s.target.simple)
}

func (s *RedisStore) c() redis.UniversalClient { return s.client.Load().c }

// SeenKey is the key of visitorID's seen-state.
func (s *RedisStore) SeenKey(visitorID string) string {
	return s.prefix + "{" + visitorID + "}:seen"
}

// CapsKey is the key of visitorID's frequency-cap counts, in the same
// Cluster slot as its seen-state.
func (s *RedisStore) CapsKey(visitorID string) string {
	return s.prefix + "{" + visitorID + "}:caps"
}

// Mode is the kind of deployment the store reaches.
func (s *RedisStore) Mode() RedisMode { return s.target.Mode }

// Load implements Store: one GET, bounded by the store's Timeout and ctx.
// r tells a returning visitor (it sends its id cookie back) from a new
// one (see Save); nil is a new one's.
func (s *RedisStore) Load(ctx context.Context, r *http.Request, visitorID string) (*Set, LoadInfo) {
	set, info, _, _ := s.load(ctx, visitorID, returning(r), false)
	return set, info
}

// returning reports whether r comes from a returning visitor: one that
// sent its visitor id cookie back. A visitor Redis holds nothing for may
// be one (its first state expired while it was away), and is kept the
// window as any other; only a request without the cookie (a first visit,
// a client that never keeps cookies) is kept NewVisitorTTL.
func returning(r *http.Request) bool {
	if r == nil {
		return false
	}
	_, ok := reqctx.VisitorID(r)
	return ok
}

// LoadWithCaps is Load that also returns visitorID's frequency-cap counts
// (see caps.Shared.LoadCaps), read by the same command: one MGET of two
// keys in one slot, one round trip.
func (s *RedisStore) LoadWithCaps(ctx context.Context, r *http.Request, visitorID string) (*Set, LoadInfo, []byte, error) {
	return s.load(ctx, visitorID, returning(r), true)
}

// CapsLoader is a Store that reads a visitor's frequency-cap counts
// (package caps) with its seen-state, in one round trip.
type CapsLoader interface {
	Store
	// LoadWithCaps is Load that also returns the counts stored for
	// visitorID: nil and no error when there are none, an error when the
	// store could not say.
	LoadWithCaps(ctx context.Context, r *http.Request, visitorID string) (*Set, LoadInfo, []byte, error)
}

// errNoAnswer is the caps error of a load that got no answer.
var errNoAnswer = errors.New("seen: Redis did not answer")

func (s *RedisStore) load(ctx context.Context, visitorID string, returning, withCaps bool) (*Set, LoadInfo, []byte, error) {
	now := s.l.nowSec()
	if !usableID(visitorID) {
		return s.l.newSet(now), LoadInfo{Source: SourceNew}, nil, nil
	}
	s.Loads.Add(1)
	s.used.Store(true)
	unknown := func(reason string) (*Set, LoadInfo, []byte, error) {
		set := s.l.newSet(now)
		set.unknown = true
		return set, LoadInfo{Source: SourceNew, Dropped: reason}, nil, errNoAnswer
	}
	if s.down.Load() {
		s.Errors.Add(1)
		return unknown(DroppedRedisError)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var b, capsData []byte
	var err error
	if withCaps {
		var vals []any
		vals, err = s.c().MGet(ctx, s.SeenKey(visitorID), s.CapsKey(visitorID)).Result()
		if err == nil && len(vals) != 2 {
			err = fmt.Errorf("seen: MGET answered %d values for 2 keys", len(vals))
		}
		if err == nil {
			b, capsData = bytesOf(vals[0]), bytesOf(vals[1])
			if b == nil {
				err = redis.Nil
			}
		}
	} else {
		b, err = s.c().Get(ctx, s.SeenKey(visitorID)).Bytes()
	}
	if wrongType(err) {
		// Not a state the store wrote (another application's key):
		// dropped as bytes of another format are, and replaced by the
		// visitor's next save. (MGET answers nil for it.)
		b, err = nil, nil
	}
	switch {
	case err == nil:
		s.timeoutsInARow.Store(0)
	case errors.Is(err, redis.Nil):
		s.timeoutsInARow.Store(0)
	}
	if err == nil || errors.Is(err, redis.Nil) {
		// What this proxy queued and has not written yet is newer than
		// what Redis answered.
		var q bool
		if b, q = s.queuedData(s.SeenKey(visitorID), b); q {
			err = nil
		}
		if withCaps {
			capsData, _ = s.queuedData(s.CapsKey(visitorID), capsData)
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, redis.Nil):
		s.Misses.Add(1)
		set := s.l.newSet(now)
		set.newToStore, set.fromStore = !returning, true
		return set, LoadInfo{Source: SourceNew}, capsData, nil
	case isTimeout(err) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		s.Timeouts.Add(1)
		s.failed(s.timeoutsInARow.Add(1) >= lostAfterTimeouts, err)
		return unknown(DroppedTimeout)
	default:
		s.Errors.Add(1)
		s.failed(unreachable(err), err)
		return unknown(DroppedRedisError)
	}
	set, reason := s.l.decode(b, now)
	if reason != "" {
		s.Invalid.Add(1)
		set := s.l.newSet(now)
		set.newToStore = !returning
		return set, LoadInfo{Source: SourceNew, Dropped: reason}, capsData, nil
	}
	set.loaded, set.fromStore = b, true
	s.Hits.Add(1)
	return set, LoadInfo{Source: SourceRedis}, capsData, nil
}

// bytesOf is an MGET value as bytes: nil for a missing key.
func bytesOf(v any) []byte {
	if str, ok := v.(string); ok {
		return []byte(str)
	}
	return nil
}

// failed reacts to a command that failed with err: when lost says the
// server is gone, the store takes it for lost (a Sentinel master too: the
// probe's new client asks the Sentinels for the master again, and the
// outage is logged and shows in Up); on a Cluster the client reloads its
// slot map instead, to find a replica promoted in place of a lost
// primary, as only some visitors' keys are lost with one.
func (s *RedisStore) failed(lost bool, err error) {
	switch {
	case s.target.Mode == RedisCluster:
		if lost && due(&s.clusterWarned) {
			// Never lost as a whole, the Cluster would otherwise fail
			// loads without a word (every node refusing the store's
			// user, or not answering).
			s.log.Warn("Redis Cluster fails seen loads or saves: the visitors of the slots concerned are served as if nothing had been seen, and their states not saved, until it answers (logged once a minute; bespoke_seen_redis_total counts them)",
				"addrs", strings.Join(s.Addrs(), ","), "err", err)
		}
		if cc, ok := s.c().(*redis.ClusterClient); ok {
			cc.ReloadState(context.Background())
		}
	case lost:
		s.lost(err)
	}
}

// LoadCaps implements caps.Shared: one GET of visitorID's counts, bounded
// by the store's Timeout and ctx. A missing key is nil and no error.
func (s *RedisStore) LoadCaps(ctx context.Context, visitorID string) ([]byte, error) {
	if !usableID(visitorID) {
		return nil, nil
	}
	s.used.Store(true)
	if s.down.Load() {
		return nil, errNoAnswer
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	b, err := s.c().Get(ctx, s.CapsKey(visitorID)).Bytes()
	// Counted and acted on as a seen-state's load is: a route whose
	// rules cap but keep no seen-filter has these loads only.
	switch {
	case wrongType(err):
		// Another application's key: no counts, written over by the
		// next save.
		s.timeoutsInARow.Store(0)
		err = redis.Nil
	case err == nil || errors.Is(err, redis.Nil):
		s.timeoutsInARow.Store(0)
	case isTimeout(err) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		s.Timeouts.Add(1)
		s.failed(s.timeoutsInARow.Add(1) >= lostAfterTimeouts, err)
		return nil, err
	default:
		s.Errors.Add(1)
		s.failed(unreachable(err), err)
		return nil, err
	}
	if errors.Is(err, redis.Nil) {
		b = nil
	}
	b, _ = s.queuedData(s.CapsKey(visitorID), b)
	return b, nil
}

// SaveCaps implements caps.Shared: it queues the write of visitorID's
// counts, as Save does for seen-states (same errors, same counters). With
// mergeFn, the counts are written only over loaded (nil: none stored), the
// counts the request read; counts another request stored meanwhile are
// given to mergeFn, whose result is written instead.
func (s *RedisStore) SaveCaps(visitorID string, b []byte, ttl time.Duration, loaded []byte, mergeFn func(cur []byte) []byte) error {
	if !usableID(visitorID) {
		return ErrNoVisitor
	}
	sv := save{key: s.CapsKey(visitorID), data: b, ttl: ttl}
	if mergeFn != nil {
		sv.merge = &merge{expect: casExpect(loaded), storedTTL: ttl, apply: func(cur []byte) ([]byte, bool) { return mergeFn(cur), true }}
	}
	return s.enqueue(visitorID, sv)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// unreachable reports whether err says the server cannot be used: it
// could not be reached (no connection, or one that broke), or it refuses
// every command of this client (a wrong password, a user without the
// rights, a database it does not have), rather than an answer of Redis's
// to one command or a client closed on purpose.
func unreachable(err error) bool {
	var re redis.Error
	switch {
	case errors.As(err, &re):
		return refusesClient(re.Error())
	case errors.Is(err, redis.ErrClosed), errors.Is(err, context.Canceled):
		return false
	}
	return true
}

// noScripts reports whether a Redis error reply refuses the write script
// itself: no right to EVAL, or no EVAL (renamed away, or scripting off).
func noScripts(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	msg := strings.ToLower(re.Error())
	return strings.HasPrefix(msg, "noperm") || strings.Contains(msg, "unknown command") && strings.Contains(msg, "eval") ||
		strings.Contains(msg, "scripting") && strings.Contains(msg, "disabled") ||
		// A command the script calls (GET, TTL, SET) that the user may
		// not run: "ERR The user executing the script can't run this
		// command or subcommand".
		strings.Contains(msg, "executing the script") && strings.Contains(msg, "can't run")
}

// refusesClient reports whether a Redis error reply says the connection
// itself is refused (AUTH or SELECT failed as it was set up, or the user
// may not run the store's commands): every command will fail alike until
// the configuration or the server changes.
func refusesClient(msg string) bool {
	for _, p := range []string{"WRONGPASS", "NOAUTH", "NOPERM", "ERR AUTH", "ERR invalid password", "ERR DB index", "ERR Client sent AUTH"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// wrongType reports whether err is Redis saying the key holds another
// type than a string.
func wrongType(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "WRONGTYPE")
}

// refusesCommand reports whether err is Redis refusing this user one
// command or its keys (NOPERM), not the connection.
func refusesCommand(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "NOPERM")
}

// lost takes the server for lost, after err, and starts the probe that
// brings it back, unless one runs. It logs the outage once: the loads
// and writes that fail while it lasts are counted, not logged.
func (s *RedisStore) lost(err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed || s.down.Swap(true) {
		return
	}
	s.Lost.Add(1)
	s.lostAt = time.Now()
	s.log.Warn("Redis seen store lost: pages are served as if nothing had been seen, and no state is saved, until it answers",
		"addrs", strings.Join(s.Addrs(), ","), "err", err, "retry", s.retry)
	s.wg.Add(1)
	go s.probe()
}

// probe asks the server every retry interval, with a new client, until
// it answers a PING and what loads run, then makes that client the
// store's and closes the old one, whose pool may still be refusing to
// dial.
func (s *RedisStore) probe() {
	defer s.wg.Done()
	t := time.NewTicker(s.retry)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		c := s.newClient()
		// The first PING pays for the connection (a dial, HELLO, a
		// Sentinel's answer): it gets the start's bound, with a GET of a
		// key under the prefix, which a PING does not stand for (an ACL
		// refusing the store's keys or commands). Then an MGET, on that
		// connection, must be answered within a load's time, so that a
		// server slower than that, or one that refuses the store's
		// keys, is not taken back to fail every load again (the store
		// flapped). Both are bounded apart from the store's timeout,
		// which may be long: the client reads until the deadline,
		// whatever the store's Close (which waits for this) says.
		ctx, cancel := context.WithTimeout(context.Background(), min(max(s.timeout, s.retry), startPing))
		err := c.Ping(ctx).Err()
		if err == nil {
			err = nilIsNone(c.Get(ctx, s.SeenKey(checkID)).Err())
		}
		cancel()
		if err == nil {
			ctx, cancel = context.WithTimeout(context.Background(), min(s.timeout, startPing))
			err = nilIsNone(c.MGet(ctx, s.SeenKey(checkID), s.CapsKey(checkID)).Err())
			cancel()
		}
		if err != nil {
			c.Close()
			continue
		}
		s.mu.RLock()
		if s.closed {
			s.mu.RUnlock()
			c.Close()
			return
		}
		old := s.client.Swap(&clientBox{c})
		s.timeoutsInARow.Store(0)
		// The recovery is logged before the store is up again, so
		// whoever sees it up (Up, a load) finds the event in the log.
		s.log.Info("Redis seen store answers again", "addrs", strings.Join(s.Addrs(), ","), "down_for", time.Since(s.lostAt))
		s.down.Store(false)
		s.Reconnects.Add(1)
		s.mu.RUnlock()
		old.c.Close()
		return
	}
}

// checkID is the visitor id of the keys the store reads and writes to
// find out what the server allows it (Check, the probe).
const checkID = "bespoke-check"

// nilIsNone is err, but nil for redis.Nil: a key that holds nothing was
// read all the same.
func nilIsNone(err error) error {
	if errors.Is(err, redis.Nil) {
		return nil
	}
	return err
}

// checkScript calls what the write script calls (casScript), on a key
// of its own that expires in a second.
var checkScript = redis.NewScript(`
redis.call('GET', KEYS[1])
redis.call('TTL', KEYS[1])
redis.call('SET', KEYS[1], '1', 'PX', 1000)
return 1
`)

// Check runs once what the store runs for visitors (PING; MGET; the write
// script, which calls GET, TTL and SET) on keys of its own, and returns
// why the server refuses one, if it does: for bespoke serve --check, so
// that a user an ACL limits is told before visitors' saves fail.
func (s *RedisStore) Check(ctx context.Context) error {
	c := s.c()
	if err := c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("PING: %w", err)
	}
	if err := c.MGet(ctx, s.SeenKey(checkID), s.CapsKey(checkID)).Err(); err != nil {
		return fmt.Errorf("MGET: %w", err)
	}
	if err := checkScript.Eval(ctx, c, []string{s.SeenKey(checkID)}).Err(); err != nil {
		return fmt.Errorf("the write script (EVAL, which calls GET, TTL and SET): %w; without it, saves of one visitor at once overwrite each other (ACL SETUSER ... +eval +get +set +ttl)", err)
	}
	return nil
}

// Up reports whether the store takes its server to be reachable.
func (s *RedisStore) Up() bool { return !s.down.Load() }

// Ping asks the server (or the cluster's seeds) whether it answers, and
// returns why not; it takes ctx's deadline.
func (s *RedisStore) Ping(ctx context.Context) error { return s.c().Ping(ctx).Err() }

// Addrs returns the addresses the store connects to, without credentials.
func (s *RedisStore) Addrs() []string { return s.target.Options.Addrs }

// Save implements Store: when set changed, it encodes it and queues the
// write, without waiting for Redis. It returns ErrQueueFull when the queue
// is full and ErrClosed after Close (the save is then dropped and
// counted), ErrNoVisitor without a visitor id, and ErrUnknownState for a
// set whose load timed out or failed (not saved, and counted in
// SkippedSaves). h, secure and ctx are not used: the write outlives the
// request.
func (s *RedisStore) Save(_ context.Context, _ http.Header, visitorID string, set *Set, _ bool) error {
	if !set.Changed() {
		return nil
	}
	if set.l == nil || set.l.tag != s.l.tag {
		return errors.New("seen: the set was not loaded from this Redis store")
	}
	if set.unknown {
		s.SkippedSaves.Add(1)
		return ErrUnknownState
	}
	if !usableID(visitorID) {
		return ErrNoVisitor
	}
	ttl := s.ttl
	if set.newToStore {
		// A new visitor Redis held nothing for: most often a client
		// that never sends its cookie back, whose every request is a
		// new visitor. Kept for NewVisitorTTL, and for the window once
		// it comes back with its cookie, whatever Redis holds then.
		ttl = s.newTTL
	}
	sv := save{key: s.SeenKey(visitorID), data: set.encode(), ttl: ttl}
	set.mu.Lock()
	if set.fromStore {
		shown := slices.Clone(set.shown)
		sv.merge = &merge{expect: casExpect(set.loaded), storedTTL: s.ttl, apply: func(cur []byte) ([]byte, bool) {
			stored, reason := s.l.decode(cur, s.l.nowSec())
			if reason != "" {
				return nil, false
			}
			defer stored.Release()
			stored.mu.Lock()
			for _, d := range shown {
				stored.addShowing(d)
			}
			stored.mu.Unlock()
			return stored.encode(), true
		}}
	}
	set.mu.Unlock()
	return s.enqueue(visitorID, sv)
}

// enqueue queues sv on visitorID's writer.
func (s *RedisStore) enqueue(visitorID string, sv save) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		s.DroppedSaves.Add(1)
		return ErrClosed
	}
	h := fnv.New32a()
	h.Write([]byte(visitorID))
	q := s.queues[h.Sum32()%uint32(len(s.queues))]
	s.pending.Add(1)
	// Under recentMu, so that recent holds the save queued last: the
	// order of two saves of one visitor in its queue is their order here.
	s.recentMu.Lock()
	defer s.recentMu.Unlock()
	s.seq++
	sv.seq = s.seq
	select {
	case q <- sv:
		s.recent[sv.key] = queued{data: sv.data, seq: sv.seq}
		return nil
	default:
		s.pending.Add(-1)
		s.DroppedSaves.Add(1)
		return ErrQueueFull
	}
}

// queuedData returns the data queued for key and not yet written, else
// stored (which Redis answered); ok reports that it was queued.
func (s *RedisStore) queuedData(key string, stored []byte) (data []byte, ok bool) {
	s.recentMu.Lock()
	q, ok := s.recent[key]
	s.recentMu.Unlock()
	if !ok {
		return stored, false
	}
	return q.data, true
}

// written forgets the saves of batch in recent, unless a later save of
// the same key was queued meanwhile.
func (s *RedisStore) written(batch []save) {
	s.recentMu.Lock()
	defer s.recentMu.Unlock()
	for _, sv := range batch {
		if q, ok := s.recent[sv.key]; ok && q.seq == sv.seq {
			delete(s.recent, sv.key)
		}
	}
}

// InHeaders implements Store: the state is written to Redis, after the
// response if need be.
func (s *RedisStore) InHeaders() bool { return false }

// CookieName implements Store: the state is kept in Redis, in no cookie.
func (s *RedisStore) CookieName() string { return "" }

// writer sends the saves of q, batching what is waiting into one
// pipeline.
func (s *RedisStore) writer(q chan save) {
	defer s.wg.Done()
	batch := make([]save, 0, maxBatch)
	for sv := range q {
		batch = append(batch[:0], sv)
	more:
		for len(batch) < maxBatch {
			select {
			case sv, ok := <-q:
				if !ok {
					break more
				}
				batch = append(batch, sv)
			default:
				break more
			}
		}
		s.write(batch)
	}
}

func (s *RedisStore) write(batch []save) {
	defer s.pending.Add(-int64(len(batch)))
	// Written or failed, the saves leave recent: a failed write is lost,
	// as it would be without it, and Redis says again what it holds.
	defer s.written(batch)
	ctx, cancel := context.WithTimeout(context.Background(), s.saveTimeout)
	defer cancel()
	pipe := s.c().Pipeline()
	if s.noScript.Load() {
		for i := range batch {
			batch[i].merge = nil
		}
	}
	for _, sv := range batch {
		if sv.merge != nil {
			casScript.Eval(ctx, pipe, []string{sv.key}, sv.data, int64(sv.ttl/time.Second), sv.merge.expect)
		} else {
			pipe.Set(ctx, sv.key, sv.data, sv.ttl)
		}
	}
	cmds, _ := pipe.Exec(ctx)
	var ok, timeouts, failed, dropped int64
	for i, c := range cmds {
		err := c.Err()
		if batch[i].merge != nil {
			// The script answers nothing (redis.Nil) once written, or
			// the state stored instead.
			switch cur, e := c.(*redis.Cmd).Text(); {
			case errors.Is(e, redis.Nil):
				err = nil
			case e == nil:
				err = s.mergeWrite(ctx, batch[i], []byte(cur))
			case noScripts(e):
				// A server or user that runs no scripts (an ACL without
				// EVAL, the command renamed, a managed service): saves
				// write over the state as they stand, as SET did, said
				// once.
				if !s.noScript.Swap(true) {
					s.log.Warn("Redis runs no write script for this store: seen saves of one visitor at once overwrite each other; allow it (ACL SETUSER ... +eval, and +get +set +ttl, which it calls)", "err", e)
				}
				err = s.c().Set(ctx, batch[i].key, batch[i].data, batch[i].ttl).Err()
			}
		}
		switch {
		case err == nil:
			ok++
		case isTimeout(err):
			timeouts++
		case errors.Is(err, redis.ErrClosed), errors.Is(err, net.ErrClosed):
			// The store closed the client under the write (Close gave
			// up waiting for Redis, or the probe replaced the client of
			// a lost server): dropped by the store, not refused by
			// Redis.
			dropped++
		default:
			failed++
			// A command refused (NOPERM: a user that may read but not
			// write) leaves loads working: the server is not lost.
			if unreachable(err) && !refusesCommand(err) {
				s.failed(true, err)
			} else {
				s.refusedSave(err)
			}
		}
	}
	s.Saves.Add(ok)
	s.SaveTimeouts.Add(timeouts)
	s.DroppedSaves.Add(dropped)
	s.SaveErrors.Add(failed + int64(len(batch)-len(cmds)))
}

// refusedEvery bounds how often saves Redis refuses are logged.
const refusedEvery = time.Minute

// refusedSave logs, once a minute at most, a save Redis answered with an
// error (OOM: a full server that evicts nothing; READONLY: a replica):
// the state is lost, and loads, which still work, read the state as it
// was (a capped rule goes on showing).
func (s *RedisStore) refusedSave(err error) {
	if due(&s.refusedWarned) {
		s.log.Warn("Redis refuses seen saves: what visitors were shown is not kept, and capped rules go on showing (logged once a minute; bespoke_seen_redis_total{event=\"write_error\"} counts them)",
			"addrs", strings.Join(s.Addrs(), ","), "err", err)
	}
}

// due reports whether a line logged at most once per refusedEvery, last
// logged at *last (UnixNano), is due now, and if so takes it: of callers
// at once, one logs.
func due(last *atomic.Int64) bool {
	// (A clock that reads earlier than the last line was set back: it
	// logs, rather than stay silent until the clock catches up.)
	now, l := time.Now().UnixNano(), last.Load()
	return (now-l >= int64(refusedEvery) || now < l) && last.CompareAndSwap(l, now)
}

// mergeWrite writes sv over cur, a state another request stored since
// sv's was loaded: sv's showings are added to cur, and the result written
// over cur alone, up to maxMerges times while others keep writing; then
// as it stands.
func (s *RedisStore) mergeWrite(ctx context.Context, sv save, cur []byte) error {
	s.Merges.Add(1)
	data, ttl := sv.data, sv.ttl
	for range maxMerges {
		var expect string
		data, expect, ttl = sv.data, casNone, sv.ttl
		if len(cur) > 0 {
			// A state is stored: for a seen-state, the visitor is no
			// new one (a save that found nothing, NewVisitorTTL, would
			// cut its window).
			ttl = max(ttl, sv.merge.storedTTL)
			expect = casExpect(cur)
			if merged, ok := sv.merge.apply(cur); ok {
				data = merged
			}
		}
		v, err := casScript.Eval(ctx, s.c(), []string{sv.key}, data, int64(ttl/time.Second), expect).Text()
		switch {
		case errors.Is(err, redis.Nil):
			return nil
		case err != nil:
			return err
		}
		cur = []byte(v)
	}
	// Others kept writing: the last merge, written as it stands, keeps
	// what they had stored but for their last write.
	return s.c().Set(ctx, sv.key, data, ttl).Err()
}

// Flush waits until every save queued so far is written or has failed, at
// most timeout, and reports whether it got there (for tests and
// shutdown).
func (s *RedisStore) Flush(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for s.pending.Load() > 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// Close stops accepting saves, writes the queued ones (waiting at most
// SaveTimeout and a second for them, and not at all while the server is
// taken for lost; those left then are dropped, and counted in
// DroppedSaves) and closes the connections. Loads
// after Close give empty sets. It is safe to call more than once.
func (s *RedisStore) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.stop)
		for _, q := range s.queues {
			close(q)
		}
		s.mu.Unlock()
		done := make(chan struct{})
		go func() {
			s.wg.Wait()
			close(done)
		}()
		// A server taken for lost is not waited for: its writes could
		// only time out, each holding the exit SaveTimeout.
		if !s.down.Load() {
			t := time.NewTimer(s.saveTimeout + time.Second)
			select {
			case <-done:
			case <-t.C:
			}
			t.Stop()
		}
		// Writers still busy fail fast once the client is closed.
		s.err = s.c().Close()
		<-done
	})
	return s.err
}

// Interface guards.
var (
	_ Store      = (*RedisStore)(nil)
	_ CapsLoader = (*RedisStore)(nil)
)
