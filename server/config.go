package server

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
	"mellium.im/xmpp/jid"

	"github.com/gavelhq/gavel/muc"
	"github.com/gavelhq/gavel/router"
)

// Config is everything an operator can set. gavel.example.yaml at the
// repository root documents every field with its default; keep the two in
// step (TestExampleConfigMatchesDefaults checks it).
type Config struct {
	// Domain is the XMPP host served here; accounts are user@Domain.
	Domain string `yaml:"domain"`
	// DataDir holds the database, the generated TLS certificate and the lock file.
	DataDir string `yaml:"data_dir"`
	// Admins are bare JIDs with administrator rights.
	Admins       []string           `yaml:"admins"`
	Listeners    ListenersConfig    `yaml:"listeners"`
	TLS          TLSConfig          `yaml:"tls"`
	C2S          C2SConfig          `yaml:"c2s"`
	S2S          S2SConfig          `yaml:"s2s"`
	Auth         AuthConfig         `yaml:"auth"`
	Registration RegistrationConfig `yaml:"registration"`
	// OfflineQuota is the number of messages kept per offline account (XEP-0160).
	OfflineQuota int             `yaml:"offline_quota"`
	MAM          MAMConfig       `yaml:"mam"`
	MUC          MUCConfig       `yaml:"muc"`
	PubSub       PubSubConfig    `yaml:"pubsub"`
	PEP          PEPConfig       `yaml:"pep"`
	WebSocket    WebSocketConfig `yaml:"websocket"`
	Services     ServicesConfig  `yaml:"services"`
	Log          LogConfig       `yaml:"log"`
	Metrics      MetricsConfig   `yaml:"metrics"`

	// Dev is set by --dev / GAVEL_DEV only: it changes defaults (loopback
	// listeners, no required TLS, demo accounts), never explicit settings.
	Dev bool `yaml:"-"`
}

// ListenersConfig holds the listening addresses; an empty address disables
// that listener.
type ListenersConfig struct {
	C2S    string `yaml:"c2s_addr"`
	C2STLS string `yaml:"c2s_tls_addr"`
	S2S    string `yaml:"s2s_addr"`
	HTTP   string `yaml:"http_addr"`
}

// TLSConfig names the certificate; both empty means a self-signed one kept
// in DataDir (cert.pem, key.pem).
type TLSConfig struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// C2SConfig is the client stream policy.
type C2SConfig struct {
	// RequireTLS refuses SASL and everything after it on a stream without TLS.
	RequireTLS bool        `yaml:"require_tls"`
	Limits     LimitConfig `yaml:"limits"`
	// AuthTimeout: a connection must authenticate and bind within this time.
	AuthTimeout time.Duration `yaml:"auth_timeout"`
	// IdlePing: after this long without input the server sends an XMPP ping.
	IdlePing time.Duration `yaml:"idle_ping"`
	// PingTimeout: the ping must be answered (or any input arrive) within this.
	PingTimeout time.Duration `yaml:"ping_timeout"`
	// MaxAuthAttempts: failed SASL attempts allowed on one stream before it is closed.
	MaxAuthAttempts int `yaml:"max_auth_attempts"`
	// WriteQueueBytes bounds what may wait for a slow reader; beyond it the
	// session is closed rather than allowed to stall senders.
	WriteQueueBytes int `yaml:"write_queue_bytes"`
	// WriteTimeout: a client that takes in nothing for this long while data
	// waits for it is disconnected.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// SendBufferBytes is each client socket's kernel send buffer
	// (negative: kernel autotuning).
	SendBufferBytes int `yaml:"send_buffer_bytes"`
	// Inbound rate limit per connection (token bucket in bytes); 0 disables.
	InboundBytesPerSecond int `yaml:"inbound_bytes_per_second"`
	InboundBurstBytes     int `yaml:"inbound_burst_bytes"`
	// ResourceConflict: replace | refuse | rename (RFC 6120 §7.7.2.2).
	ResourceConflict string `yaml:"resource_conflict"`
	// MaxResources bound per account; 0 is unlimited.
	MaxResources int `yaml:"max_resources"`
	// SM is XEP-0198 stream management, CSI XEP-0352 (docs/c2s.md).
	SM  SMConfig  `yaml:"sm"`
	CSI CSIConfig `yaml:"csi"`
}

// SMConfig bounds XEP-0198 stream management.
type SMConfig struct {
	// ResumeTimeout keeps a session whose connection was lost resumable
	// this long; 0 disables resumption (acknowledgements still work).
	ResumeTimeout time.Duration `yaml:"resume_timeout"`
	// MaxUnacked and MaxUnackedBytes bound what waits for an acknowledgement.
	MaxUnacked      int `yaml:"max_unacked"`
	MaxUnackedBytes int `yaml:"max_unacked_bytes"`
}

// CSIConfig bounds XEP-0352 client state indication.
type CSIConfig struct {
	// MaxHeld stanzas are held back for an inactive client before a flush.
	MaxHeld int `yaml:"max_held"`
}

// S2SConfig is the federation policy (docs/s2s.md).
type S2SConfig struct {
	// RequireTLS refuses federation over unencrypted streams, both ways.
	RequireTLS bool `yaml:"require_tls"`
	// VerifyCertificates requires peer certificates that chain to the system
	// roots; otherwise TLS only encrypts and Server Dialback authenticates.
	VerifyCertificates bool `yaml:"verify_certificates"`
	// Hosts maps a remote domain to host:port, bypassing DNS SRV lookups.
	Hosts map[string]string `yaml:"hosts"`
	// ConnectTimeout bounds resolving, connecting and dialback.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// IdleTimeout closes a federation stream unused for this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
}

// LimitConfig bounds what the XML parser accepts from one peer.
type LimitConfig struct {
	MaxStanzaBytes int `yaml:"max_stanza_bytes"`
	MaxDepth       int `yaml:"max_depth"`
	MaxAttrs       int `yaml:"max_attrs"`
}

// AuthConfig is SASL policy.
type AuthConfig struct {
	MaxFailuresPerIP      int           `yaml:"max_failures_per_ip"`
	MaxFailuresPerAccount int           `yaml:"max_failures_per_account"`
	FailureWindow         time.Duration `yaml:"failure_window"`
	// AnonymousDomain hosts SASL ANONYMOUS sessions; empty disables them.
	AnonymousDomain string `yaml:"anonymous_domain"`
	ScramIterations int    `yaml:"scram_iterations"`
}

// RegistrationConfig is in-band registration (XEP-0077, docs/registration.md).
type RegistrationConfig struct {
	// Open allows clients to create accounts before logging in.
	Open bool `yaml:"open"`
	// MaxPerIP accounts may be created from one address (IPv4, or an IPv6
	// /64) per Window; 0 disables the throttle.
	MaxPerIP int           `yaml:"max_per_ip"`
	Window   time.Duration `yaml:"window"`
	// ThrottleExempt are prefixes never throttled (default: loopback).
	ThrottleExempt []string `yaml:"throttle_exempt"`
}

// MAMConfig is the one-to-one message archive (XEP-0313, docs/mam.md).
type MAMConfig struct {
	// Retention expires archived messages older than this; 0 keeps them forever.
	Retention time.Duration `yaml:"retention"`
}

// MUCConfig is the multi-user chat service (XEP-0045, docs/muc.md); its
// domain is services.muc.
type MUCConfig struct {
	// Name is the service's disco identity name.
	Name string `yaml:"name"`
	// Create: who may create rooms — local (accounts of this server),
	// anyone (any JID, also federated), admins.
	Create string `yaml:"create"`
	// MaxRoomsPerUser bounds the rooms one user creates (0: no limit;
	// admins are exempt).
	MaxRoomsPerUser int `yaml:"max_rooms_per_user"`
	// MaxHistoryFetch caps the messages sent on join, whatever a room or
	// client asks.
	MaxHistoryFetch int `yaml:"max_history_fetch"`
	// HistoryRetention is how many messages a room's log keeps (0: all).
	HistoryRetention int `yaml:"history_retention"`
	// MailboxSize bounds each room's queue; beyond it, resource-constraint.
	MailboxSize int `yaml:"mailbox_size"`
	// IdleTimeout: an empty room idle this long is unloaded from memory.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// DefaultRoom is the configuration new rooms start with.
	DefaultRoom RoomDefaults `yaml:"default_room"`
}

// PubSubConfig is the publish-subscribe service (XEP-0060, docs/pubsub.md);
// its domain is services.pubsub.
type PubSubConfig struct {
	// Name is the service's disco identity name.
	Name string `yaml:"name"`
	// Create: who may create nodes — local, anyone, admins (as muc.create).
	Create string `yaml:"create"`
	// MaxItems is the most items one node keeps (pubsub#max_items "max").
	MaxItems int `yaml:"max_items"`
	// MaxPayloadSize bounds an item's payload in bytes.
	MaxPayloadSize int `yaml:"max_payload_size"`
	// MaxSubscriptionsPerJID bounds one JID's subscriptions to one node.
	MaxSubscriptionsPerJID int `yaml:"max_subscriptions_per_jid"`
	// MailboxSize bounds each node's queue; beyond it, resource-constraint.
	MailboxSize int `yaml:"mailbox_size"`
	// IdleTimeout: a node idle this long is unloaded from memory.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// DefaultNode is the configuration new nodes start with.
	DefaultNode NodeDefaults `yaml:"default_node"`
	// API enables the HTTP publish API (POST/GET /api/pubsub/...,
	// docs/pubsub-api.md); tokens are made with `gavel token`.
	API bool `yaml:"api"`
}

// NodeDefaults are the pubsub#node_config values of new nodes.
type NodeDefaults struct {
	AccessModel           string        `yaml:"access_model"`  // open | presence | roster | authorize | whitelist
	PublishModel          string        `yaml:"publish_model"` // publishers | subscribers | open
	MaxItems              int           `yaml:"max_items"`
	PersistItems          bool          `yaml:"persist_items"`
	ItemExpire            time.Duration `yaml:"item_expire"`
	DeliverPayloads       bool          `yaml:"deliver_payloads"`
	SendLastPublishedItem string        `yaml:"send_last_published_item"` // never | on_sub | on_sub_and_presence
	NotificationType      string        `yaml:"notification_type"`        // normal | headline
}

// PEPConfig is the personal eventing service on every account (XEP-0163,
// docs/pep.md).
type PEPConfig struct {
	// Enabled turns PEP on (default true).
	Enabled bool `yaml:"enabled"`
	// MaxNodes bounds the nodes one account has.
	MaxNodes int `yaml:"max_nodes"`
	// MaxItems is the most items one PEP node keeps ("max").
	MaxItems int `yaml:"max_items"`
	// MaxPayloadSize bounds an item's payload in bytes.
	MaxPayloadSize int `yaml:"max_payload_size"`
}

// RoomDefaults are the muc#roomconfig values of new rooms.
type RoomDefaults struct {
	Public        bool   `yaml:"public"`
	Persistent    bool   `yaml:"persistent"`
	MembersOnly   bool   `yaml:"members_only"`
	Moderated     bool   `yaml:"moderated"`
	Whois         string `yaml:"whois"`    // moderators | anyone
	AllowPM       string `yaml:"allow_pm"` // anyone | participants | moderators | none
	MaxUsers      int    `yaml:"max_users"`
	ChangeSubject bool   `yaml:"change_subject"`
	AllowInvites  bool   `yaml:"allow_invites"`
	Archiving     bool   `yaml:"archiving"`
}

// WebSocketConfig is the RFC 7395 endpoint policy.
type WebSocketConfig struct {
	// Origins are host patterns (path.Match syntax, e.g. "app.example.com",
	// "*.example.com") whose browser pages may connect; requests without an
	// Origin header (non-browser clients) and same-host origins are always
	// allowed. "*" allows any origin.
	Origins []string `yaml:"origins"`
	// AssumeSecure treats WebSocket connections as encrypted (set when a
	// TLS-terminating proxy is in front of http_addr).
	AssumeSecure bool `yaml:"assume_secure"`
}

// ServicesConfig names the service domains; empty means the default
// subdomain of Domain.
type ServicesConfig struct {
	MUC     string `yaml:"muc"`
	PubSub  string `yaml:"pubsub"`
	Auction string `yaml:"auction"`
}

// LogConfig selects the log output.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // text | json
}

// MetricsConfig switches /metrics.
type MetricsConfig struct {
	Enabled bool `yaml:"enabled"`
	// PprofAddr, if set, serves Go's runtime profiles (/debug/pprof/) on
	// their own listener: for profiling under load, never on a public
	// address (they expose internals and cost CPU when fetched).
	PprofAddr string `yaml:"pprof_addr"`
}

// Default ports.
const (
	DefaultC2SPort    = "5222"
	DefaultC2STLSPort = "5223"
	DefaultS2SPort    = "5269"
	DefaultHTTPPort   = "5280"
)

// Defaults returns the built-in configuration; dev selects the --dev
// defaults. Domain-derived values (service domains, dev's anonymous domain)
// are filled in by Finalize once the domain is known.
func Defaults(dev bool) Config {
	host := ""
	if dev {
		host = "127.0.0.1"
	}
	return Config{
		Domain:  "localhost",
		DataDir: "./gavel-data",
		Listeners: ListenersConfig{
			C2S:    net.JoinHostPort(host, DefaultC2SPort),
			C2STLS: net.JoinHostPort(host, DefaultC2STLSPort),
			S2S:    net.JoinHostPort(host, DefaultS2SPort),
			HTTP:   net.JoinHostPort(host, DefaultHTTPPort),
		},
		C2S: C2SConfig{
			RequireTLS: !dev,
			Limits: LimitConfig{
				MaxStanzaBytes: 256 << 10,
				MaxDepth:       64,
				MaxAttrs:       64,
			},
			AuthTimeout:           30 * time.Second,
			IdlePing:              90 * time.Second,
			PingTimeout:           30 * time.Second,
			MaxAuthAttempts:       3,
			WriteQueueBytes:       1 << 20,
			WriteTimeout:          15 * time.Second,
			SendBufferBytes:       128 << 10,
			InboundBytesPerSecond: 64 << 10,
			InboundBurstBytes:     512 << 10,
			ResourceConflict:      "replace",
			MaxResources:          10,
			SM: SMConfig{
				ResumeTimeout:   5 * time.Minute,
				MaxUnacked:      5000,
				MaxUnackedBytes: 4 << 20,
			},
			CSI: CSIConfig{MaxHeld: 256},
		},
		S2S: S2SConfig{
			RequireTLS:     !dev,
			ConnectTimeout: 20 * time.Second,
			IdleTimeout:    10 * time.Minute,
		},
		Auth: AuthConfig{
			MaxFailuresPerIP:      10,
			MaxFailuresPerAccount: 5,
			FailureWindow:         5 * time.Minute,
			ScramIterations:       4096,
		},
		Registration: RegistrationConfig{
			Open:           dev,
			MaxPerIP:       5,
			Window:         time.Hour,
			ThrottleExempt: []string{"127.0.0.0/8", "::1/128"},
		},
		OfflineQuota: 500,
		MUC: MUCConfig{
			Name:            "Chatrooms",
			Create:          "local",
			MaxRoomsPerUser: 100,
			MaxHistoryFetch: 50,
			MailboxSize:     1024,
			IdleTimeout:     5 * time.Minute,
			DefaultRoom: RoomDefaults{
				Public: true, Whois: "moderators", AllowPM: "anyone", Archiving: true,
			},
		},
		PubSub: PubSubConfig{
			Name:                   "Publish-Subscribe",
			Create:                 "local",
			MaxItems:               10000,
			MaxPayloadSize:         256 << 10,
			MaxSubscriptionsPerJID: 16,
			MailboxSize:            1024,
			IdleTimeout:            5 * time.Minute,
			DefaultNode: NodeDefaults{
				AccessModel: "open", PublishModel: "publishers", MaxItems: 10,
				PersistItems: true, DeliverPayloads: true,
				SendLastPublishedItem: "on_sub_and_presence", NotificationType: "headline",
			},
		},
		PEP:     PEPConfig{Enabled: true, MaxNodes: 1000, MaxItems: 1000, MaxPayloadSize: 256 << 10},
		Log:     LogConfig{Level: "info", Format: "text"},
		Metrics: MetricsConfig{Enabled: true},
		Dev:     dev,
	}
}

// Overrides are the command-line flags; a nil field was not given.
type Overrides struct {
	Config, DataDir, Domain      *string
	C2SAddr, C2STLSAddr, S2SAddr *string
	HTTPAddr                     *string
	Dev                          *bool
}

// Env var names, one per flag.
const (
	EnvConfig     = "GAVEL_CONFIG"
	EnvData       = "GAVEL_DATA"
	EnvDomain     = "GAVEL_DOMAIN"
	EnvC2SAddr    = "GAVEL_C2S_ADDR"
	EnvC2STLSAddr = "GAVEL_C2S_TLS_ADDR"
	EnvS2SAddr    = "GAVEL_S2S_ADDR"
	EnvHTTPAddr   = "GAVEL_HTTP_ADDR"
	EnvDev        = "GAVEL_DEV"
)

// Load resolves the configuration: flag > environment > file > default.
// getenv is os.Getenv in production (tests pass their own). The file is
// the one named by --config or GAVEL_CONFIG; no file means defaults only.
// The result is finalized and validated.
func Load(flags Overrides, getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	dev := false
	if v := getenv(EnvDev); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("%s=%q: want true or false", EnvDev, v)
		}
		dev = b
	}
	if flags.Dev != nil {
		dev = *flags.Dev
	}
	cfg := Defaults(dev)
	var explicit map[string]bool
	path := pick(flags.Config, getenv(EnvConfig), "")
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		explicit, err = decodeYAML(raw, &cfg)
		if err != nil {
			return Config{}, fmt.Errorf("config %s: %w", path, err)
		}
	}
	for _, o := range []struct {
		dst  *string
		env  string
		flag *string
	}{
		{&cfg.DataDir, EnvData, flags.DataDir},
		{&cfg.Domain, EnvDomain, flags.Domain},
		{&cfg.Listeners.C2S, EnvC2SAddr, flags.C2SAddr},
		{&cfg.Listeners.C2STLS, EnvC2STLSAddr, flags.C2STLSAddr},
		{&cfg.Listeners.S2S, EnvS2SAddr, flags.S2SAddr},
		{&cfg.Listeners.HTTP, EnvHTTPAddr, flags.HTTPAddr},
	} {
		if v := getenv(o.env); v != "" {
			*o.dst = v
		}
		if o.flag != nil {
			*o.dst = *o.flag
		}
	}
	cfg.finalize(explicit)
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func pick(flag *string, env, def string) string {
	if flag != nil {
		return *flag
	}
	if env != "" {
		return env
	}
	return def
}

// decodeYAML decodes raw over cfg, rejecting unknown keys, and returns the
// dotted paths of the keys the file set.
func decodeYAML(raw []byte, cfg *Config) (map[string]bool, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, err
	}
	explicit := map[string]bool{}
	if len(root.Content) == 0 {
		return explicit, nil // empty file
	}
	collectKeys(root.Content[0], "", explicit)
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		return nil, err
	}
	return explicit, nil
}

func collectKeys(n *yaml.Node, prefix string, out map[string]bool) {
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := prefix + n.Content[i].Value
		out[k] = true
		collectKeys(n.Content[i+1], k+".", out)
	}
}

// finalize fills the values derived from the domain. explicit holds the
// keys the config file set (nil: none).
func (c *Config) finalize(explicit map[string]bool) {
	c.Domain = strings.ToLower(strings.TrimSpace(c.Domain))
	if c.Services.MUC == "" {
		c.Services.MUC = "conference." + c.Domain
	}
	if c.Services.PubSub == "" {
		c.Services.PubSub = "pubsub." + c.Domain
	}
	if c.Services.Auction == "" {
		c.Services.Auction = "auction." + c.Domain
	}
	if c.Dev && c.Auth.AnonymousDomain == "" && !explicit["auth.anonymous_domain"] {
		c.Auth.AnonymousDomain = "anon." + c.Domain
	}
}

// Finalize fills domain-derived defaults of a Config built in code (tests,
// embedding) and validates it.
func (c *Config) Finalize() error {
	c.finalize(nil)
	return c.Validate()
}

// Validate reports every problem in the configuration at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	checkDomain := func(key, d string) {
		if d == "" {
			bad(key, "must not be empty")
			return
		}
		j, err := jid.Parse(d)
		if err != nil || j.Localpart() != "" || j.Resourcepart() != "" {
			bad(key, "%q is not a valid domain name", d)
		}
	}
	checkDomain("domain", c.Domain)
	if c.DataDir == "" {
		bad("data_dir", "must not be empty")
	}
	for i, a := range c.Admins {
		j, err := jid.Parse(a)
		if err != nil || j.Localpart() == "" || j.Resourcepart() != "" {
			bad(fmt.Sprintf("admins[%d]", i), "%q is not a bare JID (user@domain)", a)
		}
	}
	seen := map[string]string{}
	for _, l := range []struct{ key, addr string }{
		{"listeners.c2s_addr", c.Listeners.C2S},
		{"listeners.c2s_tls_addr", c.Listeners.C2STLS},
		{"listeners.s2s_addr", c.Listeners.S2S},
		{"listeners.http_addr", c.Listeners.HTTP},
		{"metrics.pprof_addr", c.Metrics.PprofAddr},
	} {
		if l.addr == "" {
			continue
		}
		_, port, err := net.SplitHostPort(l.addr)
		if err != nil {
			bad(l.key, "%q is not host:port (%v)", l.addr, err)
			continue
		}
		if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			bad(l.key, "port %q is not a number in 0-65535", port)
			continue
		}
		if other, dup := seen[l.addr]; dup && !strings.HasSuffix(l.addr, ":0") {
			bad(l.key, "%q is also used by %s", l.addr, other)
		}
		seen[l.addr] = l.key
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls", "cert_file and key_file must be set together (or both left empty for a self-signed certificate)")
	}
	positive := func(key string, v int) {
		if v <= 0 {
			bad(key, "must be greater than 0, got %d", v)
		}
	}
	nonNegative := func(key string, v int) {
		if v < 0 {
			bad(key, "must not be negative, got %d", v)
		}
	}
	positive("c2s.limits.max_stanza_bytes", c.C2S.Limits.MaxStanzaBytes)
	positive("c2s.limits.max_depth", c.C2S.Limits.MaxDepth)
	positive("c2s.limits.max_attrs", c.C2S.Limits.MaxAttrs)
	positive("c2s.max_auth_attempts", c.C2S.MaxAuthAttempts)
	positive("c2s.write_queue_bytes", c.C2S.WriteQueueBytes)
	nonNegative("c2s.inbound_bytes_per_second", c.C2S.InboundBytesPerSecond)
	nonNegative("c2s.inbound_burst_bytes", c.C2S.InboundBurstBytes)
	nonNegative("c2s.max_resources", c.C2S.MaxResources)
	if c.C2S.SM.ResumeTimeout < 0 {
		bad("c2s.sm.resume_timeout", "must not be negative (0 disables resumption), got %v", c.C2S.SM.ResumeTimeout)
	}
	positive("c2s.sm.max_unacked", c.C2S.SM.MaxUnacked)
	positive("c2s.sm.max_unacked_bytes", c.C2S.SM.MaxUnackedBytes)
	positive("c2s.csi.max_held", c.C2S.CSI.MaxHeld)
	if c.C2S.InboundBytesPerSecond > 0 && c.C2S.InboundBurstBytes < c.C2S.Limits.MaxStanzaBytes {
		bad("c2s.inbound_burst_bytes", "%d is smaller than c2s.limits.max_stanza_bytes (%d): a maximal stanza could never be read",
			c.C2S.InboundBurstBytes, c.C2S.Limits.MaxStanzaBytes)
	}
	if c.C2S.WriteQueueBytes > 0 && c.C2S.WriteQueueBytes < c.C2S.Limits.MaxStanzaBytes {
		bad("c2s.write_queue_bytes", "%d is smaller than c2s.limits.max_stanza_bytes (%d)", c.C2S.WriteQueueBytes, c.C2S.Limits.MaxStanzaBytes)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"c2s.auth_timeout", c.C2S.AuthTimeout},
		{"c2s.idle_ping", c.C2S.IdlePing},
		{"c2s.ping_timeout", c.C2S.PingTimeout},
		{"auth.failure_window", c.Auth.FailureWindow},
		{"s2s.connect_timeout", c.S2S.ConnectTimeout},
		{"s2s.idle_timeout", c.S2S.IdleTimeout},
	} {
		if d.v <= 0 {
			bad(d.key, "must be a positive duration such as 30s or 5m, got %v", d.v)
		}
	}
	for d, addr := range c.S2S.Hosts {
		checkDomain("s2s.hosts", d)
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad("s2s.hosts."+d, "%q is not host:port (%v)", addr, err)
		}
	}
	if _, err := router.ParseConflictPolicy(c.C2S.ResourceConflict); err != nil {
		bad("c2s.resource_conflict", "%q: want replace, refuse or rename", c.C2S.ResourceConflict)
	}
	positive("auth.max_failures_per_ip", c.Auth.MaxFailuresPerIP)
	positive("auth.max_failures_per_account", c.Auth.MaxFailuresPerAccount)
	if c.Auth.ScramIterations < 4096 {
		bad("auth.scram_iterations", "%d is below 4096, the minimum of RFC 7677", c.Auth.ScramIterations)
	}
	if c.Auth.AnonymousDomain != "" {
		checkDomain("auth.anonymous_domain", c.Auth.AnonymousDomain)
		if c.Auth.AnonymousDomain == c.Domain {
			bad("auth.anonymous_domain", "must differ from domain")
		}
	}
	nonNegative("registration.max_per_ip", c.Registration.MaxPerIP)
	if c.Registration.Window <= 0 {
		bad("registration.window", "must be a positive duration such as 1h, got %v", c.Registration.Window)
	}
	for _, p := range c.Registration.ThrottleExempt {
		if _, err := netip.ParsePrefix(p); err != nil {
			bad("registration.throttle_exempt", "%q is not an address prefix such as 127.0.0.0/8 (%v)", p, err)
		}
	}
	positive("offline_quota", c.OfflineQuota)
	if _, err := muc.ParseCreatePolicy(c.MUC.Create); err != nil {
		bad("muc.create", "%q: want local, anyone or admins", c.MUC.Create)
	}
	nonNegative("muc.max_rooms_per_user", c.MUC.MaxRoomsPerUser)
	positive("muc.max_history_fetch", c.MUC.MaxHistoryFetch)
	nonNegative("muc.history_retention", c.MUC.HistoryRetention)
	positive("muc.mailbox_size", c.MUC.MailboxSize)
	if _, err := muc.ParseCreatePolicy(c.PubSub.Create); err != nil {
		bad("pubsub.create", "%q: want local, anyone or admins", c.PubSub.Create)
	}
	positive("pubsub.max_items", c.PubSub.MaxItems)
	positive("pubsub.max_payload_size", c.PubSub.MaxPayloadSize)
	positive("pubsub.max_subscriptions_per_jid", c.PubSub.MaxSubscriptionsPerJID)
	positive("pubsub.mailbox_size", c.PubSub.MailboxSize)
	positive("pep.max_nodes", c.PEP.MaxNodes)
	positive("pep.max_items", c.PEP.MaxItems)
	positive("pep.max_payload_size", c.PEP.MaxPayloadSize)
	if c.MUC.IdleTimeout <= 0 {
		bad("muc.idle_timeout", "must be a positive duration such as 5m, got %v", c.MUC.IdleTimeout)
	}
	switch c.MUC.DefaultRoom.Whois {
	case muc.WhoisModerators, muc.WhoisAnyone:
	default:
		bad("muc.default_room.whois", "%q: want moderators or anyone", c.MUC.DefaultRoom.Whois)
	}
	switch c.MUC.DefaultRoom.AllowPM {
	case muc.PMAnyone, muc.PMParticipants, muc.PMModerators, muc.PMNone:
	default:
		bad("muc.default_room.allow_pm", "%q: want anyone, participants, moderators or none", c.MUC.DefaultRoom.AllowPM)
	}
	nonNegative("muc.default_room.max_users", c.MUC.DefaultRoom.MaxUsers)
	if c.MAM.Retention < 0 {
		bad("mam.retention", "must not be negative (0 keeps archives forever), got %v", c.MAM.Retention)
	}
	checkDomain("services.muc", c.Services.MUC)
	checkDomain("services.pubsub", c.Services.PubSub)
	checkDomain("services.auction", c.Services.Auction)
	hosts := map[string]string{c.Domain: "domain"}
	for _, h := range []struct{ key, d string }{
		{"services.muc", c.Services.MUC}, {"services.pubsub", c.Services.PubSub},
		{"services.auction", c.Services.Auction}, {"auth.anonymous_domain", c.Auth.AnonymousDomain},
	} {
		if h.d == "" {
			continue
		}
		if other, dup := hosts[h.d]; dup {
			bad(h.key, "%q is already used by %s", h.d, other)
		}
		hosts[h.d] = h.key
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q: want debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "%q: want text or json", c.Log.Format)
	}
	if len(errs) > 0 {
		return &ConfigError{Errs: errs}
	}
	return nil
}

// ConfigError lists every invalid setting.
type ConfigError struct{ Errs []error }

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("invalid configuration:")
	for _, err := range e.Errs {
		b.WriteString("\n  ")
		b.WriteString(err.Error())
	}
	return b.String()
}

func (e *ConfigError) Unwrap() []error { return e.Errs }
