package proxy

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// reqHeader is what the proxy reads of every request: enough to route the response
// and to police the request, never the body.
type reqHeader struct {
	key     int16
	version int16
	corr    int32
}

// parseReqHeader reads key, version and correlation id from the 8 bytes after the
// size prefix.
func parseReqHeader(b []byte) reqHeader {
	return reqHeader{
		key:     int16(binary.BigEndian.Uint16(b[0:])),
		version: int16(binary.BigEndian.Uint16(b[2:])),
		corr:    int32(binary.BigEndian.Uint32(b[4:])),
	}
}

// maxKnownKey bounds the API keys kmsg may know; keys above are unknown to the proxy.
const maxKnownKey = 1024

// keyInfo is what the proxy knows of one API key from kmsg.
type keyInfo struct {
	known    bool
	maxVer   int16
	flexFrom int16 // first flexible version; maxVer+1 when none
}

// keyTable is computed once from kmsg and never written again: a lookup on the hot
// path must not allocate a kmsg struct per request.
var keyTable = sync.OnceValue(func() []keyInfo {
	t := make([]keyInfo, maxKnownKey)
	for k := range t {
		r := kmsg.RequestForKey(int16(k))
		if r == nil {
			continue
		}
		info := keyInfo{known: true, maxVer: r.MaxVersion(), flexFrom: r.MaxVersion() + 1}
		for v := int16(0); v <= r.MaxVersion(); v++ {
			r.SetVersion(v)
			if r.IsFlexible() {
				info.flexFrom = v
				break
			}
		}
		t[k] = info
	}
	return t
})

// lookupKey returns kmsg's knowledge of key.
func lookupKey(key int16) keyInfo {
	if key < 0 || int(key) >= maxKnownKey {
		return keyInfo{}
	}
	return keyTable()[key]
}

// isFlexibleRequest reports whether the request uses header v2 (with tagged fields).
// Versions above kmsg's max are assumed flexible, as every newer version has been.
func isFlexibleRequest(key, version int16) bool {
	info := lookupKey(key)
	return info.known && version >= info.flexFrom
}

// requestBody returns the request body of a whole frame (without the size prefix):
// it skips the header, whose client id and, for flexible versions, tag buffer have
// variable length.
func requestBody(frame []byte, h reqHeader) ([]byte, error) {
	b := kbin.Reader{Src: frame[8:]}
	b.NullableString() // client id: always a classic nullable string
	if isFlexibleRequest(h.key, h.version) {
		kmsg.SkipTags(&b)
	}
	if b.Ok() {
		return b.Src, nil
	}
	return nil, fmt.Errorf("request header of %s v%d: %w", kmsg.NameForKey(h.key), h.version, errMalformed)
}

// produceAcks returns the acks of a produce request from the start of its frame
// (without size prefix); the frame may be cut after the acks field.
func produceAcks(prefix []byte, h reqHeader) (int16, error) {
	body, err := requestBody(prefix, h)
	if err != nil {
		return 0, err
	}
	b := kbin.Reader{Src: body}
	switch {
	case h.version >= 9:
		b.CompactNullableString() // transactional id
	case h.version >= 3:
		b.NullableString()
	}
	acks := b.Int16()
	if !b.Ok() {
		return 0, fmt.Errorf("produce v%d header: %w", h.version, errMalformed)
	}
	return acks, nil
}

// respHeaderLen returns the length of the response header at the start of frame
// (after the size prefix): the correlation id plus, for flexible versions other
// than ApiVersions, a tag buffer.
func respHeaderLen(frame []byte, key, version int16) (int, error) {
	if key == 18 || !isFlexibleResponse(key, version) {
		return 4, nil
	}
	b := kbin.Reader{Src: frame[4:]}
	kmsg.SkipTags(&b)
	if !b.Ok() {
		return 0, fmt.Errorf("response header of %s v%d: %w", kmsg.NameForKey(key), version, errMalformed)
	}
	return len(frame) - len(b.Src), nil
}

func isFlexibleResponse(key, version int16) bool { return isFlexibleRequest(key, version) }

// appendRequest encodes req as a client frame with correlation id corr.
func appendRequest(dst []byte, req kmsg.Request, corr int32, clientID string) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(req.Key()))
	dst = binary.BigEndian.AppendUint16(dst, uint16(req.GetVersion()))
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(clientID)))
	dst = append(dst, clientID...)
	if req.IsFlexible() {
		dst = append(dst, 0)
	}
	dst = req.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// appendResponse encodes resp as the response frame to a request with corr.
func appendResponse(dst []byte, resp kmsg.Response, corr int32) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	if resp.Key() != 18 && resp.IsFlexible() {
		dst = append(dst, 0)
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}
