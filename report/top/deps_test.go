package top

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps: the view is an output format like the rest of report
// (docs/ARCHITECTURE.md, "Packages"): it imports neither capture nor
// gopacket, so it builds and tests without libpcap.
func TestDeps(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, dep := range deps {
		if strings.Contains(dep, "gopacket") || strings.HasSuffix(dep, "hellowatch/capture") {
			t.Errorf("report/top depends on %s", dep)
		}
	}
	if len(deps) < 10 || !strings.Contains(string(out), "charm.land/bubbletea/v2\n") {
		t.Errorf("go list -deps gave %d packages, without Bubble Tea:\n%s", len(deps), out)
	}
}
