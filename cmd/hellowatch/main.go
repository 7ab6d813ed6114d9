// Command hellowatch watches TLS handshakes passively, live or from capture
// files, and says for each connection how its handshake ended and why.
//
// Usage is modelled on tcpdump:
//
//	sudo hellowatch -i eth0 tcp port 443
//	hellowatch -r upstream.pcap
//
// See README.md for every flag, the output formats and exit codes.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/hellowatch/hellowatch/across"
	"github.com/hellowatch/hellowatch/capture"
	"github.com/hellowatch/hellowatch/diagnose"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

// Exit codes (documented in README.md).
const (
	exitOK       = 0
	exitError    = 1
	exitUsage    = 2
	exitFailures = 3
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// stringList is a repeatable string flag (-r a.pcap -r b.pcap).
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// options are the parsed flags.
type options struct {
	iface       string
	files       stringList
	list        bool
	count       int
	snaplen     int
	bufferKiB   int
	noPromisc   bool
	user        string
	writeFile   string
	format      string
	zeekDir     string
	failures    bool
	timeout     time.Duration
	showVersion bool
	metricsAddr string
	failOn      string
	color       string
	logLevel    string
	logFormat   string
	summary     string
	maxFlows    int
	maxServers  int
	cpuProfile  string
	memProfile  string
	sumEvery    time.Duration
	maxBuffer   int64
	workers     int
	immediate   bool
	filter      string
	top, pace   bool // hellowatch top (top.go), --pace
	nginx       nginxOptions
	vxlanPorts  portList
}

func getVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// envName maps a flag name to its environment variable.
func envName(flagName string) string {
	return "HELLOWATCH_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// flagEnvAliases gives readable environment names to tcpdump's letters.
var flagEnvAliases = map[string]string{
	"i": "HELLOWATCH_INTERFACE", "r": "HELLOWATCH_READ", "c": "HELLOWATCH_COUNT",
	"s": "HELLOWATCH_SNAPLEN", "B": "HELLOWATCH_BUFFER_SIZE", "p": "HELLOWATCH_NO_PROMISC",
	"Z": "HELLOWATCH_USER", "w": "HELLOWATCH_WRITE", "D": "HELLOWATCH_LIST_INTERFACES",
}

func newFlagSet(o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("hellowatch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.iface, "i", "", "capture live from `interface` (\"any\" for all)")
	fs.Var(&o.files, "r", "read packets from `file` (pcap, pcapng, gzip; \"-\" for stdin); repeatable")
	fs.BoolVar(&o.list, "D", false, "list the interfaces that can be captured and exit")
	fs.IntVar(&o.count, "c", 0, "exit after `N` handshakes have been reported")
	fs.IntVar(&o.snaplen, "s", 262144, "live: capture `snaplen` bytes per packet")
	fs.IntVar(&o.bufferKiB, "B", 8192, "live: kernel capture buffer `size` in KiB")
	fs.BoolVar(&o.noPromisc, "p", false, "live: do not put the interface into promiscuous mode")
	fs.StringVar(&o.user, "Z", "", "drop privileges to `user` after opening the capture and the metrics port, before creating the -w file")
	fs.StringVar(&o.writeFile, "w", "", "write every packet of the flows whose handshake failed to `file` (pcapng)")
	fs.Var(newChoice(&o.format, "auto", "text", "json", "zeek", "ecs", "auto"), "format", "output `format`: text, json, zeek (Zeek ssl.log and notice.log JSON), ecs (Elastic Common Schema), or auto (text on a terminal, json otherwise)")
	fs.StringVar(&o.zeekDir, "zeek-dir", "", "also append Zeek JSON logs to ssl.log and notice.log in `dir`, as Zeek writes them")
	fs.BoolVar(&o.failures, "failures", false, "report only failed handshakes")
	fs.DurationVar(&o.timeout, "timeout", capture.DefaultTimeout, "how long to wait for a server's answer to a ClientHello")
	fs.BoolVar(&o.showVersion, "version", false, "print the version and exit")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus /metrics, /healthz and /readyz on `host:port`")
	fs.Var(&checkedString{p: &o.failOn, check: checkFailOn}, "fail-on", "exit 3 when handshakes with these `findings` were seen (comma-separated IDs, or \"any\")")
	fs.Var(newChoice(&o.color, "auto", "auto", "always", "never"), "color", "colour text output: auto, always, never (NO_COLOR is honoured)")
	o.logLevel = "info"
	fs.Var(&checkedString{p: &o.logLevel, check: checkLogLevel}, "log-level", "log `level`: debug, info, warn, error")
	fs.Var(newChoice(&o.logFormat, "auto", "text", "json", "auto"), "log-format", "log format on stderr: text, json, auto (json unless stderr is a terminal)")
	fs.Var(newChoice(&o.summary, "auto", "auto", "always", "never"), "summary", "print the end summary to stderr: auto (with text output, or when capturing live), always, never")
	fs.IntVar(&o.maxFlows, "max-flows", capture.DefaultMaxFlows, "most flows tracked at once (oldest evicted beyond)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile (runtime/pprof) of the run to `FILE`, for `go tool pprof`")
	fs.StringVar(&o.memProfile, "memprofile", "", "write the run's allocation profile (runtime/pprof \"allocs\": every allocation sampled, and the heap at the end) to `FILE`, for `go tool pprof`")
	fs.IntVar(&o.maxServers, "max-servers", across.DefaultMaxServers, "most servers remembered for the findings across handshakes (oldest forgotten beyond)")
	fs.DurationVar(&o.sumEvery, "summary-interval", 0, "live: also print the summary (and in JSON output its \"type\":\"summary\" line) every interval, e.g. 1m; 0 for only at the end")
	fs.Int64Var(&o.maxBuffer, "max-buffer", capture.DefaultMaxBufferedBytes, "most `bytes` for the handshakes in progress: their state and what they hold for reassembly (out-of-order segments, partial handshake messages, QUIC CRYPTO data)")
	fs.BoolVar(&o.immediate, "immediate-mode", false, "live: deliver each packet at once instead of in blocks of up to 100 ms (costs CPU at high rates)")
	fs.IntVar(&o.workers, "workers", defaultWorkers(), "analyse flows on `N` worker goroutines (besides the one that reads packets)")
	fs.StringVar(&o.filter, "filter", "", "BPF `filter` (also accepted as trailing arguments, as in tcpdump)")
	addNginxFlags(fs, &o.nginx)
	fs.Var(&o.vxlanPorts, "vxlan-port", "UDP `ports` that carry VXLAN besides 4789, e.g. 8472 for Flannel (comma-separated, repeatable)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: hellowatch [-i interface | -r file ...] [flags] [BPF filter]\n\n")
		fmt.Fprintf(stderr, "Watches TLS handshakes and says how each one ended and why.\n\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nEvery flag can also be set with an environment variable: HELLOWATCH_<NAME>\n"+
			"(e.g. HELLOWATCH_INTERFACE, HELLOWATCH_FILTER, HELLOWATCH_FORMAT, HELLOWATCH_METRICS_ADDR).\n"+
			"Exit codes: 0 ok, 1 runtime error, 2 usage, 3 --fail-on findings seen.\n")
	}
	if o.top {
		addTopFlags(fs, o)
	}
	return fs
}

// applyEnv sets every flag not given on the command line from its
// environment variable.
func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	// A capture source chosen on the command line (-i, -r or -D) wins over
	// one from the environment: they exclude each other.
	if set["i"] || set["r"] || set["D"] {
		set["i"], set["r"], set["D"] = true, true, true
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		name := envName(f.Name)
		if alias, ok := flagEnvAliases[f.Name]; ok {
			name = alias
		}
		v := getenv(name)
		if v == "" {
			return
		}
		if f.Name == "r" {
			for _, p := range strings.Split(v, ",") {
				_ = f.Value.Set(p)
			}
			return
		}
		if e := f.Value.Set(v); e != nil {
			err = fmt.Errorf("%s=%q: %v", name, v, e)
		}
	})
	return err
}

// parseArgs parses flags that may be mixed with the trailing filter words.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return rest, nil
		}
		// A filter word; flags may follow it (tcpdump allows that too).
		i := 0
		for i < len(args) && (!strings.HasPrefix(args[i], "-") || args[i] == "-") {
			i++
		}
		rest = append(rest, args[:i]...)
		args = args[i:]
		if len(args) == 0 {
			return rest, nil
		}
	}
}

// subcommands are the commands beside the main one (hellowatch NAME
// args...), each in its own file; each returns the exit code.
var subcommands = map[string]func(args []string, stdout, stderr io.Writer) int{}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if sub, ok := subcommands[args[0]]; ok {
			return sub(args[1:], stdout, stderr)
		}
	}
	var o options
	r, code := newRunner(&o, args, stdout, stderr)
	if r == nil {
		return code
	}
	return r.run()
}

// newRunner parses the flags, the environment and the filter words into o
// and returns the run's runner; nil and the exit code when there is nothing
// to run (-h, --version, -D, a usage error). Subcommands that capture as
// the main command does (top) use it too.
func newRunner(o *options, args []string, stdout, stderr io.Writer) (*runner, int) {
	fs := newFlagSet(o, stderr)
	rest, err := parseArgs(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, exitOK
		}
		return nil, exitUsage
	}
	if len(rest) > 0 && o.filter == "" {
		// Filter words on the command line win over HELLOWATCH_FILTER.
		_ = fs.Set("filter", strings.Join(rest, " "))
		rest = nil
	}
	if err := applyEnv(fs, os.Getenv); err != nil {
		fmt.Fprintf(stderr, "hellowatch: %v\n", err)
		return nil, exitUsage
	}
	if o.showVersion {
		fmt.Fprintf(stdout, "hellowatch %s\n", getVersion())
		return nil, exitOK
	}
	if len(rest) > 0 {
		if o.filter != "" {
			o.filter += " and "
		}
		o.filter += strings.Join(rest, " ")
	}
	logger := newLogger(stderr, *o)
	if o.list {
		return nil, listInterfaces(stdout, stderr)
	}
	if (o.iface == "") == (len(o.files) == 0) {
		fmt.Fprintln(stderr, "hellowatch: give exactly one of -i interface or -r file (see -h)")
		return nil, exitUsage
	}
	switch o.format {
	case "auto", "text", "json", "zeek", "ecs":
	default:
		fmt.Fprintf(stderr, "hellowatch: --format must be text, json, zeek, ecs or auto, not %q\n", o.format)
		return nil, exitUsage
	}
	failOn, err := parseFailOn(o.failOn)
	if err != nil {
		fmt.Fprintf(stderr, "hellowatch: %v\n", err)
		return nil, exitUsage
	}
	return &runner{o: *o, stdout: stdout, stderr: stderr, log: logger, failOn: failOn}, exitOK
}

func newLogger(stderr io.Writer, o options) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(o.logLevel)); err != nil {
		lvl = slog.LevelInfo
	}
	hopts := &slog.HandlerOptions{Level: lvl}
	jsonLogs := o.logFormat == "json" || (o.logFormat == "auto" && !isTerminal(stderr))
	if jsonLogs {
		return slog.New(slog.NewJSONHandler(stderr, hopts))
	}
	return slog.New(slog.NewTextHandler(stderr, hopts))
}

func parseFailOn(s string) (map[string]bool, error) {
	if s == "" {
		return nil, nil
	}
	known := map[string]bool{"any": true}
	for _, id := range diagnose.FindingIDs() {
		known[id] = true
	}
	m := map[string]bool{}
	for _, id := range strings.Split(s, ",") {
		id = strings.TrimSpace(id)
		if !known[id] {
			return nil, fmt.Errorf("--fail-on: unknown finding %q (known: any, %s)", id, strings.Join(diagnose.FindingIDs(), ", "))
		}
		m[id] = true
	}
	return m, nil
}

func listInterfaces(stdout, stderr io.Writer) int {
	ifs, err := capture.ListInterfaces()
	if err != nil {
		fmt.Fprintf(stderr, "hellowatch: %v\n", err)
		return exitError
	}
	for i, it := range ifs {
		fmt.Fprintf(stdout, "%d.%s", i+1, it.Name)
		if it.Description != "" {
			fmt.Fprintf(stdout, " (%s)", it.Description)
		}
		fmt.Fprintln(stdout)
	}
	return exitOK
}

// defaultWorkers is one worker per CPU beyond the reading goroutine's, at
// least one.
func defaultWorkers() int {
	return max(runtime.NumCPU()-1, 1)
}

func (o options) filterOr(def string) string {
	if o.filter == "" {
		return def
	}
	return o.filter
}
