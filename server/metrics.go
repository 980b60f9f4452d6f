package server

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gavelhq/gavel/c2s"
	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/xmlstream"
)

// Metric names (docs/http.md lists them; tests check they are served).
const (
	MetricSessions       = "gavel_sessions"
	MetricStreams        = "gavel_streams"
	MetricStreamsClosed  = "gavel_streams_closed_total"
	MetricStanzas        = "gavel_stanzas_total"
	MetricAuthFailures   = "gavel_auth_failures_total"
	MetricSlowConsumers  = "gavel_slow_consumers_total"
	MetricRoutingSeconds = "gavel_routing_duration_seconds"
	MetricStorageSeconds = "gavel_storage_duration_seconds"
)

// Metrics are the server's Prometheus collectors, in a registry of their
// own (never the global default one, so two servers in one test binary do
// not collide).
type Metrics struct {
	Registry *prometheus.Registry

	sessions      *prometheus.GaugeVec   // transport
	streams       *prometheus.GaugeVec   // transport
	streamsClosed *prometheus.CounterVec // transport, condition
	stanzas       *prometheus.CounterVec // kind, direction
	// stanzaIn/stanzaOut hold the counters of the three stanza kinds,
	// resolved once: a label lookup per stanza (hash, map, lock) cost more
	// than the rest of queueing a fanned-out copy.
	stanzaIn, stanzaOut stanzaCounters
	authFailures        *prometheus.CounterVec // condition
	slowConsumers       prometheus.Counter
	routing             prometheus.Histogram
	storage             *prometheus.HistogramVec // op
}

// NewMetrics registers the collectors in a new registry, with the Go
// runtime and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		sessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: MetricSessions, Help: "Bound client sessions (resources).",
		}, []string{"transport"}),
		streams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: MetricStreams, Help: "Open client connections, bound or not.",
		}, []string{"transport"}),
		streamsClosed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricStreamsClosed, Help: "Client connections closed, by the stream error sent (empty: clean close or lost connection).",
		}, []string{"transport", "condition"}),
		stanzas: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricStanzas, Help: "Stanzas received from (in) and queued for (out) client sessions.",
		}, []string{"kind", "direction"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricAuthFailures, Help: "Failed SASL attempts by failure condition.",
		}, []string{"condition"}),
		slowConsumers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricSlowConsumers, Help: "Clients disconnected because their write queue overflowed.",
		}),
		routing: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: MetricRoutingSeconds, Help: "Time to route and handle one stanza from a client session.",
			Buckets: prometheus.ExponentialBuckets(5e-6, 4, 10), // 5µs .. 1.3s
		}),
		storage: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: MetricStorageSeconds, Help: "Latency of storage operations by operation.",
			Buckets: prometheus.ExponentialBuckets(5e-6, 4, 10),
		}, []string{"op"}),
	}
	// Known label values start at zero, so every series exists from the
	// first scrape and rate() sees the first increment.
	for _, t := range []string{c2s.TransportTCP, c2s.TransportDirectTLS, c2s.TransportWebSocket} {
		m.sessions.WithLabelValues(t)
		m.streams.WithLabelValues(t)
	}
	m.stanzaIn = newStanzaCounters(m.stanzas, "in")
	m.stanzaOut = newStanzaCounters(m.stanzas, "out")
	for _, op := range []string{data.OpGet, data.OpPut, data.OpCompareAndSet, data.OpDelete, data.OpDeleteIf,
		data.OpScan, data.OpDeletePrefix, data.OpAppend, data.OpRead, data.OpReadBack, data.OpLast,
		data.OpTruncate, data.OpDeleteStream, data.OpSync} {
		m.storage.WithLabelValues(op)
	}
	m.Registry.MustRegister(m.sessions, m.streams, m.streamsClosed, m.stanzas,
		m.authFailures, m.slowConsumers, m.routing, m.storage,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// ObserveStorage records one storage operation (the data.Instrument hook).
func (m *Metrics) ObserveStorage(op string, seconds float64, err error) {
	m.storage.WithLabelValues(op).Observe(seconds)
}

// instrumentStore reports every storage operation's latency to m.
func instrumentStore(s data.Store, m *Metrics) data.Store {
	return data.Instrument(s, m.ObserveStorage)
}

// c2sMetrics adapts Metrics to c2s.Metrics.
type c2sMetrics struct{ m *Metrics }

var _ c2s.Metrics = c2sMetrics{}

func (c c2sMetrics) StreamOpened(t string) { c.m.streams.WithLabelValues(t).Inc() }
func (c c2sMetrics) StreamClosed(t, cond string) {
	c.m.streams.WithLabelValues(t).Dec()
	c.m.streamsClosed.WithLabelValues(t, cond).Inc()
}
func (c c2sMetrics) SessionBound(t string)  { c.m.sessions.WithLabelValues(t).Inc() }
func (c c2sMetrics) SessionEnded(t string)  { c.m.sessions.WithLabelValues(t).Dec() }
func (c c2sMetrics) AuthFailed(cond string) { c.m.authFailures.WithLabelValues(cond).Inc() }
func (c c2sMetrics) StanzaIn(kind string)   { c.m.stanzaIn.inc(kind) }
func (c c2sMetrics) StanzaOut(kind string)  { c.m.stanzaOut.inc(kind) }
func (c c2sMetrics) SlowConsumer()          { c.m.slowConsumers.Inc() }

// stanzaCounters are one direction's counters by stanza kind.
type stanzaCounters struct {
	vec                   *prometheus.CounterVec
	dir                   string
	message, presence, iq prometheus.Counter
}

// newStanzaCounters resolves (and so creates at zero, for the first
// scrape) the counters of the three kinds.
func newStanzaCounters(vec *prometheus.CounterVec, dir string) stanzaCounters {
	return stanzaCounters{vec: vec, dir: dir,
		message:  vec.WithLabelValues(xmlstream.KindMessage, dir),
		presence: vec.WithLabelValues(xmlstream.KindPresence, dir),
		iq:       vec.WithLabelValues(xmlstream.KindIQ, dir)}
}

func (s stanzaCounters) inc(kind string) {
	switch kind {
	case xmlstream.KindMessage:
		s.message.Inc()
	case xmlstream.KindPresence:
		s.presence.Inc()
	case xmlstream.KindIQ:
		s.iq.Inc()
	default:
		s.vec.WithLabelValues(kind, s.dir).Inc()
	}
}

// timedHandler measures how long the IM core takes to route and handle each
// stanza a client sends.
type timedHandler struct {
	c2s.Handler
	hist prometheus.Histogram
}

func (h timedHandler) HandleClient(ctx context.Context, s router.Session, st *xmlstream.Stanza) {
	start := time.Now()
	h.Handler.HandleClient(ctx, s, st)
	h.hist.Observe(time.Since(start).Seconds())
}
