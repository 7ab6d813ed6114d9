package confirm

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/hellowatch/hellowatch/across"
	"github.com/hellowatch/hellowatch/capture"
	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// Flow is one TCP handshake of the capture, with its findings.
type Flow struct {
	Record   *handshake.Handshake
	Findings []diagnose.Finding
}

// Failed reports whether the handshake failed: it has a finding of error
// severity, or the server ended it in the middle of the hello.
func (f *Flow) Failed() bool {
	for _, x := range f.Findings {
		if x.Severity == diagnose.SeverityError {
			return true
		}
	}
	return endedMidHello(f.Record)
}

// endedMidHello reports a handshake that the server ended (FIN or RST)
// while the hello was not whole yet: an SNI router that decided on the
// first segment, when the rest of the hello is not in the record: the
// tracker waits for it after the server's FIN or RST, and reports the flow
// as the server ended it with the hello unread when it never comes (or
// incomplete when the server's bytes were held behind a hole); confirm
// reads the rest from the capture.
func endedMidHello(h *handshake.Handshake) bool {
	switch h.Outcome {
	case handshake.OutcomeIncomplete, handshake.OutcomeServerClosed, handshake.OutcomeServerReset:
	default:
		return false
	}
	return h.ClientHelloError != "" && !h.SSLv2Hello && (h.ServerFIN || h.ServerRST) && h.EndedBy == handshake.SideServer
}

// Capture holds the TCP handshakes of capture files, in the order of their
// ClientHellos, read by [Load].
type Capture struct {
	Flows []Flow
	files []string
	temp  string // a spooled standard input, removed by Close
}

// Load reads capture files (pcap, pcapng, gzip; "-" for standard input,
// which is spooled to a temporary file because the hello is read in a
// second pass) through the same tracker, diagnosis and stage across
// handshakes as `hellowatch -r`.
// timeout is the tracker's answer timeout (0: its default). The caller
// must Close the result.
func Load(files []string, timeout time.Duration) (*Capture, error) {
	c := &Capture{files: slices.Clone(files)}
	for i, f := range c.files {
		if f != "-" {
			continue
		}
		if c.temp != "" {
			c.Close()
			return nil, errors.New("confirm: standard input given twice")
		}
		tmp, err := os.CreateTemp("", "hellowatch-confirm-*.pcap")
		if err != nil {
			return nil, fmt.Errorf("confirm: spool standard input: %w", err)
		}
		c.temp = tmp.Name()
		_, err = io.Copy(tmp, os.Stdin)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("confirm: spool standard input: %w", err)
		}
		c.files[i] = c.temp
	}
	src, err := capture.OpenFiles(c.files)
	if err != nil {
		c.Close()
		return nil, err
	}
	defer src.Close()
	// The findings as `hellowatch -r` gives them: diagnose, then the stage
	// that looks across handshakes (large_hello_dropped), fed every record
	// in the order they are decided.
	st := across.New(across.Config{})
	tr := capture.NewTracker(capture.Config{
		Timeout: timeout,
		Emit: func(h *handshake.Handshake) {
			fs := st.Add(h, diagnose.Diagnose(h))
			if h.Transport == handshake.TransportTCP {
				c.Flows = append(c.Flows, Flow{Record: h, Findings: fs})
			}
		},
	})
	for {
		p, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			c.Close()
			return nil, err
		}
		if p != nil {
			tr.Packet(p)
		}
	}
	tr.Flush()
	sort.SliceStable(c.Flows, func(i, j int) bool {
		return c.Flows[i].Record.FirstPacket < c.Flows[j].Record.FirstPacket
	})
	return c, nil
}

// Close removes the spooled standard input, if any.
func (c *Capture) Close() {
	if c.temp != "" {
		os.Remove(c.temp)
		c.temp = ""
	}
}

// ErrNoFlow reports that no handshake of the capture matches the selection.
var ErrNoFlow = errors.New("confirm: no such handshake in the capture")

// Select returns the handshake to confirm: the first one between client
// and server when server is valid (an invalid client, or one with port 0,
// matches any client of that server), else the first failed one.
func (c *Capture) Select(client, server netip.AddrPort) (*Flow, error) {
	for i := range c.Flows {
		f := &c.Flows[i]
		h := f.Record
		switch {
		case server.IsValid():
			if h.Server != server {
				continue
			}
			if client.IsValid() && client.Port() != 0 && h.Client != client {
				continue
			}
			if client.IsValid() && client.Port() == 0 && h.Client.Addr() != client.Addr() {
				continue
			}
		case !f.Failed():
			continue
		}
		return f, nil
	}
	switch {
	case server.IsValid() && client.IsValid() && client.Port() != 0:
		return nil, fmt.Errorf("%w: none from %v to %v (%d TCP handshakes read)", ErrNoFlow, client, server, len(c.Flows))
	case server.IsValid() && client.IsValid():
		return nil, fmt.Errorf("%w: none from %v to %v (%d TCP handshakes read)", ErrNoFlow, client.Addr(), server, len(c.Flows))
	case server.IsValid():
		return nil, fmt.Errorf("%w: none to %v (%d TCP handshakes read)", ErrNoFlow, server, len(c.Flows))
	}
	return nil, fmt.Errorf("%w: no failed TCP handshake among the %d read", ErrNoFlow, len(c.Flows))
}

// NamesFor returns the SNI host names other hellos to server carried, most
// frequent first: the names a SNI-less client probably meant.
func (c *Capture) NamesFor(server netip.AddrPort) []string {
	count := map[string]int{}
	var names []string
	for _, f := range c.Flows {
		h := f.Record
		if h.Server != server || !h.HasSNI || h.SNIIsIP || h.SNIInvalid {
			continue
		}
		if count[h.ServerName] == 0 {
			names = append(names, h.ServerName)
		}
		count[h.ServerName]++
	}
	sort.SliceStable(names, func(i, j int) bool { return count[names[i]] > count[names[j]] })
	return names
}

// Hello is a flow's ClientHello as its client sent it.
type Hello struct {
	// Records are the TLS records that carry the hello, byte for byte as
	// captured: what the baseline sends.
	Records []byte
	// Body is the ClientHello body (it aliases Records when the hello is
	// in one record); Version the first record's version.
	Body    []byte
	Version tlsparse.Version
	// Segments are the hello's bytes in each TCP segment that carried
	// them, in order.
	Segments []int
	// HasSNI and ServerName are the hello's server_name (its first host
	// name), as parsed from Body.
	HasSNI     bool
	ServerName string
}

// maxHelloBytes bounds the reassembly: the largest hello (64 KiB) in
// records of 16 KiB, behind the 32 empty records OpenSSL accepts.
const maxHelloBytes = 4 + tlsparse.MaxHandshakeLen + 5*5 + 32*5

// Hello reads the flow's ClientHello out of the capture: a second pass over
// the packets puts the client's bytes from the hello's first segment (the
// record's FirstPacket) back in sequence order, retransmissions and
// out-of-order segments included.
func (c *Capture) Hello(f *Flow) (*Hello, error) {
	h := f.Record
	switch {
	case h.Transport != handshake.TransportTCP:
		return nil, errors.New("confirm: only TLS over TCP is replayed (this handshake is QUIC)")
	case h.SSLv2Hello:
		return nil, errors.New("confirm: the hello is SSLv2-compatible; only TLS record hellos are replayed")
	case h.ClientHelloError != "" && !endedMidHello(h):
		return nil, fmt.Errorf("confirm: the ClientHello was not read whole: %s", h.ClientHelloError)
	}
	// A hello the server cut short is read on past the record's end,
	// until the client's next connection on the same ports.
	last := h.LastPacket
	if endedMidHello(h) {
		last = ^uint64(0)
	}
	src, err := capture.OpenFiles(c.files)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	type seg struct {
		off int
		n   int
	}
	var (
		buf     = make([]byte, maxHelloBytes)
		have    = make([]bool, maxHelloBytes)
		segs    []seg
		origin  uint32
		started bool
		synSeq  uint32
		sawSYN  bool
		d       capture.Decoded
	)
	client, server := h.Client, h.Server
loop:
	for {
		p, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if p == nil {
			continue
		}
		if p.Index > last {
			break
		}
		if capture.DecodePacket(p.Link, p.Data, &d) != capture.SkipNone || d.Proto != capture.ProtoTCP {
			continue
		}
		if d.Src.Unmap() != client.Addr() || d.SrcPort != client.Port() ||
			d.Dst.Unmap() != server.Addr() || d.DstPort != server.Port() {
			continue
		}
		seq := d.Seq
		if d.Flags&capture.TCPFlagSYN != 0 {
			switch {
			case sawSYN && d.Seq+1 != synSeq && started:
				break loop // the client's next connection on these ports
			case p.Index <= h.FirstPacket:
				synSeq, sawSYN = d.Seq+1, true
			}
			seq = d.Seq + 1 // TCP Fast Open: data in the SYN
		}
		if len(d.Payload) == 0 {
			continue
		}
		if !started {
			if p.Index < h.FirstPacket {
				continue
			}
			origin, started = seq, true
		}
		off := int(int32(seq - origin))
		if off < 0 || off >= maxHelloBytes {
			continue
		}
		// The first copy of a byte wins, as in the tracker: a
		// retransmission that disagrees does not change the hello.
		n := min(len(d.Payload), maxHelloBytes-off)
		for i := 0; i < n; i++ {
			if !have[off+i] {
				buf[off+i], have[off+i] = d.Payload[i], true
			}
		}
		segs = append(segs, seg{off, n})
	}
	if !started {
		return nil, fmt.Errorf("confirm: the hello of %v -> %v is not in the capture's packets", client, server)
	}
	if sawSYN && synSeq != origin {
		return nil, errors.New("confirm: the hello follows plaintext bytes (STARTTLS, a proxy's CONNECT, ...): only hellos that open the connection are replayed")
	}
	end := 0
	for end < len(have) && have[end] {
		end++
	}
	_, rv, n, err := tlsparse.ClientHelloFromRecords(buf[:end])
	if err != nil {
		if errors.Is(err, tlsparse.ErrIncomplete) {
			return nil, fmt.Errorf("confirm: the hello of %v -> %v is missing segments in the capture", client, server)
		}
		return nil, fmt.Errorf("confirm: the hello of %v -> %v: %w", client, server, err)
	}
	hello := &Hello{Records: slices.Clone(buf[:n]), Version: rv}
	if hello.Body, _, _, err = tlsparse.ClientHelloFromRecords(hello.Records); err != nil {
		return nil, err // cannot happen: the same bytes parsed above
	}
	var ch tlsparse.ClientHello
	if err := tlsparse.ParseClientHello(hello.Body, &ch); err != nil {
		return nil, fmt.Errorf("confirm: the hello of %v -> %v: %w", client, server, err)
	}
	hello.HasSNI, hello.ServerName = ch.HasSNI, string(ch.ServerName())
	// Segments, in sequence order, each counted once.
	sort.SliceStable(segs, func(i, j int) bool { return segs[i].off < segs[j].off })
	covered := 0
	for _, s := range segs {
		lo, hi := max(s.off, covered), min(s.off+s.n, n)
		if hi > lo {
			hello.Segments = append(hello.Segments, hi-lo)
			covered = hi
		}
	}
	return hello, nil
}
