package im

// The per-address throttle of in-band registration: at most max accounts
// per address key (an IPv4 address or an IPv6 /64, the block one host
// usually holds) in a fixed window that starts with the key's first
// registration. Only successful registrations count: a slot is reserved
// before the (costly) account creation and released if it fails.

import (
	"net/netip"
	"sync"
	"time"
)

type regThrottle struct {
	max    int // 0: no throttle
	window time.Duration
	exempt []netip.Prefix
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]*regWindow
}

type regWindow struct {
	start time.Time
	count int
}

// throttleKey groups ip with the addresses of the same host; "" means not
// throttled (unknown address or exempt).
func (t *regThrottle) key(ip netip.Addr) string {
	if t.max <= 0 || !ip.IsValid() {
		return ""
	}
	ip = ip.Unmap().WithZone("")
	for _, p := range t.exempt {
		if p.Contains(ip) {
			return ""
		}
	}
	if ip.Is4() {
		return ip.String()
	}
	p, err := ip.Prefix(64)
	if err != nil {
		return ""
	}
	return p.String()
}

// reserve takes one registration slot for ip; false when its window is full
// (or the table is full of live windows).
func (t *regThrottle) reserve(ip netip.Addr) bool {
	k := t.key(ip)
	if k == "" {
		return true
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	w := t.entries[k]
	if w != nil && now.Sub(w.start) >= t.window {
		w.start, w.count = now, 0
	}
	if w == nil {
		if len(t.entries) >= maxThrottledAddrs {
			t.sweep(now)
			if len(t.entries) >= maxThrottledAddrs {
				return false
			}
		}
		w = &regWindow{start: now}
		t.entries[k] = w
	}
	if w.count >= t.max {
		return false
	}
	w.count++
	return true
}

// release gives back a slot reserve took for a registration that failed.
func (t *regThrottle) release(ip netip.Addr) {
	k := t.key(ip)
	if k == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if w := t.entries[k]; w != nil && w.count > 0 {
		w.count--
	}
}

// sweep drops closed windows; called with mu held.
func (t *regThrottle) sweep(now time.Time) {
	for k, w := range t.entries {
		if now.Sub(w.start) >= t.window {
			delete(t.entries, k)
		}
	}
}
