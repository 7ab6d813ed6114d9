package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hellowatch/hellowatch/confirm"
)

// exitNotFixed is `hellowatch confirm`'s exit code when no variant got a
// ServerHello (README.md).
const exitNotFixed = 4

// confirmOptions are the flags of `hellowatch confirm`.
type confirmOptions struct {
	files      stringList
	flow       string
	connect    string
	sni        string
	timeout    time.Duration
	pause      time.Duration
	splitPause time.Duration
	format     string
}

func init() { subcommands["confirm"] = runConfirm }

// runConfirm is `hellowatch confirm`: replay the failed ClientHello of a
// capture, as captured and with the fix its finding suggests.
func runConfirm(args []string, stdout, stderr io.Writer) int {
	var o confirmOptions
	fs := flag.NewFlagSet("hellowatch confirm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&o.files, "r", "read the capture from `file` (pcap, pcapng, gzip; \"-\" for stdin); repeatable")
	fs.StringVar(&o.flow, "flow", "", "the handshake to replay, as `client,server` (ip:port each; client may be an IP alone, or *); default: the first failed one")
	fs.StringVar(&o.connect, "connect", "", "send the hellos to `host:port` instead of the flow's server")
	fs.StringVar(&o.sni, "sni", "", "host `name` for the variants that add or replace the SNI")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Second, "how long to wait for each connection and for the server's first answer")
	fs.DurationVar(&o.pause, "pause", 500*time.Millisecond, "pause between two connections")
	fs.DurationVar(&o.splitPause, "split-pause", 200*time.Millisecond, "pause between the two parts of a hello sent in two segments")
	fs.Var(newChoice(&o.format, "text", "text", "json"), "format", "output `format`: text or json")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: hellowatch confirm -r file [--flow client,server] [--connect host:port] [--sni name] [--timeout d] [--format text|json]\n\n")
		fmt.Fprintf(stderr, "Replays the ClientHello of a failed handshake to its server, as captured and with the\n"+
			"fix its finding suggests (SNI, versions, ALPN, classic key shares), one connection each,\n"+
			"and shows each first answer. Only ClientHellos are sent, only to the flow's server or --connect.\n\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nExit codes: 0 a variant fixed it, 4 none did, 1 error, 2 usage.\n")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "hellowatch confirm: "+format+"\n", a...)
		return exitUsage
	}
	if fs.NArg() > 0 {
		return usage("unexpected argument %q (see -h)", fs.Arg(0))
	}
	if len(o.files) == 0 {
		return usage("give the capture with -r file (see -h)")
	}
	if o.timeout <= 0 || o.pause < 0 || o.splitPause <= 0 {
		return usage("--timeout and --split-pause must be positive, --pause not negative")
	}
	client, server, err := parseFlow(o.flow)
	if err != nil {
		return usage("--flow %q: %v", o.flow, err)
	}
	if o.connect != "" {
		if _, _, err := net.SplitHostPort(o.connect); err != nil {
			return usage("--connect %q: %v", o.connect, err)
		}
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "hellowatch confirm: %s\n", strings.TrimPrefix(err.Error(), "confirm: "))
		if errors.Is(err, confirm.ErrNeedName) {
			return exitUsage
		}
		return exitError
	}

	capt, err := confirm.Load(o.files, 0)
	if err != nil {
		return fail(err)
	}
	defer capt.Close()
	f, err := capt.Select(client, server)
	if err != nil {
		return fail(err)
	}
	hello, err := capt.Hello(f)
	if err != nil {
		return fail(err)
	}
	variants, err := confirm.Plan(f, hello, confirm.Options{SNI: o.sni, Names: capt.NamesFor(f.Record.Server)})
	if err != nil {
		return fail(err)
	}
	target := o.connect
	if target == "" {
		target = f.Record.Server.String()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	results, err := confirm.Run(ctx, variants, confirm.RunOptions{
		Target: target, Timeout: o.timeout, Pause: o.pause, SplitPause: o.splitPause,
	})
	if err != nil {
		return fail(err)
	}
	rep, err := confirm.NewReport(f, hello, target, results)
	if err != nil {
		return fail(err)
	}
	rep.SplitPause = o.splitPause
	if o.format == "json" {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		return fail(err)
	}
	if rep.Verdict == confirm.VerdictFixWorks {
		return exitOK
	}
	return exitNotFixed
}

// parseFlow reads --flow's "client,server". An empty value selects nothing
// (the first failed flow); the client may be "*" or "" (any), or an address
// without a port (any port).
func parseFlow(s string) (client, server netip.AddrPort, err error) {
	if s == "" {
		return client, server, nil
	}
	c, sv, ok := strings.Cut(s, ",")
	if !ok {
		return client, server, errors.New("want client,server (e.g. 10.0.0.5:41234,203.0.113.7:443)")
	}
	if server, err = netip.ParseAddrPort(strings.TrimSpace(sv)); err != nil {
		return client, server, fmt.Errorf("server: %v", err)
	}
	switch c = strings.TrimSpace(c); {
	case c == "" || c == "*":
	case strings.Contains(c, "]:") || strings.Count(c, ":") == 1:
		if client, err = netip.ParseAddrPort(c); err != nil {
			return client, server, fmt.Errorf("client: %v", err)
		}
	default:
		a, err := netip.ParseAddr(strings.Trim(c, "[]"))
		if err != nil {
			return client, server, fmt.Errorf("client: %v", err)
		}
		client = netip.AddrPortFrom(a, 0)
	}
	return client, server, nil
}
