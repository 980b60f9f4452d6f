// Package server wires Gavel together: configuration, storage, accounts,
// router, the IM core, the client listeners and the HTTP side, with the
// first-start tasks, metrics and an orderly shutdown. cmd/gavel is a thin
// command line over it.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gavelhq/gavel/auth"
	"github.com/gavelhq/gavel/c2s"
	"github.com/gavelhq/gavel/data"
	"github.com/gavelhq/gavel/im"
	"github.com/gavelhq/gavel/muc"
	"github.com/gavelhq/gavel/pubsub"
	"github.com/gavelhq/gavel/router"
	"github.com/gavelhq/gavel/s2s"
	"github.com/gavelhq/gavel/webui"
)

// Version is the server version, set at link time
// (-ldflags "-X github.com/gavelhq/gavel/server.Version=...").
var Version = "dev"

// DBDir is the database directory inside the data directory.
const DBDir = "db"

// Addrs are the addresses the listeners actually bound ("" when disabled).
type Addrs struct {
	C2S    string // TCP with STARTTLS
	C2STLS string // direct TLS (XEP-0368)
	S2S    string // federation
	HTTP   string // /xmpp-websocket, /metrics, /healthz
	Pprof  string // /debug/pprof/ when metrics.pprof_addr is set
}

// Server is a running Gavel.
type Server struct {
	cfg     Config
	log     *slog.Logger
	out     io.Writer
	lock    *DirLock
	db      *data.Badger
	store   data.Store // db, instrumented
	metrics *Metrics

	Accounts *auth.Accounts
	Router   *router.Router
	IM       *im.Server
	muc      *muc.Service
	pubsub   *pubsub.Service
	pep      *pepService // pep_wiring.go

	tls   *tls.Config
	pprof *http.Server
	c2s   c2sServer
	s2s   *s2s.Service
	http  *http.Server
	addrs Addrs

	listeners []net.Listener
	wg        sync.WaitGroup
	errc      chan error // serve loops that failed

	stopBackground context.CancelFunc // ends the periodic tasks

	shutdownOnce sync.Once
	shutdownErr  error
}

// Option adjusts how Start runs.
type Option func(*Server)

// WithOutput sets where the one-time credentials are printed (default os.Stdout).
func WithOutput(w io.Writer) Option { return func(s *Server) { s.out = w } }

// WithLogger sets the logger (default: one built from cfg.Log writing to stderr).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// NewLogger builds the logger that cfg.Log describes.
func NewLogger(cfg LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	o := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

// Start builds and starts the server described by cfg (which must be
// valid: use Load, or Finalize for a Config built in code). The listeners
// are open when it returns; Shutdown stops everything. ctx bounds the
// start only.
func Start(ctx context.Context, cfg Config, opts ...Option) (_ *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, out: os.Stdout, errc: make(chan error, 4)}
	for _, o := range opts {
		o(s)
	}
	if s.log == nil {
		s.log = NewLogger(cfg.Log, os.Stderr)
	}
	defer func() {
		if err != nil {
			s.abort()
		}
	}()

	if s.lock, err = LockDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	s.metrics = NewMetrics()
	if s.db, err = OpenStore(cfg.DataDir, s.log); err != nil {
		return nil, err
	}
	s.store = instrumentStore(s.db, s.metrics)
	if s.tls, err = loadTLS(&s.cfg, s.log); err != nil {
		return nil, err
	}

	s.Accounts, s.Router, s.IM = newCore(cfg, s.store, s.log)
	if err := s.newMUC(); err != nil {
		return nil, err
	}
	if err := s.newPubSub(); err != nil {
		return nil, err
	}
	if err := s.newPEP(); err != nil {
		return nil, err
	}

	if s.c2s, err = s.newC2S(); err != nil {
		return nil, err
	}
	s.s2s = s2s.New(s2s.Options{
		IsLocal:            s.Router.Serves,
		TLSConfig:          s.tls,
		RequireTLS:         cfg.S2S.RequireTLS,
		VerifyCertificates: cfg.S2S.VerifyCertificates,
		Hosts:              cfg.S2S.Hosts,
		Limits:             streamLimits(cfg),
		ConnectTimeout:     cfg.S2S.ConnectTimeout,
		IdleTimeout:        cfg.S2S.IdleTimeout,
		Logger:             s.log.With("pkg", "s2s"),
	}, s.Router)
	s.Router.HandleRemote(s.s2s)

	creds, err := s.firstStart(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.listen(); err != nil {
		return nil, err
	}
	s.startBackground()
	s.log.Info("gavel started", "version", Version, "domain", cfg.Domain, "dev", cfg.Dev,
		"c2s", s.addrs.C2S, "c2s_tls", s.addrs.C2STLS, "s2s", s.addrs.S2S, "http", s.addrs.HTTP, "data_dir", cfg.DataDir)
	printCredentials(s.out, cfg, s.addrs, creds)
	return s, nil
}

// OpenStore opens the database of a data directory (the caller holds its
// lock); a nil log means slog.Default().
func OpenStore(dataDir string, log *slog.Logger) (*data.Badger, error) {
	o := data.DefaultOptions()
	if log != nil {
		o.Logger = log.With("pkg", "data")
	}
	db, err := data.Open(filepath.Join(dataDir, DBDir), o)
	if err != nil {
		return nil, fmt.Errorf("opening the database in %s: %w", dataDir, err)
	}
	return db, nil
}

// newCore builds accounts, router and IM core over store, the same way for
// the server and the operations commands (so that deleting an account from
// the command line runs the IM core's cleanup hooks too).
func newCore(cfg Config, store data.Store, log *slog.Logger) (*auth.Accounts, *router.Router, *im.Server) {
	accounts := NewAccounts(store, cfg)
	conflict, _ := router.ParseConflictPolicy(cfg.C2S.ResourceConflict)
	r := router.New(router.Options{Conflict: conflict, MaxResources: cfg.C2S.MaxResources})
	admins := append([]string{AdminJID(cfg.Domain)}, cfg.Admins...)
	core := im.New(im.Options{
		Domain:          cfg.Domain,
		AnonymousDomain: cfg.Auth.AnonymousDomain,
		OfflineQuota:    cfg.OfflineQuota,
		SoftwareName:    "Gavel",
		SoftwareVersion: Version,
		Admins:          admins,
		MAMRetention:    cfg.MAM.Retention,
	}, r, store, accounts, log.With("pkg", "im"))
	r.HandleDomain(cfg.Domain, core, true)
	if cfg.Auth.AnonymousDomain != "" {
		r.HandleDomain(cfg.Auth.AnonymousDomain, core, true)
	}
	return accounts, r, core
}

// NewAccounts returns the account database configured by cfg (shared by
// the server and the user subcommands, so both hash passwords alike).
func NewAccounts(kv data.KV, cfg Config) *auth.Accounts {
	return auth.New(kv, auth.Options{
		Iterations:            cfg.Auth.ScramIterations,
		AnonymousDomain:       cfg.Auth.AnonymousDomain,
		MaxFailuresPerIP:      cfg.Auth.MaxFailuresPerIP,
		MaxFailuresPerAccount: cfg.Auth.MaxFailuresPerAccount,
		FailureWindowSeconds:  int(cfg.Auth.FailureWindow / time.Second),
	})
}

// listen opens every configured listener and starts serving.
func (s *Server) listen() error {
	open := func(addr string) (net.Listener, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen %s: %w", addr, err)
		}
		s.listeners = append(s.listeners, ln)
		return ln, nil
	}
	if a := s.cfg.Listeners.C2S; a != "" {
		ln, err := open(a)
		if err != nil {
			return err
		}
		s.addrs.C2S = ln.Addr().String()
		s.serve("c2s", func() error { return s.c2s.ServeTCP(ln) })
	}
	if a := s.cfg.Listeners.C2STLS; a != "" {
		ln, err := open(a)
		if err != nil {
			return err
		}
		s.addrs.C2STLS = ln.Addr().String()
		s.serve("c2s_tls", func() error { return s.c2s.ServeDirectTLS(ln) })
	}
	if a := s.cfg.Listeners.S2S; a != "" {
		ln, err := open(a)
		if err != nil {
			return err
		}
		s.addrs.S2S = ln.Addr().String()
		s.serve("s2s", func() error { return s.s2s.Serve(ln) })
	}
	if a := s.cfg.Listeners.HTTP; a != "" {
		ln, err := open(a)
		if err != nil {
			return err
		}
		s.addrs.HTTP = ln.Addr().String()
		var metrics http.Handler
		if s.cfg.Metrics.Enabled {
			metrics = s.metrics.Handler()
		}
		s.http = &http.Server{
			Handler: webui.New(webui.Options{
				Metrics:   metrics,
				WebSocket: s.c2s.WebSocketHandler(),
				Health:    s.health,
				PubSubAPI: s.pubsubAPI(),
			}),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		}
		s.serve("http", func() error { return s.http.Serve(ln) })
	}
	if a := s.cfg.Metrics.PprofAddr; a != "" {
		ln, err := open(a)
		if err != nil {
			return err
		}
		s.addrs.Pprof = ln.Addr().String()
		s.pprof = &http.Server{Handler: pprofHandler(), ReadHeaderTimeout: 10 * time.Second}
		s.serve("pprof", func() error { return s.pprof.Serve(ln) })
		s.log.Warn("serving Go profiles; keep this address private", "pprof_addr", s.addrs.Pprof)
	}
	return nil
}

// archiveExpiryEvery is how often archives nobody writes to are trimmed
// to the retention period (active ones trim themselves as they grow).
const archiveExpiryEvery = time.Hour

// startBackground runs the periodic maintenance tasks until Shutdown.
func (s *Server) startBackground() {
	ctx, cancel := context.WithCancel(context.Background())
	s.stopBackground = cancel
	if s.cfg.MAM.Retention <= 0 {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(archiveExpiryEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.IM.ExpireArchives(ctx); err != nil && ctx.Err() == nil {
					s.log.Warn("expiring message archives", "err", err)
				}
			}
		}
	}()
}

// serve runs a listener's accept loop; an unexpected end is logged and
// reported on Errors.
func (s *Server) serve(name string, fn func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := fn()
		if err == nil || errors.Is(err, http.ErrServerClosed) || errors.Is(err, c2s.ErrServerClosed) || errors.Is(err, s2s.ErrClosed) || errors.Is(err, net.ErrClosed) {
			return
		}
		s.log.Error("listener stopped", "listener", name, "err", err)
		select {
		case s.errc <- fmt.Errorf("%s listener: %w", name, err):
		default:
		}
	}()
}

// health is /healthz: the store answers a read.
func (s *Server) health(ctx context.Context) error {
	_, _, err := s.store.Get(ctx, data.SchemaKey())
	if err != nil && !errors.Is(err, data.ErrNotFound) {
		return fmt.Errorf("storage: %w", err)
	}
	return nil
}

// Addrs returns the bound listener addresses.
func (s *Server) Addrs() Addrs { return s.addrs }

// Config returns the configuration the server runs with.
func (s *Server) Config() Config { return s.cfg }

// Store returns the (instrumented) store.
func (s *Server) Store() data.Store { return s.store }

// Metrics returns the server's metrics.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Errors reports listeners that stopped unexpectedly (serve exits on one).
func (s *Server) Errors() <-chan error { return s.errc }

// Shutdown stops accepting, closes every client stream with a
// system-shutdown stream error, stops HTTP, and syncs and closes the store.
// ctx bounds the wait for connections to finish; it is safe to call twice.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() { s.shutdownErr = s.shutdown(ctx) })
	return s.shutdownErr
}

func (s *Server) shutdown(ctx context.Context) error {
	s.log.Info("shutting down")
	var errs []error
	if s.stopBackground != nil {
		s.stopBackground()
	}
	errs = append(errs, s.stopMUC(ctx), s.stopPubSub(ctx), s.stopPEP(ctx))
	// Stop accepting first so nothing new arrives while streams close:
	// http.Shutdown closes its listener at once, then waits for requests in
	// flight; hijacked WebSocket connections belong to c2s, whose Shutdown
	// closes its listeners and every stream (system-shutdown).
	httpDone := make(chan error, 1)
	if s.http != nil {
		go func() { httpDone <- s.http.Shutdown(ctx) }()
	} else {
		httpDone <- nil
	}
	if s.c2s != nil {
		if err := s.c2s.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("c2s: %w", err))
		}
	}
	if s.s2s != nil {
		if err := s.s2s.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("s2s: %w", err))
		}
	}
	if s.pprof != nil {
		_ = s.pprof.Close() // profiles in flight are not worth waiting for
	}
	if err := <-httpDone; err != nil {
		errs = append(errs, fmt.Errorf("http: %w", err))
		_ = s.http.Close()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("listeners: %w", ctx.Err()))
	}
	errs = append(errs, s.closeStore())
	err := errors.Join(errs...)
	if err != nil {
		s.log.Error("shutdown incomplete", "err", err)
	} else {
		s.log.Info("stopped")
	}
	return err
}

// closeStore syncs and closes the database and releases the directory lock.
func (s *Server) closeStore() error {
	var errs []error
	if s.db != nil {
		if err := s.db.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("store sync: %w", err))
		}
		if err := s.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("store close: %w", err))
		}
		s.db = nil
	}
	if err := s.lock.Unlock(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// abort undoes a failed Start.
func (s *Server) abort() {
	if s.stopBackground != nil {
		s.stopBackground()
	}
	for _, ln := range s.listeners {
		_ = ln.Close()
	}
	if s.http != nil {
		_ = s.http.Close()
	}
	if s.pprof != nil {
		_ = s.pprof.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if s.c2s != nil {
		_ = s.c2s.Shutdown(ctx)
	}
	if s.s2s != nil {
		_ = s.s2s.Shutdown(ctx)
	}
	s.wg.Wait()
	_ = s.closeStore()
}
