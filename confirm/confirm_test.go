package confirm

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/internal/edge"
	"github.com/hellowatch/hellowatch/tlsparse"
)

func sample(name string) string { return filepath.Join("..", "samples", name) }

func load(t *testing.T, name string) *Capture {
	t.Helper()
	c, err := Load([]string{sample(name)}, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestHelloMatchesTracker: for every TCP handshake of every sample, the
// hello that confirm reassembles by itself is the one the tracker parsed:
// same length and fingerprints, its segments add up. The samples include
// reordered, retransmitted and 16-segment hellos, TCP Fast Open (the hello
// in the SYN), SLL, SLL2, VLAN, IPv6 and pcapng.
func TestHelloMatchesTracker(t *testing.T) {
	files, _ := filepath.Glob(sample("*.pcap*"))
	if len(files) < 10 {
		t.Fatalf("samples: %v", files)
	}
	checked, midHello := 0, 0
	for _, file := range files {
		c, err := Load([]string{file}, 0)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for i := range c.Flows {
			f := &c.Flows[i]
			h := f.Record
			hello, err := c.Hello(f)
			if endedMidHello(h) {
				// The tracker stopped at the server's FIN; the rest of
				// the hello is in the capture.
				if err != nil || !hello.HasSNI || len(hello.Segments) < 2 {
					t.Errorf("%s %v: a hello cut short by the server: %v", file, h.Client, err)
				}
				midHello++
				continue
			}
			if h.ClientHelloError != "" || h.SSLv2Hello {
				if err == nil {
					t.Errorf("%s %v: hello with error %q extracted", file, h.Client, h.ClientHelloError)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s %v: %v", file, h.Client, err)
				continue
			}
			var ch tlsparse.ClientHello
			if err := tlsparse.ParseClientHello(hello.Body, &ch); err != nil {
				t.Errorf("%s %v: %v", file, h.Client, err)
				continue
			}
			sum := 0
			for _, n := range hello.Segments {
				sum += n
			}
			if len(hello.Body) != h.HelloLen || string(ch.JA4(nil)) != h.JA4 || string(ch.JA3(nil)) != h.JA3 ||
				sum != len(hello.Records) {
				t.Errorf("%s %v: len %d/%d ja4 %s/%s segments %v (sum %d of %d)", file, h.Client,
					len(hello.Body), h.HelloLen, ch.JA4(nil), h.JA4, hello.Segments, sum, len(hello.Records))
			}
			// The tracker counts every segment seen while the hello was
			// read, duplicates included; confirm counts distinct ones.
			mangled := strings.Contains(file, "reordered") || strings.Contains(file, "retransmitted")
			if len(hello.Segments) > h.HelloSegments || !mangled && len(hello.Segments) != h.HelloSegments {
				t.Errorf("%s %v: %d segments, tracker counted %d", file, h.Client, len(hello.Segments), h.HelloSegments)
			}
			checked++
		}
		c.Close()
	}
	if checked < 30 {
		t.Errorf("only %d hellos checked", checked)
	}
	t.Logf("%d hellos checked against the tracker's, %d cut short by the server read on", checked, midHello)
}

func TestSelect(t *testing.T) {
	c := load(t, "split-hello.pcap")
	f, err := c.Select(netip.AddrPort{}, netip.AddrPort{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Record.HasSNI || !f.Failed() {
		t.Errorf("first failed flow: %+v", f.Record)
	}
	ok, err := c.Select(netip.AddrPort{}, f.Record.Server)
	if err != nil || ok.Record.FirstPacket >= f.Record.FirstPacket || !ok.Record.Established() {
		t.Errorf("first flow to the server: %v %v", ok, err)
	}
	byClient, err := c.Select(f.Record.Client, f.Record.Server)
	if err != nil || byClient != f {
		t.Errorf("by client: %v", err)
	}
	byAddr, err := c.Select(netip.AddrPortFrom(f.Record.Client.Addr(), 0), f.Record.Server)
	if err != nil || byAddr != ok {
		t.Errorf("by client address: %v", err)
	}
	if _, err := c.Select(netip.MustParseAddrPort("192.0.2.1:1"), f.Record.Server); !errors.Is(err, ErrNoFlow) {
		t.Errorf("no such flow: %v", err)
	}
	if got := c.NamesFor(f.Record.Server); !slices.Equal(got, []string{"abc.example.com"}) {
		t.Errorf("names: %v", got)
	}
	fixed := load(t, "incident-fixed.pcap")
	if _, err := fixed.Select(netip.AddrPort{}, netip.AddrPort{}); !errors.Is(err, ErrNoFlow) {
		t.Errorf("no failed flow: %v", err)
	}
}

// planFor loads a sample's first failed flow and plans it.
func planFor(t *testing.T, name string, o Options) (*Flow, *Hello, []Variant, error) {
	t.Helper()
	c := load(t, name)
	f, err := c.Select(netip.AddrPort{}, netip.AddrPort{})
	if err != nil {
		t.Fatal(err)
	}
	hello, err := c.Hello(f)
	if err != nil {
		t.Fatal(err)
	}
	o.Names = c.NamesFor(f.Record.Server)
	vs, err := Plan(f, hello, o)
	return f, hello, vs, err
}

func ids(vs []Variant) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.ID)
	}
	return out
}

func TestPlan(t *testing.T) {
	for _, c := range []struct {
		sample string
		opts   Options
		want   []string
		err    error
	}{
		{"incident-missing-sni.pcap", Options{SNI: "abc.example.com"}, []string{VariantAsCaptured, VariantSNI}, nil},
		{"incident-missing-sni.pcap", Options{}, nil, ErrNeedName},
		// The name comes from the other hello to that server.
		{"split-hello.pcap", Options{}, []string{VariantAsCaptured, VariantSNI}, nil},
		{"haproxy-strict-sni.pcap", Options{SNI: "abc.example.com"}, []string{VariantAsCaptured, VariantSNI}, nil},
		{"protocol-version.pcap", Options{}, []string{VariantAsCaptured, VariantVersions}, nil},
		{"protocol-version.pcap", Options{SNI: "x.example"}, []string{VariantAsCaptured, VariantVersions, VariantSNI}, nil},
		{"plaintext-upstream.pcap", Options{}, nil, ErrNoVariant},
		{"client-rejects-cert.pcap", Options{}, nil, ErrNoVariant},
	} {
		t.Run(c.sample, func(t *testing.T) {
			_, hello, vs, err := planFor(t, c.sample, c.opts)
			if !errors.Is(err, c.err) || !slices.Equal(ids(vs), c.want) {
				t.Fatalf("variants %v, err %v; want %v, %v", ids(vs), err, c.want, c.err)
			}
			if len(vs) > 0 && !bytes.Equal(vs[0].Records, hello.Records) {
				t.Error("the baseline is not the captured bytes")
			}
			for _, v := range vs[min(1, len(vs)):] {
				body, _, n, err := tlsparse.ClientHelloFromRecords(v.Records)
				var ch tlsparse.ClientHello
				if err != nil || n != len(v.Records) || tlsparse.ParseClientHello(body, &ch) != nil {
					t.Fatalf("%s: %v", v.ID, err)
				}
				switch v.ID {
				case VariantSNI:
					want := c.opts.SNI
					if want == "" {
						want = "abc.example.com"
					}
					if string(ch.ServerName()) != want || v.Name != want || v.Fix == "" {
						t.Errorf("sni %q", ch.ServerName())
					}
				case VariantVersions:
					if ch.HighestVersion() != tlsparse.VersionTLS13 || len(ch.KeyShares) != 1 {
						t.Errorf("versions %v shares %v", ch.SupportedVersions, ch.KeyShares)
					}
				}
				if v.JA4 == vs[0].JA4 && !(v.ID == VariantSNI && vs[0].Name != "") {
					t.Errorf("%s: JA4 unchanged", v.ID)
				}
			}
		})
	}
}

// TestPlanFromRecord: the cases diagnose does not name yet are found from
// the record (an alert 120; a split hello refused without an answer).
func TestPlanFromRecord(t *testing.T) {
	c := load(t, "split-hello.pcap")
	f, _ := c.Select(netip.AddrPort{}, netip.AddrPort{})
	hello, err := c.Hello(f)
	if err != nil {
		t.Fatal(err)
	}
	rec := *f.Record
	rec.HasSNI, rec.ServerName = true, "abc.example.com"
	hello.HasSNI, hello.ServerName = true, "abc.example.com" // pretend it had one
	rec.Outcome, rec.Alerts = handshake.OutcomeServerClosed, nil
	vs, err := Plan(&Flow{Record: &rec}, hello, Options{})
	if err != nil || !slices.Equal(ids(vs), []string{VariantAsCaptured, VariantTwoSegments, VariantClassicGroups}) {
		t.Fatalf("%v %v", ids(vs), err)
	}
	if vs[1].Split != hello.Segments[0] || vs[1].Fix != "" || !bytes.Equal(vs[1].Records, hello.Records) {
		t.Errorf("two segments: split %d of %v", vs[1].Split, hello.Segments)
	}
	if len(vs[2].Records) > 1400 || len(hello.Records) < 1400 {
		t.Errorf("classic: %d bytes from %d", len(vs[2].Records), len(hello.Records))
	}
	rec.Outcome = handshake.OutcomeServerAlert
	rec.Alerts = []handshake.AlertRecord{{Sender: handshake.SideServer, Level: tlsparse.AlertLevelFatal, Description: tlsparse.AlertNoApplicationProtocol}}
	vs, err = Plan(&Flow{Record: &rec, Findings: []diagnose.Finding{{ID: diagnose.ServerRefused, Severity: diagnose.SeverityError}}}, hello, Options{})
	if err != nil || !slices.Equal(ids(vs), []string{VariantAsCaptured, VariantALPN}) {
		t.Fatalf("%v %v", ids(vs), err)
	}
}

// serve accepts connections on a loopback port and hands each to h.
func serve(t *testing.T, h func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				h(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// readHello reads one ClientHello off c (with edge's reader).
func readHello(c net.Conn) error {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := edge.ReadHello(c)
	return err
}

// goHello is the first flight of a real Go crypto/tls client.
func goHello(t *testing.T, cfg *tls.Config) []byte {
	t.Helper()
	a, b := net.Pipe()
	go func() {
		c := tls.Client(a, cfg)
		c.SetDeadline(time.Now().Add(2 * time.Second))
		c.Handshake()
		a.Close()
	}()
	buf := make([]byte, 64<<10)
	n := 0
	for {
		m, err := b.Read(buf[n:])
		n += m
		if _, _, _, err := tlsparse.ClientHelloFromRecords(buf[:n]); err == nil {
			break
		}
		if err != nil {
			t.Fatalf("go client: %v", err)
		}
	}
	b.Close()
	return buf[:n]
}

func TestSend(t *testing.T) {
	cert, err := edge.SelfSigned([]string{"abc.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	hello := goHello(t, &tls.Config{ServerName: "abc.example.com", InsecureSkipVerify: true})
	if len(hello) < 1400 {
		t.Fatalf("go hello of %d bytes: no post-quantum share?", len(hello))
	}
	tlsServer := func(cfg *tls.Config) string {
		ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() { c.(*tls.Conn).Handshake(); c.Close() }()
			}
		}()
		return ln.Addr().String()
	}
	silent := make(chan struct{})
	t.Cleanup(func() { close(silent) })
	cases := []struct {
		name  string
		addr  string
		split int
		check func(a Answer) bool
	}{
		{"tls13", tlsServer(&tls.Config{Certificates: []tls.Certificate{cert}}), 0, func(a Answer) bool {
			return a.Kind == AnswerServerHello && a.Version == tlsparse.VersionTLS13 && a.Cert == nil && a.Cipher>>8 == 0x13
		}},
		{"tls12-certificate", tlsServer(&tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: tls.VersionTLS12}), 0, func(a Answer) bool {
			return a.Kind == AnswerServerHello && a.Version == tlsparse.VersionTLS12 && a.Cert != nil &&
				a.Cert.Subject == "CN=abc.example.com" && CertCovers(a.Cert, "ABC.example.com.") && !CertCovers(a.Cert, "x.example.com")
		}},
		{"hrr", tlsServer(&tls.Config{Certificates: []tls.Certificate{cert}, CurvePreferences: []tls.CurveID{tls.CurveP384}}), 0, func(a Answer) bool {
			return a.Kind == AnswerHelloRetry && a.Group == tlsparse.GroupSecp384r1 && a.Kind.Accepted()
		}},
		{"alert", tlsServer(&tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}, MinVersion: tls.VersionTLS13,
			GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return nil, errors.New("no") }}), 0, func(a Answer) bool {
			return a.Kind == AnswerAlert && a.Alert.Level == tlsparse.AlertLevelFatal && a.Alert.Description == tlsparse.AlertInternalError
		}},
		{"reset", serve(t, func(c net.Conn) {
			readHello(c)
			c.(*net.TCPConn).SetLinger(0)
		}), 0, func(a Answer) bool { return a.Kind == AnswerReset && !a.Early }},
		{"fin", serve(t, func(c net.Conn) { readHello(c) }), 0, func(a Answer) bool { return a.Kind == AnswerClosed }},
		{"silence", serve(t, func(c net.Conn) { readHello(c); <-silent }), 0, func(a Answer) bool {
			return a.Kind == AnswerSilence && a.After >= 300*time.Millisecond
		}},
		{"not-tls", serve(t, func(c net.Conn) {
			c.Read(make([]byte, 10))
			c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
		}), 0, func(a Answer) bool {
			return a.Kind == AnswerNotTLS && string(a.NotTLS) == "HTTP/1.1 400 Bad Request\r\n\r\n"
		}},
		{"partial", serve(t, func(c net.Conn) { readHello(c); c.Write([]byte{21, 3, 3}) }), 0, func(a Answer) bool {
			return a.Kind == AnswerClosed && a.Partial == 3
		}},
		// A router that decides on the first segment: FIN before the
		// rest of the hello was sent.
		{"split-early", serve(t, func(c net.Conn) { c.Read(make([]byte, 100)) }), 100, func(a Answer) bool {
			return a.Kind == AnswerClosed && a.Early
		}},
		{"split-whole", tlsServer(&tls.Config{Certificates: []tls.Certificate{cert}}), 100, func(a Answer) bool {
			return a.Kind == AnswerServerHello && !a.Early
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := Send(context.Background(), Probe{Addr: c.addr, Records: hello, Split: c.split, Timeout: 300 * time.Millisecond})
			if !c.check(a) {
				t.Errorf("answer %+v", a)
			}
		})
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if a := Send(context.Background(), Probe{Addr: addr, Records: hello, Timeout: time.Second}); a.Kind != AnswerNone || a.Err == "" {
		t.Errorf("closed port: %+v", a)
	}
}

// edgeAt runs the Cloudflare-like edge (internal/edge) on a loopback port.
func edgeAt(t *testing.T, mode edge.Mode) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { edge.Serve(ctx, ln, edge.Config{Mode: mode, Names: []string{"abc.example.com"}}); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

// TestIncident replays the shipped incident's hello to the edge it was
// captured from (the Cloudflare-like upstream): refused as captured,
// answered with SNI; a name the edge does not serve changes nothing.
func TestIncident(t *testing.T) {
	addr := edgeAt(t, edge.ModeCloudflare)
	for _, c := range []struct {
		sni     string
		verdict Verdict
	}{{"abc.example.com", VerdictFixWorks}, {"other.example.com", VerdictNoFix}} {
		f, hello, vs, err := planFor(t, "incident-missing-sni.pcap", Options{SNI: c.sni})
		if err != nil {
			t.Fatal(err)
		}
		rs, err := Run(context.Background(), vs, RunOptions{Target: addr, Timeout: 2 * time.Second, Pause: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := NewReport(f, hello, addr, rs)
		if err != nil {
			t.Fatal(err)
		}
		var text, js bytes.Buffer
		rep.WriteText(&text)
		rep.WriteJSON(&js)
		if rep.Verdict != c.verdict {
			t.Fatalf("%s: verdict %v\n%s", c.sni, rep.Verdict, text.String())
		}
		out := text.String()
		if !strings.Contains(out, "as captured:") || !strings.Contains(out, "fatal handshake_failure (40)") {
			t.Errorf("text:\n%s", out)
		}
		var doc struct {
			Verdict  string `json:"verdict"`
			Variants []struct {
				ID     string `json:"id"`
				Answer struct {
					Kind  string `json:"kind"`
					Alert *struct {
						Code int `json:"code"`
					} `json:"alert"`
					Cert *struct {
						Subject string `json:"subject"`
					} `json:"certificate"`
				} `json:"answer"`
			} `json:"variants"`
		}
		if err := json.Unmarshal(js.Bytes(), &doc); err != nil || doc.Verdict != c.verdict.String() || len(doc.Variants) != 2 ||
			doc.Variants[0].Answer.Alert == nil || doc.Variants[0].Answer.Alert.Code != 40 {
			t.Fatalf("json %v: %s", err, js.String())
		}
		if c.verdict == VerdictFixWorks {
			if !strings.Contains(out, "with SNI abc.example.com:  ServerHello TLS 1.2") || !strings.Contains(out, "certificate CN=abc.example.com") ||
				!strings.HasSuffix(out, "the fix works: "+rs[1].Fix+"\n") || doc.Variants[1].Answer.Cert.Subject != "CN=abc.example.com" {
				t.Errorf("text:\n%s", out)
			}
		} else if !strings.HasSuffix(out, "the fix does not change the answer: the cause is elsewhere\n") {
			t.Errorf("text:\n%s", out)
		}
	}
}

func TestJudge(t *testing.T) {
	refused := Answer{Kind: AnswerAlert, Alert: tlsparse.Alert{Level: 2, Description: 40}}
	ok := Answer{Kind: AnswerServerHello, Version: tlsparse.VersionTLS12}
	base := VariantResult{Variant: Variant{ID: VariantAsCaptured}, Answer: refused}
	fix := VariantResult{Variant: Variant{ID: VariantSNI, Fix: "do it"}, Answer: ok, Accepted: true}
	diag := VariantResult{Variant: Variant{ID: VariantTwoSegments}, Answer: ok, Accepted: true}
	for _, c := range []struct {
		rs   []VariantResult
		want Verdict
	}{
		{[]VariantResult{base, fix}, VerdictFixWorks},
		{[]VariantResult{base, diag}, VerdictNoFix}, // a replay without a fix fixes nothing
		{[]VariantResult{{Variant: base.Variant, Answer: ok, Accepted: true}, fix}, VerdictNotReproduced},
		{[]VariantResult{base, {Variant: fix.Variant, Answer: refused}}, VerdictNoFix},
	} {
		v, by, err := Judge(c.rs)
		if err != nil || v != c.want || (v == VerdictFixWorks) != (by != nil) {
			t.Errorf("%v: %v %v %v", c.rs, v, by, err)
		}
	}
	if _, _, err := Judge(nil); err == nil {
		t.Error("no results judged")
	}
}

// TestHostileText: wire strings (the SNI, a certificate subject, a
// non-TLS answer, an ALPN) are escaped in text and valid in JSON.
func TestHostileText(t *testing.T) {
	evil := "a\x1b[31m\r\n\xff\u202e"
	rec := &handshake.Handshake{HasSNI: true, ServerName: evil,
		Client: netip.MustParseAddrPort("192.0.2.1:5"), Server: netip.MustParseAddrPort("192.0.2.2:443")}
	rs := []VariantResult{
		{Variant: Variant{ID: VariantAsCaptured, Label: "as captured", Name: evil},
			Answer: Answer{Kind: AnswerNotTLS, NotTLS: []byte(evil)}},
		{Variant: Variant{ID: VariantSNI, Label: "with SNI " + evil, Fix: "f", Name: evil, CheckCertName: true},
			Answer:       Answer{Kind: AnswerServerHello, ALPN: evil, Cert: &tlsparse.CertificateSummary{Subject: "CN=" + evil, SANs: []string{evil}}},
			NameMismatch: true},
	}
	rep, err := NewReport(&Flow{Record: rec}, &Hello{HasSNI: true, ServerName: evil}, "192.0.2.2:443", rs)
	if err != nil {
		t.Fatal(err)
	}
	var text, js bytes.Buffer
	rep.WriteText(&text)
	rep.WriteJSON(&js)
	for i, c := range text.String() {
		if (c < 0x20 && c != '\n') || c == 0x7f || c == 0x202e || c == 0xfffd {
			t.Fatalf("raw %U at %d in text:\n%s", c, i, text.String())
		}
	}
	if !json.Valid(js.Bytes()) || bytes.Contains(js.Bytes(), []byte("\x1b")) {
		t.Errorf("json: %s", js.String())
	}
	var doc struct {
		ServerName string `json:"server_name"`
	}
	json.Unmarshal(js.Bytes(), &doc)
	if doc.ServerName != "a\x1b[31m\r\n\\xff\u202e" {
		t.Errorf("server_name %q", doc.ServerName)
	}
}

// TestEndedMidHello reads a real capture of an SNI router (HAProxy, 50 ms
// inspect-delay, made by cmd/hellowatch's TestConfirmLive -update) that
// closed after the first segment of a Go client's post-quantum hello: the
// tracker waits for the hello's second segment (which came after the
// server's FIN and the client's own FIN) and reports server_closed with
// large_hello_dropped first; confirm takes it as the failed one, reads the
// hello and plans the split-hello variants.
func TestEndedMidHello(t *testing.T) {
	c, err := Load([]string{filepath.Join("testdata", "sni-router-split-hello.pcap")}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, err := c.Select(netip.AddrPort{}, netip.AddrPort{})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Findings) == 0 || f.Findings[0].ID != diagnose.LargeHelloDropped || f.Record.Outcome != handshake.OutcomeServerClosed || !f.Record.HasSNI {
		t.Fatalf("record: outcome %v findings %v", f.Record.Outcome, f.Findings)
	}
	hello, err := c.Hello(f)
	if err != nil {
		t.Fatal(err)
	}
	if !hello.HasSNI || hello.ServerName != "abc.example.com" || !slices.Equal(hello.Segments, []int{1448, len(hello.Records) - 1448}) {
		t.Errorf("hello: sni %q segments %v of %d", hello.ServerName, hello.Segments, len(hello.Records))
	}
	vs, err := Plan(f, hello, Options{})
	if err != nil || !slices.Equal(ids(vs), []string{VariantAsCaptured, VariantTwoSegments, VariantClassicGroups}) {
		t.Fatalf("%v %v", ids(vs), err)
	}
	// A record whose hello is cut short without the server ending it is
	// not replayed.
	rec := *f.Record
	rec.ClientHelloError = "tlsparse: ClientHello incomplete: segments are missing from the capture"
	rec.ServerFIN, rec.EndedBy = false, 0
	if _, err := c.Hello(&Flow{Record: &rec}); err == nil {
		t.Error("an incomplete hello was replayed")
	}
}

// FuzzAnswer feeds arbitrary server bytes to the answer reader, in two
// chunks, then ends the stream: it never panics, and says something.
func FuzzAnswer(f *testing.F) {
	f.Add([]byte{21, 3, 3, 0, 2, 2, 40}, uint8(3))
	f.Add([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"), uint8(5))
	f.Add([]byte{22, 3, 3, 0, 4, 2, 0, 0, 0}, uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, cut uint8) {
		var r answerReader
		k := min(int(cut), len(b))
		for _, part := range [][]byte{b[:k], b[k:]} {
			if !r.done {
				r.got += len(part)
				r.s.Feed(part, &r)
			}
		}
		a := r.failed(io.EOF, time.Millisecond)
		if a.Kind == AnswerNone || a.Kind.String() == "unknown" {
			t.Fatalf("answer %+v", a)
		}
		// A record header, a handshake header and 38 bytes of body at least.
		if a.Kind.Accepted() && len(b) < 5+4+38 {
			t.Fatalf("a ServerHello out of %d bytes", len(b))
		}
		x := VariantResult{Answer: a}
		_ = answerText(&x)
	})
}
