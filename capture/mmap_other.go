//go:build !unix

package capture

import (
	"os"
	"sync/atomic"
)

// fileMap is not used where there is no mmap: files are read.
type fileMap struct {
	data []byte
	refs atomic.Int32
}

var mapRegion = 4 << 20

func mapFile(*os.File) *fileMap { return nil }

func (m *fileMap) unref() {}

func (m *fileMap) region(int) *chunkBuf { return nil }

func (b *chunkBuf) releaseRegion() {}
