package seen

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestRedisClusterTLSVerifiesEachNode: on a Cluster over TLS whose nodes
// each have a certificate of their own, every node is verified against
// its own address, not the seed's name: a seed given by a DNS name
// (rediss+cluster://localhost:port, as a configuration endpoint is) made
// the client verify every node's certificate against that name, and
// the visitors of the nodes not named so were never filtered.
func TestRedisClusterTLSVerifiesEachNode(t *testing.T) {
	redisAddr(t) // skips without redis-server
	dir := t.TempDir()
	ca, caKey := newCA(t, filepath.Join(dir, "ca.pem"))
	// The process trusts the CA as a system root: rediss:// URLs take no
	// CA of their own. (Read once per process, before any TLS here.)
	t.Setenv("SSL_CERT_FILE", filepath.Join(dir, "ca.pem"))
	// The seed's node is named localhost and 127.0.0.1 (how the Cluster
	// announces it); the other only 127.0.0.1.
	names := [][]string{{"localhost", "127.0.0.1"}, {"127.0.0.1"}}
	var ports []int
	for i, n := range names {
		cert, key := filepath.Join(dir, fmt.Sprint("node", i, ".pem")), filepath.Join(dir, fmt.Sprint("node", i, ".key"))
		newCert(t, ca, caKey, n, cert, key)
		ports = append(ports, startTLSClusterNode(t, filepath.Join(dir, fmt.Sprint("n", i)), cert, key, filepath.Join(dir, "ca.pem")))
	}
	if c, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(ports[0]), &tls.Config{ServerName: "localhost"}); err != nil {
		// The system roots were read before SSL_CERT_FILE was set.
		t.Skipf("the test CA is not trusted by this process: %v", err)
	} else {
		c.Close()
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	ctx := context.Background()
	admin := func(port int) *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}})
		t.Cleanup(func() { c.Close() })
		return c
	}
	a, b := admin(ports[0]), admin(ports[1])
	for _, cmd := range [][]any{
		{"CLUSTER", "ADDSLOTSRANGE", 0, 8191},
		{"CLUSTER", "MEET", "127.0.0.1", ports[1]},
	} {
		if err := a.Do(ctx, cmd...).Err(); err != nil {
			t.Fatalf("%v: %v", cmd, err)
		}
	}
	if err := b.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 8192, 16383).Err(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(hangGuard); ; time.Sleep(50 * time.Millisecond) {
		ia, _ := a.ClusterInfo(ctx).Result()
		ib, _ := b.ClusterInfo(ctx).Result()
		if strings.Contains(ia, "cluster_state:ok") && strings.Contains(ib, "cluster_state:ok") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster did not form:\n%s\n%s", ia, ib)
		}
	}
	st := newRedisStore(t, RedisConfig{URL: "rediss+cluster://localhost:" + strconv.Itoa(ports[0]), Timeout: 5 * time.Second})
	nodes := map[int]int{}
	for i := range 20 {
		id := fmt.Sprint("visitor-", i)
		s, info := st.Load(ctx, nil, id)
		if info.Failed() {
			slot, _ := a.ClusterKeySlot(ctx, st.SeenKey(id)).Result()
			t.Fatalf("%s (slot %d): %+v", id, slot, info)
		}
		s.Release()
		slot, err := a.ClusterKeySlot(ctx, st.SeenKey(id)).Result()
		if err != nil {
			t.Fatal(err)
		}
		nodes[int(slot)/8192]++
	}
	if len(nodes) != 2 {
		t.Fatalf("the visitors fell on %d nodes, want both: %v", len(nodes), nodes)
	}
}

func newCA(t *testing.T, path string) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, path, "CERTIFICATE", der)
	ca, _ := x509.ParseCertificate(der)
	return ca, key
}

func newCert(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, names []string, certPath, keyPath string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(mrand.Int64()), Subject: pkix.Name{CommonName: names[0]}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, certPath, "CERTIFICATE", der)
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, keyPath, "EC PRIVATE KEY", kb)
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startTLSClusterNode starts a cluster-enabled redis-server speaking TLS
// only, on a free port whose bus port (+10000) is free too, and returns
// the port.
func startTLSClusterNode(t *testing.T, dir, cert, key, ca string) int {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		port := 20000 + mrand.IntN(25000)
		free := true
		for _, p := range []int{port, port + 10000} {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				free = false
				break
			}
			ln.Close()
		}
		if !free {
			continue
		}
		cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", "0", "--tls-port", strconv.Itoa(port), "--dir", dir,
			"--save", "", "--appendonly", "no", "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--tls-cluster", "yes", "--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", ca, "--tls-auth-clients", "no")
		out, _ := os.Create(filepath.Join(dir, "log"))
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Skipf("redis-server: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		t.Cleanup(func() { cmd.Process.Kill(); <-exited })
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			select {
			case <-exited:
				b, _ := os.ReadFile(filepath.Join(dir, "log"))
				if strings.Contains(string(b), "TLS") && strings.Contains(string(b), "not") {
					t.Skipf("redis-server without TLS: %s", b)
				}
				t.Fatalf("redis-server exited: %s", b)
			default:
			}
			if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
				c.Close()
				return port
			}
		}
		cmd.Process.Kill()
	}
	t.Fatal("no TLS cluster node started")
	return 0
}
