package diagnose

import (
	"errors"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hellowatch/hellowatch/capture"
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// quicRecord returns the one record hellowatch makes of a QUIC sample. With
// clientOnly the server's packets are dropped and the tracker's clock is
// moved past the timeout, as when the server never answers.
func quicRecord(t *testing.T, name string, clientOnly bool) *handshake.Handshake {
	t.Helper()
	got := quicRecords(t, name, clientOnly)
	if len(got) != 1 {
		t.Fatalf("%s: want one QUIC record, got %d: %+v", name, len(got), got)
	}
	return got[0]
}

// quicRecords returns every record hellowatch makes of a QUIC sample (see
// quicRecord).
func quicRecords(t *testing.T, name string, clientOnly bool) []*handshake.Handshake {
	t.Helper()
	src, err := capture.OpenFiles([]string{filepath.Join("..", "samples", name)})
	if err != nil {
		t.Fatalf("sample %s: %v", name, err)
	}
	defer src.Close()
	var got []*handshake.Handshake
	tr := capture.NewTracker(capture.Config{Emit: func(h *handshake.Handshake) { got = append(got, h) }})
	var client uint16
	var last int64
	var d capture.Decoded
	for {
		p, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if capture.DecodePacket(p.Link, p.Data, &d) != capture.SkipNone {
			continue
		}
		if client == 0 {
			client = d.SrcPort
		}
		if clientOnly && d.SrcPort != client {
			continue
		}
		last = p.TS
		tr.Packet(p)
	}
	if clientOnly {
		tr.Advance(time.Unix(0, last).Add(capture.DefaultTimeout + time.Second))
	}
	tr.Flush()
	for _, h := range got {
		if h.Transport != handshake.TransportQUIC || h.QUIC == nil {
			t.Fatalf("%s: not a QUIC record: %+v", name, h)
		}
	}
	return got
}

// tcpWords are what a QUIC finding must not say: QUIC has no TCP
// connection, no FIN and no RST.
var tcpWords = regexp.MustCompile(`\b(TCP|FIN|RST)\b|reset by peer|Connection timed out`)

// checkQUICWording fails when a finding of a QUIC record talks about TCP.
func checkQUICWording(t *testing.T, h *handshake.Handshake, fs []Finding) {
	t.Helper()
	for _, f := range fs {
		texts := append([]string{f.Summary, f.Hint, f.NginxLog}, f.Evidence...)
		for _, hh := range f.Hints {
			texts = append(texts, hh.Text)
		}
		for _, s := range texts {
			if m := tcpWords.FindString(s); m != "" {
				t.Errorf("%s (outcome %s): QUIC finding says %q: %q", f.ID, h.Outcome, m, s)
			}
		}
		if f.NginxLog != "" {
			t.Errorf("%s: nginx log line on a QUIC record: %q", f.ID, f.NginxLog)
		}
		if f.ID == MissingSNI || f.ID == MissingSNIResumed {
			for _, s := range append([]string{f.Hint}, hintTexts(f.Hints)...) {
				if strings.Contains(s, "proxy_ssl") || strings.Contains(s, "haproxy") {
					t.Errorf("%s: TCP proxy hint on a QUIC record: %q", f.ID, s)
				}
			}
			if len(f.Hints) == 0 || !strings.Contains(f.Hint, "SNI") {
				t.Errorf("%s: no QUIC SNI hint: %q %v", f.ID, f.Hint, f.Hints)
			}
		}
	}
}

// TestQUICFindings diagnoses real QUIC records (from the samples, some
// with the server's packets dropped or the server's close changed to what
// no sample has) and checks the QUIC wording of every finding path.
func TestQUICFindings(t *testing.T) {
	noAlert := func(code uint64, app bool, o handshake.Outcome) func(*handshake.Handshake) {
		return func(h *handshake.Handshake) {
			h.Alerts = nil
			h.Outcome = o
			h.QUIC.Close.Code, h.QUIC.Close.Application, h.QUIC.Close.Reason = code, app, "busy"
		}
	}
	alertCode := func(side handshake.Side, code uint8, o handshake.Outcome) func(*handshake.Handshake) {
		return func(h *handshake.Handshake) {
			h.Alerts[0].Description, h.Alerts[0].Sender = tlsparse.AlertDescription(code), side
			h.QUIC.Close.Code, h.QUIC.Close.Sender = 0x100+uint64(code), side
			h.Outcome = o
		}
	}
	for _, tc := range []struct {
		name       string
		file       string
		clientOnly bool
		mod        func(*handshake.Handshake)
		ids        []string
		contains   []string
	}{
		{name: "no SNI, CONNECTION_CLOSE 0x0150", file: "quic-go-no-sni.pcap",
			ids: []string{MissingSNI},
			contains: []string{"refused it with a CONNECTION_CLOSE with error 0x0150, the TLS alert internal_error (80) before any ServerHello",
				"server sent CONNECTION_CLOSE with error 0x0150 (TLS alert internal_error (80)) in packet 2"}},
		{name: "unknown name, CONNECTION_CLOSE 0x0150", file: "quic-go-unknown-name.pcap",
			ids:      []string{ServerRefused},
			contains: []string{"The server aborted the handshake with a CONNECTION_CLOSE with error 0x0150, the TLS alert internal_error (80).", "in packet 3"}},
		{name: "no SNI, silent server", file: "quic-go-no-sni.pcap", clientOnly: true,
			ids:      []string{MissingSNI, NoResponse},
			contains: []string{"the server never answered (no Initial packet)", "no Initial packet from the server for 10.00 s after the ClientHello", "closed UDP port"}},
		{name: "SNI, silent server", file: "quic-go-unknown-name.pcap", clientOnly: true,
			ids:      []string{NoResponse},
			contains: []string{"The server sent no Initial packet in answer to the ClientHello within the timeout", "no Initial packet from the server for 10.00 s after the ClientHello"}},
		{name: "established", file: "quic-chromium-h3.pcap"},
		{name: "SNI, transport close", file: "quic-go-unknown-name.pcap", mod: noAlert(0x02, false, handshake.OutcomeServerClosed),
			ids: []string{ServerRefused},
			contains: []string{"closed the connection with a CONNECTION_CLOSE with transport error 0x0002 CONNECTION_REFUSED right after the ClientHello",
				`server sent a CONNECTION_CLOSE with transport error 0x0002 CONNECTION_REFUSED in packet 3 (reason "busy")`}},
		{name: "no SNI, application close", file: "quic-go-no-sni.pcap", mod: noAlert(0x10c, true, handshake.OutcomeServerClosed),
			ids:      []string{MissingSNI},
			contains: []string{"the server closed the connection with a CONNECTION_CLOSE with application error 0x010c before any ServerHello"}},
		{name: "unrecognized_name", file: "quic-go-unknown-name.pcap", mod: alertCode(handshake.SideServer, 112, handshake.OutcomeServerAlert),
			ids:      []string{UnknownName},
			contains: []string{"refused it with a CONNECTION_CLOSE with error 0x0170, the TLS alert unrecognized_name (112) before any ServerHello"}},
		{name: "handshake_failure", file: "quic-go-unknown-name.pcap", mod: alertCode(handshake.SideServer, 40, handshake.OutcomeServerAlert),
			ids:      []string{NoSharedCipher},
			contains: []string{"refused the ClientHello with a CONNECTION_CLOSE with error 0x0128, the TLS alert handshake_failure (40) before"}},
		{name: "protocol_version", file: "quic-go-unknown-name.pcap", mod: alertCode(handshake.SideServer, 70, handshake.OutcomeServerAlert),
			ids:      []string{VersionMismatch},
			contains: []string{"refused the hello with a CONNECTION_CLOSE with error 0x0146, the TLS alert protocol_version (70);"}},
		{name: "client unknown_ca", file: "quic-go-unknown-name.pcap", mod: alertCode(handshake.SideClient, 48, handshake.OutcomeClientAlert),
			ids:      []string{UntrustedCertificate},
			contains: []string{"The client aborted the handshake with a CONNECTION_CLOSE with error 0x0130, the TLS alert unknown_ca (48) because", "client sent CONNECTION_CLOSE with error 0x0130"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := quicRecord(t, tc.file, tc.clientOnly)
			if tc.mod != nil {
				tc.mod(h)
			}
			fs := Diagnose(h)
			if got := ids(fs); !slices.Equal(got, tc.ids) {
				t.Fatalf("outcome %s: ids = %v, want %v", h.Outcome, got, tc.ids)
			}
			var all []string
			for _, f := range fs {
				all = append(all, f.Summary)
				all = append(all, f.Evidence...)
			}
			text := strings.Join(all, "\n")
			for _, c := range tc.contains {
				if !strings.Contains(text, c) {
					t.Errorf("findings lack %q:\n%s", c, text)
				}
			}
			checkQUICWording(t, h, fs)
			checkInvariants(t, h, fs)
		})
	}
}

// TestQUICVersionNegotiation: the attempt that ended at the server's
// Version Negotiation is version_mismatch, naming both sides' versions,
// also without SNI (not missing_sni: the server never saw the hello's
// TLS); the client that started over in v1 has no finding.
func TestQUICVersionNegotiation(t *testing.T) {
	recs := quicRecords(t, "quic-go-version-negotiation.pcap", false)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	if fs := Diagnose(recs[0]); len(fs) != 0 {
		t.Errorf("started over in v1 (outcome %s): findings %v", recs[0].Outcome, ids(fs))
	}
	refused := recs[1]
	for _, sni := range []bool{true, false} {
		h := *refused
		if !sni {
			h.HasSNI, h.ServerName = false, ""
		}
		fs := Diagnose(&h)
		if got := ids(fs); !slices.Equal(got, []string{VersionMismatch}) {
			t.Fatalf("sni %v, outcome %s: ids = %v, want [version_mismatch]", sni, h.Outcome, got)
		}
		text := strings.Join(append([]string{fs[0].Summary}, fs[0].Evidence...), "\n")
		for _, c := range []string{"client's QUIC version (v2)", "client's first Initial used QUIC v2",
			"server answered with a Version Negotiation packet listing", "v1 in packet 8", "no ServerHello was sent"} {
			if !strings.Contains(text, c) {
				t.Errorf("finding lacks %q:\n%s", c, text)
			}
		}
		checkQUICWording(t, &h, fs)
		checkInvariants(t, &h, fs)
	}
}

// TestQUICWordingEveryPath walks every outcome, with and without SNI and
// ServerHello, with each kind of alert and TCP flags a QUIC record cannot
// have, over a real QUIC record: no finding may talk about TCP.
func TestQUICWordingEveryPath(t *testing.T) {
	base := quicRecord(t, "quic-go-unknown-name.pcap", false)
	alerts := []func(*handshake.Handshake){
		func(h *handshake.Handshake) { h.Alerts = nil },
		func(h *handshake.Handshake) {},
		func(h *handshake.Handshake) { h.Alerts[0].Sender = handshake.SideClient },
		func(h *handshake.Handshake) { h.Alerts[0].Encrypted = true },
	}
	n := 0
	for _, o := range handshake.Outcomes() {
		for _, sni := range []bool{false, true} {
			for _, sh := range []bool{false, true} {
				for ai, am := range alerts {
					for code := 0; code < 256; code++ {
						if ai == 0 && code > 0 {
							break
						}
						h := *base
						h.Alerts = slices.Clone(base.Alerts)
						q := *base.QUIC
						c := *q.Close
						q.Close = &c
						h.QUIC = &q
						h.Outcome = o
						h.HasSNI = sni
						if !sni {
							h.ServerName = ""
						}
						h.ServerHelloSeen = sh
						if sh {
							h.Version = tlsparse.VersionTLS13
						}
						h.ClientFIN, h.ClientRST, h.EndedBy = true, code%2 == 0, handshake.SideClient
						am(&h)
						if len(h.Alerts) > 0 {
							h.Alerts[0].Description = tlsparse.AlertDescription(code)
						}
						fs := Diagnose(&h)
						checkQUICWording(t, &h, fs)
						checkInvariants(t, &h, fs)
						if t.Failed() {
							t.Fatalf("record %+v", h)
						}
						n++
					}
				}
			}
		}
	}
	t.Logf("%d QUIC records diagnosed", n)
}

func hintTexts(hs []Hint) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Client + ": " + h.Text
	}
	return out
}
