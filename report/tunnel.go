package report

import (
	"net/netip"
	"strconv"

	"github.com/hellowatch/hellowatch/handshake"
)

// appendTunnels writes the JSON array of a flow's encapsulations,
// outermost first: {"type", the type's ID key ("vni", "key", "session",
// "label", "teid"; null when the header has none), "outer"}; [] when the
// flow was not tunnelled.
func appendTunnels(dst []byte, ts []handshake.Tunnel) []byte {
	dst = append(dst, '[')
	for i := range ts {
		t := &ts[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"type":"`...)
		dst = append(dst, t.Type.String()...)
		dst = append(dst, '"')
		if name := t.Type.IDName(); name != "" {
			dst = append(dst, `,"`...)
			dst = append(dst, name...)
			dst = append(dst, `":`...)
			if t.HasID {
				dst = strconv.AppendUint(dst, uint64(t.ID), 10)
			} else {
				dst = append(dst, "null"...)
			}
		}
		dst = append(dst, `,"outer":`...)
		if t.Src.IsValid() {
			dst = append(dst, '"')
			dst = appendOuter(dst, t)
			dst = append(dst, '"')
		} else {
			dst = append(dst, "null"...)
		}
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// appendTunnelText writes a flow's encapsulations for the text line:
// " [vxlan vni=42 198.51.100.1:41000 → 198.51.100.2:4789]", one bracket
// per layer, outermost first; nothing when the flow was not tunnelled.
func appendTunnelText(dst []byte, ts []handshake.Tunnel) []byte {
	for i := range ts {
		t := &ts[i]
		if i == 0 {
			dst = append(dst, ' ')
		}
		dst = append(dst, '[')
		dst = append(dst, t.Type.String()...)
		if name := t.Type.IDName(); name != "" && t.HasID {
			dst = append(dst, ' ')
			dst = append(dst, name...)
			dst = append(dst, '=')
			dst = strconv.AppendUint(dst, uint64(t.ID), 10)
		}
		if t.Src.IsValid() {
			dst = append(dst, ' ')
			dst = appendOuter(dst, t)
		}
		dst = append(dst, ']')
	}
	return dst
}

// appendOuter writes "src → dst": ip:port for UDP tunnels, the bare
// addresses for the others.
func appendOuter(dst []byte, t *handshake.Tunnel) []byte {
	dst = appendEndpoint(dst, t.Src)
	dst = append(dst, " → "...)
	return appendEndpoint(dst, t.Dst)
}

func appendEndpoint(dst []byte, ap netip.AddrPort) []byte {
	if ap.Port() == 0 {
		return ap.Addr().AppendTo(dst)
	}
	return ap.AppendTo(dst)
}
