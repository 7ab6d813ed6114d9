package conf

import (
	"strconv"
	"strings"
)

// Markers stand, in an expanded value, for what is only known at run time.
const (
	markUnknown = "\x00?"  // any value (a header, an argument)
	markIP      = "\x00ip" // an IP address ($remote_addr, $server_addr)
)

// maxExpansions caps the values one directive expands to.
const maxExpansions = 64

// expanded is one value a directive's argument can take.
type expanded struct {
	value string // with markers for run-time values
	via   string // `$be = "backend"`, how the variables were taken
	vars  bool   // variables were involved
}

// vars resolves variables for one site: set in its blocks, map/geo/
// split_clients at module level, and the built-in ones nginx fills.
type vars struct {
	sc        *scope
	set       map[string][]varDef
	proxyHost string // $proxy_host, when expanding proxy_ssl_name
}

// newVars collects the `set $x value;` directives of the site's blocks
// and of `if` blocks directly inside them.
func newVars(sc *scope, chain []*Directive) *vars {
	v := &vars{sc: sc, set: map[string][]varDef{}}
	var add func(b *Directive, depth int)
	add = func(b *Directive, depth int) {
		for _, d := range b.Block {
			if d.Name == "set" && !d.IsBlock && len(d.Args) == 2 {
				name := strings.TrimPrefix(d.Args[0], "$")
				v.set[name] = append(v.set[name], varDef{value: d.Args[1], at: d})
			}
			if d.Name == "if" && d.IsBlock && depth < 2 {
				add(d, depth+1)
			}
		}
	}
	for _, b := range chain {
		if b.Name != "http" && b.Name != "stream" {
			add(b, 0)
		}
	}
	return v
}

// withProxyHost returns v with $proxy_host set to the target's host.
func (v *vars) withProxyHost(t *Target) *vars {
	c := *v
	switch {
	case t.Host == "" || !t.Known:
		c.proxyHost = markUnknown
	default:
		c.proxyHost = t.Host
	}
	return &c
}

// expand returns the values s can take, at most maxExpansions.
func (v *vars) expand(s string, depth int) []expanded {
	out := []expanded{{}}
	lit := func(l string) {
		for i := range out {
			out[i].value += l
		}
	}
	for len(s) > 0 {
		i := strings.IndexByte(s, '$')
		if i < 0 {
			lit(s)
			break
		}
		lit(s[:i])
		s = s[i+1:]
		var name string
		if strings.HasPrefix(s, "{") {
			j := strings.IndexByte(s, '}')
			if j < 0 {
				lit("$" + s)
				break
			}
			name, s = s[1:j], s[j+1:]
		} else {
			j := 0
			for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			if j == 0 {
				lit("$")
				continue
			}
			name, s = s[:j], s[j:]
		}
		vals := v.values(name, depth)
		var next []expanded
		for _, o := range out {
			for _, x := range vals {
				if len(next) >= maxExpansions {
					break
				}
				via := o.via
				if x.via != "" {
					if via != "" {
						via += ", "
					}
					via += x.via
				}
				next = append(next, expanded{value: o.value + x.value, via: via, vars: true})
			}
		}
		out = next
	}
	return out
}

// values returns what $name can be.
func (v *vars) values(name string, depth int) []expanded {
	lower := strings.ToLower(name)
	defs := v.set[name]
	if len(defs) == 0 {
		defs = v.sc.vars[name]
	}
	if len(defs) > 0 && depth < 4 {
		var out []expanded
		for _, d := range defs {
			for _, x := range v.expand(d.value, depth+1) {
				via := "$" + name + " = " + strconv.Quote(d.value)
				if x.via != "" {
					via += " (" + x.via + ")"
				}
				out = append(out, expanded{value: x.value, via: via, vars: true})
			}
		}
		return out
	}
	switch {
	case lower == "proxy_host" && v.proxyHost != "":
		return []expanded{{value: v.proxyHost}}
	case ipVariables[lower]:
		return []expanded{{value: markIP}}
	case lower == "request_uri" || lower == "uri" || lower == "document_uri":
		return []expanded{{value: "/" + markUnknown}}
	case lower == "is_args":
		return []expanded{{value: "?"}, {value: ""}}
	}
	return []expanded{{value: markUnknown}}
}
