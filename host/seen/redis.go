package seen

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults for the zero values of RedisConfig.
const (
	DefaultRedisPrefix  = "bespoke:seen:"
	DefaultRedisTimeout = 20 * time.Millisecond
	DefaultRedisQueue   = 4096
	DefaultRedisWriters = 2
)

// maxVisitorID bounds a Redis key's visitor part: a longer id is not one
// the proxy issued, and is treated as no id.
const maxVisitorID = 256

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

// RedisConfig configures a RedisStore. It is copied when the store is
// built; later changes to it have no effect.
type RedisConfig struct {
	Params
	// URL is the server, redis://[user:password@]host:port/db (rediss://
	// for TLS); required. Its timeout and retry options are replaced by
	// the ones below.
	URL string
	// Prefix starts every key; empty means DefaultRedisPrefix.
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
}

// RedisStore keeps seen-states in Redis, under Prefix + visitor id, with a
// TTL of the window, so that several proxies share them. The value is the
// same encoding as the cookie's, without the MAC and base64.
//
// A load is one GET within Timeout; a timeout or an error gives an empty
// set. Saves are asynchronous: Save encodes the state and queues it
// without waiting, and background writers send the queue as pipelines of
// SET key value EX window, so a slow Redis never delays a page. When the
// queue is full a save is dropped and counted. Close writes what is queued.
//
// Two requests of one visitor at once load the same state and the later
// save wins, losing the other's showings; the cookie store is no different,
// as a browser keeps the last cookie set.
//
// It is safe for concurrent use. A nil or zero RedisStore is not usable:
// build one with NewRedisStore.
type RedisStore struct {
	l           *layout
	client      *redis.Client
	prefix      string
	timeout     time.Duration
	saveTimeout time.Duration
	ttl         time.Duration

	mu     sync.RWMutex // guards closed against saves racing Close
	closed bool
	// queues has one queue per writer; a visitor's saves all go through
	// one, so that they are written in the order they were made.
	queues  []chan save
	pending atomic.Int64 // queued or being written
	wg      sync.WaitGroup
	once    sync.Once
	err     error // from closing the client

	// Counters for metrics, since the store was built. Loads counts
	// lookups (requests without a visitor id make none); each ends as one
	// of Hits (a usable state), Misses (none stored), Invalid (stored but
	// dropped), Timeouts or Errors.
	Loads, Hits, Misses, Invalid, Timeouts, Errors atomic.Int64
	// Saves counts states written, SaveErrors the writes that failed,
	// DroppedSaves the saves dropped for a full queue or after Close, and
	// SkippedSaves the sets not saved because their load failed.
	Saves, SaveErrors, DroppedSaves, SkippedSaves atomic.Int64
}

type save struct {
	key  string
	data []byte
}

// NewRedisStore returns a store for the server at cfg.URL, or an error for
// a bad URL or out-of-range sizes. It does not connect until used, so a
// server that is down does not stop the proxy from starting.
func NewRedisStore(cfg RedisConfig) (*RedisStore, error) {
	opt, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("seen: Redis URL: %w", err)
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
	if cfg.Timeout < 0 || cfg.SaveTimeout < 0 || cfg.Queue < 0 || cfg.Writers < 0 {
		return nil, errors.New("seen: RedisConfig Timeout, SaveTimeout, Queue and Writers must not be negative")
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
	opt.ContextTimeoutEnabled = true
	opt.ReadTimeout = cfg.SaveTimeout
	opt.WriteTimeout = cfg.SaveTimeout
	opt.DialTimeout = cfg.SaveTimeout
	opt.PoolTimeout = cfg.SaveTimeout
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	// Fewer round trips on each new connection: no CLIENT SETINFO, and
	// RESP2, which sets up no push notifications. GET and SET need nothing
	// from RESP3.
	if opt.Protocol == 0 {
		opt.Protocol = 2
	}
	opt.DisableIdentity = true
	s := &RedisStore{
		l:           l,
		client:      redis.NewClient(opt),
		prefix:      cfg.Prefix,
		timeout:     cfg.Timeout,
		saveTimeout: cfg.SaveTimeout,
		ttl:         time.Duration(l.window) * time.Second,
	}
	for range cfg.Writers {
		q := make(chan save, max(cfg.Queue/cfg.Writers, 1))
		s.queues = append(s.queues, q)
		s.wg.Add(1)
		go s.writer(q)
	}
	return s, nil
}

// Load implements Store: one GET, bounded by the store's Timeout and ctx.
// r is not used.
func (s *RedisStore) Load(ctx context.Context, _ *http.Request, visitorID string) (*Set, LoadInfo) {
	now := s.l.nowSec()
	if visitorID == "" || len(visitorID) > maxVisitorID {
		return s.l.newSet(now), LoadInfo{Source: SourceNew}
	}
	s.Loads.Add(1)
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	b, err := s.client.Get(ctx, s.prefix+visitorID).Bytes()
	switch {
	case err == nil:
	case errors.Is(err, redis.Nil):
		s.Misses.Add(1)
		return s.l.newSet(now), LoadInfo{Source: SourceNew}
	case isTimeout(err) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		s.Timeouts.Add(1)
		set := s.l.newSet(now)
		set.unknown = true
		return set, LoadInfo{Source: SourceNew, Dropped: DroppedTimeout}
	default:
		s.Errors.Add(1)
		set := s.l.newSet(now)
		set.unknown = true
		return set, LoadInfo{Source: SourceNew, Dropped: DroppedRedisError}
	}
	set, reason := s.l.decode(b, now)
	if reason != "" {
		s.Invalid.Add(1)
		return s.l.newSet(now), LoadInfo{Source: SourceNew, Dropped: reason}
	}
	s.Hits.Add(1)
	return set, LoadInfo{Source: SourceRedis}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// Save implements Store: when set changed, it encodes it and queues the
// write, without waiting for Redis. It returns ErrQueueFull when the queue
// is full and ErrClosed after Close (the save is then dropped and
// counted), and ErrNoVisitor without a visitor id. A set whose load timed
// out or failed is not saved, and counted in SkippedSaves: the stored
// state, which may hold much more, would be replaced by this request's
// items alone. h, secure and ctx are not used: the write outlives the
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
		return nil
	}
	if visitorID == "" || len(visitorID) > maxVisitorID {
		return ErrNoVisitor
	}
	sv := save{key: s.prefix + visitorID, data: set.encode()}
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
	select {
	case q <- sv:
		return nil
	default:
		s.pending.Add(-1)
		s.DroppedSaves.Add(1)
		return ErrQueueFull
	}
}

// InHeaders implements Store: the state is written to Redis, after the
// response if need be.
func (s *RedisStore) InHeaders() bool { return false }

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
	ctx, cancel := context.WithTimeout(context.Background(), s.saveTimeout)
	defer cancel()
	pipe := s.client.Pipeline()
	for _, sv := range batch {
		pipe.Set(ctx, sv.key, sv.data, s.ttl)
	}
	cmds, _ := pipe.Exec(ctx)
	ok := 0
	for _, c := range cmds {
		if c.Err() == nil {
			ok++
		}
	}
	s.Saves.Add(int64(ok))
	s.SaveErrors.Add(int64(len(batch) - ok))
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
// SaveTimeout and a second for them) and closes the connections. Loads
// after Close give empty sets. It is safe to call more than once.
func (s *RedisStore) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		for _, q := range s.queues {
			close(q)
		}
		s.mu.Unlock()
		done := make(chan struct{})
		go func() {
			s.wg.Wait()
			close(done)
		}()
		t := time.NewTimer(s.saveTimeout + time.Second)
		select {
		case <-done:
		case <-t.C:
		}
		t.Stop()
		// Writers still busy fail fast once the client is closed.
		s.err = s.client.Close()
		<-done
	})
	return s.err
}

// Interface guard.
var _ Store = (*RedisStore)(nil)
