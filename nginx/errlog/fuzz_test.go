package errlog

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"testing/iotest"
	"time"
)

// seedLines adds every line of the real nginx fixtures to f.
func seedLines(f *testing.F) [][]byte {
	var lines [][]byte
	logs, _ := filepath.Glob("testdata/*.log")
	for _, name := range logs {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			lines = append(lines, append([]byte(nil), sc.Bytes()...))
		}
	}
	return lines
}

func FuzzParse(f *testing.F) {
	for _, l := range seedLines(f) {
		f.Add(l)
	}
	f.Add([]byte(`2026/11/26 10:00:00 [error] 1#1: *2 upstream SSL certificate does not match "a" while SSL handshaking to upstream, client: 1.2.3.4, server: s, upstream: "https://[::1]:1/"`))
	f.Add([]byte(`2026/11/26 10:00:00 [error] 1#1: *2 SSL_read() failed (1: x) (SSL: error:14094410:a:b:c:SSL alert number 999)`))
	f.Fuzz(func(t *testing.T, line []byte) {
		in := append([]byte(nil), line...)
		e, err := Parse(line, time.UTC)
		if !bytes.Equal(in, line) {
			t.Fatal("Parse modified its input")
		}
		e2, err2 := Parse(line, time.UTC)
		if (err == nil) != (err2 == nil) || !reflect.DeepEqual(e, e2) {
			t.Fatal("Parse is not deterministic")
		}
		if err != nil {
			if e.Raw != "" {
				t.Fatal("Raw set on error")
			}
			return
		}
		if e.Raw != string(line) {
			t.Fatal("Raw differs from the line")
		}
		if int(e.Kind) >= len(kindNames) || e.Level == LevelUnknown {
			t.Fatalf("kind %v level %v", e.Kind, e.Level)
		}
		if e.Kind == KindAlert && !e.HasAlert {
			t.Fatal("KindAlert without an alert")
		}
		if e.UpstreamAddr.IsValid() && e.Upstream == "" {
			t.Fatal("an address without an upstream field")
		}
		if e.Time.IsZero() {
			t.Fatal("no time")
		}
	})
}

// FuzzScanner feeds arbitrary bytes in arbitrary chunks: the counts add up,
// no entry is longer than the cap, and the chunking changes nothing.
func FuzzScanner(f *testing.F) {
	var all []byte
	for _, l := range seedLines(f) {
		all = append(append(all, l...), '\n')
	}
	f.Add(all, uint8(7), uint16(300))
	f.Add([]byte("a\r\nb\n\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\nlast"), uint8(1), uint16(8))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8, max uint16) {
		maxLine := int(max%4096) + 1
		read := func(r func([]byte) *Scanner) ([]Entry, Stats) {
			sc := r(data)
			var es []Entry
			for sc.Scan() {
				es = append(es, sc.Entry())
			}
			if sc.Err() != nil {
				t.Fatal(sc.Err())
			}
			return es, sc.Stats()
		}
		whole, ws := read(func(b []byte) *Scanner { return NewScanner(bytes.NewReader(b), "f", nil, maxLine) })
		chunked, cs := read(func(b []byte) *Scanner {
			var r = iotest.OneByteReader(bytes.NewReader(b))
			if chunk > 1 {
				r = &chunkReader{b: b, n: int(chunk)}
			}
			return NewScanner(r, "f", nil, maxLine)
		})
		if ws != cs || !reflect.DeepEqual(whole, chunked) {
			t.Fatalf("chunking changed the result: %+v vs %+v", ws, cs)
		}
		lines := int64(bytes.Count(data, []byte("\n")))
		if len(data) > 0 && data[len(data)-1] != '\n' {
			lines++
		}
		if ws.Lines != lines || ws.Entries+ws.NotTLS+ws.Malformed+ws.TooLong != ws.Lines || int64(len(whole)) != ws.Entries {
			t.Fatalf("counts %+v for %d lines, %d entries", ws, lines, len(whole))
		}
		for _, e := range whole {
			if len(e.Raw) > maxLine {
				t.Fatalf("entry of %d bytes past the cap %d", len(e.Raw), maxLine)
			}
		}
	})
}

type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := min(c.n, len(c.b), len(p))
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}
