// Package prefetch asks the CPU to load memory into its caches ahead of
// use: PREFETCHT0 on amd64, PRFM PLDL1KEEP on arm64, nothing elsewhere.
// A hint only: it never faults, never changes memory, and a wrong guess
// costs a little memory bandwidth. It lives in a package of its own
// because a package with cgo (capture) cannot hold Go assembly.
package prefetch

// Bytes hints the CPU to load b's cache lines.
func Bytes(b []byte) {
	if len(b) > 0 {
		lines(&b[0], uintptr(len(b)))
	}
}
