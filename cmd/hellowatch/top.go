package main

// hellowatch top: the same capture, filter, -w, --metrics-addr, -Z,
// --fail-on and summary as the main command (the same runner), with a
// full-screen view (report/top) in place of the lines on stdout. The view
// reads the runner's report.Summary, the one the end summary prints.

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hellowatch/hellowatch/capture"
	"github.com/hellowatch/hellowatch/report"
	"github.com/hellowatch/hellowatch/report/top"
)

// topKeepFailed is how many failed handshakes each row keeps for the
// detail view (Enter).
const topKeepFailed = 3

func init() { subcommands["top"] = topCommand }

// topCommand is hellowatch top: the main command's flags, environment and
// filter (newRunner), and --pace.
func topCommand(args []string, stdout, stderr io.Writer) int {
	o := options{top: true}
	r, code := newRunner(&o, args, stdout, stderr)
	if r == nil {
		return code
	}
	return runTop(r, stdout, stderr)
}

// addTopFlags adds the flags only top has.
func addTopFlags(fs *flag.FlagSet, o *options) {
	fs.BoolVar(&o.pace, "pace", false, "top -r: replay the files at the capture's own pace instead of as fast as they can be read")
	prev := fs.Usage
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "hellowatch top: a live full-screen view, one row per (server, SNI), sorted by failures.\n"+
			"Keys: ↑↓/j k move, Enter the row's latest failed handshakes, / filter, s sort, f failures only, p pause, q quit.\n\n")
		prev()
	}
}

// topView is top's part of a run: the view, and what the capture
// goroutine tells it.
type topView struct {
	stdout io.Writer
	color  bool
	stderr *lockedBuffer // what the run says on stderr while the view is up

	done  chan struct{}                // closed when the capture is over
	final atomic.Pointer[report.Stats] // the statistics at its end
	err   string                       // why it stopped, when it failed
}

// runTop runs r with the view. Everything the run writes to stderr (logs,
// errors, the end summary) waits in a buffer while the view has the
// terminal and is written out when it closes.
func runTop(r *runner, stdout, stderr io.Writer) int {
	if !isTerminal(stdout) {
		fmt.Fprintln(stderr, "hellowatch top: needs a terminal, and standard output is not one (without top, hellowatch writes lines of text or JSON)")
		return exitUsage
	}
	if !isTerminal(os.Stdin) {
		// Keys come from the controlling terminal then (-r - reads the
		// capture from standard input).
		tty, err := os.Open("/dev/tty")
		if err != nil {
			fmt.Fprintf(stderr, "hellowatch top: needs a terminal to read keys from: %v\n", err)
			return exitUsage
		}
		tty.Close()
	}
	buf := &lockedBuffer{}
	o := r.o
	if o.logFormat == "auto" {
		// As on the terminal the logs are waiting for.
		o.logFormat = "json"
		if isTerminal(stderr) {
			o.logFormat = "text"
		}
	}
	if o.summary == "auto" {
		o.summary = "always" // a view for people, as text output is
	}
	r.o, r.stderr, r.log = o, buf, newLogger(buf, o)
	r.top = &topView{stdout: stdout, stderr: buf, done: make(chan struct{}),
		color: o.color == "always" || o.color == "auto" && os.Getenv("NO_COLOR") == ""}
	code := r.run()
	if _, err := stderr.Write(buf.Bytes()); err != nil && code == exitOK {
		code = exitError
	}
	return code
}

// finalStats returns the statistics at the end of the capture, once it is
// over: the view showed them, and the end summary says the same.
func (v *topView) finalStats() *report.Stats {
	if v == nil {
		return nil
	}
	return v.final.Load()
}

// loopOrView runs the capture loop, under the view with top.
func (r *runner) loopOrView() int {
	if r.top == nil {
		return r.loop()
	}
	return r.top.run(r)
}

// run runs the capture loop on a goroutine of its own and the view on this
// one until the user quits; then it stops the capture (a file read to the
// end has stopped already: the view holds its final state).
func (v *topView) run(r *runner) int {
	r.text, r.json = nil, nil // no lines on stdout: the view is there
	r.sum.KeepFailed(topKeepFailed)
	quit := make(chan struct{})
	if r.o.pace && !r.live {
		r.src = &pacedSource{Source: r.src, stop: quit}
	}
	codec := make(chan int, 1)
	go func() {
		code := r.loop()
		r.tracker.Flush() // the records of the flows still open, for the view
		st := r.stats()
		if code != exitOK {
			v.err = v.stderr.lastLine("hellowatch: ")
		}
		v.final.Store(&st)
		close(v.done)
		codec <- code
	}()
	// The rows' rate: over the last 10 s live (wall clock) and with
	// --pace (capture time); over the whole capture for a file read at
	// full speed, and once the capture is over.
	clock := func() time.Time { return time.Time{} }
	switch src := r.src.(type) {
	case *pacedSource:
		clock = src.Now
	default:
		if r.live {
			clock = time.Now
		}
	}
	err := top.Run(top.Config{
		Fetch: func() top.Snapshot {
			s := top.Snapshot{At: time.Now()}
			if st := v.final.Load(); st != nil {
				s.Rows, s.Stats, s.Done, s.Err = r.sum.Rows(time.Time{}), *st, true, v.err
			} else {
				s.Rows, s.Stats = r.sum.Rows(clock()), r.stats()
			}
			return s
		},
		Done:   v.done,
		Color:  v.color,
		Live:   r.live,
		Source: sourceLabel(r.o),
	}, nil, v.stdout)
	r.stop.Store(true)
	close(quit)
	code := <-codec
	if err != nil {
		fmt.Fprintf(r.stderr, "hellowatch top: %v\n", err)
		if code == exitOK {
			code = exitError
		}
	}
	return code
}

// sourceLabel names the capture in the view's header.
func sourceLabel(o options) string {
	if o.iface != "" {
		return "-i " + report.EscapeWire(o.iface)
	}
	l := "-r " + report.EscapeWire(filepath.Base(o.files[0]))
	if len(o.files) > 1 {
		l += " +" + strconv.Itoa(len(o.files)-1)
	}
	return l
}

// pacedSource hands out a file's packets at the pace they were captured
// (top --pace): each one when as much time has passed since the first as
// between their timestamps. Each file starts afresh, so that files taken
// days apart replay one after the other. Every pacedTick it returns no
// packet, as a live source does on its read timeout, so that the loop
// advances the pipeline to Now (capture time, not the wall clock) and the
// records decided meanwhile come out while the replay waits.
type pacedSource struct {
	capture.Source
	stop     <-chan struct{} // closed when the view quits
	files    uint64          // the file the pace is anchored in
	start    time.Time       // when its first packet was handed out (monotonic)
	first    int64           // that packet's time
	anchored atomic.Bool
	offset   atomic.Int64    // capture time minus wall time, ns, for Now
	pending  *capture.Packet // the packet held back by a tick
	tick     time.Time       // when Next last returned no packet
}

const pacedTick = 100 * time.Millisecond

func (s *pacedSource) Next() (*capture.Packet, error) {
	p := s.pending
	s.pending = nil
	if p == nil {
		var err error
		if p, err = s.Source.Next(); p == nil || err != nil {
			return p, err
		}
		if f := s.Source.Stats().Files; !s.anchored.Load() || f != s.files {
			s.files, s.first, s.start = f, p.TS, time.Now()
			s.offset.Store(p.TS - s.start.UnixNano())
			s.anchored.Store(true)
			s.tick = s.start
			return p, nil
		}
	}
	due := s.start.Add(time.Duration(p.TS - s.first)) // on the monotonic clock
	for {
		untilTick := pacedTick - time.Since(s.tick)
		if untilTick <= 0 {
			s.tick, s.pending = time.Now(), p
			return nil, nil
		}
		wait := time.Until(due)
		if wait <= 0 {
			return p, nil
		}
		t := time.NewTimer(min(wait, untilTick))
		select {
		case <-t.C:
		case <-s.stop:
			t.Stop()
			return nil, io.EOF
		}
	}
}

// Now is how far the replay has got, in capture time; zero before its
// first packet. Safe from any goroutine.
func (s *pacedSource) Now() time.Time {
	if !s.anchored.Load() {
		return time.Time{}
	}
	return time.Unix(0, time.Now().UnixNano()+s.offset.Load()).UTC()
}

// sourceNow is the time the loop advances the pipeline to when the source
// has no packet: the wall clock for a live capture, the capture time
// reached for a paced replay.
func sourceNow(src capture.Source) time.Time {
	if p, ok := src.(*pacedSource); ok {
		return p.Now()
	}
	return time.Now()
}

// lockedBuffer is a bytes.Buffer for several goroutines (the logger, the
// capture loop, the metrics server).
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.b.Bytes())
}

// lastLine returns the last line that starts with prefix, without it.
func (b *lockedBuffer) lastLine(prefix string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	lines := strings.Split(strings.TrimRight(b.b.String(), "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l, ok := strings.CutPrefix(lines[i], prefix); ok {
			return l
		}
	}
	return ""
}
