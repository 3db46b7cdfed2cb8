// Package tlsutil builds crypto/tls configurations from PEM files for Airlock's
// clients and servers, with the error messages an operator needs when a file is
// missing or does not match.
//
// Servers (NewServer) and, on request, clients (ClientFiles.Reload) pick up
// replaced certificate files without a restart; a replacement that does not load
// leaves the previous certificate in use. Servers verify client certificates
// themselves, against the current client CA and an optional list of allowed
// subjects, and fail handshakes with a *ClientCertError whose Reason is a short,
// fixed label for metrics.
package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// ClientFiles names the files and settings of a TLS client (towards a broker or a
// proxy). The zero value means: verify against the system pool, no client certificate.
type ClientFiles struct {
	// CAFile is a PEM bundle of roots to trust; empty means the system pool.
	CAFile string
	// CertFile and KeyFile hold the client certificate for mutual TLS; both or neither.
	CertFile string
	KeyFile  string
	// KeyPassword decrypts KeyFile when it is an encrypted PEM key.
	KeyPassword string
	// ServerName overrides the name verified in the server certificate.
	ServerName string
	// InsecureSkipVerify disables verification of the server; for tests only.
	InsecureSkipVerify bool
	// Reload re-reads CertFile and KeyFile when they change (checked at handshakes,
	// at most every CheckInterval), so a long-running client picks up a rotated
	// certificate without a restart. The CA file is read once.
	Reload bool
}

// LoadCertPool reads a PEM bundle into a new pool; it fails when the file holds no
// certificate, which usually means a wrong path or a key file given by mistake.
func LoadCertPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	return parseCertPool(pem, path)
}

func parseCertPool(pem []byte, path string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s: no PEM certificate found", path)
	}
	return pool, nil
}

// ClientConfig returns a *tls.Config for the given files. Options (WithLogger,
// OnReload, OnReloadError, CheckInterval) only matter with Reload.
func ClientConfig(c ClientFiles, opts ...Opt) (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // explicit operator choice, logged by callers
	}
	if c.CAFile != "" {
		pool, err := LoadCertPool(c.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, fmt.Errorf("client certificate needs both a cert file and a key file (cert %q, key %q)", c.CertFile, c.KeyFile)
	}
	if c.CertFile != "" && c.Reload {
		w, err := keyPairWatcher("client certificate", c.CertFile, c.KeyFile, c.KeyPassword, newOptions(opts))
		if err != nil {
			return nil, err
		}
		// Called only when the server asks for a certificate; we send ours even if
		// the server's CA list does not name our issuer, and let it decide.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return w.get(), nil }
	} else if c.CertFile != "" {
		cert, err := LoadKeyPair(c.CertFile, c.KeyFile, c.KeyPassword)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// LoadKeyPair reads a certificate and its key, decrypting the key with password when
// it is a legacy encrypted PEM key. It fails when the certificate does not match the
// key, which is also what a half-finished rotation looks like.
func LoadKeyPair(certFile, keyFile, password string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("read certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("read key: %w", err)
	}
	return parseKeyPair(certPEM, keyPEM, password, certFile, keyFile)
}

// parseKeyPair is LoadKeyPair on contents already read; the file names are for
// messages. The result always has Leaf set.
func parseKeyPair(certPEM, keyPEM []byte, password, certFile, keyFile string) (tls.Certificate, error) {
	keyPEM, err := keyPEMForTLS(keyPEM, password)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("key %s: %w", keyFile, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("key pair %s / %s: %w", certFile, keyFile, err)
	}
	if cert.Leaf == nil { // GODEBUG x509keypairleaf=0
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("parse %s: %w", certFile, err)
		}
	}
	return cert, nil
}
