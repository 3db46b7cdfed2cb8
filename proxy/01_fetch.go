package proxy

import "github.com/twmb/franz-go/pkg/kmsg"

// rewriteFetch maps the KIP-951 node endpoints (tagged field 0, v16+). Most fetch
// responses carry none and are sent on as the broker encoded them.
func rewriteFetch(p *Proxy, r kmsg.Response) (bool, error) {
	resp := r.(*kmsg.FetchResponse)
	var changed bool
	for i := range resp.Brokers {
		b := &resp.Brokers[i]
		c, err := mapEndpoint(p, b.NodeID, &b.Host, &b.Port)
		if err != nil {
			return false, err
		}
		changed = changed || c
	}
	return changed, nil
}
