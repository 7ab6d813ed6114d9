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
