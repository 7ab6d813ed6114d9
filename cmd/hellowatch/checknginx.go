package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/hellowatch/hellowatch/nginx/conf"
	"github.com/hellowatch/hellowatch/report"
)

func init() {
	subcommands["check-nginx"] = func(args []string, stdout, stderr io.Writer) int {
		return runCheckNginx(args, os.Stdin, stdout, stderr)
	}
}

// runCheckNginx is `hellowatch check-nginx [--format text|json] FILE|-`:
// it reads an nginx configuration (or `nginx -T` output on stdin) and
// reports, without capturing anything, every upstream TLS site where nginx
// sends no SNI (error), and weak upstream TLS settings (warning). Exit 3
// when errors were found, 1 when the configuration cannot be read or
// parsed, 2 on usage errors.
func runCheckNginx(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hellowatch check-nginx", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := "text"
	fs.Var(newChoice(&format, "text", "text", "json"), "format", "output `format`: text or json (one object per finding)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: hellowatch check-nginx [--format text|json] FILE|-\n\n"+
			"Reads an nginx configuration (FILE and what it includes, or the output of\n"+
			"`nginx -T` on standard input for -) and reports every proxy_pass https://,\n"+
			"grpc_pass grpcs:// and stream proxy_ssl site where nginx sends no SNI.\n\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nExit codes: 0 no errors, 1 unreadable or unparsable configuration, 2 usage, 3 errors found.\n")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "hellowatch check-nginx: give one configuration file, or - for `nginx -T` output on stdin (see -h)")
		return exitUsage
	}
	cfg, err := loadNginxConf(fs.Arg(0), stdin)
	if err != nil {
		fmt.Fprintf(stderr, "hellowatch check-nginx: %s\n", textSafe(err.Error()))
		return exitError
	}
	model := conf.Analyze(cfg)
	findings := conf.Check(model)
	var out []byte
	errs, warns := 0, 0
	for _, f := range findings {
		if f.Severity == conf.SeverityError {
			errs++
		} else {
			warns++
		}
		if format == "json" {
			out = appendFindingJSON(out, f)
			continue
		}
		out = fmt.Appendf(out, "%s:%d: %s: %s: %s\n    %s\n    fix: %s\n",
			textSafe(f.File), f.Line, f.Severity, f.ID, textSafe(f.Message),
			textSafe(f.Directive), textSafe(f.Fix))
	}
	if format == "text" {
		out = fmt.Appendf(out, "%s: %d sites with upstream TLS, %d errors, %d warnings (%d files)\n",
			textSafe(cfg.Main), len(model.Sites), errs, warns, len(cfg.Files))
	}
	if _, err := stdout.Write(out); err != nil {
		fmt.Fprintf(stderr, "hellowatch check-nginx: %v\n", err)
		return exitError
	}
	if errs > 0 {
		return exitFailures
	}
	return exitOK
}

// loadNginxConf reads name, or `nginx -T` output from stdin for "-".
func loadNginxConf(name string, stdin io.Reader) (*conf.Config, error) {
	if name == "-" {
		return conf.LoadDump(stdin, "<stdin>")
	}
	if st, err := os.Stat(name); err == nil && st.IsDir() {
		return nil, fmt.Errorf("%s: is a directory", name)
	}
	return conf.Load(name)
}

func appendFindingJSON(dst []byte, f conf.Finding) []byte {
	dst = append(dst, `{"file":`...)
	dst = report.AppendJSONText(dst, f.File)
	dst = append(dst, `,"line":`...)
	dst = strconv.AppendInt(dst, int64(f.Line), 10)
	dst = append(dst, `,"severity":`...)
	dst = report.AppendJSONText(dst, string(f.Severity))
	dst = append(dst, `,"id":`...)
	dst = report.AppendJSONText(dst, f.ID)
	dst = append(dst, `,"directive":`...)
	dst = report.AppendJSONText(dst, f.Directive)
	dst = append(dst, `,"message":`...)
	dst = report.AppendJSONText(dst, f.Message)
	dst = append(dst, `,"fix":`...)
	dst = report.AppendJSONText(dst, f.Fix)
	return append(dst, "}\n"...)
}

// textSafe escapes what a terminal would act on (controls, escape
// sequences, invalid UTF-8) in text taken from a configuration file; plain
// text, quotes included, stays as it is.
func textSafe(s string) string {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0xfffd || r >= 0x200b && r <= 0x200f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 {
			return report.EscapeWire(s)
		}
	}
	return s
}
