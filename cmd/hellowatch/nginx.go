package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // --nginx-log-tz names work on hosts without zoneinfo

	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/nginx/conf"
	"github.com/hellowatch/hellowatch/nginx/errlog"
	"github.com/hellowatch/hellowatch/report"
)

// nginxOptions are the flags that bring in the user's own nginx files.
type nginxOptions struct {
	errorLogs stringList
	logTZ     string
	conf      string
}

func addNginxFlags(fs *flag.FlagSet, o *nginxOptions) {
	fs.Var(&o.errorLogs, "nginx-error-log", "nginx error log `file` whose upstream TLS lines are joined to the handshakes (read whole with -r, followed like tail -F with -i); repeatable")
	fs.Var(&checkedString{p: &o.logTZ, check: func(v string) error { _, err := parseLogTZ(v); return err }}, "nginx-log-tz",
		"time `zone` of the nginx error log (an IANA name such as Europe/Berlin, UTC, or an offset such as +05:30); default the host's")
	fs.StringVar(&o.conf, "nginx-conf", "", "nginx configuration `file` (- for the output of nginx -T on stdin): fixes name its file and line")
}

// nginxHold is how long a live failed handshake waits for its log line
// before it is written without one: nginx writes the line as it gives up,
// the follower polls every 250 ms.
const nginxHold = 2 * time.Second

var tzOffset = regexp.MustCompile(`^(?:UTC|GMT)?([+-])(\d\d):?(\d\d)$`)

func parseLogTZ(s string) (*time.Location, error) {
	if s == "" || s == "Local" {
		return time.Local, nil
	}
	if m := tzOffset.FindStringSubmatch(s); m != nil {
		h, _ := strconv.Atoi(m[2])
		mi, _ := strconv.Atoi(m[3])
		off := h*3600 + mi*60
		if m[1] == "-" {
			off = -off
		}
		return time.FixedZone(s, off), nil
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a zone name or a +HH:MM offset", s)
	}
	return loc, nil
}

// held is a live failed handshake waiting for its line.
type held struct {
	h     *handshake.Handshake
	fs    []diagnose.Finding
	hs    errlog.Handshake
	until time.Time
}

// lookahead is a -r error log read lazily, in step with the capture.
type lookahead struct {
	sc  *errlog.Scanner
	f   *os.File
	cur errlog.Entry
	ok  bool
}

// nginxSide joins the user's nginx error-log lines to the handshakes and
// names their configuration's lines in the fixes.
type nginxSide struct {
	mu        sync.Mutex
	j         *errlog.Joiner
	live      bool
	scans     []*lookahead
	followers []*errlog.Follower
	stop      context.CancelFunc
	wg        sync.WaitGroup
	held      []held
	model     *conf.Model
	write     func(*handshake.Handshake, []diagnose.Finding, []report.LogLine)
	hasLog    bool
}

// openNginx sets up --nginx-error-log and --nginx-conf; nil without them.
func openNginx(o nginxOptions, live bool, stdinTaken bool, write func(*handshake.Handshake, []diagnose.Finding, []report.LogLine)) (*nginxSide, error) {
	if len(o.errorLogs) == 0 && o.conf == "" {
		return nil, nil
	}
	loc, err := parseLogTZ(o.logTZ)
	if err != nil {
		return nil, err
	}
	n := &nginxSide{j: errlog.NewJoiner(errlog.JoinConfig{}), live: live, write: write, hasLog: len(o.errorLogs) > 0}
	if o.conf != "" {
		if o.conf == "-" && stdinTaken {
			return nil, errors.New("--nginx-conf -: standard input is already the capture (-r -)")
		}
		cfg, err := loadNginxConf(o.conf, os.Stdin)
		if err != nil {
			return nil, fmt.Errorf("--nginx-conf: %w", err)
		}
		n.model = conf.Analyze(cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		n.model.Resolve(func(host string) []netip.Addr {
			addrs, _ := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
			return addrs
		})
		cancel()
	}
	for _, name := range o.errorLogs {
		if live {
			f := &errlog.Follower{Path: name, Loc: loc, OnEntry: n.addEntry, Poll: 100 * time.Millisecond}
			n.followers = append(n.followers, f)
			continue
		}
		fh, err := os.Open(name)
		if err != nil {
			n.close()
			return nil, fmt.Errorf("--nginx-error-log: %w", err)
		}
		la := &lookahead{sc: errlog.NewScanner(fh, name, loc, 0), f: fh}
		la.ok = la.sc.Scan()
		la.cur = la.sc.Entry()
		n.scans = append(n.scans, la)
	}
	if live {
		ctx, cancel := context.WithCancel(context.Background())
		n.stop = cancel
		for _, f := range n.followers {
			n.wg.Add(1)
			go func() { defer n.wg.Done(); f.Run(ctx) }()
		}
		n.wg.Add(1)
		go func() { defer n.wg.Done(); n.tick(ctx) }()
	}
	return n, nil
}

func (n *nginxSide) addEntry(e errlog.Entry) {
	n.mu.Lock()
	n.j.AddEntry(e)
	n.mu.Unlock()
}

// pull reads -r log lines up to until into the joiner.
func (n *nginxSide) pull(until time.Time, all bool) {
	for _, la := range n.scans {
		for la.ok && (all || !la.cur.Time.After(until)) {
			n.j.AddEntry(la.cur)
			la.ok = la.sc.Scan()
			la.cur = la.sc.Entry()
		}
	}
}

func toJoin(h *handshake.Handshake, failed bool) errlog.Handshake {
	end := h.EndTime
	for _, t := range []time.Time{h.ClientHelloTime, h.FirstAnswerTime} {
		if end.Before(t) {
			end = t
		}
	}
	return errlog.Handshake{ID: h.FirstPacket, Server: h.Server, Start: h.ClientHelloTime, End: end,
		Failed: failed, Answered: !h.FirstAnswerTime.IsZero()}
}

// record takes one finished handshake: it names the configuration's site
// in the fixes and finds its log line. held is true when the handshake
// waits (live) for a line that may still come; it is written later.
func (n *nginxSide) record(h *handshake.Handshake, fs []diagnose.Finding, failed bool) ([]diagnose.Finding, []report.LogLine, bool) {
	fs = n.annotate(h, fs)
	if !n.hasLog || h.Transport != handshake.TransportTCP {
		return fs, nil, false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	hs := toJoin(h, failed)
	if !n.live {
		cfg := n.j.Config()
		n.pull(n.j.Latest(hs).Add(cfg.Skew+time.Second), false)
		n.j.Advance(hs.End)
	}
	if m, ok := n.j.Take(hs); ok {
		return fs, []report.LogLine{logLine(m.Entry)}, false
	}
	if !failed {
		return fs, nil, false
	}
	if n.live {
		n.held = append(n.held, held{h: h, fs: fs, hs: hs, until: time.Now().Add(nginxHold)})
		return fs, nil, true
	}
	// A line that comes later in the log can still explain it (counts).
	n.j.AddHandshake(hs)
	return fs, nil, false
}

func logLine(e errlog.Entry) report.LogLine {
	return report.LogLine{File: e.File, Line: e.Line, Text: e.Raw}
}

// tick writes held handshakes once their line came or their wait ran out.
func (n *nginxSide) tick(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n.release(now, false)
		}
	}
}

type pendingWrite struct {
	h     *handshake.Handshake
	fs    []diagnose.Finding
	lines []report.LogLine
}

func (n *nginxSide) release(now time.Time, all bool) {
	n.mu.Lock()
	var out []pendingWrite
	keep := n.held[:0]
	for _, x := range n.held {
		if m, ok := n.j.Take(x.hs); ok {
			out = append(out, pendingWrite{x.h, x.fs, []report.LogLine{logLine(m.Entry)}})
			continue
		}
		if all || !now.Before(x.until) {
			n.j.AddHandshake(x.hs)
			out = append(out, pendingWrite{x.h, x.fs, nil})
			continue
		}
		keep = append(keep, x)
	}
	clear(n.held[len(keep):])
	n.held = keep
	n.j.Advance(now)
	n.mu.Unlock()
	for _, w := range out {
		n.write(w.h, w.fs, w.lines)
	}
}

// finish writes what is held, reads the rest of the logs and decides
// every line; it returns the counts for the summary.
func (n *nginxSide) finish() *report.NginxStats {
	if n.stop != nil {
		n.stop()
		n.wg.Wait()
		n.stop = nil
	}
	n.release(time.Now(), true)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.pull(time.Time{}, true)
	n.j.Close()
	return n.statsLocked()
}

func (n *nginxSide) statsLocked() *report.NginxStats {
	if !n.hasLog {
		return nil
	}
	var st errlog.Stats
	for _, la := range n.scans {
		s := la.sc.Stats()
		st.Entries += s.Entries
		st.NotTLS += s.NotTLS
		st.Malformed += s.Malformed
		st.TooLong += s.TooLong
	}
	for _, f := range n.followers {
		s := f.Stats()
		st.Entries += s.Entries
		st.NotTLS += s.NotTLS
		st.Malformed += s.Malformed
		st.TooLong += s.TooLong
	}
	js := n.j.Stats()
	return &report.NginxStats{
		Lines: uint64(st.Entries), Joined: uint64(js.Matched), Unexplained: uint64(js.UnexplainedLines),
		Silent: uint64(js.SilentFailures), Skipped: uint64(st.NotTLS + st.Malformed + st.TooLong),
	}
}

// stats returns the counts so far (nil without --nginx-error-log).
func (n *nginxSide) stats() *report.NginxStats {
	if n == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.statsLocked()
}

func (n *nginxSide) close() {
	for _, la := range n.scans {
		la.f.Close()
	}
}

// annotate names the --nginx-conf site that reaches the handshake's server
// in its findings' fixes.
func (n *nginxSide) annotate(h *handshake.Handshake, fs []diagnose.Finding) []diagnose.Finding {
	if n.model == nil || len(fs) == 0 {
		return fs
	}
	sts := n.model.SitesFor(h.Server)
	if len(sts) == 0 {
		return fs
	}
	st := sts[0]
	var also []string
	for _, o := range sts[1:] {
		also = append(also, fmt.Sprintf("%s:%d", o.Site.At.File, o.Site.At.Line))
	}
	where := fmt.Sprintf("`%s` at %s:%d", st.Site.At.String(), st.Site.At.File, st.Site.At.Line)
	if len(also) > 0 {
		where += " (also " + strings.Join(also, ", ") + ")"
	}
	for i := range fs {
		f := &fs[i]
		var text string
		switch f.ID {
		case diagnose.MissingSNI, diagnose.MissingSNIResumed, diagnose.SNIIsIP:
			if st.Target.SendsSNI() && st.Target.Known {
				text = fmt.Sprintf("nginx: %s sends SNI %q by that configuration, but this hello had none: is it the configuration nginx runs (nginx -T)?", where, st.Target.SNI)
			} else {
				text = "nginx: " + conf.FixText(st.Site, st.Target)
				if len(also) > 0 {
					text += " (the same upstream is also reached from " + strings.Join(also, ", ") + ")"
				}
			}
		default:
			if f.Hint == "" {
				continue
			}
			text = f.Hint + " — nginx: " + where
		}
		f.Hint = text
		for k := range f.Hints {
			if f.Hints[k].Client == "nginx" {
				f.Hints[k].Text = strings.TrimPrefix(text, "nginx: ")
			}
		}
	}
	return fs
}
