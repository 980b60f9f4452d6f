package bench

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// S4: auction room. Users occupants in one room: occupant 0 (the
// auctioneer) creates it, occupants 1..Bidders bid, the rest watch, and the
// last SlowPct percent are slow readers. Bids are groupchat messages, a
// Poisson process of Rate per second for Duration, each carrying its send
// time; every healthy occupant (the bidder itself included: the room
// reflects the bid) records the time to delivery. SlowPct of the
// occupants stop reading StallAfter into the bid phase for Stall: the
// server should cut them off (they count in slow_cut_off, and the
// auctioneer sees their departure: cutoff_after) while the healthy
// occupants' latency stays low. Losses are bids a healthy occupant never
// got by the end of Drain.
var s4Auction = scenario{
	title:       "auction room",
	validate:    auctionValidate,
	connections: func(c *Config) int { return c.Users },
	run:         runAuction,
	defaults: func(c *Config) {
		c.Users, c.Rate, c.Duration, c.Drain, c.SlowPct = 1000, 50, 40*time.Second, 5*time.Second, 1
	},
}

// S5: silent watchers. The S4 room with many more occupants, presence
// broadcast only for moderators (muc#roomconfig_presencebroadcast), so
// joins cost O(1) each instead of O(occupants), and a low bid rate.
var s5Watchers = scenario{
	title:       "silent watchers",
	validate:    auctionValidate,
	connections: func(c *Config) int { return c.Users },
	run:         runAuction,
	defaults: func(c *Config) {
		c.Users, c.Rate, c.Duration, c.Drain, c.SlowPct = 10000, 5, 30*time.Second, 5*time.Second, 0
		c.PresenceBroadcast = "moderator"
	},
}

func auctionValidate(c *Config, bad func(string, ...any), positive func(string, int, int), span func(string, time.Duration)) {
	mucValidate(c, bad, span)
	positive("rate", c.Rate, 100_000)
	span("duration", c.Duration)
	span("drain", c.Drain)
	positive("bidders", c.Bidders, maxUsers)
	if c.BodyBytes < len(payloadMagic)+40 || c.BodyBytes > 64<<10 {
		bad("-body-bytes %d out of range %d..65536", c.BodyBytes, len(payloadMagic)+40)
	}
	if c.SlowPct < 0 || c.SlowPct > 50 {
		bad("-slow-pct %v out of range 0..50", c.SlowPct)
	}
	if c.SlowRcvBuf < 0 {
		bad("-slow-rcvbuf %d", c.SlowRcvBuf)
	}
	if slowCount(c) > 0 {
		span("stall", c.Stall)
		if c.StallAfter < 0 || c.StallAfter+c.Stall > c.Duration {
			bad("-stall-after %v + -stall %v must end within -duration %v (so the slow readers read again and notice a cut-off)",
				c.StallAfter, c.Stall, c.Duration)
		}
	}
	if 1+c.Bidders+slowCount(c) > c.Users {
		bad("-users %d: need the auctioneer, %d bidders and %d slow readers", c.Users, c.Bidders, slowCount(c))
	}
}

// slowCount is the number of slow readers: SlowPct of the occupants.
func slowCount(c *Config) int { return int(math.Round(float64(c.Users) * c.SlowPct / 100)) }

func runAuction(ctx context.Context, e *Env, r *Result) error {
	cfg := e.Cfg
	nSlow := slowCount(cfg)
	slowFrom := cfg.Users - nSlow
	r.Params["occupants"] = cfg.Users
	r.Params["bidders"] = cfg.Bidders
	r.Params["rate"] = cfg.Rate
	r.Params["duration"] = cfg.Duration.String()
	r.Params["body_bytes"] = cfg.BodyBytes
	r.Params["presence_broadcast"] = orDefault(cfg.PresenceBroadcast, "server default")
	if nSlow > 0 {
		r.Params["slow_readers"] = nSlow
		r.Params["stall"] = cfg.StallAfter.String() + "+" + cfg.Stall.String()
		r.Params["slow_rcvbuf"] = cfg.SlowRcvBuf
		e.Dialer.RcvBuf = func(idx int) int {
			if idx >= slowFrom {
				return cfg.SlowRcvBuf
			}
			return 0
		}
	}

	sessions, err := mucSessions(ctx, e, cfg.Users, r)
	if err != nil {
		return err
	}
	defer closeAll(sessions)
	occ := make([]*mucOccupant, len(sessions))
	for i, s := range sessions {
		kind := kindWatcher
		switch {
		case s.idx == 0:
			kind = kindOwner
		case s.idx <= cfg.Bidders:
			kind = kindBidder
		case s.idx >= slowFrom:
			kind = kindSlow
		}
		occ[i] = newOccupant(s, kind, false)
	}
	room := roomJID(cfg, cfg.Scenario)
	r.Params["room"] = room
	m := newMUCRoom(room, cfg.Users, r)
	m.slowFrom.Store(int64(slowFrom))

	cctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	codes, note, err := createRoom(cctx, cfg, occ[0], room)
	cancel()
	if err != nil {
		return err
	}
	r.Notes = append(r.Notes, "room created, self-presence status "+strings.Join(codes, ","))
	if note != "" {
		r.Notes = append(r.Notes, note)
	}
	closeReaders := startReaders(m, occ)
	defer func() {
		m.closing.Store(true)
		closeAll(sessions)
		closeReaders()
	}()

	start := time.Now()
	in, joinFailed := joinAll(ctx, e, m, occ[1:])
	joinSecs := time.Since(start).Seconds()
	waited := settleRoom(ctx, m, time.Second, cfg.Settle)
	e.logf("%s: %d joined in %.1fs (%d failed); join traffic settled after %.1fs", cfg.Scenario, len(in)+1, joinSecs, joinFailed, waited.Seconds())
	r.Add("occupants", float64(len(in)+1), "", "", false)
	r.Add("join_failed", float64(joinFailed), "", "lower", false)
	r.Add("join_s", joinSecs, "s", "", false)

	var bidders []*mucOccupant
	healthy, slowIn := 1, 0
	for _, o := range in {
		switch o.kind {
		case kindSlow:
			slowIn++
		case kindBidder:
			bidders = append(bidders, o)
			healthy++
		default:
			healthy++
		}
	}
	if len(bidders) == 0 {
		return errNoSessions
	}
	r.Add("healthy_occupants", float64(healthy), "", "", false)
	r.Add("slow_readers", float64(slowIn), "", "", false)
	received0 := m.stanzas.Load()

	// The bid phase.
	var sent, sendErrs atomic.Int64
	var lag Histogram
	cpu := startCPU(cfg.ServerPID)
	t0 := time.Now()
	if slowIn > 0 {
		m.stallEnd.Store(t0.Add(cfg.StallAfter + cfg.Stall).UnixNano())
		m.stallStart.Store(t0.Add(cfg.StallAfter).UnixNano())
	}
	sendBids(ctx, cfg, room, bidders, t0, &sent, &sendErrs, &lag, r)
	sendSecs := time.Since(t0).Seconds()

	expected := sent.Load() * int64(healthy)
	drainEnd := time.Now().Add(cfg.Drain)
	for time.Now().Before(drainEnd) && ctx.Err() == nil && m.delivered.Load()+m.errorReplies.Load() < expected {
		time.Sleep(20 * time.Millisecond)
	}
	cpu.stop(r, "bids")
	waitSlowReaders(ctx, m, slowIn)
	m.closing.Store(true)

	delivered := m.delivered.Load()
	lost := max(expected-delivered, 0)
	d := m.lat.Summary("delivery")
	addFanoutDelivery(r, "delivered_per_s", delivered, expected, deliverySpan(sendSecs, t0, m.lastArrival.Load()), d, true)
	if nSlow > 0 {
		r.Add("slow_cut_off", float64(m.slowCut.Load()), "", "", true)
	}
	r.Add("healthy_dropped", float64(m.healthyDropped.Load()+m.kicked.Load()), "", "lower", true)
	r.Add("bids_sent", float64(sent.Load()), "", "", false)
	r.Add("bids_per_s", float64(sent.Load())/sendSecs, "/s", "", false)
	r.Add("expected", float64(expected), "", "", false)
	r.Add("delivered", float64(delivered), "", "", false)
	r.Add("lost", float64(lost), "", "lower", false)
	r.Add("error_replies", float64(m.errorReplies.Load()), "", "lower", false)
	r.Add("send_errors", float64(sendErrs.Load()), "", "lower", false)
	r.Add("stanzas_received", float64(m.stanzas.Load()-received0), "", "", false)
	if nSlow > 0 {
		r.Add("slow_delivered", float64(m.slowDelivered.Load()), "", "", false)
	}
	r.Latencies = append(r.Latencies, d, m.slowLat.Summary("slow_delivery"), m.cutoff.Summary("cutoff_after_stall"),
		m.joinLat.Summary("join"), lag.Summary("send_lag"))
	if l, _ := r.Latency("send_lag"); l.P99 > 10 {
		r.Notes = append(r.Notes, "send lag p99 above 10 ms: the bid pacer fell behind (busy tool or TCP back-pressure)")
	}
	if nSlow > 0 && m.slowCut.Load() < int64(slowIn) {
		r.Notes = append(r.Notes, strconv.FormatInt(int64(slowIn)-m.slowCut.Load(), 10)+
			" slow readers were not cut off: the server buffered their backlog (see slow_delivery)")
	}
	return nil
}

// sendBids sends bids from random bidders as a Poisson process of
// cfg.Rate per second until cfg.Duration has passed since t0. Behind
// schedule it sends at once and records the lag.
func sendBids(ctx context.Context, cfg *Config, room string, bidders []*mucOccupant, t0 time.Time,
	sent, sendErrs *atomic.Int64, lag *Histogram, r *Result) {
	rng := rand.New(rand.NewPCG(uint64(t0.UnixNano()), 4))
	end := t0.Add(cfg.Duration)
	mean := float64(time.Second) / float64(cfg.Rate)
	buf := make([]byte, 0, cfg.BodyBytes+256)
	due := t0
	for seq := 0; ctx.Err() == nil; seq++ {
		due = due.Add(time.Duration(rng.ExpFloat64() * mean))
		if !due.Before(end) {
			// Idle until the phase ends, so its length does not depend on the draw.
			sleepCtx(ctx, time.Until(end))
			return
		}
		if !sleepCtx(ctx, time.Until(due)) {
			return
		}
		now := time.Now()
		lag.Record(now.Sub(due))
		b := bidders[rng.IntN(len(bidders))]
		buf = appendBid(buf[:0], room, b.ns(), b.idx, seq, now, cfg.BodyBytes)
		if err := b.Send(buf); err != nil {
			sendErrs.Add(1)
			r.AddError(err)
			continue
		}
		sent.Add(1)
	}
}

// sleepCtx sleeps for d; false if ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// appendBid builds a groupchat message whose body is payloadMagic, the
// send time, the sequence and the bidder, padded to bodyBytes.
func appendBid(b []byte, room, ns string, bidder, seq int, now time.Time, bodyBytes int) []byte {
	b = append(b, "<message type='groupchat' to='"...)
	b = append(b, room...)
	b = append(b, "' id='b"...)
	b = strconv.AppendInt(b, int64(seq), 36)
	b = append(b, '\'')
	b = append(b, ns...)
	b = append(b, "><body>"...)
	bodyStart := len(b)
	b = append(b, payloadMagic...)
	b = strconv.AppendInt(b, now.UnixNano(), 10)
	b = append(b, " s="...)
	b = strconv.AppendInt(b, int64(seq), 10)
	b = append(b, " bidder="...)
	b = strconv.AppendInt(b, int64(bidder), 10)
	b = append(b, " bid "...)
	for len(b)-bodyStart < bodyBytes {
		b = append(b, '0')
	}
	return append(b, "</body></message>"...)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// waitSlowReaders gives slow readers that resumed time to read what the
// kernel still held for them and reach the end of a stream the server cut:
// through a receive buffer below the loopback segment size that backlog
// trickles in (zero-window probes), and a cut seen only after the run
// closed was not counted. It waits while any of them still receives (at
// most 30 s, and 3 s after the last stanza).
func waitSlowReaders(ctx context.Context, m *mucRoom, slowIn int) {
	if slowIn == 0 {
		return
	}
	limit := time.Now().Add(30 * time.Second)
	for ctx.Err() == nil && m.slowCut.Load() < int64(slowIn) && time.Now().Before(limit) {
		if time.Since(time.Unix(0, m.slowLast.Load())) > 3*time.Second {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
