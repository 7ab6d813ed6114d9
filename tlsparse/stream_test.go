package tlsparse

import (
	"crypto/tls"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// feedChunks feeds b in chunks of the sizes produced by next and returns the
// event log and the final error.
func feedChunks(b []byte, next func() int) (string, *recorder, error) {
	var s Stream
	var r recorder
	var err error
	for len(b) > 0 {
		n := min(next(), len(b))
		err = s.Feed(b[:n], &r)
		b = b[n:]
	}
	if err == nil {
		err = s.Close(&r)
	}
	return r.log.String(), &r, err
}

// checkChunking asserts that whole, one-byte and random chunked feeding give
// the same events and error.
func checkChunking(t *testing.T, b []byte) string {
	t.Helper()
	whole, _, werr := feedChunks(b, func() int { return len(b) })
	one, _, oerr := feedChunks(b, func() int { return 1 })
	if whole != one || !sameErr(werr, oerr) {
		t.Fatalf("one-byte feeding differs:\nwhole (%v):\n%.2000s\none (%v):\n%.2000s", werr, whole, oerr, one)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20; i++ {
		got, _, err := feedChunks(b, func() int { return 1 + rng.IntN(700) })
		if got != whole || !sameErr(err, werr) {
			t.Fatalf("random chunking differs:\nwhole:\n%.2000s\ngot:\n%.2000s", whole, got)
		}
	}
	return whole
}

func sameErr(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}

func TestStreamTranscripts(t *testing.T) {
	tests := []struct {
		name       string
		ccfg, scfg *tls.Config
		// wantClient and wantServer are substrings of the event logs.
		wantClient, wantServer []string
	}{
		{
			name:       "tls13",
			ccfg:       &tls.Config{ServerName: "test.example", InsecureSkipVerify: true, NextProtos: []string{"h2"}},
			scfg:       &tls.Config{NextProtos: []string{"h2"}},
			wantClient: []string{"H client_hello", "D "},
			wantServer: []string{"H server_hello", "D "},
		},
		{
			name:       "tls12",
			ccfg:       &tls.Config{ServerName: "test.example", InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12},
			scfg:       &tls.Config{},
			wantClient: []string{"H client_hello", "H client_key_exchange", "C\n", "D 40 true"},
			wantServer: []string{"H server_hello", "H certificate", "H server_key_exchange", "H server_hello_done", "C\n", "D "},
		},
		{
			name:       "tls13-hrr",
			ccfg:       &tls.Config{ServerName: "test.example", InsecureSkipVerify: true, CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256}},
			scfg:       &tls.Config{CurvePreferences: []tls.CurveID{tls.CurveP256}},
			wantClient: []string{"H client_hello", "C\n"},
			wantServer: []string{"H server_hello", "D "},
		},
		{
			name:       "tls10",
			ccfg:       &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS10, MinVersion: tls.VersionTLS10, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}},
			scfg:       &tls.Config{MinVersion: tls.VersionTLS10, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}},
			wantClient: []string{"H client_hello", "C\n"},
			wantServer: []string{"H server_hello", "C\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, s := transcript(t, tt.ccfg, tt.scfg)
			clog := checkChunking(t, c)
			slog := checkChunking(t, s)
			for _, w := range tt.wantClient {
				if !strings.Contains(clog, w) {
					t.Errorf("client log lacks %q:\n%s", w, clog)
				}
			}
			for _, w := range tt.wantServer {
				if !strings.Contains(slog, w) {
					t.Errorf("server log lacks %q:\n%s", w, slog)
				}
			}
			// No handshake message may be reported after encryption except
			// the plaintext second ClientHello / ServerHello around an HRR.
			for _, l := range strings.Split(slog, "\n") {
				if strings.HasPrefix(l, "H ") && !strings.HasPrefix(l, "H server_hello") &&
					!strings.HasPrefix(l, "H certificate") && !strings.HasPrefix(l, "H server_key_exchange") &&
					!strings.HasPrefix(l, "H server_hello_done") {
					t.Errorf("unexpected plaintext message in server log: %.80s", l)
				}
			}
			if tt.name == "tls13-hrr" {
				if n := strings.Count(clog, "H client_hello"); n != 2 {
					t.Errorf("want 2 client hellos around the HRR, got %d:\n%s", n, clog)
				}
				if n := strings.Count(slog, "H server_hello"); n != 2 {
					t.Errorf("want HRR and server hello, got %d:\n%s", n, slog)
				}
			}
		})
	}
}

func TestStreamTLS12CertificateSummary(t *testing.T) {
	_, s := transcript(t, &tls.Config{ServerName: "test.example", InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12}, &tls.Config{})
	var st Stream
	var r recorder
	if err := st.Feed(s, &r); err != nil {
		t.Fatal(err)
	}
	for _, h := range r.hs {
		if h.typ != HandshakeCertificate {
			continue
		}
		var cs CertificateSummary
		if err := ParseCertificate(h.body, &cs); err != nil {
			t.Fatal(err)
		}
		if cs.ParseError != nil || cs.Subject != "CN=test.example" || cs.ChainLen != 1 || len(cs.SANs) != 2 || cs.NotAfter.Year() != 2035 {
			t.Fatalf("summary = %+v", cs)
		}
		return
	}
	t.Fatal("no certificate message")
}

func TestStreamErrors(t *testing.T) {
	hello := []byte{22, 3, 1, 0, 4, 1, 0, 0, 0}
	tests := []struct {
		name    string
		in      []byte
		wantErr error
		wantLog string
	}{
		{"http", []byte("HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: 150\r\n\r\n"), ErrNotTLS, "N \"HTTP/1.1 400 Bad Request\\r\\nServer: nginx\\r\\nContent-Type: text/html\"\n"},
		{"short-not-tls", []byte("SSH-2.0\r\n"), ErrNotTLS, "N \"SSH-2.0\\r\\n\"\n"},
		{"bad-version", []byte{22, 4, 1, 0, 1}, ErrNotTLS, "N \"\\x16\\x04\\x01\\x00\\x01\"\n"},
		{"record-too-long", []byte{23, 3, 3, 0x48, 0x01}, ErrRecordTooLong, ""},
		{"record-max-ok", append([]byte{23, 3, 3, 0x48, 0x00}, make([]byte, 18432)...), nil, "R application_data TLS 1.2 18432\nD 18432 false\n"},
		{"handshake-too-long", []byte{22, 3, 1, 0, 4, 1, 1, 0, 1}, ErrHandshakeTooLong, "R handshake TLS 1.0 4\n"},
		{"bad-second-header", append(append([]byte{}, hello...), 99, 3, 3, 0, 1), &ParseError{}, "R handshake TLS 1.0 4\nH client_hello \n"},
		{"alert", []byte{21, 3, 3, 0, 2, 2, 40}, nil, "R alert TLS 1.2 2\nA fatal handshake_failure\n"},
		{"two-alerts-fragmented", []byte{21, 3, 3, 0, 3, 1, 0, 2, 21, 3, 3, 0, 1, 112}, nil, "R alert TLS 1.2 3\nA warning close_notify\nR alert TLS 1.2 1\nA fatal unrecognized_name\n"},
		{"encrypted-alert", []byte{20, 3, 3, 0, 1, 1, 21, 3, 3, 0, 26, 0x17, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, nil, "R change_cipher_spec TLS 1.2 1\nC\nR alert TLS 1.2 26\nA encrypted\n"},
		{"two-messages-one-record", []byte{22, 3, 3, 0, 9, 14, 0, 0, 0, 20, 0, 0, 1, 7}, nil, "R handshake TLS 1.2 9\nH server_hello_done \nH finished 07\n"},
		{"message-across-records", []byte{22, 3, 3, 0, 3, 20, 0, 0, 22, 3, 3, 0, 3, 2, 7, 8}, nil, "R handshake TLS 1.2 3\nR handshake TLS 1.2 3\nH finished 0708\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, _, err := feedChunks(tt.in, func() int { return len(tt.in) })
			one, _, oerr := feedChunks(tt.in, func() int { return 1 })
			if log != one || !sameErr(err, oerr) {
				t.Fatalf("chunking differs: %q vs %q", log, one)
			}
			var pe *ParseError
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("err = %v", err)
			case tt.wantErr != nil && errors.As(tt.wantErr, &pe):
				if !errors.As(err, &pe) {
					t.Fatalf("err = %v, want *ParseError", err)
				}
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if log != tt.wantLog {
				t.Fatalf("log =\n%q\nwant\n%q", log, tt.wantLog)
			}
		})
	}
}

func TestStreamStickyError(t *testing.T) {
	var s Stream
	var r recorder
	err := s.Feed([]byte{23, 3, 3, 0xff, 0xff}, &r)
	if !errors.Is(err, ErrRecordTooLong) {
		t.Fatal(err)
	}
	before := r.log.String()
	if err2 := s.Feed([]byte{22, 3, 1, 0, 4, 1, 0, 0, 0}, &r); err2 != err {
		t.Fatalf("second Feed = %v", err2)
	}
	if r.log.String() != before {
		t.Fatal("events after error")
	}
	s.Reset()
	if err := s.Feed([]byte{22, 3, 1, 0, 4, 1, 0, 0, 0}, &r); err != nil {
		t.Fatal(err)
	}
}

func TestStreamSetEncrypted(t *testing.T) {
	var s Stream
	var r recorder
	s.Feed([]byte{22, 3, 1, 0, 4, 1, 0, 0, 0}, &r)
	s.SetEncrypted()
	if !s.Encrypted() {
		t.Fatal("not encrypted")
	}
	s.Feed([]byte{22, 3, 3, 0, 4, 20, 0, 0, 0, 21, 3, 3, 0, 3, 2, 40, 0}, &r)
	// A 2-byte alert cannot be ciphertext (OpenSSL's plaintext unknown_ca
	// after a TLS 1.3 ServerHello).
	s.Feed([]byte{21, 3, 3, 0, 2, 2, 48}, &r)
	want := "R handshake TLS 1.0 4\nH client_hello \nR handshake TLS 1.2 4\nD 4 true\nR alert TLS 1.2 3\nA encrypted\nR alert TLS 1.2 2\nA fatal unknown_ca\n"
	if r.log.String() != want {
		t.Fatalf("log = %q", r.log.String())
	}
}

func TestStreamSSLv2(t *testing.T) {
	body := []byte{1, 3, 1, 0, 6, 0, 0, 0, 16, 0, 0, 0x2f, 0x07, 0x00, 0xc0}
	body = append(body, make([]byte, 16)...)
	in := append([]byte{0x80, byte(len(body))}, body...)
	in = append(in, 22, 3, 1, 0, 4, 1, 0, 0, 0)
	log := checkChunking(t, in)
	if !strings.HasPrefix(log, "2 ") || !strings.Contains(log, "H client_hello") {
		t.Fatalf("log = %q", log)
	}
	var h SSLv2Hello
	if err := ParseSSLv2ClientHello(body, &h); err != nil {
		t.Fatal(err)
	}
	if h.Version != VersionTLS10 || len(h.CipherSpecs) != 2 || h.CipherSpecs[0] != 0x2f || h.CipherSpecs[1] != 0x0700c0 {
		t.Fatalf("%+v", h)
	}
	if cs := h.CipherSuites(nil); len(cs) != 1 || cs[0] != 0x2f {
		t.Fatal(cs)
	}
	for i := range body {
		if err := ParseSSLv2ClientHello(body[:i], &h); !errors.Is(err, ErrIncomplete) {
			t.Fatalf("prefix %d: %v", i, err)
		}
	}
}

func TestLooksLikeTLS(t *testing.T) {
	for _, tt := range []struct {
		b    string
		want bool
	}{
		{"\x16\x03\x01\x02\x00\x01", true},
		{"\x17\x03\x03", true},
		{"\x16", true},
		{"\x16\x03\x05", false},
		{"HTTP/1.1 200", false},
		{"\x80\x2e\x01\x03\x01", true},
		{"\x80\x2e\x02", false},
		{"", false},
	} {
		if got := LooksLikeTLS([]byte(tt.b)); got != tt.want {
			t.Errorf("LooksLikeTLS(%q) = %v", tt.b, got)
		}
	}
}

// TestStreamResetDropsLargeBuffer: a pooled stream does not keep the
// buffer of a 40 KB handshake message after Reset; a hello-sized one stays.
func TestStreamResetDropsLargeBuffer(t *testing.T) {
	var s Stream
	body := make([]byte, 40000)
	msg := append([]byte{byte(HandshakeCertificate), 0, byte(len(body) >> 8), byte(len(body))}, body...)
	var rec []byte
	for len(msg) > 0 {
		n := min(len(msg), 16384)
		rec = append(rec, 22, 3, 3, byte(n>>8), byte(n))
		rec = append(rec, msg[:n]...)
		msg = msg[n:]
	}
	s.Feed(rec[:len(rec)-10], &nopHandler{}) // the message stays incomplete: its bytes are held
	if cap(s.hsBuf) < 30000 {
		t.Fatalf("hsBuf cap %d: the partial message was not buffered", cap(s.hsBuf))
	}
	s.Reset()
	if cap(s.hsBuf) != 0 {
		t.Errorf("after Reset hsBuf keeps %d bytes", cap(s.hsBuf))
	}
}
