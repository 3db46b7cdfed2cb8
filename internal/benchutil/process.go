package benchutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"time"
)

// Process is a process under test (a proxy or the forwarder). It dies with the
// benchmark: Stop kills it, and on Linux the kernel kills it if the benchmark
// itself dies first.
type Process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // valid after done is closed
}

// StartProcess starts path with args; its stdout and stderr go to out.
func StartProcess(name, path string, args []string, out io.Writer) (*Process, error) {
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = dieWithParent()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, path, err)
	}
	p := &Process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid returns the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Alive returns ErrProcessExited (with the exit status) once the process is gone.
func (p *Process) Alive() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s: %w (%v)", p.name, ErrProcessExited, p.err)
	default:
		return nil
	}
}

// Stop kills the process and waits for it. The benchmark has what it needs by
// then, so there is no point in a graceful drain.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// WaitHTTP polls url until it answers 200 or timeout passes, failing early when
// the process exits.
func (p *Process) WaitHTTP(ctx context.Context, hc *http.Client, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if err := p.Alive(); err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("%s readiness %s: %w", p.name, url, err)
		}
		resp, err := hc.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %s", resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s after %s: %w", p.name, url, timeout, errors.Join(ctx.Err(), last))
		case <-p.done:
		case <-tick.C:
		}
	}
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
// Another process may take it before the process under test binds it; the
// readiness wait then fails with a clear error rather than measuring the wrong
// thing.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	return addr, nil
}
