package tlsparse

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDbgFile(t *testing.T) {
	f := os.Getenv("DBGFILE")
	if f == "" {
		t.Skip()
	}
	pkts, err := readCapture(filepath.Join(corpusDir, f))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range tcpFlows(pkts) {
		st := findTLSStart(d.data)
		t.Logf("%v>%v len=%d start=%d head=%q", d.key.src, d.key.dst, len(d.data), st, d.data[:min(len(d.data), 24)])
		for _, h := range clientHellos(d.data) {
			var ch ClientHello
			err := ParseClientHello(h, &ch)
			t.Logf("  hello len=%d err=%v alpn=%q ja4=%s", len(h), err, ch.ALPN, ch.JA4(nil))
		}
		if st >= 0 {
			var rec recorder
			var s Stream
			err := s.Feed(d.data[st:], &rec)
			t.Logf("  stream err=%v log=%.600s", err, rec.log.String())
		}
	}
}

func TestDbgR(t *testing.T) {
	f := os.Getenv("DBGFILE")
	if f == "" {
		t.Skip()
	}
	pkts, _ := readCapture(filepath.Join(corpusDir, f))
	for _, d := range tcpFlows(pkts) {
		for _, h := range clientHellos(d.data) {
			var ch ClientHello
			err := ParseClientHello(h, &ch)
			t.Logf("%v err=%v r=%s ro=%s exts=%v sig=%v", d.key.src, err, ch.JA4R(nil), ch.JA4RO(nil), ch.Extensions, ch.SignatureAlgorithms)
			t.Logf("%x", h)
		}
	}
}
