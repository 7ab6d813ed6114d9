package testkit

import (
	"os"
	"path/filepath"
	"testing"
)

// CorpusEnv names the environment variable that says where the shared
// conformance corpus is (captures written by Zeek, FoxIO JA4, Arkime,
// Suricata and nDPI tests, indexed by expected.jsonl).
const CorpusEnv = "HW_TEST_CORPUS"

// CorpusDir returns where the corpus is: $HW_TEST_CORPUS, else
// shared/corpus next to the module's directory (../shared/corpus, where
// CI has it). It does not check that it is there; Corpus does.
func CorpusDir() string {
	if dir := os.Getenv(CorpusEnv); dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return dir
		}
		return abs
	}
	root, err := moduleRoot()
	if err != nil {
		return filepath.Join("..", "shared", "corpus")
	}
	return filepath.Join(filepath.Dir(root), "shared", "corpus")
}

// Corpus returns CorpusDir, or skips the test when the corpus (its
// expected.jsonl) is not there.
func Corpus(t testing.TB) string {
	t.Helper()
	dir := CorpusDir()
	if _, err := os.Stat(filepath.Join(dir, "expected.jsonl")); err != nil {
		t.Skipf("skipped: no conformance corpus at %s (set %s to point at one)", dir, CorpusEnv)
	}
	return dir
}
