package testbed

import (
	"context"
	"errors"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Images names the images the testbed starts. `make images` builds them as
// airlock.local/<name>:dev, FROM scratch, so nothing is ever pulled.
type Images struct {
	TestBroker string
	Probe      string
	Toxiproxy  string
	Proxy      string
	Bridge     string
	Producer   string
	Consumer   string
}

// DefaultImages returns the names `make images` tags.
func DefaultImages() Images {
	return Images{
		TestBroker: "airlock.local/testbroker:dev",
		Probe:      "airlock.local/probe:dev",
		Toxiproxy:  "airlock.local/toxiproxy:dev",
		Proxy:      "airlock.local/proxy:dev",
		Bridge:     "airlock.local/bridge:dev",
		Producer:   "airlock.local/producer:dev",
		Consumer:   "airlock.local/consumer:dev",
	}
}

// withDefaults fills empty names from DefaultImages.
func (im Images) withDefaults() Images {
	d := DefaultImages()
	for _, f := range []struct {
		dst *string
		def string
	}{
		{&im.TestBroker, d.TestBroker}, {&im.Probe, d.Probe}, {&im.Toxiproxy, d.Toxiproxy},
		{&im.Proxy, d.Proxy}, {&im.Bridge, d.Bridge},
		{&im.Producer, d.Producer}, {&im.Consumer, d.Consumer},
	} {
		if *f.dst == "" {
			*f.dst = f.def
		}
	}
	return im
}

// ImageInspector is the part of the Docker client CheckImages uses.
type ImageInspector interface {
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (client.ImageInspectResult, error)
}

// CheckImages fails with ErrMissingImage naming every image that is not present
// locally. Call it once before a suite: a missing image would otherwise make
// testcontainers try to pull it.
func CheckImages(ctx context.Context, docker ImageInspector, images ...string) error {
	var errs []error
	for _, im := range images {
		if _, err := docker.ImageInspect(ctx, im); err != nil {
			if cerrdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("%s: %w", im, ErrMissingImage))
				continue
			}
			errs = append(errs, fmt.Errorf("inspect image %s: %w", im, err))
		}
	}
	return errors.Join(errs...)
}
