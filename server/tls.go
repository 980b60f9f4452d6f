package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Files of the generated certificate inside the data directory.
const (
	SelfSignedCertFile = "cert.pem"
	SelfSignedKeyFile  = "key.pem"
)

// selfSignedValidity is long because nobody renews a dev certificate; real
// deployments configure tls.cert_file.
const selfSignedValidity = 5 * 365 * 24 * time.Hour

// certNames are the names the generated certificate must cover.
func (c *Config) certNames() (dns []string, ips []net.IP) {
	dns = []string{c.Domain, c.Services.MUC, c.Services.PubSub, c.Services.Auction}
	if c.Auth.AnonymousDomain != "" {
		dns = append(dns, c.Auth.AnonymousDomain)
	}
	if c.Dev {
		if !slices.Contains(dns, "localhost") {
			dns = append(dns, "localhost")
		}
		ips = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	return dns, ips
}

// loadTLS returns the server certificate: the configured files, or the
// self-signed pair in the data directory, generated on first start and
// again only if it no longer covers the configured names or expired.
func loadTLS(cfg *Config, log *slog.Logger) (*tls.Config, error) {
	if cfg.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: loading %s / %s: %w", cfg.TLS.CertFile, cfg.TLS.KeyFile, err)
		}
		return tlsConfig(cert), nil
	}
	certPath := filepath.Join(cfg.DataDir, SelfSignedCertFile)
	keyPath := filepath.Join(cfg.DataDir, SelfSignedKeyFile)
	dns, ips := cfg.certNames()
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	switch {
	case err == nil:
		if why := selfSignedStale(cert.Leaf, dns, ips); why == "" {
			return tlsConfig(cert), nil
		} else {
			log.Warn("regenerating self-signed certificate", "reason", why, "cert", certPath)
		}
	case errors.Is(err, fs.ErrNotExist):
	default:
		// Never overwrite files we cannot read: they may be the operator's.
		return nil, fmt.Errorf("tls: loading %s: %w (delete both %s and %s to generate a new self-signed certificate)",
			certPath, err, SelfSignedCertFile, SelfSignedKeyFile)
	}
	cert, err = generateSelfSigned(certPath, keyPath, dns, ips)
	if err != nil {
		return nil, err
	}
	log.Info("generated self-signed certificate; clients will ask to trust it", "cert", certPath, "names", dns)
	return tlsConfig(cert), nil
}

func tlsConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// selfSignedStale says why leaf must be replaced, or "".
func selfSignedStale(leaf *x509.Certificate, dns []string, ips []net.IP) string {
	if leaf == nil {
		return "unparsable certificate"
	}
	if time.Now().Add(24 * time.Hour).After(leaf.NotAfter) {
		return "expired"
	}
	for _, n := range dns {
		if !slices.Contains(leaf.DNSNames, n) {
			return "does not cover " + n
		}
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(leaf.IPAddresses, ip.Equal) {
			return "does not cover " + ip.String()
		}
	}
	return ""
}

// generateSelfSigned writes a new ECDSA P-256 certificate and key (0600).
func generateSelfSigned(certPath, keyPath string, dns []string, ips []net.IP) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: dns[0], Organization: []string{"Gavel self-signed"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFileAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.LoadX509KeyPair(certPath, keyPath)
}

// writeFileAtomic writes data to a temporary file created with perm and
// renames it over path, so a crash never leaves half a key.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
