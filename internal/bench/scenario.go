package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// scenario is one load shape. New ones (S4-S7: MUC, pubsub) add a file with
// a run function and an entry in scenarios; the framework gives them
// logins, accounts, pacing helpers, histograms and the report.
type scenario struct {
	title string
	// validate checks the Config fields the scenario uses.
	validate func(c *Config, bad func(string, ...any), positive func(string, int, int), span func(string, time.Duration))
	// connections is how many connections the run opens (for source
	// address spreading and the file-descriptor limit).
	connections func(c *Config) int
	run         func(ctx context.Context, e *Env, r *Result) error
	// defaults (may be nil) adjusts Defaults() for the scenario before the
	// command-line flags apply.
	defaults func(c *Config)
}

// scenarios is the fixed table of scenarios (never modified).
var scenarios = map[string]scenario{
	"S1": s1Idle,
	"S2": s2LoginStorm,
	"S3": s3Chat,
	"S4": s4Auction,
	"S5": s5Watchers,
	"S6": s6JoinStorm,
	"S7": s7PubSub,
}

// ScenarioNames lists the scenarios, sorted.
func ScenarioNames() []string {
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Env is what a scenario runs with.
type Env struct {
	Cfg    *Config
	Dialer *Dialer
	Cache  *SCRAMCache
	Log    io.Writer // progress lines
}

func (e *Env) logf(format string, a ...any) {
	if e.Log != nil {
		fmt.Fprintf(e.Log, "gavel-bench: "+format+"\n", a...)
	}
}

// Run runs cfg's scenario, bounded by cfg.MaxRuntime, and returns its
// result. log receives progress lines (may be nil).
func Run(ctx context.Context, cfg Config, log io.Writer) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sc := scenarios[cfg.Scenario]
	ctx, cancel := context.WithTimeout(ctx, cfg.MaxRuntime)
	defer cancel()
	conns := sc.connections(&cfg)
	cache := NewSCRAMCache()
	e := &Env{Cfg: &cfg, Cache: cache, Dialer: NewDialer(&cfg, cache, conns), Log: log}
	if lim, err := RaiseFileLimit(uint64(conns) + 1024); err != nil {
		e.logf("raising the file limit: %v (limit %d)", err, lim)
	}
	if cfg.Register {
		if err := RegisterAccounts(ctx, e, cfg.Users); err != nil {
			return nil, err
		}
	}
	r := newResult(&cfg, sc.title)
	if err := sc.run(ctx, e, r); err != nil {
		return r, err
	}
	return r, nil
}

// RegisterAccounts registers accounts 0..n-1 in-band, Concurrency at a time.
func RegisterAccounts(ctx context.Context, e *Env, n int) error {
	start := time.Now()
	var failed atomic.Int64
	var firstErr error
	var once sync.Once
	forEach(ctx, n, e.Cfg.Concurrency, func(ctx context.Context, i int) {
		err := withClient(ctx, e, i, func(ctx context.Context, c *Client) error {
			return c.Register(ctx, AccountName(e.Cfg.Prefix, i))
		})
		if err != nil {
			failed.Add(1)
			once.Do(func() { firstErr = err })
		}
	})
	if failed.Load() > 0 {
		return fmt.Errorf("in-band registration: %d of %d failed, first: %w", failed.Load(), n, firstErr)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("in-band registration: %w", err)
	}
	e.logf("registered %d accounts in %.1fs", n, time.Since(start).Seconds())
	return nil
}

// withClient dials connection i, runs fn within ConnectTimeout and closes.
func withClient(ctx context.Context, e *Env, i int, fn func(context.Context, *Client) error) error {
	ctx, cancel := context.WithTimeout(ctx, e.Cfg.ConnectTimeout)
	defer cancel()
	c, err := e.Dialer.Dial(ctx, i)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(ctx, c)
}

// forEach calls fn(i) for i in [0, n) on `workers` goroutines and returns
// when all calls returned; once ctx ends no new call starts.
func forEach(ctx context.Context, n, workers int, fn func(ctx context.Context, i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(ctx, i)
			}
		}()
	}
	wg.Wait()
}

// session is a logged-in client plus what a scenario tracks about it.
type session struct {
	*Client
	idx int
}

// loginAll logs in n sessions (account i % Users, resource prefix+i) with
// Concurrency in flight, and returns those that succeeded (ordered by i,
// failures left out), the number of failures and the first error.
func loginAll(ctx context.Context, e *Env, n int, resPrefix string, lat *Histogram) ([]*session, int, error) {
	out := make([]*session, n)
	var failed atomic.Int64
	var firstErr error
	var once sync.Once
	forEach(ctx, n, e.Cfg.Concurrency, func(ctx context.Context, i int) {
		s, err := loginOne(ctx, e, i, resPrefix, lat)
		if err != nil {
			failed.Add(1)
			once.Do(func() { firstErr = err })
			return
		}
		out[i] = s
	})
	ok := out[:0]
	for _, s := range out {
		if s != nil {
			ok = append(ok, s)
		}
	}
	if err := ctx.Err(); err != nil && firstErr == nil {
		firstErr = err
	}
	return ok, n - len(ok), firstErr
}

// loginOne dials connection i and logs account i % Users in; lat (may be
// nil) gets the time from dial to the answered post-presence ping.
func loginOne(ctx context.Context, e *Env, i int, resPrefix string, lat *Histogram) (*session, error) {
	lctx, cancel := context.WithTimeout(ctx, e.Cfg.ConnectTimeout)
	defer cancel()
	start := time.Now()
	c, err := e.Dialer.Dial(lctx, i)
	if err != nil {
		return nil, err
	}
	if err := c.Login(lctx, AccountName(e.Cfg.Prefix, i%e.Cfg.Users), resPrefix+fmt.Sprint(i)); err != nil {
		c.Abort()
		return nil, err
	}
	if lat != nil {
		lat.Record(time.Since(start))
	}
	return &session{Client: c, idx: i}, nil
}

// closeAll ends every session, a few at a time, within a bounded time.
func closeAll(sessions []*session) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	forEach(ctx, len(sessions), 64, func(_ context.Context, i int) { sessions[i].Close() })
	for _, s := range sessions { // whatever is left after the bound
		s.Abort()
	}
}

// errNoSessions is returned when not a single login succeeded.
var errNoSessions = errors.New("no session could log in")
