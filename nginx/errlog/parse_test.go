package errlog

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hellowatch/hellowatch/internal/testkit"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// Lines in the wordings of OpenSSL versions not installed here (1.0, 1.1),
// from nginx's sources and FIELD-NOTES.md; the 3.0 ones come from real
// nginx in TestRealNginxErrorLog and testdata/.
func TestParse(t *testing.T) {
	const ctx = `, client: 192.0.2.7, server: example.org, request: "GET /x HTTP/1.1", upstream: "https://198.51.100.1:443/x", host: "example.org"`
	up := netip.MustParseAddrPort("198.51.100.1:443")
	tests := []struct {
		name string
		line string
		want Entry // only the fields set are compared, plus Kind
	}{
		{"openssl3 alert 40",
			`2026/11/26 10:00:00 [error] 123#123: *45 SSL_do_handshake() failed (SSL: error:0A000410:SSL routines::sslv3 alert handshake failure:SSL alert number 40) while SSL handshaking to upstream` + ctx,
			Entry{Kind: KindAlert, Alert: 40, HasAlert: true, OpenSSLCode: 0x0A000410, Reason: "sslv3 alert handshake failure", Func: "SSL_do_handshake", Handshake: true, Level: LevelError, PID: 123, TID: 123, Conn: 45, HasConn: true}},
		{"openssl 1.1 alert 40",
			`2026/11/26 10:00:00 [error] 123#0: *45 SSL_do_handshake() failed (SSL: error:14094410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:SSL alert number 40) while SSL handshaking to upstream` + ctx,
			Entry{Kind: KindAlert, Alert: 40, HasAlert: true, OpenSSLCode: 0x14094410, Reason: "sslv3 alert handshake failure", Handshake: true}},
		{"openssl 1.0 alert 40 without the number",
			`2026/11/26 10:00:00 [error] 123#0: *45 SSL_do_handshake() failed (SSL: error:14077410:SSL routines:SSL23_GET_SERVER_HELLO:sslv3 alert handshake failure) while SSL handshaking to upstream` + ctx,
			Entry{Kind: KindAlert, Alert: 40, HasAlert: true, Reason: "sslv3 alert handshake failure"}},
		{"openssl 1.1 alert 112",
			`2026/11/26 10:00:00 [crit] 1#1: *2 SSL_do_handshake() failed (SSL: error:14094458:SSL routines:ssl3_read_bytes:tlsv1 unrecognized name:SSL alert number 112) while SSL handshaking to upstream` + ctx,
			Entry{Kind: KindAlert, Alert: tlsparse.AlertDescription(112), HasAlert: true, Level: LevelCrit}},
		{"openssl 1.1 wrong version",
			`2026/11/26 10:00:00 [error] 1#1: *2 SSL_do_handshake() failed (SSL: error:1408F10B:SSL routines:ssl3_get_record:wrong version number) while SSL handshaking to upstream` + ctx,
			Entry{Kind: KindWrongVersion, Reason: "wrong version number"}},
		{"openssl3 unexpected eof",
			`2026/11/26 10:00:00 [error] 1#1: *2 SSL_do_handshake() failed (SSL: error:0A000126:SSL routines::unexpected eof while reading) while SSL handshaking to upstream` + ctx,
			Entry{Kind: KindUnexpectedEOF}},
		{"syscall errno",
			`2026/11/26 10:00:00 [error] 1#1: *2 SSL_do_handshake() failed (104: Connection reset by peer) while SSL handshaking to upstream` + ctx,
			Entry{Kind: KindPeerReset, Errno: 104}},
		{"errno and ssl",
			`2026/11/26 10:00:00 [error] 1#1: *2 SSL_write() failed (32: Broken pipe) (SSL: error:0A00007F:SSL routines::bad write retry) while sending request to upstream` + ctx,
			Entry{Kind: KindSSLError, Errno: 32, Func: "SSL_write", Reason: "bad write retry", Action: "sending request to upstream"}},
		{"two errors, the alert in the second",
			`2026/11/26 10:00:00 [error] 1#1: *2 SSL_do_handshake() failed (SSL: error:0A0000C1:SSL routines::no shared cipher error:0A000410:SSL routines::sslv3 alert handshake failure:SSL alert number 40) while SSL handshaking to upstream` + ctx,
			Entry{Kind: KindAlert, Alert: 40, OpenSSLCode: 0x0A0000C1, Reason: "no shared cipher"}},
		{"ssl_read 116",
			`2026/11/26 10:00:00 [crit] 1#1: *2 SSL_read() failed (SSL: error:0A00045C:SSL routines::tlsv13 alert certificate required:SSL alert number 116) while reading response header from upstream` + ctx,
			Entry{Kind: KindAlert, Alert: 116, Func: "SSL_read", Handshake: false, Action: "reading response header from upstream"}},
		{"verify error",
			`2026/11/26 10:00:00 [error] 1#1: *2 upstream SSL certificate verify error: (10:certificate has expired) while SSL handshaking to upstream` + ctx,
			Entry{Kind: KindVerifyError, VerifyCode: 10, VerifyText: "certificate has expired"}},
		{"name mismatch with tricky name",
			`2026/11/26 10:00:00 [error] 1#1: *2 upstream SSL certificate does not match "a while b, client: 1.2.3.4" while SSL handshaking to upstream` + ctx,
			Entry{Kind: KindNameMismatch, Name: "a while b, client: 1.2.3.4"}},
		{"peer closed",
			`2026/11/26 10:00:00 [error] 1#1: *2 peer closed connection in SSL handshake while SSL handshaking to upstream` + ctx,
			Entry{Kind: KindPeerClosed}},
		{"timeout",
			`2026/11/26 10:00:00 [error] 1#1: *2 upstream timed out (110: Connection timed out) while SSL handshaking to upstream` + ctx,
			Entry{Kind: KindTimeout, Errno: 110}},
		{"other wording while handshaking",
			`2026/11/26 10:00:00 [error] 1#1: *2 upstream prematurely closed connection while SSL handshaking to upstream` + ctx,
			Entry{Kind: KindOther}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Parse([]byte(tc.line), time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			w := tc.want
			if e.Kind != w.Kind || w.HasAlert && (e.Alert != w.Alert) || w.Alert != 0 && e.Alert != w.Alert {
				t.Errorf("kind %v alert %v, want %v alert %v", e.Kind, e.Alert, w.Kind, w.Alert)
			}
			cmp := func(field string, got, want any, set bool) {
				if set && got != want {
					t.Errorf("%s = %v, want %v", field, got, want)
				}
			}
			cmp("OpenSSLCode", e.OpenSSLCode, w.OpenSSLCode, w.OpenSSLCode != 0)
			cmp("Reason", e.Reason, w.Reason, w.Reason != "")
			cmp("Func", e.Func, w.Func, w.Func != "")
			cmp("Errno", e.Errno, w.Errno, w.Errno != 0)
			cmp("VerifyCode", e.VerifyCode, w.VerifyCode, w.VerifyCode != 0)
			cmp("VerifyText", e.VerifyText, w.VerifyText, w.VerifyText != "")
			cmp("Name", e.Name, w.Name, w.Name != "")
			cmp("Action", e.Action, w.Action, w.Action != "")
			cmp("Handshake", e.Handshake, w.Handshake, w.Handshake)
			cmp("Level", e.Level, w.Level, w.Level != 0)
			cmp("PID", e.PID, w.PID, w.PID != 0)
			cmp("Conn", e.Conn, w.Conn, w.Conn != 0)
			if e.UpstreamAddr != up || e.Scheme != "https" || e.Upstream != "https://198.51.100.1:443/x" {
				t.Errorf("upstream %q %q %v", e.Upstream, e.Scheme, e.UpstreamAddr)
			}
			if e.Client != netip.MustParseAddr("192.0.2.7") || e.Server != "example.org" || e.Host != "example.org" {
				t.Errorf("client %v server %q host %q", e.Client, e.Server, e.Host)
			}
			if !e.Time.Equal(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)) {
				t.Errorf("time %v", e.Time)
			}
			if e.Raw != tc.line {
				t.Errorf("Raw differs")
			}
		})
	}
}

func TestParseUpstreamForms(t *testing.T) {
	for _, tc := range []struct{ field, scheme, addr string }{
		{"https://[2001:db8::1]:443/", "https", "[2001:db8::1]:443"},
		{"grpcs://203.0.113.9:50051", "grpcs", "203.0.113.9:50051"},
		{"198.18.0.1:8443", "", "198.18.0.1:8443"},
		{"https://unix:/run/app.sock:/", "https", ""},
		{"https://[::ffff:192.0.2.1]:443/", "https", "192.0.2.1:443"},
	} {
		line := `2026/11/26 10:00:00 [error] 1#1: *2 peer closed connection in SSL handshake while SSL handshaking to upstream, client: 192.0.2.7, server: s, upstream: "` + tc.field + `"`
		e, err := Parse([]byte(line), nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.field, err)
		}
		var want netip.AddrPort
		if tc.addr != "" {
			want = netip.MustParseAddrPort(tc.addr)
		}
		if e.Scheme != tc.scheme || e.UpstreamAddr != want || e.Upstream != tc.field {
			t.Errorf("%s: scheme %q addr %v upstream %q", tc.field, e.Scheme, e.UpstreamAddr, e.Upstream)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct {
		line  string
		field string // "" means ErrNotTLS
	}{
		{`2026/11/26 10:00:00 [notice] 1#1: start worker processes`, ""},
		{`2026/11/26 10:00:00 [error] 1#1: *3 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: , request: "GET / HTTP/1.1", upstream: "https://127.0.0.1:1/", host: "x"`, ""},
		{`2026/11/26 10:00:00 [info] 1#1: *3 SSL_do_handshake() failed (SSL: error:0A00006C:SSL routines::bad key share) while SSL handshaking, client: 127.0.0.1, server: 0.0.0.0:443`, ""},
		{`2026/11/26 10:00:00 [error] 1#1: *3 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 127.0.0.1, server: , request: "GET / HTTP/1.1", upstream: "https://127.0.0.1:1/", host: "x"`, ""},
		{``, "time"},
		{`hello`, "time"},
		{`2026/13/26 10:00:00 [error] 1#1: x`, "time"},
		{`2026/11/26 10:00:00 error 1#1: x`, "level"},
		{`2026/11/26 10:00:00 [loud] 1#1: x`, "level"},
		{`2026/11/26 10:00:00 [error] x#1: x`, "pid"},
		{`2026/11/26 10:00:00 [error] 1#: x`, "tid"},
		{`2026/11/26 10:00:00 [error] 1#1: *x y`, "connection"},
	} {
		_, err := Parse([]byte(tc.line), nil)
		var pe *ParseError
		switch {
		case tc.field == "" && !errors.Is(err, ErrNotTLS):
			t.Errorf("%q: err %v, want ErrNotTLS", tc.line, err)
		case tc.field != "" && (!errors.As(err, &pe) || pe.Field != tc.field):
			t.Errorf("%q: err %v, want a ParseError on %s", tc.line, err, tc.field)
		}
	}
}

func TestParseZone(t *testing.T) {
	line := []byte(`2026/03/29 02:30:00 [error] 1#1: *2 peer closed connection in SSL handshake while SSL handshaking to upstream, client: 192.0.2.7, server: s, upstream: "198.18.0.1:1"`)
	z := time.FixedZone("x", -7*3600)
	e, err := Parse(line, z)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 3, 29, 9, 30, 0, 0, time.UTC); !e.Time.Equal(want) {
		t.Errorf("time %v, want %v", e.Time.UTC(), want)
	}
}

// TestFixtures parses the error logs real nginx wrote (testdata/*.log, see
// make-fixtures.sh) and compares a summary of every entry with its golden.
func TestFixtures(t *testing.T) {
	logs, _ := filepath.Glob("testdata/*.log")
	if len(logs) == 0 {
		t.Fatal("no fixtures in testdata/")
	}
	for _, name := range logs {
		t.Run(filepath.Base(name), func(t *testing.T) {
			f, err := os.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sc := NewScanner(f, name, nginxTZ, 0)
			var b bytes.Buffer
			for sc.Scan() {
				e := sc.Entry()
				alert := "-"
				if e.HasAlert {
					alert = e.Alert.String()
				}
				fmt.Fprintf(&b, "%d %s %s %s conn=%d %s alert=%s handshake=%v scheme=%q upstream=%v errno=%d verify=%d name=%q\n",
					e.Line, e.Time.UTC().Format(time.RFC3339), e.Level, e.Kind, e.Conn, e.Func, alert, e.Handshake, e.Scheme, e.UpstreamAddr, e.Errno, e.VerifyCode, e.Name)
			}
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
			st := sc.Stats()
			fmt.Fprintf(&b, "stats %+v\n", st)
			if st.Malformed != 0 || st.TooLong != 0 {
				t.Errorf("real nginx log with %d malformed, %d too long lines", st.Malformed, st.TooLong)
			}
			testkit.Golden(t, strings.TrimSuffix(name, ".log")+".golden", b.Bytes())
		})
	}
}
