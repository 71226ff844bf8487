package seen

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/bespoke-edge/bespoke/host/internal/lograte"
	"github.com/redis/go-redis/v9"
)

// redisLogEvery is the least time between two of the Redis client's own
// messages logged: while a server is down it reports each failed dial,
// ten a second with the store's probe.
const redisLogEvery = 10 * time.Second

// clientLog receives the Redis client's own messages (go-redis has one
// logger for the process, which printed them on stderr in plain text
// whatever the log format) and logs them to the logger of the last
// RedisStore built, at Warn, at most one every redisLogEvery, with the
// number left out since the last one.
var clientLog = &redisLog{every: redisLogEvery, now: time.Now}

// useClientLog makes log the receiver of the Redis client's messages.
var useClientLog = sync.OnceFunc(func() { redis.SetLogger(clientLog) })

// redisLog is go-redis's Logging interface over a slog.Logger, rate
// limited.
type redisLog struct {
	mu    sync.Mutex
	log   *slog.Logger
	limit *lograte.Limiter
	every time.Duration
	now   func() time.Time
}

// setLogger makes log the receiver, whose first message is logged at
// once.
func (l *redisLog) setLogger(log *slog.Logger) {
	l.mu.Lock()
	l.log, l.limit = log, &lograte.Limiter{Period: l.every, Burst: 1}
	l.mu.Unlock()
}

// Printf implements go-redis's Logging.
func (l *redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.mu.Lock()
	log, limit := l.log, l.limit
	l.mu.Unlock()
	if log == nil {
		return
	}
	ok, dropped := limit.Allow(l.now())
	if !ok {
		return
	}
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	args := []any{"detail", strings.TrimPrefix(msg, "redis: ")}
	if dropped > 0 {
		args = append(args, "left_out", dropped)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	log.WarnContext(ctx, "Redis client", args...)
}
