package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/airlock-kafka/airlock/internal/tlsutil"
	"github.com/airlock-kafka/airlock/proxy"
	"github.com/airlock-kafka/airlock/proxy/auth"
)

// clientSide is what terminating TLS and authenticating clients needs at run time:
// proxy options, background watchers (users file reload) and things to close
// (the verifier plugin).
type clientSide struct {
	opts     []proxy.Opt
	watchers []func(context.Context) error
	closers  []io.Closer
}

func (s *clientSide) close() {
	for _, c := range s.closers {
		_ = c.Close()
	}
}

func (c *config) clientSecurity(ctx context.Context, log *slog.Logger, reg prometheus.Registerer) (*clientSide, error) {
	s := &clientSide{}
	// Any client TLS setting turns TLS on, so a client CA given without a
	// certificate is an error (NewServer wants a cert) rather than silent plaintext.
	f := c.clientFiles
	if c.clientTLS || f.CertFile != "" || f.KeyFile != "" || f.ClientCAFile != "" || f.ClientAuth != "" || len(f.RequiredSubjects) > 0 {
		reloadErrors := prometheus.NewCounter(prometheus.CounterOpts{
			Name: "proxy_tls_reload_errors_total", Help: "Certificate or CA files that failed to reload (the previous ones stay in use).",
		})
		reg.MustRegister(reloadErrors)
		srv, err := tlsutil.NewServer(c.clientFiles, tlsutil.WithLogger(log),
			tlsutil.OnReloadError(func(error) { reloadErrors.Inc() }),
			tlsutil.OnReload(func(what string) { log.Info("TLS files reloaded", "what", what) }))
		if err != nil {
			return nil, fmt.Errorf("client TLS: %w", err)
		}
		s.opts = append(s.opts, proxy.ClientTLS(srv.Config()))
	}
	var verifier auth.Verifier
	switch {
	case c.saslUsersFile != "":
		reloadErrors := prometheus.NewCounter(prometheus.CounterOpts{
			Name: "proxy_users_file_reload_errors_total", Help: "Users file reloads that failed (the previous users stay in force).",
		})
		reg.MustRegister(reloadErrors)
		uf, err := auth.OpenUsersFile(c.saslUsersFile, auth.WithPollInterval(c.saslUsersPoll), auth.WithFileLogger(log),
			auth.WithReloadHook(func(_ int, err error) {
				if err != nil {
					reloadErrors.Inc()
				}
			}))
		if err != nil {
			return nil, fmt.Errorf("client SASL users file: %w", err)
		}
		verifier = uf
		s.watchers = append(s.watchers, uf.Watch)
	case c.saslPlugin != "":
		v, closer, err := auth.NewPluginVerifier(ctx, c.saslPlugin, c.saslPluginArgs, auth.WithPluginLogger(log))
		if err != nil {
			return nil, fmt.Errorf("client SASL plugin: %w", err)
		}
		verifier = v
		s.closers = append(s.closers, closer)
	}
	if verifier != nil {
		lim, err := auth.NewLimiter(c.saslMaxFailures, c.saslFailureWindow)
		if err != nil {
			s.close()
			return nil, err
		}
		var mechs []string
		for _, m := range strings.Split(c.saslMechanisms, ",") {
			if m = strings.TrimSpace(m); m != "" {
				mechs = append(mechs, strings.ToUpper(m))
			}
		}
		a, err := auth.NewAuthenticator(verifier, auth.WithMechanisms(mechs...), auth.WithLimiter(lim))
		if err != nil {
			s.close()
			return nil, fmt.Errorf("client SASL: %w", err)
		}
		s.opts = append(s.opts, proxy.LocalSASL(a))
	}
	return s, nil
}
