package engine

import (
	"context"
	"os"
	"runtime"
	"testing"

	"github.com/bespoke-edge/bespoke/internal/compiler"
	"github.com/bespoke-edge/bespoke/plugin"
)

// demoArtifact compiles the demo rules.
func demoArtifact(b *testing.B) *plugin.Artifact {
	b.Helper()
	src, err := os.ReadFile("../../../testdata/demo/rules.yaml")
	if err != nil {
		b.Fatal(err)
	}
	res, err := compiler.Compile("rules.yaml", src)
	if err != nil {
		b.Fatal(err)
	}
	return res.Artifact
}

// BenchmarkPoolAcquire is taking a warm instance from the pool and giving
// it back, as every decision does.
func BenchmarkPoolAcquire(b *testing.B) {
	e, err := New(Config{CacheDir: "-"})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(context.Background())
	m, err := e.Load(context.Background(), demoArtifact(b))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(context.Background())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		inst, err := m.acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		m.release(inst)
	}
}

// fromFile returns art as a plugin read from its .wasm file has it: not
// vouched for by the compiler, so verified at load.
func fromFile(b *testing.B, art *plugin.Artifact) *plugin.Artifact {
	b.Helper()
	a, err := plugin.ReadArtifact(art.Wasm)
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// BenchmarkColdLoad is what loading the demo plugin costs: compiling it
// with no cache, for the artifact the compiler hands over in process and
// for the same module read from a .wasm file (verified at load); loading
// it again from a warm file-backed compilation cache (a restart, or a
// reload of the same plugin); and creating one more instance of a loaded
// module.
func BenchmarkColdLoad(b *testing.B) {
	art := demoArtifact(b)
	ctx := context.Background()
	b.Run("compile/from-file", func(b *testing.B) {
		e, err := New(Config{CacheDir: "-"})
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close(ctx)
		file := fromFile(b, art)
		for b.Loop() {
			m, err := e.Load(ctx, file)
			if err != nil {
				b.Fatal(err)
			}
			if ok, why := m.Bounded(); !ok {
				b.Fatal(why)
			}
			m.Close(ctx)
		}
	})
	b.Run("compile/in-process", func(b *testing.B) {
		e, err := New(Config{CacheDir: "-"})
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close(ctx)
		for b.Loop() {
			// A fresh runtime per load: nothing is cached in memory.
			m, err := e.Load(ctx, art)
			if err != nil {
				b.Fatal(err)
			}
			m.Close(ctx)
		}
	})
	b.Run("cached", func(b *testing.B) {
		dir := b.TempDir()
		warm, err := New(Config{CacheDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		m, err := warm.Load(ctx, art)
		if err != nil {
			b.Fatal(err)
		}
		m.Close(ctx)
		warm.Close(ctx)
		for b.Loop() {
			// A new engine on the same directory, as after a restart.
			e, err := New(Config{CacheDir: dir})
			if err != nil {
				b.Fatal(err)
			}
			m, err := e.Load(ctx, art)
			if err != nil {
				b.Fatal(err)
			}
			m.Close(ctx)
			e.Close(ctx)
		}
	})
	b.Run("instantiate", func(b *testing.B) {
		e, err := New(Config{CacheDir: "-"})
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close(ctx)
		m, err := e.Load(ctx, art)
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close(ctx)
		for b.Loop() {
			m.slots <- struct{}{} // the pool's count, as acquire keeps it
			inst, err := m.newInstance(ctx)
			if err != nil {
				b.Fatal(err)
			}
			m.discardQuiet(inst)
		}
	})
}

// BenchmarkInstanceMemory is the memory one more warm instance of the
// demo plugin holds (its guest memory and the runtime's state for it),
// measured as the live heap grown by holding 32 instances at once, after
// a collection. The capacity model (bench/capacity) reads bytes/instance.
func BenchmarkInstanceMemory(b *testing.B) {
	const n = 32
	art := demoArtifact(b)
	ctx := context.Background()
	for b.Loop() {
		e, err := New(Config{CacheDir: "-", PoolSize: n, Warm: 1})
		if err != nil {
			b.Fatal(err)
		}
		m, err := e.Load(ctx, art)
		if err != nil {
			b.Fatal(err)
		}
		before := liveHeap()
		held := make([]*instance, 0, n)
		for range n {
			inst, err := m.acquire(ctx)
			if err != nil {
				b.Fatal(err)
			}
			held = append(held, inst)
		}
		after := liveHeap()
		for _, inst := range held {
			m.release(inst)
		}
		m.Close(ctx)
		e.Close(ctx)
		// The first instance was made warm at load, before the count.
		b.ReportMetric(float64(after-before)/(n-1), "bytes/instance")
	}
}

// liveHeap is the bytes in live heap objects after a collection.
func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
