package auth

import (
	"container/list"
	"net/netip"
	"sync"
	"time"
)

// Failed-login limits (Options.MaxFailuresPer*, FailureWindowSeconds).
//
// Each key (a remote address or an account) gets a fixed window that opens at
// its first failure: up to max failures are allowed in it, then logins are
// refused until the window closes. Windows are kept in a list ordered by
// opening time, so expired entries are dropped from the front in O(1) and,
// when a table is full of live entries (a flood of distinct addresses or
// usernames), the oldest window is evicted: memory stays bounded at the cost
// of forgetting the attacker seen longest ago.

const (
	defaultMaxFailuresPerIP      = 10
	defaultMaxFailuresPerAccount = 5
	defaultFailureWindow         = 5 * time.Minute
	// maxTrackedKeys bounds each table (addresses, accounts): ~150 bytes an
	// entry, so a few MB at worst.
	maxTrackedKeys = 16384
)

type limiter struct {
	mu     sync.Mutex
	now    func() time.Time
	window time.Duration
	ip     failureTable
	acct   failureTable
}

type failureTable struct {
	max     int
	cap     int
	entries map[string]*list.Element // of *failureWindow
	order   list.List                // oldest window first
}

type failureWindow struct {
	key      string
	start    time.Time
	failures int
}

func newLimiter(o Options, now func() time.Time) *limiter {
	l := &limiter{now: now, window: defaultFailureWindow}
	if o.FailureWindowSeconds > 0 {
		l.window = time.Duration(o.FailureWindowSeconds) * time.Second
	}
	l.ip.init(o.MaxFailuresPerIP, defaultMaxFailuresPerIP)
	l.acct.init(o.MaxFailuresPerAccount, defaultMaxFailuresPerAccount)
	return l
}

func (t *failureTable) init(max, def int) {
	t.max = max
	if t.max <= 0 {
		t.max = def
	}
	t.cap = maxTrackedKeys
	t.entries = make(map[string]*list.Element)
}

// ipKey groups addresses the way one client holds them: an IPv4 address, or
// the /64 of an IPv6 one (a single host usually owns a whole /64). "" for an
// unknown address, which is not limited.
func ipKey(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, err := ip.WithZone("").Prefix(64)
	if err != nil {
		return ""
	}
	return p.String()
}

// expire drops windows that have closed (they sit at the front).
func (t *failureTable) expire(now time.Time, window time.Duration) {
	for e := t.order.Front(); e != nil; e = t.order.Front() {
		w := e.Value.(*failureWindow)
		if now.Sub(w.start) < window {
			return
		}
		t.order.Remove(e)
		delete(t.entries, w.key)
	}
}

func (t *failureTable) blocked(key string) bool {
	if key == "" {
		return false
	}
	e, ok := t.entries[key]
	return ok && e.Value.(*failureWindow).failures >= t.max
}

func (t *failureTable) fail(key string, now time.Time) {
	if key == "" {
		return
	}
	if e, ok := t.entries[key]; ok {
		e.Value.(*failureWindow).failures++
		return
	}
	for len(t.entries) >= t.cap {
		oldest := t.order.Front()
		t.order.Remove(oldest)
		delete(t.entries, oldest.Value.(*failureWindow).key)
	}
	t.entries[key] = t.order.PushBack(&failureWindow{key: key, start: now, failures: 1})
}

func (t *failureTable) reset(key string) {
	if e, ok := t.entries[key]; ok {
		t.order.Remove(e)
		delete(t.entries, key)
	}
}

// blockedIP reports whether ip is over its limit.
func (l *limiter) blockedIP(ip netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.ip.expire(now, l.window)
	l.acct.expire(now, l.window)
	return l.ip.blocked(ipKey(ip))
}

// blocked reports whether ip or account (a bare JID, "" if unknown) is over
// its limit.
func (l *limiter) blocked(ip netip.Addr, account string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.ip.expire(now, l.window)
	l.acct.expire(now, l.window)
	return l.ip.blocked(ipKey(ip)) || l.acct.blocked(account)
}

// failed records a failed login from ip for account ("" if none was named).
func (l *limiter) failed(ip netip.Addr, account string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.ip.expire(now, l.window)
	l.acct.expire(now, l.window)
	l.ip.fail(ipKey(ip), now)
	l.acct.fail(account, now)
}

// succeeded clears the account's failures (not the address's: one good
// password must not reset a guessing run against other accounts).
func (l *limiter) succeeded(account string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acct.reset(account)
}
