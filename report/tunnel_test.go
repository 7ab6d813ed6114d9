package report

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/internal/testkit"
)

// tunnelSample is a SNI-less hello refused by the server that came in
// VXLAN inside GRE (without a key), with an MPLS label stack inside:
// every kind of tunnel field.
func tunnelSample() *handshake.Handshake {
	h := samples()[0].h // missing_sni
	h.Client = netip.MustParseAddrPort("10.244.1.5:40000")
	h.Server = netip.MustParseAddrPort("10.244.2.9:443")
	h.Tunnel = []handshake.Tunnel{
		{Type: handshake.TunnelGRE, Src: netip.MustParseAddrPort("198.51.100.1:0"), Dst: netip.MustParseAddrPort("198.51.100.2:0")},
		{Type: handshake.TunnelVXLAN, ID: 42, HasID: true, Src: netip.MustParseAddrPort("[2001:db8::a]:51234"), Dst: netip.MustParseAddrPort("[2001:db8::b]:4789")},
		{Type: handshake.TunnelMPLS, ID: 200, HasID: true},
	}
	return h
}

// TestJSONTunnel: the tunnel array names each layer with its own ID key
// (null when the header has none), and its outer endpoints, null when
// the layer has no IP header; [] for a flow that was not tunnelled.
func TestJSONTunnel(t *testing.T) {
	for _, s := range samples() {
		line := AppendJSON(nil, s.h, nil)
		if !bytes.Contains(line, []byte(`,"tunnel":[],"server_name":`)) {
			t.Errorf("%s: no empty tunnel array before the server name: %s", s.name, line)
		}
	}
	line := AppendJSON(nil, tunnelSample(), nil)
	var m struct {
		Tunnel []map[string]any `json:"tunnel"`
	}
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"type": "gre", "key": nil, "outer": "198.51.100.1 → 198.51.100.2"},
		{"type": "vxlan", "vni": float64(42), "outer": "[2001:db8::a]:51234 → [2001:db8::b]:4789"},
		{"type": "mpls", "label": float64(200), "outer": nil},
	}
	if len(m.Tunnel) != len(want) {
		t.Fatalf("tunnel %v, want %v", m.Tunnel, want)
	}
	for i := range want {
		if len(m.Tunnel[i]) != len(want[i]) {
			t.Errorf("tunnel %d: %v, want %v", i, m.Tunnel[i], want[i])
		}
		for k, v := range want[i] {
			if got, ok := m.Tunnel[i][k]; !ok || got != v {
				t.Errorf("tunnel %d: %s = %v, want %v", i, k, got, v)
			}
		}
	}
	testkit.Golden(t, filepath.Join("testdata", "tunnel.golden.jsonl"), append(line, '\n'))
}

// TestTextTunnel: the text line shows the tunnels after the endpoints,
// one bracket per layer; a flow that was not tunnelled shows none.
func TestTextTunnel(t *testing.T) {
	var buf bytes.Buffer
	tw := NewTextWriter(&buf, false)
	h := tunnelSample()
	if err := tw.Write(h, findings(h)); err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(buf.String(), "\n")
	want := "10.244.1.5:40000 → 10.244.2.9:443 [gre 198.51.100.1 → 198.51.100.2][vxlan vni=42 [2001:db8::a]:51234 → [2001:db8::b]:4789][mpls label=200] (no SNI)"
	if !strings.Contains(first, want) {
		t.Errorf("text line\n%s\nlacks\n%s", first, want)
	}
	testkit.Golden(t, filepath.Join("testdata", "tunnel.golden.txt"), buf.Bytes())
	buf.Reset()
	for _, s := range samples() {
		if err := tw.Write(s.h, nil); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(buf.String(), "[") && strings.Contains(buf.String(), "vni=") {
		t.Errorf("a flow without tunnels shows one:\n%s", buf.String())
	}
}
