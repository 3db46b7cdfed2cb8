package tlsutil

import (
	"crypto/x509/pkix"
	"errors"
	"strings"
	"testing"
)

func TestSubjectPatterns(t *testing.T) {
	bridge := pkix.Name{CommonName: "bridge", Organization: []string{"airlock"}}
	multiOrg := pkix.Name{CommonName: "svc-7", Organization: []string{"other", "partner"}, OrganizationalUnit: []string{"team,ops"}}
	star := pkix.Name{CommonName: "a*b"}
	tests := []struct {
		pattern string
		name    pkix.Name
		want    bool
	}{
		{"bridge", bridge, true},
		{"Bridge", bridge, false}, // values are case-sensitive
		{"bridg", bridge, false},  // exact, not a prefix
		{"CN=bridge", bridge, true},
		{"cn = bridge , o = airlock", bridge, true},
		{"CN=bridge,O=other", bridge, false},
		{"O=airlock", bridge, true},
		{"CN=bri*", bridge, true},
		{"CN=*dge", bridge, true},
		{"CN=*", bridge, true},
		{"CN=b*x", bridge, false},
		{"O=partner", multiOrg, true}, // any occurrence of a repeated attribute
		{"CN=svc-*,O=partner", multiOrg, true},
		{`OU=team\,ops`, multiOrg, true},
		{`OU=team`, multiOrg, false},
		{`a\*b`, star, true},
		{`a\*b`, pkix.Name{CommonName: "axxb"}, false},
		{"a*b", pkix.Name{CommonName: "axxb"}, true},
		{"C=DE", pkix.Name{Country: []string{"DE"}}, true},
		{"L=Berlin,ST=BE", pkix.Name{Locality: []string{"Berlin"}, Province: []string{"BE"}}, true},
		{"OU=x", bridge, false}, // attribute absent
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"/"+tt.name.String(), func(t *testing.T) {
			p, err := ParseSubjectPattern(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Match(tt.name); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
			if p.String() != tt.pattern {
				t.Errorf("String() = %q", p.String())
			}
		})
	}
}

func TestSubjectPatternErrors(t *testing.T) {
	tests := []struct {
		in      []string
		wantMsg string
	}{
		{[]string{"XX=y"}, "unknown attribute"},
		{[]string{"CN="}, "empty value"},
		{[]string{"CN=a,"}, "stray comma"},
		{[]string{"bridge,O=airlock"}, "must stand alone"},
		{[]string{`CN=a\`}, "trailing backslash"},
		{[]string{"ok", " "}, "empty subject pattern"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.in, "|"), func(t *testing.T) {
			_, err := ParseSubjectPatterns(tt.in)
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err %v, want one mentioning %q", err, tt.wantMsg)
			}
		})
	}
}
