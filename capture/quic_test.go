package capture

import (
	"errors"
	"io"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/quic"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// readSample returns every packet of a sample capture (copied).
func readQUICSample(t *testing.T, name string) []*Packet {
	t.Helper()
	src, err := OpenFiles([]string{filepath.Join("..", "samples", name)})
	if err != nil {
		t.Skipf("sample %s: %v", name, err)
	}
	defer src.Close()
	var ps []*Packet
	for {
		p, err := src.Next()
		if errors.Is(err, io.EOF) {
			return ps
		}
		if err != nil {
			t.Fatal(err)
		}
		cp := *p
		cp.buf = nil
		cp.Data = append([]byte(nil), p.Data...)
		ps = append(ps, &cp)
	}
}

// trackQUICSample returns the records of a sample run through a Tracker
// and flushed.
func trackQUICSample(t *testing.T, name string) []*handshake.Handshake {
	t.Helper()
	var got []*handshake.Handshake
	tr := NewTracker(Config{Emit: func(h *handshake.Handshake) { got = append(got, h) }})
	for _, p := range readQUICSample(t, name) {
		tr.Packet(p)
	}
	tr.Flush()
	return got
}

func TestQUICSamples(t *testing.T) {
	for _, tc := range []struct {
		file    string
		sni     string
		outcome handshake.Outcome
		alert   uint8
		retry   bool
		segs    int
	}{
		{"quic-go-no-sni.pcap", "", handshake.OutcomeServerAlert, 80, false, 1},
		{"quic-go-unknown-name.pcap", "other.test", handshake.OutcomeServerAlert, 80, false, 1},
		{"quic-go-retry.pcap", "example.test", handshake.OutcomeEstablished, 0, true, 1},
		{"quic-chromium-h3.pcap", "example.test", handshake.OutcomeEstablished, 0, false, 2},
		{"quic-go-pq-hello.pcap", "example.test", handshake.OutcomeEstablished, 0, false, 2},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got := trackQUICSample(t, tc.file)
			if len(got) != 1 {
				t.Fatalf("%d records", len(got))
			}
			h := got[0]
			if h.Transport != handshake.TransportQUIC || h.ServerName != tc.sni || h.HasSNI != (tc.sni != "") || h.Outcome != tc.outcome || h.JA4 == "" || h.JA4[0] != 'q' {
				t.Fatalf("record %+v", h)
			}
			if h.QUIC == nil || h.QUIC.Retry != tc.retry || h.HelloSegments != tc.segs {
				t.Fatalf("quic %+v segments %d", h.QUIC, h.HelloSegments)
			}
			if tc.alert != 0 {
				a := h.FirstServerAlert()
				if a == nil || a.Description != tlsparse.AlertDescription(tc.alert) || a.Level != tlsparse.AlertLevelFatal || h.QUIC.Close == nil || h.QUIC.Close.Code != 0x100+uint64(tc.alert) {
					t.Fatalf("alert %+v close %+v", a, h.QUIC.Close)
				}
			}
		})
	}
}

// TestQUICVersionNegotiation: a quic-go server speaking only v1 answers
// v2 Initials with Version Negotiation. The client that also speaks v1
// starts over on the same 4-tuple with a new DCID: its Initials decrypt
// with the v1 keys of that DCID and the record goes on to established. The
// client that speaks only v2 gives up: server_closed at the packet's time.
func TestQUICVersionNegotiation(t *testing.T) {
	got := trackQUICSample(t, "quic-go-version-negotiation.pcap")
	if len(got) != 2 {
		t.Fatalf("%d records, want 2", len(got))
	}
	for i, h := range got {
		q := h.QUIC
		if q == nil || !q.VersionNegotiation || q.RejectedVersion != quic.Version2 || !slices.Contains(q.ServerVersions, quic.Version1) || q.VNPacket == 0 || q.Undecryptable != 0 {
			t.Fatalf("record %d: quic %+v", i, q)
		}
	}
	ok, refused := got[0], got[1]
	if ok.Outcome != handshake.OutcomeEstablished || ok.Version != tlsparse.VersionTLS13 || ok.QUIC.Version != quic.Version1 || ok.QUIC.ServerInitials == 0 ||
		string(ok.QUIC.DCID) == string(refused.QUIC.DCID) {
		t.Errorf("started over in v1: outcome %v, TLS %q, quic %+v", ok.Outcome, ok.Version, ok.QUIC)
	}
	if refused.Outcome != handshake.OutcomeServerClosed || refused.ServerHelloSeen || refused.QUIC.Version != quic.Version2 ||
		refused.QUIC.ServerInitials != 0 || !refused.EndTime.Equal(refused.FirstAnswerTime) {
		t.Errorf("gave up: outcome %v, quic %+v, end %v, first answer %v", refused.Outcome, refused.QUIC, refused.EndTime, refused.FirstAnswerTime)
	}
}

// TestQUICVersionNegotiationLive: live, the attempt that ended at the
// Version Negotiation is reported once the client has been silent for the
// post-handshake timeout after it, not after the whole handshake timeout;
// its end time is the Version Negotiation's.
func TestQUICVersionNegotiationLive(t *testing.T) {
	ps := readQUICSample(t, "quic-go-version-negotiation.pcap")
	var got []*handshake.Handshake
	tr := NewTracker(Config{Emit: func(h *handshake.Handshake) { got = append(got, h) }})
	for _, p := range ps {
		tr.Packet(p)
	}
	if len(got) != 1 {
		t.Fatalf("%d records before any timer, want the established one", len(got))
	}
	last := time.Unix(0, ps[len(ps)-1].TS)
	tr.Advance(last.Add(DefaultPostTimeout - 10*time.Millisecond))
	if len(got) != 1 {
		t.Fatalf("refused attempt reported before the post-handshake timeout: %+v", got[1])
	}
	tr.Advance(last.Add(DefaultPostTimeout + 10*time.Millisecond))
	if len(got) != 2 {
		t.Fatalf("refused attempt not reported %v after the Version Negotiation", DefaultPostTimeout)
	}
	if h := got[1]; h.Outcome != handshake.OutcomeServerClosed || !h.EndTime.Equal(time.Unix(0, ps[len(ps)-1].TS).UTC()) {
		t.Errorf("outcome %v, end %v, want server_closed at the Version Negotiation (%v)", h.Outcome, h.EndTime, last)
	}
}

// TestQUICSharedSocket: an HTTP/3 client's shared UDP socket makes its
// second connection on the 4-tuple of the first, decided one. Its Initial
// (a new DCID, authenticating under that DCID's keys) starts a new record;
// the first connection's late packets do not.
func TestQUICSharedSocket(t *testing.T) {
	var got []*handshake.Handshake
	tr := NewTracker(Config{Emit: func(h *handshake.Handshake) { got = append(got, h) }})
	for _, p := range readQUICSample(t, "quic-go-shared-socket.pcap") {
		tr.Packet(p)
	}
	tr.Flush()
	if len(got) != 2 {
		t.Fatalf("%d records, want 2 (one per connection)", len(got))
	}
	a, b := got[0], got[1]
	if a.Client != b.Client || a.Server != b.Server {
		t.Fatalf("not one 4-tuple: %v -> %v, %v -> %v", a.Client, a.Server, b.Client, b.Server)
	}
	for _, h := range got {
		if h.Outcome != handshake.OutcomeEstablished || h.ServerName != "example.test" || h.QUIC.ServerInitials == 0 || h.QUIC.Undecryptable != 0 {
			t.Errorf("record %+v quic %+v", h, h.QUIC)
		}
	}
	if string(a.QUIC.DCID) == string(b.QUIC.DCID) || b.FirstPacket <= a.LastPacket {
		t.Errorf("second record: DCID %x (first %x), first packet %d after the first's last %d", b.QUIC.DCID, a.QUIC.DCID, b.FirstPacket, a.LastPacket)
	}
	if s := tr.Stats(); s.QUICUndecryptable != 0 {
		t.Errorf("%d packets counted undecryptable", s.QUICUndecryptable)
	}
}

// TestQUICDecidedAllocs checks that packets of a decided QUIC connection
// cost the flow lookup and nothing else: no allocation.
func TestQUICDecidedAllocs(t *testing.T) {
	ps := readQUICSample(t, "quic-go-pq-hello.pcap")
	n := 0
	tr := NewTracker(Config{Emit: func(*handshake.Handshake) { n++ }})
	for _, p := range ps {
		tr.Packet(p)
	}
	if n != 1 {
		t.Fatalf("%d records before the replay", n)
	}
	last := ps[len(ps)-1]
	allocs := testing.AllocsPerRun(1000, func() { tr.Packet(last) })
	if allocs != 0 {
		t.Fatalf("a decided QUIC flow's packet allocates %v times", allocs)
	}
}

// TestQUICNotQUIC feeds UDP that is not QUIC (a DNS-like payload and a
// long header whose Initial does not authenticate): no flow, no record.
func TestQUICGarbage(t *testing.T) {
	ps := readQUICSample(t, "quic-go-no-sni.pcap")
	var got []*handshake.Handshake
	tr := NewTracker(Config{Emit: func(h *handshake.Handshake) { got = append(got, h) }})
	for _, p := range ps {
		cp := *p
		cp.buf = nil
		cp.Data = append([]byte(nil), p.Data...)
		cp.Data[len(cp.Data)-5] ^= 0xff // breaks the AEAD tag of the last packet in the datagram
		tr.Packet(&cp)
	}
	tr.Flush()
	if len(got) != 0 && got[0].QUIC != nil && got[0].QUIC.Close != nil {
		t.Fatalf("a corrupted CONNECTION_CLOSE was trusted: %+v", got[0].QUIC.Close)
	}
	if tr.QUICUndecryptable() == 0 && len(got) == 0 {
		t.Fatal("corrupted Initials were not counted")
	}
}

// TestQUICUndecryptableStats corrupts one Initial packet of a real QUIC
// handshake (the server's CONNECTION_CLOSE, or the client's first Initial)
// and checks that it is counted in the record, in TrackerStats and in the
// sum a Pipeline of several workers reports.
func TestQUICUndecryptableStats(t *testing.T) {
	ps := readQUICSample(t, "quic-go-unknown-name.pcap")
	for _, tc := range []struct {
		name      string
		corrupt   int // index of the packet whose AEAD tag is broken, -1 none
		records   int
		perRecord int // handshake.QUICInfo.Undecryptable of the record
		total     uint64
	}{
		{"none", -1, 1, 0, 0},
		{"server close", len(ps) - 1, 1, 1, 1},
		// Without the client's first Initial there is no connection: the
		// packet fails the probe, and so do the server's Initials, whose
		// keys come from a DCID never seen.
		{"client hello", 0, 0, 0, uint64(len(ps))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var feed []*Packet
			for i, p := range ps {
				cp := *p
				cp.buf = nil
				cp.Data = append([]byte(nil), p.Data...)
				if i == tc.corrupt {
					cp.Data[len(cp.Data)-5] ^= 0xff
				}
				feed = append(feed, &cp)
			}
			var got []*handshake.Handshake
			tr := NewTracker(Config{Emit: func(h *handshake.Handshake) { got = append(got, h) }})
			for _, p := range feed {
				tr.Packet(p)
			}
			tr.Flush()
			if len(got) != tc.records {
				t.Fatalf("%d records, want %d", len(got), tc.records)
			}
			if tc.records > 0 && got[0].QUIC.Undecryptable != tc.perRecord {
				t.Errorf("record counts %d undecryptable, want %d", got[0].QUIC.Undecryptable, tc.perRecord)
			}
			if st := tr.Stats(); st.QUICUndecryptable != tc.total || tr.QUICUndecryptable() != tc.total {
				t.Errorf("tracker stats %d (QUICUndecryptable() %d), want %d", st.QUICUndecryptable, tr.QUICUndecryptable(), tc.total)
			}
			for _, workers := range []int{0, 3} {
				n := 0
				pl := NewPipeline(Config{Emit: func(*handshake.Handshake) { n++ }}, workers, true)
				for _, p := range feed {
					pl.Packet(p)
				}
				pl.Flush()
				if st := pl.Stats(); st.QUICUndecryptable != tc.total || n != tc.records {
					t.Errorf("pipeline of %d workers: stats %d, want %d; %d records", workers, st.QUICUndecryptable, tc.total, n)
				}
				pl.Close()
			}
		})
	}
}
