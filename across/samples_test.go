package across_test

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hellowatch/hellowatch/across"
	"github.com/hellowatch/hellowatch/capture"
	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
)

type judged struct {
	h  *handshake.Handshake
	fs []diagnose.Finding
}

// judge runs a sample through the tracker, diagnose and the stage, in the
// order the records are decided (as the command does), and returns them in
// the order their connections started.
func judge(t *testing.T, name string) ([]judged, *across.Stage) {
	t.Helper()
	src, err := capture.OpenFiles([]string{filepath.Join("..", "samples", name)})
	if err != nil {
		t.Fatalf("sample %s: %v", name, err)
	}
	defer src.Close()
	st := across.New(across.Config{})
	var out []judged
	tr := capture.NewTracker(capture.Config{Emit: func(h *handshake.Handshake) {
		out = append(out, judged{h, st.Add(h, diagnose.Diagnose(h))})
	}})
	for {
		p, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		tr.Packet(p)
	}
	tr.Flush()
	slices.SortFunc(out, func(a, b judged) int { return int(a.h.FirstPacket) - int(b.h.FirstPacket) })
	return out, st
}

// TestAcrossSamples checks every flow of samples/MANIFEST-across.tsv (real
// HAProxy SNI routers, an iptables SNI reset, a mixed crowd of clients):
// each failed handshake's first finding is the expected one, and no
// working one carries it. Flows the capture cannot show (the server-side
// capture of the firewall, where the router swallowed the hello) are left
// out.
func TestAcrossSamples(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "samples", "MANIFEST-across.tsv"))
	if err != nil {
		t.Skipf("no manifest: %v", err)
	}
	defer f.Close()
	type want struct {
		flow     int
		sni, fid string
	}
	files := map[string][]want{}
	var order []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		col := strings.Split(sc.Text(), "\t")
		if len(col) < 9 || col[0] == "file" {
			continue
		}
		n, err := strconv.Atoi(col[1])
		if err != nil {
			t.Fatalf("manifest line %q: %v", sc.Text(), err)
		}
		if _, ok := files[col[0]]; !ok {
			order = append(order, col[0])
		}
		files[col[0]] = append(files[col[0]], want{n, col[7], col[8]})
	}
	for _, file := range order {
		t.Run(file, func(t *testing.T) {
			got, st := judge(t, file)
			var seen []judged
			for _, j := range got {
				if diagnose.HelloDecoded(j.h) || j.h.HelloSegments > 0 {
					seen = append(seen, j)
				}
			}
			i := 0
			for _, w := range files[file] {
				if w.sni == "?" {
					continue // no ClientHello in this capture
				}
				if i >= len(seen) {
					t.Fatalf("flow %d: only %d records", w.flow, len(seen))
				}
				j := seen[i]
				i++
				sni := j.h.ServerName
				if !j.h.HasSNI {
					sni = "-"
				}
				if sni != w.sni {
					t.Errorf("flow %d: SNI %q, want %q", w.flow, sni, w.sni)
				}
				first := ""
				if len(j.fs) > 0 {
					first = j.fs[0].ID
				}
				switch {
				case w.fid == "none" && !j.h.Established():
					t.Errorf("flow %d: %v %v, want a working handshake", w.flow, j.h.Outcome, ids(j.fs))
				case w.fid == "none" && slices.ContainsFunc(j.fs, func(f diagnose.Finding) bool {
					return f.ID == diagnose.LargeHelloDropped || f.ID == diagnose.MiddleboxReset || f.ID == diagnose.MissingSNI
				}):
					t.Errorf("flow %d works but got %v", w.flow, ids(j.fs))
				case w.fid != "none" && first != w.fid:
					t.Errorf("flow %d: findings %v (outcome %v), want %s first", w.flow, ids(j.fs), j.h.Outcome, w.fid)
				}
			}
			if file == "mixed-crowd.pcap" {
				sp := st.Splits()
				if len(sp) != 1 || sp[0].Attribute != "sni" || sp[0].Value != "absent" || !sp[0].Clean() {
					t.Errorf("mixed crowd split: %+v", sp)
				} else {
					t.Log(sp[0].String())
				}
			}
		})
	}
}

func ids(fs []diagnose.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID+"/"+f.Severity)
	}
	return out
}

// TestBeyondSNISamples checks every flow of samples/MANIFEST-beyond-sni.tsv
// (client certificates, wrong-name, expired and not-yet-valid certificates,
// ALPN, TLS 1.3's hidden answers and split hellos, made with real nginx,
// HAProxy, openssl, curl and Go): each failed handshake's first finding is
// the expected one, and no working handshake carries an error finding. It
// prints the whole table; the figure it requires is the count of flows
// where today's rules agree (a floor that only goes up).
func TestBeyondSNISamples(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "samples", "MANIFEST-beyond-sni.tsv"))
	if err != nil {
		t.Skipf("no manifest: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	type want struct {
		flow     int
		sni, fid string
	}
	files := map[string][]want{}
	var order []string
	for sc.Scan() {
		col := strings.Split(sc.Text(), "\t")
		if len(col) < 7 || col[0] == "file" {
			continue
		}
		n, err := strconv.Atoi(col[1])
		if err != nil {
			t.Fatalf("manifest line %q: %v", sc.Text(), err)
		}
		if _, ok := files[col[0]]; !ok {
			order = append(order, col[0])
		}
		files[col[0]] = append(files[col[0]], want{n, col[5], col[6]})
	}
	agree, total, badWorking := 0, 0, 0
	var table strings.Builder
	for _, file := range order {
		got, _ := judge(t, file)
		for i, w := range files[file] {
			total++
			if i >= len(got) {
				table.WriteString(file + " flow " + strconv.Itoa(w.flow) + ": missing, want " + w.fid + "\n")
				continue
			}
			j := got[i]
			var errs []string
			for _, f := range j.fs {
				if f.Severity == diagnose.SeverityError {
					errs = append(errs, f.ID)
				}
			}
			first := "none"
			if len(j.fs) > 0 && (len(errs) > 0 || w.fid != "none") {
				first = j.fs[0].ID
			}
			ok := first == w.fid
			if w.fid == "none" && len(errs) > 0 {
				badWorking++
			}
			if ok {
				agree++
			}
			mark := "ok  "
			if !ok {
				mark = "MISS"
			}
			table.WriteString(mark + " " + file + " flow " + strconv.Itoa(w.flow) + ": " + j.h.Outcome.String() + " " + strings.Join(ids(j.fs), ",") + " (want " + w.fid + ")\n")
		}
	}
	t.Logf("beyond-SNI samples: %d/%d flows as expected, %d working ones with an error finding\n%s", agree, total, badWorking, table.String())
	// The floor: nginx `ssl_verify_client on` completes the handshake and
	// answers HTTP 400 inside it, which only TLS 1.2's empty Certificate
	// hints at (a warning); the other four such flows look like success.
	const floor = 89
	if agree < floor {
		t.Errorf("%d/%d flows as expected, below the floor of %d", agree, total, floor)
	}
	if badWorking > 0 {
		t.Errorf("%d working handshakes carry an error finding", badWorking)
	}
}
