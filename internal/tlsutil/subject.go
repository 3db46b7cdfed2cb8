package tlsutil

import (
	"crypto/x509/pkix"
	"fmt"
	"regexp"
	"strings"
)

// SubjectPattern is one rule a client certificate's subject may satisfy.
//
// Syntax:
//
//	bridge                 CN is exactly "bridge" (a bare value means CN)
//	CN=bridge,O=airlock    every listed attribute matches (AND)
//	CN=bridge-*            '*' matches any run of characters, including none
//	OU=team\,ops           '\' escapes ',', '=', '*' and '\'
//
// Attributes: CN, O, OU, C, L, ST (case-insensitive names); values are compared
// exactly and case-sensitively. For an attribute that occurs several times in a
// subject (O, OU), any occurrence may match. A list of patterns allows a subject
// when any one pattern matches (OR).
type SubjectPattern struct {
	raw   string
	terms []subjectTerm
}

type subjectTerm struct {
	attr string
	re   *regexp.Regexp
}

var subjectAttrs = map[string]func(pkix.Name) []string{
	"CN": func(n pkix.Name) []string { return []string{n.CommonName} },
	"O":  func(n pkix.Name) []string { return n.Organization },
	"OU": func(n pkix.Name) []string { return n.OrganizationalUnit },
	"C":  func(n pkix.Name) []string { return n.Country },
	"L":  func(n pkix.Name) []string { return n.Locality },
	"ST": func(n pkix.Name) []string { return n.Province },
}

// ParseSubjectPattern parses one pattern; see SubjectPattern for the syntax.
func ParseSubjectPattern(s string) (SubjectPattern, error) {
	p := SubjectPattern{raw: s}
	parts, err := splitEscaped(s, ',')
	if err != nil {
		return p, fmt.Errorf("%w: subject pattern %q: %w", ErrInvalidConfig, s, err)
	}
	for _, part := range parts {
		if strings.TrimSpace(part) == "" {
			return p, fmt.Errorf("%w: subject pattern %q: empty element (stray comma?)", ErrInvalidConfig, s)
		}
		attr, value, hasEq, err := cutEscaped(part, '=')
		if err != nil {
			return p, fmt.Errorf("%w: subject pattern %q: %w", ErrInvalidConfig, s, err)
		}
		if !hasEq {
			if len(parts) > 1 {
				return p, fmt.Errorf("%w: subject pattern %q: %q is not attr=value (a bare value, meaning CN, must stand alone)", ErrInvalidConfig, s, part)
			}
			attr, value = "CN", part
		}
		attr = strings.ToUpper(strings.TrimSpace(attr))
		value = strings.TrimSpace(value)
		if _, ok := subjectAttrs[attr]; !ok {
			return p, fmt.Errorf("%w: subject pattern %q: unknown attribute %q (want CN, O, OU, C, L or ST)", ErrInvalidConfig, s, attr)
		}
		if value == "" {
			return p, fmt.Errorf("%w: subject pattern %q: empty value for %s", ErrInvalidConfig, s, attr)
		}
		p.terms = append(p.terms, subjectTerm{attr: attr, re: globRegexp(value)})
	}
	return p, nil
}

// ParseSubjectPatterns parses a list of patterns; empty entries are an error, since
// they usually come from a stray separator and would be easy to misread.
func ParseSubjectPatterns(ss []string) ([]SubjectPattern, error) {
	out := make([]SubjectPattern, 0, len(ss))
	for _, s := range ss {
		if strings.TrimSpace(s) == "" {
			return nil, fmt.Errorf("%w: empty subject pattern", ErrInvalidConfig)
		}
		p, err := ParseSubjectPattern(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// String returns the pattern as written.
func (p SubjectPattern) String() string { return p.raw }

// Match reports whether every attribute of the pattern matches n.
func (p SubjectPattern) Match(n pkix.Name) bool {
	if len(p.terms) == 0 {
		return false
	}
	for _, t := range p.terms {
		ok := false
		for _, v := range subjectAttrs[t.attr](n) {
			if t.re.MatchString(v) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// matchAny reports whether any pattern matches n.
func matchAny(ps []SubjectPattern, n pkix.Name) bool {
	for _, p := range ps {
		if p.Match(n) {
			return true
		}
	}
	return false
}

func patternList(ps []SubjectPattern) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.raw
	}
	return strings.Join(s, " | ")
}

// globRegexp compiles an escaped glob (only '*' is special) to an anchored regexp.
func globRegexp(v string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	var lit strings.Builder
	flush := func() {
		b.WriteString(regexp.QuoteMeta(lit.String()))
		lit.Reset()
	}
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '\\' && i+1 < len(v):
			i++
			lit.WriteByte(v[i])
		case v[i] == '*':
			flush()
			b.WriteString("(?s:.*)")
		default:
			lit.WriteByte(v[i])
		}
	}
	flush()
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// splitEscaped splits s at unescaped sep, keeping escapes in the parts (they are
// resolved later by globRegexp).
func splitEscaped(s string, sep byte) ([]string, error) {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("trailing backslash")
			}
			i++
		case sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:]), nil
}

// cutEscaped cuts s at the first unescaped sep.
func cutEscaped(s string, sep byte) (before, after string, found bool, err error) {
	parts, err := splitEscaped(s, sep)
	if err != nil || len(parts) == 1 {
		return s, "", false, err
	}
	return parts[0], s[len(parts[0])+1:], true, nil
}
