package c2s

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/netip"
	"time"

	"github.com/gavelhq/gavel/xmlstream"
)

// Options configure the client-to-server listeners. Zero fields take the
// defaults applied by WithDefaults; New applies them.
type Options struct {
	// Domains are the hosts served. The 'to' of a stream header must be one
	// of them (else host-unknown); a header without 'to' gets the first.
	Domains []string

	// TLSConfig holds the certificates for STARTTLS and direct TLS. Nil: no
	// STARTTLS is offered and ServeDirectTLS refuses to run.
	TLSConfig *tls.Config
	// RequireTLS makes STARTTLS mandatory before SASL on TCP (RFC 6120
	// §5.3.1: only <starttls><required/></starttls> is offered first). The
	// zero value is false so that a bare Options works in tests; the
	// configuration layer sets it to true for every mode but dev. On
	// WebSocket, which has no STARTTLS, it requires HTTPS or WebSocketSecure.
	RequireTLS bool
	// PlainWithoutTLSOnLoopback allows SASL PLAIN on unencrypted streams
	// from loopback addresses (dev mode).
	PlainWithoutTLSOnLoopback bool

	// Limits bound what the decoder holds for one peer (MaxStanzaBytes also
	// caps WebSocket messages).
	Limits xmlstream.Limits

	// AuthTimeout: a stream not bound to a resource within this time is
	// closed with connection-timeout (default 30s).
	AuthTimeout time.Duration
	// IdleTimeout: after this long without input from a bound client the
	// server sends an XEP-0199 ping (default 90s).
	IdleTimeout time.Duration
	// PingTimeout: if nothing at all arrives within this time after the
	// ping, the stream is closed with connection-timeout (default 30s). Any
	// input, including an error reply, proves liveness.
	PingTimeout time.Duration
	// CloseGrace is how long a stream we closed waits for the peer's own
	// </stream:stream> before the connection is cut (default 2s).
	CloseGrace time.Duration
	// MaxAuthAttempts is the number of failed SASL attempts allowed on one
	// stream (RFC 6120 §6.4.5: 2 to 5; default 3). The last failure is
	// followed by a policy-violation stream error.
	MaxAuthAttempts int

	// WriteQueueBytes bounds the bytes queued for one connection (default
	// 1 MiB). A client whose queue overflows reads too slowly: it is
	// disconnected; the sender never blocks.
	WriteQueueBytes int
	// WriteTimeout bounds one write to the client (default 15 s; negative:
	// none). A client that reads nothing for that long while data waits for
	// it is disconnected, even when less than WriteQueueBytes is queued.
	WriteTimeout time.Duration
	// SendBufferBytes is the kernel send buffer of each TCP client
	// connection (SO_SNDBUF; Linux doubles it; default 128 KiB; negative:
	// the kernel's autotuning, up to tcp_wmem's maximum). Together with
	// WriteQueueBytes and WriteTimeout it bounds how much a stalled reader
	// can hold before it is cut.
	SendBufferBytes int
	// ResumeTimeout is how long a XEP-0198 session whose connection was
	// lost stays bound, detached, waiting for the client to resume it
	// (default 5 minutes; the client may ask for less with 'max'). A
	// negative value disables resumption (acks still work).
	ResumeTimeout time.Duration
	// MaxUnackedStanzas and MaxUnackedBytes bound the stanzas a stream
	// management session keeps until its client acknowledges them,
	// including what is queued for it while detached (defaults 5000 and
	// 4 MiB). A client past either bound is disconnected with
	// policy-violation (a detached session ends); the kept stanzas go to
	// Handler.Undelivered.
	MaxUnackedStanzas int
	MaxUnackedBytes   int
	// CSIMaxHeld is how many stanzas client state indication (XEP-0352)
	// holds back for an inactive client before it flushes them (default 256).
	CSIMaxHeld int

	// InboundBytesPerSecond throttles reading per connection with a token
	// bucket of InboundBurstBytes (default: 4× the rate, at least
	// MaxStanzaBytes). 0 means unlimited.
	InboundBytesPerSecond int
	InboundBurstBytes     int

	// WebSocketOrigins are the Origin host patterns (path.Match syntax)
	// allowed besides the request's own host; empty: same origin only;
	// "*" allows any origin.
	WebSocketOrigins []string
	// WebSocketSecure treats WebSocket connections as encrypted (a
	// TLS-terminating proxy in front), so PLAIN may be offered on them.
	WebSocketSecure bool

	// Logger receives connection-level logs (default slog.Default()).
	Logger *slog.Logger
	// Metrics receives counters; nil: none.
	Metrics Metrics
	// ExtraFeatures returns additional stream features to advertise, before
	// authentication (false) and after it (true): roster versioning... (SM
	// and CSI are the stream's own and always offered.)
	ExtraFeatures func(domain string, authenticated bool) []*xmlstream.Element
	// PreAuthIQ, if set, answers iqs a client sends before authenticating
	// (in-band registration, XEP-0077 §3.1). It returns the reply, or nil
	// when the iq is not one it serves: the stream then ends with
	// not-authorized as for any stanza before authentication.
	PreAuthIQ func(ctx context.Context, c PreAuthInfo, iq *xmlstream.Stanza) *xmlstream.Stanza
}

// PreAuthInfo describes the unauthenticated stream an iq came on.
type PreAuthInfo struct {
	Domain   string // the stream's host
	RemoteIP netip.Addr
	// Secure: TLS is up (or the transport is trusted as encrypted).
	Secure bool
}

// Defaults for Options.
const (
	DefaultAuthTimeout     = 30 * time.Second
	DefaultIdleTimeout     = 90 * time.Second
	DefaultPingTimeout     = 30 * time.Second
	DefaultCloseGrace      = 2 * time.Second
	DefaultMaxAuthAttempts = 3
	DefaultWriteQueueBytes = 1 << 20
	DefaultWriteTimeout    = 15 * time.Second
	DefaultSendBufferBytes = 128 << 10
	DefaultResumeTimeout   = 5 * time.Minute
	DefaultMaxUnacked      = 5000
	DefaultMaxUnackedBytes = 4 << 20
	DefaultCSIMaxHeld      = 256
)

// WithDefaults returns o with zero fields set to their defaults and
// MaxAuthAttempts clamped to RFC 6120's 2..5.
func (o Options) WithDefaults() Options {
	o.Limits = o.Limits.WithDefaults()
	if o.AuthTimeout <= 0 {
		o.AuthTimeout = DefaultAuthTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = DefaultPingTimeout
	}
	if o.CloseGrace <= 0 {
		o.CloseGrace = DefaultCloseGrace
	}
	switch {
	case o.MaxAuthAttempts == 0:
		o.MaxAuthAttempts = DefaultMaxAuthAttempts
	case o.MaxAuthAttempts < 2:
		o.MaxAuthAttempts = 2
	case o.MaxAuthAttempts > 5:
		o.MaxAuthAttempts = 5
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.SendBufferBytes == 0 {
		o.SendBufferBytes = DefaultSendBufferBytes
	}
	if o.WriteQueueBytes <= 0 {
		o.WriteQueueBytes = DefaultWriteQueueBytes
	}
	if o.ResumeTimeout == 0 {
		o.ResumeTimeout = DefaultResumeTimeout
	}
	if o.MaxUnackedStanzas <= 0 {
		o.MaxUnackedStanzas = DefaultMaxUnacked
	}
	if o.MaxUnackedBytes <= 0 {
		o.MaxUnackedBytes = DefaultMaxUnackedBytes
	}
	// A maximal stanza must always fit.
	o.MaxUnackedBytes = max(o.MaxUnackedBytes, o.Limits.MaxStanzaBytes)
	if o.CSIMaxHeld <= 0 {
		o.CSIMaxHeld = DefaultCSIMaxHeld
	}
	if o.InboundBytesPerSecond > 0 && o.InboundBurstBytes <= 0 {
		o.InboundBurstBytes = max(4*o.InboundBytesPerSecond, o.Limits.MaxStanzaBytes)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = nopMetrics{}
	}
	return o
}

// Transport names passed to Metrics.
const (
	TransportTCP       = "tcp"       // STARTTLS listener (plain until upgraded)
	TransportDirectTLS = "directtls" // XEP-0368
	TransportWebSocket = "websocket" // RFC 7395
)

// Metrics receives connection and stanza counters; the server package maps
// them to Prometheus. Methods are called concurrently and must not block.
type Metrics interface {
	// StreamOpened: a connection was accepted on transport.
	StreamOpened(transport string)
	// StreamClosed: a connection ended; condition is the stream error sent
	// ("" for a clean close or a lost connection).
	StreamClosed(transport, condition string)
	// SessionBound: a stream bound a resource.
	SessionBound(transport string)
	// SessionEnded: a bound stream ended.
	SessionEnded(transport string)
	// AuthFailed: a SASL attempt failed with condition.
	AuthFailed(condition string)
	// StanzaIn: a bound client sent a stanza of kind (message, presence, iq).
	StanzaIn(kind string)
	// StanzaOut: a stanza of kind was queued for a client.
	StanzaOut(kind string)
	// SlowConsumer: a client was disconnected because its queue overflowed.
	SlowConsumer()
}

type nopMetrics struct{}

func (nopMetrics) StreamOpened(string)         {}
func (nopMetrics) StreamClosed(string, string) {}
func (nopMetrics) SessionBound(string)         {}
func (nopMetrics) SessionEnded(string)         {}
func (nopMetrics) AuthFailed(string)           {}
func (nopMetrics) StanzaIn(string)             {}
func (nopMetrics) StanzaOut(string)            {}
func (nopMetrics) SlowConsumer()               {}
