package proxy

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// rewriteDescribeQuorum maps the listeners of every quorum node (v2+). Their port is
// a uint16 on the wire, unlike every other endpoint.
func rewriteDescribeQuorum(p *Proxy, r kmsg.Response) (bool, error) {
	resp := r.(*kmsg.DescribeQuorumResponse)
	var changed bool
	for i := range resp.Nodes {
		n := &resp.Nodes[i]
		for j := range n.Listeners {
			l := &n.Listeners[j]
			port := int32(l.Port)
			c, err := mapEndpoint(p, n.NodeID, &l.Host, &port)
			if err != nil {
				return false, err
			}
			if port < 0 || port > 65535 {
				return false, fmt.Errorf("mapped port %d of node %d does not fit DescribeQuorum: %w", port, n.NodeID, ErrUnmapped)
			}
			l.Port = uint16(port)
			changed = changed || c
		}
	}
	return changed, nil
}
