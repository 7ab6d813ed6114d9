package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Env is the environment for a hellowatch subprocess: ours without any
// HELLOWATCH_* variable (so the caller's shell cannot change a test), with
// NO_COLOR=1 and then extra.
func Env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HELLOWATCH_") {
			env = append(env, kv)
		}
	}
	return append(append(env, "NO_COLOR=1"), extra...)
}

// ModuleRoot returns the directory of go.mod at or above the working
// directory (a test runs in its package's directory).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("testkit: no go.mod at or above the working directory")
		}
		dir = up
	}
}

// Build builds the command pkg of the module (e.g. "./cmd/hellowatch")
// into a fresh temporary directory and returns the binary's path; with
// race, under the race detector. It skips the test when the go tool is not
// in PATH. Go's build cache makes a second build a link step.
func Build(t testing.TB, pkg string, race bool) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("skipped: the go tool is not in PATH, cannot build the binary")
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
	cmd.Dir = ModuleRoot(t)
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// Buffer is a bytes.Buffer safe for one writer and many readers. It notes
// when each line was written: Lines returns them with that time.
type Buffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	ends  []int       // offset just past each '\n'
	times []time.Time // when each line's '\n' was written
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	off := s.b.Len()
	for i, c := range p {
		if c == '\n' {
			s.ends = append(s.ends, off+i+1)
			s.times = append(s.times, now)
		}
	}
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Line is one line of output and when it was written.
type Line struct {
	Text string // without the newline
	At   time.Time
}

// Lines returns the complete lines written so far.
func (s *Buffer) Lines() []Line {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.b.Bytes()
	out := make([]Line, len(s.ends))
	start := 0
	for i, end := range s.ends {
		out[i] = Line{Text: string(b[start : end-1]), At: s.times[i]}
		start = end
	}
	return out
}

// Proc is a running subprocess whose stdout and stderr are kept.
type Proc struct {
	Cmd            *exec.Cmd
	Stdout, Stderr *Buffer
	done           chan struct{}
	exitedAt       time.Time
	code           int
}

// Start starts cmd with stdout and stderr into p.Stdout and p.Stderr
// (unless cmd has its own) and, at cleanup, ends it if the test has not:
// SIGTERM, then SIGKILL after 5 s.
func Start(t testing.TB, cmd *exec.Cmd) *Proc {
	t.Helper()
	p := &Proc{Cmd: cmd, Stdout: &Buffer{}, Stderr: &Buffer{}, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.Stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = p.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	go func() {
		err := cmd.Wait()
		p.exitedAt = time.Now()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			p.code = ee.ExitCode()
		case err != nil:
			p.code = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
			return
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// Signal sends sig to the process.
func (p *Proc) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// Exited waits up to d for the process to end and returns its exit code
// (-1 when it did not exit normally) and whether it ended.
func (p *Proc) Exited(d time.Duration) (int, bool) {
	select {
	case <-p.done:
		return p.code, true
	case <-time.After(d):
		return 0, false
	}
}

// Wait waits up to d for the process to end and returns its exit code; it
// fails the test if the process is still running then.
func (p *Proc) Wait(t testing.TB, d time.Duration) int {
	t.Helper()
	code, ok := p.Exited(d)
	if !ok {
		t.Fatalf("%s still running after %v\nstderr:\n%s", filepath.Base(p.Cmd.Path), d, p.Stderr.String())
	}
	return code
}

// ExitedAt is when the process ended (zero while it runs).
func (p *Proc) ExitedAt() time.Time {
	select {
	case <-p.done:
		return p.exitedAt
	default:
		return time.Time{}
	}
}

// WaitStderr polls stderr every 10 ms until a line satisfies match and
// returns it. It fails the test when the process exits first or d passes.
func (p *Proc) WaitStderr(t testing.TB, what string, d time.Duration, match func(line string) bool) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		for _, l := range p.Stderr.Lines() {
			if match(l.Text) {
				return l.Text
			}
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited (code %d) before %s\nstderr:\n%s", filepath.Base(p.Cmd.Path), p.code, what, p.Stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s on stderr after %v\nstderr:\n%s", what, d, p.Stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitFor waits until a line of stderr contains s (see WaitStderr).
func (p *Proc) WaitFor(t testing.TB, s string, d time.Duration) {
	t.Helper()
	p.WaitStderr(t, strconv.Quote(s), d, func(l string) bool { return strings.Contains(l, s) })
}

// LogLine waits for a JSON log line on stderr whose msg is msg and returns
// its fields (see WaitStderr).
func (p *Proc) LogLine(t testing.TB, msg string, d time.Duration) map[string]any {
	t.Helper()
	var m map[string]any
	p.WaitStderr(t, "log line "+strconv.Quote(msg), d, func(l string) bool {
		m = nil
		return json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg
	})
	return m
}

// Poll calls cond every 20 ms until it holds or d has passed, and returns
// its last result.
func Poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// NoPanic fails the test when output holds a Go panic or fatal error trace.
func NoPanic(t testing.TB, output string) {
	t.Helper()
	for _, s := range []string{"panic:", "goroutine ", "fatal error:", "runtime error"} {
		if strings.Contains(output, s) {
			t.Fatalf("output holds %q:\n%s", s, LastLines(output, 40))
		}
	}
}

// LastLines returns the last n lines of s, for failure messages.
func LastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
