package handshake_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPureDeps keeps the pure stages pure (docs/ARCHITECTURE.md,
// "Packages"): the record, the diagnosis and the output formats import
// neither capture nor gopacket, so they build and test without libpcap.
// (crypto/x509 pulls in net, whose resolver may use cgo: that is the
// standard library's, and CGO_ENABLED=0 drops it.)
func TestPureDeps(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	for _, pkg := range []string{"../handshake", "../diagnose", "../report"} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if strings.Contains(dep, "gopacket") || strings.HasSuffix(dep, "hellowatch/capture") {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
	out, err := exec.Command("go", "list", "-f", "{{join .Imports \" \"}}", "../handshake").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range strings.Fields(string(out)) {
		if strings.Contains(imp, ".") && !strings.HasSuffix(imp, "hellowatch/tlsparse") && !strings.HasSuffix(imp, "hellowatch/quic") {
			t.Errorf("handshake imports %s: it may import only tlsparse, quic and the standard library", imp)
		}
	}
}
