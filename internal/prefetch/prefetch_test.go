package prefetch

import (
	"os"
	"testing"
)

// Prefetching is only a hint: any length, alignment or position, up to the
// last byte of the slice (never past it), must neither fault nor change a
// byte.
func TestBytesNeverFaultsNorWrites(t *testing.T) {
	buf := make([]byte, 3*os.Getpagesize()+17)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for _, lo := range []int{0, 1, 63, 64, 65, 4095, len(buf) - 1} {
		for _, n := range []int{0, 1, 63, 64, 65, 129, 4096, len(buf)} {
			hi := min(lo+n, len(buf))
			Bytes(buf[lo:hi])
		}
	}
	Bytes(nil)
	Bytes(buf[len(buf):])
	for i := range buf {
		if buf[i] != byte(i*7) {
			t.Fatalf("byte %d changed", i)
		}
	}
}

func BenchmarkBytes4K(b *testing.B) {
	buf := make([]byte, 4096)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		Bytes(buf)
	}
}
