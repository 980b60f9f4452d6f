package server

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gavel.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func ptr[T any](v T) *T { return &v }

func TestDefaults(t *testing.T) {
	cfg, err := Load(Overrides{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Domain != "localhost" || cfg.DataDir != "./gavel-data" {
		t.Errorf("domain/data_dir = %q/%q", cfg.Domain, cfg.DataDir)
	}
	want := ListenersConfig{C2S: ":5222", C2STLS: ":5223", S2S: ":5269", HTTP: ":5280"}
	if cfg.Listeners != want {
		t.Errorf("listeners = %+v, want %+v", cfg.Listeners, want)
	}
	if !cfg.C2S.RequireTLS || cfg.Registration.Open || cfg.Auth.AnonymousDomain != "" {
		t.Errorf("production defaults: require_tls=%v registration.open=%v anonymous_domain=%q",
			cfg.C2S.RequireTLS, cfg.Registration.Open, cfg.Auth.AnonymousDomain)
	}
	if cfg.Services.MUC != "conference.localhost" || cfg.Services.PubSub != "pubsub.localhost" || cfg.Services.Auction != "auction.localhost" {
		t.Errorf("services = %+v", cfg.Services)
	}
}

func TestDevDefaults(t *testing.T) {
	cfg, err := Load(Overrides{Dev: ptr(true), Domain: ptr("example.org")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := ListenersConfig{C2S: "127.0.0.1:5222", C2STLS: "127.0.0.1:5223", S2S: "127.0.0.1:5269", HTTP: "127.0.0.1:5280"}
	if cfg.Listeners != want {
		t.Errorf("listeners = %+v, want %+v", cfg.Listeners, want)
	}
	if cfg.C2S.RequireTLS || !cfg.Registration.Open || !cfg.Dev {
		t.Errorf("dev: require_tls=%v registration.open=%v dev=%v", cfg.C2S.RequireTLS, cfg.Registration.Open, cfg.Dev)
	}
	if cfg.Auth.AnonymousDomain != "anon.example.org" {
		t.Errorf("anonymous_domain = %q", cfg.Auth.AnonymousDomain)
	}
	if cfg.Services.MUC != "conference.example.org" || cfg.Services.PubSub != "pubsub.example.org" || cfg.Services.Auction != "auction.example.org" {
		t.Errorf("services = %+v", cfg.Services)
	}
}

// Explicit settings win over dev defaults, including an explicit "" that
// disables anonymous login.
func TestDevKeepsExplicitSettings(t *testing.T) {
	p := writeFile(t, `
c2s:
  require_tls: true
listeners:
  c2s_addr: "0.0.0.0:5222"
auth:
  anonymous_domain: ""
`)
	cfg, err := Load(Overrides{Config: &p}, envMap(map[string]string{EnvDev: "1"}))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Dev || !cfg.C2S.RequireTLS || cfg.Listeners.C2S != "0.0.0.0:5222" || cfg.Auth.AnonymousDomain != "" {
		t.Errorf("got dev=%v require_tls=%v c2s=%q anon=%q", cfg.Dev, cfg.C2S.RequireTLS, cfg.Listeners.C2S, cfg.Auth.AnonymousDomain)
	}
	if cfg.Listeners.HTTP != "127.0.0.1:5280" {
		t.Errorf("unset listener kept the dev default? http=%q", cfg.Listeners.HTTP)
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, `
domain: file.example
data_dir: /from/file
listeners:
  c2s_addr: "127.0.0.2:1"
  http_addr: "127.0.0.2:2"
  s2s_addr: "127.0.0.2:3"
`)
	env := map[string]string{
		EnvConfig:   file,
		EnvDomain:   "env.example",
		EnvC2SAddr:  "127.0.0.3:1",
		EnvHTTPAddr: "127.0.0.3:2",
	}
	flags := Overrides{Domain: ptr("flag.example"), HTTPAddr: ptr("127.0.0.4:2")}
	cfg, err := Load(flags, envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, got, want string }{
		{"domain (flag > env > file)", cfg.Domain, "flag.example"},
		{"http_addr (flag > env > file)", cfg.Listeners.HTTP, "127.0.0.4:2"},
		{"c2s_addr (env > file)", cfg.Listeners.C2S, "127.0.0.3:1"},
		{"s2s_addr (file > default)", cfg.Listeners.S2S, "127.0.0.2:3"},
		{"data_dir (file)", cfg.DataDir, "/from/file"},
		{"c2s_tls_addr (default)", cfg.Listeners.C2STLS, ":5223"},
		{"services.muc derived from the final domain", cfg.Services.MUC, "conference.flag.example"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	// The --config flag beats GAVEL_CONFIG.
	other := writeFile(t, "domain: other.example\n")
	delete(env, EnvDomain)
	cfg, err = Load(Overrides{Config: &other}, envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Domain != "other.example" {
		t.Errorf("--config ignored: domain %q", cfg.Domain)
	}
	// --dev=false beats GAVEL_DEV=true.
	cfg, err = Load(Overrides{Dev: ptr(false)}, envMap(map[string]string{EnvDev: "true"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Dev {
		t.Error("--dev=false did not override GAVEL_DEV=true")
	}
}

// The example file documents the defaults: loading it must give exactly
// the built-in configuration.
func TestExampleConfigMatchesDefaults(t *testing.T) {
	p := filepath.Join("..", "gavel.example.yaml")
	fromFile, err := Load(Overrides{Config: &p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	builtIn, err := Load(Overrides{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	normalize := func(c *Config) {
		if len(c.Admins) == 0 {
			c.Admins = nil
		}
		if len(c.WebSocket.Origins) == 0 {
			c.WebSocket.Origins = nil
		}
		if len(c.S2S.Hosts) == 0 {
			c.S2S.Hosts = nil
		}
	}
	normalize(&fromFile)
	normalize(&builtIn)
	if !reflect.DeepEqual(fromFile, builtIn) {
		t.Errorf("gavel.example.yaml differs from the defaults:\nfile:     %+v\ndefaults: %+v", fromFile, builtIn)
	}
	// And it names every option: each yaml key of Config appears in it.
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range yamlKeys(reflect.TypeOf(Config{}), "") {
		leaf := key[strings.LastIndex(key, ".")+1:]
		if !strings.Contains(string(raw), leaf+":") {
			t.Errorf("gavel.example.yaml does not document %s", key)
		}
	}
}

func yamlKeys(t reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
			out = append(out, yamlKeys(f.Type, prefix+tag+".")...)
			continue
		}
		out = append(out, prefix+tag)
	}
	return out
}

func TestValidationErrors(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		env        map[string]string
		want       []string // substrings of the error
	}{
		{"bad domain", "domain: \"not a domain@x/y\"\n", nil, []string{"domain:"}},
		{"unknown key", "domian: x\n", nil, []string{"field domian not found"}},
		{"bad type", "offline_quota: lots\n", nil, []string{"line 1", "lots"}},
		{"bad listener", "listeners:\n  c2s_addr: \"5222\"\n", nil, []string{"listeners.c2s_addr", "host:port"}},
		{"bad port", "listeners:\n  c2s_addr: \":99999\"\n", nil, []string{"listeners.c2s_addr", "0-65535"}},
		{"duplicate listener", "listeners:\n  c2s_addr: \":7000\"\n  http_addr: \":7000\"\n", nil, []string{"listeners.http_addr", "also used by listeners.c2s_addr"}},
		{"half tls", "tls:\n  cert_file: a.pem\n", nil, []string{"tls:", "together"}},
		{"conflict policy", "c2s:\n  resource_conflict: evict\n", nil, []string{"c2s.resource_conflict", "replace, refuse or rename"}},
		{"zero duration", "c2s:\n  auth_timeout: 0s\n", nil, []string{"c2s.auth_timeout", "positive duration"}},
		{"bad duration", "c2s:\n  ping_timeout: soon\n", nil, []string{"soon"}},
		{"weak scram", "auth:\n  scram_iterations: 1000\n", nil, []string{"auth.scram_iterations", "4096"}},
		{"bad admin", "admins: [\"example.org\"]\n", nil, []string{"admins[0]", "bare JID"}},
		{"log format", "log:\n  format: xml\n", nil, []string{"log.format", "text or json"}},
		{"log level", "log:\n  level: loud\n", nil, []string{"log.level"}},
		{"service clash", "services:\n  muc: localhost\n", nil, []string{"services.muc", "already used by domain"}},
		{"burst below stanza", "c2s:\n  inbound_burst_bytes: 10\n", nil, []string{"c2s.inbound_burst_bytes", "max_stanza_bytes"}},
		{"bad GAVEL_DEV", "", map[string]string{EnvDev: "maybe"}, []string{"GAVEL_DEV"}},
		{"two errors at once", "offline_quota: 0\nlog:\n  format: xml\n", nil, []string{"offline_quota", "log.format"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, c.yaml)
			_, err := Load(Overrides{Config: &p}, envMap(c.env))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	// Validation errors are a *ConfigError the CLI maps to its usage exit code.
	p := writeFile(t, "log:\n  format: xml\n")
	_, err := Load(Overrides{Config: &p}, nil)
	var ce *ConfigError
	if !errors.As(err, &ce) || len(ce.Errs) != 1 {
		t.Errorf("got %T %v, want a *ConfigError with one entry", err, err)
	}
}

func TestMissingConfigFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "absent.yaml")
	_, err := Load(Overrides{Config: &p}, nil)
	if err == nil || !strings.Contains(err.Error(), "absent.yaml") {
		t.Errorf("err = %v", err)
	}
}
