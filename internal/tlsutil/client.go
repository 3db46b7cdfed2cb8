// Package tlsutil builds crypto/tls configurations from PEM files for Airlock's
// clients and servers, with the error messages an operator needs when a file is
// missing or does not match.
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
}

// LoadCertPool reads a PEM bundle into a new pool; it fails when the file holds no
// certificate, which usually means a wrong path or a key file given by mistake.
func LoadCertPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s: no PEM certificate found", path)
	}
	return pool, nil
}

// ClientConfig returns a *tls.Config for the given files.
func ClientConfig(c ClientFiles) (*tls.Config, error) {
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
	if c.CertFile != "" {
		cert, err := LoadKeyPair(c.CertFile, c.KeyFile, c.KeyPassword)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// LoadKeyPair reads a certificate and its key, decrypting the key with password when
// it is encrypted.
func LoadKeyPair(certFile, keyFile, password string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("read certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("read key: %w", err)
	}
	if password != "" {
		keyPEM, err = decryptKeyPEM(keyPEM, password)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("decrypt key %s: %w", keyFile, err)
		}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("key pair %s / %s: %w", certFile, keyFile, err)
	}
	return cert, nil
}
