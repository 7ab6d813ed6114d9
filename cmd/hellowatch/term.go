package main

import (
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hellowatch/hellowatch/capture"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// dropPrivileges switches the whole process to name's user and groups. The
// capture handle stays open: the kernel checked the privilege when the
// socket was made.
func dropPrivileges(name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return err
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return fmt.Errorf("uid %q: %v", u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return fmt.Errorf("gid %q: %v", u.Gid, err)
	}
	if err := syscall.Setgroups([]int{gid}); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("setgid: %w", err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("setuid: %w", err)
	}
	if syscall.Geteuid() == 0 && uid != 0 {
		return fmt.Errorf("still root after setuid(%d)", uid)
	}
	return nil
}

// progress prints "bytes of total, rate" on stderr while reading files,
// only when stderr is a terminal.
type progress struct {
	w     io.Writer
	total int64
	start time.Time
	last  time.Time
}

func newProgress(w io.Writer, files []string, live bool) *progress {
	if live || !isTerminal(w) {
		return nil
	}
	var total int64
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
			total += st.Size()
		}
	}
	now := time.Now()
	return &progress{w: w, total: total, start: now, last: now}
}

func (p *progress) update(st capture.SourceStats) {
	if p == nil {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = now
	read := int64(st.Bytes) + 16*int64(st.Packets)
	rate := float64(read) / now.Sub(p.start).Seconds() / 1e6
	if p.total > 0 {
		fmt.Fprintf(p.w, "\r%.0f of %.0f MB (%.0f%%), %.0f MB/s ", float64(read)/1e6, float64(p.total)/1e6, 100*float64(read)/float64(p.total), rate)
	} else {
		fmt.Fprintf(p.w, "\r%.0f MB, %.0f MB/s ", float64(read)/1e6, rate)
	}
}

func (p *progress) done() {
	if p == nil || p.last == p.start {
		return
	}
	fmt.Fprint(p.w, "\r\033[K")
}
