package bench

import (
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"
)

func TestBucketsCoverValuesMonotonically(t *testing.T) {
	prev := -1
	for _, v := range []uint64{0, 1, 31, 32, 33, 63, 64, 65, 1000, 1 << 20, 1<<40 + 12345, 1<<63 + 1, ^uint64(0)} {
		b := bucketOf(v)
		if b < prev || b >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d (previous %d, %d buckets)", v, b, prev, histBuckets)
		}
		if hi := bucketHigh(b); hi < v {
			t.Fatalf("bucketHigh(%d) = %d < value %d", b, hi, v)
		}
		if b > 0 && bucketHigh(b-1) >= v {
			t.Fatalf("value %d also fits bucket %d", v, b-1)
		}
		prev = b
	}
}

func TestQuantilesWithinRelativeError(t *testing.T) {
	var h Histogram
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([]time.Duration, 100000)
	for i := range vals {
		// Log-uniform from 10 µs to ~10 s.
		vals[i] = time.Duration(10*float64(time.Microsecond)*math.Pow(1e6, rng.Float64())) / time.Microsecond * time.Microsecond
		h.Record(vals[i])
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := vals[int(q*float64(len(vals)))-1]
		got := h.Quantile(q)
		if rel := float64(got-want) / float64(want); rel < -0.001 || rel > 1.0/histSub+0.001 {
			t.Errorf("q%.3f = %v, exact %v (relative error %.4f)", q, got, want, rel)
		}
	}
	if h.Max() != vals[len(vals)-1] {
		t.Errorf("max %v, want %v", h.Max(), vals[len(vals)-1])
	}
	if h.Count() != uint64(len(vals)) {
		t.Errorf("count %d", h.Count())
	}
}

func TestSmallValuesExact(t *testing.T) {
	var h Histogram
	for i := 1; i <= 10; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	if got := h.Quantile(0.5); got != 5*time.Microsecond {
		t.Errorf("median %v, want 5µs", got)
	}
	if got := h.Quantile(1); got != 10*time.Microsecond {
		t.Errorf("q1 %v, want 10µs", got)
	}
	h.Record(-time.Second) // clamps to zero
	if got := h.Quantile(0); got != 0 {
		t.Errorf("q0 %v, want 0", got)
	}
}

func TestEmptyAndMerge(t *testing.T) {
	var a, b Histogram
	if a.Quantile(0.99) != 0 || a.Max() != 0 {
		t.Fatal("empty histogram should report zero")
	}
	a.Record(time.Millisecond)
	b.Record(100 * time.Millisecond)
	b.Record(200 * time.Millisecond)
	a.Merge(&b)
	if a.Count() != 3 || a.Max() != 200*time.Millisecond {
		t.Fatalf("merged count %d max %v", a.Count(), a.Max())
	}
	if got := a.Quantile(0.34); got < 100*time.Millisecond || got > 104*time.Millisecond {
		t.Fatalf("q0.34 = %v, want ~100ms", got)
	}
	s := a.Summary("x")
	if s.Name != "x" || s.Count != 3 || s.Max != 200 {
		t.Fatalf("summary %+v", s)
	}
}

func TestConcurrentRecord(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				h.Record(time.Duration(g*1000+i) * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	if h.Count() != 8000 || h.Max() != 7999*time.Microsecond {
		t.Fatalf("count %d max %v", h.Count(), h.Max())
	}
}
