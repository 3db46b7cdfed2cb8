package chaos

import (
	"fmt"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// Stream is the direction a toxic acts on, seen from toxiproxy: upstream is
// client to server (requests), downstream server to client (responses).
type Stream string

// The two streams.
const (
	Upstream   Stream = "upstream"
	Downstream Stream = "downstream"
)

// Toxic is a toxiproxy toxic: its type, the stream it acts on and its
// attributes as toxiproxy's API takes them. Build one with the constructors
// below, which convert durations to the units each toxic expects.
type Toxic struct {
	Type       string
	Stream     Stream
	Attributes toxiproxy.Attributes
	// desc is the human description, e.g. "latency 400ms±100ms".
	desc string
}

// String describes the toxic, e.g. "latency 400ms±100ms downstream".
func (t Toxic) String() string { return t.desc + " " + string(t.Stream) }

// Latency delays every chunk of data by latency ± jitter.
func Latency(s Stream, latency, jitter time.Duration) Toxic {
	return Toxic{Type: "latency", Stream: s, Attributes: toxiproxy.Attributes{
		"latency": latency.Milliseconds(), "jitter": jitter.Milliseconds(),
	}, desc: fmt.Sprintf("latency %v±%v", latency, jitter)}
}

// Bandwidth limits the stream to kbPerSec kilobytes per second.
func Bandwidth(s Stream, kbPerSec int64) Toxic {
	return Toxic{Type: "bandwidth", Stream: s, Attributes: toxiproxy.Attributes{"rate": kbPerSec},
		desc: fmt.Sprintf("bandwidth %dKB/s", kbPerSec)}
}

// Timeout stops all data and closes the connection after d; d = 0 is a
// blackhole: nothing flows and nothing closes, the connection hangs half-open
// (unlike ProxyDown, which closes connections at once).
func Timeout(s Stream, d time.Duration) Toxic {
	desc := fmt.Sprintf("timeout %v", d)
	if d == 0 {
		desc = "blackhole"
	}
	return Toxic{Type: "timeout", Stream: s, Attributes: toxiproxy.Attributes{"timeout": d.Milliseconds()}, desc: desc}
}

// ResetPeer resets each connection (TCP RST, unsent data dropped) d after it
// next carries data; d = 0 resets at the first byte.
func ResetPeer(s Stream, d time.Duration) Toxic {
	return Toxic{Type: "reset_peer", Stream: s, Attributes: toxiproxy.Attributes{"timeout": d.Milliseconds()},
		desc: fmt.Sprintf("reset_peer after %v", d)}
}

// Slicer cuts the stream into chunks of averageSize ± variation bytes sent
// delay apart, which exercises partial reads of Kafka frames.
func Slicer(s Stream, averageSize, variation int, delay time.Duration) Toxic {
	return Toxic{Type: "slicer", Stream: s, Attributes: toxiproxy.Attributes{
		"average_size": averageSize, "size_variation": variation, "delay": delay.Microseconds(),
	}, desc: fmt.Sprintf("slicer %d±%dB every %v", averageSize, variation, delay)}
}

// LimitData closes each connection once it carried bytes bytes.
func LimitData(s Stream, bytes int64) Toxic {
	return Toxic{Type: "limit_data", Stream: s, Attributes: toxiproxy.Attributes{"bytes": bytes},
		desc: fmt.Sprintf("limit_data %dB", bytes)}
}

// SlowClose delays the close of each connection by d.
func SlowClose(s Stream, d time.Duration) Toxic {
	return Toxic{Type: "slow_close", Stream: s, Attributes: toxiproxy.Attributes{"delay": d.Milliseconds()},
		desc: fmt.Sprintf("slow_close %v", d)}
}
