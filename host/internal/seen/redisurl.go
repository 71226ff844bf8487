package seen

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// RedisMode is the kind of deployment a Redis URL names.
type RedisMode string

// The deployments ParseRedisURL tells apart.
const (
	RedisSingle   RedisMode = "single"
	RedisCluster  RedisMode = "cluster"
	RedisSentinel RedisMode = "sentinel"
)

// RedisTarget is what a Redis URL names: the options of go-redis's
// universal client, and which kind of deployment they reach.
type RedisTarget struct {
	Mode    RedisMode
	Options redis.UniversalOptions
	// simple is a single server's options as go-redis reads its URL,
	// query options included.
	simple *redis.Options
}

// ParseRedisURL reads the forms of RedisConfig.URL:
//
//	redis://[user:password@]host:port[/db]      one server
//	rediss://...                                one server over TLS
//	redis://h1:p1,redis://h2:p2,...             a Cluster, by its seeds
//	h1:p1,h2:p2,...                             the same, without scheme
//	redis+cluster://[user:password@]h1:p1[,h2:p2...]   a Cluster (one seed is enough)
//	rediss+cluster://...                        a Cluster over TLS
//	redis+sentinel://[user:password@]h1:p1[,h2:p2...]/master[/db]
//	                                            the master Sentinel names
//	unix://[user:password@]/path/redis.sock[?db=N]  one server on this
//	                                            machine, by its Unix socket
//
// A Cluster has only database 0. In the Sentinel form the user and
// password are the Redis servers'; the Sentinels are reached without
// them. Errors never repeat the password.
func ParseRedisURL(s string) (RedisTarget, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return RedisTarget{}, errors.New("seen: the Redis URL is empty (redis://host:port)")
	}
	t, err := parseRedisURL(s)
	if err != nil {
		return RedisTarget{}, fmt.Errorf("seen: Redis URL %q: %w", redactURL(s), err)
	}
	return t, nil
}

func parseRedisURL(s string) (RedisTarget, error) {
	for _, seed := range splitSeeds(s) {
		_, rest, ok := strings.Cut(seed, "://")
		if !ok {
			rest = seed
		}
		if unescapedUserinfo(rest) {
			// A user or password holding / ? or # unescaped ends the
			// authority there: read on, it would give a wrong server, or
			// an error quoting the password's tail.
			return RedisTarget{}, errors.New("not a URL; in a user or password, write @ : / ? # % as %40 %3A %2F %3F %23 %25")
		}
	}
	scheme, rest, hasScheme := strings.Cut(s, "://")
	switch {
	case hasScheme && (scheme == "redis+sentinel" || scheme == "rediss+sentinel"):
		return parseSentinel(scheme, rest)
	case hasScheme && (scheme == "redis+cluster" || scheme == "rediss+cluster"):
		return parseCluster(strings.TrimSuffix(scheme, "+cluster"), rest)
	case hasScheme && scheme == "unix":
		return parseUnix(s)
	case len(splitSeeds(s)) > 1:
		return parseSeedList(s)
	case !hasScheme:
		return RedisTarget{}, errors.New("give a scheme: redis://host:port, rediss:// for TLS, redis+cluster:// or redis+sentinel://")
	case scheme != "redis" && scheme != "rediss":
		return RedisTarget{}, fmt.Errorf("unknown scheme %q: use redis, rediss, redis+cluster, rediss+cluster, redis+sentinel or unix", scheme)
	}
	if u, err := url.Parse(s); err == nil {
		if u.Host == "" {
			return RedisTarget{}, errors.New("give the server: redis://host:port")
		}
		if db := strings.TrimPrefix(u.Path, "/"); db != "" && !isDBNumber(db) {
			return RedisTarget{}, fmt.Errorf("database %q: give its number, 0 or more, without leading zeros (redis://host:port/1)", db)
		}
	}
	o, err := redis.ParseURL(s)
	if err != nil {
		var ue *url.Error
		switch {
		case errors.As(err, &ue) && strings.Contains(s, "@"):
			// Its message quotes the part it could not read, which may
			// be a piece of the password.
			return RedisTarget{}, errors.New("not a URL; in a user or password, write @ : / ? # % as %40 %3A %2F %3F %23 %25")
		case errors.As(err, &ue):
			err = ue.Err // which repeats the URL
		}
		msg := strings.TrimPrefix(err.Error(), "redis: ")
		if strings.HasPrefix(msg, "unexpected option") && secretOptions.MatchString(s) {
			msg += "; give the user and password before the host: redis://user:password@host:port"
		}
		return RedisTarget{}, errors.New(msg)
	}
	if err := checkAddr(o.Addr); err != nil {
		return RedisTarget{}, err
	}
	return RedisTarget{Mode: RedisSingle, Options: redis.UniversalOptions{
		Addrs: []string{o.Addr}, Username: o.Username, Password: o.Password, DB: o.DB,
		TLSConfig: o.TLSConfig, ClientName: o.ClientName, Protocol: o.Protocol,
	}, simple: o}, nil
}

// parseUnix reads unix://[user:password@]/path[?db=N], a server on this
// machine reached by its socket: no TCP handshake nor loopback stack
// between a proxy and the Redis beside it.
func parseUnix(s string) (RedisTarget, error) {
	u, err := url.Parse(s)
	if err != nil {
		if strings.Contains(s, "@") {
			return RedisTarget{}, errors.New("not a URL; in a user or password, write @ : / ? # % as %40 %3A %2F %3F %23 %25")
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // which repeats the URL
		}
		return RedisTarget{}, err
	}
	switch {
	case u.Host != "":
		// unix://run/redis.sock reads "run" as a host and loses it.
		return RedisTarget{}, fmt.Errorf("%q is read as a host: give the socket's absolute path after the two slashes, unix:///run/redis/redis.sock", u.Host)
	case u.Path == "" || !strings.HasPrefix(u.Path, "/"):
		return RedisTarget{}, errors.New("give the socket's absolute path: unix:///run/redis/redis.sock")
	}
	if v := u.Query(); v.Has("db") && !isDBNumber(v.Get("db")) {
		return RedisTarget{}, fmt.Errorf("database %q: give its number, 0 or more, without leading zeros (unix:///run/redis.sock?db=1)", v.Get("db"))
	}
	o, err := redis.ParseURL(s)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "redis: ")
		if strings.HasPrefix(msg, "unexpected option") && secretOptions.MatchString(s) {
			msg += "; give the user and password before the path: unix://user:password@/run/redis.sock"
		}
		return RedisTarget{}, errors.New(msg)
	}
	return RedisTarget{Mode: RedisSingle, Options: redis.UniversalOptions{
		Addrs: []string{o.Addr}, Username: o.Username, Password: o.Password, DB: o.DB,
		ClientName: o.ClientName, Protocol: o.Protocol,
	}, simple: o}, nil
}

// parseSeedList reads a comma-separated list of seeds of one Cluster,
// each host:port or a redis:// or rediss:// URL; schemes and credentials
// must agree.
func parseSeedList(s string) (RedisTarget, error) {
	var scheme, user string
	var pass *string
	var addrs []string
	seeds := splitSeeds(s)
	for i, seed := range seeds {
		if !strings.Contains(seed, "://") && strings.Contains(s, "@") {
			// Credentials beside a seed without a scheme: which part is
			// whose cannot be told, and none is quoted.
			return RedisTarget{}, fmt.Errorf("seed %d: a seed without a scheme is host:port alone; give credentials as redis://user:password@host:port", i+1)
		}
	}
	for i, seed := range seeds {
		seed = strings.TrimSpace(seed)
		if seed == "" {
			return RedisTarget{}, fmt.Errorf("seed %d is empty", i+1)
		}
		sc := "redis"
		if !strings.Contains(seed, "://") && strings.Contains(seed, "@") {
			// Not quoted: what comes before the '@' is credentials.
			return RedisTarget{}, fmt.Errorf("seed %d: a seed without a scheme is host:port alone; give credentials as redis://user:password@host:port", i+1)
		}
		if strings.Contains(seed, "://") {
			u, err := url.Parse(seed)
			if err != nil {
				if strings.Contains(seed, "@") {
					return RedisTarget{}, fmt.Errorf("seed %d (%s): not a URL; in a user or password, write @ : / ? # %% as %%40 %%3A %%2F %%3F %%23 %%25", i+1, redactURL(seed))
				}
				var ue *url.Error
				if errors.As(err, &ue) {
					err = ue.Err // which repeats the URL
				}
				return RedisTarget{}, fmt.Errorf("seed %d (%s): %v", i+1, seed, err)
			}
			if u.Scheme != "redis" && u.Scheme != "rediss" {
				return RedisTarget{}, fmt.Errorf("seed %d: scheme %q: a Cluster's seeds are redis:// or rediss://", i+1, u.Scheme)
			}
			sc = u.Scheme
			if p := strings.Trim(u.Path, "/"); p != "" && p != "0" {
				return RedisTarget{}, fmt.Errorf("seed %d: database %q: a Redis Cluster has only database 0", i+1, p)
			}
			if u.RawQuery != "" {
				return RedisTarget{}, fmt.Errorf("seed %d: options (%s) are not read for a Cluster", i+1, optionNames(u.RawQuery))
			}
			if u.User != nil {
				p, _ := u.User.Password()
				if pass != nil && (u.User.Username() != user || p != *pass) {
					return RedisTarget{}, fmt.Errorf("seed %d: its user or password differs from an earlier seed's", i+1)
				}
				user, pass = u.User.Username(), &p
			}
			seed = u.Host
		}
		if i > 0 && sc != scheme {
			return RedisTarget{}, fmt.Errorf("seed %d: %s:// mixed with %s://", i+1, sc, scheme)
		}
		scheme = sc
		if err := checkAddr(seed); err != nil {
			return RedisTarget{}, fmt.Errorf("seed %d: %w", i+1, err)
		}
		addrs = append(addrs, seed)
	}
	t := RedisTarget{Mode: RedisCluster, Options: redis.UniversalOptions{Addrs: addrs, Username: user, IsClusterMode: true}}
	if pass != nil {
		t.Options.Password = *pass
	}
	if scheme == "rediss" {
		t.Options.TLSConfig = clusterTLS()
	}
	return t, nil
}

// clusterTLS is the TLS configuration of a Cluster's connections. It
// names no server: each node's certificate is verified against the
// address the client dials it at (a seed, or the address the Cluster
// announces), where the first seed's name, given to every node, failed
// the nodes whose certificates name them only.
func clusterTLS() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12}
}

// parseCluster reads [user:password@]h1:p1,h2:p2[/0] after redis+cluster://.
func parseCluster(scheme, rest string) (RedisTarget, error) {
	user, pass, hosts, path, err := splitMultiHost(rest)
	if err != nil {
		return RedisTarget{}, err
	}
	if path != "" && path != "0" {
		return RedisTarget{}, fmt.Errorf("database %q: a Redis Cluster has only database 0", path)
	}
	t := RedisTarget{Mode: RedisCluster, Options: redis.UniversalOptions{Addrs: hosts, Username: user, Password: pass, IsClusterMode: true}}
	if scheme == "rediss" {
		t.Options.TLSConfig = clusterTLS()
	}
	return t, nil
}

// parseSentinel reads [user:password@]h1:p1,h2:p2/master[/db] after
// redis+sentinel://.
func parseSentinel(scheme, rest string) (RedisTarget, error) {
	user, pass, hosts, path, err := splitMultiHost(rest)
	if err != nil {
		return RedisTarget{}, err
	}
	master, db, _ := strings.Cut(path, "/")
	if master == "" {
		return RedisTarget{}, errors.New("name the master after the Sentinels: redis+sentinel://host:26379/mymaster")
	}
	t := RedisTarget{Mode: RedisSentinel, Options: redis.UniversalOptions{Addrs: hosts, Username: user, Password: pass, MasterName: master}}
	if db != "" {
		n, err := strconv.Atoi(db)
		if err != nil || !isDBNumber(db) {
			return RedisTarget{}, fmt.Errorf("database %q: give its number, 0 or more, without leading zeros", db)
		}
		t.Options.DB = n
	}
	if scheme == "rediss+sentinel" {
		t.Options.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return t, nil
}

// splitMultiHost splits [user:password@]h1:p1,h2:p2[/path][?query].
func splitMultiHost(rest string) (user, pass string, hosts []string, path string, err error) {
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		return "", "", nil, "", fmt.Errorf("options (%s) are not read in this form", optionNames(rest[i+1:]))
	}
	authority, path, _ := strings.Cut(rest, "/")
	path = strings.TrimSuffix(path, "/")
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		info := authority[:i]
		authority = authority[i+1:]
		u, p, _ := strings.Cut(info, ":")
		if user, err = url.PathUnescape(u); err != nil {
			return "", "", nil, "", errors.New("the user is not URL-escaped properly")
		}
		if pass, err = url.PathUnescape(p); err != nil {
			return "", "", nil, "", errors.New("the password is not URL-escaped properly")
		}
	}
	for i, h := range strings.Split(authority, ",") {
		if err := checkAddr(h); err != nil {
			return "", "", nil, "", fmt.Errorf("host %d: %w", i+1, err)
		}
		hosts = append(hosts, h)
	}
	return user, pass, hosts, path, nil
}

// checkAddr requires host:port with a port number.
func checkAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil || host == "" {
		return fmt.Errorf("%q is not host:port", a)
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return fmt.Errorf("%q: the port is not a number from 1 to 65535", a)
	}
	return nil
}

// unescapedUserinfo reports whether what follows a URL's scheme holds an
// '@' past a / ? or #: a user or password with one of them unescaped
// (u:1/secret@host), unless the '@' is in a query option's value
// (?client_name=web@1), which follows a name and '='.
func unescapedUserinfo(rest string) bool {
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return false
	}
	d := strings.IndexAny(rest[:at], "/?#")
	if d < 0 {
		return false
	}
	q := strings.IndexByte(rest[d:at], '?')
	if q < 0 || strings.ContainsAny(rest[:d+q], "#") {
		return true
	}
	return !strings.Contains(rest[d+q+1:at], "=")
}

// isDBNumber reports whether s is a database number as the redis URI
// scheme writes it: "0" or a number without leading zeros.
func isDBNumber(s string) bool {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// splitSeeds splits a comma-separated list of Cluster seeds. A comma is
// a password's (RFC 3986 lets userinfo hold one) rather than a separator
// when what follows it, up to the next comma, names a user's host
// ("3@host:port") without starting a URL of its own: a bare seed is
// host:port, with no '@'.
func splitSeeds(s string) []string {
	parts := strings.Split(s, ",")
	var seeds []string
	for i := 0; i < len(parts); i++ {
		seed := parts[i]
		_, auth, ok := strings.Cut(seed, "://")
		if !ok {
			auth = seed
		}
		if !strings.Contains(auth, "@") {
			// A seed that has not reached its host: the commas up to the
			// part that does (a user@host with no scheme of its own),
			// before the next seed with a scheme, are its password's.
			end := -1
			for j := i + 1; j < len(parts) && !strings.Contains(parts[j], "://"); j++ {
				if strings.Contains(parts[j], "@") {
					end = j
				}
			}
			if end > 0 && ok {
				seed = strings.Join(parts[i:end+1], ",")
				i = end
			}
		}
		seeds = append(seeds, seed)
	}
	return seeds
}

// secretOptions matches a query option that may hold a secret (other
// clients read ?password=), up to the next option: its value, commas
// and what follows included, since hiding too much is the safe mistake.
var secretOptions = regexp.MustCompile(`(?i)([?&][^=&#]*(pass|secret|token)[^=&#]*=)[^&#]*`)

// optionNames is the names of a URL's query options, without their
// values, which may be secrets.
func optionNames(query string) string {
	var names []string
	for _, o := range strings.Split(query, "&") {
		name, _, _ := strings.Cut(o, "=")
		names = append(names, name)
	}
	return strings.Join(names, ", ")
}

// redactURL hides the passwords of a Redis URL (or list of them), in its
// user information or its options.
func redactURL(s string) string {
	s = secretOptions.ReplaceAllString(s, "${1}xxxxx")
	var out []string
	for _, part := range splitSeeds(s) {
		scheme, rest, ok := strings.Cut(part, "://")
		if !ok {
			scheme, rest = "", part
		}
		// Up to the last '@': a password may hold '/', '#' or '?' left
		// unescaped, and hiding too much is the safe mistake.
		if at := strings.LastIndexByte(rest, '@'); at >= 0 {
			if u, _, hasPass := strings.Cut(rest[:at], ":"); hasPass {
				rest = u + ":xxxxx" + rest[at:]
			} else {
				// A lone userinfo may be a password (some clients read
				// it so): hidden too.
				rest = "xxxxx" + rest[at:]
			}
		}
		if ok {
			part = scheme + "://" + rest
		} else {
			part = rest
		}
		out = append(out, part)
	}
	return strings.Join(out, ",")
}
