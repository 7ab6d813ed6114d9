//go:build unix

package capture

import (
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// fileMap is a capture file mapped read-only into memory (see
// docs/ARCHITECTURE.md, "Reading files"). Packets alias the mapping, so a
// file costs no copy at all: the kernel maps the page cache's pages instead
// of copying them into a read buffer. The mapping is cut into regions of
// mapRegion bytes; each region is a chunkBuf with the usual reference
// count (the reader's while it reads there, one per Pipeline batch with
// packets that start there). A region whose last reference goes is handed
// back to the kernel (MADV_DONTNEED: the pages stay in the page cache but
// leave the process's resident set), so that reading a file of any size
// keeps a few regions resident. The mapping itself is unmapped when the
// reader and every region are done with it.
//
// Touching a page released that way is still correct (the kernel maps it
// again from the page cache), so a packet that runs over the end of its
// region needs no special care.
type fileMap struct {
	data []byte
	refs atomic.Int32 // the reader's, plus one per live region
}

// mapRegion is the span of the mapping one chunkBuf stands for: a
// multiple of the page size (tests make it one page).
var mapRegion = 4 << 20

// mapFile maps f read-only, or returns nil when it cannot (not a regular
// file, empty, too large for the address space, or mmap refused): the
// caller then reads the file.
func mapFile(f *os.File) *fileMap {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() <= 0 || st.Size() != int64(int(st.Size())) {
		return nil
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil
	}
	// Read ahead of the reader, and do not keep pages it is past.
	_ = unix.Madvise(data, unix.MADV_SEQUENTIAL)
	m := &fileMap{data: data}
	m.refs.Store(1)
	return m
}

// unref drops a reference; the last one unmaps.
func (m *fileMap) unref() {
	if m.refs.Add(-1) == 0 {
		_ = unix.Munmap(m.data)
		m.data = nil
	}
}

// region returns a new chunkBuf for the region holding offset off, with
// one reference (the caller's).
func (m *fileMap) region(off int) *chunkBuf {
	start := off - off%mapRegion
	end := min(start+mapRegion, len(m.data))
	m.refs.Add(1)
	b := &chunkBuf{m: m, start: start, end: end}
	b.refs.Store(1)
	return b
}

// releaseRegion hands a region's pages back and drops its reference to the
// mapping; called once, by whoever drops the region's last reference.
func (b *chunkBuf) releaseRegion() {
	_ = unix.Madvise(b.m.data[b.start:b.end], unix.MADV_DONTNEED)
	b.m.unref()
}
