package errlog

import (
	"bytes"
	"errors"
	"io"
	"time"
)

// DefaultMaxLine is the longest line read by default. nginx truncates its
// error-log lines at 2048 bytes (NGX_MAX_ERROR_STR); a longer line is not
// nginx's and is skipped.
const DefaultMaxLine = 4096

// Stats counts what a reader saw.
type Stats struct {
	Lines     int64 // lines read
	Entries   int64 // upstream TLS lines parsed into an Entry
	NotTLS    int64 // nginx lines about something else
	Malformed int64 // lines that are not nginx error-log lines
	TooLong   int64 // lines longer than the cap, skipped
}

// lineSplitter cuts a byte stream into lines with a fixed cap: a line longer
// than max is dropped whole, so memory stays at max bytes whatever comes in.
type lineSplitter struct {
	max        int
	pending    []byte // start of a line whose end has not arrived
	discarding bool   // inside a line already known to be too long
}

// feed splits b; emit gets each whole line (without "\n" or "\r\n"; it
// aliases b or the splitter's buffer, valid during the call) or tooLong.
func (s *lineSplitter) feed(b []byte, emit func(line []byte, tooLong bool)) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if s.discarding {
				return
			}
			if len(s.pending)+len(b) > s.max {
				s.pending, s.discarding = s.pending[:0], true
				return
			}
			s.pending = append(s.pending, b...)
			return
		}
		switch {
		case s.discarding:
			s.discarding = false
			emit(nil, true)
		case len(s.pending)+i > s.max:
			s.pending = s.pending[:0]
			emit(nil, true)
		case len(s.pending) == 0:
			emit(trimCR(b[:i]), false)
		default:
			s.pending = append(s.pending, b[:i]...)
			emit(trimCR(s.pending), false)
			s.pending = s.pending[:0]
		}
		b = b[i+1:]
	}
}

// flush emits a last line that had no newline.
func (s *lineSplitter) flush(emit func(line []byte, tooLong bool)) {
	switch {
	case s.discarding:
		emit(nil, true)
	case len(s.pending) > 0:
		emit(trimCR(s.pending), false)
	}
	s.reset()
}

func (s *lineSplitter) reset() { s.pending, s.discarding = s.pending[:0], false }

func trimCR(b []byte) []byte { return bytes.TrimSuffix(b, []byte("\r")) }

// lineParser turns lines into entries and keeps the counts.
type lineParser struct {
	file  string
	loc   *time.Location
	line  int64
	stats Stats
}

func (p *lineParser) parse(b []byte, tooLong bool) (Entry, bool) {
	p.line++
	p.stats.Lines++
	if tooLong {
		p.stats.TooLong++
		return Entry{}, false
	}
	e, err := Parse(b, p.loc)
	switch {
	case err == nil:
		p.stats.Entries++
		e.File, e.Line = p.file, p.line
		return e, true
	case errors.Is(err, ErrNotTLS):
		p.stats.NotTLS++
	default:
		p.stats.Malformed++
	}
	return Entry{}, false
}

// Scanner reads an error log once, start to end, in bounded memory: a
// 64 KiB read buffer and one line of at most the cap.
type Scanner struct {
	r     io.Reader
	split lineSplitter
	p     lineParser
	buf   []byte
	queue []Entry // entries cut from the last read, not yet returned
	cur   Entry
	err   error
	eof   bool
}

// NewScanner returns a Scanner reading r, whose entries name file. loc is
// nginx's time zone (nil: UTC); maxLine <= 0 means DefaultMaxLine.
func NewScanner(r io.Reader, file string, loc *time.Location, maxLine int) *Scanner {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	return &Scanner{
		r:     r,
		split: lineSplitter{max: maxLine},
		p:     lineParser{file: file, loc: loc},
		buf:   make([]byte, 64<<10),
	}
}

// Scan advances to the next upstream TLS entry, skipping (and counting)
// every other line. It returns false at the end of input or on a read
// error (see Err).
func (s *Scanner) Scan() bool {
	emit := func(b []byte, tooLong bool) {
		if e, ok := s.p.parse(b, tooLong); ok {
			s.queue = append(s.queue, e)
		}
	}
	for len(s.queue) == 0 {
		if s.eof {
			return false
		}
		n, err := s.r.Read(s.buf)
		s.split.feed(s.buf[:n], emit)
		if err != nil {
			s.eof = true
			s.split.flush(emit)
			if err != io.EOF {
				s.err = err
			}
		}
	}
	s.cur = s.queue[0]
	s.queue[0] = Entry{}
	s.queue = s.queue[1:]
	return true
}

// Entry returns the entry Scan advanced to.
func (s *Scanner) Entry() Entry { return s.cur }

// Err returns the read error that ended the scan, nil at a clean end.
func (s *Scanner) Err() error { return s.err }

// Stats returns the counts so far.
func (s *Scanner) Stats() Stats { return s.p.stats }
