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
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hellowatch/hellowatch/confirm"
	"github.com/hellowatch/hellowatch/nginx/conf"
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
	nginxConf  string
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
	fs.StringVar(&o.nginxConf, "nginx-conf", "", "take the host name to try from the nginx configuration (`file`, or - for `nginx -T` output) whose proxy_pass/grpc_pass reaches the flow's server, when --sni is not given")
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
	names := capt.NamesFor(f.Record.Server)
	if o.nginxConf != "" {
		if o.nginxConf == "-" && slices.Contains(o.files, "-") {
			return fail(errors.New("--nginx-conf -: standard input is already the capture (-r -)"))
		}
		cfg, err := loadNginxConf(o.nginxConf, os.Stdin)
		if err != nil {
			return fail(fmt.Errorf("--nginx-conf: %w", err))
		}
		// Names from the configuration come first: they are what the
		// upstream is meant to be reached as.
		names = append(nginxNames(conf.Analyze(cfg), f.Record.Server), names...)
	}
	variants, err := confirm.Plan(f, hello, confirm.Options{SNI: o.sni, Names: names})
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

// nginxNames returns the host names nginx's sites that reach server would
// be expected to send: a literal `proxy_set_header Host`, `proxy_ssl_name`,
// or the proxy_pass host or upstream block's name when it is not an IP
// literal; in file order, without repeats. No name is looked up (confirm
// sends nothing but its hellos): sites match by a literal address.
func nginxNames(m *conf.Model, server netip.AddrPort) []string {
	var out []string
	add := func(s string) {
		if s == "" || strings.HasPrefix(s, "$") || slices.Contains(out, s) {
			return
		}
		if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
			return
		}
		out = append(out, s)
	}
	for _, st := range m.SitesFor(server) {
		add(st.Site.HostHeader)
		add(st.Site.Name.Value())
		add(st.Target.Host)
	}
	return out
}
