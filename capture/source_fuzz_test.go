package capture

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// fuzzRead reads every packet of data, checking the Source's invariants.
func fuzzRead(t *testing.T, r io.Reader) ([]gotPacket, string) {
	src, err := OpenReader("fuzz", r)
	return fuzzReadSource(t, src, err)
}

// fuzzReadFile reads data from a file, mapped (with one-page regions).
func fuzzReadFile(t *testing.T, data []byte) ([]gotPacket, string) {
	name := filepath.Join(t.TempDir(), "fuzz")
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	old := mapRegion
	mapRegion = os.Getpagesize()
	defer func() { mapRegion = old }()
	src, err := OpenFiles([]string{name})
	got, msg := fuzzReadSource(t, src, err)
	return got, strings.ReplaceAll(msg, name, "fuzz")
}

func fuzzReadSource(t *testing.T, src Source, err error) ([]gotPacket, string) {
	if err != nil {
		var fe *FileError
		if !errors.As(err, &fe) {
			t.Fatalf("open: %v is not a *FileError", err)
		}
		return nil, "open: " + err.Error()
	}
	defer src.Close()
	var out []gotPacket
	for {
		p, err := src.Next()
		if err == io.EOF {
			return out, ""
		}
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("next: %v is not a *FileError", err)
			}
			return out, err.Error()
		}
		if p.CapLen != len(p.Data) || p.CapLen > ngMaxParsedBlock || p.Index != uint64(len(out)+1) {
			t.Fatalf("bad packet: caplen %d, len(data) %d, index %d after %d", p.CapLen, len(p.Data), p.Index, len(out))
		}
		out = append(out, gotPacket{bytes.Clone(p.Data), p.TS, p.CapLen, p.Len, p.Link, p.Index})
	}
}

// fuzzReaders checks that reading data whole and one byte at a time (which
// exercises every refill path of the buffer) give the same packets and the
// same error.
func fuzzReaders(t *testing.T, data []byte) {
	whole, err1 := fuzzRead(t, bytes.NewReader(data))
	bytewise, err2 := fuzzRead(t, iotest.OneByteReader(bytes.NewReader(data)))
	if err1 != err2 {
		t.Fatalf("whole: %q, byte by byte: %q", err1, err2)
	}
	comparePackets(t, bytewise, whole)
	mapped, err3 := fuzzReadFile(t, data)
	if err3 != err1 && !(len(data) == 0 && strings.Contains(err3, "empty file")) {
		t.Fatalf("io.Reader: %q, mapped file: %q", err1, err3)
	}
	comparePackets(t, mapped, whole)
}

func FuzzPcapReader(f *testing.F) {
	for _, name := range []string{"lo.pcap", "lo_nano.pcap", "lo_snap96.pcap", "any_sll.pcap", "any_sll2.pcap"} {
		data := testFile(f, name)
		f.Add(data)
		f.Add(bigEndianPcap(f, data))
	}
	f.Add(testFile(f, "lo.pcap.gz"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzReaders(t, data) })
}

func FuzzPcapngReader(f *testing.F) {
	for _, name := range []string{"lo.pcapng", "two_links.pcapng"} {
		data := testFile(f, name)
		f.Add(data)
		f.Add(bigEndianPcapng(f, data))
	}
	pkt := make([]byte, 40)
	w := &ngBuilder{bo: bigEndian()}
	w.shb().idb(LinkEthernet, 0x80|30, 7).block(0xBAD, []byte("x")).epb(0, 1<<40, pkt, 60).pb(0, 3, pkt[:9]).spb(pkt, 40)
	f.Add(w.bytes())
	f.Fuzz(func(t *testing.T, data []byte) { fuzzReaders(t, data) })
}
