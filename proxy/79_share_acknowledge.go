package proxy

import "github.com/twmb/franz-go/pkg/kmsg"

// rewriteShareAcknowledge maps the node endpoints of a ShareAcknowledge response.
func rewriteShareAcknowledge(p *Proxy, r kmsg.Response) (bool, error) {
	resp := r.(*kmsg.ShareAcknowledgeResponse)
	var changed bool
	for i := range resp.NodeEndpoints {
		b := &resp.NodeEndpoints[i]
		c, err := mapEndpoint(p, b.NodeID, &b.Host, &b.Port)
		if err != nil {
			return false, err
		}
		changed = changed || c
	}
	return changed, nil
}
