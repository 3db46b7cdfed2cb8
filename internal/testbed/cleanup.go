package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Every container, network and volume the testbed creates carries these labels, so a run
// can remove exactly what it made, and the next run can remove what a killed run
// left behind, without touching anything else on the docker host.
const (
	LabelE2E     = "airlock.e2e"         // always "1"
	LabelRun     = "airlock.e2e.run"     // the run id shared by a suite's testbeds
	LabelTestbed = "airlock.e2e.testbed" // one testbed within the run
	LabelPID     = "airlock.e2e.pid"     // the creating process
	LabelHost    = "airlock.e2e.host"    // the creating process's host name
)

// foreignStaleAfter is when resources made from another host (where we cannot
// check the creating process) count as abandoned.
const foreignStaleAfter = 6 * time.Hour

// DockerAPI is the part of the Docker client the cleanup functions use.
type DockerAPI interface {
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerRemove(ctx context.Context, id string, options client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
	NetworkList(ctx context.Context, options client.NetworkListOptions) (client.NetworkListResult, error)
	NetworkRemove(ctx context.Context, id string, options client.NetworkRemoveOptions) (client.NetworkRemoveResult, error)
	VolumeList(ctx context.Context, options client.VolumeListOptions) (client.VolumeListResult, error)
	VolumeRemove(ctx context.Context, id string, options client.VolumeRemoveOptions) (client.VolumeRemoveResult, error)
}

func resourceLabels(run, testbed string) map[string]string {
	host, _ := os.Hostname()
	return map[string]string{
		LabelE2E:     "1",
		LabelRun:     run,
		LabelTestbed: testbed,
		LabelPID:     strconv.Itoa(os.Getpid()),
		LabelHost:    host,
	}
}

// Kinds of labelled resources, in the order they must be removed: a network or
// volume in use by a container cannot go before it.
const (
	kindContainer = "container"
	kindNetwork   = "network"
	kindVolume    = "volume"
)

// resource is a container, network or volume found by label.
type resource struct {
	id, name string
	kind     string
	labels   map[string]string
	created  time.Time
}

func (r resource) String() string { return r.kind + " " + r.name }

// list returns the containers (first), networks and volumes carrying every label
// in match.
func list(ctx context.Context, docker DockerAPI, match map[string]string) ([]resource, error) {
	f := make(client.Filters)
	keys := make([]string, 0, len(match))
	for k := range match {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f.Add("label", k+"="+match[k])
	}
	cs, err := docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var out []resource
	for _, c := range cs.Items {
		name := c.ID
		if len(c.Names) > 0 {
			name = c.Names[0]
		}
		out = append(out, resource{id: c.ID, name: name, kind: kindContainer, labels: c.Labels, created: time.Unix(c.Created, 0)})
	}
	ns, err := docker.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	for _, n := range ns.Items {
		out = append(out, resource{id: n.ID, name: n.Name, kind: kindNetwork, labels: n.Labels, created: n.Created})
	}
	vs, err := docker.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", err)
	}
	for _, v := range vs.Items {
		// An unparsable time reads as the zero time: old, so stale when foreign.
		created, _ := time.Parse(time.RFC3339, v.CreatedAt)
		out = append(out, resource{id: v.Name, name: v.Name, kind: kindVolume, labels: v.Labels, created: created})
	}
	return out, nil
}

// remove deletes rs in order (containers before the networks and volumes they
// use). Resources already gone are not an error.
func remove(ctx context.Context, docker DockerAPI, rs []resource) error {
	var errs []error
	for _, r := range rs {
		var err error
		switch r.kind {
		case kindNetwork:
			_, err = docker.NetworkRemove(ctx, r.id, client.NetworkRemoveOptions{})
		case kindVolume:
			_, err = docker.VolumeRemove(ctx, r.id, client.VolumeRemoveOptions{Force: true})
		default:
			_, err = docker.ContainerRemove(ctx, r.id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		}
		if err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove %s: %w", r, err))
		}
	}
	return errors.Join(errs...)
}

// RemoveRun deletes every container, network and volume of a run.
func RemoveRun(ctx context.Context, docker DockerAPI, run string) error {
	rs, err := list(ctx, docker, map[string]string{LabelE2E: "1", LabelRun: run})
	if err != nil {
		return err
	}
	return remove(ctx, docker, rs)
}

// RemoveStale deletes what earlier runs left behind (a killed test binary runs no
// cleanup): resources whose creating process is gone, or, when made from another
// host, older than six hours. A concurrent run's resources stay.
func RemoveStale(ctx context.Context, docker DockerAPI) ([]string, error) {
	rs, err := list(ctx, docker, map[string]string{LabelE2E: "1"})
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	now := time.Now()
	var stale []resource
	var names []string
	for _, r := range rs {
		if isStale(r.labels, r.created, now, host, processAlive) {
			stale = append(stale, r)
			names = append(names, r.String())
		}
	}
	return names, remove(ctx, docker, stale)
}

// Leftovers lists the containers, networks and volumes of a run that still exist.
func Leftovers(ctx context.Context, docker DockerAPI, run string) ([]string, error) {
	rs, err := list(ctx, docker, map[string]string{LabelE2E: "1", LabelRun: run})
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.String())
	}
	return out, nil
}

// isStale decides whether a labelled resource was abandoned.
func isStale(labels map[string]string, created, now time.Time, host string, alive func(int) bool) bool {
	pid, err := strconv.Atoi(labels[LabelPID])
	if err != nil || pid <= 0 {
		return true // ours by label, creator unknown
	}
	if labels[LabelHost] != host {
		return now.Sub(created) > foreignStaleAfter
	}
	return !alive(pid)
}

// processAlive reports whether pid runs. EPERM means it exists, owned by another
// user; a zombie (a killed test binary nobody reaped yet) does not run.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // no /proc to ask: trust kill
	}
	// The state follows the parenthesised command name, which may hold spaces.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}
