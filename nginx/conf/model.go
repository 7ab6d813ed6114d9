package conf

import (
	"net/netip"
	"strconv"
	"strings"
)

// Module is the nginx module a site belongs to.
type Module uint8

// Modules.
const (
	ModuleHTTP Module = iota
	ModuleStream
)

func (m Module) String() string {
	if m == ModuleStream {
		return "stream"
	}
	return "http"
}

// Setting is the effective value of a directive at a site: where it was
// set (inherited from an enclosing block or not), or the default.
type Setting struct {
	// At is the directive that sets it; nil means nginx's default.
	At *Directive
}

// Set reports whether the directive appears at or above the site.
func (s Setting) Set() bool { return s.At != nil }

// Value returns the first argument, "" for the default.
func (s Setting) Value() string {
	if s.At == nil {
		return ""
	}
	return s.At.Arg(0)
}

// On reports whether an on|off directive is on (the default is off for
// every one this package reads).
func (s Setting) On() bool { return s.At != nil && strings.EqualFold(s.At.Arg(0), "on") }

// Upstream is an upstream{} block.
type Upstream struct {
	Name    string
	Module  Module
	At      *Directive
	Servers []Server
}

// Server is an address an upstream connects to: an upstream{} block's
// server line, or the host of a proxy_pass without one.
type Server struct {
	// Host is the host as written ("10.0.0.1", "abc.example.com").
	Host string
	// Port is the port (nginx's default when not written: 80 in an
	// upstream{} block, 443 for https:// and grpcs://), 0 when unknown.
	Port int
	// Addr is the address when Host is an IP literal.
	Addr netip.AddrPort
	// Resolved are Host's addresses when it is a name (Model.Resolve).
	Resolved []netip.AddrPort
	// At is the server line or the proxy_pass.
	At *Directive
}

// Site is a place where nginx opens TLS to an upstream: a proxy_pass
// https:// or grpc_pass grpcs:// (http module), or a stream proxy_pass
// with proxy_ssl on.
type Site struct {
	At     *Directive
	Module Module
	// Prefix is the settings' prefix: "proxy_ssl_" or "grpc_ssl_".
	Prefix string
	// Chain holds the enclosing blocks, innermost first, up to http{} or
	// stream{}.
	Chain []*Directive

	// The effective settings (inherited http -> server -> location).
	ServerName, Name, Verify, Trusted, Protocols, Certificate, CertificateKey Setting
	// HostHeader is a literal `proxy_set_header Host NAME;` in effect, ""
	// when none or not a literal: the name the upstream most likely
	// expects.
	HostHeader string

	// Targets are what the site can reach: one for a literal URL, one per
	// value of a variable otherwise.
	Targets []*Target
}

// Target is one upstream a site can reach and what nginx sends it as SNI.
type Target struct {
	// Via says how it is reached when through a variable:
	// `$be = "backend"`.
	Via string
	// Host is the host nginx takes its default SNI from: the upstream{}
	// block's name or the URL's host, "" when it comes from a value
	// unknown before run time.
	Host string
	Port int
	// Upstream is the upstream{} block, nil for a host named in the URL.
	Upstream *Upstream
	// Servers are the addresses it connects to (an upstream's server
	// lines, or the URL's host).
	Servers []Server

	// Known is false when the SNI depends on a value only known at run
	// time (a request header, say): nginx then sends whatever that is.
	Known bool
	// SNI is the server name nginx sends; "" for none.
	SNI string
	// NoSNIReason says why no SNI is sent.
	NoSNIReason string
	// NameFrom says where the name came from: "proxy_ssl_name" or the
	// default (the proxy_pass host or upstream name).
	NameFrom string
}

// SendsSNI reports whether nginx sends a server name to this target (true
// when that depends on run-time values).
func (t *Target) SendsSNI() bool { return !t.Known || t.SNI != "" }

// MissingSNI returns the targets nginx opens TLS to without SNI.
func (s *Site) MissingSNI() []*Target {
	var out []*Target
	for _, t := range s.Targets {
		if !t.SendsSNI() {
			out = append(out, t)
		}
	}
	return out
}

// Pass returns the directive's name ("proxy_pass" or "grpc_pass").
func (s *Site) Pass() string { return s.At.Name }

// Context describes where the site is: `server "example.org" > location
// /api`.
func (s *Site) Context() string {
	var parts []string
	for i := len(s.Chain) - 1; i >= 0; i-- {
		b := s.Chain[i]
		switch b.Name {
		case "http", "stream":
			continue
		case "server":
			names := ""
			for _, d := range b.Block {
				if d.Name == "server_name" && len(d.Args) > 0 {
					names = " " + strconv.Quote(d.Args[0])
					break
				}
			}
			if names == "" {
				for _, d := range b.Block {
					if d.Name == "listen" && len(d.Args) > 0 {
						names = " listen " + d.Args[0]
						break
					}
				}
			}
			parts = append(parts, "server"+names)
		default:
			parts = append(parts, strings.TrimSpace(b.Name+" "+strings.Join(b.Args, " ")))
		}
	}
	return strings.Join(parts, " > ")
}

// ipVariables are built-in variables whose value is an IP address.
var ipVariables = map[string]bool{
	"remote_addr": true, "server_addr": true, "realip_remote_addr": true,
	"proxy_protocol_addr": true, "proxy_protocol_server_addr": true,
}

// inetAddr reports whether nginx's ngx_inet_addr accepts s, exactly: four
// dot-separated decimal octets of at most 255 (empty ones count as 0), the
// result not being INADDR_NONE (so "255.255.255.255" is not an address to
// it). nginx uses it (and a leading "[" for IPv6) to decide that a name is
// an IP literal, for which it sends no SNI.
func inetAddr(s string) bool {
	var addr uint32
	octet, n := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			octet = octet*10 + int(c-'0')
			if octet > 255 {
				return false
			}
		case c == '.':
			addr = addr<<8 + uint32(octet)
			octet = 0
			n++
		default:
			return false
		}
	}
	if n != 3 {
		return false
	}
	addr = addr<<8 + uint32(octet)
	return addr != 0xffffffff
}

// stripPort removes a port the way ngx_http_upstream_ssl_name does: after
// "]" for a bracketed name, else from the first ":".
func stripPort(name string) string {
	p := 0
	if strings.HasPrefix(name, "[") {
		if i := strings.IndexByte(name, ']'); i >= 0 {
			p = i
		}
	}
	if i := strings.IndexByte(name[p:], ':'); i >= 0 {
		return name[:p+i]
	}
	return name
}

// isIPLiteral reports whether nginx treats name (port already stripped) as
// an IP address and sends no SNI for it.
func isIPLiteral(name string) bool {
	return strings.HasPrefix(name, "[") || inetAddr(name)
}
