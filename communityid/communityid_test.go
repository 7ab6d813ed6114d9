package communityid

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// vector is one row of the specification's baseline JSON: a flow as seen
// in one packet and the ID the reference implementation gives it (ports
// null for port-less protocols).
type vector struct {
	Proto uint8   `json:"proto"`
	Saddr string  `json:"saddr"`
	Daddr string  `json:"daddr"`
	Sport *uint16 `json:"sport"`
	Dport *uint16 `json:"dport"`
	ID    string  `json:"communityid"`
}

// TestBaselineJSON checks every packet of the spec's combined.pcap.gz
// baseline (TCP, UDP, SCTP, ICMP, ICMPv6 and RSVP over IPv4 and IPv6) with
// the default settings, seed 1 and without base64.
func TestBaselineJSON(t *testing.T) {
	for _, tt := range []struct {
		file string
		seed uint16
		hex  bool
	}{
		{"baseline_deflt.json", 0, false},
		{"baseline_seed1.json", 1, false},
		{"baseline_nob64.json", 0, true},
	} {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var vs []vector
			if err := json.Unmarshal(b, &vs); err != nil {
				t.Fatal(err)
			}
			if len(vs) < 20 {
				t.Fatalf("%d vectors, want the baseline's 23", len(vs))
			}
			for _, v := range vs {
				f := jsonFlow(t, v)
				var got string
				if tt.hex {
					got = string(f.AppendHex(nil, tt.seed))
				} else {
					got = string(f.Append(nil, tt.seed))
				}
				if got != v.ID {
					t.Errorf("proto %d %s:%v -> %s:%v: %s, want %s", v.Proto, v.Saddr, deref(v.Sport), v.Daddr, deref(v.Dport), got, v.ID)
				}
			}
		})
	}
}

func deref(p *uint16) any {
	if p == nil {
		return "-"
	}
	return *p
}

// jsonFlow builds the flow of a baseline JSON row. The JSON's ICMP "ports"
// are already the port equivalents; the flow is rebuilt through ICMP or
// ICMPv6 from the type (the source port) and, for one-way types, the code
// (the destination port), so that the type mapping is tested too.
func jsonFlow(t *testing.T, v vector) Flow {
	t.Helper()
	src, dst := netip.MustParseAddr(v.Saddr), netip.MustParseAddr(v.Daddr)
	var sp, dp uint16
	if v.Sport != nil {
		sp = *v.Sport
	}
	if v.Dport != nil {
		dp = *v.Dport
	}
	switch v.Proto {
	case ProtoICMP, ProtoICMPv6:
		counterpart := icmp4Counterpart
		mk := ICMP
		if v.Proto == ProtoICMPv6 {
			counterpart, mk = icmp6Counterpart, ICMPv6
		}
		code := uint8(dp)
		if c, ok := counterpart(uint8(sp)); ok {
			if uint16(c) != dp {
				t.Errorf("baseline maps ICMP type %d to %d, the package to %d", sp, dp, c)
			}
			code = 0
		}
		return mk(src, dst, uint8(sp), code)
	}
	return Flow{Proto: v.Proto, Src: src, Dst: dst, SrcPort: sp, DstPort: dp}
}

// TestBaselineTables checks the three tables of the spec's baseline README
// (raw ICMP type and code in the port columns; "-" for port-less RSVP).
func TestBaselineTables(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "baseline-README.md"))
	if err != nil {
		t.Fatal(err)
	}
	// Tables follow "### <title>"; their ID column header names the setting.
	sections := regexp.MustCompile(`(?m)^### `).Split(string(b), -1)
	n := 0
	for _, sec := range sections[1:] {
		title, _, _ := strings.Cut(sec, "\n")
		var seed uint16
		hex := false
		switch {
		case strings.Contains(sec, "Community ID (defaults)"):
		case strings.Contains(sec, "Community ID (seed=1, w/ base64)"):
			seed = 1
		case strings.Contains(sec, "Community ID (seed=0, w/o base64)"):
			hex = true
		default:
			t.Fatalf("table %q: unknown setting", title)
		}
		for _, line := range strings.Split(sec, "\n") {
			cols := strings.Split(line, "|")
			if len(cols) < 9 {
				continue
			}
			for i := range cols {
				cols[i] = strings.TrimSpace(cols[i])
			}
			proto, err := strconv.ParseUint(cols[2], 10, 8)
			if err != nil {
				continue // the header row
			}
			src, dst := netip.MustParseAddr(cols[3]), netip.MustParseAddr(cols[4])
			sp, dp := port(t, cols[5]), port(t, cols[6])
			want := cols[7]
			var f Flow
			switch uint8(proto) {
			case ProtoICMP:
				f = ICMP(src, dst, uint8(sp), uint8(dp))
			case ProtoICMPv6:
				f = ICMPv6(src, dst, uint8(sp), uint8(dp))
			default:
				f = Flow{Proto: uint8(proto), Src: src, Dst: dst, SrcPort: sp, DstPort: dp}
			}
			var got string
			if hex {
				got = string(f.AppendHex(nil, seed))
			} else {
				got = string(f.Append(nil, seed))
			}
			if got != want {
				t.Errorf("%s: %s %s:%s -> %s:%s: %s, want %s", title, cols[1], cols[3], cols[5], cols[4], cols[6], got, want)
			}
			n++
		}
	}
	if n != 48 {
		t.Errorf("checked %d table rows, want the README's 3 x 16", n)
	}
}

func port(t *testing.T, s string) uint16 {
	if s == "-" {
		return 0
	}
	p, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		t.Fatalf("port %q: %v", s, err)
	}
	return uint16(p)
}

// TestOrdering pins the ordering rules: both directions hash alike, equal
// addresses are ordered by port, and a one-way ICMP message keeps its
// direction.
func TestOrdering(t *testing.T) {
	a := netip.MustParseAddrPort("192.0.2.1:40000")
	b := netip.MustParseAddrPort("198.51.100.7:443")
	if x, y := TCP(a, b).String(), TCP(b, a).String(); x != y || x == "" {
		t.Errorf("TCP both ways: %q, %q", x, y)
	}
	if x, y := TCP(a, b).String(), UDP(a, b).String(); x == y {
		t.Errorf("TCP and UDP hash alike: %q", x)
	}
	// Same address: the ports decide; swapping must not change the ID.
	l1 := netip.MustParseAddrPort("127.0.0.1:8443")
	l2 := netip.MustParseAddrPort("127.0.0.1:45848")
	if x, y := TCP(l1, l2).String(), TCP(l2, l1).String(); x != y {
		t.Errorf("loopback both ways: %q, %q", x, y)
	}
	ordered := Flow{Proto: ProtoTCP, Src: l1.Addr(), Dst: l2.Addr(), SrcPort: 8443, DstPort: 45848, OneWay: true}.String()
	if got := TCP(l2, l1).String(); got != ordered {
		t.Errorf("equal addresses: %s, want the smaller port first (%s)", got, ordered)
	}
	// The spec's example: both orders of 10.0.0.1:1234 / 127.0.0.1:80
	// hash as 10.0.0.1, 127.0.0.1, 1234, 80.
	c := netip.MustParseAddrPort("10.0.0.1:1234")
	d := netip.MustParseAddrPort("127.0.0.1:80")
	want := Flow{Proto: ProtoTCP, Src: c.Addr(), Dst: d.Addr(), SrcPort: 1234, DstPort: 80, OneWay: true}.String()
	if got := TCP(d, c).String(); got != want {
		t.Errorf("TCP(127.0.0.1:80, 10.0.0.1:1234) = %s, want the ordered %s", got, want)
	}
	// IPv6 with the same prefix, differing in the last byte.
	e := netip.MustParseAddrPort("[2001:db8::2]:443")
	g := netip.MustParseAddrPort("[2001:db8::1]:50000")
	if x, y := UDP(e, g).String(), UDP(g, e).String(); x != y {
		t.Errorf("IPv6 both ways: %q, %q", x, y)
	}
	// Destination unreachable (type 3) is one-way: the reverse differs.
	s, r := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.9")
	if x, y := ICMP(r, s, 3, 1).String(), ICMP(s, r, 3, 1).String(); x == y {
		t.Errorf("one-way ICMP hashed alike both ways: %q", x)
	}
	// Echo request and its reply hash alike.
	if x, y := ICMP(s, r, 8, 0).String(), ICMP(r, s, 0, 0).String(); x != y {
		t.Errorf("echo and reply: %q, %q", x, y)
	}
}

// TestInvalid: a flow that cannot be hashed gives the empty ID.
func TestInvalid(t *testing.T) {
	v4 := netip.MustParseAddrPort("192.0.2.1:1")
	v6 := netip.MustParseAddrPort("[2001:db8::1]:2")
	for name, f := range map[string]Flow{
		"zero":  {},
		"mixed": TCP(v4, v6),
		"nodst": {Proto: ProtoTCP, Src: v4.Addr()},
	} {
		if f.Valid() {
			t.Errorf("%s: Valid", name)
		}
		if s := f.String(); s != "" {
			t.Errorf("%s: %q, want empty", name, s)
		}
		if b := f.Append([]byte("x"), 0); string(b) != "x" {
			t.Errorf("%s: Append gave %q", name, b)
		}
	}
	// An IPv4-mapped IPv6 address is IPv6 (16 bytes on the wire).
	m := netip.MustParseAddrPort("[::ffff:192.0.2.1]:1")
	if TCP(v4, m).Valid() {
		t.Error("IPv4 with IPv4-mapped IPv6: Valid")
	}
	if !TCP(v6, m).Valid() {
		t.Error("IPv6 with IPv4-mapped IPv6: not Valid")
	}
}

// TestZone: an IPv6 zone is not on the wire and does not change the ID.
func TestZone(t *testing.T) {
	a := netip.MustParseAddrPort("[fe80::1%eth0]:443")
	b := netip.MustParseAddrPort("[fe80::2%eth0]:5555")
	a0 := netip.AddrPortFrom(a.Addr().WithZone(""), a.Port())
	b0 := netip.AddrPortFrom(b.Addr().WithZone(""), b.Port())
	if x, y := TCP(a, b).String(), TCP(a0, b0).String(); x != y {
		t.Errorf("zoned %q, unzoned %q", x, y)
	}
}

func TestAppendNoAlloc(t *testing.T) {
	f := TCP(netip.MustParseAddrPort("[2001:db8::1]:50000"), netip.MustParseAddrPort("[2001:db8::2]:443"))
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = f.Append(buf[:0], 0) }); n != 0 {
		t.Errorf("Append allocates %.0f times per call", n)
	}
}

func BenchmarkAppend(b *testing.B) {
	for _, tt := range []struct {
		name string
		f    Flow
	}{
		{"tcp4", TCP(netip.MustParseAddrPort("192.0.2.1:50000"), netip.MustParseAddrPort("198.51.100.7:443"))},
		{"udp6", UDP(netip.MustParseAddrPort("[2001:db8::1]:50000"), netip.MustParseAddrPort("[2001:db8::2]:443"))},
	} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 64)
			for b.Loop() {
				buf = tt.f.Append(buf[:0], 0)
			}
		})
	}
}

func BenchmarkString(b *testing.B) {
	f := TCP(netip.MustParseAddrPort("192.0.2.1:50000"), netip.MustParseAddrPort("198.51.100.7:443"))
	b.ReportAllocs()
	for b.Loop() {
		_ = f.String()
	}
}
