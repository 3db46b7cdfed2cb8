package proxy

import "github.com/twmb/franz-go/pkg/kmsg"

// rewriteFindCoordinator maps the coordinator of a FindCoordinator response: the
// single top-level one (v0-3) and the batched Coordinators (v4+). An errored
// coordinator carries no usable address and is left alone.
func rewriteFindCoordinator(p *Proxy, r kmsg.Response) (bool, error) {
	resp := r.(*kmsg.FindCoordinatorResponse)
	var changed bool
	if resp.ErrorCode == 0 && resp.Host != "" {
		c, err := mapEndpoint(p, resp.NodeID, &resp.Host, &resp.Port)
		if err != nil {
			return false, err
		}
		changed = c
	}
	for i := range resp.Coordinators {
		co := &resp.Coordinators[i]
		if co.ErrorCode != 0 || co.Host == "" {
			continue
		}
		c, err := mapEndpoint(p, co.NodeID, &co.Host, &co.Port)
		if err != nil {
			return false, err
		}
		changed = changed || c
	}
	return changed, nil
}
