package bench

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gavelhq/gavel/xmlstream"
)

// S3: one-to-one chat. Users sessions log in; then Senders pacing
// goroutines offer Rate messages/s in total for Duration, each from a
// random session of the pacer's share to a random other online session
// (full JID), with a body of BodyBytes that starts with the send time. The
// receivers read with xmlstream.Decoder and take latency from the embedded
// time; after the sending phase the run waits up to Drain for stragglers,
// and whatever has not arrived by then is lost.
var s3Chat = scenario{
	title: "one-to-one chat",
	validate: func(c *Config, bad func(string, ...any), positive func(string, int, int), span func(string, time.Duration)) {
		positive("rate", c.Rate, maxRate)
		span("duration", c.Duration)
		span("drain", c.Drain)
		positive("senders", c.Senders, 10_000)
		if c.BodyBytes < len(payloadMagic)+40 || c.BodyBytes > 64<<10 {
			bad("-body-bytes %d out of range %d..65536", c.BodyBytes, len(payloadMagic)+40)
		}
		if c.Users < 2 {
			bad("-users %d: S3 needs at least 2", c.Users)
		}
	},
	connections: func(c *Config) int { return c.Users },
	run:         runS3,
}

// payloadMagic starts every S3 body; the send time in Unix nanoseconds and
// the sender's sequence follow it.
const payloadMagic = "gavel-bench t="

// s3Stats is what the receivers share (atomics: one reader goroutine per session).
type s3Stats struct {
	lat         Histogram
	delivered   atomic.Int64
	errors      atomic.Int64
	foreign     atomic.Int64 // messages without our payload
	lastArrival atomic.Int64 // unix ns
}

func runS3(ctx context.Context, e *Env, r *Result) error {
	cfg := e.Cfg
	r.Params["users"] = cfg.Users
	r.Params["rate"] = cfg.Rate
	r.Params["duration"] = cfg.Duration.String()
	r.Params["body_bytes"] = cfg.BodyBytes
	r.Params["no_store"] = cfg.NoStore
	r.Params["senders"] = cfg.Senders

	start := time.Now()
	sessions, failed, firstErr := loginAll(ctx, e, cfg.Users, "chat", nil)
	r.AddError(firstErr)
	defer closeAll(sessions)
	for _, s := range sessions {
		r.noteMechanism(s.Mechanism)
	}
	if len(sessions) < 2 {
		return errNoSessions
	}
	e.logf("S3: %d sessions up in %.1fs (%d failed)", len(sessions), time.Since(start).Seconds(), failed)
	r.Add("sessions", float64(len(sessions)), "", "", false)

	var st s3Stats
	var closing atomic.Bool
	var dropped atomic.Int64
	var readers sync.WaitGroup
	for _, s := range sessions {
		readers.Add(1)
		go func() {
			defer readers.Done()
			s3Read(s, &st, &closing, &dropped, r)
		}()
	}

	jids := make([]string, len(sessions))
	for i, s := range sessions {
		jids[i] = s.JID
	}
	var sent, sendErrs atomic.Int64
	var lag Histogram
	cpu := startCPU(cfg.ServerPID)
	sendStart := time.Now()
	sendCtx, stop := context.WithDeadline(ctx, sendStart.Add(cfg.Duration))
	var senders sync.WaitGroup
	nSenders := min(cfg.Senders, len(sessions))
	for p := range nSenders {
		senders.Add(1)
		go func() {
			defer senders.Done()
			s3Send(sendCtx, e, p, nSenders, sessions, jids, sendStart, &sent, &sendErrs, &lag, r)
		}()
	}
	senders.Wait()
	sendSecs := time.Since(sendStart).Seconds()
	stop()
	cpu.stop(r, "send")

	// Drain: wait until everything sent arrived (or bounced), or Drain passes.
	drainEnd := time.Now().Add(cfg.Drain)
	for time.Now().Before(drainEnd) && ctx.Err() == nil &&
		st.delivered.Load()+st.errors.Load() < sent.Load() {
		time.Sleep(20 * time.Millisecond)
	}
	closing.Store(true)
	closeAll(sessions)
	readers.Wait()

	nSent, nDelivered := sent.Load(), st.delivered.Load()
	lost := max(nSent-nDelivered-st.errors.Load(), 0)
	span := deliverySpan(sendSecs, sendStart, st.lastArrival.Load())
	r.Add("delivered_per_s", float64(nDelivered)/span, "msg/s", "higher", true)
	r.Add("offered_per_s", float64(cfg.Rate), "msg/s", "", false)
	r.Add("sent_per_s", float64(nSent)/sendSecs, "msg/s", "", false)
	r.Add("sent", float64(nSent), "", "", false)
	r.Add("delivered", float64(nDelivered), "", "", false)
	r.Add("lost", float64(lost), "", "lower", false)
	r.Add("lost_pct", pctOf(lost, nSent), "%", "lower", false)
	r.Add("error_replies", float64(st.errors.Load()), "", "lower", false)
	r.Add("send_errors", float64(sendErrs.Load()), "", "lower", false)
	r.Add("sessions_dropped", float64(dropped.Load()), "", "lower", false)
	if f := st.foreign.Load(); f > 0 {
		r.Add("foreign_messages", float64(f), "", "", false)
	}
	d := st.lat.Summary("delivery")
	r.Latencies = append(r.Latencies, d, lag.Summary("send_lag"))
	r.Add("delivery_p99", d.P99, "ms", "lower", true)
	if l, _ := r.Latency("send_lag"); l.P99 > 10 {
		r.Notes = append(r.Notes, "send lag p99 above 10 ms: the sender fell behind its schedule (client-bound, or TCP back-pressure from the server)")
	}
	return nil
}

// deliverySpan is the time throughput is counted over: from the first
// send (t0) to the last arrival (unix ns; 0: none), at least the sending
// time, so a server that queues is charged for its backlog.
func deliverySpan(sendSecs float64, t0 time.Time, lastArrival int64) float64 {
	if lastArrival <= 0 {
		return sendSecs
	}
	return max(sendSecs, float64(lastArrival-t0.UnixNano())/1e9)
}

// addFanoutDelivery reports a fan-out scenario's delivered rate (under
// rateName), latency percentiles and losses: d is the delivery latency
// summary, which is also kept among the result's latencies by the caller.
func addFanoutDelivery(r *Result, rateName string, delivered, expected int64, span float64, d LatencySummary, p999Headline bool) {
	r.Add(rateName, float64(delivered)/span, "stanzas/s", "higher", true)
	r.Add("delivery_p50", d.P50, "ms", "lower", true)
	r.Add("delivery_p99", d.P99, "ms", "lower", true)
	r.Add("delivery_p999", d.P999, "ms", "lower", p999Headline)
	r.Add("lost_pct", pctOf(max(expected-delivered, 0), expected), "%", "lower", true)
}

func pctOf(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// s3Send is pacer p of n: it sends to schedule rate/n messages per second
// from sessions p, p+n, p+2n ... to random other sessions, until ctx ends.
// When behind schedule it sends at once (catching up) and records the lag.
func s3Send(ctx context.Context, e *Env, p, n int, sessions []*session, jids []string, t0 time.Time,
	sent, sendErrs *atomic.Int64, lag *Histogram, r *Result) {
	cfg := e.Cfg
	rng := rand.New(rand.NewPCG(uint64(p)+1, uint64(t0.UnixNano())))
	interval := time.Duration(float64(time.Second) * float64(n) / float64(cfg.Rate))
	var own []int
	for i := p; i < len(sessions); i += n {
		own = append(own, i)
	}
	ns := ""
	if cfg.Transport == "ws" {
		ns = " xmlns='jabber:client'"
	}
	var store string
	if cfg.NoStore {
		store = "<no-store xmlns='urn:xmpp:hints'/>"
	}
	buf := make([]byte, 0, cfg.BodyBytes+512)
	// Offset each pacer so they do not all fire at once.
	due := t0.Add(interval * time.Duration(p) / time.Duration(n))
	for seq := 0; ; seq++ {
		if d := time.Until(due); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		now := time.Now()
		lag.Record(now.Sub(due))
		from := own[rng.IntN(len(own))]
		to := rng.IntN(len(sessions) - 1)
		if to >= from {
			to++
		}
		buf = appendS3Message(buf[:0], jids[to], ns, p, seq, now, cfg.BodyBytes, store)
		if err := sessions[from].Send(buf); err != nil {
			sendErrs.Add(1)
			r.AddError(err)
		} else {
			sent.Add(1)
		}
		due = due.Add(interval)
	}
}

// appendS3Message builds a chat message whose body is payloadMagic, the
// send time, the sequence, then padding up to bodyBytes.
func appendS3Message(b []byte, to, ns string, pacer, seq int, now time.Time, bodyBytes int, store string) []byte {
	b = append(b, "<message type='chat' to='"...)
	b = append(b, to...)
	b = append(b, "' id='"...)
	b = strconv.AppendInt(b, int64(pacer), 36)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(seq), 36)
	b = append(b, '\'')
	b = append(b, ns...)
	b = append(b, "><body>"...)
	bodyStart := len(b)
	b = append(b, payloadMagic...)
	b = strconv.AppendInt(b, now.UnixNano(), 10)
	b = append(b, " s="...)
	b = strconv.AppendInt(b, int64(seq), 10)
	b = append(b, ' ')
	for len(b)-bodyStart < bodyBytes {
		b = append(b, 'x')
	}
	b = append(b, "</body>"...)
	b = append(b, store...)
	return append(b, "</message>"...)
}

// payloadTime extracts the send time from a raw message; ok is false for
// messages without the payload.
func payloadTime(raw []byte) (int64, bool) {
	i := bytes.Index(raw, []byte(payloadMagic))
	if i < 0 {
		return 0, false
	}
	var v int64
	j := i + len(payloadMagic)
	for ; j < len(raw) && raw[j] >= '0' && raw[j] <= '9'; j++ {
		v = v*10 + int64(raw[j]-'0')
	}
	return v, j > i+len(payloadMagic)
}

// s3Read consumes one session's stream until it ends.
func s3Read(s *session, st *s3Stats, closing *atomic.Bool, dropped *atomic.Int64, r *Result) {
	for {
		el, err := s.Next()
		if err != nil {
			if !closing.Load() {
				dropped.Add(1)
				if !errors.Is(err, xmlstream.ErrStreamEnd) {
					r.AddError(err)
				}
			}
			return
		}
		if el.Name.Local != "message" {
			s.AnswerPing(el)
			continue
		}
		now := time.Now().UnixNano()
		if el.Type() == "error" {
			st.errors.Add(1)
			r.AddError(errors.New("error reply: " + stanzaErrorCondition(el)))
			continue
		}
		t, ok := payloadTime(el.Raw)
		if !ok {
			st.foreign.Add(1)
			continue
		}
		st.lat.Record(time.Duration(now - t))
		st.delivered.Add(1)
		for {
			la := st.lastArrival.Load()
			if now <= la || st.lastArrival.CompareAndSwap(la, now) {
				break
			}
		}
	}
}

// stanzaErrorCondition names the defined condition of an error stanza.
func stanzaErrorCondition(st *xmlstream.Stanza) string {
	el, err := st.Element()
	if err != nil {
		return "unparsable"
	}
	if e := el.Child("", "error"); e != nil {
		for _, c := range e.Elements() {
			if c.Name.Space == xmlstream.NSStanzas && c.Name.Local != "text" {
				return c.Name.Local
			}
		}
	}
	return "unknown"
}
