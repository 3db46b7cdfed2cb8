// Command airlock-auth-static is an example authentication plugin for airlock-proxy:
// it checks the SASL logins of the proxy's clients (PLAIN, SCRAM-SHA-256,
// SCRAM-SHA-512) against a static list of users and passwords. airlock-proxy starts it
// as a child process and talks to it over net/rpc (hashicorp/go-plugin); run by hand it
// only prints its help or refuses to start.
//
// Users come from repeatable --user user=password flags (env AIRLOCK_AUTH_STATIC_USER,
// entries separated by ';') and from --users-file, one user=password per line, # for
// comments; the password is everything after the first '=', spaces included. A user given both ways takes the flag's password. Prefer the file: flags and
// environment show up in process listings. The file is read once at start; the proxy
// restarts the plugin when it exits, so `kill` the plugin to reload.
//
// # Writing your own plugin
//
// A plugin is any binary whose main calls auth.ServePlugin with an auth.Verifier:
//
//	type ldapVerifier struct{ /* connection pool, base DN, ... */ }
//
//	// VerifyPlain binds as the user; return auth.ErrUnknownUser for a user the
//	// directory does not have, auth.ErrAuthFailed (wrapped) for a wrong password, and
//	// any other error when the directory cannot be reached.
//	func (v *ldapVerifier) VerifyPlain(ctx context.Context, user, pass string) (string, error)
//
//	// SCRAMCredentials returns the stored salt, iteration count, StoredKey and
//	// ServerKey (for example from an attribute holding RFC 5803 "SCRAM-SHA-256$..."
//	// values); return auth.ErrNoCredential when the user has none for mechanism.
//	func (v *ldapVerifier) SCRAMCredentials(ctx context.Context, mechanism, user string) (auth.SCRAMCredential, error)
//
//	func main() {
//		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
//		defer stop()
//		if err := auth.ServePlugin(ctx, &ldapVerifier{}); err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(1)
//		}
//	}
//
// Rules a plugin must follow: never write to stdout (go-plugin uses it for the
// handshake), log to stderr (the proxy forwards each line to its log), honour the
// context of each call (it carries the proxy's deadline), and keep "unknown user"
// distinct from "wrong password" in the errors: the proxy never shows the difference
// to clients but counts and logs it. A SCRAM credential is never the password; a
// verifier that only knows passwords derives it with auth.NewSCRAMCredential and
// should cache the result so the salt stays stable. Interrupts (SIGINT) are ignored on
// purpose: the proxy decides when its plugin stops.
package main
