// Package hostile writes adversarial captures for the robustness tests:
// floods, reassembly abuse and TLS messages whose lengths lie. Every packet
// is serialized by gopacket's layers (checksums computed) and written with
// pcapgo, so the files are what a real capture of such traffic would hold.
// Captures are generated at test time; none is committed.
package hostile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/hellowatch/hellowatch/quic"
)

// Writer writes Ethernet/IPv4/TCP packets to a pcap stream, advancing a
// packet clock by Step per packet.
type Writer struct {
	w    *pcapgo.Writer
	buf  gopacket.SerializeBuffer
	opts gopacket.SerializeOptions
	eth  layers.Ethernet
	ip   layers.IPv4
	tcp  layers.TCP
	// Now is the time of the next packet; Step is added after each one.
	Now  time.Time
	Step time.Duration
	// Packets counts the packets written.
	Packets int
}

// NewWriter writes a pcap header (Ethernet, snaplen 262144) to w.
func NewWriter(w io.Writer) (*Writer, error) {
	pw := pcapgo.NewWriter(w)
	if err := pw.WriteFileHeader(262144, layers.LinkTypeEthernet); err != nil {
		return nil, err
	}
	hw := &Writer{
		w:    pw,
		buf:  gopacket.NewSerializeBuffer(),
		opts: gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		Now:  time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC),
		Step: 10 * time.Microsecond,
	}
	hw.eth = layers.Ethernet{
		SrcMAC:       net.HardwareAddr{2, 0, 0, 0, 0, 1},
		DstMAC:       net.HardwareAddr{2, 0, 0, 0, 0, 2},
		EthernetType: layers.EthernetTypeIPv4,
	}
	return hw, nil
}

// Endpoint is an IPv4 address and a port.
type Endpoint struct {
	IP   [4]byte
	Port uint16
}

// TCP flags for Segment.
const (
	FIN = 1 << iota
	SYN
	RST
	PSH
	ACK
)

// Segment writes one TCP segment from src to dst.
func (w *Writer) Segment(src, dst Endpoint, seq, ack uint32, flags int, payload []byte) error {
	w.ip = layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP,
		SrcIP: net.IP(src.IP[:]), DstIP: net.IP(dst.IP[:])}
	w.tcp = layers.TCP{
		SrcPort: layers.TCPPort(src.Port), DstPort: layers.TCPPort(dst.Port),
		Seq: seq, Ack: ack, Window: 65535,
		FIN: flags&FIN != 0, SYN: flags&SYN != 0, RST: flags&RST != 0,
		PSH: flags&PSH != 0, ACK: flags&ACK != 0,
	}
	if err := w.tcp.SetNetworkLayerForChecksum(&w.ip); err != nil {
		return err
	}
	if err := gopacket.SerializeLayers(w.buf, w.opts, &w.eth, &w.ip, &w.tcp, gopacket.Payload(payload)); err != nil {
		return err
	}
	data := w.buf.Bytes()
	ci := gopacket.CaptureInfo{Timestamp: w.Now, CaptureLength: len(data), Length: len(data)}
	w.Now = w.Now.Add(w.Step)
	w.Packets++
	return w.w.WritePacket(ci, data)
}

// Conn is one TCP connection being written: it keeps both sides'
// sequence numbers.
type Conn struct {
	W              *Writer
	Client, Server Endpoint
	CSeq, SSeq     uint32 // next sequence number of each side
}

// Open writes the three-way handshake and returns the connection.
func (w *Writer) Open(client, server Endpoint) (*Conn, error) {
	c := &Conn{W: w, Client: client, Server: server, CSeq: 1000, SSeq: 5000}
	if err := w.Segment(client, server, c.CSeq, 0, SYN, nil); err != nil {
		return nil, err
	}
	if err := w.Segment(server, client, c.SSeq, c.CSeq+1, SYN|ACK, nil); err != nil {
		return nil, err
	}
	c.CSeq++
	c.SSeq++
	if err := w.Segment(client, server, c.CSeq, c.SSeq, ACK, nil); err != nil {
		return nil, err
	}
	return c, nil
}

// ClientSend writes data from the client in segments of at most mss bytes.
func (c *Conn) ClientSend(data []byte, mss int) error {
	return c.send(true, data, mss)
}

// ServerSend writes data from the server in segments of at most mss bytes.
func (c *Conn) ServerSend(data []byte, mss int) error {
	return c.send(false, data, mss)
}

func (c *Conn) send(client bool, data []byte, mss int) error {
	for len(data) > 0 {
		n := min(len(data), mss)
		var err error
		if client {
			err = c.W.Segment(c.Client, c.Server, c.CSeq, c.SSeq, PSH|ACK, data[:n])
			c.CSeq += uint32(n)
		} else {
			err = c.W.Segment(c.Server, c.Client, c.SSeq, c.CSeq, PSH|ACK, data[:n])
			c.SSeq += uint32(n)
		}
		if err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// Close writes a FIN from each side.
func (c *Conn) Close() error {
	if err := c.W.Segment(c.Client, c.Server, c.CSeq, c.SSeq, FIN|ACK, nil); err != nil {
		return err
	}
	return c.W.Segment(c.Server, c.Client, c.SSeq, c.CSeq+1, FIN|ACK, nil)
}

// Hello describes a ClientHello to build; zero fields get sane values.
type Hello struct {
	SNI        []byte   // host name; nil for no SNI extension
	Extensions [][]byte // extra extensions, each type(2) + length(2) + body, appended as is
	Version    uint16   // legacy_version; 0 means TLS 1.2
}

// u16 appends a big-endian 16-bit value.
func u16(b []byte, v int) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }

// u24 appends a big-endian 24-bit value.
func u24(b []byte, v int) []byte { return append(b, byte(v>>16), byte(v>>8), byte(v)) }

// Body returns the ClientHello message body (without the 4-byte header).
func (h Hello) Body() []byte {
	v := h.Version
	if v == 0 {
		v = 0x0303
	}
	b := u16(nil, int(v))
	b = append(b, make([]byte, 32)...) // random
	b = append(b, 0)                   // session id
	b = u16(b, 4)                      // cipher suites
	b = u16(b, 0xc02f)
	b = u16(b, 0x1301)
	b = append(b, 1, 0) // compression: null
	var ext []byte
	if h.SNI != nil {
		ext = u16(ext, 0) // server_name
		ext = u16(ext, len(h.SNI)+5)
		ext = u16(ext, len(h.SNI)+3)
		ext = append(ext, 0)
		ext = u16(ext, len(h.SNI))
		ext = append(ext, h.SNI...)
	}
	// supported_versions: TLS 1.3, 1.2
	ext = append(ext, 0, 43, 0, 5, 4, 3, 4, 3, 3)
	for _, e := range h.Extensions {
		ext = append(ext, e...)
	}
	b = u16(b, len(ext))
	return append(b, ext...)
}

// Message returns the ClientHello handshake message (header + body).
func (h Hello) Message() []byte {
	body := h.Body()
	return append(u24([]byte{1}, len(body)), body...)
}

// Records wraps a handshake byte stream in TLS records of at most 16384
// bytes (content type 22, version 3.1).
func Records(ct byte, msg []byte) []byte {
	var out []byte
	for first := true; first || len(msg) > 0; first = false {
		n := min(len(msg), 16384)
		out = append(out, ct, 3, 1)
		out = u16(out, n)
		out = append(out, msg[:n]...)
		msg = msg[n:]
	}
	return out
}

// Record returns one TLS record with the given header fields, whatever the
// length of body: length is written as given (it may lie).
func Record(ct byte, length int, body []byte) []byte {
	out := []byte{ct, 3, 1}
	out = u16(out, length)
	return append(out, body...)
}

// ServerHello returns a TLS 1.2 ServerHello record (cipher 0xc02f).
func ServerHello() []byte {
	b := u16(nil, 0x0303)
	b = append(b, make([]byte, 32)...)
	b = append(b, 0)
	b = u16(b, 0xc02f)
	b = append(b, 0)
	b = u16(b, 0)
	msg := append(u24([]byte{2}, len(b)), b...)
	return Records(22, msg)
}

// Alert returns a fatal alert record with the given description.
func Alert(desc byte) []byte { return []byte{21, 3, 3, 0, 2, 2, desc} }

// client returns the n-th client endpoint: 10.x.y.z, ports from 1024.
func client(n int) Endpoint {
	port := 1024 + n%60000
	host := n / 60000
	return Endpoint{IP: [4]byte{10, byte(host >> 16), byte(host >> 8), byte(host)}, Port: uint16(port)}
}

// server is the server every scenario talks to.
var server = Endpoint{IP: [4]byte{192, 0, 2, 1}, Port: 443}

// SYNFlood writes n SYNs, each from its own client port (and address, past
// 60000) to a distinct server port: n flows that never carry a byte.
func SYNFlood(n int) func(io.Writer) error {
	return flood(n, func(w *Writer, i int) error {
		dst := Endpoint{IP: server.IP, Port: uint16(1 + i%65535)}
		return w.Segment(client(i), dst, uint32(i), 0, SYN, nil)
	})
}

// flood writes n packets one microsecond apart, the i-th by packet(w, i):
// the floods send one packet per client.
func flood(n int, packet func(w *Writer, i int) error) func(io.Writer) error {
	return func(out io.Writer) error {
		w, err := NewWriter(out)
		if err != nil {
			return err
		}
		w.Step = time.Microsecond
		for i := 0; i < n; i++ {
			if err := packet(w, i); err != nil {
				return err
			}
		}
		return nil
	}
}

// Holes writes flows whose ClientHello starts, then never fills its first
// hole: each flow sends segs segments of size bytes, every other one left
// out, so everything after the first hole must be buffered (or dropped).
func Holes(flows, segs, size int) func(io.Writer) error {
	return func(out io.Writer) error {
		w, err := NewWriter(out)
		if err != nil {
			return err
		}
		// A record of 16 KB starting a hello that claims 60 KB: the
		// reassembler wants all of it.
		head := []byte{22, 3, 1, 0x40, 0x00, 1, 0, 0xea, 0x5c, 3, 3}
		chunk := make([]byte, size)
		for i := range chunk {
			chunk[i] = byte(i)
		}
		for f := 0; f < flows; f++ {
			c, err := w.Open(client(f), server)
			if err != nil {
				return err
			}
			if err := c.ClientSend(head, 1460); err != nil {
				return err
			}
			for s := 0; s < segs; s++ {
				seq := c.CSeq + uint32((2*s+1)*size)
				if err := w.Segment(c.Client, c.Server, seq, c.SSeq, PSH|ACK, chunk); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

// ReverseTiny writes flows whose hello starts, followed by n one-byte
// segments in reverse order behind a hole: the worst case for a sorted
// list of held segments.
func ReverseTiny(flows, n int) func(io.Writer) error {
	return func(out io.Writer) error {
		w, err := NewWriter(out)
		if err != nil {
			return err
		}
		w.Step = time.Microsecond
		head := []byte{22, 3, 1, 0x40, 0x00, 1, 0, 0xea, 0x5c, 3, 3}
		for f := 0; f < flows; f++ {
			c, err := w.Open(client(f), server)
			if err != nil {
				return err
			}
			if err := c.ClientSend(head, 1460); err != nil {
				return err
			}
			for s := n; s > 0; s-- {
				if err := w.Segment(c.Client, c.Server, c.CSeq+uint32(s), c.SSeq, ACK, []byte{byte(s)}); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

// HugeHello writes a ClientHello whose handshake header claims 16 MB - 1
// bytes, followed by size bytes of records that would be its body.
func HugeHello(size int) func(io.Writer) error {
	return func(out io.Writer) error {
		w, err := NewWriter(out)
		if err != nil {
			return err
		}
		c, err := w.Open(client(0), server)
		if err != nil {
			return err
		}
		body := Hello{SNI: []byte("huge.example")}.Body()
		msg := append(u24([]byte{1}, 1<<24-1), body...)
		msg = append(msg, make([]byte, size)...)
		if err := c.ClientSend(Records(22, msg), 1460); err != nil {
			return err
		}
		if err := c.ServerSend(Alert(50), 1460); err != nil {
			return err
		}
		return c.Close()
	}
}

// LyingLengths writes one flow per lie: record, handshake, vector and
// extension lengths too long, too short, zero and maximal. The server
// answers each with a decode_error alert.
func LyingLengths() func(io.Writer) error {
	return func(out io.Writer) error {
		w, err := NewWriter(out)
		if err != nil {
			return err
		}
		for i, stream := range lies() {
			c, err := w.Open(client(i), server)
			if err != nil {
				return err
			}
			if err := c.ClientSend(stream, 1460); err != nil {
				return err
			}
			if err := c.ServerSend(Alert(50), 1460); err != nil {
				return err
			}
			if err := c.Close(); err != nil {
				return err
			}
		}
		return nil
	}
}

// LieCount is how many flows LyingLengths writes.
func LieCount() int { return len(lies()) }

// lies returns the client byte streams of LyingLengths.
func lies() [][]byte {
	good := Hello{SNI: []byte("lies.example")}
	body := good.Body()
	msg := good.Message()
	var out [][]byte
	// Record length: longer than the data, shorter, zero, maximal.
	for _, l := range []int{len(msg) + 100, len(msg) - 10, 0, 0xffff, 1} {
		out = append(out, Record(22, l, msg))
	}
	// Handshake length: longer than the record, shorter, zero, 16 MB - 1.
	for _, l := range []int{len(body) + 50, len(body) - 7, 0, 1<<24 - 1, 1} {
		m := append(u24([]byte{1}, l), body...)
		out = append(out, Records(22, m))
	}
	// Vectors inside the hello: session id, cipher suites, compression,
	// extensions block, SNI list, SNI name; each set to a range of lies.
	offsets := map[string]int{
		"session_id":  34,
		"ciphers":     35,
		"compression": 39,
		"extensions":  41,
		"sni_ext_len": 45,
		"sni_list":    47,
		"sni_name":    50,
	}
	for _, name := range []string{"session_id", "ciphers", "compression", "extensions", "sni_ext_len", "sni_list", "sni_name"} {
		off := offsets[name]
		for _, v := range []int{0, 1, 0xff, 0xffff, 3} {
			b := append([]byte(nil), body...)
			if name == "session_id" || name == "compression" {
				b[off] = byte(v)
			} else {
				binary.BigEndian.PutUint16(b[off:], uint16(v))
			}
			out = append(out, Records(22, append(u24([]byte{1}, len(b)), b...)))
		}
	}
	// Two hellos in one record; a hello split across records with lying
	// lengths in the second; an SSLv2 header claiming 32 KB.
	out = append(out, Records(22, append(append([]byte(nil), msg...), msg...)))
	split := append(Record(22, 10, msg[:10]), Record(22, 0xfff0, msg[10:])...)
	out = append(out, split)
	out = append(out, append([]byte{0xff, 0xff, 1, 3, 1}, make([]byte, 64)...))
	return out
}

// ManyExtensions writes a hello with n empty extensions of distinct
// unknown types after the SNI, spread over several records.
func ManyExtensions(n int) func(io.Writer) error {
	return func(out io.Writer) error {
		w, err := NewWriter(out)
		if err != nil {
			return err
		}
		exts := make([][]byte, n)
		for i := range exts {
			exts[i] = u16(u16(nil, 0x1000+i), 0)
		}
		h := Hello{SNI: []byte("many.example"), Extensions: exts}
		c, err := w.Open(client(0), server)
		if err != nil {
			return err
		}
		if err := c.ClientSend(Records(22, h.Message()), 1460); err != nil {
			return err
		}
		if err := c.ServerSend(Alert(40), 1460); err != nil {
			return err
		}
		return c.Close()
	}
}

// EscapeSNIs are the host names EscapeSNI sends: terminal escape sequences
// (clear screen, OSC 52 clipboard write, title change, cursor moves), C0/C1
// controls, bidi overrides and invalid UTF-8.
var EscapeSNIs = [][]byte{
	[]byte("evil\x1b[2J\x1b[H.example"),
	[]byte("\x1b]52;c;ZWNobyBwd25lZA==\x07clip.example"),
	[]byte("\x1b]0;owned\x07title.example"),
	[]byte("a\x1b[31mred\x1b[0m\r\nfake line: established"),
	[]byte("nul\x00byte\x7fdel\x08bs.example"),
	[]byte("\xc2\x9b31mC1-CSI.example"),
	[]byte("bidi\u202egnp.exe"),
	[]byte("bad\xff\xfe\xc3\x28utf8\xed\xa0\x80.example"),
	[]byte("\"quote\\back\\slash\"},\"outcome\":\"established"),
}

// EscapeSNI writes one flow per EscapeSNIs entry; the server refuses each
// with unrecognized_name (112).
func EscapeSNI() func(io.Writer) error {
	return func(out io.Writer) error {
		w, err := NewWriter(out)
		if err != nil {
			return err
		}
		for i, sni := range EscapeSNIs {
			c, err := w.Open(client(i), server)
			if err != nil {
				return err
			}
			if err := c.ClientSend(Records(22, Hello{SNI: sni}.Message()), 1460); err != nil {
				return err
			}
			if err := c.ServerSend(Alert(112), 1460); err != nil {
				return err
			}
			if err := c.Close(); err != nil {
				return err
			}
		}
		return nil
	}
}

// ZeroRecords writes three flows: the client sends n zero-length handshake
// records before its hello; the client's hello is followed by n
// zero-length records from the server before its ServerHello; and the
// server sends n zero-length application-data records after it.
func ZeroRecords(n int) func(io.Writer) error {
	return func(out io.Writer) error {
		w, err := NewWriter(out)
		if err != nil {
			return err
		}
		hello := Records(22, Hello{SNI: []byte("zero.example")}.Message())
		zeros := func(ct byte) []byte {
			b := make([]byte, 0, 5*n)
			for i := 0; i < n; i++ {
				b = append(b, ct, 3, 3, 0, 0)
			}
			return b
		}
		steps := [][2][]byte{
			{append(zeros(22), hello...), Alert(40)},
			{hello, append(zeros(22), ServerHello()...)},
			{hello, append(ServerHello(), zeros(23)...)},
		}
		for i, s := range steps {
			c, err := w.Open(client(i), server)
			if err != nil {
				return err
			}
			if err := c.ClientSend(s[0], 1460); err != nil {
				return err
			}
			if err := c.ServerSend(s[1], 1460); err != nil {
				return err
			}
			if err := c.Close(); err != nil {
				return err
			}
		}
		return nil
	}
}

// RetransmitNames are the SNI pairs Retransmit sends: the first as sent,
// the second in a retransmission of the same bytes.
var RetransmitNames = [2]string{"good.example", "evil.example"}

// Retransmit writes two flows whose ClientHello is retransmitted with
// different bytes: in the first the whole segment is sent again with
// another SNI; in the second a retransmission overlaps half of the first
// segment and brings the rest. The server answers each with
// unrecognized_name.
func Retransmit() func(io.Writer) error {
	return func(out io.Writer) error {
		w, err := NewWriter(out)
		if err != nil {
			return err
		}
		good := Records(22, Hello{SNI: []byte(RetransmitNames[0])}.Message())
		evil := Records(22, Hello{SNI: []byte(RetransmitNames[1])}.Message())
		if len(good) != len(evil) {
			return fmt.Errorf("hostile: retransmitted hellos differ in length")
		}
		// Flow 1: whole segment again, different bytes.
		c, err := w.Open(client(0), server)
		if err != nil {
			return err
		}
		seq := c.CSeq
		if err := c.ClientSend(good, 1460); err != nil {
			return err
		}
		if err := w.Segment(c.Client, c.Server, seq, c.SSeq, PSH|ACK, evil); err != nil {
			return err
		}
		if err := c.ServerSend(Alert(112), 1460); err != nil {
			return err
		}
		if err := c.Close(); err != nil {
			return err
		}
		// Flow 2: the first half, then a segment overlapping it with other
		// bytes and carrying the rest.
		c, err = w.Open(client(1), server)
		if err != nil {
			return err
		}
		name := bytes.Index(good, []byte(RetransmitNames[0]))
		if err := w.Segment(c.Client, c.Server, c.CSeq, c.SSeq, PSH|ACK, good[:name+6]); err != nil {
			return err
		}
		if err := w.Segment(c.Client, c.Server, c.CSeq+uint32(name), c.SSeq, PSH|ACK, evil[name:]); err != nil {
			return err
		}
		c.CSeq += uint32(len(good))
		if err := c.ServerSend(Alert(112), 1460); err != nil {
			return err
		}
		return c.Close()
	}
}

// Datagram writes one UDP datagram from src to dst.
func (w *Writer) Datagram(src, dst Endpoint, payload []byte) error {
	w.ip = layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: net.IP(src.IP[:]), DstIP: net.IP(dst.IP[:])}
	udp := layers.UDP{SrcPort: layers.UDPPort(src.Port), DstPort: layers.UDPPort(dst.Port)}
	if err := udp.SetNetworkLayerForChecksum(&w.ip); err != nil {
		return err
	}
	if err := gopacket.SerializeLayers(w.buf, w.opts, &w.eth, &w.ip, &udp, gopacket.Payload(payload)); err != nil {
		return err
	}
	data := w.buf.Bytes()
	ci := gopacket.CaptureInfo{Timestamp: w.Now, CaptureLength: len(data), Length: len(data)}
	w.Now = w.Now.Add(w.Step)
	w.Packets++
	return w.w.WritePacket(ci, data)
}

// varint appends a QUIC variable-length integer (RFC 9000 §16), v < 2^30.
func varint(b []byte, v int) []byte {
	switch {
	case v < 1<<6:
		return append(b, byte(v))
	case v < 1<<14:
		return append(b, 0x40|byte(v>>8), byte(v))
	}
	return append(b, 0x80|byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// CryptoFrame returns a CRYPTO frame (RFC 9000 §19.6) carrying data at
// offset off of the stream.
func CryptoFrame(off int, data []byte) []byte {
	b := varint(varint([]byte{0x06}, off), len(data))
	return append(b, data...)
}

// QUICInitial returns a QUIC v1 client Initial packet to dcid from scid,
// packet number pn, carrying frames (padded with PADDING to a 1200-byte
// datagram, as clients must), protected with the Initial keys of dcid, so
// that an observer opens it as a real one.
func QUICInitial(dcid, scid []byte, pn int64, frames []byte) ([]byte, error) {
	var keys quic.InitialKeys
	if err := keys.Derive(quic.Version1, dcid); err != nil {
		return nil, err
	}
	const pnLen = 4
	hdrLen := 1 + 4 + 1 + len(dcid) + 1 + len(scid) + 1 + 2 + pnLen
	payload := append([]byte(nil), frames...)
	if n := 1200 - hdrLen - len(payload) - 16; n > 0 {
		payload = append(payload, make([]byte, n)...)
	}
	hdr := []byte{0xc0 | (pnLen - 1), 0, 0, 0, 1, byte(len(dcid))}
	hdr = append(hdr, dcid...)
	hdr = append(hdr, byte(len(scid)))
	hdr = append(hdr, scid...)
	hdr = append(hdr, 0) // no token
	n := pnLen + len(payload) + 16
	hdr = append(hdr, 0x40|byte(n>>8), byte(n))
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(pn))
	return keys.Client.Seal(nil, hdr, payload, pn, pnLen), nil
}

// QUICCryptoFlood writes n QUIC connections from distinct client ports,
// each one authentic client Initial with 1000 bytes of CRYPTO data at
// stream offset off and nothing else. Near the end of the stream's 64 KiB
// window (off 60000) a 1200-byte datagram makes an observer hold 60 KB for
// a ClientHello that never comes; at 0 it is the start of a hello that
// never ends (n open handshakes).
func QUICCryptoFlood(n, off int) func(io.Writer) error {
	// A ClientHello header claiming 60000 bytes, then filler.
	data := append([]byte{1, 0, 0xea, 0x60}, bytes.Repeat([]byte{0x16}, 996)...)
	return flood(n, func(w *Writer, i int) error {
		dcid := binary.BigEndian.AppendUint64(nil, uint64(i)+0x0123456789)
		pkt, err := QUICInitial(dcid, []byte{1, 2, 3, 4}, 0, CryptoFrame(off, data))
		if err != nil {
			return err
		}
		return w.Datagram(client(i), server, pkt)
	})
}

// PartialHellos writes n TCP connections (no handshake: a capture picks
// them up by content) that each send the first 1000 bytes of a 60 KB
// ClientHello and nothing more: n handshakes that start and never end.
func PartialHellos(n int) func(io.Writer) error {
	pad := append([]byte{0, 21, 0xea, 0x60}, make([]byte, 60000)...)
	hello := Records(22, Hello{SNI: []byte("partial.example"), Extensions: [][]byte{pad}}.Message())[:1000]
	return flood(n, func(w *Writer, i int) error {
		return w.Segment(client(i), server, 1000, 1, PSH|ACK, hello)
	})
}
