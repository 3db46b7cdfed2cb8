package bridge

import (
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// MsgBrokerAddress is logged the first time an instance dials a broker
// address of a cluster, with attributes cluster ("source" or "target"), addr
// (host:port) and node. Across an isolated network the addresses a bridge
// dials are the ones a proxy advertised; an operator (or the chaos suite)
// reading these lines sees whether a broker's internal address ever leaked.
const MsgBrokerAddress = "dialled a new broker address"

// brokerHook counts every connection attempt of one cluster's clients by
// broker address and logs each address once.
type brokerHook struct {
	cluster  string
	log      *slog.Logger
	connects *prometheus.CounterVec // by cluster, broker, result
	seen     sync.Map               // addr -> struct{}
}

var _ kgo.HookBrokerConnect = (*brokerHook)(nil)

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (h *brokerHook) OnBrokerConnect(meta kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	addr := net.JoinHostPort(meta.Host, strconv.Itoa(int(meta.Port)))
	result := "ok"
	if err != nil {
		result = "error"
	}
	h.connects.WithLabelValues(h.cluster, addr, result).Inc()
	if _, loaded := h.seen.LoadOrStore(addr, struct{}{}); !loaded {
		h.log.Info(MsgBrokerAddress, "cluster", h.cluster, "addr", addr, "node", meta.NodeID)
	}
}
