// Package testkit holds what the tests of several packages share: golden
// files (one -update flag for every test binary that imports it) and
// running the hellowatch command as a subprocess (output, log lines, exit,
// peak RSS). It imports only the standard library, so that tlsparse's
// tests may use it and tlsparse stays free of other modules; scraping
// /metrics, which needs the Prometheus parser, is in testkit/metrics.
//
// It is for tests only: nothing outside _test.go files imports it.
package testkit

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the current output")

// Updating reports whether the test binary runs with -update.
func Updating() bool { return *update }

// Golden compares got with the golden file at path (relative to the test's
// package directory, e.g. testdata/x.golden). With -update it writes got
// to path first (creating its directory), so the comparison passes and
// `git diff` shows what changed. A missing file or a difference fails the
// test, naming the first differing line.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test -update and review the diff): %s\n--- got\n%s", path, FirstDiff(strings.SplitAfter(string(want), "\n"), strings.SplitAfter(string(got), "\n")), got)
	}
}

// FirstDiff says where two lists of lines first differ, numbering from 1:
// "line N: want "...", got "..."" (each cut at 300 bytes), or "" when
// they are equal. A missing line is "".
func FirstDiff(want, got []string) string {
	for i := 0; i < len(want) || i < len(got); i++ {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			return fmt.Sprintf("line %d: want %.300q, got %.300q", i+1, w, g)
		}
	}
	return ""
}
