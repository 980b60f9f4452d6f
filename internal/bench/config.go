package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Config is everything one run needs: where the server is, how to log in,
// which scenario with which parameters. Scenarios read only the fields they
// use; Validate checks the ones the chosen scenario needs.
type Config struct {
	Scenario string // S1, S2, S3 ...
	Server   string // label in reports: gavel, prosody, ejabberd, or anything

	// Connection.
	Addr      string // host:port of the c2s listener (TCP transport)
	WSURL     string // ws:// URL (WebSocket transport)
	Domain    string
	Transport string // "tcp" or "ws"
	TLS       string // "starttls" (when offered), "none", "direct" (XEP-0368)
	Mechanism string // "auto" (SCRAM-SHA-256 > SCRAM-SHA-1 > PLAIN) or a mechanism name
	// PQTLS lets the TLS client offer Go's default hybrid post-quantum key
	// share; off, it offers X25519 only, which is all the peers' OpenSSL 3.0
	// does, so every server does the same handshake work.
	PQTLS bool
	// SpreadAbove: runs with more connections than this bind source
	// addresses 127.0.0.1, 127.0.0.2 ... so no address exhausts its
	// ephemeral ports (~28k on Linux per destination).
	SpreadAbove int

	// Accounts: Prefix0 ... Prefix(Users-1) @Domain, all with Password.
	Users    int
	Prefix   string
	Password string
	Register bool // in-band registration (XEP-0077) of the accounts first

	ServerPID int // for RSS (S1) and server CPU in every report

	Concurrency    int           // logins (or connects) in flight
	ConnectTimeout time.Duration // bound on one login
	MaxRuntime     time.Duration // bound on the whole run, setup included

	// S1
	Sessions int
	Hold     time.Duration
	// S2
	Logins   int
	Warmup   bool // one unmeasured login per account first (fills the SCRAM cache)
	KeepOpen bool // keep S2 sessions open until the end instead of closing each
	// S3
	Rate      int           // offered messages per second, all senders together
	Duration  time.Duration // sending phase
	Drain     time.Duration // wait for stragglers after the sending phase
	BodyBytes int
	Senders   int  // pacing goroutines
	NoStore   bool // add <no-store/> (XEP-0334) so MAM servers skip archiving

	// MUC scenarios (S4-S6): occupant i is account i; occupant 0 creates
	// and owns the room. Rate, Duration, Drain and BodyBytes apply to bids.
	MUCService string // "" means conference.<Domain>
	Room       string // room localpart; "" means a fresh name per run
	Bidders    int    // S4/S5: occupants 1..Bidders send the bids
	// SlowPct percent of the occupants (S4) stop reading at StallAfter into
	// the bid phase for Stall, with a SlowRcvBuf-byte socket receive buffer
	// so their backlog reaches the server's queue rather than the kernel's.
	SlowPct    float64
	StallAfter time.Duration
	Stall      time.Duration
	SlowRcvBuf int
	// PresenceBroadcast: roles whose presence the room broadcasts
	// (muc#roomconfig_presencebroadcast, comma-separated); "" keeps the
	// server's default (all roles).
	PresenceBroadcast string
	Settle            time.Duration // bound on waiting for the join traffic to end
	JoinWindow        time.Duration // S6: the joins are spread over this

	// S7 (pubsub): Nodes nodes with SubsPerNode subscribers each, on
	// PubSubService ("" finds it by disco#items). Rate, Duration, Drain and
	// BodyBytes apply to publishes; Senders is the number of publishers.
	PubSubService string
	Nodes         int
	SubsPerNode   int

	JSONFile string // also append the JSON line here
}

// Defaults returns a Config with every default set.
func Defaults() Config {
	return Config{
		Server: "gavel", Addr: "127.0.0.1:5222", Domain: "localhost",
		Transport: "tcp", TLS: "starttls", Mechanism: "auto", SpreadAbove: 28000,
		Users: 1000, Prefix: "bench", Password: "secret",
		Concurrency: 32, ConnectTimeout: 30 * time.Second, MaxRuntime: 10 * time.Minute,
		Sessions: 5000, Hold: 10 * time.Second,
		Logins: 5000, Warmup: true,
		Rate: 10000, Duration: 10 * time.Second, Drain: 5 * time.Second, BodyBytes: 200,
		Senders: 64, NoStore: true,
		Bidders: 50, StallAfter: 5 * time.Second, Stall: 30 * time.Second, SlowRcvBuf: 16 << 10,
		Settle: time.Minute, JoinWindow: 10 * time.Second,
		Nodes: 1, SubsPerNode: 1000,
	}
}

// FlagSet binds the Config's fields to flags of a new flag set.
func (c *Config) FlagSet(name string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.Scenario, "scenario", c.Scenario, "scenario to run: "+strings.Join(ScenarioNames(), ", "))
	fs.StringVar(&c.Server, "server", c.Server, "label of the server in reports (gavel, prosody, ejabberd ...)")
	fs.StringVar(&c.Addr, "addr", c.Addr, "c2s `host:port` (TCP transport)")
	fs.StringVar(&c.WSURL, "ws-url", c.WSURL, "WebSocket `URL` (transport ws), e.g. ws://127.0.0.1:5280/xmpp-websocket")
	fs.StringVar(&c.Domain, "domain", c.Domain, "XMPP domain of the accounts")
	fs.StringVar(&c.Transport, "transport", c.Transport, "tcp or ws")
	fs.StringVar(&c.TLS, "tls", c.TLS, "starttls (if offered), none, or direct (TLS from the first byte)")
	fs.StringVar(&c.Mechanism, "mechanism", c.Mechanism, "SASL mechanism: auto, SCRAM-SHA-256, SCRAM-SHA-1 or PLAIN")
	fs.BoolVar(&c.PQTLS, "pq-tls", c.PQTLS, "offer the hybrid post-quantum TLS key share (default: X25519 only, like the peers)")
	fs.IntVar(&c.SpreadAbove, "spread-above", c.SpreadAbove, "spread source addresses over 127.0.0.x when a run opens more connections than this")
	fs.IntVar(&c.Users, "users", c.Users, "accounts PREFIX0..PREFIX(N-1)")
	fs.StringVar(&c.Prefix, "prefix", c.Prefix, "account name prefix")
	fs.StringVar(&c.Password, "password", c.Password, "password of every account")
	fs.BoolVar(&c.Register, "register", c.Register, "register the accounts in-band (XEP-0077) first; existing ones are fine")
	fs.IntVar(&c.ServerPID, "server-pid", c.ServerPID, "`PID` of the server process (RSS for S1, CPU for all)")
	fs.IntVar(&c.Concurrency, "concurrency", c.Concurrency, "logins in flight")
	fs.DurationVar(&c.ConnectTimeout, "connect-timeout", c.ConnectTimeout, "bound on one login")
	fs.DurationVar(&c.MaxRuntime, "max-runtime", c.MaxRuntime, "bound on the whole run")
	fs.IntVar(&c.Sessions, "sessions", c.Sessions, "S1: idle sessions to open")
	fs.DurationVar(&c.Hold, "hold", c.Hold, "S1: how long the sessions stay idle before memory is read")
	fs.IntVar(&c.Logins, "logins", c.Logins, "S2: measured logins")
	fs.BoolVar(&c.Warmup, "warmup", c.Warmup, "S2: log every account in once, unmeasured, first (fills the SCRAM key cache)")
	fs.BoolVar(&c.KeepOpen, "keep-open", c.KeepOpen, "S2: keep sessions open until the end instead of closing each after login")
	fs.IntVar(&c.Rate, "rate", c.Rate, "S3: offered messages per second")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "S3: sending phase")
	fs.DurationVar(&c.Drain, "drain", c.Drain, "S3: wait this long for messages still in flight; later ones count as lost")
	fs.IntVar(&c.BodyBytes, "body-bytes", c.BodyBytes, "S3: message body size")
	fs.IntVar(&c.Senders, "senders", c.Senders, "S3: pacing goroutines")
	fs.BoolVar(&c.NoStore, "no-store", c.NoStore, "S3: mark messages <no-store/> (XEP-0334) so archiving servers skip MAM")
	fs.StringVar(&c.MUCService, "muc-service", c.MUCService, "S4-S6: MUC service `domain` (default conference.DOMAIN)")
	fs.StringVar(&c.Room, "room", c.Room, "S4-S6: room localpart (default: a fresh name per run)")
	fs.IntVar(&c.Bidders, "bidders", c.Bidders, "S4/S5: occupants that send the bids")
	fs.Float64Var(&c.SlowPct, "slow-pct", c.SlowPct, "S4/S5: percent of occupants that stop reading mid-run")
	fs.DurationVar(&c.StallAfter, "stall-after", c.StallAfter, "S4/S5: slow readers stop reading this long into the bid phase")
	fs.DurationVar(&c.Stall, "stall", c.Stall, "S4/S5: how long slow readers stop reading")
	fs.IntVar(&c.SlowRcvBuf, "slow-rcvbuf", c.SlowRcvBuf, "S4/S5: socket receive buffer of slow readers in bytes (0: kernel default)")
	fs.StringVar(&c.PresenceBroadcast, "presence-broadcast", c.PresenceBroadcast, "S4-S6: roles whose presence the room broadcasts, comma-separated (default: the server's)")
	fs.DurationVar(&c.Settle, "settle", c.Settle, "S4-S6: longest wait for the join traffic to end")
	fs.DurationVar(&c.JoinWindow, "join-window", c.JoinWindow, "S6: spread the joins over this span")
	fs.StringVar(&c.PubSubService, "pubsub-service", c.PubSubService, "S7: pubsub service `domain` (default: found by disco#items, else pubsub.DOMAIN)")
	fs.IntVar(&c.Nodes, "nodes", c.Nodes, "S7: pubsub nodes")
	fs.IntVar(&c.SubsPerNode, "subs-per-node", c.SubsPerNode, "S7: subscribers of each node (spread over the -users sessions)")
	fs.StringVar(&c.JSONFile, "json", c.JSONFile, "append the JSON result line to this `file` too")
	return fs
}

// ParseArgs parses command-line arguments over Defaults and validates them.
// A positional argument names the scenario. A scenario with defaults of
// its own (S4-S6: a room's rates differ from S3's) gets them under the
// flags: the arguments are parsed again over them.
func ParseArgs(args []string, out io.Writer) (Config, error) {
	c, err := parseOver(Defaults(), args, out)
	if err != nil {
		return c, err
	}
	if sc, ok := scenarios[c.Scenario]; ok && sc.defaults != nil {
		d := Defaults()
		sc.defaults(&d)
		if c, err = parseOver(d, args, out); err != nil {
			return c, err
		}
	}
	return c, c.Validate()
}

func parseOver(c Config, args []string, out io.Writer) (Config, error) {
	fs := c.FlagSet("gavel-bench run", out)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch fs.NArg() {
	case 0:
	case 1:
		c.Scenario = fs.Arg(0)
	default:
		return c, fmt.Errorf("unexpected arguments %q", fs.Args()[1:])
	}
	c.Scenario = strings.ToUpper(c.Scenario)
	return c, nil
}

// Hard ceilings: a typo must not start an hour-long or machine-eating run.
const (
	maxUsers    = 1_000_000
	maxRate     = 10_000_000
	maxDuration = time.Hour
)

// Validate reports every problem with c.
func (c *Config) Validate() error {
	var errs []error
	bad := func(f string, a ...any) { errs = append(errs, fmt.Errorf(f, a...)) }
	sc, ok := scenarios[c.Scenario]
	if !ok {
		bad("unknown scenario %q (have %s)", c.Scenario, strings.Join(ScenarioNames(), ", "))
	}
	switch c.Transport {
	case "tcp":
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			bad("-addr %q: %v", c.Addr, err)
		}
	case "ws":
		if !strings.HasPrefix(c.WSURL, "ws://") && !strings.HasPrefix(c.WSURL, "wss://") {
			bad("-ws-url %q: want ws:// or wss://", c.WSURL)
		}
	default:
		bad("-transport %q: want tcp or ws", c.Transport)
	}
	switch c.TLS {
	case "starttls", "none", "direct":
	default:
		bad("-tls %q: want starttls, none or direct", c.TLS)
	}
	switch c.Mechanism {
	case "auto", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN":
	default:
		bad("-mechanism %q: want auto, SCRAM-SHA-256, SCRAM-SHA-1 or PLAIN", c.Mechanism)
	}
	if c.Domain == "" || strings.ContainsAny(c.Domain, "'\"<>&/@ ") {
		bad("-domain %q is not a plain domain", c.Domain)
	}
	if c.Prefix == "" || strings.ContainsAny(c.Prefix, "'\"<>&/@: ") {
		bad("-prefix %q must be a plain localpart", c.Prefix)
	}
	if strings.ContainsAny(c.Password, "'\"<>&") {
		bad("-password must not need XML escaping")
	}
	positive := func(name string, v, hi int) {
		if v <= 0 || v > hi {
			bad("-%s %d out of range 1..%d", name, v, hi)
		}
	}
	positive("users", c.Users, maxUsers)
	positive("concurrency", c.Concurrency, 100_000)
	span := func(name string, d time.Duration) {
		if d <= 0 || d > maxDuration {
			bad("-%s %v out of range (0, %v]", name, d, maxDuration)
		}
	}
	span("connect-timeout", c.ConnectTimeout)
	span("max-runtime", c.MaxRuntime)
	if c.ServerPID < 0 {
		bad("-server-pid %d", c.ServerPID)
	}
	if ok && sc.validate != nil {
		sc.validate(c, bad, positive, span)
	}
	return errors.Join(errs...)
}
