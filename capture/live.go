package capture

import (
	"errors"
	"net/netip"
	"time"
)

// Live capture needs libpcap, and so cgo: its functions are in
// live_pcap.go, and live_nocgo.go stands in for them in a build without cgo
// (CGO_ENABLED=0), where only capture files can be read.

// DefaultFilter is the BPF filter a live capture should use when the user
// gives none: TCP and UDP (TLS is found by content, QUIC in UDP), and the
// tunnels DecodePacket follows whose outer packet is neither: IP in IP
// (protocols 4 and 41, SRv6's routing header 43), GRE (47), MPLS and
// PPPoE sessions. UDP tunnels (VXLAN, GENEVE, CAPWAP, GTP-U) pass as UDP.
// EtherTypes are tested with "ether proto", not pcap-filter's mpls and
// pppoes keywords: those shift the offsets of every test after them.
const DefaultFilter = "tcp or udp or ip proto 4 or ip proto 41 or ip proto 47 or " +
	"ip6 proto 4 or ip6 proto 41 or ip6 proto 47 or ip6 proto 43 or " +
	"ether proto 0x8847 or ether proto 0x8848 or ether proto 0x8864"

// LiveOptions configures OpenLive. Zero values choose the defaults noted.
type LiveOptions struct {
	Interface  string        // interface name, e.g. "eth0" or "any"; required
	Filter     string        // BPF filter in pcap-filter(7) syntax; empty for none
	Snaplen    int           // bytes kept per packet; 0 means 262144
	Promisc    bool          // put the interface in promiscuous mode
	BufferSize int           // kernel buffer in bytes; 0 keeps libpcap's default
	Immediate  bool          // deliver packets as soon as they arrive
	Timeout    time.Duration // read timeout; 0 means 200ms. Next returns (nil, nil) when it expires
}

// ErrPermission is wrapped by OpenLive's error when the process may not
// capture packets.
var ErrPermission = errors.New("permission denied: capturing needs root, or run `setcap cap_net_raw,cap_net_admin=eip` on the binary")

// ErrNoSuchInterface is wrapped by OpenLive's error when the interface does
// not exist; the message lists the interfaces that do.
var ErrNoSuchInterface = errors.New("no such interface")

// Interface is a capture interface as listed by libpcap (for -D).
type Interface struct {
	Name        string       // name to pass in LiveOptions.Interface
	Description string       // libpcap's description, often empty on Linux
	Addresses   []netip.Addr // addresses of the interface
}
