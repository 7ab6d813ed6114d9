package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/pcapgo"
)

// gotPacket is a Packet copied out of a Source.
type gotPacket struct {
	Data        []byte
	TS          int64
	CapLen, Len int
	Link        LinkType
	Index       uint64
}

// readAll reads src to the end and returns copies of its packets and the
// error that ended it (nil for io.EOF).
func readAll(t testing.TB, src Source) ([]gotPacket, error) {
	t.Helper()
	var out []gotPacket
	for {
		p, err := src.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if p.CapLen != len(p.Data) {
			t.Fatalf("packet %d: CapLen %d != len(Data) %d", p.Index, p.CapLen, len(p.Data))
		}
		out = append(out, gotPacket{bytes.Clone(p.Data), p.TS, p.CapLen, p.Len, p.Link, p.Index})
	}
}

func testFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "src", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pcapgoRead reads a file with gopacket's pcapgo as the reference.
func pcapgoRead(t *testing.T, data []byte) []gotPacket {
	t.Helper()
	var r io.Reader = bytes.NewReader(data)
	if data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
		data, _ = io.ReadAll(zr)
		r = bytes.NewReader(data)
	}
	var read func() ([]byte, gopacket.CaptureInfo, error)
	if binary.LittleEndian.Uint32(data) == ngBlockSHB {
		ng, err := pcapgo.NewNgReader(r, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			t.Fatal(err)
		}
		read = ng.ReadPacketData
	} else {
		pr, err := pcapgo.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		read = pr.ReadPacketData
	}
	var out []gotPacket
	for {
		d, ci, err := read()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, gotPacket{Data: d, TS: ci.Timestamp.UnixNano(), CapLen: ci.CaptureLength, Len: ci.Length})
	}
}

func TestFilesMatchPcapgo(t *testing.T) {
	tests := []struct {
		file  string
		links []LinkType // link types seen, in order of first appearance
	}{
		{"lo.pcap", []LinkType{LinkEthernet}},
		{"lo_nano.pcap", []LinkType{LinkEthernet}},
		{"lo_snap96.pcap", []LinkType{LinkEthernet}},
		{"any_sll.pcap", []LinkType{LinkLinuxSLL}},
		{"any_sll2.pcap", []LinkType{LinkLinuxSLL2}},
		{"lo.pcapng", []LinkType{LinkEthernet}},
		{"two_links.pcapng", []LinkType{LinkEthernet, LinkLinuxSLL2}},
		{"lo.pcap.gz", []LinkType{LinkEthernet}},
		{"lo.pcapng.gz", []LinkType{LinkEthernet}},
		{"lo_editcap_nsec.pcap", []LinkType{LinkEthernet}},
		{"lo_nano_editcap.pcapng", []LinkType{LinkEthernet}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data := testFile(t, tt.file)
			src, err := OpenFiles([]string{filepath.Join("testdata", "src", tt.file)})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			got, err := readAll(t, src)
			if err != nil {
				t.Fatal(err)
			}
			want := pcapgoRead(t, data)
			if len(got) != len(want) || len(got) == 0 {
				t.Fatalf("%d packets, pcapgo %d", len(got), len(want))
			}
			var links []LinkType
			var bytesTotal uint64
			for i := range got {
				g, w := got[i], want[i]
				if !bytes.Equal(g.Data, w.Data) || g.TS != w.TS || g.CapLen != w.CapLen || g.Len != w.Len {
					t.Fatalf("packet %d: got ts=%d cap=%d len=%d, pcapgo ts=%d cap=%d len=%d", i+1, g.TS, g.CapLen, g.Len, w.TS, w.CapLen, w.Len)
				}
				if g.Index != uint64(i+1) {
					t.Fatalf("packet %d: Index %d", i+1, g.Index)
				}
				if len(links) == 0 || !containsLink(links, g.Link) {
					links = append(links, g.Link)
				}
				bytesTotal += uint64(g.CapLen)
			}
			if !equalLinks(links, tt.links) {
				t.Errorf("link types %v, want %v", links, tt.links)
			}
			st := src.Stats()
			if st.Packets != uint64(len(got)) || st.Bytes != bytesTotal || st.Files != 1 {
				t.Errorf("stats %+v, want %d packets, %d bytes, 1 file", st, len(got), bytesTotal)
			}
		})
	}
}

func containsLink(ls []LinkType, l LinkType) bool {
	for _, x := range ls {
		if x == l {
			return true
		}
	}
	return false
}

func equalLinks(a, b []LinkType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNanoTimestamps(t *testing.T) {
	// editcap keeps the nanoseconds when converting to pcapng (if_tsresol 9).
	want := mustReadAll(t, "lo_nano.pcap", testFile(t, "lo_nano.pcap"))
	comparePackets(t, mustReadAll(t, "lo_nano_editcap.pcapng", testFile(t, "lo_nano_editcap.pcapng")), want)
	sub := 0
	for _, p := range want {
		if p.TS%1000 != 0 {
			sub++
		}
	}
	if sub == 0 {
		t.Errorf("no packet has sub-microsecond digits in a nanosecond file")
	}
	// A microsecond file rewritten as nanoseconds keeps its times.
	comparePackets(t, mustReadAll(t, "lo_editcap_nsec.pcap", testFile(t, "lo_editcap_nsec.pcap")), mustReadAll(t, "lo.pcap", testFile(t, "lo.pcap")))
	if got := want[0].TS; time.Unix(0, got).Year() < 2020 {
		t.Errorf("first timestamp %v", time.Unix(0, got))
	}
}

// bigEndianPcap rewrites a little-endian classic pcap in big-endian order.
func bigEndianPcap(t testing.TB, le []byte) []byte {
	t.Helper()
	out := bytes.Clone(le)
	swap32 := func(b []byte) { binary.BigEndian.PutUint32(b, binary.LittleEndian.Uint32(b)) }
	swap16 := func(b []byte) { binary.BigEndian.PutUint16(b, binary.LittleEndian.Uint16(b)) }
	swap32(out[0:])
	swap16(out[4:])
	swap16(out[6:])
	for _, o := range []int{8, 12, 16, 20} {
		swap32(out[o:])
	}
	for off := 24; off+16 <= len(out); {
		n := int(binary.LittleEndian.Uint32(le[off+8:]))
		for i := 0; i < 16; i += 4 {
			swap32(out[off+i:])
		}
		off += 16 + n
	}
	return out
}

// bigEndianPcapng rewrites a little-endian pcapng in big-endian order
// (block headers, SHB, IDB, EPB, SPB, PB fields and option headers).
func bigEndianPcapng(t testing.TB, le []byte) []byte {
	t.Helper()
	out := bytes.Clone(le)
	s32 := func(o int) { binary.BigEndian.PutUint32(out[o:], binary.LittleEndian.Uint32(le[o:])) }
	s16 := func(o int) { binary.BigEndian.PutUint16(out[o:], binary.LittleEndian.Uint16(le[o:])) }
	s64 := func(o int) { binary.BigEndian.PutUint64(out[o:], binary.LittleEndian.Uint64(le[o:])) }
	opts := func(o, end int, idb bool) {
		for o+4 <= end {
			code, n := binary.LittleEndian.Uint16(le[o:]), int(binary.LittleEndian.Uint16(le[o+2:]))
			s16(o)
			s16(o + 2)
			if idb && code == ngOptTsoffset && n == 8 {
				s64(o + 4)
			}
			if code == 0 {
				return
			}
			o += 4 + (n+3)&^3
		}
	}
	for off := 0; off+12 <= len(le); {
		typ, n := binary.LittleEndian.Uint32(le[off:]), int(binary.LittleEndian.Uint32(le[off+4:]))
		s32(off)
		s32(off + 4)
		s32(off + n - 4)
		switch typ {
		case ngBlockSHB:
			s32(off + 8)
			s16(off + 12)
			s16(off + 14)
			s64(off + 16)
			opts(off+24, off+n-4, false)
		case ngBlockIDB:
			s16(off + 8)
			s16(off + 10)
			s32(off + 12)
			opts(off+16, off+n-4, true)
		case ngBlockEPB:
			for i := 8; i < 28; i += 4 {
				s32(off + i)
			}
			c := int(binary.LittleEndian.Uint32(le[off+20:]))
			opts(off+28+(c+3)&^3, off+n-4, false)
		case ngBlockSPB:
			s32(off + 8)
		}
		off += n
	}
	return out
}

func TestBigEndian(t *testing.T) {
	tests := []struct {
		file string
		conv func(testing.TB, []byte) []byte
	}{
		{"lo.pcap", bigEndianPcap},
		{"lo_nano.pcap", bigEndianPcap},
		{"any_sll2.pcap", bigEndianPcap},
		{"lo.pcapng", bigEndianPcapng},
		{"two_links.pcapng", bigEndianPcapng},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			le := testFile(t, tt.file)
			be := tt.conv(t, le)
			if bytes.Equal(le, be) {
				t.Fatal("conversion changed nothing")
			}
			want := mustReadAll(t, tt.file, le)
			got := mustReadAll(t, tt.file+" (big-endian)", be)
			comparePackets(t, got, want)
		})
	}
}

func mustReadAll(t testing.TB, name string, data []byte) []gotPacket {
	t.Helper()
	src, err := OpenReader(name, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got, err := readAll(t, src)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func comparePackets(t testing.TB, got, want []gotPacket) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d packets, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if !bytes.Equal(g.Data, w.Data) || g.TS != w.TS || g.CapLen != w.CapLen || g.Len != w.Len || g.Link != w.Link || g.Index != w.Index {
			t.Fatalf("packet %d: got %+v\nwant %+v", i+1, g, w)
		}
	}
}

func TestOpenFilesInARow(t *testing.T) {
	names := []string{"lo.pcap", "lo.pcapng", "any_sll2.pcap", "lo.pcap.gz"}
	var paths []string
	var want []gotPacket
	for _, n := range names {
		paths = append(paths, filepath.Join("testdata", "src", n))
		want = append(want, mustReadAll(t, n, testFile(t, n))...)
	}
	for i := range want {
		want[i].Index = uint64(i + 1)
	}
	src, err := OpenFiles(paths)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got, err := readAll(t, src)
	if err != nil {
		t.Fatal(err)
	}
	comparePackets(t, got, want)
	if st := src.Stats(); st.Files != uint64(len(names)) || st.Packets != uint64(len(want)) {
		t.Errorf("stats %+v", st)
	}
	// After the end, Next keeps returning io.EOF.
	if _, err := src.Next(); err != io.EOF {
		t.Errorf("Next after end: %v", err)
	}
}

func TestOpenFilesMissingLater(t *testing.T) {
	src, err := OpenFiles([]string{filepath.Join("testdata", "src", "lo.pcap"), filepath.Join("testdata", "src", "missing.pcap")})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got, err := readAll(t, src)
	var fe *FileError
	if !errors.As(err, &fe) || !strings.HasSuffix(fe.File, "missing.pcap") || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err %v, want a *FileError for missing.pcap", err)
	}
	if len(got) == 0 {
		t.Error("no packets from the first file")
	}
	if _, err := OpenFiles([]string{"testdata/src/missing.pcap"}); !errors.As(err, &fe) {
		t.Errorf("OpenFiles(missing): %v", err)
	}
	if _, err := OpenFiles(nil); err == nil {
		t.Error("OpenFiles(nil) succeeded")
	}
}

func TestStdin(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "src", "lo.pcap.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	old := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = old }()
	src, err := OpenFiles([]string{"-", filepath.Join("testdata", "src", "lo.pcap")})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got, err := readAll(t, src)
	if err != nil {
		t.Fatal(err)
	}
	one := mustReadAll(t, "lo.pcap", testFile(t, "lo.pcap"))
	if len(got) != 2*len(one) {
		t.Fatalf("%d packets, want %d", len(got), 2*len(one))
	}
}

func TestNotCapture(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "capture: empty: offset 0: empty file"},
		{"short", []byte{0xd4, 0xc3}, "capture: short: offset 0: not a pcap or pcapng file (only 2 bytes: 0xd4c3)"},
		{"text", []byte("hello, world\n"), "capture: text: offset 0: not a pcap or pcapng file (first bytes 0x68656c6c6f2c20776f726c640a)"},
		{"wrong magic", append([]byte{0xd5, 0xc3, 0xb2, 0xa1}, make([]byte, 40)...), "capture: wrong magic: offset 0: not a pcap or pcapng file (first bytes 0xd5c3b2a1000000000000000000000000)"},
		{"pcap header cut", testFile(t, "lo.pcap")[:20], "capture: pcap header cut: offset 0: pcap file header: file truncated in the middle of a record"},
		{"gzip of text", gzipBytes([]byte("not a capture")), "capture: gzip of text: offset 0: not a pcap or pcapng file (first bytes 0x6e6f7420612063617074757265)"},
		{"bad gzip", []byte{0x1f, 0x8b, 0, 0}, "capture: bad gzip: offset 0: gzip: unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := OpenReader(tt.name, bytes.NewReader(tt.data))
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("err %v (%T), want *FileError", err, err)
			}
			if err.Error() != tt.want {
				t.Errorf("err\n %q\nwant\n %q", err, tt.want)
			}
		})
	}
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// recordStarts returns the byte offsets at which each record (pcap) or
// block (pcapng) starts, and the end of the file; the header or first SHB
// is the first entry.
func recordStarts(data []byte) []int {
	var starts []int
	if binary.LittleEndian.Uint32(data) == ngBlockSHB {
		for off := 0; off < len(data); off += int(binary.LittleEndian.Uint32(data[off+4:])) {
			starts = append(starts, off)
		}
	} else {
		starts = append(starts, 0)
		for off := 24; off < len(data); off += 16 + int(binary.LittleEndian.Uint32(data[off+8:])) {
			starts = append(starts, off)
		}
	}
	return append(starts, len(data))
}

// TestTruncatedEveryOffset cuts files at every byte: every complete packet
// comes out, then a *FileError at the start of the cut record (or io.EOF at
// a record boundary); never a panic.
func TestTruncatedEveryOffset(t *testing.T) {
	for _, file := range []string{"lo_snap96.pcap", "lo.pcapng", "two_links.pcapng"} {
		t.Run(file, func(t *testing.T) {
			data := testFile(t, file)
			if len(data) > 40000 {
				t.Fatalf("%s too big for this test", file)
			}
			full := mustReadAll(t, file, data)
			starts := recordStarts(data)
			// packetsBefore[i]: packets in records starting before starts[i].
			isPacket := func(off int) bool {
				if binary.LittleEndian.Uint32(data) != ngBlockSHB {
					return off >= 24
				}
				switch binary.LittleEndian.Uint32(data[off:]) {
				case ngBlockEPB, ngBlockSPB, ngBlockPB:
					return true
				}
				return false
			}
			for n := 0; n <= len(data); n++ {
				// The record containing the cut.
				k := 0
				for k+1 < len(starts) && starts[k+1] <= n {
					k++
				}
				wantPackets := 0
				for i := 0; i < k; i++ {
					if isPacket(starts[i]) {
						wantPackets++
					}
				}
				src, err := OpenReader(file, bytes.NewReader(data[:n]))
				if k == 0 && n < len(data) {
					// Cut inside the file header or first SHB (or empty).
					var fe *FileError
					if !errors.As(err, &fe) {
						t.Fatalf("cut at %d: open err %v, want *FileError", n, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("cut at %d: %v", n, err)
				}
				got, err := readAll(t, src)
				if len(got) != wantPackets {
					t.Fatalf("cut at %d: %d packets, want %d", n, len(got), wantPackets)
				}
				comparePackets(t, got, full[:wantPackets])
				if n == starts[k] {
					if err != nil {
						t.Fatalf("cut at boundary %d: %v", n, err)
					}
					continue
				}
				var fe *FileError
				if !errors.As(err, &fe) {
					t.Fatalf("cut at %d: err %v, want *FileError", n, err)
				}
				if fe.Offset != int64(starts[k]) || fe.File != file || !errors.Is(err, ErrTruncated) {
					t.Fatalf("cut at %d: %v, want offset %d and ErrTruncated", n, err, starts[k])
				}
			}
		})
	}
}

func TestTruncatedGzip(t *testing.T) {
	data := testFile(t, "lo.pcap.gz")
	src, err := OpenReader("cut.gz", bytes.NewReader(data[:len(data)/2]))
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, src)
	var fe *FileError
	if !errors.As(err, &fe) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err %v, want *FileError wrapping io.ErrUnexpectedEOF", err)
	}
	t.Logf("%d packets, then %v", len(got), err)
}

func TestSnaplenCap(t *testing.T) {
	data := bytes.Clone(testFile(t, "lo.pcap"))
	binary.LittleEndian.PutUint32(data[24+8:], MaxSnaplen+1)
	src, err := OpenReader("huge", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Next()
	want := "capture: huge: offset 24: record claims 262145 captured bytes (more than 262144): corrupt file"
	if err == nil || err.Error() != want {
		t.Fatalf("err %v, want %s", err, want)
	}
}

// repeatPcap returns a pcap of lo.pcap's records repeated to about size bytes.
func repeatPcap(t testing.TB, file string, size int) []byte {
	data := testFile(t, file)
	out := bytes.Clone(data)
	for len(out) < size {
		out = append(out, data[24:]...)
	}
	return out
}

func TestPcapNextAllocs(t *testing.T) {
	for _, file := range []string{"lo.pcap", "lo.pcapng"} {
		var data []byte
		if file == "lo.pcap" {
			data = repeatPcap(t, file, 32<<20)
		} else {
			data = repeatPcapng(t, file, 32<<20)
		}
		src, err := OpenReader(file, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		// Warm up past the buffer growth.
		for i := 0; i < 20000; i++ {
			if _, err := src.Next(); err != nil {
				t.Fatal(err)
			}
		}
		allocs := testing.AllocsPerRun(5000, func() {
			if _, err := src.Next(); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: Next allocates %v times per packet", file, allocs)
		}
	}
}

// repeatPcapng repeats the packet blocks after the first SHB and IDB.
func repeatPcapng(t testing.TB, file string, size int) []byte {
	data := testFile(t, file)
	starts := recordStarts(data)
	body := data[starts[2]:]
	out := bytes.Clone(data)
	for len(out) < size {
		out = append(out, body...)
	}
	return out
}

func BenchmarkReader(b *testing.B) {
	for _, bc := range []struct {
		name string
		data func(testing.TB) []byte
	}{
		{"pcap", func(tb testing.TB) []byte { return repeatPcap(tb, "lo.pcap", 64<<20) }},
		{"pcapng", func(tb testing.TB) []byte { return repeatPcapng(tb, "lo.pcapng", 64<<20) }},
		{"pcap.gz", func(tb testing.TB) []byte { return gzipBytes(repeatPcap(tb, "lo.pcap", 64<<20)) }}, // MB/s of compressed input
	} {
		b.Run(bc.name, func(b *testing.B) {
			data := bc.data(b)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				src, err := OpenReader(bc.name, bytes.NewReader(data))
				if err != nil {
					b.Fatal(err)
				}
				for {
					_, err := src.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkReaderFile reads a 256 MiB pcap from a real file through
// OpenFiles (page cache), and with pcapgo for comparison.
func BenchmarkReaderFile(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big.pcap")
	data := repeatPcap(b, "lo.pcap", 256<<20)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		opts FileOptions
	}{{"capture", FileOptions{}}, {"capture-read", FileOptions{NoMap: true}}} {
		// capture: the file mapped (the default); capture-read: read(2).
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				src, err := OpenFilesWith([]string{path}, bc.opts)
				if err != nil {
					b.Fatal(err)
				}
				for {
					if _, err := src.Next(); err != nil {
						if err != io.EOF {
							b.Fatal(err)
						}
						break
					}
				}
				src.Close()
			}
		})
	}
	b.Run("capture+decode", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		var d Decoded
		for b.Loop() {
			src, err := OpenFiles([]string{path})
			if err != nil {
				b.Fatal(err)
			}
			for {
				p, err := src.Next()
				if err != nil {
					if err != io.EOF {
						b.Fatal(err)
					}
					break
				}
				if DecodePacket(p.Link, p.Data, &d) != SkipNone {
					b.Fatal("skipped")
				}
			}
			src.Close()
		}
	})
	b.Run("pcapgo", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			r, err := pcapgo.NewReader(bufioReader(f))
			if err != nil {
				b.Fatal(err)
			}
			for {
				if _, _, err := r.ZeroCopyReadPacketData(); err != nil {
					break
				}
			}
			f.Close()
		}
	})
}

// TestStatsConcurrent reads Stats from another goroutine while reading (run
// with -race).
func TestStatsConcurrent(t *testing.T) {
	src, err := OpenReader("lo.pcap", bytes.NewReader(repeatPcap(t, "lo.pcap", 4<<20)))
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan uint64)
	go func() {
		var last uint64
		for {
			select {
			case <-stop:
				done <- last
				return
			default:
			}
			st := src.Stats()
			if st.Packets < last {
				t.Error("packet count went back")
			}
			last = st.Packets
		}
	}()
	got, err := readAll(t, src)
	close(stop)
	<-done
	if err != nil || src.Stats().Packets != uint64(len(got)) {
		t.Fatalf("%v, stats %+v, %d packets", err, src.Stats(), len(got))
	}
}
