package conf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/tufanbarisyildirim/gonginx/config"
	"github.com/tufanbarisyildirim/gonginx/parser"
)

// Directive is one directive of the configuration, with includes spliced
// in: Block holds a block's directives, Parent the enclosing block
// directive (nil at the top).
type Directive struct {
	Name string
	// Args are the arguments as nginx sees them: quotes removed, escapes
	// applied.
	Args []string
	// File and Line say where the directive is (Line is 1-based: the line
	// of a leaf directive's name; for a block, of its first directive,
	// since the parser keeps no block start).
	File string
	Line int
	// IsBlock is true for a block directive (http, server, location, ...).
	IsBlock bool
	Block   []*Directive
	Parent  *Directive
}

// Arg returns the i-th argument, "" when there is none.
func (d *Directive) Arg(i int) string {
	if i < len(d.Args) {
		return d.Args[i]
	}
	return ""
}

// String renders the directive as written on one line ("proxy_pass
// https://a;").
func (d *Directive) String() string {
	var b strings.Builder
	b.WriteString(d.Name)
	for _, a := range d.Args {
		b.WriteByte(' ')
		b.WriteString(quoteArg(a))
	}
	if d.IsBlock {
		b.WriteString(" {...}")
	} else {
		b.WriteByte(';')
	}
	return b.String()
}

func quoteArg(a string) string {
	if a == "" || strings.ContainsAny(a, " \t\n\";{}#'\\") {
		return strconv.Quote(a)
	}
	return a
}

// Config is a loaded configuration.
type Config struct {
	// Main is the main file's name (for `-`, the first file of the dump).
	Main string
	// Files lists every file read, in the order first read.
	Files []string
	// Top holds the main context's directives.
	Top []*Directive
}

// Error is a configuration that cannot be read or parsed, with the place.
type Error struct {
	File string
	Line int // 0 when unknown
	Err  error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Limits on what a configuration may make the loader do.
const (
	maxFileSize     = 16 << 20
	maxIncludeDepth = 32
	maxFiles        = 4096
)

// source reads files: the file system, or the sections of `nginx -T`.
type source interface {
	read(name string) ([]byte, error)
	glob(pattern string) ([]string, error)
}

type fsSource struct{}

func (fsSource) read(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxFileSize)
	}
	return b, nil
}

func (fsSource) glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }

// dumpSource serves the files of an `nginx -T` dump.
type dumpSource struct {
	files map[string][]byte
	names []string
}

func (d *dumpSource) read(name string) ([]byte, error) {
	if b, ok := d.files[name]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("not in the nginx -T output: %w", fs.ErrNotExist)
}

func (d *dumpSource) glob(pattern string) ([]string, error) {
	var out []string
	for _, n := range d.names {
		ok, err := path.Match(pattern, n)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Load reads the configuration file name and every file it includes.
// Relative include paths are resolved, as nginx does, against the
// directory of the main file (nginx's conf prefix when started with -c).
func Load(name string) (*Config, error) {
	return load(fsSource{}, name)
}

// dumpHeader starts each file in `nginx -T` output.
var dumpHeader = regexp.MustCompile(`^# configuration file (.+):$`)

// LoadDump reads the output of `nginx -T` (each file after a "#
// configuration file NAME:" line; the first one is the main file) and
// resolves includes among its files. name names the input in errors.
func LoadDump(r io.Reader, name string) (*Config, error) {
	d := &dumpSource{files: map[string][]byte{}}
	sc := bufio.NewScanner(io.LimitReader(r, 8*maxFileSize))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var cur string
	var buf *bytes.Buffer
	total := 0
	flush := func() {
		if cur != "" {
			d.files[cur] = buf.Bytes()
		}
	}
	for sc.Scan() {
		line := sc.Text()
		total++
		if m := dumpHeader.FindStringSubmatch(line); m != nil {
			flush()
			cur, buf = m[1], &bytes.Buffer{}
			if _, dup := d.files[cur]; !dup {
				d.names = append(d.names, cur)
			}
			continue
		}
		if cur == "" {
			// "nginx: the configuration file ... syntax is ok" when 2>&1.
			continue
		}
		buf.WriteString(line)
		buf.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, &Error{File: name, Line: total + 1, Err: err}
	}
	flush()
	if len(d.names) == 0 {
		return nil, &Error{File: name, Err: errors.New(`no "# configuration file NAME:" line: not the output of nginx -T`)}
	}
	// nginx -T prints each file as it read it: the last line of a file
	// without a final newline is followed by a blank line; both are fine.
	return load(d, d.names[0])
}

type loader struct {
	src    source
	prefix string
	files  []string
	seen   map[string]bool
}

func load(src source, name string) (*Config, error) {
	abs := name
	if _, ok := src.(fsSource); ok {
		if a, err := filepath.Abs(name); err == nil {
			abs = a
		}
	}
	l := &loader{src: src, prefix: path.Dir(filepath.ToSlash(abs)), seen: map[string]bool{}}
	top, err := l.file(name, nil, 0)
	if err != nil {
		return nil, err
	}
	return &Config{Main: name, Files: l.files, Top: top}, nil
}

// file parses one file into directives whose parent is parent.
func (l *loader) file(name string, parent *Directive, depth int) ([]*Directive, error) {
	if depth > maxIncludeDepth {
		return nil, &Error{File: name, Err: fmt.Errorf("includes nested deeper than %d (a cycle?)", maxIncludeDepth)}
	}
	if len(l.files) >= maxFiles {
		return nil, &Error{File: name, Err: fmt.Errorf("more than %d files", maxFiles)}
	}
	b, err := l.src.read(name)
	if err != nil {
		return nil, &Error{File: name, Err: err}
	}
	if !l.seen[name] {
		l.seen[name] = true
		l.files = append(l.files, name)
	}
	c, err := parse(b)
	if err != nil {
		e := parseError(name, err)
		if e.Line == 0 && strings.Contains(err.Error(), "eof") {
			// As nginx: "unexpected end of file" at the last line.
			e.Line = bytes.Count(b, []byte("\n")) + 1
			if len(b) > 0 && b[len(b)-1] == '\n' {
				e.Line--
			}
		}
		return nil, e
	}
	return l.convert(name, c.Block.GetDirectives(), parent, depth)
}

// parse runs gonginx on one file's text. gonginx is a third-party parser
// fed untrusted text: a panic in it is an error here.
func parse(b []byte) (c *config.Config, err error) {
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("parser failed: %v", r)
		}
	}()
	p := parser.NewStringParser(string(b), parser.WithSkipValidDirectivesErr(), parser.WithSkipComments())
	return p.Parse()
}

var lineInErr = regexp.MustCompile(`line (\d+)`)

func parseError(name string, err error) *Error {
	e := &Error{File: name, Err: err}
	if m := lineInErr.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
	}
	return e
}

// convert turns gonginx's directives into ours, splicing includes.
func (l *loader) convert(file string, in []config.IDirective, parent *Directive, depth int) ([]*Directive, error) {
	var out []*Directive
	for _, g := range in {
		d := &Directive{Name: unquote(g.GetName()), File: file, Parent: parent}
		params := g.GetParameters()
		maxRel := 0
		for _, p := range params {
			d.Args = append(d.Args, unquote(p.Value))
			maxRel = max(maxRel, p.RelativeLineIndex)
		}
		// gonginx records the line of the token that ends a directive
		// (its ";" or "}"); a leaf directive's name is maxRel lines
		// before its last argument, which is on that line in practice.
		d.Line = g.GetLine() - maxRel
		if _, ok := g.(*config.UpstreamServer); ok {
			d.Line = g.GetLine()
		}
		if inc, ok := g.(*config.Include); ok {
			spliced, err := l.include(file, inc, d, parent, depth)
			if err != nil {
				return nil, err
			}
			out = append(out, spliced...)
			continue
		}
		if blk := g.GetBlock(); blk != nil {
			d.IsBlock = true
			kids, err := l.convert(file, blk.GetDirectives(), d, depth)
			if err != nil {
				return nil, err
			}
			d.Block = kids
			// gonginx keeps no start line for a block, only that of its
			// closing brace: a block is placed at its first directive.
			d.Line = g.GetLine()
			for _, k := range kids {
				if k.File == file && k.Line < d.Line {
					d.Line = k.Line
				}
			}
		}
		if d.Line < 1 {
			d.Line = 1
		}
		out = append(out, d)
	}
	return out, nil
}

// include resolves an include directive the way nginx does: relative to
// the conf prefix, a glob matching nothing is fine, a plain name must exist.
func (l *loader) include(file string, inc *config.Include, d, parent *Directive, depth int) ([]*Directive, error) {
	pat := unquote(inc.IncludePath)
	if len(d.Args) > 0 {
		pat = d.Args[0]
	}
	pat = filepath.ToSlash(pat)
	if !path.IsAbs(pat) {
		pat = path.Join(l.prefix, pat)
	}
	var names []string
	if strings.ContainsAny(pat, "*?[") {
		m, err := l.src.glob(pat)
		if err != nil {
			return nil, &Error{File: file, Line: d.Line, Err: fmt.Errorf("include %s: %w", pat, err)}
		}
		for _, n := range m {
			// glob(3) without GLOB_PERIOD: a wildcard skips hidden files.
			if !strings.HasPrefix(path.Base(n), ".") {
				names = append(names, n)
			}
		}
	} else {
		names = []string{pat}
	}
	var out []*Directive
	for _, n := range names {
		kids, err := l.file(n, parent, depth+1)
		if err != nil {
			var ce *Error
			if errors.As(err, &ce) && ce.File == n && ce.Line == 0 {
				return nil, &Error{File: file, Line: d.Line, Err: fmt.Errorf("include %s: %w", n, ce.Err)}
			}
			return nil, err
		}
		out = append(out, kids...)
	}
	return out, nil
}

// unquote applies nginx's token rules: surrounding quotes go, and \" \'
// \\ \t \r \n are escapes (ngx_conf_read_token).
func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		s = s[1 : len(s)-1]
	}
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case '"', '\'', '\\':
				b.WriteByte(s[i+1])
				i++
				continue
			case 't':
				b.WriteByte('\t')
				i++
				continue
			case 'r':
				b.WriteByte('\r')
				i++
				continue
			case 'n':
				b.WriteByte('\n')
				i++
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
