// Package proxy implements airlock-proxy, a Kafka protocol proxy.
//
// The proxy listens once per upstream broker and forwards Kafka frames both ways.
// Every response that carries a broker address (Metadata, FindCoordinator,
// DescribeCluster, the KIP-951 endpoints of Produce and Fetch, ShareFetch and
// ShareAcknowledge endpoints, DescribeQuorum listeners) is decoded with kmsg and
// rewritten so clients only ever learn proxy addresses; brokers seen for the first
// time get a listener on the fly. ApiVersions is clamped to what kmsg can decode, so
// a newer broker cannot make the proxy misread a response. Everything else is
// streamed undecoded: a frame that fits 64 KiB is moved with one read and one write,
// larger frames are spliced by the kernel.
//
// Each connection has exactly two goroutines, a reader (client to broker) and a
// writer (broker to client). Responses are matched to requests by correlation id in
// order; an unmatched response closes the connection. On shutdown the proxy stops
// accepting and reading, delivers responses to requests already forwarded until a
// deadline, then closes.
//
// Files named after an API key (03_metadata.go) hold that key's rewriter.
package proxy
