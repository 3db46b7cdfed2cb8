package benchutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
)

// Forward accepts connections on ln and pipes each, byte for byte, to target
// until ctx is done. It parses nothing: io.Copy between two *net.TCPConn is
// turned into splice(2) by the Go runtime on Linux, so the payload never enters
// user space. That is the floor any proxy hop is measured against. Each connection
// costs two goroutines, one per direction.
func Forward(ctx context.Context, ln net.Listener, target string, log *slog.Logger) error {
	var (
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
		wg    sync.WaitGroup
	)
	track := func(c net.Conn, add bool) {
		mu.Lock()
		defer mu.Unlock()
		if add {
			conns[c] = struct{}{}
		} else {
			delete(conns, c)
		}
	}
	stop := context.AfterFunc(ctx, func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for c := range conns {
			_ = c.Close()
		}
	})
	defer stop()
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accept on %s: %w", ln.Addr(), err)
		}
		track(c, true)
		wg.Go(func() {
			defer track(c, false)
			if err := pipe(ctx, c, target, track); err != nil && ctx.Err() == nil {
				log.Debug("forwarded connection ended", "client", c.RemoteAddr().String(), "err", err)
			}
		})
	}
}

// pipe dials target for client and copies both ways until either side closes.
func pipe(ctx context.Context, client net.Conn, target string, track func(net.Conn, bool)) error {
	d := net.Dialer{Timeout: 10 * time.Second}
	up, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		_ = client.Close()
		return fmt.Errorf("dial %s: %w", target, err)
	}
	track(up, true)
	defer track(up, false)
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(up, client)
		// Kafka never half-closes: one side ending ends the connection.
		_ = up.Close()
		_ = client.Close()
		done <- err
	}()
	_, err = io.Copy(client, up)
	_ = up.Close()
	_ = client.Close()
	if err2 := <-done; err == nil {
		err = err2
	}
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// ServeForwarder is the forwarder process: Forward from listen to target, and
// Go runtime metrics (goroutines, heap) at http://httpAddr/metrics so the
// benchmark reads it the way it reads airlock-proxy.
func ServeForwarder(ctx context.Context, listen, target, httpAddr string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("forwarder listen %s: %w", listen, err)
	}
	hln, err := net.Listen("tcp", httpAddr)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("forwarder HTTP listen %s: %w", httpAddr, err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector())
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return Forward(gctx, ln, target, log) })
	g.Go(func() error {
		if err := srv.Serve(hln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("forwarder HTTP: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	log.Info("forwarder serving", "listen", ln.Addr().String(), "target", target, "http", hln.Addr().String())
	return g.Wait()
}
