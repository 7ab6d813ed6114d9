package capture

import (
	"bytes"
	"net/netip"
	"sort"
	"sync/atomic"
	"time"

	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/quic"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// Config sets the tracker's timeouts and memory limits. The zero value of a
// field means its default.
type Config struct {
	// Timeout is how long to wait for the server's answer to a ClientHello
	// (and for the rest of a handshake once it started) before the flow is
	// reported as no_response or incomplete. Packet time, not wall time.
	Timeout time.Duration
	// PostTimeout is how long an established flow is watched for the client's
	// first application data (or its closing at once) before it is reported,
	// and how long a QUIC client has to start over after the server's
	// Version Negotiation.
	PostTimeout time.Duration
	// IdleTimeout is how long a flow without packets stays in the table.
	IdleTimeout time.Duration
	// MaxFlows caps the flow table; the oldest flows are evicted beyond it.
	MaxFlows int
	// MaxFlowBytes caps out-of-order bytes buffered per direction.
	MaxFlowBytes int
	// MaxBufferedBytes caps the bytes held for reassembly in total:
	// out-of-order TCP segments, handshake messages not yet whole, QUIC
	// CRYPTO streams. A flow that would go past it is reported incomplete
	// (evicted: buffer_limit).
	MaxBufferedBytes int64
	// Tunnels names UDP ports that carry tunnels besides the IANA ones.
	Tunnels TunnelConfig

	// Emit receives every finished handshake, in the order they are decided.
	// The record is the caller's to keep.
	Emit func(*handshake.Handshake)
	// Failed, when set together with PacketOut, says which finished
	// handshakes count as failed: every packet of those flows is passed to
	// PacketOut (the ones seen before the decision, then all later ones).
	Failed func(*handshake.Handshake) bool
	// PacketOut receives packets of failed flows (see Failed). p.Data is
	// only valid during the call. In a Pipeline, Failed and PacketOut are
	// called from the worker goroutines, concurrently.
	PacketOut func(p *Packet)
}

// Defaults for Config fields left zero. They keep a busy proxy host under
// 256 MiB: about 600 bytes of resident memory per idle flow entry (the map,
// the timer entries and the garbage collector's headroom: 157 MiB for a
// full table of 262144 SYN-only flows), and at most 64 MiB for the flows in
// their handshake: their state (activeCost, quicCost) and the bytes they
// hold for reassembly.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultPostTimeout      = 2 * time.Second
	DefaultIdleTimeout      = 120 * time.Second
	DefaultMaxFlows         = 1 << 18
	DefaultMaxFlowBytes     = 128 << 10
	DefaultMaxBufferedBytes = 64 << 20
	maxSavedPackets         = 256
	maxSavedBytes           = 1 << 20
	maxNonHelloSegments     = 16
)

// EvictReason says why a flow left the table before it ended by itself.
type EvictReason uint8

// Eviction reasons.
const (
	EvictFlowLimit   EvictReason = iota // the flow table was full
	EvictIdle                           // no packet for IdleTimeout while in a handshake
	EvictBufferLimit                    // the global buffer cap was reached
	numEvictReasons
)

var evictNames = [...]string{"flow_limit", "idle", "buffer_limit"}

// String returns a stable snake_case word for metric labels.
func (r EvictReason) String() string {
	if int(r) < len(evictNames) {
		return evictNames[r]
	}
	return "unknown"
}

// EvictReasons lists every eviction reason.
func EvictReasons() []EvictReason {
	return []EvictReason{EvictFlowLimit, EvictIdle, EvictBufferLimit}
}

// TrackerStats are the tracker's counters. All fields are safe to read from
// any goroutine through Tracker.Stats.
type TrackerStats struct {
	Packets       uint64
	Bytes         uint64
	Skipped       map[string]uint64 // packets not analysed, by reason
	Evicted       map[string]uint64 // flows evicted, by reason
	FlowsTracked  uint64            // flows in the table now
	ActiveFlows   uint64            // flows in a handshake now
	BufferedBytes uint64            // out-of-order bytes held now
	TLSFlows      uint64            // flows in which a ClientHello was seen
	NonTLSFlows   uint64            // flows whose first bytes were not a ClientHello
	Handshakes    uint64            // records emitted
	Ambiguous     uint64            // retransmissions that disagreed with earlier bytes
	// QUICUndecryptable counts UDP packets that looked like QUIC Initial
	// packets but did not authenticate or were malformed.
	QUICUndecryptable uint64
}

// flow states
const (
	stNew       uint8 = iota // no payload yet
	stHandshake              // ClientHello seen, outcome unknown
	stPost                   // established, watching the client's next move
	stDone                   // decided; later packets are dropped after the lookup
	stIgnored                // not TLS (or picked up mid-session): dropped after the lookup
)

// flowKey identifies a connection in either direction: the endpoint that
// sorts first is "a". tun tells apart the same addresses and ports in
// different tunnels (tunnelKey; 0 when not tunnelled, never 0 when
// tunnelled: two tunnel stacks carrying the same inner 4-tuple share a
// key only once in 32768). The key is 40 bytes without padding, so that
// the map hashes and compares it as one block of memory: as fast as the
// 38-byte key without tun was (a 44- or 48-byte key measured 1-2% slower
// on the decided-flow benchmark).
type flowKey struct {
	a, b   [16]byte
	ap, bp uint16
	proto  uint16 // ProtoTCP or ProtoUDP
	tun    uint16
}

// flow is one entry of the flow table. It stays small: everything a
// handshake needs lives in *active, which is recycled once decided.
type flow struct {
	key      flowKey
	lastTS   int64
	gen      uint32
	state    uint8
	writeAll bool // -w: a failed flow; pass every later packet on
	finA     bool
	finB     bool
	syn      uint8     // bit dir: a SYN was seen from that side
	isn      [2]uint32 // first sequence number after each side's SYN
	synTS    int64     // time of the client's SYN
	synackTS int64     // time of the SYN-ACK, 0 if not seen
	// ttl is the TTL (hop limit) of the first SYN or SYN-ACK from each
	// side, 0 if none was seen: a RST or FIN with another TTL was sent by
	// someone else (a middlebox).
	ttl [2]uint8
	// qcid identifies a QUIC flow's connection: a hash of the client's
	// original DCID, so that a new connection on the same 4-tuple (an
	// HTTP/3 client's shared UDP socket) is told from the decided one.
	qcid uint64
	act  *active
}

// timerEntry is a lazily deleted deadline; stale when gen differs.
type timerEntry struct {
	f        *flow
	deadline int64
	gen      uint32
}

// timerQueue is a min-heap of timer entries by deadline. The handshake
// queue mixes the handshake timeout, the shorter post-handshake one and
// re-armed deadlines, so pushes do not come in deadline order; a heap keeps
// every timer firing as soon as packet time passes it (a record's end time
// is its deadline, and the Pipeline's ordering relies on no timer firing
// late).
type timerQueue struct {
	h []timerEntry
}

func (q *timerQueue) push(e timerEntry) {
	q.h = append(q.h, e)
	i := len(q.h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if q.h[p].deadline <= e.deadline {
			break
		}
		q.h[i] = q.h[p]
		i = p
	}
	q.h[i] = e
}

func (q *timerQueue) peek() (timerEntry, bool) {
	if len(q.h) == 0 {
		return timerEntry{}, false
	}
	return q.h[0], true
}

func (q *timerQueue) pop() {
	n := len(q.h) - 1
	last := q.h[n]
	q.h[n] = timerEntry{}
	q.h = q.h[:n]
	if n == 0 {
		return
	}
	i := 0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && q.h[c+1].deadline < q.h[c].deadline {
			c++
		}
		if last.deadline <= q.h[c].deadline {
			break
		}
		q.h[i] = q.h[c]
		i = c
	}
	q.h[i] = last
}

// Tracker turns packets into finished handshake.Handshake records. It is not safe for
// concurrent use: one goroutine feeds it (Stats may be read from others).
type Tracker struct {
	cfg   Config
	flows map[flowKey]*flow
	last  *flow      // the flow of the last packet looked up, nil if none or removed
	hsQ   timerQueue // handshake and post-handshake deadlines
	idleQ timerQueue // idle expiry of every flow
	now   int64
	// at, when not zero, is the time a timer decides a flow at: its
	// deadline, not the (later) packet time that ran the timer, so that a
	// record does not depend on which packet happened to run it.
	at   int64
	free []*active

	quic quicTracker // capture/quic.go

	dec Decoded
	cur *Packet
	// curTun are the tunnels of the packet being processed (aliasing its
	// Decoded), for the record of a hello that starts in it.
	curTun []handshake.Tunnel
	ch     tlsparse.ClientHello
	sh     tlsparse.ServerHello
	cs     tlsparse.CertificateSummary
	certs  certCache // capture/certcache.go
	v2     tlsparse.SSLv2Hello
	buf    []byte

	packets, bytes, tlsFlows, nonTLS, handshakes, ambiguous atomic.Uint64
	tracked, active, buffered                               atomic.Int64
	skipped                                                 [32]atomic.Uint64
	evicted                                                 [numEvictReasons]atomic.Uint64
}

// NewTracker returns a tracker with cfg's limits (defaults where zero).
func NewTracker(cfg Config) *Tracker {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.PostTimeout <= 0 {
		cfg.PostTimeout = DefaultPostTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = DefaultMaxFlows
	}
	if cfg.MaxFlowBytes <= 0 {
		cfg.MaxFlowBytes = DefaultMaxFlowBytes
	}
	if cfg.MaxBufferedBytes <= 0 {
		cfg.MaxBufferedBytes = DefaultMaxBufferedBytes
	}
	return &Tracker{cfg: cfg, flows: make(map[flowKey]*flow, 1024)}
}

// Stats returns a snapshot of the counters; safe from any goroutine.
func (t *Tracker) Stats() TrackerStats {
	s := TrackerStats{
		Packets:       t.packets.Load(),
		Bytes:         t.bytes.Load(),
		FlowsTracked:  uint64(max(t.tracked.Load(), 0)),
		ActiveFlows:   uint64(max(t.active.Load(), 0)),
		BufferedBytes: uint64(max(t.buffered.Load(), 0)),
		TLSFlows:      t.tlsFlows.Load(),
		NonTLSFlows:   t.nonTLS.Load(),
		Handshakes:    t.handshakes.Load(),
		Ambiguous:     t.ambiguous.Load(),
		Skipped:       map[string]uint64{},
		Evicted:       map[string]uint64{},
	}
	s.QUICUndecryptable = t.quic.undecryptable.Load()
	for _, r := range SkipReasons() {
		if n := t.skipped[int(r)%len(t.skipped)].Load(); n > 0 {
			s.Skipped[r.String()] = n
		}
	}
	for _, r := range EvictReasons() {
		if n := t.evicted[r].Load(); n > 0 {
			s.Evicted[r.String()] = n
		}
	}
	return s
}

// Packet processes one captured packet. p and its Data are not kept.
func (t *Tracker) Packet(p *Packet) {
	t.packets.Add(1)
	t.bytes.Add(uint64(p.CapLen))
	now := max(t.now, p.TS)
	d := &t.dec
	if r := DecodePacketWith(p.Link, p.Data, d, &t.cfg.Tunnels); r != SkipNone {
		t.advance(now)
		t.skipped[int(r)%len(t.skipped)].Add(1)
		return
	}
	t.decoded(p, d, now)
}

// advance moves packet time to now (if later) and runs the deadlines it
// passed.
func (t *Tracker) advance(now int64) {
	if now > t.now {
		t.now = now
		t.expire()
	}
}

// decoded processes a decoded packet at packet time now: the latest
// timestamp of the capture so far, which a Pipeline computes across all
// its workers so that every worker's clock reads as one tracker's would.
func (t *Tracker) decoded(p *Packet, d *Decoded, now int64) {
	t.advance(now)
	if d.Proto != ProtoTCP && d.Proto != ProtoUDP {
		t.skipped[int(SkipNotTCPUDP)%len(t.skipped)].Add(1)
		return
	}
	var k flowKey
	src, dst := d.Src.As16(), d.Dst.As16()
	dir := 0
	if c := bytes.Compare(src[:], dst[:]); c < 0 || (c == 0 && d.SrcPort <= d.DstPort) {
		k = flowKey{a: src, b: dst, ap: d.SrcPort, bp: d.DstPort, proto: uint16(d.Proto)}
	} else {
		k = flowKey{a: dst, b: src, ap: d.DstPort, bp: d.SrcPort, proto: uint16(d.Proto)}
		dir = 1
	}
	if d.NTunnels > 0 {
		k.tun = tunnelKey(d)
	}
	// Packets come in runs of one flow (a burst of segments): the last
	// flow looked up is checked before the table.
	f := t.last
	if f == nil || f.key != k {
		f = t.flows[k]
		t.last = f
	}
	if f != nil && f.state >= stDone {
		if k.proto == uint16(ProtoUDP) && quic.LooksLikeInitial(d.Payload) && t.quicReused(f, k, dir, p, d) {
			return // a new QUIC connection on the 4-tuple of a decided one
		}
		// The common case on a busy host: one lookup, nothing copied.
		f.lastTS = t.now
		if f.writeAll && t.cfg.PacketOut != nil {
			t.cfg.PacketOut(p)
		}
		if d.Flags&(tcpRST|tcpFIN) != 0 {
			t.closeDecided(f, dir, d.Flags)
		}
		return
	}
	t.curTun = d.Tunnels[:d.NTunnels]
	if k.proto == uint16(ProtoUDP) {
		t.quicPacket(f, k, dir, p, d) // capture/quic.go
		t.curTun = nil
		return
	}
	if f == nil {
		// Only a SYN or a segment with payload opens a flow: bare ACKs of a
		// connection we never saw start are not worth an entry.
		if d.Flags&tcpSYN == 0 && len(d.Payload) == 0 {
			return
		}
		f = t.newFlow(k)
	}
	f.lastTS = t.now
	t.cur = p
	t.segment(f, dir, d)
	t.cur, t.curTun = nil, nil
}

// TCP flags as on the wire.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpACK = 0x10
)

func (t *Tracker) newFlow(k flowKey) *flow {
	if len(t.flows) >= t.cfg.MaxFlows {
		t.evictOldest()
	}
	f := &flow{key: k, lastTS: t.now}
	t.flows[k] = f
	t.tracked.Add(1)
	t.idleQ.push(timerEntry{f: f, deadline: t.now + int64(t.cfg.IdleTimeout), gen: f.gen})
	return f
}

// closeDecided forgets a decided flow once both sides closed (or on RST),
// so that finished connections do not wait for the idle timeout.
func (t *Tracker) closeDecided(f *flow, dir int, flags uint8) {
	if flags&tcpRST != 0 {
		t.remove(f)
		return
	}
	if dir == 0 {
		f.finA = true
	} else {
		f.finB = true
	}
	if f.finA && f.finB {
		t.remove(f)
	}
}

func (t *Tracker) remove(f *flow) {
	if t.last == f {
		t.last = nil
	}
	if cur, ok := t.flows[f.key]; ok && cur == f {
		delete(t.flows, f.key)
		t.tracked.Add(-1)
	}
	if f.act != nil {
		t.release(f)
	}
	f.gen++
}

// evictOldest makes room in a full table: the flow at the front of the idle
// queue is the one that was created or refreshed longest ago.
func (t *Tracker) evictOldest() {
	for {
		e, ok := t.idleQ.peek()
		if !ok {
			return
		}
		t.idleQ.pop()
		f := e.f
		if e.gen != f.gen || t.flows[f.key] != f {
			continue
		}
		if f.state == stHandshake || f.state == stPost {
			t.decide(f, handshake.OutcomeIncomplete)
		}
		t.evicted[EvictFlowLimit].Add(1)
		t.remove(f)
		return
	}
}

// Advance moves packet time forward without a packet (live captures call it
// on read timeouts) so that timeouts fire.
func (t *Tracker) Advance(now time.Time) {
	t.advance(now.UnixNano())
}

// expire runs the deadlines that packet time has passed.
func (t *Tracker) expire() {
	for {
		e, ok := t.hsQ.peek()
		if !ok || e.deadline > t.now {
			break
		}
		t.hsQ.pop()
		f := e.f
		if e.gen != f.gen || f.act == nil {
			continue
		}
		a := f.act
		t.at = e.deadline
		switch f.state {
		case stHandshake:
			last := a.lastActivity + int64(t.cfg.Timeout)
			if at, ok := t.quicRefusedVersion(f); ok && a.lastActivity == at && at+int64(t.cfg.PostTimeout) <= t.now {
				// A client that would start over after a Version
				// Negotiation does so within a round trip.
				last = t.now
			}
			if last > t.now {
				t.hsQ.push(timerEntry{f: f, deadline: last, gen: f.gen})
				continue
			}
			t.at = last
			if t.settle(f) {
				t.release(f)
				continue
			}
			if a.serverBytes == 0 {
				t.decide(f, handshake.OutcomeNoResponse)
			} else {
				t.decide(f, handshake.OutcomeIncomplete)
			}
		case stPost:
			t.decide(f, handshake.OutcomeEstablished)
		}
		t.release(f)
	}
	t.at = 0
	for {
		e, ok := t.idleQ.peek()
		if !ok || e.deadline > t.now {
			break
		}
		t.idleQ.pop()
		f := e.f
		if e.gen != f.gen {
			continue
		}
		d := f.lastTS + int64(t.cfg.IdleTimeout)
		if d > t.now {
			t.idleQ.push(timerEntry{f: f, deadline: d, gen: f.gen})
			continue
		}
		if f.state == stHandshake || f.state == stPost {
			t.at = d
			t.decide(f, handshake.OutcomeIncomplete)
			t.at = 0
			t.evicted[EvictIdle].Add(1)
		}
		t.remove(f)
	}
}

// The memory a flow in its handshake costs besides the bytes it holds for
// reassembly, counted against MaxBufferedBytes as well: the active state
// (about 1.8 KB, plus its record's strings), and for QUIC the connection's
// state and its Initial keys (about 4 KB). With them the buffer cap also
// bounds how many handshakes are followed at once: a flood of hellos that
// never finish cannot hold max-flows × their state. A new flow whose state
// does not fit is refused (see refuse).
const (
	activeCost = 2 << 10
	quicCost   = 4 << 10
)

// refuse leaves a new flow untracked because its state would not fit under
// MaxBufferedBytes: its later packets cost one lookup, like an ignored
// flow's, and the refusal is counted as an eviction (buffer_limit).
func (t *Tracker) refuse(f *flow) {
	f.state = stIgnored
	t.evicted[EvictBufferLimit].Add(1)
}

// settle decides a flow in its handshake from what its own packets already
// say, when no more are coming (its timeout, or the end of the capture): a
// short non-TLS answer is not_tls; a QUIC Version Negotiation the client
// did not follow ended the attempt (server_closed, at the time of that
// packet). It reports whether it decided f.
func (t *Tracker) settle(f *flow) bool {
	a := f.act
	if a.client >= 0 && a.endOfServerBytes(1-a.client) {
		return true
	}
	if at, ok := t.quicRefusedVersion(f); ok && f.state == stHandshake {
		prev := t.at
		t.at = at
		t.decide(f, handshake.OutcomeServerClosed)
		t.at = prev
		return true
	}
	return false
}

// Flush reports every flow still in a handshake as incomplete (or, after the
// handshake, established), in the order their ClientHellos were seen. Call
// it at the end of a capture.
func (t *Tracker) Flush() {
	var open []*flow
	for _, f := range t.flows {
		if f.state == stHandshake || f.state == stPost {
			open = append(open, f)
		}
	}
	sort.Slice(open, func(i, j int) bool {
		a, b := open[i].act, open[j].act
		if a.helloTS != b.helloTS {
			return a.helloTS < b.helloTS
		}
		return a.h.FirstPacket < b.h.FirstPacket
	})
	for _, f := range open {
		if t.settle(f) {
			t.release(f)
			continue
		}
		if f.state == stPost {
			t.decide(f, handshake.OutcomeEstablished)
		} else {
			t.decide(f, handshake.OutcomeIncomplete)
		}
		t.release(f)
	}
}

// ts converts packet nanoseconds to a time.Time.
func ts(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// addrPort builds the endpoint of side dir of k.
func (k *flowKey) endpoint(dir int) netip.AddrPort {
	if dir == 0 {
		return netip.AddrPortFrom(netip.AddrFrom16(k.a).Unmap(), k.ap)
	}
	return netip.AddrPortFrom(netip.AddrFrom16(k.b).Unmap(), k.bp)
}
