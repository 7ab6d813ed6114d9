package conf

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Severity of a finding.
type Severity string

// Severities.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Finding IDs. missing_sni is the same word as the packet diagnosis's.
const (
	IDMissingSNI   = "missing_sni"
	IDVerifyOff    = "verify_off"
	IDOldProtocols = "old_protocols"
	IDSSLNameIsIP  = "ssl_name_is_ip"
)

// Finding is one thing check-nginx reports, at a file and line.
type Finding struct {
	File      string
	Line      int
	Severity  Severity
	ID        string
	Directive string // the directive at File:Line, as written
	Message   string
	Fix       string
}

// Check returns the findings of m, ordered by file, line and ID; a
// directive shared by several sites (an included file, a setting at
// http{} level) is reported once.
func Check(m *Model) []Finding {
	type key struct {
		file string
		line int
		id   string
	}
	seen := map[key]int{}
	var out []Finding
	add := func(f Finding, context string) {
		k := key{f.File, f.Line, f.ID}
		if i, ok := seen[k]; ok {
			if context != "" && !strings.Contains(out[i].Message, context) {
				out[i].Message += "; also in " + context
			}
			return
		}
		seen[k] = len(out)
		out = append(out, f)
	}
	for _, s := range m.Sites {
		ctx := s.Context()
		if f, ok := missingSNI(s); ok {
			add(f, ctx)
		}
		if s.Verify.Set() && !s.Verify.On() && !s.Trusted.Set() {
			d := s.Verify.At
			add(Finding{File: d.File, Line: d.Line, Severity: SeverityWarning, ID: IDVerifyOff, Directive: d.String(),
				Message: fmt.Sprintf("%s off: nginx accepts any certificate from the upstream (%s at %s:%d)", d.Name, s.At.String(), s.At.File, s.At.Line),
				Fix:     fmt.Sprintf("`%sverify on;` with `%strusted_certificate /etc/ssl/certs/ca-certificates.crt;` (or the upstream's CA)", s.Prefix, s.Prefix)}, "")
		}
		if s.Protocols.Set() {
			d := s.Protocols.At
			var old []string
			for _, p := range d.Args {
				switch p {
				case "SSLv2", "SSLv3", "TLSv1", "TLSv1.1":
					old = append(old, p)
				}
			}
			if len(old) > 0 {
				add(Finding{File: d.File, Line: d.Line, Severity: SeverityWarning, ID: IDOldProtocols, Directive: d.String(),
					Message: fmt.Sprintf("%s allows %s, older than TLS 1.2", d.Name, strings.Join(old, ", ")),
					Fix:     fmt.Sprintf("`%s TLSv1.2 TLSv1.3;`", d.Name)}, "")
			}
		}
		if s.Name.Set() {
			d := s.Name.At
			if n := stripPort(d.Arg(0)); isIPLiteral(n) {
				add(Finding{File: d.File, Line: d.Line, Severity: SeverityWarning, ID: IDSSLNameIsIP, Directive: d.String(),
					Message: fmt.Sprintf("%s names the IP address %q: nginx sends no SNI for it, and checks the certificate against an IP", d.Name, n),
					Fix:     fmt.Sprintf("`%s %s;`", d.Name, suggestHost(s, nil))}, "")
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Finding) int {
		if c := cmp.Compare(a.File, b.File); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Line, b.Line); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

// missingSNI is the error finding for a site with a target reached without
// SNI.
func missingSNI(s *Site) (Finding, bool) {
	bad := s.MissingSNI()
	if len(bad) == 0 {
		return Finding{}, false
	}
	var whom []string
	for _, t := range bad {
		w := describeTarget(t)
		if t.Via != "" && len(s.Targets) > 1 {
			w += " (via " + t.Via + ")"
		}
		whom = append(whom, w+" without SNI: "+t.NoSNIReason)
	}
	msg := "nginx opens TLS to " + strings.Join(whom, "; and to ")
	if ctx := s.Context(); ctx != "" {
		msg += " [" + ctx + "]"
	}
	return Finding{
		File: s.At.File, Line: s.At.Line, Severity: SeverityError, ID: IDMissingSNI,
		Directive: s.At.String(), Message: msg, Fix: FixText(s, bad[0]),
	}, true
}

func describeTarget(t *Target) string {
	switch {
	case t.Upstream != nil:
		var addrs []string
		for _, sv := range t.Upstream.Servers {
			addrs = append(addrs, hostPort(sv.Host, sv.Port))
		}
		return fmt.Sprintf("upstream %s (%s)", strconv.Quote(t.Upstream.Name), strings.Join(addrs, ", "))
	case t.Host == markIP:
		return "an IP address known at run time"
	case t.Host == "":
		return "a host known at run time"
	}
	return hostPort(t.Host, t.Port)
}

func hostPort(h string, p int) string {
	if p == 0 {
		return h
	}
	return h + ":" + strconv.Itoa(p)
}

// Directives returns the directives to add at the site so that nginx sends
// SNI to t: `proxy_ssl_server_name on;` when it is off, and
// `proxy_ssl_name <host>;` when the name nginx would use is an IP literal,
// empty, or an upstream{} block's name unlike its servers' host names.
func Directives(s *Site, t *Target) []string {
	var out []string
	if !s.ServerName.On() {
		out = append(out, s.Prefix+"server_name on;")
	}
	needName := false
	switch {
	case s.Name.Set():
		n := stripPort(s.Name.Value())
		needName = n == "" || isIPLiteral(n) || strings.HasPrefix(n, markIP)
	case t.Host == markIP || t.Host == "localhost" || t.Host != "" && isIPLiteral(stripPort(t.Host)):
		needName = true
	case t.Upstream != nil:
		needName = upstreamNamedUnlikeHost(t.Upstream)
	}
	if needName {
		out = append(out, s.Prefix+"name "+suggestHost(s, t)+";")
	}
	return out
}

// upstreamNamedUnlikeHost reports whether an upstream{} block's name is
// unlikely to be the name its servers answer to: not a dotted name, or
// not one of its servers' host names when they have any.
func upstreamNamedUnlikeHost(u *Upstream) bool {
	if isIPLiteral(u.Name) {
		return true
	}
	var hosts []string
	for _, sv := range u.Servers {
		if !sv.Addr.IsValid() && sv.Host != "" {
			hosts = append(hosts, strings.ToLower(sv.Host))
		}
	}
	if len(hosts) > 0 {
		return !slices.Contains(hosts, strings.ToLower(u.Name))
	}
	return !strings.Contains(u.Name, ".")
}

// suggestHost guesses the upstream's real host name: a literal Host header
// the site sends, else an upstream server's host name, else a placeholder.
func suggestHost(s *Site, t *Target) string {
	if s.HostHeader != "" && !isIPLiteral(s.HostHeader) {
		return s.HostHeader
	}
	if t != nil && t.Upstream != nil {
		for _, sv := range t.Upstream.Servers {
			if !sv.Addr.IsValid() && sv.Host != "" && sv.Host != "localhost" {
				return sv.Host
			}
		}
		if strings.Contains(t.Upstream.Name, ".") && !isIPLiteral(t.Upstream.Name) {
			return t.Upstream.Name
		}
	}
	return "<upstream host name>"
}

// FixText is the fix for a site that reaches t without SNI: where, what to
// add, and why.
func FixText(s *Site, t *Target) string {
	dirs := Directives(s, t)
	var add []string
	for _, d := range dirs {
		add = append(add, "`"+d+"`")
	}
	where := fmt.Sprintf("%s:%d", s.At.File, s.At.Line)
	var b strings.Builder
	if len(add) == 0 {
		fmt.Fprintf(&b, "at %s: send the upstream's host name as SNI", where)
	} else {
		fmt.Fprintf(&b, "add %s next to `%s` at %s", strings.Join(add, " and "), s.At.String(), where)
	}
	if s.ServerName.Set() && !s.ServerName.On() {
		d := s.ServerName.At
		fmt.Fprintf(&b, " (it overrides `%s` at %s:%d)", d.String(), d.File, d.Line)
	}
	if s.Name.Set() && len(dirs) > 0 && strings.HasPrefix(dirs[len(dirs)-1], s.Prefix+"name ") {
		d := s.Name.At
		fmt.Fprintf(&b, ", replacing `%s` at %s:%d", d.String(), d.File, d.Line)
	}
	b.WriteString(": nginx sends SNI only with " + s.Prefix + "server_name on, and never for an IP address")
	if t.Upstream != nil && !s.Name.Set() {
		fmt.Fprintf(&b, "; without %sname it sends the upstream block's name %q", s.Prefix, t.Upstream.Name)
	}
	return b.String()
}
