package data

// Benchmarks. Run with e.g.
//
//	go test -run '^$' -bench . -benchtime 2s ./data/
//	go test -run '^$' -bench OpenEmpty -benchtime 20x ./data/   (memory per open store)

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

var benchPayload = bytes.Repeat([]byte("<message to='a@x'>hello</message>"), 6) // ~200 bytes, a small stanza

func benchOpen(b *testing.B, sync bool) *Badger {
	o := DefaultOptions()
	o.SyncWrites = sync
	s, err := Open(b.TempDir(), o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func benchAppend(b *testing.B, sync bool) {
	s := benchOpen(b, sync)
	b.SetBytes(int64(len(benchPayload)))
	b.ReportAllocs()
	var last uint64
	for b.Loop() {
		seq, err := s.Append(bg, "room/bench", benchPayload, last)
		if err != nil {
			b.Fatal(err)
		}
		last = seq
	}
}

// BenchmarkAppendSync: one durable append at a time (fsync per append).
func BenchmarkAppendSync(b *testing.B) { benchAppend(b, true) }

// BenchmarkAppendNoSync: the same without fsync (survives a process crash,
// not a power loss).
func BenchmarkAppendNoSync(b *testing.B) { benchAppend(b, false) }

// BenchmarkAppendSyncParallel: durable appends to distinct streams from
// many goroutines, where Badger commits several per fsync.
func BenchmarkAppendSyncParallel(b *testing.B) {
	s := benchOpen(b, true)
	b.SetBytes(int64(len(benchPayload)))
	b.SetParallelism(8)
	var n atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		stream := fmt.Sprint("room/", n.Add(1))
		for pb.Next() {
			if _, err := s.Append(bg, stream, benchPayload, AnySeq); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCAS: compare-and-set chain on one key.
func BenchmarkCAS(b *testing.B) {
	for _, sync := range []bool{true, false} {
		b.Run("sync="+strconv.FormatBool(sync), func(b *testing.B) {
			s := benchOpen(b, sync)
			rev, err := s.Put(bg, []byte("lot/1"), benchPayload)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if rev, err = s.CompareAndSet(bg, []byte("lot/1"), benchPayload, rev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGet: point reads among 10k keys.
func BenchmarkGet(b *testing.B) {
	s := benchOpen(b, false)
	const keys = 10000
	for i := range keys {
		if _, err := s.Put(bg, fmt.Appendf(nil, "acct/user%05d@example.org", i), benchPayload); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, _, err := s.Get(bg, fmt.Appendf(nil, "acct/user%05d@example.org", i%keys)); err != nil {
			b.Fatal(err)
		}
		i += 7919
	}
}

// BenchmarkOpenEmpty keeps b.N empty stores open with the default
// (low-memory) options and reports the Go heap and process RSS each adds.
func BenchmarkOpenEmpty(b *testing.B) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rssBefore := rssBytes()
	var stores []*Badger
	for b.Loop() {
		s, err := Open(b.TempDir(), DefaultOptions())
		if err != nil {
			b.Fatal(err)
		}
		stores = append(stores, s)
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	n := float64(len(stores))
	b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/n/(1<<20), "heapMiB/store")
	b.ReportMetric(float64(after.Sys-before.Sys)/n/(1<<20), "goSysMiB/store")
	if rssBefore > 0 {
		b.ReportMetric(float64(rssBytes()-rssBefore)/n/(1<<20), "rssMiB/store")
	}
	for _, s := range stores {
		s.Close()
	}
}

// rssBytes reads the resident set size from /proc (0 where unavailable).
func rssBytes() int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
