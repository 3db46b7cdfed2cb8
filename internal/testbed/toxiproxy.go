package testbed

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/testcontainers/testcontainers-go/wait"
)

// toxiproxyReadyMessage is what toxiproxy logs just before it listens.
const toxiproxyReadyMessage = "Starting Toxiproxy HTTP server"

// Toxiproxy is the topology's toxiproxy container. Faults go through Client
// (AddToxic with toxicity 1: the Go client sends 0 as written, which never
// fires; Disable closes connections, a timeout-0 toxic keeps them half-open).
type Toxiproxy struct {
	*Container
	// Client talks to the API through its published port.
	Client *toxiproxy.Client

	api string
}

// StartToxiproxy starts toxiproxy in the bridge zone, known there by aliases,
// with ports published for the test process (the proxies created later listen
// on them: a container's published ports are fixed at creation), and waits
// until its API answers from the host.
func (tb *Testbed) StartToxiproxy(ctx context.Context, aliases []string, ports []int) (*Toxiproxy, error) {
	host := []string{strconv.Itoa(ToxiproxyAPIPort)}
	for _, p := range ports {
		host = append(host, strconv.Itoa(p))
	}
	c, err := tb.Start(ctx, ContainerSpec{
		Name:      "toxiproxy",
		Image:     tb.images.Toxiproxy,
		Zones:     []Zone{Bridge},
		Aliases:   aliases,
		HostPorts: host,
		WaitFor:   wait.ForLog(toxiproxyReadyMessage),
	})
	if err != nil {
		return nil, err
	}
	api, err := c.HostAddr(ctx, strconv.Itoa(ToxiproxyAPIPort))
	if err != nil {
		return nil, err
	}
	t := &Toxiproxy{Container: c, Client: toxiproxy.NewClient("http://" + api), api: "http://" + api}
	hctx, cancel := context.WithTimeout(ctx, tb.timeout)
	defer cancel()
	if err := pollHTTP(hctx, t.api+"/version"); err != nil {
		return nil, fmt.Errorf("toxiproxy API: %w", err)
	}
	return t, nil
}

// APIURL returns the base URL of toxiproxy's API on the host.
func (t *Toxiproxy) APIURL() string { return t.api }

// CreateProxy makes toxiproxy listen on port (on every interface of its
// container) and forward to upstream, which it resolves per connection.
func (t *Toxiproxy) CreateProxy(name string, port int, upstream string) (*toxiproxy.Proxy, error) {
	p, err := t.Client.CreateProxy(name, "0.0.0.0:"+strconv.Itoa(port), upstream)
	if err != nil {
		return nil, fmt.Errorf("toxiproxy proxy %s (:%d -> %s): %w", name, port, upstream, err)
	}
	return p, nil
}

// Reset enables every proxy again and removes every toxic (between specs).
func (t *Toxiproxy) Reset() error {
	if err := t.Client.ResetState(); err != nil {
		return fmt.Errorf("toxiproxy reset: %w", err)
	}
	return nil
}

// pollHTTP GETs url until it answers 200 or ctx ends.
func pollHTTP(ctx context.Context, url string) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		err := getOK(ctx, url)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s never answered 200: %w", url, err)
		case <-tick.C:
		}
	}
}

func getOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
