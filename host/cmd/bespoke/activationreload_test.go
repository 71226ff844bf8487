package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestConfigReloadOnPassedSockets: bespoke serve --config on the sockets
// a service manager passed reloads its file as it does on its own
// listeners; a file that changes listen and admin, which it does not
// read while the sockets are passed, is not said to need a restart, and
// the log and the status name the socket unit instead.
func TestConfigReloadOnPassedSockets(t *testing.T) {
	a, b := namedOrigin(t, "A"), namedOrigin(t, "B")
	var files []*os.File
	var addrs []string
	for range 2 {
		f, addr := passedSocket(t)
		files = append(files, f)
		addrs = append(addrs, addr)
	}
	visitors, admin := "http://"+addrs[0], "http://"+addrs[1]
	dir := t.TempDir()
	conf := filepath.Join(dir, "bespoke.yaml")
	write := func(origin, listen string) {
		t.Helper()
		src := "listen: " + listen + "\nadmin: " + listen + "1\ncache_dir: \"-\"\nlog: { access: false }\nroutes:\n  - { name: shop, origin: \"" + origin + "\" }\n"
		if err := os.WriteFile(conf, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(a.URL, "127.0.0.1:9")
	cmd, out := startActivated(t, files, "visitors:admin", "serve", "--config", conf, "--watch", "0")
	get := func(u string) string {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	// The passed sockets queue the first requests until it serves.
	if got := get(visitors + "/"); !strings.Contains(got, `<p id="o">A</p>`) {
		t.Fatalf("the first configuration: %s\n%s", got, out)
	}
	write(b.URL, "127.0.0.1:8")
	resp, err := http.Post(admin+"/_bespoke/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var res []map[string]any
	json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(res) == 0 || res[0]["generation"] != 2.0 {
		t.Fatalf("the reload: %s %v\n%s", resp.Status, res, out)
	}
	if got := get(visitors + "/"); !strings.Contains(got, `<p id="o">B</p>`) {
		t.Fatalf("the configuration reloaded does not serve: %s\n%s", got, out)
	}
	log := out.String()
	if strings.Contains(log, "only a restart applies") {
		t.Errorf("listen and admin, not read while the sockets are passed, are said to need a restart:\n%s", grepLines(log, "restart"))
	}
	for _, key := range []string{"listen", "admin"} {
		if !strings.Contains(log, `msg="configuration setting changed that is not read: the service manager passes its socket" key=`+key) {
			t.Errorf("no warning that %s is not read:\n%s", key, log)
		}
	}
	status := get(admin + "/_bespoke/status")
	if !strings.Contains(status, "listen at "+conf+":1:9 (not read: the service manager passes the socket)") {
		t.Errorf("the status does not say listen is not read:\n%s", status)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v\n%s", err, out)
	}
}
