package communityid

import (
	"bytes"
	"encoding/base64"
	"net/netip"
	"strings"
	"testing"
)

// FuzzFlow feeds arbitrary tuples and checks the properties every ID has:
// "1:" and 28 base64 characters of a 20-byte digest, the same ID both ways
// (unless one-way), the hex form agreeing with the base64 one, and the
// empty ID exactly for tuples that are not valid.
func FuzzFlow(f *testing.F) {
	f.Add(uint8(6), []byte{192, 0, 2, 1}, []byte{198, 51, 100, 7}, uint16(50000), uint16(443), uint16(0), false)
	f.Add(uint8(17), bytes.Repeat([]byte{0x20}, 16), bytes.Repeat([]byte{0x20}, 16), uint16(443), uint16(443), uint16(1), false)
	f.Add(uint8(1), []byte{10, 0, 0, 1}, []byte{10, 0, 0, 2}, uint16(11), uint16(0), uint16(0), true)
	f.Add(uint8(46), []byte{10, 1, 12, 1}, []byte{10, 1, 12, 2}, uint16(0), uint16(0), uint16(0), false)
	f.Add(uint8(6), []byte{1, 2, 3}, []byte{}, uint16(1), uint16(2), uint16(3), false)
	f.Fuzz(func(t *testing.T, proto uint8, src, dst []byte, sp, dp, seed uint16, oneWay bool) {
		a, _ := netip.AddrFromSlice(src)
		b, _ := netip.AddrFromSlice(dst)
		fl := Flow{Proto: proto, Src: a, Dst: b, SrcPort: sp, DstPort: dp, OneWay: oneWay}
		id := string(fl.Append(nil, seed))
		if !fl.Valid() {
			if id != "" {
				t.Fatalf("invalid flow %+v gave %q", fl, id)
			}
			return
		}
		if len(id) != Len || !strings.HasPrefix(id, Prefix) {
			t.Fatalf("%+v: malformed ID %q", fl, id)
		}
		sum, err := base64.StdEncoding.DecodeString(id[len(Prefix):])
		if err != nil || len(sum) != 20 {
			t.Fatalf("%+v: ID %q: %v (%d bytes)", fl, id, err, len(sum))
		}
		hex := string(fl.AppendHex(nil, seed))
		if want := Prefix + hexOf(sum); hex != want {
			t.Fatalf("%+v: hex %q, base64 decodes to %q", fl, hex, want)
		}
		rev := fl
		rev.Src, rev.Dst, rev.SrcPort, rev.DstPort = fl.Dst, fl.Src, fl.DstPort, fl.SrcPort
		if r := string(rev.Append(nil, seed)); !oneWay && r != id {
			t.Fatalf("%+v: %q one way, %q the other", fl, id, r)
		}
		if !hasPorts(proto) {
			moved := fl
			moved.SrcPort, moved.DstPort = sp+1, dp+1
			if m := string(moved.Append(nil, seed)); m != id {
				t.Fatalf("proto %d hashed its ports: %q vs %q", proto, id, m)
			}
		}
	})
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}
