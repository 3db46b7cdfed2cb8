// Package wire holds the net/rpc messages between the proxy and an auth plugin. They
// live apart from package auth because net/rpc wants exported argument types, and
// these are not part of auth's API. Changing a field breaks every built plugin: bump
// the handshake protocol version in package auth when you do.
package wire

import "time"

// Error kinds carried in replies, so the host can rebuild the matching sentinel.
const (
	KindNone         = ""
	KindAuthFailed   = "auth_failed"
	KindUnknownUser  = "unknown_user"
	KindNoCredential = "no_credential"
	KindUnavailable  = "unavailable"
	KindCanceled     = "canceled"
	KindOther        = "other"
)

// PlainArgs asks the plugin to check a PLAIN user and password.
type PlainArgs struct {
	User, Pass string
	// Deadline is the host's context deadline (zero: none); net/rpc carries no context.
	Deadline time.Time
}

// PlainReply answers PlainArgs.
type PlainReply struct {
	Principal string
	// Kind is KindNone on success; Message is the error text for the host's logs.
	Kind, Message string
}

// SCRAMArgs asks the plugin for a SCRAM credential.
type SCRAMArgs struct {
	Mechanism, User string
	Deadline        time.Time
}

// SCRAMReply answers SCRAMArgs.
type SCRAMReply struct {
	Salt                 []byte
	Iterations           int
	StoredKey, ServerKey []byte
	Principal            string
	Kind, Message        string
}
