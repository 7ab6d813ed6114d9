package across

import (
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/tlsparse"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func rec(server string, sni string, segs int, o handshake.Outcome) *handshake.Handshake {
	h := &handshake.Handshake{
		Client:          netip.MustParseAddrPort("192.0.2.1:40000"),
		Server:          netip.MustParseAddrPort(server),
		Transport:       handshake.TransportTCP,
		ClientHelloTime: t0,
		HasSNI:          sni != "",
		ServerName:      sni,
		ClientVersions:  []tlsparse.Version{tlsparse.VersionTLS13, tlsparse.VersionTLS12},
		ClientLegacyVer: tlsparse.VersionTLS12,
		HelloSegments:   segs,
		HelloLen:        500 * segs,
		JA4:             "t13d1516h2_8daaf6152771_e5627efa2ab1",
		ClientKeyShares: []tlsparse.NamedGroup{tlsparse.GroupX25519},
		Outcome:         o,
	}
	if segs > 1 {
		h.ClientKeyShares = []tlsparse.NamedGroup{0x2a2a, tlsparse.GroupX25519MLKEM768, tlsparse.GroupX25519}
	}
	if o == handshake.OutcomeEstablished {
		h.ServerHelloSeen, h.Version = true, tlsparse.VersionTLS13
	}
	if o == handshake.OutcomeServerReset || o == handshake.OutcomeServerClosed {
		h.EndedBy = handshake.SideServer
		h.ServerRST = o == handshake.OutcomeServerReset
		h.ServerFIN = o == handshake.OutcomeServerClosed
	}
	return h
}

// The example: 40 SNI-less hellos fail, 260 with SNI work.
func TestSplitBySNI(t *testing.T) {
	s := New(Config{})
	for i := 0; i < 300; i++ {
		var h *handshake.Handshake
		if i%15 < 2 {
			h = rec("127.0.0.2:443", "", 1, handshake.OutcomeServerAlert)
			h.Alerts = []handshake.AlertRecord{{Sender: handshake.SideServer, Level: tlsparse.AlertLevelFatal, Description: tlsparse.AlertHandshakeFailure}}
		} else {
			h = rec("127.0.0.2:443", "abc.example.com", 1, handshake.OutcomeEstablished)
		}
		fs := s.Add(h, diagnose.Diagnose(h))
		if i == 285 { // a late failure: its missing_sni carries the split
			if len(fs) == 0 || fs[0].ID != diagnose.MissingSNI || !strings.Contains(strings.Join(fs[0].Evidence, "\n"), "every failure had no SNI") {
				t.Fatalf("findings of a late SNI-less failure: %+v", fs)
			}
		}
	}
	sp := s.Splits()
	if len(sp) != 1 {
		t.Fatalf("%d splits", len(sp))
	}
	want := "127.0.0.2:443: 40 failed, 260 worked; every failure had no SNI, every success had it"
	if got := sp[0].String(); got != want || sp[0].Attribute != "sni" || sp[0].Value != "absent" || !sp[0].Clean() {
		t.Errorf("split = %q (%+v), want %q", got, sp[0], want)
	}
}

// A split that is not clean names its shares.
func TestSplitShares(t *testing.T) {
	s := New(Config{})
	for i := 0; i < 10; i++ {
		o := handshake.OutcomeEstablished
		if i < 4 {
			o = handshake.OutcomeServerReset
		}
		h := rec("198.51.100.7:443", "a.example", 1, o)
		if i < 3 || i == 9 {
			h.ALPN = []string{"h2"}
		}
		s.Add(h, diagnose.Diagnose(h))
	}
	sp := s.Splits()
	if len(sp) != 1 || sp[0].Attribute != "alpn" || sp[0].FailedWith != 3 || sp[0].WorkedWith != 1 || sp[0].Clean() {
		t.Fatalf("splits %+v", sp)
	}
	if got := sp[0].String(); !strings.Contains(got, `3 of 4 failures had ALPN "h2", 1 of 6 successes`) {
		t.Errorf("split = %q", got)
	}
}

func TestLargeHelloDropped(t *testing.T) {
	s := New(Config{})
	// Before any success: the pattern, as a warning, first.
	h := rec("203.0.113.9:443", "pq.example", 2, handshake.OutcomeServerClosed)
	fs := s.Add(h, diagnose.Diagnose(h))
	if len(fs) < 2 || fs[0].ID != LargeHelloDropped || fs[0].Severity != diagnose.SeverityWarning {
		t.Fatalf("first large failure: %+v", fs)
	}
	for i := 0; i < 3; i++ {
		ok := rec("203.0.113.9:443", "pq.example", 1, handshake.OutcomeEstablished)
		if fs := s.Add(ok, diagnose.Diagnose(ok)); len(fs) != 0 && fs[0].Severity == diagnose.SeverityError {
			t.Fatalf("a working handshake got %+v", fs)
		}
	}
	h = rec("203.0.113.9:443", "pq.example", 2, handshake.OutcomeServerReset)
	fs = s.Add(h, diagnose.Diagnose(h))
	if len(fs) < 2 || fs[0].ID != LargeHelloDropped || fs[0].Severity != diagnose.SeverityError {
		t.Fatalf("large failure after small successes: %+v", fs)
	}
	ev := strings.Join(fs[0].Evidence, "\n")
	for _, want := range []string{"spanned 2 TCP segments", "3 single-segment hellos", "X25519MLKEM768", "every failure had"} {
		if !strings.Contains(ev, want) {
			t.Errorf("evidence lacks %q:\n%s", want, ev)
		}
	}
	// A server where a multi-segment hello worked: not the size.
	s2 := New(Config{})
	for _, h := range []*handshake.Handshake{
		rec("203.0.113.10:443", "b.example", 3, handshake.OutcomeEstablished),
		rec("203.0.113.10:443", "b.example", 1, handshake.OutcomeEstablished),
		rec("203.0.113.10:443", "b.example", 2, handshake.OutcomeServerReset),
	} {
		for _, f := range s2.Add(h, diagnose.Diagnose(h)) {
			if f.ID == LargeHelloDropped {
				t.Errorf("large_hello_dropped where a large hello worked: %+v", f)
			}
		}
	}
	// No SNI: missing_sni, not the size.
	h = rec("203.0.113.11:443", "", 2, handshake.OutcomeServerReset)
	if fs := New(Config{}).Add(h, diagnose.Diagnose(h)); len(fs) == 0 || fs[0].ID != diagnose.MissingSNI {
		t.Errorf("SNI-less large hello: %+v", fs)
	}
}

// Under a flood of distinct servers the table keeps its cap and memory.
func TestMemoryBound(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	const limit = 4096
	s := New(Config{MaxServers: limit})
	h := rec("192.0.2.1:443", "x.example", 1, handshake.OutcomeServerReset)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		a := netip.AddrFrom4([4]byte{198, 18 + byte(i>>24&1), byte(i >> 16), byte(i >> 8)})
		h.Server = netip.AddrPortFrom(a, uint16(i))
		s.Add(h, nil)
		if s.Len() > limit {
			t.Fatalf("%d servers after %d handshakes, cap %d", s.Len(), i+1, limit)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if per := grown / limit; per > 4096 {
		t.Errorf("heap grew %d bytes for %d servers (%d per server)", grown, limit, per)
	}
	if s.Evicted() != uint64(n-limit) {
		t.Errorf("evicted %d, want %d", s.Evicted(), n-limit)
	}
	t.Logf("%d distinct servers: table %d, heap +%d KiB (%d B per server)", n, s.Len(), grown>>10, grown/limit)
}

func BenchmarkAdd(b *testing.B) {
	s := New(Config{})
	hs := []*handshake.Handshake{
		rec("192.0.2.1:443", "a.example", 1, handshake.OutcomeEstablished),
		rec("192.0.2.2:443", "", 1, handshake.OutcomeServerReset),
		rec("192.0.2.3:443", "c.example", 2, handshake.OutcomeServerClosed),
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h := hs[i%len(hs)]
		s.Add(h, nil)
		i++
	}
}
