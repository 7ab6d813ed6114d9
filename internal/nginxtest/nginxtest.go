// Package nginxtest runs real nginx for tests: a prefix directory of its
// own, `nginx -t` on every configuration, a master in the foreground stopped
// at cleanup, and TLS upstreams that record the SNI they were sent.
//
// It is test support, not part of hellowatch.
package nginxtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hellowatch/hellowatch/internal/edge"
)

// Binary returns the nginx binary's path, or skips the test.
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
			if _, e := os.Stat(p); e == nil {
				return p
			}
		}
		t.Skip("skipped: nginx is not installed (apt-get install nginx): ", err)
	}
	return bin
}

// StreamModule returns the load_module line for the dynamic stream module,
// "" when nginx has it built in, or skips the test when it has neither.
func StreamModule(t testing.TB) string {
	t.Helper()
	line, ok := StreamModuleLine(t)
	if !ok {
		t.Skip("skipped: nginx has no stream module (apt-get install libnginx-mod-stream)")
	}
	return line
}

// StreamModuleLine is StreamModule without the skip: ok is false when
// nginx has no stream module.
func StreamModuleLine(t testing.TB) (line string, ok bool) {
	t.Helper()
	out, _ := exec.Command(Binary(t), "-V").CombinedOutput()
	if bytes.Contains(out, []byte("--with-stream ")) || bytes.HasSuffix(bytes.TrimSpace(out), []byte("--with-stream")) {
		return "", true
	}
	for _, p := range []string{"/usr/lib/nginx/modules/ngx_stream_module.so", "/usr/share/nginx/modules/ngx_stream_module.so"} {
		if _, err := os.Stat(p); err == nil {
			return "load_module " + p + ";", true
		}
	}
	return "", false
}

// Main wraps http{} content (and optional main-level content, such as a
// stream{} block) in a complete nginx.conf for prefix dir. The error log is
// dir/error.log at level info.
func Main(dir, top, httpBody string) string {
	return fmt.Sprintf(`%[3]s
user root;
worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    default_type text/plain;
    client_body_temp_path %[1]s/tmp_body;
    proxy_temp_path %[1]s/tmp_proxy;
    fastcgi_temp_path %[1]s/tmp_fastcgi;
    uwsgi_temp_path %[1]s/tmp_uwsgi;
    scgi_temp_path %[1]s/tmp_scgi;
%[2]s
}
`, dir, httpBody, top)
}

// Nginx is one nginx instance with its own prefix.
type Nginx struct {
	Bin, Dir, Conf, ErrorLog string
}

// New prepares a prefix directory dir (created) with conf as nginx.conf and
// checks it with `nginx -t`, failing the test if nginx rejects it.
func New(t testing.TB, dir, conf string) *Nginx {
	t.Helper()
	n := &Nginx{Bin: Binary(t), Dir: dir, Conf: filepath.Join(dir, "nginx.conf"), ErrorLog: filepath.Join(dir, "error.log")}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(n.Conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := n.Test(); err != nil {
		t.Fatalf("nginx -t rejects the test configuration: %v\n%s\n--- %s:\n%s", err, out, n.Conf, Numbered(conf))
	}
	return n
}

// Test runs `nginx -t` on the instance's configuration.
func (n *Nginx) Test() ([]byte, error) {
	return exec.Command(n.Bin, "-t", "-p", n.Dir, "-c", n.Conf, "-e", n.ErrorLog).CombinedOutput()
}

// Dump runs `nginx -T` and returns its standard output.
func (n *Nginx) Dump() ([]byte, error) {
	cmd := exec.Command(n.Bin, "-T", "-q", "-p", n.Dir, "-c", n.Conf, "-e", n.ErrorLog)
	return cmd.Output()
}

// Start runs the master in the foreground until the test ends, and waits
// until every address in listen accepts connections.
func (n *Nginx) Start(t testing.TB, listen ...string) {
	t.Helper()
	out, err := os.Create(filepath.Join(n.Dir, "stdout.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(n.Bin, "-p", n.Dir, "-c", n.Conf, "-e", n.ErrorLog)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("start nginx: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); out.Close(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(2 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, a := range listen {
		for {
			c, err := net.DialTimeout("tcp", a, 200*time.Millisecond)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-done:
				b, _ := os.ReadFile(n.ErrorLog)
				t.Fatalf("nginx exited before listening on %s; error log:\n%s", a, b)
			case <-ctx.Done():
				b, _ := os.ReadFile(n.ErrorLog)
				t.Fatalf("nothing listens on %s; nginx error log:\n%s", a, b)
			case <-time.After(30 * time.Millisecond):
			}
		}
	}
}

// Log returns the error log's contents so far.
func (n *Nginx) Log(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(n.ErrorLog)
	if err != nil {
		t.Fatalf("read nginx error log: %v", err)
	}
	return string(b)
}

// Numbered returns s with line numbers, for failure messages.
func Numbered(s string) string {
	var b strings.Builder
	for i, l := range strings.Split(s, "\n") {
		fmt.Fprintf(&b, "%3d  %s\n", i+1, l)
	}
	return b.String()
}

// FreeAddr returns a loopback address ("127.0.0.1:PORT") nothing listens on
// right now.
func FreeAddr(t testing.TB, host string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// CertFiles writes a self-signed certificate for names (and its key) as PEM
// files in dir and returns their paths and the certificate.
func CertFiles(t testing.TB, dir, base string, names ...string) (certFile, keyFile string, cert tls.Certificate) {
	t.Helper()
	c, err := edge.SelfSigned(names)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, base+".crt"), filepath.Join(dir, base+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, c
}
