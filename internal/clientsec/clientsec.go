// Package clientsec holds the TLS and SASL options every Airlock Kafka client shares
// (producer, consumer, bridge): one set of flags, one translation to franz-go options.
package clientsec

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/airlock-kafka/airlock/internal/tlsutil"
)

// Mechanisms lists the SASL mechanisms clients support.
var Mechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"}

// ErrUnknownMechanism is returned for a SASL mechanism not in Mechanisms.
var ErrUnknownMechanism = errors.New("unknown SASL mechanism")

// Options are the security settings of one Kafka client.
type Options struct {
	// TLS enables TLS; the Files configure it.
	TLS   bool
	Files tlsutil.ClientFiles

	// SASLMechanism is empty (no SASL) or one of Mechanisms.
	SASLMechanism string
	SASLUser      string
	// SASLPassword is the password; SASLPasswordFile, when set, is read instead, so a
	// secret never needs to sit on a command line.
	SASLPassword     string
	SASLPasswordFile string

	// OAuthToken is a static OAUTHBEARER token; OAuthTokenFile and OAuthTokenCommand
	// supply one that is re-read (at most every OAuthTokenTTL) on each authentication,
	// so a token rotated by an external agent is picked up without a restart.
	OAuthToken        string
	OAuthTokenFile    string
	OAuthTokenCommand string
	OAuthTokenTTL     time.Duration
}

// Register defines the flags for o on fs. prefix is prepended to every flag name
// ("source-" gives --source-tls-ca-file), so a binary with two clusters registers twice.
func (o *Options) Register(fs *flag.FlagSet, prefix, what string) {
	fs.BoolVar(&o.TLS, prefix+"tls", false, "use TLS towards "+what)
	fs.StringVar(&o.Files.CAFile, prefix+"tls-ca-file", "", "PEM CA bundle to verify "+what+" (default: system roots)")
	fs.StringVar(&o.Files.CertFile, prefix+"tls-cert-file", "", "PEM client certificate for mutual TLS towards "+what)
	fs.StringVar(&o.Files.KeyFile, prefix+"tls-key-file", "", "PEM client key for mutual TLS towards "+what)
	fs.StringVar(&o.Files.KeyPassword, prefix+"tls-key-password", "", "password of an encrypted client key")
	fs.StringVar(&o.Files.ServerName, prefix+"tls-server-name", "", "server name to verify instead of the dialed host")
	fs.BoolVar(&o.Files.InsecureSkipVerify, prefix+"tls-insecure-skip-verify", false, "do not verify "+what+"'s certificate (tests only)")
	fs.StringVar(&o.SASLMechanism, prefix+"sasl-mechanism", "", "SASL mechanism towards "+what+": "+strings.Join(Mechanisms, ", ")+" (empty: no SASL)")
	fs.StringVar(&o.SASLUser, prefix+"sasl-user", "", "SASL user name")
	fs.StringVar(&o.SASLPassword, prefix+"sasl-password", "", "SASL password (prefer the env variable or --"+prefix+"sasl-password-file)")
	fs.StringVar(&o.SASLPasswordFile, prefix+"sasl-password-file", "", "file holding the SASL password")
	fs.StringVar(&o.OAuthToken, prefix+"sasl-oauth-token", "", "static OAUTHBEARER token (prefer the env variable or a token file)")
	fs.StringVar(&o.OAuthTokenFile, prefix+"sasl-oauth-token-file", "", "file holding the OAUTHBEARER token, re-read when it may have changed")
	fs.StringVar(&o.OAuthTokenCommand, prefix+"sasl-oauth-token-command", "", "command (run with sh -c) printing an OAUTHBEARER token, re-run when the cached token is older than the TTL")
	fs.DurationVar(&o.OAuthTokenTTL, prefix+"sasl-oauth-token-ttl", time.Minute, "how long a token from the file or command is reused")
}

// TLSConfig returns the client TLS config, or nil when TLS is off.
func (o *Options) TLSConfig() (*tls.Config, error) {
	if !o.TLS {
		return nil, nil
	}
	return tlsutil.ClientConfig(o.Files)
}

// Mechanism returns the franz-go SASL mechanism, or nil when SASL is off.
func (o *Options) Mechanism() (sasl.Mechanism, error) {
	if o.SASLMechanism == "" {
		return nil, nil
	}
	pass := o.SASLPassword
	if o.SASLPasswordFile != "" {
		b, err := os.ReadFile(o.SASLPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("read SASL password file: %w", err)
		}
		pass = strings.TrimRight(string(b), "\r\n")
	}
	if o.SASLUser == "" && !strings.EqualFold(o.SASLMechanism, "OAUTHBEARER") {
		return nil, fmt.Errorf("SASL %s needs a user", o.SASLMechanism)
	}
	switch strings.ToUpper(o.SASLMechanism) {
	case "PLAIN":
		return plain.Auth{User: o.SASLUser, Pass: pass}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: o.SASLUser, Pass: pass}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: o.SASLUser, Pass: pass}.AsSha512Mechanism(), nil
	case "OAUTHBEARER":
		src, err := o.tokenSource()
		if err != nil {
			return nil, err
		}
		return oauth.Oauth(func(ctx context.Context) (oauth.Auth, error) {
			tok, err := src.token(ctx)
			return oauth.Auth{Token: tok}, err
		}), nil
	default:
		return nil, fmt.Errorf("%w %q (want one of %s)", ErrUnknownMechanism, o.SASLMechanism, strings.Join(Mechanisms, ", "))
	}
}

// KgoOpts translates o into franz-go client options (dialer with TLS, SASL).
func (o *Options) KgoOpts() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	tc, err := o.TLSConfig()
	if err != nil {
		return nil, err
	}
	if tc != nil {
		opts = append(opts, kgo.DialTLSConfig(tc))
	} else {
		opts = append(opts, kgo.Dialer((&net.Dialer{Timeout: 10 * time.Second}).DialContext))
	}
	m, err := o.Mechanism()
	if err != nil {
		return nil, err
	}
	if m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}
