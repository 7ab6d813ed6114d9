package capture

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/hellowatch/hellowatch/handshake"
)

// smallRegions makes every region of a mapped file one page for the test,
// so that small files cross many region boundaries.
func smallRegions(t testing.TB, size int) {
	t.Helper()
	old := mapRegion
	mapRegion = size
	t.Cleanup(func() { mapRegion = old })
}

func readFile(t testing.TB, name string, opts FileOptions) ([]gotPacket, error) {
	t.Helper()
	src, err := OpenFilesWith([]string{name}, opts)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	return readAll(t, src)
}

// The mapped reader yields exactly what read(2) and an io.Reader yield, for
// every sample and test capture, pcap and pcapng, with regions of one page.
func TestMappedMatchesRead(t *testing.T) {
	if mapFileWorks(t) == false {
		t.Skip("no mmap here")
	}
	smallRegions(t, os.Getpagesize())
	var files []string
	for _, g := range []string{"../samples/*.pcap*", "testdata/src/*.pcap*"} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	if len(files) < 20 {
		t.Fatalf("only %d captures found", len(files))
	}
	for _, f := range files {
		mapped, err1 := readFile(t, f, FileOptions{})
		read, err2 := readFile(t, f, FileOptions{NoMap: true})
		if fmt.Sprint(err1) != fmt.Sprint(err2) {
			t.Fatalf("%s: mapped: %v; read: %v", f, err1, err2)
		}
		comparePackets(t, mapped, read)
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src, err := OpenReader(f, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		viaReader, err3 := readAll(t, src)
		src.Close()
		if fmt.Sprint(err1) != fmt.Sprint(err3) {
			t.Fatalf("%s: mapped: %v; io.Reader: %v", f, err1, err3)
		}
		comparePackets(t, mapped, viaReader)
	}
}

func mapFileWorks(t testing.TB) bool {
	f, err := os.Open(filepath.Join("testdata", "src", "lo.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := mapFile(f)
	if m == nil {
		return false
	}
	m.unref()
	return true
}

// A file that grows after it was opened (a capture still being written):
// the mapping covers what was there; the rest, including a record cut at
// the mapping's end, is read.
func TestMappedFileGrows(t *testing.T) {
	if !mapFileWorks(t) {
		t.Skip("no mmap here")
	}
	smallRegions(t, os.Getpagesize())
	data := repeatPcap(t, "lo.pcap", 64<<10)
	want := mustReadAll(t, "full", data)
	starts := recordStarts(data)
	for _, cut := range []int{starts[len(starts)/2], starts[len(starts)/2] + 7, starts[len(starts)/3] + 16 + 3} {
		name := filepath.Join(t.TempDir(), "growing.pcap")
		if err := os.WriteFile(name, data[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		src, err := OpenFiles([]string{name})
		if err != nil {
			t.Fatal(err)
		}
		var got []gotPacket
		for range 3 {
			p, err := src.Next()
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, gotPacket{bytes.Clone(p.Data), p.TS, p.CapLen, p.Len, p.Link, p.Index})
		}
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(data[cut:]); err != nil {
			t.Fatal(err)
		}
		f.Close()
		rest, err := readAll(t, src)
		src.Close()
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		comparePackets(t, append(got, rest...), want)
	}
}

// mappingRSS returns the resident bytes of the mapping that holds p, from
// /proc/self/smaps.
func mappingRSS(t *testing.T, p unsafe.Pointer) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip("no /proc/self/smaps")
	}
	defer f.Close()
	addr := uint64(uintptr(p))
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if fields := strings.Fields(line); len(fields) > 0 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			lo, hi, _ := strings.Cut(fields[0], "-")
			l, err1 := strconv.ParseUint(lo, 16, 64)
			h, err2 := strconv.ParseUint(hi, 16, 64)
			in = err1 == nil && err2 == nil && l <= addr && addr < h
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			kb, err := strconv.Atoi(strings.Fields(line)[1])
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no mapping at %#x in /proc/self/smaps", addr)
	return 0
}

// Reading a mapped file through a Pipeline keeps only the regions in use
// resident, hands each back once, and unmaps the file when the reader and
// every batch are done with it.
func TestMappedRegionsReleased(t *testing.T) {
	if runtime.GOOS != "linux" || !mapFileWorks(t) {
		t.Skip("needs Linux mmap and /proc/self/smaps")
	}
	const region = 64 << 10
	smallRegions(t, region)
	data := repeatPcap(t, "lo.pcap", 48<<20)
	name := filepath.Join(t.TempDir(), "big.pcap")
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := OpenFiles([]string{name})
	if err != nil {
		t.Fatal(err)
	}
	c := src.(*fileSource).rd.chunks()
	m := c.m
	base := unsafe.Pointer(&m.data[0])
	var records int
	pl := NewPipeline(Config{Emit: func(*handshake.Handshake) { records++ }}, 1, true)
	maxRSS, packets := 0, 0
	for {
		p, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pl.Packet(p)
		packets++
		if packets%2000 == 0 {
			maxRSS = max(maxRSS, mappingRSS(t, base))
		}
	}
	pl.Flush()
	// The batches in flight (queueDepth+2 rounds of roundPackets packets of
	// lo.pcap's few hundred bytes) span far less than the file.
	if limit := len(data) / 4; maxRSS > limit || maxRSS == 0 {
		t.Errorf("mapping resident up to %d bytes while reading %d (limit %d)", maxRSS, len(data), limit)
	}
	if want := len(recordStarts(data)) - 2; packets != want {
		t.Errorf("%d packets read, want %d", packets, want)
	}
	t.Logf("%d packets, %d records; mapping resident at most %d of %d bytes", packets, records, maxRSS, len(data))
	if got := m.refs.Load(); got != 0 {
		t.Errorf("after the last packet %d references to the mapping remain, want 0", got)
	}
	if m.data != nil {
		t.Error("the mapping is still mapped after the source reached its end")
	}
	pl.Close()
	src.Close()
}

// A mapped file truncated while it is read (another program rewrote it):
// the reader returns a *FileError (ErrShrank) instead of crashing, and a
// Pipeline's workers, which touch packets after the reader, survive it.
func TestMappedFileShrinks(t *testing.T) {
	if runtime.GOOS != "linux" || !mapFileWorks(t) {
		t.Skip("needs Linux mmap")
	}
	smallRegions(t, 64<<10)
	data := repeatPcap(t, "lo.pcap", 8<<20)
	for _, workers := range []int{-1, 0, 1} { // -1: the Source alone
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "shrinking.pcap")
			if err := os.WriteFile(name, data, 0o644); err != nil {
				t.Fatal(err)
			}
			src, err := OpenFiles([]string{name})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			var pl *Pipeline
			if workers >= 0 {
				pl = NewPipeline(Config{Emit: func(*handshake.Handshake) {}}, workers, true)
				defer pl.Close()
			}
			read := 0
			for ; read < 3000; read++ {
				p, err := src.Next()
				if err != nil {
					t.Fatal(err)
				}
				if pl != nil {
					pl.Packet(p)
				}
			}
			if err := os.Truncate(name, 4096); err != nil {
				t.Fatal(err)
			}
			for {
				p, err := src.Next()
				if err == nil {
					if pl != nil {
						pl.Packet(p)
					}
					read++
					continue
				}
				if !errors.Is(err, ErrShrank) {
					t.Fatalf("after %d packets: %v, want ErrShrank", read, err)
				}
				var fe *FileError
				if !errors.As(err, &fe) || fe.File != name {
					t.Fatalf("%v is not a *FileError of %s", err, name)
				}
				break
			}
			if pl != nil {
				pl.Flush()
				t.Logf("read %d packets; %d batches cut short", read, pl.Faults())
			}
			if _, err := src.Next(); err != io.EOF {
				t.Fatalf("after the error: %v, want io.EOF", err)
			}
		})
	}
}
