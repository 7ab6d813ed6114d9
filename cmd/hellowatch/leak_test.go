package main

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hellowatch/hellowatch/internal/testkit"
)

// TestRunEndsItsGoroutines: run() leaves no goroutine of its own behind
// when it returns. A goroutine left per run keeps that run's tracker and
// buffers alive: the thousands of in-process runs of
// TestTruncatedAtEveryOffset then held 9.5 GB under -race.
func TestRunEndsItsGoroutines(t *testing.T) {
	const runs = 20
	for range runs {
		if _, stderr, code := runCmd(t, "-r", sample("incident-missing-sni.pcap"), "--format", "json", "--metrics-addr", "127.0.0.1:0"); code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	}
	// Workers may take a moment to see their channels closed.
	var left []string
	testkit.Poll(2*time.Second, func() bool {
		left = runGoroutines()
		return len(left) == 0
	})
	if len(left) > 0 {
		t.Errorf("%d goroutines of run() left after %d runs, the first:\n%s", len(left), runs, left[0])
	}
}

// runGoroutines returns the stacks of the goroutines of run(), its runner
// and the packages it drives (not those of the tests' own servers).
func runGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "TestRunEndsItsGoroutines") {
			continue
		}
		for _, pkg := range []string{"hellowatch/cmd/hellowatch.(*runner)", "hellowatch/cmd/hellowatch.run(", "hellowatch/capture.", "hellowatch/report."} {
			if strings.Contains(g, pkg) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}
