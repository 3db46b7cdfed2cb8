package testbed

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// ContainerSpec describes a container to start in the testbed. It is the building
// block for brokers, probes and, later, proxies, toxiproxy, the bridge and clients.
type ContainerSpec struct {
	// Name is unique within the testbed; it is the container's network alias on
	// every network it joins and the suffix of its docker name.
	Name string
	// Image to run; it must be present locally.
	Image string
	// Zones are the zone networks to join (at least one unless Networks is set).
	Zones []Zone
	// Networks are further networks to join by docker name (an access network, to
	// probe from it, for example).
	Networks []string
	// Aliases are extra network aliases on every network.
	Aliases []string
	// Cmd is the command (the image's entrypoint is the binary).
	Cmd []string
	// Env sets environment variables.
	Env map[string]string
	// HostPorts are container ports ("8080/tcp" or "8080") published on 127.0.0.1
	// for the test process. A container in an internal zone then also joins that
	// zone's access network.
	HostPorts []string
	// WaitFor is the readiness check. Scratch images have no shell: use
	// wait.ForLog, wait.ForHTTP or wait.ForExit, never wait.ForListeningPort
	// without SkipInternalCheck.
	WaitFor wait.Strategy
	// Files are copied into the container before it starts: scratch images have
	// no shell to fetch them, and a copy (unlike a bind mount) takes the mode
	// given here whoever owns the file on the host.
	Files []File
	// Volumes are named docker volumes (see Testbed.Volume) to mount.
	Volumes []VolumeMount
	// User overrides the image's user ("uid:gid"); empty keeps it.
	User string
}

// File is a host file copied into a container.
type File struct {
	HostPath      string
	ContainerPath string
	// Mode defaults to 0644: the images run as an unprivileged user that does
	// not own copied files, so a key must be world-readable inside the
	// container (it is a test container, alone in its file system).
	Mode int64
}

// VolumeMount mounts a named volume.
type VolumeMount struct {
	// Volume is the docker name, as returned by Testbed.Volume.
	Volume string
	// Target is the mount point in the container.
	Target string
}

func (s ContainerSpec) validate() error {
	switch {
	case !nameRE.MatchString(s.Name):
		return fmt.Errorf("%w: container name %q", ErrBadSpec, s.Name)
	case s.Image == "":
		return fmt.Errorf("%w: container %s has no image", ErrBadSpec, s.Name)
	case len(s.Zones) == 0 && len(s.Networks) == 0:
		return fmt.Errorf("%w: container %s joins no network", ErrBadSpec, s.Name)
	}
	for _, z := range s.Zones {
		if !slices.Contains(Zones, z) {
			return fmt.Errorf("%w: container %s: unknown zone %q", ErrBadSpec, s.Name, z)
		}
	}
	for _, p := range s.HostPorts {
		if _, err := network.ParsePort(portProto(p)); err != nil {
			return fmt.Errorf("%w: container %s: host port %q: %v", ErrBadSpec, s.Name, p, err)
		}
	}
	for _, f := range s.Files {
		if f.HostPath == "" || !strings.HasPrefix(f.ContainerPath, "/") {
			return fmt.Errorf("%w: container %s: file %q -> %q needs a host path and an absolute container path", ErrBadSpec, s.Name, f.HostPath, f.ContainerPath)
		}
	}
	for _, v := range s.Volumes {
		if v.Volume == "" || !strings.HasPrefix(v.Target, "/") {
			return fmt.Errorf("%w: container %s: volume %q at %q needs a name and an absolute target", ErrBadSpec, s.Name, v.Volume, v.Target)
		}
	}
	return nil
}

// filesArchive returns a tar of Files for one copy into the container: one
// copy per file (testcontainers' Files) costs a round trip each, which adds up
// on a loaded docker daemon.
func (s ContainerSpec) filesArchive() ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	written := map[string]bool{}
	for _, f := range s.Files {
		data, err := os.ReadFile(f.HostPath)
		if err != nil {
			return nil, fmt.Errorf("container %s: file for %s: %w", s.Name, f.ContainerPath, err)
		}
		name := strings.TrimPrefix(path.Clean(f.ContainerPath), "/")
		// Parent directories first, top down, world-readable: the image's user
		// must reach the file.
		var parents []string
		for d := path.Dir(name); d != "." && !written[d]; d = path.Dir(d) {
			parents = append(parents, d)
		}
		for i := len(parents) - 1; i >= 0; i-- {
			written[parents[i]] = true
			if err := tw.WriteHeader(&tar.Header{Name: parents[i] + "/", Mode: 0o755, Typeflag: tar.TypeDir}); err != nil {
				return nil, fmt.Errorf("container %s: archive %s: %w", s.Name, parents[i], err)
			}
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return nil, fmt.Errorf("container %s: archive %s: %w", s.Name, name, err)
		}
		if _, err := tw.Write(data); err != nil {
			return nil, fmt.Errorf("container %s: archive %s: %w", s.Name, name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("container %s: archive: %w", s.Name, err)
	}
	return buf.Bytes(), nil
}

// mounts converts Volumes for docker.
func (s ContainerSpec) mounts() []mount.Mount {
	out := make([]mount.Mount, 0, len(s.Volumes))
	for _, v := range s.Volumes {
		out = append(out, mount.Mount{Type: mount.TypeVolume, Source: v.Volume, Target: v.Target})
	}
	return out
}

// portProto adds "/tcp" to a bare port number.
func portProto(p string) string {
	if strings.Contains(p, "/") {
		return p
	}
	return p + "/tcp"
}

// Container is a started container.
type Container struct {
	// Name is the spec's name (the network alias); DockerName the container's name.
	Name       string
	DockerName string
	Spec       ContainerSpec
	// C is the testcontainers handle, for what Container does not wrap.
	C *testcontainers.DockerContainer

	tb *Testbed
}

// Start starts a container and waits for it to be ready. The container is
// labelled for cleanup before it is created, so Terminate removes it even when
// its start fails.
func (tb *Testbed) Start(ctx context.Context, s ContainerSpec) (*Container, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	var nets []string
	// With published ports the routable network comes first: docker publishes
	// through it, and an internal network cannot publish at all.
	if len(s.HostPorts) > 0 && len(s.Zones) > 0 && s.Zones[0].internal() {
		n, err := tb.network(ctx, string(s.Zones[0])+"-access", false)
		if err != nil {
			return nil, err
		}
		nets = append(nets, n)
	}
	for _, z := range s.Zones {
		n, err := tb.network(ctx, string(z), z.internal())
		if err != nil {
			return nil, err
		}
		nets = append(nets, n)
	}
	nets = append(nets, s.Networks...)
	aliases := append([]string{s.Name}, s.Aliases...)
	netAliases := make(map[string][]string, len(nets))
	for _, n := range nets {
		netAliases[n] = aliases
	}
	labels := resourceLabels(tb.run, tb.name)
	labels["airlock.e2e.name"] = s.Name

	exposed := make([]string, 0, len(s.HostPorts))
	for _, p := range s.HostPorts {
		exposed = append(exposed, portProto(p))
	}
	dockerName := tb.prefix() + "-" + s.Name
	req := testcontainers.ContainerRequest{
		Image:          s.Image,
		Name:           dockerName,
		Cmd:            s.Cmd,
		Env:            maps.Clone(s.Env),
		Labels:         labels,
		Networks:       nets,
		NetworkAliases: netAliases,
		ExposedPorts:   exposed,
		WaitingFor:     s.WaitFor,
		HostConfigModifier: func(hc *container.HostConfig) {
			hc.PortBindings = loopbackBindings(exposed)
			hc.Mounts = append(hc.Mounts, s.mounts()...)
		},
	}
	if s.User != "" {
		req.ConfigModifier = func(cc *container.Config) { cc.User = s.User }
	}
	if len(s.Files) > 0 {
		archive, err := s.filesArchive()
		if err != nil {
			return nil, err
		}
		req.LifecycleHooks = []testcontainers.ContainerLifecycleHooks{{
			PostCreates: []testcontainers.ContainerHook{func(ctx context.Context, ctr testcontainers.Container) error {
				_, err := tb.docker.CopyToContainer(ctx, ctr.GetContainerID(), client.CopyToContainerOptions{DestinationPath: "/", Content: bytes.NewReader(archive)})
				if err != nil {
					return fmt.Errorf("copy files into %s: %w", dockerName, err)
				}
				return nil
			}},
		}}
	}
	sctx, cancel := context.WithTimeout(ctx, tb.timeout)
	defer cancel()
	tb.log.Info("starting container", "name", dockerName, "image", s.Image, "networks", nets)
	gc, err := testcontainers.GenericContainer(sctx, testcontainers.GenericContainerRequest{
		ContainerRequest: req,
		Started:          true,
		Logger:           tb.tcLog,
	})
	c := &Container{Name: s.Name, DockerName: dockerName, Spec: s, tb: tb}
	if dc, ok := gc.(*testcontainers.DockerContainer); ok && dc != nil {
		c.C = dc
		tb.mu.Lock()
		tb.containers = append(tb.containers, c)
		tb.mu.Unlock()
	}
	if err != nil {
		return c, fmt.Errorf("start %s: %w", dockerName, err)
	}
	return c, nil
}

// loopbackBindings publishes every port on 127.0.0.1 with a free host port: only
// the test process can use them, not other containers through the host's address.
func loopbackBindings(ports []string) network.PortMap {
	pm := make(network.PortMap, len(ports))
	for _, p := range ports {
		port, err := network.ParsePort(p)
		if err != nil {
			continue // validated before
		}
		pm[port] = []network.PortBinding{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: ""}}
	}
	return pm
}

// HostAddr returns the 127.0.0.1:port address a published container port is
// reachable at from the test process. Mapped ports change when a container is
// stopped and started: ask again after that.
func (c *Container) HostAddr(ctx context.Context, port string) (string, error) {
	if c.C == nil {
		return "", fmt.Errorf("container %s was not created", c.DockerName)
	}
	p, err := c.C.MappedPort(ctx, portProto(port))
	if err != nil {
		return "", fmt.Errorf("%s: mapped port of %s: %w", c.DockerName, port, err)
	}
	return net.JoinHostPort("127.0.0.1", p.Port()), nil
}

// Endpoint is a container's attachment to one network.
type Endpoint struct {
	IP      string
	Gateway string // "" on an internal network
}

// Endpoints returns the container's attachment to each network it joined, by
// docker network name.
func (c *Container) Endpoints(ctx context.Context) (map[string]Endpoint, error) {
	if c.C == nil {
		return nil, fmt.Errorf("container %s was not created", c.DockerName)
	}
	in, err := c.C.Inspect(ctx)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", c.DockerName, err)
	}
	out := make(map[string]Endpoint)
	if in.NetworkSettings != nil {
		for name, ep := range in.NetworkSettings.Networks {
			if ep == nil || !ep.IPAddress.IsValid() {
				continue
			}
			e := Endpoint{IP: ep.IPAddress.String()}
			if ep.Gateway.IsValid() {
				e.Gateway = ep.Gateway.String()
			}
			out[name] = e
		}
	}
	return out, nil
}

// Logs returns the container's output so far (stdout and stderr).
func (c *Container) Logs(ctx context.Context) (string, error) {
	if c.C == nil {
		return "", fmt.Errorf("container %s was not created", c.DockerName)
	}
	rc, err := c.C.Logs(ctx)
	if err != nil {
		return "", fmt.Errorf("logs of %s: %w", c.DockerName, err)
	}
	defer func() { _ = rc.Close() }()
	b, err := io.ReadAll(rc)
	if err != nil {
		return string(b), fmt.Errorf("read logs of %s: %w", c.DockerName, err)
	}
	return string(b), nil
}

// ExitCode returns the exit code of a container that has stopped.
func (c *Container) ExitCode(ctx context.Context) (int, error) {
	if c.C == nil {
		return 0, fmt.Errorf("container %s was not created", c.DockerName)
	}
	st, err := c.C.State(ctx)
	if err != nil {
		return 0, fmt.Errorf("state of %s: %w", c.DockerName, err)
	}
	if st.Running {
		return 0, fmt.Errorf("container %s is still running", c.DockerName)
	}
	return st.ExitCode, nil
}
