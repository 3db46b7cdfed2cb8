package proxy

import "github.com/twmb/franz-go/pkg/kmsg"

// rewriteMetadata maps every broker of a Metadata response (all versions).
func rewriteMetadata(p *Proxy, r kmsg.Response) (bool, error) {
	resp := r.(*kmsg.MetadataResponse)
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
