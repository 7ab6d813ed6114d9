//go:build unix

package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps size bytes of f read-only (MADV_SEQUENTIAL, as hellowatch).
func mapFile(f *os.File, size int64) ([]byte, func(), error) {
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	_ = unix.Madvise(data, unix.MADV_SEQUENTIAL)
	return data, func() { _ = unix.Munmap(data) }, nil
}
