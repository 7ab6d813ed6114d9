package tlsparse

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// sslv2Trace is a real SSL 2.0 connection (Zeek's test trace): an SSLv2
// CLIENT-HELLO answered by an SSLv2 SERVER-HELLO, then CLIENT-MASTER-KEY
// and encrypted records both ways.
var sslv2Trace = filepath.Join(corpusDir, "zeek", "testing", "btest", "Traces", "tls", "ssl-v2.pcap")

// sslv2Streams returns the client's and the server's bytes of the trace.
func sslv2Streams(tb testing.TB) (client, server []byte) {
	tb.Helper()
	client, server = sslv2StreamsOK()
	if client == nil || server == nil {
		tb.Skipf("corpus trace %s not available or without both SSLv2 directions", sslv2Trace)
	}
	return client, server
}

func TestStreamSSLv2ServerHello(t *testing.T) {
	_, server := sslv2Streams(t)
	log := checkChunking(t, server)
	lines := strings.Split(strings.TrimSuffix(log, "\n"), "\n")
	// SERVER-HELLO (948 bytes after its 2-byte header), then SERVER-VERIFY,
	// SERVER-FINISHED and one data record, all encrypted.
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "4 0400010002038700120010") {
		t.Fatalf("log = %.300q", log)
	}
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l, "D ") || !strings.HasSuffix(l, " true") {
			t.Fatalf("SSLv2 record after the SERVER-HELLO: %q", l)
		}
	}
	var s Stream
	var r recorder
	if err := s.Feed(server, &r); err != nil || len(r.sslv2) != 948 {
		t.Fatalf("err %v, body %d bytes", err, len(r.sslv2))
	}
}

// TestStreamSSLv2Client: after SetSSLv2 the client's CLIENT-MASTER-KEY and
// encrypted records are SSLv2 records, in any chunking.
func TestStreamSSLv2Client(t *testing.T) {
	client, _ := sslv2Streams(t)
	n := 2 + (int(client[0]&0x7f)<<8 | int(client[1]))
	hello, rest := client[:n], client[n:]
	feed := func(chunk int) string {
		var s Stream
		var r recorder
		if err := s.Feed(hello, &r); err != nil {
			t.Fatal(err)
		}
		s.SetSSLv2()
		for b := rest; len(b) > 0; {
			k := min(chunk, len(b))
			if err := s.Feed(b[:k], &r); err != nil {
				t.Fatalf("chunk %d: %v", chunk, err)
			}
			b = b[k:]
		}
		return r.log.String()
	}
	whole := feed(len(rest))
	for _, c := range []int{1, 2, 3, 7, 100} {
		if got := feed(c); got != whole {
			t.Fatalf("chunks of %d:\n%s\nwhole:\n%s", c, got, whole)
		}
	}
	lines := strings.Split(strings.TrimSuffix(whole, "\n"), "\n")
	// CLIENT-HELLO, CLIENT-MASTER-KEY (274 bytes), CLIENT-FINISHED, three data records.
	if len(lines) != 6 || !strings.HasPrefix(lines[0], "2 ") || lines[1] != "D 274 true" {
		t.Fatalf("log = %.400q", whole)
	}
	// Without SetSSLv2 the same bytes are not TLS records.
	var s Stream
	var r recorder
	if err := s.Feed(client, &r); err == nil {
		t.Fatalf("SSLv2 records read as TLS: %q", r.log.String())
	}
}

func TestParseSSLv2ServerHello(t *testing.T) {
	_, server := sslv2Streams(t)
	body := server[2 : 2+(int(server[0]&0x7f)<<8|int(server[1]))]
	var h SSLv2ServerHello
	if err := ParseSSLv2ServerHello(body, &h); err != nil {
		t.Fatal(err)
	}
	if h.SessionIDHit || h.CertificateType != 1 || h.Version != VersionSSL20 || len(h.Certificate) != 903 ||
		h.NumCipherSpecs() != 6 || len(h.ConnectionID) != 16 || h.Certificate[0] != 0x30 {
		t.Fatalf("%+v", h)
	}
	// SSL_CK_DES_192_EDE3_CBC_WITH_MD5 is the first spec the server offers.
	if h.CipherSpec(0) != 0x0700c0 {
		t.Fatalf("first spec %06x", h.CipherSpec(0))
	}
	if !bytes.Equal(h.ConnectionID, body[len(body)-16:]) {
		t.Fatal("connection id is not the last 16 bytes")
	}
	for i := range body {
		if err := ParseSSLv2ServerHello(body[:i], &h); !errors.Is(err, ErrIncomplete) {
			t.Fatalf("prefix %d: %v", i, err)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = ParseSSLv2ServerHello(body, &h) }); n != 0 {
		t.Fatalf("ParseSSLv2ServerHello allocates %v times", n)
	}
	for _, tc := range []struct {
		name  string
		mod   func(b []byte) []byte
		field string
	}{
		{"client hello type", func(b []byte) []byte { b[0] = 1; return b }, "sslv2 msg_type"},
		{"cipher specs not 3n", func(b []byte) []byte { b[8]--; return b }, "sslv2 cipher_specs"},
		{"connection id too short", func(b []byte) []byte { b[10] = 15; return b }, "sslv2 connection_id"},
		{"connection id too long", func(b []byte) []byte { b[10] = 33; return b }, "sslv2 connection_id"},
		{"trailing byte", func(b []byte) []byte { return append(b, 0) }, "sslv2 server_hello"},
		{"certificate shorter than said", func(b []byte) []byte { b[6]--; return b }, "sslv2 server_hello"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.mod(bytes.Clone(body))
			var pe *ParseError
			if err := ParseSSLv2ServerHello(b, &h); !errors.As(err, &pe) || pe.Field != tc.field {
				t.Fatalf("err %v, want a ParseError on %s", err, tc.field)
			}
		})
	}
}

// TestStreamSSLv2ServerHelloNotTLS: bytes that only start like a
// SERVER-HELLO are not TLS once a byte does not fit.
func TestStreamSSLv2ServerHelloNotTLS(t *testing.T) {
	for _, b := range [][]byte{
		{0x80, 0x10, 4, 0, 1}, // too short for the fixed fields and a connection id
		{0x83, 0xb4, 4, 2, 1}, // session-id-hit not 0 or 1
		{0x83, 0xb4, 4, 0, 2}, // certificate type not X.509
		{0x83, 0xb4, 5, 0, 1}, // not a SERVER-HELLO
		{0x03, 0xb4, 4, 0, 1}, // no high bit: not an SSLv2 hello header
		{0x83, 0xb4, 4, 0, 1}, // fits: waits for more
	} {
		b = append(b, bytes.Repeat([]byte{'x'}, NotTLSPrefixLen)...)
		log := checkChunking(t, b)
		fits := b[0] == 0x83 && b[2] == 4 && b[3] <= 1 && b[4] <= 1
		if strings.HasPrefix(log, "N ") == fits {
			t.Errorf("% x: log %q", b[:5], log)
		}
	}
}

func FuzzSSLv2ServerHello(f *testing.F) {
	if _, server := sslv2StreamsOK(); server != nil {
		f.Add(server[2 : 2+(int(server[0]&0x7f)<<8|int(server[1]))])
	}
	f.Add(append([]byte{4, 1, 0, 0, 2, 0, 0, 0, 0, 0, 16}, make([]byte, 16)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h SSLv2ServerHello
		err := ParseSSLv2ServerHello(b, &h)
		if !typedErr(err) {
			t.Fatalf("untyped error %v", err)
		}
		if err == nil {
			if 11+len(h.Certificate)+len(h.CipherSpecs)+len(h.ConnectionID) != len(b) {
				t.Fatal("fields do not add up to the body")
			}
			for i := 0; i < len(b); i++ {
				if e := ParseSSLv2ServerHello(b[:i], &h); !errors.Is(e, ErrIncomplete) {
					t.Fatalf("strict prefix %d: %v", i, e)
				}
			}
		}
	})
}

// sslv2StreamsOK is sslv2Streams for seeding fuzz targets: nil when the
// corpus is not there.
func sslv2StreamsOK() (client, server []byte) {
	pkts, err := readCapture(sslv2Trace)
	if err != nil {
		return nil, nil
	}
	for _, d := range tcpFlows(pkts) {
		switch {
		case len(d.data) > 2 && d.data[0] == 0x80 && d.data[2] == 1:
			client = d.data
		case len(d.data) > 2 && d.data[0]&0x80 != 0 && d.data[2] == 4:
			server = d.data
		}
	}
	return client, server
}
