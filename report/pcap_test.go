package report

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

var pkts = []struct {
	ts   time.Time
	data []byte
	orig int
}{
	{time.Unix(1764072000, 123456789), []byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3}, 7},
	{time.Unix(1764072001, 1), bytes.Repeat([]byte{0xaa}, 100), 1500},
	{time.Unix(1764072002, 999999999), []byte{}, 0},
}

func TestPcapWriterReadBack(t *testing.T) {
	tests := []struct {
		name string
		link layers.LinkType
	}{{"ethernet", layers.LinkTypeEthernet}, {"loopback_null", layers.LinkTypeNull}, {"raw", layers.LinkTypeRaw}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := NewPcapWriter(&buf, uint32(tc.link), 64)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pkts {
				if err := w.WritePacket(p.ts, p.data, p.orig); err != nil {
					t.Fatal(err)
				}
			}
			raw := bytes.Clone(buf.Bytes())
			r, err := pcapgo.NewReader(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if r.LinkType() != tc.link || r.Snaplen() != 64 {
				t.Errorf("link %v snaplen %d", r.LinkType(), r.Snaplen())
			}
			// pcapgo v1.1.19 inverts Resolution(), so check the magic by hand.
			if m := binary.LittleEndian.Uint32(raw); m != pcapMagicNanos {
				t.Errorf("magic %#x, want nanosecond magic", m)
			}
			for i, p := range pkts {
				data, ci, err := r.ReadPacketData()
				if err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
				want := p.data
				if len(want) > 64 {
					want = want[:64]
				}
				if !ci.Timestamp.Equal(p.ts) || !bytes.Equal(data, want) || ci.Length != p.orig || ci.CaptureLength != len(want) {
					t.Errorf("packet %d: ts %v len %d/%d data %x", i, ci.Timestamp, ci.CaptureLength, ci.Length, data)
				}
			}
		})
	}
}

// TestPcapWriterSLL2 checks the link type bytes by hand: pcapgo would read
// 276 back as 20.
func TestPcapWriterSLL2(t *testing.T) {
	var buf bytes.Buffer
	if _, err := NewPcapWriter(&buf, 276, 0); err != nil {
		t.Fatal(err)
	}
	want := []byte{0x4d, 0x3c, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x04, 0x00, 0x14, 0x01, 0, 0}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("header %x, want %x", buf.Bytes(), want)
	}
}

func TestPcapWriterBeforeEpoch(t *testing.T) {
	w, _ := NewPcapWriter(&bytes.Buffer{}, 1, 0)
	if err := w.WritePacket(time.Unix(-5, 0), []byte{1}, 1); !errors.Is(err, errNegativeTime) {
		t.Fatalf("err = %v", err)
	}
}

func TestPcapngWriterReadBack(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewPcapngWriter(&buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	links := []uint32{uint32(layers.LinkTypeEthernet), 276, uint32(layers.LinkTypeEthernet)}
	for i, p := range pkts {
		if err := w.WritePacket(links[i], p.ts, p.data, p.orig); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WritePacket(1<<16, time.Now(), nil, 0); err == nil {
		t.Error("32-bit link type accepted by pcapng")
	}
	raw := bytes.Clone(buf.Bytes())
	opts := pcapgo.DefaultNgReaderOptions
	opts.WantMixedLinkType = true
	r, err := pcapgo.NewNgReader(&buf, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pkts {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if !ci.Timestamp.Equal(p.ts) || !bytes.Equal(data, p.data) || ci.Length != p.orig {
			t.Errorf("packet %d: ts %v len %d data %x", i, ci.Timestamp, ci.Length, data)
		}
		wantIf := 0
		if links[i] == 276 {
			wantIf = 1
		}
		if ci.InterfaceIndex != wantIf {
			t.Errorf("packet %d: interface %d, want %d", i, ci.InterfaceIndex, wantIf)
		}
	}
	if r.NInterfaces() != 2 {
		t.Errorf("interfaces = %d, want 2", r.NInterfaces())
	}
	// The second IDB (after SHB 28 bytes, IDB 32, EPB 32+8) carries 276 in 16 bits.
	off := 28 + 32 + 32 + 8
	if bt := binary.LittleEndian.Uint32(raw[off:]); bt != ngIDB {
		t.Fatalf("block at %d is %#x, want IDB", off, bt)
	}
	if lt := binary.LittleEndian.Uint16(raw[off+8:]); lt != 276 {
		t.Errorf("second IDB link type %d, want 276", lt)
	}
}

func BenchmarkPcapWriter(b *testing.B) {
	w, _ := NewPcapWriter(discard{}, 1, 0)
	data := make([]byte, 1514)
	ts := time.Unix(1764072000, 0)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		_ = w.WritePacket(ts, data, len(data))
	}
}
