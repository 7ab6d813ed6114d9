package errlog

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"
)

// DefaultPoll is how often a Follower looks for new lines, a rotation or a
// truncation.
const DefaultPoll = 250 * time.Millisecond

// Follower follows an error log live, like `tail -F`: it reads what is
// appended, and survives rotation by rename (logrotate's default: it reads
// the old file to its end, then opens the new one), truncation
// (copytruncate: it starts again from the top) and a file that does not
// exist yet or disappears for a while. It polls; no inotify, so it also
// works on bind mounts and network file systems.
//
// Lines already in the file when Run starts are skipped unless FromStart is
// set (their line numbers are still counted). Memory is bounded: one read
// buffer and one line of at most MaxLine bytes.
type Follower struct {
	// Path is the log file's name.
	Path string
	// Loc is nginx's time zone; nil means UTC.
	Loc *time.Location
	// MaxLine caps a line's length (<= 0: DefaultMaxLine).
	MaxLine int
	// Poll is the polling interval (<= 0: DefaultPoll).
	Poll time.Duration
	// FromStart reads the lines already in the file too.
	FromStart bool
	// OnEntry is called, on Run's goroutine, for each upstream TLS line.
	OnEntry func(Entry)

	mu    sync.Mutex
	stats Stats
	// Rotations and Truncations count what was followed through.
	rotations, truncations int64
}

// Stats returns the counts so far; safe to call while Run runs.
func (f *Follower) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// Reopened returns how many rotations and truncations were followed.
func (f *Follower) Reopened() (rotations, truncations int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rotations, f.truncations
}

// Run follows the file until ctx is done, then returns nil. It returns an
// error only for a file that exists but cannot be read.
func (f *Follower) Run(ctx context.Context) error {
	poll := f.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	max := f.MaxLine
	if max <= 0 {
		max = DefaultMaxLine
	}
	var (
		file  *os.File
		info  fs.FileInfo
		off   int64
		split = lineSplitter{max: max}
		p     = lineParser{file: f.Path, loc: f.Loc}
		buf   = make([]byte, 64<<10)
		first = true
		// skipUntil: lines before this offset were in the file when Run
		// started; they are counted, not parsed.
		skipUntil int64
	)
	defer func() {
		if file != nil {
			file.Close()
		}
	}()
	emit := func(b []byte, tooLong bool) {
		if off <= skipUntil && skipUntil > 0 {
			p.line++
			return
		}
		e, ok := p.parse(b, tooLong)
		f.mu.Lock()
		f.stats = p.stats
		f.mu.Unlock()
		if ok && f.OnEntry != nil {
			f.OnEntry(e)
		}
	}
	// drain reads file from off to its current end.
	drain := func() error {
		for {
			n, err := file.Read(buf)
			if n > 0 {
				// Feed line by line so that emit knows the offset of the
				// line it gets (for skipUntil).
				chunk := buf[:n]
				start := off
				for len(chunk) > 0 {
					i := bytes.IndexByte(chunk, '\n')
					if i < 0 {
						off = start + int64(len(chunk))
						split.feed(chunk, emit)
						break
					}
					off = start + int64(i) + 1
					split.feed(chunk[:i+1], emit)
					start = off
					chunk = chunk[i+1:]
				}
			}
			if err == io.EOF || n == 0 && err == nil {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	open := func() error {
		fh, err := os.Open(f.Path)
		if err != nil {
			return err
		}
		fi, err := fh.Stat()
		if err != nil {
			fh.Close()
			return err
		}
		file, info, off = fh, fi, 0
		p.line = 0
		split.reset()
		if first && !f.FromStart {
			skipUntil = fi.Size()
		} else {
			skipUntil = 0
		}
		first = false
		return nil
	}
	for {
		if file == nil {
			err := open()
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if err != nil {
				// A file created later is read from its start.
				first = false
			}
		}
		if file != nil {
			if err := drain(); err != nil {
				return err
			}
			// Truncated in place (copytruncate)?
			if fi, err := file.Stat(); err == nil && fi.Size() < off {
				f.count(false)
				if _, err := file.Seek(0, io.SeekStart); err == nil {
					split.reset()
					off, p.line, skipUntil = 0, 0, 0
					continue
				}
			}
			// Renamed away, with a new file under the name?
			if fi, err := os.Stat(f.Path); err == nil && !os.SameFile(fi, info) {
				if err := drain(); err != nil {
					return err
				}
				split.flush(emit)
				file.Close()
				file = nil
				f.count(true)
				first = false
				continue
			}
		}
		select {
		case <-ctx.Done():
			if file != nil {
				_ = drain()
			}
			return nil
		case <-time.After(poll):
		}
	}
}

func (f *Follower) count(rotation bool) {
	f.mu.Lock()
	if rotation {
		f.rotations++
	} else {
		f.truncations++
	}
	f.mu.Unlock()
}
