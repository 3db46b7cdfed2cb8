package proxy

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeBroker is a minimal Kafka server for connection-level tests: it decodes each
// request header and answers with whatever handle returns (nil: no answer).
type fakeBroker struct {
	ln     net.Listener
	handle func(h reqHeader, body []byte) (resp []byte)
	mu     sync.Mutex
	seen   []reqHeader
	wg     sync.WaitGroup
}

func newFakeBroker(t *testing.T, handle func(h reqHeader, body []byte) []byte) *fakeBroker {
	t.Helper()
	ln, err := net.Listen("tcp", upstreamHost+":0")
	if err != nil {
		t.Fatal(err)
	}
	fb := &fakeBroker{ln: ln, handle: handle}
	fb.wg.Add(1)
	go fb.accept()
	t.Cleanup(func() { _ = ln.Close(); fb.wg.Wait() })
	return fb
}

func (fb *fakeBroker) addr() string { return fb.ln.Addr().String() }

func (fb *fakeBroker) requests() []reqHeader {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	return append([]reqHeader(nil), fb.seen...)
}

func (fb *fakeBroker) accept() {
	defer fb.wg.Done()
	for {
		nc, err := fb.ln.Accept()
		if err != nil {
			return
		}
		fb.wg.Add(1)
		go func() {
			defer fb.wg.Done()
			defer func() { _ = nc.Close() }()
			for {
				frame, err := readFrame(nc)
				if err != nil {
					return
				}
				h := parseReqHeader(frame)
				fb.mu.Lock()
				fb.seen = append(fb.seen, h)
				fb.mu.Unlock()
				body, err := requestBody(frame, h)
				if err != nil {
					return
				}
				if out := fb.handle(h, body); out != nil {
					if _, err := nc.Write(out); err != nil {
						return
					}
				}
			}
		}()
	}
}

// readFrame reads one size-prefixed frame and returns it without the prefix.
func readFrame(r io.Reader) ([]byte, error) {
	var sz [4]byte
	if _, err := io.ReadFull(r, sz[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(sz[:])
	if n > 1<<26 {
		return nil, errors.New("frame too large")
	}
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}

// requestFrame encodes req with correlation id corr as a client would.
func requestFrame(req kmsg.Request, corr int32) []byte {
	out := make([]byte, 4, 64)
	out = binary.BigEndian.AppendUint16(out, uint16(req.Key()))
	out = binary.BigEndian.AppendUint16(out, uint16(req.GetVersion()))
	out = binary.BigEndian.AppendUint32(out, uint32(corr))
	out = binary.BigEndian.AppendUint16(out, 4)
	out = append(out, "test"...)
	if req.IsFlexible() {
		out = append(out, 0)
	}
	out = req.AppendTo(out)
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out
}

// answer encodes resp as the response to h.
func answer(h reqHeader, resp kmsg.Response) []byte {
	resp.SetVersion(h.version)
	return frameOf(resp, h.corr)
}
