// Package rediscluster starts a real Redis Cluster on loopback for tests:
// three primaries and three replicas (redis-server in cluster mode, joined
// by redis-cli --cluster create), in a temporary directory, stopped when
// the test ends. Without redis-server the test is skipped, or fails when
// CI=true, since CI installs it.
package rediscluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bespoke-edge/bespoke/internal/testproc"
)

// NodeTimeout is the nodes' cluster-node-timeout: a primary silent this
// long is taken for failed and a replica is promoted in its place.
const NodeTimeout = time.Second

// Cluster is a running Redis Cluster.
type Cluster struct {
	t     testing.TB
	Nodes []*Node
}

// Node is one redis-server of the cluster.
type Node struct {
	Addr   string
	cmd    *exec.Cmd
	exited chan struct{}
	once   sync.Once
}

// Start starts a cluster of three primaries, each with one replica, and
// waits until it serves every slot.
func Start(t testing.TB) *Cluster {
	t.Helper()
	server, err1 := exec.LookPath("redis-server")
	cli, err2 := exec.LookPath("redis-cli")
	if err1 != nil || err2 != nil {
		msg := "redis-server and redis-cli are not installed (apt-get install redis-server): the Redis Cluster test cannot run"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; CI must install them (.ci/run)")
		}
		t.Skip(msg)
	}
	c := &Cluster{t: t}
	t.Cleanup(c.stopAll)
	dir := t.TempDir()
	for range 6 {
		c.Nodes = append(c.Nodes, c.startNode(server, dir))
	}
	args := []string{"--cluster", "create"}
	for _, n := range c.Nodes {
		args = append(args, n.Addr)
	}
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	for !c.replicated(ctx) {
		select {
		case <-ctx.Done():
			t.Fatal("the Redis Cluster's replicas did not join")
		case <-time.After(50 * time.Millisecond):
		}
	}
	return c
}

// replicated reports whether every shard has an online replica whose
// link to its primary is up.
func (c *Cluster) replicated(ctx context.Context) bool {
	shards, err := c.shards(ctx)
	if err != nil || len(shards) == 0 {
		return false
	}
	for _, sh := range shards {
		if len(sh.replicas) == 0 {
			return false
		}
		rep := redis.NewClient(&redis.Options{Addr: sh.replicas[0], MaxRetries: -1})
		info, err := rep.Info(ctx, "replication").Result()
		rep.Close()
		if err != nil || !strings.Contains(info, "master_link_status:up") {
			return false
		}
	}
	return true
}

// shard is one primary's slots as a running node sees the cluster.
type shard struct {
	slots    []redis.SlotRange
	primary  string   // address
	replicas []string // addresses of the online replicas
}

// shards reads CLUSTER SHARDS from a running node.
func (c *Cluster) shards(ctx context.Context) ([]shard, error) {
	cl, err := c.live()
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	raw, err := cl.ClusterShards(ctx).Result()
	if err != nil {
		return nil, err
	}
	var out []shard
	for _, r := range raw {
		sh := shard{slots: r.Slots}
		for _, n := range r.Nodes {
			addr := net.JoinHostPort(n.IP, strconv.FormatInt(n.Port, 10))
			switch {
			case n.Role == "master" && n.Health == "online":
				sh.primary = addr
			case n.Role == "replica" && n.Health == "online":
				sh.replicas = append(sh.replicas, addr)
			}
		}
		if len(sh.slots) > 0 {
			out = append(out, sh)
		}
	}
	return out, nil
}

// shardOf returns the shard serving slot.
func (c *Cluster) shardOf(ctx context.Context, slot int) (shard, error) {
	shards, err := c.shards(ctx)
	if err != nil {
		return shard{}, err
	}
	for _, sh := range shards {
		for _, r := range sh.slots {
			if int(r.Start) <= slot && slot <= int(r.End) {
				return sh, nil
			}
		}
	}
	return shard{}, fmt.Errorf("no shard serves slot %d", slot)
}

func (c *Cluster) node(addr string) (*Node, error) {
	for _, n := range c.Nodes {
		if n.Addr == addr {
			return n, nil
		}
	}
	return nil, fmt.Errorf("%q is not a node of this cluster", addr)
}

// startNode starts one cluster-enabled redis-server on a free port whose
// cluster bus port (+10000) is free too.
func (c *Cluster) startNode(server, dir string) *Node {
	c.t.Helper()
	for range 20 {
		port := freePortPair()
		ndir := filepath.Join(dir, strconv.Itoa(port))
		if err := os.MkdirAll(ndir, 0o755); err != nil {
			c.t.Fatal(err)
		}
		n := &Node{Addr: "127.0.0.1:" + strconv.Itoa(port), exited: make(chan struct{})}
		n.cmd = exec.Command(server,
			"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", ndir,
			"--save", "", "--appendonly", "no",
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", strconv.Itoa(int(NodeTimeout/time.Millisecond)),
			// A replica that lost its primary is promoted however long
			// they were apart; the other shards keep serving while one
			// has no primary (the settings OPERATIONS.md recommends).
			"--cluster-replica-validity-factor", "0",
			"--cluster-require-full-coverage", "no",
		)
		if err := n.cmd.Start(); err != nil {
			c.t.Fatal(err)
		}
		go func() { n.cmd.Wait(); close(n.exited) }()
		if waitListening(n, 5*time.Second) {
			return n
		}
		n.Stop() // the port was taken before the server bound it
	}
	c.t.Fatal("no redis-server of the cluster started")
	return nil
}

func waitListening(n *Node, d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		select {
		case <-n.exited:
			return false
		default:
		}
		if conn, err := net.Dial("tcp", n.Addr); err == nil {
			conn.Close()
			// The listener may be another test's server, which took the
			// port first (this node then exits): start again elsewhere.
			return testproc.Owns(n.cmd.Process.Pid, n.Addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// freePortPair returns a loopback port free now whose port+10000 is free
// too.
func freePortPair() int {
	for {
		p := 20000 + rand.IntN(25000)
		a, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		b, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000))
		a.Close()
		if err != nil {
			continue
		}
		b.Close()
		return p
	}
}

// Stop kills the node, as a crash would, and waits for it to exit.
func (n *Node) Stop() {
	n.once.Do(func() {
		n.cmd.Process.Kill()
		<-n.exited
	})
}

func (c *Cluster) stopAll() {
	for _, n := range c.Nodes {
		n.Stop()
	}
}

// Seeds returns the nodes' addresses as the comma-separated list of
// redis:// URLs bespoke takes.
func (c *Cluster) Seeds() string {
	var s []string
	for _, n := range c.Nodes {
		s = append(s, "redis://"+n.Addr)
	}
	return strings.Join(s, ",")
}

// Client returns a cluster client for looking behind the code under test.
func (c *Cluster) Client() *redis.ClusterClient {
	var addrs []string
	for _, n := range c.Nodes {
		addrs = append(addrs, n.Addr)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ClusterStateReloadInterval: 200 * time.Millisecond})
	c.t.Cleanup(func() { cc.Close() })
	return cc
}

// live returns a client on a node that is running.
func (c *Cluster) live() (*redis.Client, error) {
	for _, n := range c.Nodes {
		select {
		case <-n.exited:
			continue
		default:
		}
		return redis.NewClient(&redis.Options{Addr: n.Addr, MaxRetries: -1}), nil
	}
	return nil, errors.New("no node of the cluster is running")
}

// Slot returns the hash slot of key.
func (c *Cluster) Slot(ctx context.Context, key string) (int, error) {
	cl, err := c.live()
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	n, err := cl.ClusterKeySlot(ctx, key).Result()
	return int(n), err
}

// Primary returns the node serving slot as primary, as a running node
// sees the cluster.
func (c *Cluster) Primary(ctx context.Context, slot int) (*Node, error) {
	sh, err := c.shardOf(ctx, slot)
	if err != nil {
		return nil, err
	}
	if sh.primary == "" {
		return nil, fmt.Errorf("slot %d has no primary online", slot)
	}
	return c.node(sh.primary)
}

// Replica returns an online replica of the primary of slot.
func (c *Cluster) Replica(ctx context.Context, slot int) (*Node, error) {
	sh, err := c.shardOf(ctx, slot)
	if err != nil {
		return nil, err
	}
	if len(sh.replicas) == 0 {
		return nil, fmt.Errorf("slot %d has no replica online", slot)
	}
	return c.node(sh.replicas[0])
}

// WaitHealthy waits until a running node reports cluster_state:ok and
// every slot is served by a running primary.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	var last error
	for {
		if last = c.healthy(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the Redis Cluster did not become healthy: %v", last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *Cluster) healthy(ctx context.Context) error {
	cl, err := c.live()
	if err != nil {
		return err
	}
	info, err := cl.ClusterInfo(ctx).Result()
	cl.Close()
	if err != nil {
		return err
	}
	if !strings.Contains(info, "cluster_state:ok") {
		return errors.New("cluster_state is not ok")
	}
	shards, err := c.shards(ctx)
	if err != nil {
		return err
	}
	covered := 0
	for _, sh := range shards {
		if sh.primary == "" {
			return fmt.Errorf("slots %v have no primary online", sh.slots)
		}
		n, err := c.node(sh.primary)
		if err != nil {
			return err
		}
		select {
		case <-n.exited:
			return fmt.Errorf("slots %v are still assigned to the stopped %s", sh.slots, n.Addr)
		default:
		}
		for _, r := range sh.slots {
			covered += int(r.End-r.Start) + 1
		}
	}
	if covered != 16384 {
		return fmt.Errorf("%d of 16384 slots served", covered)
	}
	return nil
}
