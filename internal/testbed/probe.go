package testbed

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/airlock-kafka/airlock/internal/testbed/probe"
)

// ProbeOptions say where a probe container runs and how it probes.
type ProbeOptions struct {
	// Zones and Networks are joined as by ContainerSpec.
	Zones    []Zone
	Networks []string
	// Mode defaults to probe.TCP.
	Mode probe.Mode
	// Timeout bounds each target (default 3s).
	Timeout time.Duration
	// Args are further airlock-probe flags (TLS, SASL for Kafka and Metadata
	// modes; see Secrets.ClientArgs).
	Args []string
	// Files are copied into the container (Secrets.ClientFiles).
	Files []File
}

// ProbeRun is the outcome of one probe container.
type ProbeRun struct {
	Results  []probe.Result
	ExitCode int
	// Logs is the container's whole output, for failure messages.
	Logs string
}

// Result returns the result for target.
func (r ProbeRun) Result(target string) (probe.Result, bool) {
	for _, res := range r.Results {
		if res.Target == target {
			return res, true
		}
	}
	return probe.Result{}, false
}

var probeSeq atomic.Int64

// Probe runs airlock-probe in a new container against targets and waits for it to
// exit. The container stays (exited) until Terminate, so CollectLogs includes it.
func (tb *Testbed) Probe(ctx context.Context, o ProbeOptions, targets ...string) (ProbeRun, error) {
	if len(targets) == 0 {
		return ProbeRun{}, fmt.Errorf("%w: probe without targets", ErrBadSpec)
	}
	if o.Mode == "" {
		o.Mode = probe.TCP
	}
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	cmd := append([]string{"--mode", string(o.Mode), "--timeout", o.Timeout.String()}, o.Args...)
	cmd = append(cmd, targets...)
	c, err := tb.Start(ctx, ContainerSpec{
		Name:     fmt.Sprintf("probe-%d", probeSeq.Add(1)),
		Image:    tb.images.Probe,
		Zones:    o.Zones,
		Networks: o.Networks,
		Cmd:      cmd,
		Files:    o.Files,
		WaitFor:  wait.ForExit().WithExitTimeout(tb.timeout),
	})
	if err != nil {
		return ProbeRun{}, err
	}
	run := ProbeRun{}
	if run.ExitCode, err = c.ExitCode(ctx); err != nil {
		return run, err
	}
	if run.Logs, err = c.Logs(ctx); err != nil {
		return run, err
	}
	run.Results = parseResults(run.Logs)
	if len(run.Results) != len(targets) {
		return run, fmt.Errorf("probe %s: %d results for %d targets (exit %d):\n%s", c.DockerName, len(run.Results), len(targets), run.ExitCode, run.Logs)
	}
	return run, nil
}

// parseResults picks the JSON result lines out of a probe's output.
func parseResults(logs string) []probe.Result {
	var out []probe.Result
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var r probe.Result
		if json.Unmarshal([]byte(line), &r) == nil && r.Target != "" {
			out = append(out, r)
		}
	}
	return out
}
