package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/hellowatch/hellowatch/across"
	"github.com/hellowatch/hellowatch/capture"
	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/report"
)

// runner holds one run's wiring: the source, the -w file, the output, the
// pipeline and the metrics server (docs/ARCHITECTURE.md, "The command").
type runner struct {
	o      options
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
	failOn map[string]bool

	src     capture.Source
	tracker *capture.Pipeline
	out     *bufio.Writer
	text    *report.TextWriter
	json    *report.JSONWriter
	records recordWriter       // zeek or ecs output (text and json are separate)
	zeekDir *report.ZeekWriter // --zeek-dir, or nil
	sum     *report.Summary
	across  *across.Stage
	metrics *report.Metrics
	pcap    *pcapOut // -w, or nil
	top     *topView // hellowatch top (top.go), or nil

	metricsLn  net.Listener // --metrics-addr, bound before -Z; nil without it
	metricsSrv *http.Server // --metrics-addr, or nil
	live       bool
	start      time.Time
	closers    []func() // undo the setup steps, last first

	lastSum    time.Time  // when the summary was last printed (--summary-interval)
	nginx      *nginxSide // --nginx-error-log, --nginx-conf; nil without
	outMu      sync.Mutex // guards out: held records (nginx) are written from another goroutine
	reported   int
	failedSeen bool
	stop       atomic.Bool
	ready      atomic.Bool
	writeErr   error
}

// run sets the run up, reads packets until the end and reports. The setup
// steps run in tcpdump's order: the capture is opened and the metrics port
// bound while still root, then -Z drops root, then the -w file is created
// as that user.
func (r *runner) run() int {
	r.start = time.Now()
	defer r.close()
	for _, step := range []func() error{
		r.startProfile, r.openSource, r.listenMetrics, r.dropPrivileges, r.openPcapOut, r.openZeekDir,
		r.openOutput, r.openNginx, r.startPipeline, r.serveMetrics, r.handleSignals,
	} {
		if err := step(); err != nil {
			fmt.Fprintf(r.stderr, "hellowatch: %v\n", err)
			return exitError
		}
	}
	code := r.loopOrView()
	return r.finish(code)
}

// close undoes the setup steps that ran, last first.
func (r *runner) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
}

func (r *runner) onClose(f func()) { r.closers = append(r.closers, f) }

// startProfile starts the --cpuprofile CPU profile; close stops it. With
// --memprofile, close writes the allocation profile.
func (r *runner) startProfile() error {
	if r.o.memProfile != "" {
		f, err := os.Create(r.o.memProfile)
		if err != nil {
			return fmt.Errorf("--memprofile: %w", err)
		}
		r.onClose(func() {
			runtime.GC() // the heap profile shows the state as of the last GC
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				fmt.Fprintf(r.stderr, "hellowatch: --memprofile: %v\n", err)
			}
			f.Close()
		})
	}
	if r.o.cpuProfile == "" {
		return nil
	}
	f, err := os.Create(r.o.cpuProfile)
	if err != nil {
		return fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("--cpuprofile: %w", err)
	}
	r.onClose(func() {
		pprof.StopCPUProfile()
		f.Close()
	})
	return nil
}

// openSource opens the interface (-i) or the files (-r) with the filter.
func (r *runner) openSource() error {
	o := r.o
	var err error
	if o.iface != "" {
		r.live = true
		r.src, err = capture.OpenLive(capture.LiveOptions{
			Interface: o.iface, Filter: o.filterOr(capture.DefaultFilter), Snaplen: o.snaplen, Promisc: !o.noPromisc,
			// Without immediate mode the kernel hands packets over in blocks
			// (TPACKET_V3), waking the reader at most every 100 ms instead of
			// once per packet: what keeps a busy interface free of drops.
			BufferSize: o.bufferKiB << 10, Immediate: o.immediate, Timeout: 100 * time.Millisecond,
		})
	} else {
		r.src, err = capture.OpenFiles(o.files)
		if err == nil && o.filter != "" {
			src := r.src
			if r.src, err = capture.FilterSource(src, o.filter); err != nil {
				src.Close()
			}
		}
	}
	if err != nil {
		return err
	}
	r.onClose(func() { r.src.Close() })
	r.ready.Store(true)
	return nil
}

// listenMetrics binds the metrics port before -Z drops root, so that it may
// be a privileged one; it serves once the capture runs.
func (r *runner) listenMetrics() error {
	if r.o.metricsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", r.o.metricsAddr)
	if err != nil {
		return fmt.Errorf("--metrics-addr: %w", err)
	}
	r.metricsLn = ln
	r.onClose(func() { ln.Close() }) // the server closes it too
	return nil
}

// dropPrivileges is -Z: like tcpdump, after opening the capture and before
// creating the -w file.
func (r *runner) dropPrivileges() error {
	if r.o.user == "" {
		return nil
	}
	if err := dropPrivileges(r.o.user); err != nil {
		return fmt.Errorf("-Z %s: %w", r.o.user, err)
	}
	r.log.Info("dropped privileges", "user", r.o.user)
	return nil
}

// openPcapOut creates the -w file.
func (r *runner) openPcapOut() error {
	if r.o.writeFile == "" {
		return nil
	}
	var err error
	if r.pcap, err = createPcapOut(r.o.writeFile, r.o.snaplen); err != nil {
		return fmt.Errorf("-w: %w", err)
	}
	r.onClose(func() { r.pcap.close() }) // idempotent; finish reports its error
	return nil
}

// openZeekDir opens the --zeek-dir logs.
func (r *runner) openZeekDir() error {
	if r.o.zeekDir == "" {
		return nil
	}
	var err error
	if r.zeekDir, err = report.OpenZeekDir(r.o.zeekDir); err != nil {
		return fmt.Errorf("--zeek-dir: %w", err)
	}
	r.onClose(func() { r.zeekDir.Close() })
	return nil
}

// openOutput chooses the record format and makes the writers.
func (r *runner) openOutput() error {
	o := r.o
	format := o.format
	if format == "auto" {
		if isTerminal(r.stdout) {
			format = "text"
		} else {
			format = "json"
		}
	}
	r.out = bufio.NewWriterSize(r.stdout, 64<<10)
	if format == "text" {
		color := o.color == "always" || (o.color == "auto" && isTerminal(r.stdout) && os.Getenv("NO_COLOR") == "")
		if os.Getenv("NO_COLOR") != "" && o.color != "always" {
			color = false
		}
		r.text = report.NewTextWriter(r.out, color)
	} else if format == "json" {
		r.json = report.NewJSONWriter(r.out)
	} else {
		r.records = newRecordWriter(format, r.out)
	}
	r.sum = report.NewSummary()
	r.across = across.New(across.Config{MaxServers: r.o.maxServers})
	return nil
}

// startPipeline starts the tracker's workers.
func (r *runner) startPipeline() error {
	o := r.o
	cfg := capture.Config{
		Timeout:          o.timeout,
		MaxFlows:         o.maxFlows,
		MaxBufferedBytes: o.maxBuffer,
		Tunnels:          capture.TunnelConfig{VXLANPorts: o.vxlanPorts},
		Emit:             r.emit,
	}
	if r.pcap != nil {
		cfg.Failed = func(h *handshake.Handshake) bool { return failed(h, diagnose.Diagnose(h)) }
		cfg.PacketOut = r.pcap.write
	}
	// Files: records in an order that does not depend on the workers' timing.
	r.tracker = capture.NewPipeline(cfg, o.workers, !r.live)
	r.onClose(func() { r.tracker.Close() })
	return nil
}

// serveMetrics serves /metrics, /healthz and /readyz on the bound port.
func (r *runner) serveMetrics() error {
	if r.metricsLn == nil {
		return nil
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.metrics = report.NewMetrics(reg, getVersion())
	r.metrics.SetStatsFunc(r.stats)
	srv := &http.Server{Handler: report.Handler(reg, r.ready.Load), ReadHeaderTimeout: 5 * time.Second}
	r.metricsSrv = srv
	ln := r.metricsLn
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.log.Error("metrics server", "err", err)
		}
	}()
	r.onClose(func() { srv.Close() })
	r.log.Info("serving metrics", "addr", ln.Addr().String())
	return nil
}

// handleSignals stops the loop on SIGINT or SIGTERM.
func (r *runner) handleSignals() error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	r.onClose(func() { signal.Stop(sigs); close(sigs) }) // ends the goroutine below, which holds the runner
	go func() {
		for s := range sigs {
			r.log.Info("stopping", "signal", s.String())
			r.stop.Store(true)
		}
	}()
	if r.live {
		r.log.Info("capturing", "interface", r.o.iface, "filter", r.o.filterOr(capture.DefaultFilter))
	}
	return nil
}

// finish drains the pipeline, closes the -w file, writes the summary and
// chooses the exit code.
func (r *runner) finish(code int) int {
	o := r.o
	r.tracker.Flush()
	var nginxStats *report.NginxStats
	if r.nginx != nil {
		nginxStats = r.nginx.finish()
	}
	r.outMu.Lock()
	r.out.Flush()
	r.outMu.Unlock()
	r.ready.Store(false)
	if r.pcap != nil {
		if err := r.pcap.close(); err != nil && r.writeErr == nil {
			r.writeErr = fmt.Errorf("-w: %w", err)
		}
	}
	if r.writeErr != nil {
		fmt.Fprintf(r.stderr, "hellowatch: %v\n", r.writeErr)
		code = exitError
	}
	if n := r.tracker.Faults(); n > 0 && code != exitError {
		fmt.Fprintf(r.stderr, "hellowatch: a capture file shrank while it was being read: %d batches of packets cut short\n", n)
		code = exitError
	}
	if o.summary == "always" || (o.summary == "auto" && (r.text != nil || r.live)) {
		st := r.stats()
		st.Nginx = nginxStats
		_ = r.sum.Write(r.stderr, st)
		_ = report.WriteSplits(r.stderr, r.across.Splits())
		if r.json != nil && r.writeErr == nil {
			r.writeSummaryJSON()
		}
	}
	if code == exitOK && r.failedSeen {
		code = exitFailures
	}
	return code
}

// loop reads packets until the end, an error, -c, or a signal.
func (r *runner) loop() int {
	prog := newProgress(r.stderr, r.o.files, r.live)
	for !r.stop.Load() {
		p, err := r.src.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				prog.done()
				return exitOK
			}
			prog.done()
			r.tracker.Flush()
			fmt.Fprintf(r.stderr, "hellowatch: %v\n", err)
			return exitError
		}
		if p == nil {
			r.tracker.Advance(sourceNow(r.src))
			if r.text == nil {
				r.outMu.Lock()
				r.out.Flush()
				r.outMu.Unlock()
			}
			r.periodicSummary()
			continue
		}
		r.tracker.Packet(p)
		if p.Index&0x3ff == 0 {
			r.periodicSummary()
		}
		if r.o.count > 0 && r.reported >= r.o.count {
			return exitOK
		}
		if prog != nil && p.Index&0xffff == 0 {
			prog.update(r.src.Stats())
		}
	}
	return exitOK
}

// periodicSummary prints the summary every --summary-interval when live.
func (r *runner) periodicSummary() {
	if r.o.sumEvery <= 0 || !r.live {
		return
	}
	now := time.Now()
	if r.lastSum.IsZero() {
		r.lastSum = now
		return
	}
	if now.Sub(r.lastSum) < r.o.sumEvery {
		return
	}
	r.lastSum = now
	_ = r.sum.Write(r.stderr, r.stats())
	_ = report.WriteSplits(r.stderr, r.across.Splits())
	if r.json != nil {
		r.writeSummaryJSON()
	}
}

// writeSummaryJSON writes the "type":"summary" line to the JSON output.
func (r *runner) writeSummaryJSON() {
	b := r.sum.AppendSummaryJSON(nil, r.across.Splits())
	b = append(b, '\n')
	r.outMu.Lock()
	defer r.outMu.Unlock()
	if _, err := r.out.Write(b); err == nil {
		_ = r.out.Flush()
	}
}

// emit receives each finished handshake from the tracker: diagnose judges
// it alone, the across stage with what other handshakes to its server
// showed.
func (r *runner) emit(h *handshake.Handshake) {
	fs := r.across.Add(h, diagnose.Diagnose(h))
	r.sum.Add(h, fs)
	if r.metrics != nil {
		r.metrics.Observe(h, fs)
	}
	isFailed := failed(h, fs)
	if r.failOn != nil && isFailed {
		if r.failOn["any"] {
			r.failedSeen = true
		}
		for _, f := range fs {
			if r.failOn[f.ID] {
				r.failedSeen = true
			}
		}
	}
	if r.o.failures && !isFailed {
		return
	}
	if r.o.count > 0 && r.reported >= r.o.count {
		return
	}
	r.reported++
	var lines []report.LogLine
	if r.nginx != nil {
		var held bool
		if fs, lines, held = r.nginx.record(h, fs, isFailed); held {
			return // written once its log line came, or its wait ran out
		}
	}
	r.write(h, fs, lines)
}

// write writes one record with the nginx log lines joined to it.
func (r *runner) write(h *handshake.Handshake, fs []diagnose.Finding, lines []report.LogLine) {
	r.outMu.Lock()
	defer r.outMu.Unlock()
	var err error
	if r.text != nil {
		err = r.text.WriteLines(h, fs, lines)
	} else if r.json != nil { // top writes no lines
		err = r.json.WriteLines(h, fs, lines)
	} else if r.records != nil { // zeek, ecs
		err = r.records.Write(h, fs)
	}
	if r.zeekDir != nil {
		if zerr := r.zeekDir.Write(h, fs); zerr != nil && err == nil {
			err = fmt.Errorf("--zeek-dir: %w", zerr)
		}
	}
	if err == nil && r.live {
		err = r.out.Flush()
		if r.pcap != nil && err == nil {
			if perr := r.pcap.flush(); perr != nil {
				err = fmt.Errorf("-w: %w", perr)
			}
		}
	}
	if err != nil && r.writeErr == nil {
		r.writeErr = fmt.Errorf("writing output: %w", err)
		r.stop.Store(true)
	}
}

// failed reports whether a handshake counts as failed: not established, or
// established with an error finding (e.g. closed at once by the client).
func failed(h *handshake.Handshake, fs []diagnose.Finding) bool {
	return report.Failed(h, fs)
}

// stats gathers the capture statistics for the summary and metrics.
func (r *runner) stats() report.Stats {
	if st := r.top.finalStats(); st != nil {
		return *st // top: as the view showed them, not counting the time it stayed up
	}
	ts := r.tracker.Stats()
	ss := r.src.Stats()
	return report.Stats{
		Packets: ts.Packets, Bytes: ts.Bytes,
		TLSFlows: ts.TLSFlows, NonTLSFlows: ts.NonTLSFlows,
		Skipped: ts.Skipped, Evicted: ts.Evicted,
		KernelReceived: ss.Received, KernelDropped: ss.Dropped + ss.IfDropped,
		Duration:     time.Since(r.start),
		FlowsTracked: ts.FlowsTracked, BufferedBytes: ts.BufferedBytes,
		QUICUndecryptable: ts.QUICUndecryptable,
		Ambiguous:         ts.Ambiguous,
		Nginx:             r.nginx.stats(),
	}
}

// openNginx reads --nginx-conf and opens (or starts following) the
// --nginx-error-log files.
func (r *runner) openNginx() error {
	stdinTaken := false
	for _, f := range r.o.files {
		stdinTaken = stdinTaken || f == "-"
	}
	n, err := openNginx(r.o.nginx, r.live, stdinTaken, r.write)
	if err != nil {
		return err
	}
	if n != nil {
		r.nginx = n
		r.onClose(n.close)
	}
	return nil
}
