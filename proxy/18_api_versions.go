package proxy

import "github.com/twmb/franz-go/pkg/kmsg"

// rewriteAPIVersions clamps the max version of every key the proxy decodes to what
// kmsg can decode, so a newer broker can never make the proxy misread a response.
// Keys the proxy streams through keep the broker's range; the proxy learns them so
// keys newer than kmsg are not refused as unknown.
func rewriteAPIVersions(p *Proxy, r kmsg.Response) (bool, error) {
	resp := r.(*kmsg.ApiVersionsResponse)
	keys := make([]int16, 0, len(resp.ApiKeys))
	var changed bool
	for i := range resp.ApiKeys {
		k := &resp.ApiKeys[i]
		keys = append(keys, k.ApiKey)
		if !decodes(k.ApiKey) {
			continue
		}
		if max := lookupKey(k.ApiKey).maxVer; k.MaxVersion > max {
			k.MaxVersion = max
			changed = true
		}
	}
	p.noteUpstreamKeys(keys)
	return changed, nil
}

// decodes reports whether the proxy decodes responses of key in some version.
func decodes(key int16) bool {
	switch key {
	case 0, 1, 3, 10, 18, 55, 60, 78, 79:
		return true
	}
	return false
}
