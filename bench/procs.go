package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// supervisor owns every child process and temporary directory of a run,
// so that one cleanup, deferred in main and also run on SIGINT/SIGTERM,
// leaves nothing behind.
type supervisor struct {
	mu    sync.Mutex
	procs []*proc
	dirs  []string
}

// proc is one child process, leader of its own process group so that
// stopping it also stops what it started (nginx's workers, go test's test
// binary) and so that a Ctrl-C in the terminal reaches the harness only,
// which then stops the children in order.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	log     *lineLog
	waitFor bool // whether the process prints a ready line
	done    chan struct{}
	once    sync.Once
	err     error
}

// lineLog writes a child's output to a file and remembers the first line
// matching a pattern (the "ready" line) and the last lines (for errors).
type lineLog struct {
	mu      sync.Mutex
	f       *os.File
	partial []byte
	tail    []string
	ready   *regexp.Regexp
	readyCh chan string
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.f.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		l.tail = append(l.tail, line)
		if len(l.tail) > 20 {
			l.tail = l.tail[1:]
		}
		if l.ready != nil && l.ready.MatchString(line) {
			l.ready = nil
			l.readyCh <- line
		}
	}
	return len(p), nil
}

// Tail returns the last lines the process printed.
func (l *lineLog) Tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := append([]string{}, l.tail...)
	if len(l.partial) > 0 {
		lines = append(lines, string(l.partial))
	}
	return strings.Join(lines, "\n")
}

// startOpts describe a child process.
type startOpts struct {
	name  string
	argv  []string
	env   []string // added to the harness's environment
	dir   string   // working directory
	logs  string   // directory for the output file
	ready *regexp.Regexp
}

func (s *supervisor) start(o startOpts) (*proc, error) {
	f, err := os.Create(filepath.Join(o.logs, o.name+".log"))
	if err != nil {
		return nil, err
	}
	l := &lineLog{f: f, ready: o.ready, readyCh: make(chan string, 1)}
	cmd := exec.Command(o.argv[0], o.argv[1:]...)
	cmd.Dir = o.dir
	cmd.Env = append(os.Environ(), o.env...)
	cmd.Stdout = l
	cmd.Stderr = l
	// Pdeathsig stops the child even if the harness is killed outright:
	// SIGTERM rather than SIGKILL, so that nginx's master stops its
	// workers on the way out.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	p := &proc{name: o.name, cmd: cmd, logPath: f.Name(), log: l, waitFor: o.ready != nil, done: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", o.name, err)
	}
	s.procs = append(s.procs, p)
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// pid is the process's id, which is also its process group's.
func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitReady waits for the ready line (when the process has one) and then
// for url to answer 200.
func (p *proc) waitReady(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if p.waitFor {
		select {
		case <-p.log.readyCh:
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready (%v):\n%s", p.name, p.err, indent(p.log.Tail()))
		case <-ctx.Done():
			return fmt.Errorf("%s: no ready line after %v:\n%s", p.name, timeout, indent(p.log.Tail()))
		}
	}
	client := &http.Client{Timeout: time.Second}
	var last error
	for {
		resp, err := client.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v):\n%s", p.name, p.err, indent(p.log.Tail()))
		case <-ctx.Done():
			return fmt.Errorf("%s: %s not answering 200 after %v (%v):\n%s", p.name, url, timeout, last, indent(p.log.Tail()))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop asks the process group to terminate, then kills it. Only the
// first call acts: once the group is gone its id may be reused.
func (p *proc) stop() { p.once.Do(p.stopGroup) }

func (p *proc) stopGroup() {
	if !p.exited() {
		syscall.Kill(-p.pid(), syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
		}
	}
	// Whatever the leader left behind (workers, a test binary) goes too.
	syscall.Kill(-p.pid(), syscall.SIGKILL)
	<-p.done
}

// tempDir makes a directory that cleanup removes.
func (s *supervisor) tempDir(pattern string) (string, error) {
	d, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.dirs = append(s.dirs, d)
	s.mu.Unlock()
	return d, nil
}

// cleanup stops every process still running and removes the temporary
// directories unless keep is set.
func (s *supervisor) cleanup(keep bool) {
	s.mu.Lock()
	procs := append([]*proc{}, s.procs...)
	dirs := append([]string{}, s.dirs...)
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() { defer wg.Done(); p.stop() }()
	}
	wg.Wait()
	if keep {
		return
	}
	for _, d := range dirs {
		os.RemoveAll(d)
	}
}

// run executes a short command in its own process group, killed with the
// group when ctx ends, and returns its combined output.
func run(ctx context.Context, dir string, env []string, argv ...string) ([]byte, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.Bytes(), err
	case <-ctx.Done():
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return out.Bytes(), ctx.Err()
	}
}

// groupStats is what /proc says about a process group.
type groupStats struct {
	// CPU is user plus system time of the live processes, in seconds.
	CPU float64
	// HWMKiB sums the peak resident size (VmHWM) of each process: memory
	// shared between nginx's master and workers is counted once per
	// process, which overstates nginx a little.
	HWMKiB int64
	// Procs is how many processes the group has.
	Procs int
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// readGroup sums /proc/PID/stat and /proc/PID/status over the processes
// whose process group is pgid.
func readGroup(pgid int) groupStats {
	var g groupStats
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return g
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		f, err := statFields(stat)
		if err != nil || len(f) < 13 {
			continue
		}
		// After "pid (comm)": state ppid pgrp session tty tpgid flags
		// minflt cminflt majflt cmajflt utime stime.
		if pg, _ := strconv.Atoi(f[2]); pg != pgid {
			continue
		}
		ut, _ := strconv.ParseUint(f[11], 10, 64)
		st, _ := strconv.ParseUint(f[12], 10, 64)
		g.CPU += float64(ut+st) / clockTicks
		g.HWMKiB += statusKiB(pid, "VmHWM:")
		g.Procs++
	}
	return g
}

func statFields(stat []byte) ([]string, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return nil, errors.New("malformed stat")
	}
	return strings.Fields(string(stat[i+1:])), nil
}

func statusKiB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				v, _ := strconv.ParseInt(f[0], 10, 64)
				return v
			}
		}
	}
	return 0
}

// machineBusy is the CPU time all processes of the machine used since
// boot, in seconds: /proc/stat's user, nice, system, irq, softirq and
// steal.
func machineBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var busy uint64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, _ := strconv.ParseUint(f[i], 10, 64)
		busy += v
	}
	return float64(busy) / clockTicks
}

// selfCPU is the harness's own CPU time (the load generator), in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// freePort returns a loopback address nobody listens on right now.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func indent(s string) string {
	if s == "" {
		return "    (no output)"
	}
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}
