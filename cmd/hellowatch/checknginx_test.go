package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hellowatch/hellowatch/internal/nginxtest"
)

// sniCase is one configuration, broken and fixed, each checked against
// what real nginx sends.
type sniCase struct {
	name string
	// top, httpTop and server are main-level, http-level and server-level
	// text; each %[1]s is the upstream's address (127.0.0.1:PORT), %[2]s
	// its port. files are extra files under the prefix (for include).
	broken, fixed scenario
	// sites are the proxy_pass / grpc_pass texts to find in the files, and
	// the request paths through each ("stream:N" for the N-th stream
	// port).
	sites []site
}

type scenario struct {
	httpTop, server, stream string
	files                   map[string]string
}

type site struct {
	pass     string   // unique text of the directive, e.g. "https://127.0.0.1:%[2]s/ip"
	requests []string // paths; "stream" for the stream port
}

var sniCases = []sniCase{
	{name: "ip-literal-with-server-name-on",
		broken: scenario{httpTop: "proxy_ssl_server_name on;", server: "location /ip { proxy_pass https://%[1]s/ip; }"},
		fixed:  scenario{httpTop: "proxy_ssl_server_name on;", server: "location /ip { proxy_ssl_name abc.example.com; proxy_pass https://%[1]s/ip; }"},
		sites:  []site{{pass: "https://%[1]s/ip", requests: []string{"/ip"}}}},
	{name: "upstream-block-default-off",
		broken: scenario{httpTop: "upstream backend { server %[1]s; }", server: "location /u { proxy_pass https://backend/u; }"},
		fixed:  scenario{httpTop: "upstream backend { server %[1]s; }", server: "location /u { proxy_ssl_server_name on; proxy_ssl_name abc.example.com; proxy_pass https://backend/u; }"},
		sites:  []site{{pass: "https://backend/u", requests: []string{"/u"}}}},
	{name: "inheritance-from-http",
		broken: scenario{httpTop: "upstream abc.example.com { server %[1]s; }", server: "location /h { proxy_pass https://abc.example.com/h; }"},
		fixed:  scenario{httpTop: "upstream abc.example.com { server %[1]s; }\nproxy_ssl_server_name on;", server: "location /h { proxy_pass https://abc.example.com/h; }"},
		sites:  []site{{pass: "https://abc.example.com/h", requests: []string{"/h"}}}},
	{name: "inheritance-from-server-and-parent-location",
		broken: scenario{httpTop: "upstream abc.example.com { server %[1]s; }", server: "location /p { location /p/q { proxy_pass https://abc.example.com/pq; } }"},
		fixed:  scenario{httpTop: "upstream abc.example.com { server %[1]s; }", server: "proxy_ssl_server_name off; location /p { proxy_ssl_server_name on; location /p/q { proxy_pass https://abc.example.com/pq; } }"},
		sites:  []site{{pass: "https://abc.example.com/pq", requests: []string{"/p/q"}}}},
	{name: "location-override-off",
		broken: scenario{httpTop: "upstream abc.example.com { server %[1]s; }\nproxy_ssl_server_name on;", server: "location /o { proxy_ssl_server_name off; proxy_pass https://abc.example.com/o; }\nlocation /k { proxy_pass https://abc.example.com/k; }"},
		fixed:  scenario{httpTop: "upstream abc.example.com { server %[1]s; }\nproxy_ssl_server_name on;", server: "location /o { proxy_pass https://abc.example.com/o; }\nlocation /k { proxy_pass https://abc.example.com/k; }"},
		sites:  []site{{pass: "https://abc.example.com/o", requests: []string{"/o"}}, {pass: "https://abc.example.com/k", requests: []string{"/k"}}}},
	{name: "included-files",
		broken: scenario{httpTop: "upstream abc.example.com { server %[1]s; }\ninclude conf.d/*.conf;", server: "include locations/inc.conf;",
			files: map[string]string{"conf.d/ssl.conf": "proxy_ssl_server_name off;\n", "conf.d/.hidden.conf": "proxy_ssl_server_name on;\n",
				"locations/inc.conf": "location /inc {\n    proxy_pass https://abc.example.com/inc;\n}\n"}},
		fixed: scenario{httpTop: "upstream abc.example.com { server %[1]s; }\ninclude conf.d/*.conf;", server: "include locations/inc.conf;",
			files: map[string]string{"conf.d/ssl.conf": "proxy_ssl_server_name on;\n", "conf.d/.hidden.conf": "proxy_ssl_server_name off;\n",
				"locations/inc.conf": "location /inc {\n    proxy_pass https://abc.example.com/inc;\n}\n"}},
		sites: []site{{pass: "https://abc.example.com/inc", requests: []string{"/inc"}}}},
	{name: "map-to-upstream",
		broken: scenario{httpTop: "upstream abc.example.com { server %[1]s; }\nmap $arg_to $be { default abc.example.com; ip %[1]s; }\nproxy_ssl_server_name on;", server: "location /map { proxy_pass https://$be/map; }"},
		fixed:  scenario{httpTop: "upstream abc.example.com { server %[1]s; }\nupstream other.example.com { server %[1]s; }\nmap $arg_to $be { default abc.example.com; ip other.example.com; }\nproxy_ssl_server_name on;", server: "location /map { proxy_pass https://$be/map; }"},
		sites:  []site{{pass: "https://$be/map", requests: []string{"/map", "/map?to=ip"}}}},
	{name: "set-variable-and-server-addr",
		broken: scenario{httpTop: "proxy_ssl_server_name on;", server: "location /set { set $up %[1]s; proxy_pass https://$up/set; }\nlocation /sa { proxy_pass https://$server_addr:%[2]s/sa; }"},
		fixed:  scenario{httpTop: "proxy_ssl_server_name on;\nupstream abc.example.com { server %[1]s; }", server: "location /set { set $up abc.example.com; proxy_pass https://$up/set; }\nlocation /sa { proxy_ssl_name abc.example.com; proxy_pass https://$server_addr:%[2]s/sa; }"},
		sites:  []site{{pass: "https://$up/set", requests: []string{"/set"}}, {pass: "https://$server_addr:%[2]s/sa", requests: []string{"/sa"}}}},
	{name: "proxy-ssl-name",
		broken: scenario{httpTop: "proxy_ssl_server_name on;\nupstream abc.example.com { server %[1]s; }", server: "location /n1 { proxy_ssl_name 127.0.0.1; proxy_pass https://abc.example.com/n1; }\nlocation /n2 { proxy_ssl_name $proxy_host; proxy_pass https://%[1]s/n2; }\nlocation /n3 { proxy_ssl_name \"[::1]:443\"; proxy_pass https://abc.example.com/n3; }"},
		fixed:  scenario{httpTop: "proxy_ssl_server_name on;\nupstream abc.example.com { server %[1]s; }", server: "location /n1 { proxy_ssl_name abc.example.com:443; proxy_pass https://abc.example.com/n1; }\nlocation /n2 { proxy_ssl_name $host; proxy_pass https://%[1]s/n2; }\nlocation /n3 { proxy_ssl_name 255.255.255.255; proxy_pass https://abc.example.com/n3; }"},
		sites:  []site{{pass: "https://abc.example.com/n1", requests: []string{"/n1"}}, {pass: "https://%[1]s/n2", requests: []string{"/n2"}}, {pass: "https://abc.example.com/n3", requests: []string{"/n3"}}}},
	{name: "localhost-implicit-upstream",
		broken: scenario{server: "location /lh { proxy_pass https://localhost:%[2]s/lh; }"},
		fixed:  scenario{server: "location /lh { proxy_ssl_server_name on; proxy_pass https://localhost:%[2]s/lh; }"},
		sites:  []site{{pass: "https://localhost:%[2]s/lh", requests: []string{"/lh"}}}},
	{name: "grpc-pass-grpcs",
		broken: scenario{httpTop: "upstream abc.example.com { server %[1]s; }\nproxy_ssl_server_name on;", server: "location /g { grpc_pass grpcs://abc.example.com; }"},
		fixed:  scenario{httpTop: "upstream abc.example.com { server %[1]s; }\ngrpc_ssl_server_name on;", server: "location /g { grpc_pass grpcs://abc.example.com; }"},
		sites:  []site{{pass: "grpcs://abc.example.com", requests: []string{"/g"}}}},
	{name: "stream-proxy-ssl",
		broken: scenario{stream: "upstream abc.example.com { server %[1]s; }\nserver { listen %[3]s; proxy_ssl on; proxy_pass abc.example.com; }"},
		fixed:  scenario{stream: "upstream abc.example.com { server %[1]s; }\nproxy_ssl_server_name on;\nserver { listen %[3]s; proxy_ssl on; proxy_pass abc.example.com; }"},
		sites:  []site{{pass: "proxy_pass abc.example.com", requests: []string{"stream"}}}},
}

// TestCheckNginxAgainstRealNginx runs check-nginx on configurations that
// real nginx accepts, then sends requests through that nginx to a TLS
// server recording the SNI of every ClientHello, and requires check-nginx
// to flag exactly the sites where nginx sent none. Every broken variant
// must have a site without SNI and every fixed one none, so that the
// harness itself cannot pass by seeing nothing.
func TestCheckNginxAgainstRealNginx(t *testing.T) {
	nginxtest.Binary(t)
	dir := t.TempDir()
	_, _, cert := nginxtest.CertFiles(t, dir, "abc", "abc.example.com", "other.example.com")
	up := nginxtest.StartSNIServer(t, "127.0.0.1:0", cert)
	_, port, _ := net.SplitHostPort(up.Addr)
	for _, c := range sniCases {
		for _, variant := range []string{"broken", "fixed"} {
			sc := c.broken
			if variant == "fixed" {
				sc = c.fixed
			}
			t.Run(c.name+"/"+variant, func(t *testing.T) {
				checkAgainstNginx(t, c, sc, variant == "broken", up, port)
			})
		}
	}
}

func checkAgainstNginx(t *testing.T, c sniCase, sc scenario, broken bool, up *nginxtest.SNIServer, port string) {
	prefix := t.TempDir()
	listen := nginxtest.FreeAddr(t, "127.0.0.1")
	streamListen := nginxtest.FreeAddr(t, "127.0.0.1")
	sub := strings.NewReplacer("%[1]s", up.Addr, "%[2]s", port, "%[3]s", streamListen).Replace
	for name, body := range sc.files {
		p := filepath.Join(prefix, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(sub(body)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	top := ""
	if sc.stream != "" {
		top = nginxtest.StreamModule(t)
	}
	httpBody := sub(sc.httpTop) + "\n    server {\n        listen " + listen + ";\n        " + strings.ReplaceAll(sub(sc.server), "\n", "\n        ") + "\n    }\n"
	conf := nginxtest.Main(prefix, top, httpBody)
	if sc.stream != "" {
		conf += "stream {\n    " + strings.ReplaceAll(sub(sc.stream), "\n", "\n    ") + "\n}\n"
	}
	n := nginxtest.New(t, prefix, conf)

	// check-nginx on the file, and on nginx -T output: the same findings.
	flagged := checkNginxErrors(t, []string{"--format", "json", n.Conf}, nil)
	dump, err := n.Dump()
	if err != nil {
		t.Fatalf("nginx -T: %v", err)
	}
	if fromDump := checkNginxErrors(t, []string{"--format", "json", "-"}, dump); fmt.Sprint(fromDump) != fmt.Sprint(flagged) {
		t.Errorf("check-nginx on nginx -T output: %v; on the file: %v", fromDump, flagged)
	}

	listens := []string{listen}
	if sc.stream != "" {
		listens = append(listens, streamListen)
	}
	n.Start(t, listens...)
	anyMissing := false
	for _, s := range c.sites {
		where := findSite(t, prefix, sub(s.pass))
		missing := false
		for _, r := range s.requests {
			names := requestThrough(t, up, listen, streamListen, r)
			for _, nm := range names {
				if nm == "" {
					missing = true
				}
			}
		}
		anyMissing = anyMissing || missing
		if flagged[where] != missing {
			t.Errorf("%s (%s): check-nginx says missing SNI = %v, real nginx sent no SNI = %v\n%s", s.pass, where, flagged[where], missing, nginxtest.Numbered(conf))
		}
		delete(flagged, where)
	}
	for w := range flagged {
		t.Errorf("check-nginx flagged %s, which is no site of the test", w)
	}
	if anyMissing != broken {
		t.Errorf("the %v variant: real nginx sent no SNI somewhere = %v; the test case is wrong", map[bool]string{true: "broken", false: "fixed"}[broken], anyMissing)
	}
}

// checkNginxErrors runs check-nginx and returns the file:line of its
// missing_sni errors; it checks the exit code against them.
func checkNginxErrors(t *testing.T, args []string, stdin []byte) map[string]bool {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runCheckNginx(args, bytes.NewReader(stdin), &stdout, &stderr)
	if code != exitOK && code != exitFailures {
		t.Fatalf("check-nginx %v: exit %d: %s", args, code, stderr.String())
	}
	out := map[string]bool{}
	errs := 0
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var f struct {
			File, Severity, ID, Directive, Message, Fix string
			Line                                        int
		}
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			t.Fatalf("check-nginx JSON line %q: %v", sc.Text(), err)
		}
		if f.Severity == "error" {
			errs++
		}
		if f.ID == "missing_sni" {
			out[fmt.Sprintf("%s:%d", f.File, f.Line)] = true
			if !strings.Contains(f.Fix, "proxy_ssl_") && !strings.Contains(f.Fix, "grpc_ssl_") || !strings.Contains(f.Fix, fmt.Sprintf("%s:%d", f.File, f.Line)) {
				t.Errorf("fix names no directive or place: %q", f.Fix)
			}
		}
	}
	if (errs > 0) != (code == exitFailures) {
		t.Errorf("check-nginx exit %d with %d errors", code, errs)
	}
	return out
}

// findSite returns "file:line" of the only line under prefix containing s.
func findSite(t *testing.T, prefix, s string) string {
	t.Helper()
	var found []string
	filepath.Walk(prefix, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || !strings.HasSuffix(p, ".conf") {
			return nil
		}
		b, _ := os.ReadFile(p)
		for i, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, s) {
				found = append(found, fmt.Sprintf("%s:%d", p, i+1))
			}
		}
		return nil
	})
	if len(found) != 1 {
		t.Fatalf("site %q found at %v, want once", s, found)
	}
	return found[0]
}

// requestThrough sends one request through nginx and returns the server
// names of the ClientHellos the upstream received meanwhile.
func requestThrough(t *testing.T, up *nginxtest.SNIServer, listen, streamListen, path string) []string {
	t.Helper()
	up.Reset()
	if path == "stream" {
		c, err := net.DialTimeout("tcp", streamListen, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET / HTTP/1.0\r\nHost: x\r\n\r\n")
		io.Copy(io.Discard, c)
		c.Close()
	} else {
		cl := &http.Client{Timeout: 5 * time.Second}
		req, err := http.NewRequest("GET", "http://"+listen+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		// A name, so that proxy_ssl_name $host is one.
		req.Host = "abc.example.com"
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		hs := up.Hellos()
		if len(hs) > 0 || time.Now().After(deadline) {
			if len(hs) == 0 {
				t.Fatalf("request %s through nginx reached no upstream", path)
			}
			var names []string
			for _, h := range hs {
				names = append(names, h.ServerName)
			}
			return names
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCheckNginxWarningsAgainstRealNginx: each warning rule on a broken and
// a fixed site, with what real nginx does there: with proxy_ssl_verify off
// it accepts a certificate that verification rejects (a control location
// shows the rejection); proxy_ssl_protocols with TLSv1/TLSv1.1 offers them
// in the ClientHello; proxy_ssl_name with an IP sends no SNI.
func TestCheckNginxWarningsAgainstRealNginx(t *testing.T) {
	nginxtest.Binary(t)
	dir := t.TempDir()
	certFile, _, cert := nginxtest.CertFiles(t, dir, "abc", "abc.example.com")
	otherCert, _, _ := nginxtest.CertFiles(t, dir, "other", "other.example.com")
	up := nginxtest.StartSNIServer(t, "127.0.0.1:0", cert)
	listen := nginxtest.FreeAddr(t, "127.0.0.1")
	prefix := t.TempDir()
	loc := func(path, body string) string {
		return "        location " + path + " { " + body + " proxy_pass https://" + up.Addr + path + "; }\n"
	}
	body := "    proxy_ssl_server_name on;\n    proxy_ssl_name abc.example.com;\n    server {\n        listen " + listen + ";\n" +
		loc("/verify-broken", "proxy_ssl_verify off;") +
		loc("/verify-fixed", "proxy_ssl_verify on; proxy_ssl_trusted_certificate "+certFile+";") +
		loc("/verify-control", "proxy_ssl_verify on; proxy_ssl_trusted_certificate "+otherCert+";") +
		loc("/proto-broken", "proxy_ssl_protocols TLSv1 TLSv1.1 TLSv1.2;") +
		loc("/proto-fixed", "proxy_ssl_protocols TLSv1.2 TLSv1.3;") +
		loc("/name-broken", "proxy_ssl_name 127.0.0.1;") +
		loc("/name-fixed", "proxy_ssl_name abc.example.com;") +
		"    }\n"
	conf := nginxtest.Main(prefix, "", body)
	n := nginxtest.New(t, prefix, conf)
	var stdout, stderr bytes.Buffer
	runCheckNginx([]string{"--format", "json", n.Conf}, nil, &stdout, &stderr)
	warned := map[string]map[string]bool{} // id -> path
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var f struct {
			ID        string `json:"id"`
			Directive string `json:"directive"`
			Line      int    `json:"line"`
		}
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(conf, "\n")
		for _, p := range []string{"/verify-broken", "/verify-fixed", "/verify-control", "/proto-broken", "/proto-fixed", "/name-broken", "/name-fixed"} {
			if f.Line >= 1 && f.Line <= len(lines) && strings.Contains(lines[f.Line-1], "location "+p+" ") {
				if warned[f.ID] == nil {
					warned[f.ID] = map[string]bool{}
				}
				warned[f.ID][p] = true
			}
		}
	}
	n.Start(t, listen)
	status := func(path string) int {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + listen + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	// verify_off
	if got := status("/verify-control"); got != http.StatusBadGateway {
		t.Errorf("control: nginx verifying against another CA answered %d, want 502", got)
	}
	if got := status("/verify-broken"); got != http.StatusOK || !warned["verify_off"]["/verify-broken"] {
		t.Errorf("proxy_ssl_verify off: nginx answered %d (accepted the unverifiable certificate: %v); warned: %v", got, got == 200, warned["verify_off"]["/verify-broken"])
	}
	if got := status("/verify-fixed"); got != http.StatusOK || warned["verify_off"]["/verify-fixed"] {
		t.Errorf("proxy_ssl_verify on with the right CA: nginx answered %d; warned: %v", got, warned["verify_off"]["/verify-fixed"])
	}
	// old_protocols
	offersOld := func(path string) bool {
		up.Reset()
		status(path)
		for _, h := range up.Hellos() {
			for _, v := range h.Versions {
				if v < 0x0303 {
					return true
				}
			}
		}
		return false
	}
	for _, p := range []string{"/proto-broken", "/proto-fixed"} {
		if old := offersOld(p); old != warned["old_protocols"][p] || old != strings.HasSuffix(p, "broken") {
			t.Errorf("%s: nginx offered a version below TLS 1.2: %v; check-nginx warned: %v", p, old, warned["old_protocols"][p])
		}
	}
	// ssl_name_is_ip
	for _, p := range []string{"/name-broken", "/name-fixed"} {
		names := requestThrough(t, up, listen, "", p)
		noSNI := slices.Contains(names, "")
		if noSNI != warned["ssl_name_is_ip"][p] || noSNI != strings.HasSuffix(p, "broken") {
			t.Errorf("%s: nginx sent no SNI: %v; check-nginx warned ssl_name_is_ip: %v", p, noSNI, warned["ssl_name_is_ip"][p])
		}
	}
	for id, paths := range warned {
		for p := range paths {
			if strings.HasSuffix(p, "fixed") {
				t.Errorf("%s warned at the fixed site %s", id, p)
			}
		}
	}
}
