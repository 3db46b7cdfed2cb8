// Package schemas embeds the Avro schemas (.avsc) of the Airlock test workload, so the
// binaries work without a schema registry and without files next to them, while the
// same files stay readable (and usable with --schema id=path) in the repository.
package schemas

import "embed"

// FS holds every .avsc file of this directory.
//
//go:embed *.avsc
var FS embed.FS

// File names of the event schema versions inside FS. Version 2 adds a field with a
// default, which is what schema-evolution tests need.
const (
	EventV1 = "event-v1.avsc"
	EventV2 = "event-v2.avsc"
)

// Text returns the text of the embedded schema file name (EventV1, EventV2).
func Text(name string) (string, error) {
	b, err := FS.ReadFile(name)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
