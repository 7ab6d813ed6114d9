//go:build amd64 || arm64

package prefetch

// lines prefetches the cache lines of the n bytes at p (prefetch_*.s).
//
//go:noescape
func lines(p *byte, n uintptr)
