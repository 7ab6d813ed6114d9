package main

// Broken-file tests (issue 8): samples truncated at every byte offset,
// empty and foreign files, wrong magic numbers, pcapng with unknown and
// corrupt blocks. They call run() in-process: a Go panic fails the test.

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runFile runs hellowatch on one file with JSON output and no summary.
func runFile(t *testing.T, path string, extra ...string) (code int, stdout, stderr string) {
	t.Helper()
	var so, se bytes.Buffer
	args := append([]string{"-r", path, "--format", "json", "--summary", "never", "--log-level", "error"}, extra...)
	code = run(args, &so, &se)
	return code, so.String(), se.String()
}

// recordEnds returns the offsets at which the file's records (pcap: the
// file header, then each packet record; pcapng: each block) end.
func recordEnds(t *testing.T, data []byte) []int {
	t.Helper()
	var ends []int
	if bytes.HasPrefix(data, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		var bo binary.ByteOrder = binary.LittleEndian
		for off := 0; off < len(data); {
			if binary.LittleEndian.Uint32(data[off:]) == 0x0a0d0d0a {
				if binary.LittleEndian.Uint32(data[off+8:]) == 0x1a2b3c4d {
					bo = binary.LittleEndian
				} else {
					bo = binary.BigEndian
				}
			}
			off += int(bo.Uint32(data[off+4:]))
			ends = append(ends, off)
		}
	} else {
		bo := binary.ByteOrder(binary.LittleEndian)
		if binary.BigEndian.Uint32(data) == 0xa1b2c3d4 || binary.BigEndian.Uint32(data) == 0xa1b23c4d {
			bo = binary.BigEndian
		}
		ends = append(ends, 24)
		for off := 24; off < len(data); {
			off += 16 + int(bo.Uint32(data[off+8:]))
			ends = append(ends, off)
		}
	}
	if ends[len(ends)-1] != len(data) {
		t.Fatalf("records end at %d, file has %d bytes", ends[len(ends)-1], len(data))
	}
	return ends
}

// TestTruncatedAtEveryOffset cuts samples at every byte offset. A cut on a
// record boundary is a shorter valid file (exit 0); any other cut exits 1
// naming the file and the offset of the cut record. In both cases the
// records printed are exactly those of the file cut at the last whole
// record: every complete packet is processed, nothing is invented.
func TestTruncatedAtEveryOffset(t *testing.T) {
	for _, name := range []string{"incident-missing-sni.pcap", "pcapng-mixed.pcapng", "no-sni-rst.pcap"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("..", "..", "samples", name))
			if err != nil {
				t.Fatal(err)
			}
			ends := recordEnds(t, data)
			dir := t.TempDir()
			// want[e] is the output for the file cut at record end e.
			want := map[int]string{}
			for _, e := range ends {
				p := filepath.Join(dir, fmt.Sprintf("prefix-%d", e))
				if err := os.WriteFile(p, data[:e], 0o644); err != nil {
					t.Fatal(err)
				}
				code, out, errs := runFile(t, p)
				if code != exitOK {
					t.Fatalf("prefix of %d bytes (a record boundary): exit %d: %s", e, code, errs)
				}
				want[e] = out
			}
			full := strings.Count(want[len(data)], "\n")
			if full == 0 {
				t.Fatal("the whole sample reports no handshake")
			}
			cut := filepath.Join(dir, "cut-"+name)
			tally := map[string]int{}
			for k := 0; k <= len(data); k++ {
				if err := os.WriteFile(cut, data[:k], 0o644); err != nil {
					t.Fatal(err)
				}
				code, out, errs := runFile(t, cut)
				// The last record boundary at or before k, and the start of
				// the record the cut falls in.
				last, start := 0, 0
				for _, e := range ends {
					if e <= k {
						last = e
					}
				}
				start = last
				switch {
				case k == 0:
					if code != exitError || !strings.Contains(errs, cut+": offset 0: empty file") {
						t.Fatalf("empty: exit %d, stderr %q", code, errs)
					}
					tally["empty file: exit 1"]++
				case k < ends[0] && !bytes.HasPrefix(data, []byte{0x0a, 0x0d, 0x0d, 0x0a}) && k < 4:
					if code != exitError || !strings.Contains(errs, cut+": offset 0:") {
						t.Fatalf("cut at %d: exit %d, stderr %q", k, code, errs)
					}
					tally["shorter than a magic number: exit 1"]++
				case k == last:
					if code != exitOK || out != want[last] {
						t.Fatalf("cut at record boundary %d: exit %d, stderr %q\ngot  %q\nwant %q", k, code, errs, out, want[last])
					}
					tally["record boundary: exit 0, same records as that prefix"]++
				default:
					msg := fmt.Sprintf("%s: offset %d: ", cut, start)
					if code != exitError || !strings.Contains(errs, msg) || strings.Count(errs, "\n") > 2 {
						t.Fatalf("cut at %d: exit %d, want 1 and %q in stderr:\n%s", k, code, msg, errs)
					}
					if out != want[last] {
						t.Fatalf("cut at %d: records differ from the prefix of %d bytes\ngot  %q\nwant %q", k, last, out, want[last])
					}
					tally["mid-record: exit 1, error names file and record offset, records of the whole records"]++
				}
			}
			t.Logf("%s: %d bytes, %d records (%d handshakes in the whole file), %d cuts: %v", name, len(data), len(ends), full, len(data)+1, tally)
		})
	}
}

// TestBrokenFiles covers files that are not captures, wrong magic numbers,
// pcapng with unknown blocks (skipped: same records) and corrupt blocks
// (packets before them processed, then exit 1 naming file and offset).
func TestBrokenFiles(t *testing.T) {
	dir := t.TempDir()
	sample := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "..", "samples", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	pcap := sample("incident-missing-sni.pcap")
	ng := sample("pcapng-mixed.pcapng")
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	_, wantPcap, _ := runFile(t, write("orig.pcap", pcap))
	_, wantNg, _ := runFile(t, write("orig.pcapng", ng))
	ngEnds := recordEnds(t, ng)

	// Insert blocks after the third block (SHB, IDB, first packet...).
	at := ngEnds[2]
	bo := binary.LittleEndian
	if binary.LittleEndian.Uint32(ng[8:]) != 0x1a2b3c4d {
		t.Fatal("sample pcapng is not little-endian")
	}
	block := func(typ uint32, body []byte, trail uint32) []byte {
		n := uint32(12 + len(body))
		b := bo.AppendUint32(nil, typ)
		b = bo.AppendUint32(b, n)
		b = append(b, body...)
		return bo.AppendUint32(b, trail)
	}
	insert := func(b []byte) []byte {
		return append(append(append([]byte(nil), ng[:at]...), b...), ng[at:]...)
	}
	var prefixOut string
	{
		_, prefixOut, _ = runFile(t, write("prefix.pcapng", ng[:at]))
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(pcap)
	zw.Close()

	cases := []struct {
		name    string
		data    []byte
		code    int
		errHas  string // besides "capture: <file>: offset "
		offset  int
		wantOut string
	}{
		{"empty", nil, exitError, "empty file", 0, ""},
		{"not-a-capture.txt", []byte("hellowatch watches TLS handshakes passively\n"), exitError, "not a pcap or pcapng file", 0, ""},
		{"elf-binary", append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 64)...), exitError, "not a pcap or pcapng file", 0, ""},
		{"wrong-magic.pcap", append([]byte{0xd5, 0xc3, 0xb2, 0xa1}, pcap[4:]...), exitError, "not a pcap or pcapng file", 0, ""},
		{"pcapng-bad-bom", append(append(append([]byte(nil), ng[:8]...), 0xde, 0xad, 0xbe, 0xef), ng[12:]...), exitError, "bad byte-order magic", 0, ""},
		{"pcapng-unknown-blocks", insert(append(block(0x0bad, []byte("unknown!"), 20), block(0x80000001, make([]byte, 4096), 4108)...)), exitOK, "", 0, wantNg},
		{"pcapng-custom-block-huge", insert(block(0x00000BAD, make([]byte, 1<<20), 12+1<<20)), exitOK, "", 0, wantNg},
		{"pcapng-corrupt-trailer", insert(block(0x0bad, []byte("corrupt!"), 99)), exitError, "trailing length 99 != 20", at, prefixOut},
		{"pcapng-length-not-multiple-of-4", insert(append(bo.AppendUint32(bo.AppendUint32(nil, 6), 13), make([]byte, 16)...)), exitError, "bad block length 13", at, prefixOut},
		{"pcapng-epb-overrun", insert(block(6, append(make([]byte, 12), 0xff, 0xff, 0, 0, 0xff, 0xff, 0, 0), 32)), exitError, "overruns its block", at, prefixOut},
		{"pcapng-epb-bad-interface", insert(block(6, append(bo.AppendUint32(nil, 77), make([]byte, 16)...), 32)), exitError, "interface 77", at, prefixOut},
		{"pcap-caplen-huge", append(append(append([]byte(nil), pcap[:24]...), 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0), pcap[24:]...), exitError, "corrupt file", 24, ""},
		{"gzip-truncated.pcap.gz", gz.Bytes()[:gz.Len()/2], exitError, "unexpected EOF", -1, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := write(c.name, c.data)
			code, out, errs := runFile(t, p)
			if code != c.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, c.code, errs)
			}
			if c.code == exitError {
				prefix := "capture: " + p + ": offset "
				if c.offset >= 0 {
					prefix += fmt.Sprint(c.offset) + ": "
				}
				if !strings.Contains(errs, prefix) || !strings.Contains(errs, c.errHas) {
					t.Fatalf("stderr %q lacks %q and %q", errs, prefix, c.errHas)
				}
			}
			if c.offset >= 0 && out != c.wantOut {
				t.Fatalf("records:\ngot  %q\nwant %q", out, c.wantOut)
			}
			if c.name == "gzip-truncated.pcap.gz" && !strings.HasPrefix(wantPcap, out) {
				t.Fatalf("records of a truncated gzip are not a prefix of the whole file's:\n%q", out)
			}
		})
	}
}
