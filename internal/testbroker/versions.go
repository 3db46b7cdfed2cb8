package testbroker

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kversion"
)

// versions maps the Kafka release names the broker accepts to franz-go's request
// version tables. Releases before 1.0 keep their patch level where it changed the
// protocol (0.8.x, 0.10.x); the rest are major.minor because patch releases never
// changed a request version.
var versions = []struct {
	name string
	fn   func() *kversion.Versions
}{
	{"0.8.0", kversion.V0_8_0},
	{"0.8.1", kversion.V0_8_1},
	{"0.8.2", kversion.V0_8_2},
	{"0.9", kversion.V0_9_0},
	{"0.10.0", kversion.V0_10_0},
	{"0.10.1", kversion.V0_10_1},
	{"0.10.2", kversion.V0_10_2},
	{"0.11", kversion.V0_11_0},
	{"1.0", kversion.V1_0_0},
	{"1.1", kversion.V1_1_0},
	{"2.0", kversion.V2_0_0},
	{"2.1", kversion.V2_1_0},
	{"2.2", kversion.V2_2_0},
	{"2.3", kversion.V2_3_0},
	{"2.4", kversion.V2_4_0},
	{"2.5", kversion.V2_5_0},
	{"2.6", kversion.V2_6_0},
	{"2.7", kversion.V2_7_0},
	{"2.8", kversion.V2_8_0},
	{"3.0", kversion.V3_0_0},
	{"3.1", kversion.V3_1_0},
	{"3.2", kversion.V3_2_0},
	{"3.3", kversion.V3_3_0},
	{"3.4", kversion.V3_4_0},
	{"3.5", kversion.V3_5_0},
	{"3.6", kversion.V3_6_0},
	{"3.7", kversion.V3_7_0},
	{"3.8", kversion.V3_8_0},
	{"3.9", kversion.V3_9_0},
	{"4.0", kversion.V4_0_0},
	{"4.1", kversion.V4_1_0},
	{"4.2", kversion.V4_2_0},
	{"4.3", kversion.V4_3_0},
	{"4.4", kversion.V4_4_0},
}

// Versions lists the Kafka versions accepted by ParseVersion, oldest first.
func Versions() []string {
	out := make([]string, len(versions))
	for i, v := range versions {
		out[i] = v.name
	}
	return out
}

// ParseVersion returns the request versions of a Kafka release ("0.11", "2.8",
// "3.9.1", "v4.0"). It returns the canonical name too, as listed by Versions.
// An unknown release is an ErrUnknownVersion error that lists the valid ones.
func ParseVersion(s string) (string, *kversion.Versions, error) {
	want := strings.TrimPrefix(strings.TrimSpace(s), "v")
	for _, cand := range candidates(want) {
		for _, v := range versions {
			if v.name == cand {
				return v.name, v.fn(), nil
			}
		}
	}
	return "", nil, fmt.Errorf("%w %q; valid versions: %s", ErrUnknownVersion, s, strings.Join(Versions(), ", "))
}

// candidates returns the spellings to look up for a release, most specific first: as
// given, cut to three parts ("0.10.2.2" -> "0.10.2") and cut to two ("3.9.1" -> "3.9",
// "0.11.0" -> "0.11"). "0.10" stays ambiguous and is rejected.
func candidates(s string) []string {
	out := []string{s}
	parts := strings.Split(s, ".")
	if len(parts) > 3 {
		out = append(out, strings.Join(parts[:3], "."))
	}
	if len(parts) > 2 {
		out = append(out, strings.Join(parts[:2], "."))
	}
	return out
}
