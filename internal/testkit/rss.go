package testkit

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Result is what one run of a command produced.
type Result struct {
	Code int
	// Stdout and Stderr hold the output unless the command had writers of
	// its own.
	Stdout, Stderr []byte
	// PeakRSS is the process's own peak resident set size in KiB (VmHWM,
	// read every 2 ms until it exits: a peak in its last 2 ms is missed). RUMaxRSS is getrusage's ru_maxrss,
	// an upper bound: a child started with vfork, as os/exec does, counts
	// the parent's RSS at exec time.
	PeakRSS, RUMaxRSS int64
	Wall              time.Duration
}

// Run runs cmd to its end with a deadline and returns its exit code,
// output and peak RSS. It fails the test when the command cannot start or
// is still running after timeout (it is killed then); output whose size
// matters goes to cmd.Stdout set by the caller (a file), not to memory.
func Run(t testing.TB, timeout time.Duration, cmd *exec.Cmd) Result {
	t.Helper()
	var so, se Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &so
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &se
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	timedOut := make(chan bool, 1)
	timer := time.AfterFunc(timeout, func() {
		timedOut <- true
		_ = cmd.Process.Kill()
	})
	done := make(chan struct{})
	hwm := make(chan int64, 1)
	go func() {
		var peak int64
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			if v := PeakRSS(cmd.Process.Pid); v > peak {
				peak = v
			}
			select {
			case <-done:
				hwm <- peak
				return
			case <-tick.C:
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	timer.Stop()
	r := Result{Stdout: so.b.Bytes(), Stderr: se.b.Bytes(), Wall: time.Since(start), PeakRSS: <-hwm}
	select {
	case <-timedOut:
		t.Fatalf("%s %s: still running after %v (killed)\nstderr:\n%s", cmd.Path, strings.Join(cmd.Args[1:], " "), timeout, LastLines(se.String(), 20))
	default:
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run %s: %v", cmd.Path, err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.RUMaxRSS = ru.Maxrss
	}
	return r
}

// PeakRSS returns the peak resident set size (KiB) of process pid so far,
// or 0 once it has exited.
func PeakRSS(pid int) int64 {
	st, err := ProcStatus("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSuffix(st["VmHWM"], " kB"), 10, 64)
	return n
}

// ProcStatus returns the fields of a /proc/<pid>[/task/<tid>]/status file,
// each value with its runs of white space folded to one space.
func ProcStatus(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return m, nil
}
