package conf

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// flatten lists "file:line name args" for every directive.
func flatten(ds []*Directive, dir string) []string {
	var out []string
	var walk func([]*Directive)
	walk = func(ds []*Directive) {
		for _, d := range ds {
			rel, _ := filepath.Rel(dir, d.File)
			out = append(out, rel+":"+itoa(d.Line)+" "+strings.TrimSpace(d.Name+" "+strings.Join(d.Args, " ")))
			walk(d.Block)
		}
	}
	walk(ds)
	return out
}

func itoa(i int) string { return fmt.Sprintf("%03d", i) }

func TestLoadIncludesAndLines(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"nginx.conf":          "events {}\nhttp {\n    include conf.d/*.conf;\n    include mime.types;\n    server {\n        proxy_pass\n            https://a.example.com;\n        include none/*.conf;\n    }\n}\n",
		"conf.d/b.conf":       "proxy_ssl_name \"b\\\"q\";\n",
		"conf.d/a.conf":       "\n\nproxy_ssl_server_name on;\n",
		"conf.d/.hidden.conf": "proxy_ssl_verify on;\n",
		"mime.types":          "types { text/html html; }\n",
	})
	c, err := Load(filepath.Join(dir, "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(flatten(c.Top, dir), "\n")
	want := strings.Join([]string{
		"nginx.conf:001 events",
		"nginx.conf:006 http",
		"conf.d/a.conf:003 proxy_ssl_server_name on",
		`conf.d/b.conf:001 proxy_ssl_name b"q`,
		"mime.types:001 types",
		"mime.types:001 text/html html",
		"nginx.conf:006 server",
		"nginx.conf:006 proxy_pass https://a.example.com",
	}, "\n")
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if len(c.Files) != 4 {
		t.Errorf("files %v", c.Files)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string // substring of the error, file:line
	}{
		{"missing include", map[string]string{"nginx.conf": "http {\n  include missing.conf;\n}\n"}, "nginx.conf:2: include"},
		{"eof in block", map[string]string{"nginx.conf": "http {\n  server {\n"}, "nginx.conf:2: "},
		{"cycle", map[string]string{"nginx.conf": "include a.conf;\n", "a.conf": "include nginx.conf;\n"}, "deeper than"},
		{"error in an included file", map[string]string{"nginx.conf": "http {\ninclude a.conf;\n}\n", "a.conf": "server {\n  listen 80;\n  location / {\n"}, "a.conf:3: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, tc.files)
			_, err := Load(filepath.Join(dir, "nginx.conf"))
			var ce *Error
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want a conf.Error with %q", err, tc.want)
			}
		})
	}
}

func TestLoadDump(t *testing.T) {
	dump := "# configuration file /etc/nginx/nginx.conf:\nhttp {\n    include /etc/nginx/conf.d/*.conf;\n    include sites/x;\n}\n\n" +
		"# configuration file /etc/nginx/conf.d/z.conf:\nproxy_ssl_server_name on;\n\n" +
		"# configuration file /etc/nginx/sites/x:\nserver {\n    location / {\n        proxy_pass https://10.0.0.1;\n    }\n}\n"
	c, err := LoadDump(strings.NewReader(dump), "-")
	if err != nil {
		t.Fatal(err)
	}
	m := Analyze(c)
	if len(m.Sites) != 1 {
		t.Fatalf("sites %d", len(m.Sites))
	}
	s := m.Sites[0]
	if s.At.File != "/etc/nginx/sites/x" || s.At.Line != 3 || !s.ServerName.On() || s.ServerName.At.File != "/etc/nginx/conf.d/z.conf" {
		t.Errorf("site at %s:%d, server_name from %+v", s.At.File, s.At.Line, s.ServerName.At)
	}
	if _, err := LoadDump(strings.NewReader("http {}\n"), "-"); err == nil {
		t.Error("a file that is not nginx -T output was accepted")
	}
}

func TestInetAddr(t *testing.T) {
	for s, want := range map[string]bool{
		"127.0.0.1": true, "1..2.3": true, "1.2.3.": true, "0.0.0.0": true,
		"255.255.255.255": false, "256.1.1.1": false, "1.2.3": false, "1.2.3.4.5": false,
		"abc.example.com": false, "2001": false, "": false, "1.2.3.4a": false,
	} {
		if got := inetAddr(s); got != want {
			t.Errorf("inetAddr(%q) = %v, want %v", s, got, want)
		}
	}
	for s, want := range map[string]string{"a:1": "a", "[::1]:443": "[::1]", "[::1]": "[::1]", "2001:db8::1": "2001", "a": "a"} {
		if got := stripPort(s); got != want {
			t.Errorf("stripPort(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestUnquote(t *testing.T) {
	for in, want := range map[string]string{
		`"a b"`: "a b", `'a"b'`: `a"b`, `"a\"b"`: `a"b`, `a\;b`: `a\;b`, `"\t"`: "\t", `x`: "x", `"`: `"`,
	} {
		if got := unquote(in); got != want {
			t.Errorf("unquote(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSNIDecisions pins the decision for configurations not run through
// real nginx in cmd/hellowatch's test (those are).
func TestSNIDecisions(t *testing.T) {
	for _, tc := range []struct {
		conf string
		want string // SNI per target, "-" for none, "?" for run time; joined by ","
	}{
		{"http { proxy_ssl_server_name on; server { location / { proxy_pass https://[2001:db8::1]:443; } } }", "-"},
		{"http { proxy_ssl_server_name on; server { location / { proxy_pass https://abc.example.com:8443/x; } } }", "abc.example.com"},
		{"http { proxy_ssl_server_name on; server { location / { proxy_pass https://$http_x_up; } } }", "?"},
		{"http { proxy_ssl_server_name on; server { location / { proxy_pass https://$remote_addr; } } }", "-"},
		{"http { proxy_ssl_server_name on; proxy_ssl_name \"\"; server { location / { proxy_pass https://a.example.com; } } }", "-"},
		{"http { proxy_ssl_server_name on; server { location / { if ($x) { proxy_pass https://a.example.com; } } } }", "a.example.com"},
		{"http { proxy_ssl_server_name on; server { location / { limit_except GET { proxy_pass https://10.0.0.1; } } } }", "-"},
		{"http { proxy_ssl_server_name on; server { location @named { proxy_pass https://unix:/run/x.sock:/; } } }", "localhost"},
		{"http { proxy_ssl_server_name ON; geo $g { default 10.0.0.1; 192.0.2.0/24 b.example.com; } server { location / { proxy_pass https://$g; } } }", "-,b.example.com"},
		{"http { server { location / { proxy_pass http://10.0.0.1; grpc_pass grpc://10.0.0.1; } } }", ""},
		{"http { grpc_ssl_server_name on; server { location / { grpc_pass grpcs://10.0.0.1:50051; } } }", "-"},
		{"stream { server { proxy_ssl_server_name on; proxy_pass 10.0.0.1:443; } }", ""}, // no proxy_ssl: not TLS
		{"stream { proxy_ssl on; proxy_ssl_server_name on; server { proxy_pass a.example.com:443; } }", "a.example.com"},
		{"stream { proxy_ssl on; proxy_ssl_server_name on; proxy_ssl_name $ssl_preread_server_name; server { proxy_pass 10.0.0.1:443; } }", "?"},
	} {
		dir := writeFiles(t, map[string]string{"nginx.conf": tc.conf})
		c, err := Load(filepath.Join(dir, "nginx.conf"))
		if err != nil {
			t.Fatalf("%s: %v", tc.conf, err)
		}
		var got []string
		for _, s := range Analyze(c).Sites {
			for _, tg := range s.Targets {
				switch {
				case !tg.Known:
					got = append(got, "?")
				case tg.SNI == "":
					got = append(got, "-")
				default:
					got = append(got, tg.SNI)
				}
			}
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("%s:\n got %q, want %q", tc.conf, strings.Join(got, ","), tc.want)
		}
	}
}

func TestCheckWarnings(t *testing.T) {
	dir := writeFiles(t, map[string]string{"nginx.conf": `http {
    proxy_ssl_server_name on;
    proxy_ssl_verify off;
    server {
        location /a { proxy_ssl_protocols TLSv1.1 TLSv1.2; proxy_pass https://a.example.com; }
        location /b { proxy_ssl_trusted_certificate /x.pem; proxy_pass https://b.example.com; }
        location /c { proxy_ssl_name 192.0.2.1; proxy_pass https://c.example.com; }
        location /d { proxy_ssl_verify on; proxy_ssl_protocols TLSv1.2 TLSv1.3; proxy_pass https://d.example.com; }
    }
}
`})
	c, err := Load(filepath.Join(dir, "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range Check(Analyze(c)) {
		got = append(got, itoa(f.Line)+" "+string(f.Severity)+" "+f.ID)
	}
	want := "003 warning verify_off,005 warning old_protocols,007 error missing_sni,007 warning ssl_name_is_ip"
	if strings.Join(got, ",") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, ","), want)
	}
}

func TestSitesFor(t *testing.T) {
	dir := writeFiles(t, map[string]string{"nginx.conf": `http {
    upstream backend { server 192.0.2.10:8443; server app.example.com:443; }
    server {
        location /a { proxy_pass https://backend; }
        location /b { proxy_pass https://[2001:db8::1]:8443; }
        location /c { proxy_pass https://other.example.com; }
    }
}
`})
	c, err := Load(filepath.Join(dir, "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	m := Analyze(c)
	m.Resolve(func(h string) []netip.Addr {
		switch h {
		case "app.example.com":
			return []netip.Addr{netip.MustParseAddr("198.51.100.7")}
		case "other.example.com":
			return []netip.Addr{netip.MustParseAddr("::ffff:203.0.113.5")}
		}
		return nil
	})
	for ap, want := range map[string]int{
		"192.0.2.10:8443": 4, "198.51.100.7:443": 4, "[2001:db8::1]:8443": 5, "203.0.113.5:443": 6, "192.0.2.10:443": 0,
	} {
		got := m.SitesFor(netip.MustParseAddrPort(ap))
		switch {
		case want == 0 && len(got) != 0:
			t.Errorf("%s: %d sites, want none", ap, len(got))
		case want != 0 && (len(got) != 1 || got[0].Site.At.Line != want):
			t.Errorf("%s: %v, want the site at line %d", ap, got, want)
		}
	}
}
