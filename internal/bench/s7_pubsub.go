package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gavelhq/gavel/xmlstream"
)

// S7: pubsub fan-out. Users subscriber sessions and Senders publisher
// sessions log in (publisher p is account p with its own resource). Each
// publisher creates its share of Nodes fresh nodes (node n belongs to
// publisher n % Senders) with open access, max_items 10 and no last-item
// replay; then every node gets SubsPerNode subscriptions from the sessions
// n*SubsPerNode ... (mod Users), each for the session's full JID, with
// plain XEP-0060 <subscribe/> iqs. The publishers then publish Rate items
// per second in total for Duration, round-robin over their nodes, each
// item's payload carrying its send time; every subscriber records the
// time to the event notification. Figures: notifications delivered per
// second, their p50/p99 latency, losses (notifications not received by
// the end of Drain), publish acknowledgement latency. The nodes are
// deleted at the end (not measured). The shapes of issue 6:
//
//	gavel-bench run S7                                            # 1 node x 1,000 subscribers, 50/s
//	gavel-bench run S7 -nodes 5000 -subs-per-node 10 -rate 2000   # 5,000 nodes x 10 subscribers
var s7PubSub = scenario{
	title: "pubsub fan-out",
	validate: func(c *Config, bad func(string, ...any), positive func(string, int, int), span func(string, time.Duration)) {
		positive("rate", c.Rate, 100_000)
		span("duration", c.Duration)
		span("drain", c.Drain)
		positive("nodes", c.Nodes, 100_000)
		positive("subs-per-node", c.SubsPerNode, maxUsers)
		positive("senders", c.Senders, 1000)
		if c.SubsPerNode > c.Users {
			bad("-subs-per-node %d exceeds -users %d (each session subscribes to a node at most once)", c.SubsPerNode, c.Users)
		}
		if c.Nodes*c.SubsPerNode > 1_000_000 {
			bad("-nodes x -subs-per-node = %d subscriptions: at most 1,000,000", c.Nodes*c.SubsPerNode)
		}
		if c.BodyBytes < len(payloadMagic)+40 || c.BodyBytes > 64<<10 {
			bad("-body-bytes %d out of range %d..65536", c.BodyBytes, len(payloadMagic)+40)
		}
		if strings.ContainsAny(c.PubSubService, "'\"<>&/@ ") {
			bad("-pubsub-service %q must be a plain domain", c.PubSubService)
		}
	},
	connections: func(c *Config) int { return c.Users + s7Publishers(c) },
	run:         runS7,
	defaults: func(c *Config) {
		c.Users, c.Nodes, c.SubsPerNode, c.Rate = 1000, 1, 1000, 50
		c.Duration, c.Drain, c.Senders = 30*time.Second, 5*time.Second, 4
	},
}

const (
	nsPubSub      = "http://jabber.org/protocol/pubsub"
	nsPubSubEvent = "http://jabber.org/protocol/pubsub#event"
	nsPubSubCfg   = "http://jabber.org/protocol/pubsub#node_config"
	nsDiscoItems  = "http://jabber.org/protocol/disco#items"
	nsDiscoInfo   = "http://jabber.org/protocol/disco#info"
	// s7Window bounds the setup iqs (create, subscribe, delete) one client
	// has in flight.
	s7Window = 16
)

// s7Publishers is the number of publisher sessions: no more than nodes.
func s7Publishers(c *Config) int { return max(1, min(c.Senders, c.Nodes)) }

// s7Client is a session whose reader goroutine matches iq answers to
// waiting calls and hands everything else to onStanza.
type s7Client struct {
	*session
	mu      sync.Mutex
	waiting map[string]chan *xmlstream.Stanza
	nextID  atomic.Int64
	done    chan struct{} // closed when the reader ends
}

func newS7Client(s *session) *s7Client {
	return &s7Client{session: s, waiting: map[string]chan *xmlstream.Stanza{}, done: make(chan struct{})}
}

// read runs the reader until the stream ends; onStanza gets every stanza
// that is not an awaited iq answer (and must not block). onEnd gets the
// error that ended it.
func (c *s7Client) read(onStanza func(st *xmlstream.Stanza, now int64), onEnd func(error)) {
	defer close(c.done)
	for {
		st, err := c.Next()
		if err != nil {
			onEnd(err)
			return
		}
		now := time.Now().UnixNano()
		if st.Name.Local == "iq" && (st.Type() == "result" || st.Type() == "error") {
			c.mu.Lock()
			ch := c.waiting[st.ID()]
			delete(c.waiting, st.ID())
			c.mu.Unlock()
			if ch != nil {
				ch <- st
				continue
			}
		}
		if c.AnswerPing(st) {
			continue
		}
		onStanza(st, now)
	}
}

// call sends an iq built by build(id) and waits for its answer (an error
// reply is returned as the stanza, not as an error).
func (c *s7Client) call(ctx context.Context, prefix string, build func(id string) string) (*xmlstream.Stanza, error) {
	id := prefix + strconv.FormatInt(c.nextID.Add(1), 36)
	ch := make(chan *xmlstream.Stanza, 1)
	c.mu.Lock()
	c.waiting[id] = ch
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.waiting, id)
		c.mu.Unlock()
	}
	if err := c.SendString(build(id)); err != nil {
		forget()
		return nil, err
	}
	select {
	case st := <-ch:
		return st, nil
	case <-c.done:
		forget()
		return nil, errors.New("stream ended while waiting for iq " + id)
	case <-ctx.Done():
		forget()
		return nil, fmt.Errorf("iq %s: %w", id, ctx.Err())
	}
}

// callOK is call where an error reply is an error naming its condition.
func (c *s7Client) callOK(ctx context.Context, what string, build func(id string) string) (*xmlstream.Stanza, error) {
	st, err := c.call(ctx, "s", build)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if st.Type() != "result" {
		return st, fmt.Errorf("%s: %s", what, stanzaErrorCondition(st))
	}
	return st, nil
}

// s7Run is the state of one S7 run that the readers share.
type s7Run struct {
	service string
	nodes   []string
	t0      atomic.Int64 // unix ns when publishing started; 0 before
	closing atomic.Bool

	lat, ack       Histogram
	delivered      atomic.Int64
	stale          atomic.Int64 // notifications of items published before t0
	errorMsgs      atomic.Int64
	lastArrival    atomic.Int64
	dropped        atomic.Int64 // sessions whose stream ended early
	published      atomic.Int64 // publish iqs answered with a result
	publishErrors  atomic.Int64
	expected       atomic.Int64 // notifications owed for the publishes sent
	createRetries  atomic.Int64
	subsOK         []atomic.Int64
	r              *Result
	pendingMu      sync.Mutex
	pendingPublish map[string]pendingPublish // iq id -> what it published
}

type pendingPublish struct {
	node   int
	sentAt int64
}

func runS7(ctx context.Context, e *Env, r *Result) error {
	cfg := e.Cfg
	nPub := s7Publishers(cfg)
	r.Params["nodes"] = cfg.Nodes
	r.Params["subs_per_node"] = cfg.SubsPerNode
	r.Params["subscriber_sessions"] = cfg.Users
	r.Params["publishers"] = nPub
	r.Params["rate"] = cfg.Rate
	r.Params["duration"] = cfg.Duration.String()
	r.Params["body_bytes"] = cfg.BodyBytes

	start := time.Now()
	subs, failed, firstErr := loginAll(ctx, e, cfg.Users, "s7sub", nil)
	r.AddError(firstErr)
	var pubs []*session
	for p := range nPub {
		s, err := loginOne(ctx, e, cfg.Users+p, "s7pub", nil)
		if err != nil {
			r.AddError(err)
			failed++
			continue
		}
		pubs = append(pubs, s)
	}
	for _, s := range append(subs, pubs...) {
		r.noteMechanism(s.Mechanism)
	}
	e.logf("S7: %d sessions up in %.1fs (%d failed)", len(subs)+len(pubs), time.Since(start).Seconds(), failed)
	r.Add("logins_failed", float64(failed), "", "lower", false)
	all := append(append([]*session(nil), subs...), pubs...)
	defer closeAll(all)
	if len(pubs) < nPub || len(subs) == 0 {
		return fmt.Errorf("S7 needs all %d publishers and some subscribers: %w", nPub, errors.Join(errNoSessions, firstErr))
	}

	run := &s7Run{r: r, pendingPublish: map[string]pendingPublish{}, subsOK: make([]atomic.Int64, cfg.Nodes)}
	subClients := make([]*s7Client, len(subs))
	pubClients := make([]*s7Client, len(pubs))
	var readers sync.WaitGroup
	startReader := func(c *s7Client, onStanza func(*xmlstream.Stanza, int64)) {
		readers.Add(1)
		go func() {
			defer readers.Done()
			c.read(onStanza, func(err error) {
				if !run.closing.Load() {
					run.dropped.Add(1)
					if !errors.Is(err, xmlstream.ErrStreamEnd) {
						r.AddError(err)
					}
				}
			})
		}()
	}
	for i, s := range subs {
		subClients[i] = newS7Client(s)
		startReader(subClients[i], run.onNotification)
	}
	for i, s := range pubs {
		pubClients[i] = newS7Client(s)
		c := pubClients[i]
		startReader(c, func(st *xmlstream.Stanza, now int64) { run.onPublisherStanza(st, now) })
	}
	// At the end the subscribers leave first, so deleting the nodes
	// notifies nobody; then the publishers delete them and leave.
	var deleteNodes bool
	defer func() {
		run.closing.Store(true)
		closeAll(s7Sessions(subClients))
		if deleteNodes {
			run.deleteNodes(pubClients, cfg.ConnectTimeout)
		}
		closeAll(all)
		readers.Wait()
	}()

	// Find the service, create the nodes.
	sctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	svc, note := findPubSubService(sctx, cfg, pubClients[0])
	cancel()
	run.service = svc
	r.Params["pubsub_service"] = svc
	if note != "" {
		r.Notes = append(r.Notes, note)
	}
	base := fmt.Sprintf("bench-s7-%d-", time.Now().UnixNano()/int64(time.Millisecond))
	run.nodes = make([]string, cfg.Nodes)
	for n := range run.nodes {
		run.nodes[n] = base + strconv.Itoa(n)
	}
	start = time.Now()
	created := run.createNodes(ctx, cfg, pubClients)
	e.logf("S7: %d of %d nodes created on %s in %.1fs", created, cfg.Nodes, svc, time.Since(start).Seconds())
	r.Add("nodes_created", float64(created), "", "", false)
	r.Add("create_s", time.Since(start).Seconds(), "s", "", false)
	if n := run.createRetries.Load(); n > 0 {
		r.Add("create_retries", float64(n), "", "", false)
	}
	deleteNodes = true
	if created == 0 {
		return errors.New("no node could be created (see errors)")
	}

	// Subscribe.
	start = time.Now()
	subscribed, subFailed := run.subscribeAll(ctx, e, subClients)
	e.logf("S7: %d subscriptions in %.1fs (%d failed)", subscribed, time.Since(start).Seconds(), subFailed)
	r.Add("subscriptions", float64(subscribed), "", "", false)
	r.Add("subscribe_failed", float64(subFailed), "", "lower", false)
	r.Add("subscribe_s", time.Since(start).Seconds(), "s", "", false)
	if subscribed == 0 {
		return errors.New("no subscription succeeded (see errors)")
	}
	// Let setup traffic (subscription notices, last items) pass.
	sleepCtx(ctx, 500*time.Millisecond)

	// Publish.
	var sent, sendErrs atomic.Int64
	var lag Histogram
	cpu := startCPU(cfg.ServerPID)
	t0 := time.Now()
	run.t0.Store(t0.UnixNano())
	var wg sync.WaitGroup
	for p, c := range pubClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run.publishLoop(ctx, cfg, c, p, len(pubClients), t0, &sent, &sendErrs, &lag)
		}()
	}
	wg.Wait()
	sendSecs := time.Since(t0).Seconds()
	drainEnd := time.Now().Add(cfg.Drain)
	for time.Now().Before(drainEnd) && ctx.Err() == nil && (run.delivered.Load() < run.expected.Load() || run.unacked() > 0) {
		time.Sleep(20 * time.Millisecond)
	}
	cpu.stop(r, "publish")
	run.closing.Store(true)

	delivered, expected := run.delivered.Load(), run.expected.Load()
	lost := max(expected-delivered, 0)
	d := run.lat.Summary("delivery")
	addFanoutDelivery(r, "notifications_per_s", delivered, expected, deliverySpan(sendSecs, t0, run.lastArrival.Load()), d, false)
	r.Add("published", float64(run.published.Load()), "", "", false)
	r.Add("publishes_sent", float64(sent.Load()), "", "", false)
	r.Add("publishes_per_s", float64(sent.Load())/sendSecs, "/s", "", false)
	r.Add("publish_errors", float64(run.publishErrors.Load()), "", "lower", false)
	r.Add("send_errors", float64(sendErrs.Load()), "", "lower", false)
	r.Add("publishes_unanswered", float64(run.unacked()), "", "lower", false)
	r.Add("expected", float64(expected), "", "", false)
	r.Add("delivered", float64(delivered), "", "", false)
	r.Add("lost", float64(lost), "", "lower", false)
	r.Add("error_messages", float64(run.errorMsgs.Load()), "", "lower", false)
	r.Add("sessions_dropped", float64(run.dropped.Load()), "", "lower", false)
	if s := run.stale.Load(); s > 0 {
		r.Add("stale_notifications", float64(s), "", "", false)
	}
	r.Latencies = append(r.Latencies, d, run.ack.Summary("publish_ack"), lag.Summary("send_lag"))
	if l, _ := r.Latency("send_lag"); l.P99 > 10 {
		r.Notes = append(r.Notes, "send lag p99 above 10 ms: the publishers fell behind (busy tool or TCP back-pressure)")
	}
	return nil
}

func s7Sessions(cs []*s7Client) []*session {
	out := make([]*session, len(cs))
	for i, c := range cs {
		out[i] = c.session
	}
	return out
}

// findPubSubService returns cfg's service, or the first disco#items entry
// of the domain whose disco#info has identity pubsub/service, or
// pubsub.<domain> with a note.
func findPubSubService(ctx context.Context, cfg *Config, c *s7Client) (string, string) {
	if cfg.PubSubService != "" {
		return cfg.PubSubService, ""
	}
	fallback := "pubsub." + cfg.Domain
	st, err := c.callOK(ctx, "disco#items", func(id string) string {
		return "<iq type='get' id='" + id + "' to='" + cfg.Domain + "'" + c.ns() + "><query xmlns='" + nsDiscoItems + "'/></iq>"
	})
	if err != nil {
		return fallback, "no pubsub service found (" + err.Error() + "); using " + fallback
	}
	el, err := st.Element()
	if err != nil {
		return fallback, "disco#items unreadable; using " + fallback
	}
	q := el.Child(nsDiscoItems, "query")
	if q == nil {
		return fallback, "disco#items empty; using " + fallback
	}
	for i, it := range q.ChildrenNamed(nsDiscoItems, "item") {
		j := it.Attr("jid")
		if i >= 50 || j == "" || it.Attr("node") != "" || strings.ContainsAny(j, "'\"<>&@/ ") {
			continue
		}
		info, err := c.callOK(ctx, "disco#info", func(id string) string {
			return "<iq type='get' id='" + id + "' to='" + j + "'" + c.ns() + "><query xmlns='" + nsDiscoInfo + "'/></iq>"
		})
		if err != nil {
			continue
		}
		ie, err := info.Element()
		if err != nil || ie.Child(nsDiscoInfo, "query") == nil {
			continue
		}
		for _, id := range ie.Child(nsDiscoInfo, "query").ChildrenNamed(nsDiscoInfo, "identity") {
			if id.Attr("category") == "pubsub" && id.Attr("type") == "service" {
				return j, ""
			}
		}
	}
	return fallback, "no pubsub/service identity in disco#items of " + cfg.Domain + "; using " + fallback
}

// nodeConfigForm is the configuration every node is created with: open
// access, publishers publish, 10 items kept, payloads delivered, no
// last-item replay on subscribe (it would count as a stale notification).
const nodeConfigForm = "<configure><x xmlns='" + nsData + "' type='submit'>" +
	"<field var='FORM_TYPE' type='hidden'><value>" + nsPubSubCfg + "</value></field>" +
	"<field var='pubsub#access_model'><value>open</value></field>" +
	"<field var='pubsub#publish_model'><value>publishers</value></field>" +
	"<field var='pubsub#max_items'><value>10</value></field>" +
	"<field var='pubsub#deliver_payloads'><value>1</value></field>" +
	"<field var='pubsub#send_last_published_item'><value>never</value></field>" +
	"</x></configure>"

// createNodes has publisher p create nodes p, p+P, ... and returns how
// many were created.
func (run *s7Run) createNodes(ctx context.Context, cfg *Config, pubs []*s7Client) int {
	var created atomic.Int64
	forEach(ctx, len(pubs), len(pubs), func(ctx context.Context, p int) {
		c := pubs[p]
		var mine []int
		for n := p; n < len(run.nodes); n += len(pubs) {
			mine = append(mine, n)
		}
		forEach(ctx, len(mine), s7Window, func(ctx context.Context, k int) {
			node := run.nodes[mine[k]]
			ictx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
			defer cancel()
			// ejabberd (Mnesia) aborts concurrent creates now and then with
			// internal-server-error: a few retries, counted.
			for try := 0; ; try++ {
				st, err := c.callOK(ictx, "create "+node, func(id string) string {
					return "<iq type='set' id='" + id + "' to='" + run.service + "'" + c.ns() + "><pubsub xmlns='" + nsPubSub +
						"'><create node='" + node + "'/>" + nodeConfigForm + "</pubsub></iq>"
				})
				if err == nil {
					created.Add(1)
					return
				}
				if st == nil || try == 8 || !slices.Contains([]string{"internal-server-error", "resource-constraint"}, stanzaErrorCondition(st)) {
					run.r.AddError(err)
					return
				}
				run.createRetries.Add(1)
				sleepCtx(ictx, time.Duration(50*(try+1))*time.Millisecond)
			}
		})
	})
	return int(created.Load())
}

// subscribeAll subscribes, for every node n, the sessions n*SubsPerNode+k
// (k < SubsPerNode, mod the session count) with their full JIDs.
func (run *s7Run) subscribeAll(ctx context.Context, e *Env, subs []*s7Client) (ok, failed int) {
	cfg := e.Cfg
	per := make([][]int, len(subs)) // session -> its nodes
	for n := range run.nodes {
		for k := range cfg.SubsPerNode {
			i := (n*cfg.SubsPerNode + k) % len(subs)
			per[i] = append(per[i], n)
		}
	}
	var nOK, nFail atomic.Int64
	forEach(ctx, len(subs), e.Cfg.Concurrency, func(ctx context.Context, i int) {
		c := subs[i]
		forEach(ctx, len(per[i]), s7Window, func(ctx context.Context, k int) {
			n := per[i][k]
			ictx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
			defer cancel()
			_, err := c.callOK(ictx, "subscribe "+run.nodes[n], func(id string) string {
				return "<iq type='set' id='" + id + "' to='" + run.service + "'" + c.ns() + "><pubsub xmlns='" + nsPubSub +
					"'><subscribe node='" + run.nodes[n] + "' jid='" + string(xmlstream.AppendEscaped(nil, c.JID)) + "'/></pubsub></iq>"
			})
			if err != nil {
				nFail.Add(1)
				run.r.AddError(err)
				return
			}
			nOK.Add(1)
			run.subsOK[n].Add(1)
		})
	})
	return int(nOK.Load()), int(nFail.Load())
}

// publishLoop is publisher p of n: it publishes Rate/n items per second
// until Duration has passed since t0, round-robin over its nodes. Behind
// schedule it sends at once and records the lag.
func (run *s7Run) publishLoop(ctx context.Context, cfg *Config, c *s7Client, p, n int, t0 time.Time,
	sent, sendErrs *atomic.Int64, lag *Histogram) {
	var mine []int
	for k := p; k < len(run.nodes); k += n {
		mine = append(mine, k)
	}
	interval := time.Duration(float64(time.Second) * float64(n) / float64(cfg.Rate))
	end := t0.Add(cfg.Duration)
	due := t0.Add(interval * time.Duration(p) / time.Duration(n))
	buf := make([]byte, 0, cfg.BodyBytes+512)
	for seq := 0; ctx.Err() == nil; seq++ {
		if !due.Before(end) {
			sleepCtx(ctx, time.Until(end))
			return
		}
		if !sleepCtx(ctx, time.Until(due)) {
			return
		}
		now := time.Now()
		lag.Record(now.Sub(due))
		node := mine[seq%len(mine)]
		id := "p" + strconv.Itoa(p) + "-" + strconv.Itoa(seq)
		buf = appendPublish(buf[:0], run.service, run.nodes[node], id, c.ns(), seq, now, cfg.BodyBytes)
		run.pendingMu.Lock()
		run.pendingPublish[id] = pendingPublish{node: node, sentAt: now.UnixNano()}
		run.pendingMu.Unlock()
		run.expected.Add(run.subsOK[node].Load())
		if err := c.Send(buf); err != nil {
			run.pendingMu.Lock()
			delete(run.pendingPublish, id)
			run.pendingMu.Unlock()
			run.expected.Add(-run.subsOK[node].Load())
			sendErrs.Add(1)
			run.r.AddError(err)
		} else {
			sent.Add(1)
		}
		due = due.Add(interval)
	}
}

// appendPublish builds a publish iq whose item payload holds payloadMagic,
// the send time and the sequence, padded to bodyBytes.
func appendPublish(b []byte, service, node, id, ns string, seq int, now time.Time, bodyBytes int) []byte {
	b = append(b, "<iq type='set' id='"...)
	b = append(b, id...)
	b = append(b, "' to='"...)
	b = append(b, service...)
	b = append(b, '\'')
	b = append(b, ns...)
	b = append(b, "><pubsub xmlns='"+nsPubSub+"'><publish node='"...)
	b = append(b, node...)
	b = append(b, "'><item><entry xmlns='urn:gavel:bench'>"...)
	start := len(b)
	b = append(b, payloadMagic...)
	b = strconv.AppendInt(b, now.UnixNano(), 10)
	b = append(b, " s="...)
	b = strconv.AppendInt(b, int64(seq), 10)
	b = append(b, ' ')
	for len(b)-start < bodyBytes {
		b = append(b, 'x')
	}
	return append(b, "</entry></item></publish></pubsub></iq>"...)
}

// unacked is the number of publishes not answered yet.
func (run *s7Run) unacked() int {
	run.pendingMu.Lock()
	defer run.pendingMu.Unlock()
	return len(run.pendingPublish)
}

// onPublisherStanza takes the publish acknowledgements (the only iq
// answers nobody waits for).
func (run *s7Run) onPublisherStanza(st *xmlstream.Stanza, now int64) {
	if st.Name.Local != "iq" {
		return
	}
	run.pendingMu.Lock()
	pp, ok := run.pendingPublish[st.ID()]
	delete(run.pendingPublish, st.ID())
	run.pendingMu.Unlock()
	if !ok {
		return
	}
	if st.Type() == "result" {
		run.published.Add(1)
		run.ack.Record(time.Duration(now - pp.sentAt))
		return
	}
	run.publishErrors.Add(1)
	run.expected.Add(-run.subsOK[pp.node].Load()) // nobody is notified of a refused publish
	run.r.AddError(errors.New("publish refused: " + stanzaErrorCondition(st)))
}

// onNotification records an event notification's latency.
func (run *s7Run) onNotification(st *xmlstream.Stanza, now int64) {
	if st.Name.Local != "message" {
		return
	}
	if st.Type() == "error" {
		run.errorMsgs.Add(1)
		run.r.AddError(errors.New("error message: " + stanzaErrorCondition(st)))
		return
	}
	t, ok := payloadTime(st.Raw)
	if !ok {
		return
	}
	if t0 := run.t0.Load(); t0 == 0 || t < t0 {
		run.stale.Add(1)
		return
	}
	run.lat.Record(time.Duration(now - t))
	run.delivered.Add(1)
	storeMax(&run.lastArrival, now)
}

// deleteNodes removes the run's nodes (after the subscribers left, so
// nobody is notified), bounded by timeout; best effort.
func (run *s7Run) deleteNodes(pubs []*s7Client, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	forEach(ctx, len(pubs), len(pubs), func(ctx context.Context, p int) {
		c := pubs[p]
		var mine []int
		for n := p; n < len(run.nodes); n += len(pubs) {
			mine = append(mine, n)
		}
		forEach(ctx, len(mine), s7Window, func(ctx context.Context, k int) {
			node := run.nodes[mine[k]]
			_, _ = c.call(ctx, "d", func(id string) string {
				return "<iq type='set' id='" + id + "' to='" + run.service + "'" + c.ns() + "><pubsub xmlns='" + nsPubSub +
					"#owner'><delete node='" + node + "'/></pubsub></iq>"
			})
		})
	})
}
