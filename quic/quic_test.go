package quic

import (
	"bytes"
	"errors"
	"testing"
)

func rfcClient(t testing.TB) (pkt []byte, k *InitialKeys) {
	v := rfcVectors[0]
	k = new(InitialKeys)
	if err := k.Derive(v.version, unhex(t, rfcDCID)); err != nil {
		t.Fatal(err)
	}
	return unhex(t, v.clientPacket), k
}

func TestOpenAllocs(t *testing.T) {
	pkt, k := rfcClient(t)
	var h Header
	dst := make([]byte, 0, 1<<16)
	n := testing.AllocsPerRun(100, func() {
		if err := ParseHeader(pkt, &h); err != nil {
			t.Fatal(err)
		}
		if _, _, err := k.Client.Open(dst, pkt, &h, -1); err != nil {
			t.Fatal(err)
		}
		var f Frame
		for p := dst[:0]; len(p) > 0; {
			var err error
			if p, err = NextFrame(p, &f); err != nil {
				break
			}
		}
	})
	if n != 0 {
		t.Fatalf("parse+open allocates %v times per packet", n)
	}
}

func TestOpenRejectsCorruption(t *testing.T) {
	pkt, k := rfcClient(t)
	for _, i := range []int{0, 20, 30, 500, len(pkt) - 1} {
		b := bytes.Clone(pkt)
		b[i] ^= 0x40
		var h Header
		if err := ParseHeader(b, &h); err != nil {
			continue
		}
		if _, _, err := k.Client.Open(nil, b, &h, -1); !errors.Is(err, ErrAuth) && !errors.Is(err, ErrTruncated) {
			t.Errorf("byte %d flipped: %v", i, err)
		}
	}
}

func TestHeaderPrefixes(t *testing.T) {
	pkt, _ := rfcClient(t)
	var h Header
	for n := 0; n < 30; n++ {
		if err := ParseHeader(pkt[:n], &h); err == nil {
			t.Errorf("prefix %d parsed", n)
		}
	}
}

func TestCryptoStream(t *testing.T) {
	data := make([]byte, 3000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	tests := []struct {
		name   string
		pieces [][2]int
		want   int
	}{
		{"in order", [][2]int{{0, 1000}, {1000, 3000}}, 3000},
		{"reversed", [][2]int{{2000, 3000}, {1000, 2000}, {0, 1000}}, 3000},
		{"overlapping", [][2]int{{500, 1500}, {0, 1000}, {1200, 3000}}, 3000},
		{"hole", [][2]int{{0, 1000}, {2000, 3000}}, 1000},
		{"no start", [][2]int{{100, 3000}}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s CryptoStream
			for _, p := range tc.pieces {
				if err := s.Add(uint64(p[0]), data[p[0]:p[1]]); err != nil {
					t.Fatal(err)
				}
			}
			got := s.Contiguous()
			if len(got) != tc.want || !bytes.Equal(got, data[:tc.want]) {
				t.Fatalf("contiguous %d bytes, want %d", len(got), tc.want)
			}
		})
	}
	var s CryptoStream
	_ = s.Add(0, []byte("abc"))
	if err := s.Add(1, []byte("XY")); !errors.Is(err, ErrCryptoConflict) || string(s.Contiguous()) != "abc" {
		t.Fatalf("conflict: %v %q", err, s.Contiguous())
	}
	if err := s.Add(DefaultCryptoLimit-1, []byte("zz")); !errors.Is(err, ErrCryptoTooLarge) {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		if err := s.Add(uint64(100+10*i), []byte{1}); err != nil {
			if !errors.Is(err, ErrCryptoFragmented) || i < maxCryptoSpans-2 {
				t.Fatalf("piece %d: %v", i, err)
			}
			break
		}
	}
}

func TestTLSAlert(t *testing.T) {
	for _, tc := range []struct {
		typ  FrameType
		code uint64
		want uint8
		ok   bool
	}{{FrameConnectionClose, 0x0128, 40, true}, {FrameConnectionClose, 0x0170, 112, true}, {FrameConnectionClose, 0x0150, 80, true},
		{FrameConnectionClose, 0x0a, 0, false}, {FrameApplicationClose, 0x0128, 0, false}, {FrameConnectionClose, 0x0200, 0, false}} {
		f := Frame{Type: tc.typ, ErrorCode: tc.code}
		if a, ok := f.TLSAlert(); a != tc.want || ok != tc.ok {
			t.Errorf("%v %#x: %d %v", tc.typ, tc.code, a, ok)
		}
	}
	// A transport CONNECTION_CLOSE 0x0128 as Caddy/quic-go would send it.
	b := AppendVarint(nil, 0x1c)
	b = AppendVarint(b, 0x0128)
	b = AppendVarint(b, 0x06)
	b = AppendVarint(b, 3)
	b = append(b, "bye"...)
	var f Frame
	if rest, err := NextFrame(b, &f); err != nil || len(rest) != 0 || string(f.Reason) != "bye" || f.ClosingFrame != 6 {
		t.Fatalf("%v %+v", err, f)
	}
}

func FuzzInitial(f *testing.F) {
	for _, v := range rfcVectors {
		f.Add(unhex(f, v.clientPacket), unhex(f, rfcDCID))
		f.Add(unhex(f, v.serverPacket), unhex(f, rfcDCID))
		f.Add(unhex(f, v.retry), unhex(f, rfcDCID))
	}
	f.Fuzz(func(t *testing.T, pkt, dcid []byte) {
		var h Header
		if err := ParseHeader(pkt, &h); err != nil {
			return
		}
		if h.PacketLen > len(pkt) || h.PNOffset > h.PacketLen {
			t.Fatalf("header outside the packet: %+v (len %d)", h, len(pkt))
		}
		if h.Type == PacketRetry {
			VerifyRetry(pkt, &h, dcid)
			return
		}
		var k InitialKeys
		if err := k.Derive(h.Version, dcid); err != nil {
			return
		}
		orig := bytes.Clone(pkt)
		for _, keys := range []*Keys{&k.Client, &k.Server} {
			payload, _, err := keys.Open(make([]byte, 0, 64), pkt, &h, -1)
			if err == nil && len(payload) > h.PacketLen {
				t.Fatal("payload longer than the packet")
			}
		}
		if !bytes.Equal(orig, pkt) {
			t.Fatal("Open modified its input")
		}
	})
}

func FuzzFrames(f *testing.F) {
	f.Add(unhex(f, rfcVectors[0].serverPayload))
	f.Add(unhex(f, rfcVectors[0].clientPayload))
	f.Add([]byte{0x1c, 0x41, 0x28, 0x06, 0x00, 0x03, 0x1d, 0x00, 0x00, 0x01, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		var fr Frame
		for n := 0; len(b) > 0; n++ {
			rest, err := NextFrame(b, &fr)
			if err != nil {
				if len(rest) != len(b) {
					t.Fatal("error consumed bytes")
				}
				return
			}
			if len(rest) >= len(b) {
				t.Fatal("no progress")
			}
			b = rest
		}
	})
}

func FuzzCryptoStream(f *testing.F) {
	f.Add([]byte{0, 10, 5, 10, 2, 3}, []byte("hello quic crypto"))
	f.Fuzz(func(t *testing.T, ops, data []byte) {
		var s CryptoStream
		s.Limit = 4096
		model := make([]int, 256+len(data)) // -1 unknown, else byte
		for i := range model {
			model[i] = -1
		}
		for i := 0; i+1 < len(ops); i += 2 {
			off, n := int(ops[i]), int(ops[i+1])%(len(data)+1)
			err := s.Add(uint64(off), data[:n])
			if err != nil && !errors.Is(err, ErrCryptoConflict) {
				continue
			}
			for j := 0; j < n; j++ {
				if model[off+j] == -1 {
					model[off+j] = int(data[j])
				}
			}
		}
		got := s.Contiguous()
		want := 0
		for want < len(model) && model[want] != -1 {
			want++
		}
		if len(got) != want {
			t.Fatalf("contiguous %d, model %d", len(got), want)
		}
		for i, c := range got {
			if int(c) != model[i] {
				t.Fatalf("byte %d = %d, model %d (first bytes must win)", i, c, model[i])
			}
		}
	})
}

func BenchmarkOpenInitial(b *testing.B) {
	pkt, k := rfcClient(b)
	var h Header
	dst := make([]byte, 0, 1<<16)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		_ = ParseHeader(pkt, &h)
		_, _, _ = k.Client.Open(dst, pkt, &h, -1)
	}
}

func BenchmarkDeriveInitialKeys(b *testing.B) {
	dcid := unhex(b, rfcDCID)
	var k InitialKeys
	b.ReportAllocs()
	for b.Loop() {
		_ = k.Derive(Version1, dcid)
	}
}

// TestCryptoStreamBufferedAndReset: a CRYPTO frame far into the stream
// makes the stream hold every byte up to it (Buffered says so, for the
// tracker's memory account), and Reset lets go of such a buffer instead of
// keeping it in a pool of streams; a small one is kept for reuse.
func TestCryptoStreamBufferedAndReset(t *testing.T) {
	var s CryptoStream
	if err := s.Add(60000, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if got := s.Buffered(); got != 61000 {
		t.Errorf("Buffered = %d after a frame at 60000..61000, want 61000", got)
	}
	s.Reset()
	if s.Buffered() != 0 || cap(s.buf) != 0 {
		t.Errorf("after Reset: Buffered %d, cap %d: a 64 KiB buffer kept", s.Buffered(), cap(s.buf))
	}
	if err := s.Add(0, make([]byte, 1500)); err != nil {
		t.Fatal(err)
	}
	s.Reset()
	if cap(s.buf) == 0 {
		t.Error("a small buffer was not kept for reuse")
	}
}
