package bench

import (
	"context"
	"strings"
	"time"
)

// S6: join storm. Users sessions log in first (not measured); occupant 0
// creates the room; then the other Users-1 join, spread evenly over
// JoinWindow, with full presence broadcast (unless -presence-broadcast
// says otherwise). Every client keeps the room's occupant set from the
// presences it receives and is complete when the set holds all Users
// occupants. The figures are the time from the first join until the last
// client's set is complete (complete_s, bounded by JoinWindow + Drain) and
// from the last join until then (complete_after_last_join_s: the server's
// lag behind the storm); with full broadcast the server delivers about
// Users² presences for it.
var s6JoinStorm = scenario{
	title: "join storm",
	validate: func(c *Config, bad func(string, ...any), positive func(string, int, int), span func(string, time.Duration)) {
		mucValidate(c, bad, span)
		span("join-window", c.JoinWindow)
		span("drain", c.Drain)
	},
	connections: func(c *Config) int { return c.Users },
	run:         runS6,
	defaults: func(c *Config) {
		c.Users, c.Drain = 1000, 3*time.Minute
	},
}

func runS6(ctx context.Context, e *Env, r *Result) error {
	cfg := e.Cfg
	r.Params["occupants"] = cfg.Users
	r.Params["join_window"] = cfg.JoinWindow.String()
	r.Params["presence_broadcast"] = orDefault(cfg.PresenceBroadcast, "server default")

	sessions, err := mucSessions(ctx, e, cfg.Users, r)
	if err != nil {
		return err
	}
	defer closeAll(sessions)
	occ := make([]*mucOccupant, len(sessions))
	for i, s := range sessions {
		kind := kindWatcher
		if s.idx == 0 {
			kind = kindOwner
		}
		occ[i] = newOccupant(s, kind, true)
	}
	room := roomJID(cfg, cfg.Scenario)
	r.Params["room"] = room
	m := newMUCRoom(room, cfg.Users, r)
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
	owner := occ[0]
	owner.present = make([]bool, m.n)
	owner.present[0], owner.count = true, 1 // its own self-presence, read by createRoom
	closeReaders := startReaders(m, occ)
	defer func() {
		m.closing.Store(true)
		closeAll(sessions)
		closeReaders()
	}()
	settleRoom(ctx, m, 500*time.Millisecond, cfg.Settle) // the room's subject etc. to the owner

	joiners := occ[1:]
	received0 := m.stanzas.Load()
	cpu := startCPU(cfg.ServerPID)
	t0 := time.Now()
	owner.joinSentAt.Store(t0.UnixNano())
	var sendFailed int
	for k, o := range joiners {
		due := t0.Add(time.Duration(int64(cfg.JoinWindow) * int64(k) / int64(max(len(joiners)-1, 1))))
		if !sleepCtx(ctx, time.Until(due)) {
			break
		}
		o.joinSentAt.Store(time.Now().UnixNano())
		if err := o.SendString(joinPresence(o.Client, room, o.nick)); err != nil {
			r.AddError(err)
			sendFailed++
		}
	}
	lastJoin := time.Now()
	sendSecs := lastJoin.Sub(t0).Seconds()

	// Outcomes of the joins, then the occupant lists, within the bound.
	deadline := time.NewTimer(time.Until(t0.Add(cfg.JoinWindow + cfg.Drain)))
	defer deadline.Stop()
	joined, timedOut := 1, false
	for _, o := range joiners {
		if o.joinSentAt.Load() == 0 {
			continue
		}
		var err error
		if timedOut {
			select {
			case err = <-o.joined:
			default:
				continue
			}
		} else {
			select {
			case err = <-o.joined:
			case <-deadline.C:
				timedOut = true
				continue
			case <-ctx.Done():
				timedOut = true
				continue
			}
		}
		if err != nil {
			r.AddError(err)
			continue
		}
		joined++
	}
	end := t0.Add(cfg.JoinWindow + cfg.Drain)
	for m.complete.Load() < int64(joined) && time.Now().Before(end) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	cpu.stop(r, "storm")
	stanzas := m.stanzas.Load() - received0
	complete := m.complete.Load()

	var listLat Histogram
	for _, o := range occ {
		if ns := o.completeIn.Load(); ns > 0 {
			listLat.Record(time.Duration(ns))
		}
	}
	if complete == int64(cfg.Users) {
		r.Add("complete_s", float64(m.completeLast.Load()-t0.UnixNano())/1e9, "s", "lower", true)
		// The joins themselves take JoinWindow; what the server adds is
		// the time from the last join to the last complete list.
		r.Add("complete_after_last_join_s", float64(m.completeLast.Load()-lastJoin.UnixNano())/1e9, "s", "lower", true)
	} else {
		r.Notes = append(r.Notes, "not every occupant list was complete within join-window + drain: complete_s not reported")
	}
	span := sendSecs
	if last := m.lastStanza.Load(); last > t0.UnixNano() {
		span = max(span, float64(last-t0.UnixNano())/1e9)
	}
	r.Add("stanzas_delivered", float64(stanzas), "", "", true)
	r.Add("stanzas_per_s", float64(stanzas)/span, "stanzas/s", "higher", true)
	r.Add("lists_complete", float64(complete), "", "higher", true)
	r.Add("occupants", float64(joined), "", "", false)
	r.Add("join_failed", float64(cfg.Users-joined), "", "lower", false)
	r.Add("joins_sent_s", sendSecs, "s", "", false)
	if cfg.PresenceBroadcast == "" {
		r.Add("expected_presences", float64(cfg.Users)*float64(cfg.Users)-1, "", "", false) // 2k-1 for the k-th join
	}
	r.Add("error_replies", float64(m.errorReplies.Load()), "", "lower", false)
	r.Add("dropped", float64(m.healthyDropped.Load()+m.kicked.Load()), "", "lower", false)
	r.Latencies = append(r.Latencies, m.joinLat.Summary("join"), listLat.Summary("list_complete"))
	return nil
}
