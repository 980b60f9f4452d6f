package bench

import (
	"context"
	"sync"
	"time"
)

// S2: login storm. Logins full logins (TCP connect, STARTTLS with a full
// TLS handshake, SASL, stream restart, bind, initial presence, and the
// answer to a ping sent after the presence), Concurrency in flight
// (closed loop: a new login starts when one finishes). Each session closes
// right after its login unless KeepOpen. Account i % min(Users, Logins)
// logs in, so with Warmup the tool's SCRAM key cache is full before the
// measured phase and the tool does no PBKDF2 while measuring.
var s2LoginStorm = scenario{
	title: "login storm",
	validate: func(c *Config, bad func(string, ...any), positive func(string, int, int), span func(string, time.Duration)) {
		positive("logins", c.Logins, 100*maxUsers)
		if c.KeepOpen && c.Logins > 10*c.Users {
			bad("-keep-open with %d logins needs at least logins/10 accounts (servers cap resources per account)", c.Logins)
		}
	},
	connections: func(c *Config) int {
		n := c.Logins
		if c.Warmup {
			n += min(c.Users, c.Logins)
		}
		return n
	},
	run: runS2,
}

func runS2(ctx context.Context, e *Env, r *Result) error {
	cfg := e.Cfg
	accounts := min(cfg.Users, cfg.Logins)
	r.Params["logins"] = cfg.Logins
	r.Params["accounts"] = accounts
	r.Params["concurrency"] = cfg.Concurrency
	r.Params["keep_open"] = cfg.KeepOpen
	r.Params["warmup"] = cfg.Warmup
	// The account of login i is i % Users; limit it to the accounts used.
	sub := *e
	subCfg := *cfg
	subCfg.Users = accounts
	sub.Cfg = &subCfg

	idxBase := 0
	if cfg.Warmup {
		start := time.Now()
		sessions, failed, err := loginAll(ctx, &sub, accounts, "warm", nil)
		closeAll(sessions)
		if failed > 0 {
			r.AddError(err)
		}
		idxBase = accounts
		e.logf("S2: warm-up: %d logins in %.1fs (%d failed), %d SCRAM derivations", len(sessions), time.Since(start).Seconds(), failed, e.Cache.Derivations())
	}
	derivations := e.Cache.Derivations()

	var lat Histogram
	var mu sync.Mutex
	var kept []*session
	var failed int
	cpu := startCPU(cfg.ServerPID)
	start := time.Now()
	forEach(ctx, cfg.Logins, cfg.Concurrency, func(ctx context.Context, i int) {
		// Connection index idxBase+i spreads source addresses over both phases.
		s, err := loginOne(ctx, &sub, idxBase+i, "storm", &lat)
		if err != nil {
			r.AddError(err)
			mu.Lock()
			failed++
			mu.Unlock()
			return
		}
		r.noteMechanism(s.Mechanism)
		if cfg.KeepOpen {
			mu.Lock()
			kept = append(kept, s)
			mu.Unlock()
			return
		}
		s.Close()
	})
	elapsed := time.Since(start).Seconds()
	cpu.stop(r, "storm")
	closeAll(kept)
	ok := lat.Count()
	if ok == 0 {
		return errNoSessions
	}
	// Logins not started because the run's time bound hit count as failed.
	notTried := cfg.Logins - int(ok) - failed
	r.Add("logins_per_s", float64(ok)/elapsed, "/s", "higher", true)
	r.Add("logins_ok", float64(ok), "", "", false)
	r.Add("logins_failed", float64(failed+notTried), "", "lower", false)
	r.Add("elapsed", elapsed, "s", "", false)
	r.Add("scram_derivations_measured", float64(e.Cache.Derivations()-derivations), "", "", false)
	s := lat.Summary("login")
	r.Latencies = append(r.Latencies, s)
	r.Add("login_p99", s.P99, "ms", "lower", true)
	return nil
}
