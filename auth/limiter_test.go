package auth

import (
	"net/netip"
	"strconv"
	"testing"
	"time"

	"mellium.im/sasl"
)

func plainFrom(ip string) ConnInfo {
	c := tls12Conn()
	c.RemoteIP = netip.MustParseAddr(ip)
	return c
}

func plainLogin(t *testing.T, a *Accounts, c ConnInfo, user, pw string) error {
	t.Helper()
	ex, err := a.Begin(c, MechPlain)
	if err != nil {
		return err
	}
	return run(t, ex, sasl.NewClient(sasl.Plain, creds(user, pw, "")))
}

func TestLimiterPerAccount(t *testing.T) {
	a, _, clock := newTestAccounts(t, Options{MaxFailuresPerAccount: 3, MaxFailuresPerIP: 100, FailureWindowSeconds: 60})
	mustCreate(t, a, "alice@example.com", "pencil")

	// Failures from different addresses add up on the account.
	for i := range 3 {
		wantCondition(t, plainLogin(t, a, plainFrom("192.0.2."+strconv.Itoa(i+1)), "alice", "wrong"), condNotAuthorized)
	}
	// Now even the right password is refused, with either mechanism.
	wantCondition(t, plainLogin(t, a, plainFrom("198.51.100.7"), "alice", "pencil"), condTemporaryAuthFailure)
	ex := begin(t, a, plainFrom("198.51.100.7"), MechSCRAMSHA256)
	wantCondition(t, run(t, ex, sasl.NewClient(sasl.ScramSha256, creds("alice", "pencil", ""))), condTemporaryAuthFailure)
	// Refusals do not extend the lockout; other accounts are unaffected.
	mustCreate(t, a, "bob@example.com", "pw")
	if err := plainLogin(t, a, plainFrom("192.0.2.1"), "bob", "pw"); err != nil {
		t.Fatalf("bob: %v", err)
	}

	clock.Advance(59 * time.Second)
	wantCondition(t, plainLogin(t, a, plainFrom("198.51.100.7"), "alice", "pencil"), condTemporaryAuthFailure)
	clock.Advance(time.Second)
	if err := plainLogin(t, a, plainFrom("198.51.100.7"), "alice", "pencil"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// Unknown accounts are limited the same way (no enumeration by lockout).
func TestLimiterUnknownAccount(t *testing.T) {
	a, _, _ := newTestAccounts(t, Options{MaxFailuresPerAccount: 2, MaxFailuresPerIP: 100})
	for range 2 {
		wantCondition(t, plainLogin(t, a, plainFrom("192.0.2.1"), "ghost", "x"), condNotAuthorized)
	}
	wantCondition(t, plainLogin(t, a, plainFrom("192.0.2.1"), "ghost", "x"), condTemporaryAuthFailure)
}

func TestLimiterSuccessResetsAccount(t *testing.T) {
	a, _, _ := newTestAccounts(t, Options{MaxFailuresPerAccount: 3, MaxFailuresPerIP: 100})
	mustCreate(t, a, "alice@example.com", "pencil")
	for range 3 {
		for range 2 {
			wantCondition(t, plainLogin(t, a, plainFrom("192.0.2.1"), "alice", "wrong"), condNotAuthorized)
		}
		if err := plainLogin(t, a, plainFrom("192.0.2.1"), "alice", "pencil"); err != nil {
			t.Fatalf("login after 2 failures: %v", err)
		}
	}
}

func TestLimiterPerIP(t *testing.T) {
	a, _, clock := newTestAccounts(t, Options{MaxFailuresPerIP: 2, MaxFailuresPerAccount: 100, FailureWindowSeconds: 10})
	mustCreate(t, a, "alice@example.com", "pencil")
	// Two guesses against different accounts from one IPv6 /64.
	wantCondition(t, plainLogin(t, a, plainFrom("2001:db8:1:2::1"), "bob", "x"), condNotAuthorized)
	wantCondition(t, plainLogin(t, a, plainFrom("2001:db8:1:2:ffff::9"), "carol", "x"), condNotAuthorized)
	// The /64 is refused at Begin, even with the right password...
	_, err := a.Begin(plainFrom("2001:db8:1:2::77"), MechSCRAMSHA256)
	wantCondition(t, err, condTemporaryAuthFailure)
	// ...but the next /64 and IPv4 are not.
	if err := plainLogin(t, a, plainFrom("2001:db8:1:3::1"), "alice", "pencil"); err != nil {
		t.Fatalf("other /64: %v", err)
	}
	if err := plainLogin(t, a, plainFrom("192.0.2.1"), "alice", "pencil"); err != nil {
		t.Fatalf("IPv4: %v", err)
	}
	clock.Advance(10 * time.Second)
	if err := plainLogin(t, a, plainFrom("2001:db8:1:2::1"), "alice", "pencil"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// An IPv4-mapped IPv6 address is the IPv4 address.
func TestIPKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"2001:db8::1", "2001:db8::/64"},
		{"2001:db8::1%eth0", "2001:db8::/64"},
	} {
		if got := ipKey(netip.MustParseAddr(tc.in)); got != tc.want {
			t.Errorf("ipKey(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if ipKey(netip.Addr{}) != "" {
		t.Error("unknown address is keyed")
	}
}

// A flood of distinct addresses and names keeps the tables bounded, and
// expired windows are dropped.
func TestLimiterBounded(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := newLimiter(Options{MaxFailuresPerIP: 1, FailureWindowSeconds: 60}, clock.Now)
	n := maxTrackedKeys*2 + 10
	for i := range n {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		l.failed(ip, "user"+strconv.Itoa(i)+"@example.com")
	}
	if len(l.ip.entries) > maxTrackedKeys || l.ip.order.Len() != len(l.ip.entries) ||
		len(l.acct.entries) > maxTrackedKeys || l.acct.order.Len() != len(l.acct.entries) {
		t.Fatalf("tables grew to %d/%d entries", len(l.ip.entries), len(l.acct.entries))
	}
	// The newest attacker is still tracked, the oldest evicted.
	last := netip.AddrFrom4([4]byte{10, byte((n - 1) >> 16), byte((n - 1) >> 8), byte(n - 1)})
	if !l.blockedIP(last) || l.blockedIP(netip.AddrFrom4([4]byte{10, 0, 0, 0})) {
		t.Fatal("eviction did not drop the oldest window")
	}
	clock.Advance(time.Minute)
	l.blockedIP(last)
	if len(l.ip.entries) != 0 || len(l.acct.entries) != 0 {
		t.Fatalf("expired windows kept: %d/%d", len(l.ip.entries), len(l.acct.entries))
	}
}
