// Package auth authenticates the Kafka clients of airlock-proxy with SASL, locally:
// the proxy answers SaslHandshake and SaslAuthenticate itself instead of passing them
// to the brokers, so the users of the proxy need not exist on the clusters behind it.
//
// # Server engine
//
// An Authenticator runs the server side of PLAIN (RFC 4616) and SCRAM-SHA-256 /
// SCRAM-SHA-512 (RFC 5802, RFC 7677). The proxy drives it with the bytes it decodes
// with kmsg:
//
//	a, err := auth.NewAuthenticator(verifier, auth.WithLimiter(limiter))
//	// SaslHandshakeRequest: answer with a.Mechanisms(); on an unknown mechanism Start
//	// fails with ErrUnsupportedMechanism.
//	sess, err := a.StartFrom(conn.RemoteAddr().String(), req.Mechanism)
//	// each SaslAuthenticateRequest:
//	out, done, err := sess.Step(ctx, req.SASLAuthBytes)
//	if err != nil {
//		resp.ErrorCode = auth.KafkaError(err).Code
//		msg := auth.ClientMessage(err) // never err.Error(): it tells users apart
//		resp.ErrorMessage = &msg
//		metric.WithLabelValues(auth.Reason(err)).Inc()
//		log.Warn("sasl failed", "addr", addr, "err", err) // the full story, for operators
//		// send resp, then close the connection
//	}
//	resp.SASLAuthBytes = out // send even when empty
//	if done { principal := sess.Principal() }
//
// The SCRAM server checks what RFC 5802 asks a server to check: channel binding flag
// "n" or "y" only ("p=" is refused: no -PLUS mechanism is offered), the channel
// binding attribute repeats the gs2 header, no mandatory ("m=") or other extension
// (Kafka's tokenauth included, as this server issues no delegation tokens), an
// authorization id equal to the user name or none (as Kafka), the client-final nonce
// equal to the one the server sent (which starts with the client's), and the proof.
// A user that does not exist, or has no credential for the mechanism, gets a full
// exchange with a salt derived from a server secret (WithFakeSecret) and fails at the
// proof exactly as a wrong password does, so neither the messages nor their number
// reveal which users exist. Errors keep the difference for logs and metrics
// (Reason: "unknown_user" vs "bad_credentials").
//
// Errors and their Kafka codes (KafkaError):
//
//	ErrAuthFailed, ErrUnknownUser, ErrNoCredential  SASL_AUTHENTICATION_FAILED
//	ErrMalformed, ErrRateLimited, ErrUnavailable    SASL_AUTHENTICATION_FAILED
//	ErrUnsupportedMechanism                         UNSUPPORTED_SASL_MECHANISM
//	ErrIllegalState (Step after the end)            ILLEGAL_SASL_STATE
//
// # Verifiers
//
// A Verifier checks PLAIN passwords and hands out SCRAM credentials (salt, iteration
// count, StoredKey, ServerKey; never a password). Three implementations:
//
//   - UsersFile: a users file, reloaded when it changes (Watch) or on demand (Reload).
//   - NewPluginVerifier: an external plugin binary, such as cmd/airlock-auth-static.
//   - StaticVerifier: an in-memory user=password table.
//
// # Users file
//
// One entry per line; blank lines and lines starting with # are ignored. Fields are
// separated by ':'; a user may have one entry of each kind:
//
//	<user>:plain-bcrypt:<bcrypt hash>
//	<user>:scram-sha-256:<iterations>:<salt>:<stored key>:<server key>
//	<user>:scram-sha-512:<iterations>:<salt>:<stored key>:<server key>
//
// salt and keys are standard base64 with padding; iterations is 4096 to 1048576. A
// user name is any UTF-8 without ':', spaces or control characters that does not
// start with '#'. A PLAIN login checks the plain-bcrypt entry, or else the password
// against a SCRAM entry, so one scram-sha-512 line serves both mechanisms. A file with
// any bad line is refused as a whole, with every bad line listed as "file:line: ...";
// on reload the users loaded before stay in force. Entries are made with HashPlain +
// FormatPlainLine and NewSCRAMCredential + FormatSCRAMLine, and written with
// SetUserEntry (atomic replace), for an `airlock-proxy users add` command.
//
// # Plugins
//
// A plugin is a separate binary speaking go-plugin's net/rpc protocol (handshake
// cookie AIRLOCK_AUTH_PLUGIN, protocol version 1). Its main calls ServePlugin with
// any Verifier; the proxy calls NewPluginVerifier, which starts it, forwards each
// call's deadline, maps the plugin's errors back to their kinds, turns a crash or a
// hang into ErrUnavailable, and restarts a crashed plugin after a delay
// (WithPluginRestartDelay). See cmd/airlock-auth-static for a complete plugin and a
// guide to writing one (LDAP, a database, ...).
//
// # Rate limiting
//
// A Limiter counts failed sessions per client host (token bucket: burst failures,
// then one attempt per interval) in bounded memory; with WithLimiter, StartFrom
// refuses a locked-out host with ErrRateLimited before any credential is checked.
package auth
