//go:build cgo

package capture

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// TestTunnelFilters: a BPF filter sees the outer packet, as in tcpdump.
// The README's idioms for filtering on the inner flow (pcap-filter(7)'s
// geneve, mpls and pppoes keywords, byte offsets for VXLAN and IP in IP,
// which libpcap 1.10 has no keyword for) and capture.DefaultFilter are
// checked against frames of each encapsulation: each idiom keeps its
// tunnel's frames of the inner port and no other.
func TestTunnelFilters(t *testing.T) {
	eth4, _ := samplePackets(t)
	var inner Decoded
	if DecodePacket(LinkEthernet, eth4, &inner) != SkipNone {
		t.Fatal("sample does not decode")
	}
	port := inner.DstPort
	idioms := map[string]string{
		"geneve":      fmt.Sprintf("geneve and tcp port %d", port),
		"mpls":        fmt.Sprintf("mpls and mpls and tcp port %d", port), // one mpls per label
		"pppoe":       fmt.Sprintf("pppoes and tcp port %d", port),
		"vxlan":       fmt.Sprintf("udp dst port 4789 and udp[28:2] = 0x0800 and udp[39] = 6 and (udp[50:2] = %d or udp[52:2] = %d)", port, port),
		"ipip":        fmt.Sprintf("ip proto 4 and ip[29] = 6 and (ip[40:2] = %d or ip[42:2] = %d)", port, port),
		"gre":         fmt.Sprintf("ip proto 47 and ip[22:2] = 0x0800 and ip[33] = 6 and (ip[44:2] = %d or ip[46:2] = %d)", port, port),
		"all tunnels": DefaultFilter,
	}
	// The frames: every encapsulation of the sample's IPv4 packet, and
	// the bare packet.
	frames := map[string][]byte{"bare": eth4}
	for _, w := range tunnelWraps() {
		frames[w.name] = w.build(t, eth4[14:], false, 0)
	}
	for name, expr := range idioms {
		var buf bytes.Buffer
		pw := pcapgo.NewWriter(&buf)
		if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
			t.Fatal(err)
		}
		var order []string
		for fname, f := range frames {
			order = append(order, fname)
			ci := gopacket.CaptureInfo{Timestamp: time.Unix(1, 0), CaptureLength: len(f), Length: len(f)}
			if err := pw.WritePacket(ci, f); err != nil {
				t.Fatal(err)
			}
		}
		src, err := OpenReader("tunnels.pcap", &buf)
		if err != nil {
			t.Fatal(err)
		}
		fs, err := FilterSource(src, expr)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var matched []string
		for p, err := fs.Next(); err == nil && p != nil; p, err = fs.Next() {
			matched = append(matched, order[p.Index-1])
		}
		fs.Close()
		want := map[string][]string{
			"geneve": {"geneve", "geneve-options-ip"}, "mpls": {"mpls"}, "pppoe": {"pppoe"}, "vxlan": {"vxlan"},
			"ipip": {"ipip"}, "gre": {"gre"},
		}[name]
		if name == "all tunnels" {
			want = order // everything: TCP, UDP, IP in IP, GRE, MPLS, PPPoE
		}
		if !sameSet(matched, want) {
			t.Errorf("%s (%s) keeps %v, want %v", name, expr, matched, want)
		}
	}
}

func sameSet(a, b []string) bool {
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}
