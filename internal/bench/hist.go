package bench

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram records durations in log-linear buckets, HDR style: values are
// kept in microseconds with histSubBits bits of precision per power of two,
// so any quantile is reported within ~3% (1/32) of the recorded value,
// from 1 µs to hours, in a fixed 15 KB table. Record is lock-free (one
// atomic add), so every reader goroutine of a run can share one histogram.
//
// Written here rather than taken from HdrHistogram-go: the tool needs only
// Record, Merge and Quantile, and a few dozen lines avoid a module dependency
// (the project adds dependencies only when essential).
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	total  atomic.Uint64
	max    atomic.Uint64 // µs
}

const (
	histSubBits  = 5
	histSub      = 1 << histSubBits // sub-buckets per power of two
	histMaxShift = 64 - histSubBits - 1
	histBuckets  = histSub + (histMaxShift+1)*histSub
)

// bucketOf maps a value in µs to its bucket: values below histSub have a
// bucket each; above, the top histSubBits+1 bits choose the bucket.
func bucketOf(v uint64) int {
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits - 1 // v>>shift is in [histSub, 2*histSub)
	return histSub + shift*histSub + int(v>>uint(shift)) - histSub
}

// bucketHigh is the largest value that falls in bucket i.
func bucketHigh(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	shift := (i - histSub) / histSub
	sub := uint64((i-histSub)%histSub + histSub)
	return (sub+1)<<uint(shift) - 1
}

// Record adds one observation; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	us := uint64(0)
	if d > 0 {
		us = uint64(d / time.Microsecond)
	}
	h.counts[bucketOf(us)].Add(1)
	h.total.Add(1)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			return
		}
	}
}

// Count is the number of observations.
func (h *Histogram) Count() uint64 { return h.total.Load() }

// Max is the largest observation (exact, not bucketed).
func (h *Histogram) Max() time.Duration {
	return time.Duration(h.max.Load()) * time.Microsecond
}

// Merge adds o's observations to h.
func (h *Histogram) Merge(o *Histogram) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c != 0 {
			h.counts[i].Add(c)
		}
	}
	h.total.Add(o.total.Load())
	for {
		m, om := h.max.Load(), o.max.Load()
		if om <= m || h.max.CompareAndSwap(m, om) {
			return
		}
	}
}

// Quantile returns the value at quantile q (0..1): the upper edge of the
// bucket holding the q-th observation, capped at the exact maximum. Zero
// when empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := uint64(math.Ceil(q*float64(n) - 1e-9)) // the smallest value with at least q of the observations at or below it
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			v := min(bucketHigh(i), h.max.Load())
			return time.Duration(v) * time.Microsecond
		}
	}
	return h.Max()
}

// LatencySummary is a histogram's digest as reported (milliseconds).
type LatencySummary struct {
	Name  string  `json:"name"`
	Count uint64  `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

// Summary digests h under name.
func (h *Histogram) Summary(name string) LatencySummary {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return LatencySummary{
		Name: name, Count: h.Count(),
		P50: ms(h.Quantile(0.50)), P90: ms(h.Quantile(0.90)),
		P99: ms(h.Quantile(0.99)), P999: ms(h.Quantile(0.999)),
		Max: ms(h.Max()),
	}
}
