package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// ServerFiles names the files and settings of a TLS server (the proxy's listeners).
// The string fields take flag values as they come and are checked by NewServer.
type ServerFiles struct {
	// CertFile and KeyFile hold the server certificate (with any intermediates after
	// it) and its key; both are required.
	CertFile string
	KeyFile  string
	// KeyPassword decrypts KeyFile when it is an encrypted PEM key.
	KeyPassword string
	// ClientCAFile is a PEM bundle of the CAs client certificates must chain to.
	ClientCAFile string
	// ClientAuth is none, request (verify a certificate if one is presented) or
	// require; see ParseClientAuth. Empty means require when ClientCAFile is set,
	// none otherwise, so giving a client CA never silently leaves mTLS off.
	ClientAuth string
	// MinVersion is "1.2" (default) or "1.3"; see ParseTLSVersion.
	MinVersion string
	// CipherSuites restricts TLS 1.2 suites (names from tls.CipherSuites()); empty
	// means Go's defaults. See ParseCipherSuites.
	CipherSuites []string
	// RequiredSubjects, when not empty, lists the client subjects allowed in (any
	// one pattern must match); see SubjectPattern for the syntax.
	RequiredSubjects []string
}

// Server serves TLS from files that may be replaced while it runs: certificate
// rotation needs no restart, and connections established before keep working.
type Server struct {
	clientAuth tls.ClientAuthType // meaning, as ParseClientAuth returns it
	minVersion uint16
	suites     []uint16
	subjects   []SubjectPattern
	cert       *watched[tls.Certificate]
	ca         *watched[x509.CertPool] // nil without a client CA file
	o          *options
}

// NewServer checks f, loads its files and returns a Server. Options: WithLogger,
// OnReload, OnReloadError, CheckInterval.
func NewServer(f ServerFiles, opts ...Opt) (*Server, error) {
	o := newOptions(opts)
	if f.CertFile == "" || f.KeyFile == "" {
		return nil, fmt.Errorf("%w: a TLS server needs a cert file and a key file (cert %q, key %q)", ErrInvalidConfig, f.CertFile, f.KeyFile)
	}
	s := &Server{o: o}
	var err error
	if f.ClientAuth == "" && f.ClientCAFile != "" {
		s.clientAuth = tls.RequireAndVerifyClientCert
	} else if s.clientAuth, err = ParseClientAuth(f.ClientAuth); err != nil {
		return nil, err
	}
	switch {
	case s.clientAuth != tls.NoClientCert && f.ClientCAFile == "":
		return nil, fmt.Errorf("%w: client auth %q needs a client CA file to verify certificates against", ErrInvalidConfig, f.ClientAuth)
	case s.clientAuth == tls.NoClientCert && len(f.RequiredSubjects) > 0:
		return nil, fmt.Errorf("%w: required subjects need client auth request or require", ErrInvalidConfig)
	case s.clientAuth == tls.NoClientCert && f.ClientCAFile != "":
		o.logger.Warn("tls client CA file ignored: client auth is none", "file", f.ClientCAFile)
	}
	if s.minVersion, err = ParseTLSVersion(f.MinVersion); err != nil {
		return nil, err
	}
	if s.suites, err = ParseCipherSuites(f.CipherSuites); err != nil {
		return nil, err
	}
	if s.subjects, err = ParseSubjectPatterns(f.RequiredSubjects); err != nil {
		return nil, err
	}
	if s.cert, err = keyPairWatcher("server certificate", f.CertFile, f.KeyFile, f.KeyPassword, o); err != nil {
		return nil, err
	}
	if s.clientAuth != tls.NoClientCert {
		if s.ca, err = poolWatcher("client CA", f.ClientCAFile, o); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Config returns a new server config serving the current files. Each call returns
// a fresh config the caller may extend (NextProtos, its own GetConfigForClient);
// keep GetCertificate and VerifyConnection, they do the reloading and the client
// verification.
//
// Client certificates are verified here, in VerifyConnection, rather than by
// crypto/tls, so the CA can be reloaded, resumed sessions are checked against the
// current CA, and a rejection is a *ClientCertError with a reason.
func (s *Server) Config() *tls.Config {
	cfg := &tls.Config{
		MinVersion:     s.minVersion,
		CipherSuites:   s.suites,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.cert.get(), nil },
	}
	if s.ca == nil {
		return cfg
	}
	// Ask for a certificate, verify it ourselves: crypto/tls would use a fixed pool.
	cfg.ClientAuth = tls.RequestClientCert
	cfg.VerifyConnection = s.verifyConnection
	cfg.ClientCAs = s.ca.get()
	// Per handshake, a copy with the current CA, so the CertificateRequest names the
	// acceptable CAs (Java clients pick their keystore entry by them).
	cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		c := cfg.Clone()
		c.GetConfigForClient = nil
		c.ClientCAs = s.ca.get()
		return c, nil
	}
	return cfg
}

// verifyConnection checks the client certificate against the current CA and the
// required subjects. It runs for resumed sessions too.
func (s *Server) verifyConnection(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		if s.clientAuth == tls.RequireAndVerifyClientCert {
			return &ClientCertError{Reason: ReasonMissing}
		}
		return nil
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         s.ca.get(),
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		CurrentTime:   time.Now(),
	})
	if err != nil {
		r := x509Reason(err)
		if r == "" {
			r = ReasonInvalid
		}
		return &ClientCertError{Reason: r, Subject: leaf.Subject.String(), Err: err}
	}
	if len(s.subjects) > 0 && !matchAny(s.subjects, leaf.Subject) {
		return &ClientCertError{Reason: ReasonSubject, Subject: leaf.Subject.String(),
			Err: fmt.Errorf("allowed: %s", patternList(s.subjects))}
	}
	return nil
}

// Reload re-reads the certificate, key and client CA now, changed or not. On error
// the previous ones stay in use.
func (s *Server) Reload() error {
	err := s.cert.reload()
	if s.ca != nil {
		err = errors.Join(err, s.ca.reload())
	}
	return err
}

// Certificate returns the certificate currently served, e.g. to export its expiry
// as a metric.
func (s *Server) Certificate() *x509.Certificate {
	return s.cert.cur.Load().Leaf
}

// ClientAuth returns the client-auth mode in crypto/tls terms (what it means, not
// the lower level the returned configs use to let this package verify).
func (s *Server) ClientAuth() tls.ClientAuthType { return s.clientAuth }
