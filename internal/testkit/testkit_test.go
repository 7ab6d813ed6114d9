package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary a child for the tests below: "alloc N"
// touches N MiB, waits 200 ms and exits 3; "serve" says ready on stderr,
// prints two lines and a partial one on stdout and waits for a signal.
const helperEnv = "TESTKIT_TEST_HELPER"

func TestMain(m *testing.M) {
	switch mode := os.Getenv(helperEnv); {
	case strings.HasPrefix(mode, "alloc "):
		var mib int
		fmt.Sscan(strings.TrimPrefix(mode, "alloc "), &mib)
		b := make([]byte, mib<<20)
		for i := range b {
			b[i] = byte(i)
		}
		// VmHWM is read every 2 ms: stay a moment at the peak.
		time.Sleep(200 * time.Millisecond)
		runtime.KeepAlive(b)
		os.Exit(3)
	case mode == "serve":
		fmt.Fprintln(os.Stderr, "ready")
		fmt.Println("one")
		fmt.Print("two\nthr")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func helper(t *testing.T, mode string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	return cmd
}

// fakeTB records what Golden reports; Fatalf ends the goroutine as
// testing's does.
type fakeTB struct {
	testing.TB
	errs []string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Errorf(format string, args ...any) {
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}
func (f *fakeTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

// golden runs Golden on a fakeTB in its own goroutine and returns what it
// reported.
func golden(path string, got []byte) []string {
	f := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Golden(f, path, got)
	}()
	<-done
	return f.errs
}

func TestGolden(t *testing.T) {
	if Updating() {
		t.Skip("skipped with -update: the cases need the comparison")
	}
	path := filepath.Join(t.TempDir(), "x.golden")
	if errs := golden(path, []byte("a\n")); len(errs) != 1 || !strings.Contains(errs[0], "run go test -update") {
		t.Errorf("missing golden file: %q", errs)
	}
	if err := os.WriteFile(path, []byte("a\nb\nc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if errs := golden(path, []byte("a\nb\nc\n")); len(errs) != 0 {
		t.Errorf("same bytes: %q", errs)
	}
	for _, got := range []string{"a\nB\nc\n", "a\nb\nc", "a\nb\nc\nd\n", ""} {
		errs := golden(path, []byte(got))
		if len(errs) != 1 || !strings.Contains(errs[0], path) || !strings.Contains(errs[0], "line ") {
			t.Errorf("%q against %q: %q, want one error naming the file and the line", got, "a\nb\nc\n", errs)
		}
	}
}

func TestRunPeakRSS(t *testing.T) {
	r := Run(t, 30*time.Second, helper(t, "alloc 64"))
	if r.Code != 3 {
		t.Errorf("exit %d, want 3\n%s", r.Code, r.Stderr)
	}
	if r.PeakRSS < 64<<10 || r.PeakRSS > 256<<10 {
		t.Errorf("peak RSS %d KiB for 64 MiB touched", r.PeakRSS)
	}
	if r.RUMaxRSS < 64<<10 {
		t.Errorf("ru_maxrss %d KiB for 64 MiB touched", r.RUMaxRSS)
	}
}

func TestStart(t *testing.T) {
	p := Start(t, helper(t, "serve"))
	p.WaitFor(t, "ready", 10*time.Second)
	if !Poll(5*time.Second, func() bool { return len(p.Stdout.Lines()) == 2 }) {
		t.Fatalf("lines %q", p.Stdout.String())
	}
	lines := p.Stdout.Lines()
	if lines[0].Text != "one" || lines[1].Text != "two" || lines[0].At.IsZero() || lines[1].At.Before(lines[0].At) {
		t.Errorf("lines %+v, want one and two, timed, not the partial thr", lines)
	}
	if _, exited := p.Exited(50 * time.Millisecond); exited {
		t.Fatal("exited before the signal")
	}
	p.Signal(t, syscall.SIGTERM)
	if code := p.Wait(t, 5*time.Second); code != -1 || p.ExitedAt().IsZero() {
		t.Errorf("exit %d at %v after SIGTERM, want -1 (signalled)", code, p.ExitedAt())
	}
}
