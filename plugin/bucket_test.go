package plugin

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

var updateVectors = flag.Bool("update", false, "rewrite testdata/bucketing/vectors.tsv")

const vectorsFile = "../testdata/bucketing/vectors.tsv"

// vectorInputs are the seeds and values the published vectors cover:
// visitor-id shaped values, edge cases (empty, non-ASCII) and seeds as
// rules and experiments use them.
func vectorInputs() [][2]string {
	seeds := []string{"hero-test", "rollout/french-hero", "", "checkout-2026", "ünïcode"}
	values := []string{"", "a", "AAAAAAAAAAAAAAAAAAAAAA", "Zm9vYmFyYmF6cXV4cXV1eA", "visitor-1", "visitor-2", "visitor-3", "12345", "émilie", "🙂"}
	var out [][2]string
	for _, s := range seeds {
		for _, v := range values {
			out = append(out, [2]string{s, v})
		}
	}
	return out
}

// TestBucketVectors pins bucket assignments: a change here would move
// visitors between variants on every deployed site.
func TestBucketVectors(t *testing.T) {
	if *updateVectors {
		var b strings.Builder
		b.WriteString("# seed\tvalue\tmurmur3_x86_32(seed/value)\tbucket (0-9999)\n")
		for _, in := range vectorInputs() {
			fmt.Fprintf(&b, "%s\t%s\t%d\t%d\n", in[0], in[1], murmur3(in[0]+"/"+in[1]), Bucket(in[0], in[1]))
		}
		if err := os.WriteFile(vectorsFile, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 4 {
			t.Fatalf("malformed vector %q", line)
		}
		hash, _ := strconv.ParseUint(cols[2], 10, 32)
		bucket, _ := strconv.Atoi(cols[3])
		if got := murmur3(cols[0] + "/" + cols[1]); uint64(got) != hash {
			t.Errorf("murmur3(%q) = %d, vector says %d", cols[0]+"/"+cols[1], got, hash)
		}
		if got := Bucket(cols[0], cols[1]); got != bucket {
			t.Errorf("Bucket(%q, %q) = %d, vector says %d", cols[0], cols[1], got, bucket)
		}
		n++
	}
	if n < 50 {
		t.Fatalf("only %d vectors", n)
	}
}

// TestBucketUniform checks buckets are spread evenly: 100,000 visitor ids
// in 10 deciles, each within 0.5 points of 10%.
func TestBucketUniform(t *testing.T) {
	var deciles [10]int
	const n = 100000
	for i := range n {
		deciles[Bucket("uniformity", "visitor-"+strconv.Itoa(i))/1000]++
	}
	for d, c := range deciles {
		if share := float64(c) / n * 100; math.Abs(share-10) > 0.5 {
			t.Errorf("decile %d holds %.2f%% of visitors", d, share)
		}
	}
}
