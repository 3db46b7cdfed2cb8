package proxy

import "github.com/twmb/franz-go/pkg/kmsg"

// rewriteProduce maps the KIP-951 node endpoints (tagged field 0, v10+) a broker
// adds when it tells the client the partition's leader moved.
func rewriteProduce(p *Proxy, r kmsg.Response) (bool, error) {
	resp := r.(*kmsg.ProduceResponse)
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
