package bench

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gavelhq/gavel/xmlstream"
)

// S1: idle sessions. Log in Sessions clients (TLS, SASL, bind, presence),
// let them sit for Hold, and report how much the server process grew per
// session (VmRSS of --server-pid) and how much kernel slab grew per
// connection (both socket ends on loopback, so an upper bound for the
// server's share). Readers stay running to answer the server's pings.
var s1Idle = scenario{
	title: "idle sessions",
	validate: func(c *Config, bad func(string, ...any), positive func(string, int, int), span func(string, time.Duration)) {
		positive("sessions", c.Sessions, maxUsers)
		span("hold", c.Hold)
		if c.Sessions > 10*c.Users {
			bad("-users %d: S1 needs at least sessions/10 accounts (servers cap resources per account)", c.Users)
		}
	},
	connections: func(c *Config) int { return c.Sessions },
	run:         runS1,
}

// settle is how long S1 waits before reading memory, so the server's
// per-login garbage is collected and freed pages show.
const settle = 3 * time.Second

func runS1(ctx context.Context, e *Env, r *Result) error {
	cfg := e.Cfg
	r.Params["sessions"] = cfg.Sessions
	r.Params["hold"] = cfg.Hold.String()
	r.Params["concurrency"] = cfg.Concurrency
	if cfg.ServerPID == 0 {
		r.Notes = append(r.Notes, "no -server-pid: server memory not measured")
	}
	rss0, rssErr := serverRSS(cfg.ServerPID)
	slab0, slabErr := SlabKB()

	var lat Histogram
	start := time.Now()
	sessions, failed, firstErr := loginAll(ctx, e, cfg.Sessions, "idle", &lat)
	connectSecs := time.Since(start).Seconds()
	r.AddError(firstErr)
	defer closeAll(sessions)
	for _, s := range sessions {
		r.noteMechanism(s.Mechanism)
	}
	if len(sessions) == 0 {
		return errNoSessions
	}
	e.logf("S1: %d sessions up in %.1fs (%d failed); holding %v", len(sessions), connectSecs, failed, cfg.Hold)

	// Readers answer pings and notice sessions the server drops.
	var dropped atomic.Int64
	var closing atomic.Bool
	var wg sync.WaitGroup
	for _, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				st, err := s.Next()
				if err != nil {
					if !closing.Load() {
						dropped.Add(1)
						if !errors.Is(err, xmlstream.ErrStreamEnd) {
							r.AddError(err)
						}
					}
					return
				}
				s.AnswerPing(st)
			}
		}()
	}
	holdCtx, cancel := context.WithTimeout(ctx, cfg.Hold)
	time.Sleep(min(settle, cfg.Hold))
	cpu := startCPU(cfg.ServerPID)
	<-holdCtx.Done()
	cancel()
	cpu.stop(r, "idle")
	n := float64(len(sessions))
	r.Add("sessions", n, "", "", false)
	r.Add("failed_logins", float64(failed), "", "lower", false)
	r.Add("login_rate", n/connectSecs, "/s", "", false)
	if rssErr == nil {
		if rss1, err := serverRSS(cfg.ServerPID); err == nil {
			r.Add("server_rss_before", float64(rss0)/1024, "MiB", "", false)
			r.Add("server_rss_after", float64(rss1)/1024, "MiB", "", false)
			r.Add("rss_per_session", float64(rss1-rss0)/n, "KiB", "lower", true)
		} else {
			r.AddError(err)
		}
	} else if cfg.ServerPID != 0 {
		r.AddError(rssErr)
	}
	if slabErr == nil {
		if slab1, err := SlabKB(); err == nil {
			r.Add("slab_per_connection", float64(slab1-slab0)/n, "KiB", "lower", false)
		}
	} else {
		r.Notes = append(r.Notes, "kernel slab not readable: "+slabErr.Error())
	}
	r.Add("dropped_while_idle", float64(dropped.Load()), "", "lower", false)
	r.Latencies = append(r.Latencies, lat.Summary("login"))
	closing.Store(true)
	closeAll(sessions)
	wg.Wait()
	return nil
}

func serverRSS(pid int) (int64, error) {
	if pid == 0 {
		return 0, errors.New("no server pid")
	}
	return ProcRSSKB(pid)
}
