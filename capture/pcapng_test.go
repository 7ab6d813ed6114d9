package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// ngBuilder writes pcapng blocks in one byte order.
type ngBuilder struct {
	bo  binary.ByteOrder
	buf bytes.Buffer
}

func (w *ngBuilder) block(typ uint32, body []byte) *ngBuilder {
	n := 12 + (len(body)+3)&^3
	var h [8]byte
	w.bo.PutUint32(h[:], typ)
	w.bo.PutUint32(h[4:], uint32(n))
	w.buf.Write(h[:])
	w.buf.Write(body)
	w.buf.Write(make([]byte, (4-len(body)%4)%4))
	w.buf.Write(h[4:])
	return w
}

func (w *ngBuilder) shb() *ngBuilder {
	b := make([]byte, 16)
	w.bo.PutUint32(b, ngByteOrderMagic)
	w.bo.PutUint16(b[4:], 1)
	w.bo.PutUint64(b[8:], ^uint64(0))
	return w.block(ngBlockSHB, b)
}

// idb adds an interface; tsresol < 0 means no if_tsresol option.
func (w *ngBuilder) idb(link LinkType, tsresol int, tsoffset int64) *ngBuilder {
	b := make([]byte, 8)
	w.bo.PutUint16(b, uint16(link))
	w.bo.PutUint32(b[4:], 65535)
	opt := func(code uint16, v []byte) {
		var h [4]byte
		w.bo.PutUint16(h[:], code)
		w.bo.PutUint16(h[2:], uint16(len(v)))
		b = append(b, h[:]...)
		b = append(b, v...)
		b = append(b, make([]byte, (4-len(v)%4)%4)...)
	}
	opt(2, []byte("if-name")) // if_name, skipped
	if tsresol >= 0 {
		opt(ngOptTsresol, []byte{byte(tsresol)})
	}
	if tsoffset != 0 {
		v := make([]byte, 8)
		w.bo.PutUint64(v, uint64(tsoffset))
		opt(ngOptTsoffset, v)
	}
	b = append(b, 0, 0, 0, 0)
	return w.block(ngBlockIDB, b)
}

func (w *ngBuilder) epb(ifid uint32, ts uint64, data []byte, origLen int) *ngBuilder {
	b := make([]byte, 20, 20+len(data)+8)
	w.bo.PutUint32(b, ifid)
	w.bo.PutUint32(b[4:], uint32(ts>>32))
	w.bo.PutUint32(b[8:], uint32(ts))
	w.bo.PutUint32(b[12:], uint32(len(data)))
	w.bo.PutUint32(b[16:], uint32(origLen))
	b = append(b, data...)
	b = append(b, make([]byte, (4-len(data)%4)%4)...)
	// an opt_comment option, then opt_endofopt
	b = append(b, 1, 0, 3, 0, 'h', 'i', '!', 0, 0, 0, 0, 0)
	if w.bo == binary.BigEndian {
		b[len(b)-12], b[len(b)-11], b[len(b)-10], b[len(b)-9] = 0, 1, 0, 3
	}
	return w.block(ngBlockEPB, b)
}

func (w *ngBuilder) pb(ifid uint16, ts uint64, data []byte) *ngBuilder {
	b := make([]byte, 20)
	w.bo.PutUint16(b, ifid)
	w.bo.PutUint32(b[4:], uint32(ts>>32))
	w.bo.PutUint32(b[8:], uint32(ts))
	w.bo.PutUint32(b[12:], uint32(len(data)))
	w.bo.PutUint32(b[16:], uint32(len(data)))
	return w.block(ngBlockPB, append(b, data...))
}

func (w *ngBuilder) spb(data []byte, origLen int) *ngBuilder {
	b := make([]byte, 4)
	w.bo.PutUint32(b, uint32(origLen))
	return w.block(ngBlockSPB, append(b, data...))
}

func (w *ngBuilder) bytes() []byte { return bytes.Clone(w.buf.Bytes()) }

func TestPcapngBlocks(t *testing.T) {
	pkt := []byte("0123456789abcdefghij") // 20 bytes, content irrelevant here
	for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		t.Run(bo.String(), func(t *testing.T) {
			w := &ngBuilder{bo: bo}
			w.shb().
				idb(LinkEthernet, -1, 0). // microseconds
				block(0x00000BAD, []byte("custom unknown block")).
				block(5, make([]byte, 100)). // interface statistics, skipped
				epb(0, 1_700_000_000_123_456, pkt, 60).
				idb(LinkLinuxSLL2, 9, 0). // nanoseconds
				idb(LinkRaw, 0x80|20, 0). // 2^-20 s
				idb(LinkIPv4, 3, 100).    // milliseconds, +100 s
				epb(1, 1_700_000_000_123_456_789, pkt[:7], 7).
				epb(2, 3<<20|1<<19, pkt, 20).
				epb(3, 1500, pkt, 20).
				pb(1, 42, pkt[:5]).
				spb(pkt, 20)
			// A second section, in the other byte order, with its own interfaces.
			other := binary.ByteOrder(binary.BigEndian)
			if bo == binary.BigEndian {
				other = binary.LittleEndian
			}
			w2 := &ngBuilder{bo: other}
			w2.shb().idb(LinkLoop, 6, 0).spb(pkt[:12], 40).epb(0, 5, pkt[:3], 3)
			data := append(w.bytes(), w2.bytes()...)
			got := mustReadAll(t, "blocks", data)
			want := []gotPacket{
				{pkt, 1_700_000_000_123_456_000, 20, 60, LinkEthernet, 1},
				{pkt[:7], 1_700_000_000_123_456_789, 7, 7, LinkLinuxSLL2, 2},
				{pkt, 3_500_000_000, 20, 20, LinkRaw, 3},
				{pkt, 101_500_000_000, 20, 20, LinkIPv4, 4},
				{pkt[:5], 42, 5, 5, LinkLinuxSLL2, 5},
				{pkt, 42, 20, 20, LinkEthernet, 6}, // SPB: the last timestamp
				{pkt[:12], 42, 12, 40, LinkLoop, 7},
				{pkt[:3], 5000, 3, 3, LinkLoop, 8},
			}
			comparePackets(t, got, want)
		})
	}
}

func TestPcapngCorrupt(t *testing.T) {
	pkt := make([]byte, 20)
	base := func() *ngBuilder { return (&ngBuilder{bo: binary.LittleEndian}).shb().idb(LinkEthernet, -1, 0) }
	good := base().epb(0, 1, pkt, 20).bytes()
	shbIDB := len(base().bytes())
	tests := []struct {
		name    string
		data    []byte
		packets int
		offset  int64
		want    string
	}{
		{"bad trailing length", func() []byte {
			b := bytes.Clone(good)
			b[len(b)-4]++
			return b
		}(), 0, int64(shbIDB), "trailing length"},
		{"caplen overruns block", func() []byte {
			b := bytes.Clone(good)
			binary.LittleEndian.PutUint32(b[shbIDB+20:], 200)
			return b
		}(), 0, int64(shbIDB), "overruns its block"},
		{"caplen over max", func() []byte {
			b := bytes.Clone(good)
			binary.LittleEndian.PutUint32(b[shbIDB+20:], MaxSnaplen+1)
			return b
		}(), 0, int64(shbIDB), "corrupt file"},
		{"unknown interface", base().epb(0, 1, pkt, 20).epb(5, 1, pkt, 20).bytes(), 1, int64(len(good)), "packet for interface 5, but only 1 described"},
		{"packet before IDB", (&ngBuilder{bo: binary.LittleEndian}).shb().epb(0, 1, pkt, 20).bytes(), 0, 28, "packet before any interface"},
		{"length not multiple of 4", func() []byte {
			b := bytes.Clone(good)
			binary.LittleEndian.PutUint32(b[shbIDB+4:], 61)
			return b
		}(), 0, int64(shbIDB), "bad block length 61"},
		{"length too small", func() []byte {
			b := bytes.Clone(good)
			binary.LittleEndian.PutUint32(b[shbIDB+4:], 8)
			return b
		}(), 0, int64(shbIDB), "bad block length 8"},
		{"packet block too large", func() []byte {
			b := bytes.Clone(good)
			binary.LittleEndian.PutUint32(b[shbIDB+4:], 64<<20)
			return b
		}(), 0, int64(shbIDB), "too large"},
		{"huge unknown block at the end", append(bytes.Clone(good), 0xAD, 0x0B, 0, 0, 0, 0, 0, 0x40 /* 1 GiB */, 1, 2, 3, 4), 1, int64(len(good)), "truncated"},
		{"bad SHB byte order", append(bytes.Clone(good), (&ngBuilder{bo: binary.LittleEndian}).shb().bytes()[:12]...), 1, int64(len(good)), "truncated"},
		{"bad SHB magic", func() []byte {
			b := append(bytes.Clone(good), (&ngBuilder{bo: binary.LittleEndian}).shb().bytes()...)
			b[len(good)+8] = 0
			return b
		}(), 1, int64(len(good)), "bad byte-order magic"},
		{"SHB version 2", func() []byte {
			b := append(bytes.Clone(good), (&ngBuilder{bo: binary.LittleEndian}).shb().bytes()...)
			b[len(good)+12] = 2
			return b
		}(), 1, int64(len(good)), "unsupported version 2.0"},
		{"bad tsresol", base().idb(LinkEthernet, 20, 0).bytes(), 0, int64(shbIDB), "if_tsresol 10^-20"},
		{"option overruns", func() []byte {
			b := base().bytes()
			binary.LittleEndian.PutUint16(b[28+16+2:], 200) // if_name length
			return b
		}(), 0, 28, "option 2 overruns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := OpenReader("bad.pcapng", bytes.NewReader(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(t, src)
			if len(got) != tt.packets {
				t.Errorf("%d packets, want %d", len(got), tt.packets)
			}
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("err %v, want *FileError", err)
			}
			if fe.Offset != tt.offset || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want offset %d and %q", err, tt.offset, tt.want)
			}
		})
	}
}
