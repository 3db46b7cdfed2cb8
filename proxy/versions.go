package proxy

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// versionsTTL is how long a broker's ApiVersions answer is reused for clients that
// ask before they authenticated (and so must not reach the broker).
const versionsTTL = time.Minute

// versionCache holds the last ApiVersions answer of each broker.
type versionCache struct {
	mu      sync.Mutex
	entries map[string]versionEntry
}

type versionEntry struct {
	resp *kmsg.ApiVersionsResponse
	at   time.Time
}

// brokerVersions returns r's broker ApiVersions (v3, or v0 for brokers before 2.4),
// asking it over a connection of the proxy's own when the cached answer is stale.
func (p *Proxy) brokerVersions(ctx context.Context, r *route) (*kmsg.ApiVersionsResponse, error) {
	p.versions.mu.Lock()
	e, ok := p.versions.entries[r.dial]
	p.versions.mu.Unlock()
	if ok && time.Since(e.at) < versionsTTL {
		return e.resp, nil
	}
	nc, _, err := p.dialBroker(ctx, r)
	if err != nil {
		return nil, err
	}
	defer func() { _ = nc.Close() }()
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	} else {
		_ = nc.SetDeadline(time.Now().Add(p.cfg.dialTimeout))
	}
	var resp *kmsg.ApiVersionsResponse
	for corr, v := range []int16{3, 0} {
		req := kmsg.NewPtrApiVersionsRequest()
		req.SetVersion(v)
		req.ClientSoftwareName, req.ClientSoftwareVersion = "airlock-proxy", "1"
		resp = kmsg.NewPtrApiVersionsResponse()
		if err := roundTrip(nc, req, resp, int32(corr)); err != nil {
			// A broker without v3 answers in v0 with UNSUPPORTED_VERSION; decoding that
			// as v3 may fail, so any failure at v3 retries at v0 on a new connection.
			if v == 0 {
				return nil, err
			}
			_ = nc.Close()
			if nc, _, err = p.dialBroker(ctx, r); err != nil {
				return nil, err
			}
			_ = nc.SetDeadline(time.Now().Add(p.cfg.dialTimeout))
			continue
		}
		if resp.ErrorCode == 0 {
			break
		}
		if v == 0 {
			return nil, fmt.Errorf("ApiVersions from %s: error code %d", r.dial, resp.ErrorCode)
		}
	}
	keys := make([]int16, 0, len(resp.ApiKeys))
	for _, k := range resp.ApiKeys {
		keys = append(keys, k.ApiKey)
	}
	p.noteUpstreamKeys(keys)
	p.versions.mu.Lock()
	if p.versions.entries == nil {
		p.versions.entries = map[string]versionEntry{}
	}
	p.versions.entries[r.dial] = versionEntry{resp: resp, at: time.Now()}
	p.versions.mu.Unlock()
	return resp, nil
}

// localAPIVersions answers an ApiVersions request of version v from cached broker
// versions, clamped like forwarded answers, with the SASL versions the proxy itself
// speaks to clients.
func localAPIVersions(cached *kmsg.ApiVersionsResponse, v int16) *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	if v > resp.MaxVersion() {
		// As Kafka does: answer in v0 with the versions of ApiVersions we support.
		resp.SetVersion(0)
		resp.ErrorCode = 35
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MaxVersion = 18, resp.MaxVersion()
		resp.ApiKeys = append(resp.ApiKeys, k)
		return resp
	}
	*resp = *cached
	resp.ApiKeys = nil
	resp.SetVersion(v)
	sasl := map[int16]int16{17: 1, 36: 2}
	for _, k := range cached.ApiKeys {
		if maxV, ok := sasl[k.ApiKey]; ok {
			k.MinVersion, k.MaxVersion = 0, maxV
			delete(sasl, k.ApiKey)
		} else if decodes(k.ApiKey) {
			k.MaxVersion = min(k.MaxVersion, lookupKey(k.ApiKey).maxVer)
		}
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	for key, maxV := range sasl {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MaxVersion = key, maxV
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	return resp
}
