package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/airlock-kafka/airlock/internal/version"
	"github.com/airlock-kafka/airlock/proxy"
)

// run serves until ctx is done and returns the process exit code. A second
// SIGINT/SIGTERM during the drain cuts it short.
func run(ctx context.Context, c *config, log *slog.Logger) int {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if c.upstream.TLS && c.upstream.Files.InsecureSkipVerify {
		log.Warn("TLS verification of brokers is DISABLED (--upstream-tls-insecure-skip-verify): anyone on the path can impersonate them")
	}
	opts := append([]proxy.Opt{proxy.WithLogger(log), proxy.WithRegisterer(reg)}, c.opts...)
	sec, err := c.clientSecurity(ctx, log, reg)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	defer sec.close()
	opts = append(opts, sec.opts...)
	p, err := proxy.New(opts...)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	log.Info("airlock-proxy starting", "version", version.Version, "bootstrap", p.BootstrapAddrs())

	force, forceStop := context.WithCancel(context.Background())
	defer forceStop()
	go func() {
		<-ctx.Done()
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sig)
		select {
		case <-sig:
			log.Warn("second signal: closing connections now")
			forceStop()
		case <-force.Done():
		}
	}()

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return p.RunWithForce(gctx, force) })
	for _, w := range sec.watchers {
		g.Go(func() error { return w(gctx) })
	}
	if c.httpAddr != "" {
		ln, err := net.Listen("tcp", c.httpAddr)
		if err != nil {
			log.Error("cannot listen for HTTP", "addr", c.httpAddr, "err", err)
			return 1
		}
		srv := &http.Server{Handler: proxy.HTTPHandler(p, reg), ReadHeaderTimeout: 5 * time.Second}
		g.Go(func() error {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			// Keep /readyz answering "draining" while connections drain.
			<-p.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		})
	}
	if err := g.Wait(); err != nil {
		log.Error("stopped on error", "err", err)
		return 1
	}
	log.Info("airlock-proxy stopped")
	return 0
}
