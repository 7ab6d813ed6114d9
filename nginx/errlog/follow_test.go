package errlog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func logLine(conn int) string {
	return fmt.Sprintf(`2026/11/26 10:00:00 [error] 7#7: *%d SSL_do_handshake() failed (SSL: error:0A000410:SSL routines::sslv3 alert handshake failure:SSL alert number 40) while SSL handshaking to upstream, client: 127.0.0.1, server: , request: "GET / HTTP/1.1", upstream: "https://127.0.0.1:8443/", host: "x"`, conn)
}

type followed struct {
	mu      sync.Mutex
	entries []Entry
}

func (f *followed) add(e Entry) { f.mu.Lock(); f.entries = append(f.entries, e); f.mu.Unlock() }

// waitConns waits until the entries read are exactly conns, in order, with
// those line numbers.
func (f *followed) wait(t *testing.T, conns []uint64, lines []int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.mu.Lock()
		var got []string
		for _, e := range f.entries {
			got = append(got, fmt.Sprintf("%d@%d", e.Conn, e.Line))
		}
		f.mu.Unlock()
		var want []string
		for i := range conns {
			want = append(want, fmt.Sprintf("%d@%d", conns[i], lines[i]))
		}
		if strings.Join(got, " ") == strings.Join(want, " ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("entries (conn@line) %v, want %v", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func startFollower(t *testing.T, path string, fromStart bool) (*Follower, *followed) {
	got := &followed{}
	fl := &Follower{Path: path, Poll: 5 * time.Millisecond, FromStart: fromStart, OnEntry: got.add, MaxLine: 1024}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fl.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return fl, got
}

func TestFollowerSkipsOldLinesAndJoinsPartialWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "error.log")
	appendFile(t, path, logLine(1)+"\n"+logLine(2)+"\n")
	fl, got := startFollower(t, path, false)
	time.Sleep(30 * time.Millisecond)
	l := logLine(3)
	appendFile(t, path, l[:50])
	time.Sleep(30 * time.Millisecond)
	appendFile(t, path, l[50:]+"\n")
	got.wait(t, []uint64{3}, []int64{3})
	if st := fl.Stats(); st.Lines != 1 || st.Entries != 1 {
		t.Errorf("stats %+v, want the one new line", st)
	}
}

func TestFollowerFileAppearsLater(t *testing.T) {
	path := filepath.Join(t.TempDir(), "error.log")
	_, got := startFollower(t, path, false)
	time.Sleep(30 * time.Millisecond)
	appendFile(t, path, logLine(1)+"\nnot a log line\n"+logLine(2)+"\n")
	got.wait(t, []uint64{1, 2}, []int64{1, 3})
}

func TestFollowerRotationByRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "error.log")
	appendFile(t, path, logLine(1)+"\n")
	// nginx's open descriptor, as logrotate leaves it until USR1.
	old, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	fl, got := startFollower(t, path, true)
	got.wait(t, []uint64{1}, []int64{1})
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	// Written to the renamed file before nginx reopens its log.
	old.WriteString(logLine(2) + "\n")
	time.Sleep(30 * time.Millisecond)
	appendFile(t, path, logLine(3)+"\n"+logLine(4)+"\n")
	got.wait(t, []uint64{1, 2, 3, 4}, []int64{1, 2, 1, 2})
	if r, _ := fl.Reopened(); r != 1 {
		t.Errorf("rotations %d, want 1", r)
	}
	// A second rotation, this time by removal.
	os.Remove(path)
	time.Sleep(30 * time.Millisecond)
	appendFile(t, path, logLine(5)+"\n")
	got.wait(t, []uint64{1, 2, 3, 4, 5}, []int64{1, 2, 1, 2, 1})
}

func TestFollowerTruncation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "error.log")
	appendFile(t, path, logLine(1)+"\n"+logLine(2)+"\n")
	fl, got := startFollower(t, path, true)
	got.wait(t, []uint64{1, 2}, []int64{1, 2})
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	appendFile(t, path, logLine(3)+"\n")
	got.wait(t, []uint64{1, 2, 3}, []int64{1, 2, 1})
	if _, tr := fl.Reopened(); tr != 1 {
		t.Errorf("truncations %d, want 1", tr)
	}
}

func TestFollowerSkipsLongLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "error.log")
	fl, got := startFollower(t, path, true)
	appendFile(t, path, logLine(1)+strings.Repeat("x", 5000)+"\n")
	appendFile(t, path, strings.Repeat("y", 3000))
	time.Sleep(30 * time.Millisecond)
	appendFile(t, path, strings.Repeat("y", 3000)+"\n"+logLine(2)+"\n")
	got.wait(t, []uint64{2}, []int64{3})
	if st := fl.Stats(); st.TooLong != 2 {
		t.Errorf("stats %+v, want 2 too long", st)
	}
}

func TestScannerCapsAndCounts(t *testing.T) {
	in := logLine(1) + "\r\n" + strings.Repeat("z", 100) + "\n\n" + "2026/11/26 10:00:00 [notice] 1#1: exiting\n" + logLine(2)
	sc := NewScanner(strings.NewReader(in), "f", nil, 80+len(logLine(1)))
	var conns []uint64
	for sc.Scan() {
		conns = append(conns, sc.Entry().Conn)
		if strings.HasSuffix(sc.Entry().Raw, "\r") {
			t.Error("CR kept")
		}
	}
	if fmt.Sprint(conns) != "[1 2]" {
		t.Errorf("conns %v", conns)
	}
	want := Stats{Lines: 5, Entries: 2, NotTLS: 1, Malformed: 2}
	if sc.Stats() != want {
		t.Errorf("stats %+v, want %+v", sc.Stats(), want)
	}
	sc = NewScanner(strings.NewReader(in), "f", nil, 60)
	for sc.Scan() {
		t.Error("entry longer than the cap")
	}
	if st := sc.Stats(); st.TooLong != 3 {
		t.Errorf("stats %+v, want 3 too long", st)
	}
}
