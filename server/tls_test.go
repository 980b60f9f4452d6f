package server

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func devConfig(t *testing.T, domain string) Config {
	t.Helper()
	cfg := Defaults(true)
	cfg.Domain = domain
	cfg.DataDir = t.TempDir()
	if err := cfg.Finalize(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestSelfSignedGeneratedOnceAndReused(t *testing.T) {
	cfg := devConfig(t, "example.org")
	tc, err := loadTLS(&cfg, discard)
	if err != nil {
		t.Fatal(err)
	}
	leaf := tc.Certificates[0].Leaf
	for _, n := range []string{"example.org", "conference.example.org", "pubsub.example.org", "auction.example.org", "anon.example.org", "localhost"} {
		if !slices.Contains(leaf.DNSNames, n) {
			t.Errorf("certificate does not cover %s (has %v)", n, leaf.DNSNames)
		}
	}
	if !slices.ContainsFunc(leaf.IPAddresses, net.IPv4(127, 0, 0, 1).Equal) {
		t.Errorf("dev certificate does not cover 127.0.0.1: %v", leaf.IPAddresses)
	}
	keyPath := filepath.Join(cfg.DataDir, SelfSignedKeyFile)
	st, err := os.Stat(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", st.Mode().Perm())
	}
	certPEM, _ := os.ReadFile(filepath.Join(cfg.DataDir, SelfSignedCertFile))

	// A restart loads the same files.
	tc2, err := loadTLS(&cfg, discard)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tc2.Certificates[0].Leaf.Raw, leaf.Raw) {
		t.Error("restart generated a new certificate")
	}
	again, _ := os.ReadFile(filepath.Join(cfg.DataDir, SelfSignedCertFile))
	if !bytes.Equal(again, certPEM) {
		t.Error("cert.pem rewritten on restart")
	}

	// A new domain makes the old certificate useless: it is replaced.
	cfg.Domain, cfg.Services = "other.example", ServicesConfig{}
	cfg.Auth.AnonymousDomain = ""
	if err := cfg.Finalize(); err != nil {
		t.Fatal(err)
	}
	tc3, err := loadTLS(&cfg, discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(tc3.Certificates[0].Leaf.DNSNames, "other.example") {
		t.Errorf("not regenerated for the new domain: %v", tc3.Certificates[0].Leaf.DNSNames)
	}
}

func TestProductionSelfSignedHasNoLoopbackNames(t *testing.T) {
	cfg := Defaults(false)
	cfg.Domain = "example.org"
	cfg.DataDir = t.TempDir()
	if err := cfg.Finalize(); err != nil {
		t.Fatal(err)
	}
	tc, err := loadTLS(&cfg, discard)
	if err != nil {
		t.Fatal(err)
	}
	leaf := tc.Certificates[0].Leaf
	if slices.Contains(leaf.DNSNames, "localhost") || len(leaf.IPAddresses) > 0 {
		t.Errorf("production certificate covers loopback: %v %v", leaf.DNSNames, leaf.IPAddresses)
	}
}

func TestUnreadableCertificateIsNotOverwritten(t *testing.T) {
	cfg := devConfig(t, "example.org")
	certPath := filepath.Join(cfg.DataDir, SelfSignedCertFile)
	if err := os.WriteFile(certPath, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.DataDir, SelfSignedKeyFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadTLS(&cfg, discard); err == nil {
		t.Fatal("loaded garbage")
	}
	if b, _ := os.ReadFile(certPath); string(b) != "garbage" {
		t.Error("an unreadable certificate was overwritten")
	}
}

func TestConfiguredCertificate(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if _, err := generateSelfSigned(certPath, keyPath, []string{"example.org"}, nil); err != nil {
		t.Fatal(err)
	}
	cfg := devConfig(t, "example.org")
	cfg.TLS = TLSConfig{CertFile: certPath, KeyFile: keyPath}
	if _, err := loadTLS(&cfg, discard); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, SelfSignedCertFile)); err == nil {
		t.Error("generated a self-signed certificate although one is configured")
	}
	cfg.TLS.KeyFile = filepath.Join(dir, "absent.pem")
	if _, err := loadTLS(&cfg, discard); err == nil {
		t.Error("missing key file accepted")
	}
}
