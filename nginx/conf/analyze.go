package conf

import (
	"net/netip"
	"strconv"
	"strings"
)

// Model is what a configuration says about upstream TLS.
type Model struct {
	Config *Config
	// Sites are every place nginx opens TLS to an upstream, in file order.
	Sites []*Site
	// Upstreams are the upstream{} blocks by module and lower-case name.
	Upstreams map[Module]map[string]*Upstream
}

// varDef is one value a variable can take, and where that was said.
type varDef struct {
	value string
	at    *Directive
}

// scope is what a module block defines.
type scope struct {
	module    Module
	upstreams map[string]*Upstream
	vars      map[string][]varDef // map, geo, split_clients
}

// Analyze finds the sites and upstreams of c.
func Analyze(c *Config) *Model {
	m := &Model{Config: c, Upstreams: map[Module]map[string]*Upstream{ModuleHTTP: {}, ModuleStream: {}}}
	for _, top := range c.Top {
		var mod Module
		switch top.Name {
		case "http":
			mod = ModuleHTTP
		case "stream":
			mod = ModuleStream
		default:
			continue
		}
		sc := &scope{module: mod, upstreams: m.Upstreams[mod], vars: map[string][]varDef{}}
		collectDefs(sc, top)
		for _, d := range top.Block {
			if d.Name == "server" && d.IsBlock {
				m.walk(sc, d, []*Directive{d, top})
			}
		}
	}
	return m
}

// collectDefs reads the module-level upstream{}, map{}, geo{} and
// split_clients{} blocks.
func collectDefs(sc *scope, top *Directive) {
	for _, d := range top.Block {
		if !d.IsBlock {
			continue
		}
		switch d.Name {
		case "upstream":
			u := &Upstream{Name: d.Arg(0), Module: sc.module, At: d}
			for _, s := range d.Block {
				if s.Name != "server" || len(s.Args) == 0 {
					continue
				}
				host, port := splitHostPort(s.Args[0], 80)
				if sc.module == ModuleStream && port == 80 && !strings.Contains(s.Args[0], ":") {
					port = 0 // the stream module has no default port
				}
				u.Servers = append(u.Servers, newServer(host, port, s))
			}
			if _, dup := sc.upstreams[strings.ToLower(u.Name)]; !dup {
				sc.upstreams[strings.ToLower(u.Name)] = u
			}
		case "map", "split_clients":
			name := strings.TrimPrefix(d.Arg(1), "$")
			for _, e := range d.Block {
				if d.Name == "map" && (e.Name == "hostnames" || e.Name == "volatile") && len(e.Args) == 0 {
					continue
				}
				if len(e.Args) > 0 {
					sc.vars[name] = append(sc.vars[name], varDef{value: e.Args[len(e.Args)-1], at: e})
				}
			}
		case "geo":
			name := strings.TrimPrefix(d.Args[len(d.Args)-1], "$")
			for _, e := range d.Block {
				switch e.Name {
				case "ranges", "delete", "proxy", "proxy_recursive":
					continue
				}
				if len(e.Args) > 0 {
					sc.vars[name] = append(sc.vars[name], varDef{value: e.Args[len(e.Args)-1], at: e})
				}
			}
		}
	}
}

// walk visits a server{} and its locations (chain: innermost first).
func (m *Model) walk(sc *scope, block *Directive, chain []*Directive) {
	for _, d := range block.Block {
		switch {
		case d.IsBlock && (d.Name == "location" || d.Name == "if" || d.Name == "limit_except"):
			m.walk(sc, d, append([]*Directive{d}, chain...))
		case !d.IsBlock && d.Name == "proxy_pass" && sc.module == ModuleHTTP,
			!d.IsBlock && d.Name == "grpc_pass" && sc.module == ModuleHTTP,
			!d.IsBlock && d.Name == "proxy_pass" && sc.module == ModuleStream:
			if s := m.site(sc, d, chain); s != nil {
				m.Sites = append(m.Sites, s)
			}
		}
	}
}

// lookup finds the directive name in effect in chain (innermost first):
// nginx merges a setting down from http{} to server{} to location{}.
func lookup(chain []*Directive, name string) Setting {
	for _, b := range chain {
		for _, d := range b.Block {
			if d.Name == name && !d.IsBlock {
				return Setting{At: d}
			}
		}
	}
	return Setting{}
}

func (m *Model) site(sc *scope, d *Directive, chain []*Directive) *Site {
	s := &Site{At: d, Module: sc.module, Chain: chain, Prefix: "proxy_ssl_"}
	if d.Name == "grpc_pass" {
		s.Prefix = "grpc_ssl_"
	}
	if sc.module == ModuleStream && !lookup(chain, "proxy_ssl").On() {
		return nil
	}
	s.ServerName = lookup(chain, s.Prefix+"server_name")
	s.Name = lookup(chain, s.Prefix+"name")
	s.Verify = lookup(chain, s.Prefix+"verify")
	s.Trusted = lookup(chain, s.Prefix+"trusted_certificate")
	s.Protocols = lookup(chain, s.Prefix+"protocols")
	s.Certificate = lookup(chain, s.Prefix+"certificate")
	s.CertificateKey = lookup(chain, s.Prefix+"certificate_key")
	if sc.module == ModuleHTTP {
		s.HostHeader = hostHeader(chain, d.Name)
	}
	vars := newVars(sc, chain)
	for _, c := range vars.expand(d.Arg(0), 0) {
		t := m.target(sc, s, c)
		if t != nil {
			s.Targets = append(s.Targets, t)
		}
	}
	if len(s.Targets) == 0 {
		return nil
	}
	for _, t := range s.Targets {
		decideSNI(s, t, vars)
	}
	return s
}

// hostHeader returns a literal Host header set for the site.
func hostHeader(chain []*Directive, pass string) string {
	name := "proxy_set_header"
	if pass == "grpc_pass" {
		name = "grpc_set_header"
	}
	// proxy_set_header is inherited as a whole list: the innermost block
	// that has any wins.
	for _, b := range chain {
		found := false
		for _, d := range b.Block {
			if d.Name != name || d.IsBlock {
				continue
			}
			found = true
			if strings.EqualFold(d.Arg(0), "host") && !strings.Contains(d.Arg(1), "$") && d.Arg(1) != "" {
				return stripPort(d.Arg(1))
			}
		}
		if found {
			return ""
		}
	}
	return ""
}

// target reads one expanded proxy_pass value; nil when it is not TLS (or
// its scheme is known only at run time).
func (m *Model) target(sc *scope, s *Site, c expanded) *Target {
	t := &Target{Via: c.via}
	hostPort := c.value
	defPort := 0
	if sc.module == ModuleHTTP {
		i := strings.Index(c.value, "://")
		if i < 0 {
			return nil // grpc_pass host:port is plain grpc
		}
		scheme := strings.ToLower(c.value[:i])
		if !(s.At.Name == "proxy_pass" && scheme == "https" || s.At.Name == "grpc_pass" && scheme == "grpcs") {
			return nil
		}
		defPort = 443
		hostPort = c.value[i+3:]
		if !strings.HasPrefix(hostPort, "unix:") {
			if j := strings.IndexAny(hostPort, "/?"); j >= 0 {
				hostPort = hostPort[:j]
			}
		}
	}
	switch {
	case strings.HasPrefix(hostPort, "unix:"):
		// ngx_parse_url names a unix socket "localhost".
		t.Host, t.Known = "localhost", true
		return t
	case hostPort == markIP || strings.HasPrefix(hostPort, markIP+":"):
		t.Host, t.Known = markIP, true
		return t
	case strings.Contains(hostPort, "\x00"):
		return t // known only at run time
	}
	host, port := splitHostPort(hostPort, defPort)
	t.Host, t.Port, t.Known = host, port, true
	// A literal URL names an upstream{} block by its name (nginx -t
	// rejects a port there); a value from a variable only without a port.
	if u, ok := sc.upstreams[strings.ToLower(host)]; ok && (!c.vars || !strings.Contains(strings.TrimPrefix(hostPort, host), ":")) {
		t.Upstream, t.Port, t.Servers = u, 0, u.Servers
		return t
	}
	t.Servers = []Server{newServer(host, port, s.At)}
	return t
}

// decideSNI applies ngx_http_upstream_ssl_name (the stream module has a
// copy): the name is proxy_ssl_name if set, else the upstream's host; it is
// sent only with proxy_ssl_server_name on, not when empty, and not for an
// IP literal.
func decideSNI(s *Site, t *Target, v *vars) {
	t.NameFrom = "the host in " + s.At.Name
	if t.Upstream != nil {
		t.NameFrom = "the name of upstream " + strconv.Quote(t.Upstream.Name)
	}
	names := []string{t.Host}
	if !t.Known {
		names = []string{markUnknown}
	}
	if s.Name.Set() {
		t.NameFrom = s.Name.At.Name
		names = names[:0]
		for _, x := range v.withProxyHost(t).expand(s.Name.Value(), 0) {
			names = append(names, x.value)
		}
	}
	if !s.ServerName.On() {
		t.Known = true
		if s.ServerName.Set() {
			t.NoSNIReason = s.Prefix + "server_name is off"
		} else {
			t.NoSNIReason = s.Prefix + "server_name is not set (its default is off)"
		}
		return
	}
	t.Known = true
	for _, n := range names {
		n = stripPort(n)
		switch {
		case n == markIP || strings.HasPrefix(n, markIP):
			t.NoSNIReason = "the name is an IP address (from a variable): nginx sends no SNI for an IP"
			return
		case n == "":
			t.NoSNIReason = "the name (" + t.NameFrom + ") is empty"
			return
		case isIPLiteral(n):
			t.NoSNIReason = "the name " + strconv.Quote(n) + " (" + t.NameFrom + ") is an IP address: nginx sends no SNI for an IP (RFC 6066)"
			return
		case strings.Contains(n, "\x00"):
			t.Known = false
		}
	}
	if t.Known {
		t.SNI = stripPort(names[0])
	}
}

// splitHostPort splits "host:port", "[v6]:port" or "host" (port def).
func splitHostPort(s string, def int) (string, int) {
	if strings.HasPrefix(s, "[") {
		if i := strings.IndexByte(s, ']'); i >= 0 {
			host := s[:i+1]
			if p, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], ":")); err == nil && strings.HasPrefix(s[i+1:], ":") {
				return host, p
			}
			return host, def
		}
		return s, def
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		if p, err := strconv.Atoi(s[i+1:]); err == nil {
			return s[:i], p
		}
	}
	return s, def
}

func newServer(host string, port int, at *Directive) Server {
	sv := Server{Host: host, Port: port, At: at}
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if a, err := netip.ParseAddr(h); err == nil && port > 0 && port < 65536 {
		sv.Addr = netip.AddrPortFrom(a.Unmap(), uint16(port))
	}
	return sv
}
