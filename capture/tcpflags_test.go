package capture

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/hellowatch/hellowatch/handshake"
)

// TCP segments that carry a ClientHello where a strict reading of TCP
// would not look for data: the handshake's final ACK, the SYN (TCP Fast
// Open, and the SYN-ACK with the server's answer), a FIN, URG and PSH
// combinations, and two stray bytes on the final ACK that the hello then
// overwrites (as in nDPI's heuristic_tcp_ack_payload.pcap). Each case
// edits the first connection of a real capture and must give the bare
// connection's record.

// tcpFrame is one decoded Ethernet/IPv4/TCP frame of a capture.
type tcpFrame struct {
	eth     layers.Ethernet
	ip      layers.IPv4
	tcp     layers.TCP
	payload []byte
	fromCli bool
}

func (f *tcpFrame) bytes(t testing.TB) []byte {
	t.Helper()
	ip, tcp := f.ip, f.tcp
	tcp.SetNetworkLayerForChecksum(&ip)
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&f.eth, &ip, &tcp, gopacket.Payload(f.payload))
	if err != nil {
		t.Fatal(err)
	}
	return slices.Clone(buf.Bytes())
}

// firstConnection returns the frames of a sample's first TCP connection.
func firstConnection(t testing.TB, name string) ([]tcpFrame, []Packet) {
	t.Helper()
	var out []tcpFrame
	var pkts []Packet
	var cli, srv layers.TCPPort
	for _, p := range samplePacketsOf(t, name) {
		g := gopacket.NewPacket(p.Data, layers.LayerTypeEthernet, gopacket.Default)
		eth, _ := g.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		ip, _ := g.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		tcp, _ := g.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if eth == nil || ip == nil || tcp == nil {
			continue
		}
		if cli == 0 {
			cli, srv = tcp.SrcPort, tcp.DstPort
		}
		if !(tcp.SrcPort == cli && tcp.DstPort == srv || tcp.SrcPort == srv && tcp.DstPort == cli) {
			continue
		}
		f := tcpFrame{eth: *eth, ip: *ip, tcp: *tcp, payload: slices.Clone(tcp.Payload), fromCli: tcp.SrcPort == cli}
		f.tcp.Payload = nil
		out = append(out, f)
		pkts = append(pkts, p)
	}
	if len(out) < 6 || !out[0].tcp.SYN || out[0].tcp.ACK || !out[1].tcp.SYN || !out[1].tcp.ACK || len(out[2].payload) != 0 {
		t.Fatalf("%s: the first connection does not start with SYN, SYN-ACK, ACK", name)
	}
	return out, pkts
}

// firstData returns the index of the first frame from the client (or the
// server) with payload.
func firstData(fs []tcpFrame, fromCli bool) int {
	for i := range fs {
		if fs[i].fromCli == fromCli && len(fs[i].payload) > 0 {
			return i
		}
	}
	return -1
}

// lastHelloSegment returns the index of the client's last data frame
// before the server's first: the end of the ClientHello.
func lastHelloSegment(fs []tcpFrame) int {
	last := -1
	for i := range fs {
		if len(fs[i].payload) == 0 {
			continue
		}
		if !fs[i].fromCli {
			break
		}
		last = i
	}
	return last
}

// sameHandshake compares what a record says about the handshake, leaving
// out packet counts and indexes (the edits add or merge packets).
func sameHandshake(a, b *handshake.Handshake) string {
	type core struct {
		Client, Server         string
		HasSNI                 bool
		SNI, JA3, JA4, History string
		Outcome                handshake.Outcome
		Version                uint16
		Cipher                 uint16
		Alerts                 string
		HelloErr               string
		ServerFIN, ServerRST   bool
		Gap                    bool
	}
	c := func(h *handshake.Handshake) core {
		var al string
		for _, x := range h.Alerts {
			al += fmt.Sprintf("%v/%v/%v ", x.Sender, x.Description, x.Encrypted)
		}
		return core{h.Client.String(), h.Server.String(), h.HasSNI, h.ServerName, h.JA3, h.JA4, h.History,
			h.Outcome, uint16(h.Version), uint16(h.Cipher), al, h.ClientHelloError, h.ServerFIN, h.ServerRST, h.Gap}
	}
	if ca, cb := c(a), c(b); ca != cb {
		return fmt.Sprintf("\n got %+v\nwant %+v", ca, cb)
	}
	return ""
}

func TestHelloInOddSegments(t *testing.T) {
	type edit func(t *testing.T, fs []tcpFrame) []tcpFrame
	cases := []struct {
		name string
		edit edit
	}{
		{"hello on the final ACK", func(t *testing.T, fs []tcpFrame) []tcpFrame {
			h := firstData(fs, true)
			fs[2].payload = fs[h].payload // the ACK of the SYN-ACK carries the hello
			return slices.Delete(fs, h, h+1)
		}},
		{"stray bytes on the final ACK", func(t *testing.T, fs []tcpFrame) []tcpFrame {
			fs[2].payload = []byte{0, 0} // then the hello from the same sequence number
			return fs
		}},
		{"hello on the SYN (TFO)", func(t *testing.T, fs []tcpFrame) []tcpFrame {
			h := firstData(fs, true)
			fs[0].payload = fs[h].payload
			fs[1].tcp.Ack += uint32(len(fs[h].payload)) // the server took the data
			fs[2].tcp.Seq += uint32(len(fs[h].payload))
			return slices.Delete(fs, h, h+1)
		}},
		{"hello on the SYN, not accepted, sent again", func(t *testing.T, fs []tcpFrame) []tcpFrame {
			fs[0].payload = fs[firstData(fs, true)].payload
			return fs
		}},
		{"hello on the SYN, answer on the SYN-ACK", func(t *testing.T, fs []tcpFrame) []tcpFrame {
			h := firstData(fs, true)
			a := firstData(fs, false)
			fs[0].payload = fs[h].payload
			fs[1].payload = fs[a].payload
			fs[1].tcp.Ack += uint32(len(fs[h].payload))
			fs[2].tcp.Seq += uint32(len(fs[h].payload))
			return slices.Delete(slices.Delete(fs, a, a+1), h, h+1)
		}},
		{"SYN+FIN+PSH+URG with the hello", func(t *testing.T, fs []tcpFrame) []tcpFrame {
			h := firstData(fs, true)
			if lastHelloSegment(fs) != h {
				t.Skip("the hello spans segments: no FIN before its end")
			}
			fs[0].payload = fs[h].payload
			fs[0].tcp.FIN, fs[0].tcp.PSH, fs[0].tcp.URG, fs[0].tcp.Urgent = true, true, true, 1
			fs[1].tcp.Ack += uint32(len(fs[h].payload)) + 1
			return slices.Delete(fs, h, h+1)
		}},
		{"FIN with the hello", func(t *testing.T, fs []tcpFrame) []tcpFrame {
			fs[lastHelloSegment(fs)].tcp.FIN = true // half-close: the server still answers
			return fs
		}},
		{"URG+PSH+ACK with the hello", func(t *testing.T, fs []tcpFrame) []tcpFrame {
			h := firstData(fs, true)
			fs[h].tcp.URG, fs[h].tcp.PSH, fs[h].tcp.Urgent = true, true, 5
			return fs
		}},
		{"ACK without PSH", func(t *testing.T, fs []tcpFrame) []tcpFrame {
			fs[firstData(fs, true)].tcp.PSH = false
			return fs
		}},
		{"ECE+CWR with the hello", func(t *testing.T, fs []tcpFrame) []tcpFrame {
			h := firstData(fs, true)
			fs[h].tcp.ECE, fs[h].tcp.CWR = true, true
			return fs
		}},
	}
	for _, sample := range []string{"incident-missing-sni.pcap", "tls13-alpn.pcap", "split-hello.pcap"} {
		fs, pkts := firstConnection(t, sample)
		var frames [][]byte
		for i := range fs {
			frames = append(frames, fs[i].bytes(t))
		}
		bare := trackFrames(t, Config{}, pkts, frames)
		if len(bare) != 1 {
			t.Fatalf("%s: %d records of the first connection", sample, len(bare))
		}
		for _, c := range cases {
			t.Run(sample+"/"+c.name, func(t *testing.T) {
				edited := c.edit(t, slices.Clone(fs))
				var frames [][]byte
				for i := range edited {
					frames = append(frames, edited[i].bytes(t))
				}
				got := trackFrames(t, Config{}, pkts, frames)
				if len(got) != 1 {
					t.Fatalf("%d records, want 1", len(got))
				}
				if d := sameHandshake(got[0], bare[0]); d != "" {
					t.Errorf("record differs from the bare connection's:%s", d)
				}
			})
		}
	}
}
