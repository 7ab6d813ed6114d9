package conf

import (
	"net/netip"
	"strings"
)

// SiteTarget is a site and one of its targets.
type SiteTarget struct {
	Site   *Site
	Target *Target
}

// Resolve fills in the addresses of servers named by host name (an
// upstream server line, a proxy_pass host), as nginx resolves them when it
// starts. lookup returns a name's addresses (nil when unknown); it is called
// once per name.
func (m *Model) Resolve(lookup func(host string) []netip.Addr) {
	cache := map[string][]netip.Addr{}
	for _, s := range m.Sites {
		for _, t := range s.Targets {
			for i := range t.Servers {
				sv := &t.Servers[i]
				if sv.Addr.IsValid() || sv.Host == "" || sv.Port == 0 || strings.HasPrefix(sv.Host, "\x00") {
					continue
				}
				h := strings.ToLower(sv.Host)
				addrs, ok := cache[h]
				if !ok {
					addrs = lookup(sv.Host)
					cache[h] = addrs
				}
				sv.Resolved = sv.Resolved[:0]
				for _, a := range addrs {
					sv.Resolved = append(sv.Resolved, netip.AddrPortFrom(a.Unmap(), uint16(sv.Port)))
				}
			}
		}
	}
}

// SitesFor returns the sites that connect to ap, with the target through
// which they do, in file order.
func (m *Model) SitesFor(ap netip.AddrPort) []SiteTarget {
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	var out []SiteTarget
	for _, s := range m.Sites {
		for _, t := range s.Targets {
			if t.reaches(ap) {
				out = append(out, SiteTarget{Site: s, Target: t})
				break
			}
		}
	}
	return out
}

func (t *Target) reaches(ap netip.AddrPort) bool {
	for _, sv := range t.Servers {
		if sv.Addr == ap {
			return true
		}
		for _, r := range sv.Resolved {
			if r == ap {
				return true
			}
		}
	}
	return false
}
