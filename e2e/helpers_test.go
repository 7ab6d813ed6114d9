package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/hellowatch/hellowatch/internal/edge"
	"github.com/hellowatch/hellowatch/internal/testkit"
	"github.com/hellowatch/hellowatch/report"
)

// record is one hellowatch JSON line, as far as the test looks at it.
type record struct {
	TS          string    `json:"ts"`
	Client      string    `json:"client"`
	Server      string    `json:"server"`
	ServerName  *string   `json:"server_name"`
	Version     *string   `json:"version"`
	Alerts      []alert   `json:"alerts"`
	Outcome     string    `json:"outcome"`
	Established bool      `json:"established"`
	Findings    []finding `json:"findings"`
	LogLines    []logLine `json:"log_lines"`

	raw    string
	readAt time.Time
}

type alert struct {
	Sender      string  `json:"sender"`
	Level       *string `json:"level"`
	Description string  `json:"description"`
	Code        int     `json:"code"`
	Encrypted   bool    `json:"encrypted"`
}

// logLine is a line of the user's nginx error log joined to a record.
type logLine struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Text string `json:"text"`
}

type finding struct {
	ID      string `json:"id"`
	Summary string `json:"summary"`
	Hint    string `json:"hint"`
}

func (r record) sni() string {
	if r.ServerName == nil {
		return "<null>"
	}
	return strconv.Quote(*r.ServerName)
}

func (r record) findingIDs() []string {
	var ids []string
	for _, f := range r.Findings {
		ids = append(ids, f.ID)
	}
	return ids
}

func (r record) finding(id string) *finding {
	for i := range r.Findings {
		if r.Findings[i].ID == id {
			return &r.Findings[i]
		}
	}
	return nil
}

// key is what must agree between the live run and the replay of its pcap.
func (r record) key() string {
	var a []string
	for _, x := range r.Alerts {
		lvl := "null"
		if x.Level != nil {
			lvl = *x.Level
		}
		a = append(a, fmt.Sprintf("%s/%s/%d/%v", x.Sender, lvl, x.Code, x.Encrypted))
	}
	ids := r.findingIDs()
	slices.Sort(ids)
	return fmt.Sprintf("client=%s server=%s sni=%s outcome=%s alerts=[%s] findings=[%s]",
		r.Client, r.Server, r.sni(), r.Outcome, strings.Join(a, " "), strings.Join(ids, " "))
}

// errSummaryLine is parseRecord's answer to the summary line
// ("type":"summary"), which live JSON output ends with.
var errSummaryLine = errors.New("the summary line")

// parseRecord decodes one line and checks the contract's keys are present.
func parseRecord(line string) (record, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal([]byte(line), &keys); err != nil {
		return record{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if string(keys["type"]) == `"summary"` {
		return record{}, errSummaryLine
	}
	var missing []string
	for _, k := range report.JSONKeys {
		if _, ok := keys[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return record{}, fmt.Errorf("missing contract keys %v", missing)
	}
	var r record
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		return record{}, fmt.Errorf("contract types: %w", err)
	}
	r.raw = line
	return r, nil
}

// buildHellowatch builds ./cmd/hellowatch, under the race detector when
// the tests run under it.
func buildHellowatch(t *testing.T) string {
	t.Helper()
	return testkit.Build(t, "./cmd/hellowatch", testkit.Race)
}

// freePort returns a TCP port free on host right now.
func freePort(t *testing.T, host string) int {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("e2e: no free port on %s: %v", host, err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitListen dials addr until it accepts (before any capture starts).
func waitListen(t *testing.T, ctx context.Context, addr string, logs ...string) {
	t.Helper()
	for ctx.Err() == nil {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	var tail []string
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		tail = append(tail, fmt.Sprintf("--- %s:\n%s", l, testkit.LastLines(string(b), 15)))
	}
	t.Fatalf("e2e: nothing listens on %s\n%s", addr, strings.Join(tail, "\n"))
}

// startProcess starts cmd with its output in logFile; it is ended at
// cleanup (see testkit.Start).
func startProcess(t *testing.T, cmd *exec.Cmd, logFile string) {
	t.Helper()
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() }) // after the process is ended
	cmd.Stdout, cmd.Stderr = f, f
	testkit.Start(t, cmd)
}

// nginx is one nginx instance with its own prefix.
type nginx struct {
	bin, dir, conf, errorLog string
}

// nginxMain wraps http-level config in a complete nginx.conf.
func nginxMain(dir, httpBody string) string {
	return fmt.Sprintf(`user root;
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
`, dir, httpBody)
}

func startNginx(t *testing.T, ctx context.Context, bin, dir, httpBody string, listen ...string) *nginx {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	n := &nginx{bin: bin, dir: dir, conf: filepath.Join(dir, "nginx.conf"), errorLog: filepath.Join(dir, "error.log")}
	n.write(t, httpBody)
	startProcess(t, exec.Command(bin, "-p", dir, "-c", n.conf, "-e", n.errorLog), filepath.Join(dir, "stdout.log"))
	for _, a := range listen {
		waitListen(t, ctx, a, n.errorLog, filepath.Join(dir, "stdout.log"))
	}
	return n
}

func (n *nginx) write(t *testing.T, httpBody string) {
	t.Helper()
	if err := os.WriteFile(n.conf, []byte(nginxMain(n.dir, httpBody)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// reload rewrites the configuration and signals the running master.
func (n *nginx) reload(t *testing.T, httpBody string) {
	t.Helper()
	n.write(t, httpBody)
	out, err := exec.Command(n.bin, "-p", n.dir, "-c", n.conf, "-e", n.errorLog, "-s", "reload").CombinedOutput()
	if err != nil {
		t.Fatalf("e2e: nginx -s reload: %v\n%s", err, out)
	}
}

func (n *nginx) log(t *testing.T) string {
	b, err := os.ReadFile(n.errorLog)
	if err != nil {
		t.Fatalf("e2e: read nginx error log: %v", err)
	}
	return string(b)
}

// writeCert writes a self-signed certificate for abc.example.com as PEM files
// (and a combined file for HAProxy).
func writeCert(t *testing.T, dir string) (certFile, keyFile, pemFile string) {
	t.Helper()
	c, err := edge.SelfSigned([]string{"abc.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	certFile, keyFile, pemFile = filepath.Join(dir, "abc.crt"), filepath.Join(dir, "abc.key"), filepath.Join(dir, "abc.pem")
	for f, b := range map[string][]byte{certFile: certPEM, keyFile: keyPEM, pemFile: append(append([]byte{}, certPEM...), keyPEM...)} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile, pemFile
}

// watcher is a live hellowatch process whose JSON lines are read.
type watcher struct {
	*testkit.Proc
}

// startWatcher runs hellowatch live and waits until it says it is capturing
// (a stderr line mentioning listening/capturing), or 2 s, whichever is first.
func startWatcher(t *testing.T, bin string, args ...string) *watcher {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = testkit.Env()
	w := &watcher{testkit.Start(t, cmd)}
	t.Logf("started: %s %s", bin, strings.Join(args, " "))
	testkit.Poll(2*time.Second, func() bool {
		if code, exited := w.Exited(0); exited {
			t.Fatalf("e2e: hellowatch exited before any traffic: exit %d\nstderr:\n%s", code, w.Stderr.String())
		}
		s := strings.ToLower(w.Stderr.String())
		return strings.Contains(s, "listening") || strings.Contains(s, "capturing")
	})
	// Give the capture ring a moment to be armed after the readiness line.
	time.Sleep(300 * time.Millisecond)
	return w
}

// lines returns the records printed so far, each with the time its line
// was read, and the lines that are not records.
func (w *watcher) lines() (recs []record, bad []string) {
	for _, l := range w.Stdout.Lines() {
		r, err := parseRecord(l.Text)
		if errors.Is(err, errSummaryLine) {
			continue
		}
		if err != nil {
			bad = append(bad, fmt.Sprintf("%v: %s", err, l.Text))
			continue
		}
		r.readAt = l.At
		recs = append(recs, r)
	}
	return recs, bad
}

// records returns the records printed so far.
func (w *watcher) records() []record {
	recs, _ := w.lines()
	return recs
}

// waitFor polls until match holds for at least n records, or the timeout.
func (w *watcher) waitFor(timeout time.Duration, n int, match func(record) bool) []record {
	var got []record
	testkit.Poll(timeout, func() bool {
		got = nil
		for _, r := range w.records() {
			if match(r) {
				got = append(got, r)
			}
		}
		return len(got) >= n
	})
	return got
}

// stop sends SIGTERM and waits for a clean exit.
func (w *watcher) stop(t *testing.T) {
	t.Helper()
	w.Signal(t, syscall.SIGTERM)
	code, ok := w.Exited(5 * time.Second)
	if !ok {
		t.Errorf("e2e: hellowatch did not exit within 5 s of SIGTERM")
		w.Cmd.Process.Kill()
		code, _ = w.Exited(5 * time.Second)
	}
	if code != 0 {
		t.Errorf("e2e: hellowatch exited with %d after SIGTERM (want 0)\nstderr:\n%s", code, testkit.LastLines(w.Stderr.String(), 20))
	}
	_, bad := w.lines()
	for _, b := range bad {
		t.Errorf("e2e: bad JSON line from hellowatch: %s", b)
	}
}

// replay runs hellowatch -r on a file and parses every line.
func replay(t *testing.T, bin string, args ...string) []record {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = testkit.Env()
	res := testkit.Run(t, 30*time.Second, cmd)
	if res.Code != 0 {
		t.Fatalf("e2e: hellowatch %s: exit %d\nstderr:\n%s", strings.Join(args, " "), res.Code, testkit.LastLines(string(res.Stderr), 20))
	}
	var recs []record
	for _, line := range strings.Split(strings.TrimSpace(string(res.Stdout)), "\n") {
		if line == "" {
			continue
		}
		r, err := parseRecord(line)
		if err != nil {
			t.Errorf("e2e: bad JSON line from replay: %v: %s", err, line)
			continue
		}
		recs = append(recs, r)
	}
	return recs
}

// alertTimes reads a pcap or pcapng file and returns, per client port, the
// capture time of the first plaintext alert record (15 03 0x ...) sent by
// serverPort.
func alertTimes(path string, serverPort int) (map[int]time.Time, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	type reader interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	var (
		r  reader
		lt layers.LinkType
	)
	if pr, err := pcapgo.NewReader(bytes.NewReader(b)); err == nil {
		r, lt = pr, pr.LinkType()
	} else if nr, err2 := pcapgo.NewNgReader(bytes.NewReader(b), pcapgo.DefaultNgReaderOptions); err2 == nil {
		r, lt = nr, nr.LinkType()
	} else {
		return nil, fmt.Errorf("%s: neither pcap (%v) nor pcapng (%v)", path, err, err2)
	}
	times := map[int]time.Time{}
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return times, nil
		}
		if err != nil {
			return times, err
		}
		p := gopacket.NewPacket(data, lt, gopacket.NoCopy)
		tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok || int(tcp.SrcPort) != serverPort || len(tcp.Payload) < 7 {
			continue
		}
		if tcp.Payload[0] == 0x15 && tcp.Payload[1] == 0x03 {
			if _, seen := times[int(tcp.DstPort)]; !seen {
				times[int(tcp.DstPort)] = ci.Timestamp
			}
		}
	}
}

func portOf(hostport string) int {
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return -1
	}
	n, _ := strconv.Atoi(p)
	return n
}
