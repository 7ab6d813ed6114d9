package capture

import (
	"errors"
	"net/netip"
	"time"
)

// Live capture needs libpcap, and so cgo: its functions are in
// live_pcap.go, and live_nocgo.go stands in for them in a build without cgo
// (CGO_ENABLED=0), where only capture files can be read.

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
