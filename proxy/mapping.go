package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"text/template"
)

// Mapping ties an upstream broker address to a local listener and the address
// clients are told to use for it.
type Mapping struct {
	// Upstream is the broker's advertised address (host:port).
	Upstream string
	// Listen is where the proxy listens for this broker (host:port; port 0 = random).
	Listen string
	// Advertised is what clients are told; empty means Listen (with its actual port).
	Advertised string
}

// ParseMapping parses "UPSTREAM,LISTEN[,ADVERTISED]", the form of
// --bootstrap-server-mapping.
func ParseMapping(s string) (Mapping, error) {
	parts := strings.Split(s, ",")
	if len(parts) < 2 || len(parts) > 3 {
		return Mapping{}, fmt.Errorf("%w %q: want UPSTREAM_HOST:PORT,LISTEN_HOST:PORT[,ADVERTISED_HOST:PORT]", ErrBadMapping, s)
	}
	m := Mapping{Upstream: strings.TrimSpace(parts[0]), Listen: strings.TrimSpace(parts[1])}
	if len(parts) == 3 {
		m.Advertised = strings.TrimSpace(parts[2])
	}
	for _, a := range []struct{ what, addr string }{{"upstream", m.Upstream}, {"listen", m.Listen}, {"advertised", m.Advertised}} {
		if a.addr == "" && a.what == "advertised" {
			continue
		}
		if _, _, err := splitHostPort(a.addr); err != nil {
			return Mapping{}, fmt.Errorf("%w %q: %s address: %w", ErrBadMapping, s, a.what, err)
		}
	}
	return m, nil
}

// ParsePair parses "FROM,TO", the form of --external-server-mapping and
// --dial-address-mapping.
func ParsePair(s string) (from, to string, err error) {
	from, to, ok := strings.Cut(s, ",")
	from, to = strings.TrimSpace(from), strings.TrimSpace(to)
	if !ok || strings.Contains(to, ",") {
		return "", "", fmt.Errorf("%w %q: want HOST:PORT,HOST:PORT", ErrBadMapping, s)
	}
	for _, a := range []string{from, to} {
		if _, _, err := splitHostPort(a); err != nil {
			return "", "", fmt.Errorf("%w %q: %w", ErrBadMapping, s, err)
		}
	}
	return from, to, nil
}

func splitHostPort(addr string) (string, int32, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", port, err)
	}
	return host, int32(p), nil
}

func joinHostPort(host string, port int32) string {
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

// isUnspecified reports whether host is a wildcard bind address, which must never
// be advertised to clients.
func isUnspecified(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// advertisedData feeds the dynamic advertised-listener template.
type advertisedData struct {
	NodeID       int32
	Port         int32
	UpstreamHost string
	UpstreamPort int32
}

func renderAdvertised(t *template.Template, d advertisedData) (string, int32, error) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, d); err != nil {
		return "", 0, fmt.Errorf("dynamic advertised listener template: %w", err)
	}
	out := strings.TrimSpace(buf.String())
	if h, p, err := splitHostPort(out); err == nil {
		return h, p, nil
	}
	if out == "" {
		return "", 0, fmt.Errorf("dynamic advertised listener template rendered an empty host")
	}
	return out, d.Port, nil
}

// ParseAdvertisedTemplate parses a --dynamic-advertised-listener value.
func ParseAdvertisedTemplate(s string) (*template.Template, error) {
	t, err := template.New("advertised").Option("missingkey=error").Parse(s)
	if err != nil {
		return nil, fmt.Errorf("dynamic advertised listener template %q: %w", s, err)
	}
	// Execute once now: a misspelled field ({{.NodeId}}) must fail at start-up, not
	// when the first broker is discovered.
	if err := t.Execute(io.Discard, advertisedData{}); err != nil {
		return nil, fmt.Errorf("dynamic advertised listener template %q (fields: .NodeID .Port .UpstreamHost .UpstreamPort): %w", s, err)
	}
	return t, nil
}
