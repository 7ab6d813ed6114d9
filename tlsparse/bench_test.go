package tlsparse

import "testing"

func BenchmarkParseClientHello(b *testing.B) {
	for _, h := range realHellos(b) {
		b.Run(h.name, func(b *testing.B) {
			var ch ClientHello
			b.ReportAllocs()
			b.SetBytes(int64(len(h.body)))
			for b.Loop() {
				if err := ParseClientHello(h.body, &ch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkJA4(b *testing.B) {
	for _, h := range realHellos(b) {
		b.Run(h.name, func(b *testing.B) {
			var ch ClientHello
			ParseClientHello(h.body, &ch)
			dst := make([]byte, 0, 256)
			b.ReportAllocs()
			for b.Loop() {
				dst = ch.JA4(dst[:0])
			}
		})
	}
}

func BenchmarkStreamHello(b *testing.B) {
	for _, h := range realHellos(b) {
		b.Run(h.name, func(b *testing.B) {
			var s Stream
			var nh nopHandler
			b.ReportAllocs()
			b.SetBytes(int64(len(h.stream)))
			for b.Loop() {
				s.Reset()
				s.Feed(h.stream, &nh)
			}
		})
	}
}

// BenchmarkStreamSkipAppData measures skipping ciphertext: 64 full-size
// application_data records fed in 64 KiB chunks.
func BenchmarkStreamSkipAppData(b *testing.B) {
	rec := make([]byte, 5+16384+256)
	rec[0], rec[1], rec[2] = 23, 3, 3
	rec[3], rec[4] = byte((16384+256)>>8), byte((16384+256)&0xff)
	var buf []byte
	for i := 0; i < 64; i++ {
		buf = append(buf, rec...)
	}
	var s Stream
	var nh nopHandler
	s.SetEncrypted()
	// make the stream past its first record so the header fast path applies
	s.Feed(rec, &nh)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		for p := buf; len(p) > 0; {
			n := min(len(p), 65536)
			if err := s.Feed(p[:n], &nh); err != nil {
				b.Fatal(err)
			}
			p = p[n:]
		}
	}
}
