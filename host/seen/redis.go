package seen

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisConfig configures a RedisStore.
type RedisConfig struct {
	Params
	// URL is the server, redis://[user:password@]host:port/db.
	URL string
	// Prefix starts every key; empty means "bespoke:seen:".
	Prefix string
	// Timeout bounds a load: past it the page is served as if nothing had
	// been seen. 0 means 20 ms.
	Timeout time.Duration
	// Queue bounds the saves waiting to be written; a save that finds it
	// full is dropped and counted. 0 means 4,096.
	Queue int
}

// RedisStore keeps seen-states in Redis, keyed by visitor id, with a TTL
// of the window, so that several proxies share them. A load is one GET
// within the timeout; saves are written in the background by a few
// workers, so a slow Redis never delays a page.
type RedisStore struct {
	cfg    RedisConfig
	client *redis.Client
	saves  chan save
	wg     sync.WaitGroup
	once   sync.Once

	// Counters for metrics.
	Loads, Hits, Misses, Errors, Timeouts, Saved, DroppedSaves atomic.Int64
}

type save struct {
	key  string
	data []byte
}

// NewRedisStore returns a store for the server at cfg.URL; it does not
// connect until used.
func NewRedisStore(cfg RedisConfig) (*RedisStore, error) {
	opt, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	cfg.Params = cfg.Params.withDefaults()
	if cfg.Prefix == "" {
		cfg.Prefix = "bespoke:seen:"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 20 * time.Millisecond
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 4096
	}
	opt.DialTimeout = max(cfg.Timeout, 100*time.Millisecond)
	opt.ReadTimeout = cfg.Timeout
	opt.WriteTimeout = cfg.Timeout
	opt.MaxRetries = 0 // a retry would double the worst-case delay
	s := &RedisStore{cfg: cfg, client: redis.NewClient(opt), saves: make(chan save, cfg.Queue)}
	for range 4 {
		s.wg.Add(1)
		go s.writer()
	}
	return s, nil
}

func (s *RedisStore) writer() {
	defer s.wg.Done()
	for sv := range s.saves {
		ctx, cancel := context.WithTimeout(context.Background(), 10*s.cfg.Timeout)
		if err := s.client.Set(ctx, sv.key, sv.data, s.cfg.Window).Err(); err != nil {
			s.Errors.Add(1)
		} else {
			s.Saved.Add(1)
		}
		cancel()
	}
}

// Load implements Store.
func (s *RedisStore) Load(ctx context.Context, _ *http.Request, visitorID string) (*Set, LoadInfo) {
	s.Loads.Add(1)
	if visitorID == "" {
		return s.cfg.newSet(), LoadInfo{Source: "new"}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	b, err := s.client.Get(ctx, s.cfg.Prefix+visitorID).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		s.Misses.Add(1)
		return s.cfg.newSet(), LoadInfo{Source: "new"}
	case err != nil:
		var ne interface{ Timeout() bool }
		if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
			s.Timeouts.Add(1)
			return s.cfg.newSet(), LoadInfo{Source: "new", Dropped: DroppedTimeout}
		}
		s.Errors.Add(1)
		return s.cfg.newSet(), LoadInfo{Source: "new", Dropped: DroppedError}
	}
	set, err := s.cfg.decode(b)
	if err != nil {
		return s.cfg.newSet(), LoadInfo{Source: "new", Dropped: err.Error()}
	}
	s.Hits.Add(1)
	return set, LoadInfo{Source: "redis"}
}

// Save implements Store: it queues the write and returns at once.
func (s *RedisStore) Save(_ context.Context, _ http.Header, visitorID string, set *Set, _ bool) error {
	if !set.Changed() || visitorID == "" {
		return nil
	}
	select {
	case s.saves <- save{key: s.cfg.Prefix + visitorID, data: set.encode()}:
		return nil
	default:
		s.DroppedSaves.Add(1)
		return errors.New("seen: the Redis save queue is full")
	}
}

// Flush waits until the queued saves are written (for tests and shutdown).
func (s *RedisStore) Flush(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for len(s.saves) > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(5 * time.Millisecond) // the last write in flight
}

// Close writes the queued saves and closes the connections.
func (s *RedisStore) Close() error {
	s.once.Do(func() {
		close(s.saves)
		s.wg.Wait()
	})
	return s.client.Close()
}

// Interface guards.
var _ Store = (*RedisStore)(nil)
