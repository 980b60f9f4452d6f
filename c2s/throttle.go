package c2s

import "time"

// tokenBucket throttles one connection's input: bytes read spend tokens,
// which refill at rate per second up to burst. Reading past the bucket
// puts the reader to sleep until the debt is repaid, so a flooding client
// slows down instead of costing CPU. Used by the reader goroutine only.
type tokenBucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func newTokenBucket(rate, burst int) *tokenBucket {
	return &tokenBucket{rate: float64(rate), burst: float64(burst), tokens: float64(burst), last: time.Now()}
}

// take spends n tokens, sleeping while in debt; false if done closed first.
func (b *tokenBucket) take(n int, done <-chan struct{}) bool {
	now := time.Now()
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	b.tokens -= float64(n)
	if b.tokens >= 0 {
		return true
	}
	t := time.NewTimer(time.Duration(-b.tokens / b.rate * float64(time.Second)))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}
