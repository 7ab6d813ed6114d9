package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math/big"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/internal/testkit"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// zeekTable reads one `const name: table[count] of string = { ... }` of
// Zeek's consts.zeek (testdata/zeek, copied from Zeek), resolving the
// constants its keys name.
func zeekTable(t *testing.T, name string) map[int]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "zeek", "consts.zeek"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	consts := map[string]int{}
	for _, m := range regexp.MustCompile(`const ([A-Za-z0-9_]+)\s*=\s*(0x[0-9A-Fa-f]+|\d+);`).FindAllStringSubmatch(src, -1) {
		v, err := strconv.ParseInt(m[2], 0, 64)
		if err != nil {
			t.Fatal(err)
		}
		consts[m[1]] = int(v)
	}
	start := strings.Index(src, "const "+name+":")
	if start < 0 {
		t.Fatalf("no table %s in consts.zeek", name)
	}
	end := strings.Index(src[start:], "} &default")
	out := map[int]string{}
	for _, m := range regexp.MustCompile(`\[([A-Za-z0-9_]+)\]\s*=\s*"([^"]*)"`).FindAllStringSubmatch(src[start:start+end], -1) {
		k, err := strconv.ParseInt(m[1], 0, 64)
		if err != nil {
			c, ok := consts[m[1]]
			if !ok {
				t.Fatalf("%s: unknown constant %s", name, m[1])
			}
			k = int64(c)
		}
		out[int(k)] = m[2]
	}
	if len(out) < 9 {
		t.Fatalf("table %s: %d entries", name, len(out))
	}
	return out
}

// TestZeekNames checks the Zeek output's version, cipher, curve and alert
// names against every entry of Zeek's own tables, and Zeek's default
// forms for values outside them.
func TestZeekNames(t *testing.T) {
	for k, want := range zeekTable(t, "version_strings") {
		if got := zeekVersion(tlsparse.Version(k)); got != want {
			t.Errorf("version %#04x: %s, Zeek %s", k, got, want)
		}
	}
	for v, want := range map[tlsparse.Version]string{0x7f0e: "TLSv13-draft14", 0x7f17: "TLSv13-draft23", 0x7e01: "unknown-32257"} {
		if got := zeekVersion(v); got != want {
			t.Errorf("version %#04x: %s, want %s", uint16(v), got, want)
		}
	}
	n := 0
	for k, want := range zeekTable(t, "cipher_desc") {
		if k > 0xffff {
			continue // SSL 2.0 cipher kinds (3 bytes): hellowatch reports no SSLv2 cipher
		}
		n++
		if got := zeekCipher(tlsparse.CipherSuite(k)); got != want {
			t.Errorf("cipher %#04x: %s, Zeek %s", k, got, want)
		}
	}
	if n < 300 {
		t.Errorf("%d cipher suites compared", n)
	}
	for k, want := range zeekTable(t, "ec_curves") {
		if got := zeekGroup(tlsparse.NamedGroup(k)); got != want {
			t.Errorf("group %#04x: %s, Zeek %s", k, got, want)
		}
	}
	for k, want := range zeekTable(t, "alert_descriptions") {
		if got := zeekAlert(tlsparse.AlertDescription(k)); got != want {
			t.Errorf("alert %d: %s, Zeek %s", k, got, want)
		}
	}
	for _, tt := range []struct{ got, want string }{
		{zeekCipher(0x7777), "unknown-30583"},
		{zeekGroup(0x7777), "unknown-30583"},
		{zeekAlert(200), "unknown-200"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s, want %s", tt.got, tt.want)
		}
	}
}

// TestZeekHistory pins Zeek's ssl_history and established rules on the
// histories of handshakes the corpus's Zeek baselines show.
func TestZeekHistory(t *testing.T) {
	for _, tt := range []struct {
		name    string
		v       tlsparse.Version
		quic    bool
		history string
		want    string
		est     bool
	}{
		{"TLS 1.2 full", tlsparse.VersionTLS12, false, "CsxknGIDtidD", "CsxknGIti", true},
		{"TLS 1.2 abbreviated", tlsparse.VersionTLS12, false, "CsidIDdD", "CsiI", true},
		{"TLS 1.2 server flight missing", tlsparse.VersionTLS12, false, "CsxknGID", "CsxknGI", false},
		{"TLS 1.2 plaintext data is no letter", tlsparse.VersionTLS12, false, "CsDxkn", "Csxkn", false},
		{"TLS 1.3 middlebox compat", tlsparse.VersionTLS13, false, "CsidIDdD", "CsiI", true},
		{"TLS 1.3 no CCS", tlsparse.VersionTLS13, false, "CsdDdD", "Cs", true},
		{"TLS 1.3 HRR", tlsparse.VersionTLS13, false, "CjiICsdD", "CjiICs", true},
		{"TLS 1.3 client alert in the clear", 0x7f10, false, "CsdL", "CsL", false},
		{"TLS 1.3 encrypted alert after both", tlsparse.VersionTLS13, false, "CsdDL", "Cs", true},
		{"refused", 0, false, "Cl", "Cl", false},
		{"experiment 0x7e01 CCS encrypts", 0x7e01, false, "CsidID", "CsiI", true},
		{"QUIC", tlsparse.VersionTLS13, true, "CsdDdD", "Cs", false},
		{"QUIC retry and close", tlsparse.VersionTLS13, true, "CCsdDL", "CCs", false},
		{"SSL 2.0", tlsparse.VersionSSL20, false, "CsDdDdD", "Cs", true},
		{"SSL 2.0 hello only", tlsparse.VersionSSL20, false, "Cs", "Cs", false},
	} {
		h := &handshake.Handshake{Version: tt.v, History: tt.history, ServerHelloSeen: tt.v != 0, Transport: handshake.TransportTCP}
		if tt.quic {
			h.Transport = handshake.TransportQUIC
		}
		got, est := ZeekHistory(h)
		if got != tt.want || est != tt.est {
			t.Errorf("%s: %q -> %q established %v, want %q %v", tt.name, tt.history, got, est, tt.want, tt.est)
		}
	}
}

func TestZeekUID(t *testing.T) {
	h := samples()[0].h
	u := ZeekUID(h)
	if !regexp.MustCompile(`^C[0-9A-Za-z]{17}$`).MatchString(u) {
		t.Fatalf("uid %q", u)
	}
	if ZeekUID(h) != u {
		t.Error("uid not deterministic")
	}
	other := *h
	other.ClientHelloTime = h.ClientHelloTime.Add(time.Microsecond)
	if ZeekUID(&other) == u {
		t.Error("another connection's uid is the same")
	}
	other = *h
	other.Client = netip.MustParseAddrPort("10.0.0.1:40001")
	if ZeekUID(&other) == u {
		t.Error("another 4-tuple's uid is the same")
	}
}

// TestBase62 checks the 96-bit base62 conversion against math/big.
func TestBase62(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := [][2]uint64{{0, 0}, {0, 1}, {1<<32 - 1, ^uint64(0)}, {61, ^uint64(0)}, {1, 0}}
	for i := 0; i < 1000; i++ {
		cases = append(cases, [2]uint64{r.Uint64() >> 32, r.Uint64()})
	}
	for _, c := range cases {
		n := new(big.Int).Lsh(new(big.Int).SetUint64(c[0]), 64)
		n.Or(n, new(big.Int).SetUint64(c[1]))
		want := n.Text(62)
		// big's digits are 0-9a-zA-Z; Zeek's (and ours) 0-9A-Za-z.
		swap := func(r rune) rune {
			switch {
			case r >= 'a' && r <= 'z':
				return r - 'a' + 'A'
			case r >= 'A' && r <= 'Z':
				return r - 'A' + 'a'
			}
			return r
		}
		want = strings.Repeat("0", 17-len(want)) + strings.Map(swap, want)
		if got := string(appendBase62(nil, c[0], c[1])); got != want {
			t.Fatalf("%#x:%#x: %s, want %s", c[0], c[1], got, want)
		}
	}
}

func TestZeekTime(t *testing.T) {
	for _, tt := range []struct {
		t    time.Time
		want string
	}{
		{time.Unix(1437831776, 764391000), "1437831776.764391"},
		{time.Unix(1437831776, 0), "1437831776"},
		{time.Unix(1795645098, 145915000), "1795645098.145915"},
	} {
		if got := string(appendZeekTime(nil, tt.t)); got != tt.want {
			t.Errorf("%v: %s, want %s", tt.t, got, tt.want)
		}
	}
}

// TestZeekGolden writes the sample records as Zeek ssl.log and notice.log
// objects (the stream form, with _path).
func TestZeekGolden(t *testing.T) {
	var buf bytes.Buffer
	zw := NewZeekWriter(&buf)
	for _, s := range samples() {
		if err := zw.Write(s.h, findings(s.h)); err != nil {
			t.Fatal(err)
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(buf.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("invalid JSON: %v\n%s", err, sc.Bytes())
		}
		switch m["_path"] {
		case "ssl":
			for _, k := range []string{"ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "resumed", "established", "ssl_history", "ja4"} {
				if _, ok := m[k]; !ok {
					t.Errorf("ssl object without %s: %s", k, sc.Bytes())
				}
			}
		case "notice":
			if note, _ := m["note"].(string); !strings.HasPrefix(note, ZeekNotePrefix) {
				t.Errorf("note %v", m["note"])
			}
		default:
			t.Errorf("_path %v", m["_path"])
		}
	}
	testkit.Golden(t, filepath.Join("testdata", "zeek.golden.jsonl"), buf.Bytes())
}

// TestZeekNoticeSharesUID: a finding's notice names its ssl record's uid.
func TestZeekNoticeSharesUID(t *testing.T) {
	for _, s := range samples() {
		fs := findings(s.h)
		if len(fs) == 0 {
			continue
		}
		var ssl, notice struct{ UID string }
		if err := json.Unmarshal(AppendZeekSSL(nil, s.h, false), &ssl); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(AppendZeekNotice(nil, s.h, &fs[0], false), &notice); err != nil {
			t.Fatal(err)
		}
		if ssl.UID == "" || ssl.UID != notice.UID {
			t.Errorf("%s: ssl uid %q, notice uid %q", s.name, ssl.UID, notice.UID)
		}
	}
}

// TestZeekDir: ssl.log and notice.log are appended to (a line already there
// stays), carry no _path, and a rotated-away file is followed by a new one.
func TestZeekDir(t *testing.T) {
	dir := t.TempDir()
	sslPath := filepath.Join(dir, "ssl.log")
	if err := os.WriteFile(sslPath, []byte("{\"earlier\":1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	zw, err := OpenZeekDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer zw.Close()
	ss := samples()
	var withFinding *handshake.Handshake
	for _, s := range ss {
		if len(findings(s.h)) > 0 {
			withFinding = s.h
			break
		}
	}
	if err := zw.Write(withFinding, findings(withFinding)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(sslPath, sslPath+".1"); err != nil {
		t.Fatal(err)
	}
	if err := zw.Write(ss[1].h, nil); err != nil {
		t.Fatal(err)
	}
	lines := func(p string) []string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
	old, cur, notices := lines(sslPath+".1"), lines(sslPath), lines(filepath.Join(dir, "notice.log"))
	if len(old) != 2 || old[0] != `{"earlier":1}` || len(cur) != 1 || len(notices) != len(findings(withFinding)) {
		t.Fatalf("ssl.log.1 %d lines, ssl.log %d, notice.log %d:\n%q\n%q", len(old), len(cur), len(notices), old, cur)
	}
	for _, l := range append(append(old[1:], cur...), notices...) {
		if strings.Contains(l, `"_path"`) || !json.Valid([]byte(l)) {
			t.Errorf("line %s", l)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Write(ss[1].h, nil); err == nil {
		t.Error("write after Close succeeded")
	}
}

func TestZeekWriterNoAlloc(t *testing.T) {
	h := samples()[0].h
	fs := findings(h)
	zw := NewZeekWriter(bytes.NewBuffer(make([]byte, 0, 1<<20)))
	_ = zw.Write(h, fs)
	if n := testing.AllocsPerRun(100, func() { _ = zw.Write(h, fs) }); n > 0 {
		t.Errorf("ZeekWriter.Write allocates %v times per record", n)
	}
}

func BenchmarkZeekWriter(b *testing.B) {
	h := samples()[0].h
	fs := findings(h)
	var buf bytes.Buffer
	zw := NewZeekWriter(&buf)
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		_ = zw.Write(h, fs)
	}
}

// checkWireZeekECS is checkWireJSON for the Zeek and ECS outputs: any
// bytes in wire strings give valid JSON without raw controls.
func checkWireZeekECS(t *testing.T, in string) {
	t.Helper()
	h := &handshake.Handshake{HasSNI: true, ServerName: in, ALPN: []string{in, "h2"}, NextProtocol: in,
		NotTLSPrefix: []byte(in), History: in, JA3String: in, Outcome: handshake.OutcomeNotTLS,
		Client: netip.MustParseAddrPort("192.0.2.1:1"), Server: netip.MustParseAddrPort("192.0.2.2:443"),
		Cert: &handshake.Certificate{Subject: in, Issuer: in, SANs: []string{in}}}
	fs := diagnose.Diagnose(h)
	lines := [][]byte{AppendZeekSSL(nil, h, true), AppendECS(nil, h, fs)}
	for i := range fs {
		lines = append(lines, AppendZeekNotice(nil, h, &fs[i], true))
	}
	for _, l := range lines {
		noRawControls(t, l, false)
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("invalid JSON for %q: %v\n%s", in, err, l)
		}
	}
	var z struct {
		ServerName string `json:"server_name"`
	}
	_ = json.Unmarshal(lines[0], &z)
	if back, ok := decodeWire(z.ServerName); !ok || back != in {
		t.Fatalf("server_name %q came back as %q", in, back)
	}
}

func FuzzZeekECSWire(f *testing.F) {
	for _, s := range []string{"example.com", "\x1b[2J", "\xff\xfe", `a\x41`, "\u2028", "\"}", "CsiIDdL"} {
		f.Add(s)
	}
	f.Fuzz(checkWireZeekECS)
}
