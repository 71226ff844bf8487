package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/syncbuf"
)

// TestPreviewHosts runs `bespoke preview` and `bespoke serve --preview`
// with --preview-host: each answers its own address and the name given,
// and refuses a DNS-rebound name and another site's requests. Both
// answered any Host and any site.
func TestPreviewHosts(t *testing.T) {
	runs := []struct {
		name string
		run  func(ctx context.Context, stdout io.Writer) error
		says string // what the line with the preview's URL says before it
	}{
		{"preview", func(ctx context.Context, stdout io.Writer) error {
			return previewContext(ctx, []string{"--listen", "127.0.0.1:0", "--preview-host", "preview.internal"}, stdout, io.Discard)
		}, " on http://"},
		{"serve", func(ctx context.Context, stdout io.Writer) error {
			return serveContext(ctx, []string{"--demo", "--listen", "127.0.0.1:0", "--admin", "", "--preview", "127.0.0.1:0",
				"--preview-host", "preview.internal", "--access-log=false", "--cache-dir", "-"}, stdout, io.Discard)
		}, "editors' preview on http://"},
	}
	for _, run := range runs {
		t.Run(run.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			pr, pw := io.Pipe()
			done := make(chan error, 1)
			go func() {
				done <- run.run(ctx, pw)
				pw.Close()
			}()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Error(err)
				}
			}()
			addr := ""
			sc := bufio.NewScanner(pr)
			for addr == "" && sc.Scan() {
				if _, u, ok := strings.Cut(sc.Text(), run.says); ok {
					addr = strings.TrimSuffix(u, "/")
				}
			}
			go io.Copy(io.Discard, pr)
			if addr == "" {
				t.Fatal("the preview's address was not printed")
			}
			_, port, _ := net.SplitHostPort(addr)
			tests := []struct {
				name    string
				headers []string
				want    int
			}{
				{"its address", nil, 200},
				{"the name given", []string{"Host", "preview.internal:" + port}, 200},
				{"a DNS-rebound name", []string{"Host", "attacker.example:" + port}, 403},
				{"another site", []string{"Sec-Fetch-Site", "cross-site"}, 403},
				{"a foreign Origin", []string{"Origin", "http://attacker.example"}, 403},
			}
			for _, tt := range tests {
				req, _ := http.NewRequest("GET", "http://"+addr+"/state", nil)
				for i := 0; i+1 < len(tt.headers); i += 2 {
					if tt.headers[i] == "Host" {
						req.Host = tt.headers[i+1]
					} else {
						req.Header.Set(tt.headers[i], tt.headers[i+1])
					}
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.want {
					t.Errorf("%s: status %d, want %d", tt.name, resp.StatusCode, tt.want)
				}
			}
		})
	}
}

// TestListenHosts: the preview answers to the host of the address it
// listens on, given as a name or an address, with its port; on every
// interface or on loopback, to no more than loopback names.
func TestListenHosts(t *testing.T) {
	tests := []struct {
		listen, at string
		want       []string
	}{
		{"192.0.2.5:8081", "192.0.2.5:8081", []string{"192.0.2.5:8081"}},
		{"192.0.2.5:0", "192.0.2.5:41234", []string{"192.0.2.5:41234"}},
		{"preview.lan:8081", "192.0.2.5:8081", []string{"preview.lan:8081", "192.0.2.5:8081"}},
		{"192.0.2.5:80", "192.0.2.5:80", []string{"192.0.2.5:80", "192.0.2.5"}},
		{"[2001:db8::5]:8081", "[2001:db8::5]:8081", []string{"[2001:db8::5]:8081"}},
		{":8081", "[::]:8081", nil},
		{"0.0.0.0:8081", "0.0.0.0:8081", nil},
		{"127.0.0.1:8081", "127.0.0.1:8081", nil},
		{"localhost:8081", "127.0.0.1:8081", []string{"localhost:8081"}},
	}
	for _, tt := range tests {
		at, err := net.ResolveTCPAddr("tcp", tt.at)
		if err != nil {
			t.Fatal(err)
		}
		if got := listenHosts(tt.listen, at); !slices.Equal(got, tt.want) {
			t.Errorf("listenHosts(%q, %s) = %q, want %q", tt.listen, tt.at, got, tt.want)
		}
	}
}

// TestWarnBeyondLoopback: a preview that takes connections from beyond
// this machine is said to, since its Host check keeps web pages out, not
// people.
func TestWarnBeyondLoopback(t *testing.T) {
	for addr, warns := range map[string]bool{
		"127.0.0.1:8081": false, "[::1]:8081": false, "0.0.0.0:8081": true, "[::]:8081": true, "192.0.2.7:8081": true,
	} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		warnBeyondLoopback(&b, "preview", a)
		if got := strings.Contains(b.String(), "anyone who reaches it can use it"); got != warns {
			t.Errorf("%s: warned %v: %q", addr, got, b.String())
		}
	}
}

// failingOnce is a listener whose first Accept fails as out of file
// descriptors do.
type failingOnce struct {
	net.Listener
	failed bool
}

func (l *failingOnce) Accept() (net.Conn, error) {
	if !l.failed {
		l.failed = true
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	return l.Listener.Accept()
}

// TestPreviewErrorsInTheLog: the preview that bespoke serve --preview
// runs writes its server's errors (an accept failing) in the serve log's
// format: Go's standard logger wrote lines of its own format in a log of
// JSON.
func TestPreviewErrorsInTheLog(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var buf syncbuf.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- servePreview(ctx, &failingOnce{Listener: ln}, http.NotFoundHandler(), slog.NewLogLogger(log.Handler(), slog.LevelWarn))
	}()
	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	<-done
	line, _, _ := strings.Cut(buf.String(), "\n")
	if !strings.HasPrefix(line, "{") || !strings.Contains(line, "Accept error") || !strings.Contains(line, `"level":"WARN"`) {
		t.Errorf("the accept error is not a JSON line of the log: %q", buf.String())
	}
}

// TestPreviewFileArgument: the rule file may be named as check, test
// and explain take it (bespoke preview shop.yaml said unexpected
// argument "shop.yaml"); beside --rules, or two of them, it is refused.
func TestPreviewFileArgument(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // stops the preview as soon as it serves
	pages := t.TempDir()
	var out bytes.Buffer
	if err := previewContext(ctx, []string{demoRules, "--pages", pages, "--listen", "127.0.0.1:0"}, &out, io.Discard); err != nil || !strings.Contains(out.String(), "bespoke preview of "+demoRules) {
		t.Errorf("preview FILE: %v, %q", err, &out)
	}
	for _, args := range [][]string{
		{"--rules", demoRules, demoRules, "--pages", pages},
		{demoRules, demoRules, "--pages", pages},
	} {
		err := previewContext(ctx, append(args, "--listen", "127.0.0.1:0"), io.Discard, io.Discard)
		if !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "unexpected argument") {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}

// TestHostFlags: a --preview-host or --admin-host that names no Host a
// request could send is a mistake in the command line (exit 2), said
// with what to write; it was taken as a name, and the listener refused
// the host the operator had given it. (Each command would stop on its
// own past its options: no rules file, --check.)
func TestHostFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"preview", "--rules", "no-such-rules.yaml", "--preview-host", "*.lan"}, `--preview-host *.lan is a wildcard: list each name (admin.internal) or an address prefix (10.0.0.0/8)`},
		{[]string{"serve", "--check", "--demo", "--cache-dir", "-", "--preview-host", "http://preview.lan:8081"}, `--preview-host http://preview.lan:8081 is a URL: write its host alone (preview.lan:8081)`},
		{[]string{"serve", "--check", "--demo", "--cache-dir", "-", "--admin-host", "10.0.0.0/33"}, `--admin-host 10.0.0.0/33 is no address prefix (write 10.0.0.0/8)`},
	}
	for _, tt := range tests {
		code, out, errOut := bespoke(tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, want 2 saying %s\n%s%s", tt.args, code, tt.want, out, errOut)
		}
	}
}

// TestAddressInUse: a listener whose address something else holds (make
// run, another bespoke) stops the command with the option to change, not
// Go's "bind: address already in use" alone.
func TestAddressInUse(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	addr := held.Addr().String()
	serve := []string{"serve", "--origin", "http://127.0.0.1:9", "--rules", demoRules, "--cache-dir", "-"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"preview", []string{"preview", "--listen", addr}, "bespoke preview: listen tcp " + addr + ": bind: address already in use: something else listens there (make run, another bespoke); stop it, or give --listen another address"},
		{"serve", append(serve, "--listen", addr, "--admin", ""), "bespoke serve: listen tcp " + addr + ": bind: address already in use: something else listens there (make run, another bespoke); stop it, or give --listen another address"},
		{"serve --admin", append(serve, "--listen", "127.0.0.1:0", "--admin", addr), "bespoke serve: admin listener: listen tcp " + addr + ": bind: address already in use: something else listens there (make run, another bespoke); stop it, or give --admin another address"},
		{"serve --preview", append(serve, "--listen", "127.0.0.1:0", "--admin", "", "--preview", addr), "bespoke serve: preview listener: listen tcp " + addr + ": bind: address already in use: something else listens there (make run, another bespoke); stop it, or give --preview another address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := bespoke(tt.args...)
			if code != 1 || !strings.Contains(errOut, tt.want+"\n") {
				t.Errorf("exit %d, want 1 with\n%s\n%s%s", code, tt.want, out, errOut)
			}
		})
	}
}

// TestPreviewRulesNotThere: a rule file that cannot be read is said as
// check says it, with --rules when that named it, not as Go's "open
// nope.yaml: no such file or directory".
func TestPreviewRulesNotThere(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"preview", "--rules", missing}, `bespoke preview: --rules "` + missing + `": no such file or directory`},
		{[]string{"preview", missing}, `bespoke preview: ` + missing + `: no such file or directory`},
	} {
		code, out, errOut := bespoke(append(tt.args, "--listen", "127.0.0.1:0")...)
		if code != 1 || errOut != tt.want+"\n" {
			t.Errorf("%q: exit %d, want 1 with %q:\n%s%s", tt.args, code, tt.want, out, errOut)
		}
	}
}
