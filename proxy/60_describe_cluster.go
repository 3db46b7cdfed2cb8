package proxy

import "github.com/twmb/franz-go/pkg/kmsg"

// rewriteDescribeCluster maps every endpoint of a DescribeCluster response, brokers
// and (EndpointType 2) controllers alike: admin tools dial what they read here.
func rewriteDescribeCluster(p *Proxy, r kmsg.Response) (bool, error) {
	resp := r.(*kmsg.DescribeClusterResponse)
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
