package seen

import (
	"slices"
	"strings"
	"testing"
)

func TestParseRedisURL(t *testing.T) {
	for _, tt := range []struct {
		url        string
		mode       RedisMode
		addrs      []string
		user, pass string
		db         int
		master     string
		tls        bool
	}{
		{url: "redis://127.0.0.1:6379/0", mode: RedisSingle, addrs: []string{"127.0.0.1:6379"}},
		{url: "redis://u:p%40ss@cache:6380/3", mode: RedisSingle, addrs: []string{"cache:6380"}, user: "u", pass: "p@ss", db: 3},
		{url: "rediss://cache.example:6380", mode: RedisSingle, addrs: []string{"cache.example:6380"}, tls: true},
		{url: "redis://a:7000,redis://b:7001,redis://c:7002", mode: RedisCluster, addrs: []string{"a:7000", "b:7001", "c:7002"}},
		{url: "a:7000, b:7001", mode: RedisCluster, addrs: []string{"a:7000", "b:7001"}},
		{url: "rediss://:secret@a:7000,rediss://:secret@b:7001", mode: RedisCluster, addrs: []string{"a:7000", "b:7001"}, pass: "secret", tls: true},
		{url: "redis+cluster://a:7000", mode: RedisCluster, addrs: []string{"a:7000"}},
		{url: "rediss+cluster://u:p@a:7000,b:7001/0", mode: RedisCluster, addrs: []string{"a:7000", "b:7001"}, user: "u", pass: "p", tls: true},
		{url: "redis+sentinel://s1:26379,s2:26379/mymaster", mode: RedisSentinel, addrs: []string{"s1:26379", "s2:26379"}, master: "mymaster"},
		{url: "redis+sentinel://:pw@s1:26379/mymaster/2", mode: RedisSentinel, addrs: []string{"s1:26379"}, pass: "pw", master: "mymaster", db: 2},
		// RFC 3986 userinfo may hold a comma: one server, not seeds.
		{url: "redis://u:Tr0ub4dor,3@127.0.0.1:7401/0", mode: RedisSingle, addrs: []string{"127.0.0.1:7401"}, user: "u", pass: "Tr0ub4dor,3"},
		{url: "redis://:s3cr,et@a:1/10", mode: RedisSingle, addrs: []string{"a:1"}, pass: "s3cr,et", db: 10},
		{url: "redis://:p,w@a:7000,redis://:p,w@b:7001", mode: RedisCluster, addrs: []string{"a:7000", "b:7001"}, pass: "p,w"},
		{url: "redis://u:s3cr,et,XYZ@h:6379", mode: RedisSingle, addrs: []string{"h:6379"}, user: "u", pass: "s3cr,et,XYZ"},
		// An '@' in a query option's value is no password's.
		{url: "redis://h:6379/0?client_name=web@1", mode: RedisSingle, addrs: []string{"h:6379"}},
		{url: "redis://u:p@h:6379/2?client_name=web@1", mode: RedisSingle, addrs: []string{"h:6379"}, user: "u", pass: "p", db: 2},
		// A server on this machine, by its socket.
		{url: "unix:///run/redis/redis.sock", mode: RedisSingle, addrs: []string{"/run/redis/redis.sock"}},
		{url: "unix://u:p%40ss@/run/redis.sock?db=2", mode: RedisSingle, addrs: []string{"/run/redis.sock"}, user: "u", pass: "p@ss", db: 2},
	} {
		got, err := ParseRedisURL(tt.url)
		if err != nil {
			t.Errorf("%s: %v", tt.url, err)
			continue
		}
		o := got.Options
		if got.Mode != tt.mode || !slices.Equal(o.Addrs, tt.addrs) || o.Username != tt.user || o.Password != tt.pass ||
			o.DB != tt.db || o.MasterName != tt.master || (o.TLSConfig != nil) != tt.tls {
			t.Errorf("%s: got %s %q user %q pass %q db %d master %q tls %v", tt.url, got.Mode, o.Addrs, o.Username, o.Password, o.DB, o.MasterName, o.TLSConfig != nil)
		}
		if got.Mode == RedisCluster && !o.IsClusterMode {
			t.Errorf("%s: a Cluster without IsClusterMode would be a single client with one seed", tt.url)
		}
	}
}

func TestParseRedisURLErrors(t *testing.T) {
	for _, tt := range []struct{ url, want string }{
		{"", "empty"},
		{"127.0.0.1:6379", "give a scheme"},
		{"http://a:1", `unknown scheme "http"`},
		{"redis://", "give the server"},
		{"redis://a:1/x", `database "x"`},
		{"redis://a:1/-1", `database "-1"`},
		{"redis://a:1/01", `database "01"`},
		{"redis+sentinel://s:1/m/-1", `database "-1"`},
		{"redis://a:1/0?bogus=1", "unexpected option"},
		{"unix://run/redis.sock", `"run" is read as a host`},
		{"unix://", "absolute path"},
		{"unix:///run/redis.sock?db=x", `database "x"`},
		{"unix:///run/redis.sock?bogus=1", "unexpected option"},
		{"redis://a:1,redis://b:2/3", "only database 0"},
		{"redis://a:1,rediss://b:2", "mixed"},
		{"redis://a:1,,redis://b:2", "seed 2 is empty"},
		{"redis://a:1,b", `"b" is not host:port`},
		{"redis://a:1,b:99999", "port is not a number"},
		{"redis://u:one@a:1,redis://u:two@b:2", "differs"},
		{"redis://a:1,redis://b:2?x=1", "not read for a Cluster"},
		{"http://a:1,http://b:2", "seeds are redis://"},
		{"redis+cluster://a:1/4", "only database 0"},
		{"redis+sentinel://s:26379", "name the master"},
		{"redis+sentinel://s:26379/m/x", `database "x"`},
		{"redis+sentinel://s/m", "not host:port"},
		{"redis+sentinel://s:1/m?x=1", "options"},
		{"redis://a:1?password=p", "give the user and password before the host"},
		// Bare seeds have no credentials: not one server whose password
		// would be "p@h1:6379,u:p".
		{"redis://u:p@h1:6379,u:p@h2:6379", "host:port"},
	} {
		_, err := ParseRedisURL(tt.url)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want one saying %q", tt.url, err, tt.want)
		}
	}
}

// A password never appears in an error.
func TestParseRedisURLRedacts(t *testing.T) {
	for _, u := range []string{
		"redis://user:hunter2@a:1/x",
		"redis://:hunter2@a:1,redis://:hunter2@b:2/5",
		"redis+sentinel://:hunter2@s:26379",
		"rediss+cluster://u:hunter2@a:1/9",
		"redis://u:hunter2,3@a:99999/0",
		"redis://u:hun,ter2@a:1,redis://u:hun,ter2@b/0",
		"redis://u:hunter2#x@a:1/0",
		"redis://u:1/hunter2@h:6379",
		"redis://u:1?hunter2@h:6379",
		"redis://u:1#hunter2@h:6379",
		"redis+cluster://u:1/hunter2@h:6379",
		"unix://u:hunter2@/run/r.sock?db=x",
		"unix://u:hunter2@run/r.sock",
		"unix://u:hunter2@/run/r.sock?bogus=1",
		"unix:///run/r.sock?password=hunter2",
		"redis+sentinel://u:1?hunter2@s:26379/m",
		"redis://a:1,redis://u:1/hunter2@b:2",
		"h1:6379,u:p,hunter2@h2:6379",
		"redis://u:hun,ter2,X@h:99999",
		"redis://u:1?hunter2@h:6379",
		"redis://u:1/0?hunter2@h:6379",
		// A password as a query option, which other clients read and
		// go-redis does not.
		"redis://h:6379?password=hunter2",
		"redis://h:6379/0?username=u&password=hunter2",
		"rediss://h:6379?sentinel_password=hunter2&x=1",
		"redis://h:6379?pass=hunter2",
		"redis+sentinel://s:26379/m?password=hunter2",
		"redis+cluster://h:7000?password=hunter2",
		"redis://a:7000,redis://b:7000?password=hunter2",
	} {
		_, err := ParseRedisURL(u)
		if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "ter2") {
			t.Errorf("%q: %v", u, err)
		}
	}
}

func FuzzParseRedisURL(f *testing.F) {
	for _, s := range []string{"redis://a:1/0", "a:1,b:2", "redis+sentinel://:p@s:1/m/0", "rediss+cluster://u:p@a:1,b:2", "redis://:pw@a:1,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseRedisURL(s)
		if err != nil {
			return
		}
		if len(got.Options.Addrs) == 0 {
			t.Fatalf("%q parsed with no address", s)
		}
		for _, a := range got.Options.Addrs {
			if checkAddr(a) != nil {
				t.Fatalf("%q gave address %q", s, a)
			}
		}
	})
}
