// Command wiresummary prints what tshark sees in a capture as one line per
// TCP connection: the TLS records each side sent, in order, with their
// lengths, and the FIN/RST of each side — the facts a diagnosis rule about
// TLS 1.3's encrypted records (their sizes and order) rests on. It is a
// samples-only tool used by make-beyond-sni-samples.sh to write
// MANIFEST-beyond-sni.tsv; it runs tshark, it parses no TLS itself.
//
// Notation: "C" and "S" are the client (SYN sender) and the server; one
// space-separated item per TCP segment, records of one segment joined by
// "+": client_hello(517) is a handshake record of 517 bytes,
// server_hello,certificate(900) one record holding two messages,
// ccs(1), alert(2:fatal:handshake_failure) a plaintext alert,
// enc_alert(26) and enc_handshake(40) TLS 1.2 records tshark cannot read,
// app(53) an application_data record (under TLS 1.3 every encrypted record),
// seg(5) a segment whose bytes complete no record, retx(120) a segment
// tshark calls a retransmission. With -keys (a
// SSLKEYLOGFILE), what tshark decrypts follows in braces: app(19){alert:fatal:certificate_required}.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/hellowatch/hellowatch/tlsparse"
)

func main() {
	keys := flag.String("keys", "", "SSLKEYLOGFILE to decrypt with (optional): decrypted contents follow in braces")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: wiresummary [-keys FILE] CAPTURE")
		os.Exit(2)
	}
	plain, err := frames(flag.Arg(0), "")
	if err != nil {
		fmt.Fprintln(os.Stderr, "wiresummary:", err)
		os.Exit(1)
	}
	var keyed []frame
	if *keys != "" {
		if keyed, err = frames(flag.Arg(0), *keys); err != nil {
			fmt.Fprintln(os.Stderr, "wiresummary:", err)
			os.Exit(1)
		}
		if len(keyed) != len(plain) {
			keyed = nil
		}
	}
	type stream struct {
		client string // the SYN sender's port
		items  []string
	}
	var order []string
	streams := map[string]*stream{}
	for i, f := range plain {
		s := streams[f.stream]
		if s == nil {
			s = &stream{}
			streams[f.stream] = s
			order = append(order, f.stream)
		}
		if f.syn && !f.ack {
			s.client = f.srcport
		}
		if s.client == "" && len(f.records) > 0 && f.records[0].hs == "client_hello" {
			s.client = f.srcport
		}
		side := "S"
		if f.srcport == s.client {
			side = "C"
		}
		var recs []string
		for j, r := range f.records {
			l := r.label()
			if keyed != nil && j < len(keyed[i].records) {
				if inner := keyed[i].records[j].inner(r); inner != "" {
					l += "{" + inner + "}"
				}
			}
			recs = append(recs, l)
		}
		switch {
		case len(recs) > 0:
			s.items = append(s.items, side+" "+strings.Join(recs, "+"))
		case f.retransmission && f.tcpLen > 0:
			s.items = append(s.items, fmt.Sprintf("%s retx(%d)", side, f.tcpLen))
		case f.tcpLen > 0:
			s.items = append(s.items, fmt.Sprintf("%s seg(%d)", side, f.tcpLen))
		}
		switch {
		case f.fin && f.retransmission:
			s.items = append(s.items, side+" retx(FIN)")
		case f.fin:
			s.items = append(s.items, side+" FIN")
		}
		if f.rst {
			s.items = append(s.items, side+" RST")
		}
	}
	for n, id := range order {
		prefix := ""
		if len(order) > 1 {
			prefix = fmt.Sprintf("[%d] ", n+1)
		}
		fmt.Println(prefix + strings.Join(streams[id].items, " | "))
	}
}

type frame struct {
	stream, srcport    string
	tcpLen             int
	syn, ack, fin, rst bool
	retransmission     bool // tshark's tcp.analysis says so
	records            []record
}

type record struct {
	contentType, opaqueType string
	length                  string
	hs                      string // handshake message names, comma-separated
	alertLevel, alertDesc   string
}

func (r record) label() string {
	ct := r.contentType
	if r.opaqueType != "" {
		ct = r.opaqueType // a keyed pass: label as the wire shows it
	}
	switch ct {
	case "20":
		return "ccs(" + r.length + ")"
	case "21":
		if r.alertDesc != "" && r.opaqueType == "" {
			return fmt.Sprintf("alert(%s:%s)", r.length, alertText(r.alertLevel, r.alertDesc))
		}
		return "enc_alert(" + r.length + ")"
	case "22":
		if r.hs != "" && r.opaqueType == "" {
			return r.hs + "(" + r.length + ")"
		}
		return "enc_handshake(" + r.length + ")"
	case "23":
		return "app(" + r.length + ")"
	}
	return "type" + ct + "(" + r.length + ")"
}

// inner says what a keyed pass found inside a record the plain pass could
// not read (plain is the same record from the plain pass): every TLS 1.3
// encrypted record, TLS 1.2 encrypted alerts and Finished messages.
func (r record) inner(plain record) string {
	if r.opaqueType == "" && plain.label() == r.label() {
		return ""
	}
	switch r.contentType {
	case "21":
		if r.alertDesc != "" {
			return "alert:" + alertText(r.alertLevel, r.alertDesc)
		}
	case "22":
		if r.hs != "" {
			return r.hs
		}
	case "23":
		return "data"
	}
	return ""
}

func alertText(level, desc string) string {
	l, _ := strconv.Atoi(level)
	d, _ := strconv.Atoi(desc)
	return tlsparse.AlertLevel(l).String() + ":" + tlsparse.AlertDescription(d).String()
}

// frames runs tshark on the capture and returns every TCP frame.
func frames(path, keys string) ([]frame, error) {
	args := []string{"-r", path, "-T", "json", "--no-duplicate-keys", "-J", "tcp tls",
		"-o", "tcp.reassemble_out_of_order:TRUE"}
	if keys != "" {
		args = append(args, "-o", "tls.keylog_file:"+keys)
	}
	cmd := exec.Command("tshark", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("tshark %s: %v: %s", path, err, stderr.String())
	}
	var pkts []struct {
		Source struct {
			Layers map[string]json.RawMessage `json:"layers"`
		} `json:"_source"`
	}
	if err := json.Unmarshal(out, &pkts); err != nil {
		return nil, fmt.Errorf("tshark %s: %w", path, err)
	}
	var fs []frame
	for _, p := range pkts {
		var tcp map[string]any
		if json.Unmarshal(p.Source.Layers["tcp"], &tcp) != nil || tcp == nil {
			continue
		}
		f := frame{stream: str(tcp["tcp.stream"]), srcport: str(tcp["tcp.srcport"])}
		f.tcpLen, _ = strconv.Atoi(str(tcp["tcp.len"]))
		f.retransmission = bytes.Contains(p.Source.Layers["tcp"], []byte(`retransmission"`))
		if flags, ok := tcp["tcp.flags_tree"].(map[string]any); ok {
			f.syn = str(flags["tcp.flags.syn"]) == "1"
			f.ack = str(flags["tcp.flags.ack"]) == "1"
			f.fin = str(flags["tcp.flags.fin"]) == "1"
			f.rst = str(flags["tcp.flags.reset"]) == "1"
		}
		var tls any
		if raw, ok := p.Source.Layers["tls"]; ok {
			json.Unmarshal(raw, &tls)
		}
		for _, layer := range list(tls) {
			m, ok := layer.(map[string]any)
			if !ok {
				continue
			}
			for _, rec := range list(m["tls.record"]) {
				rm, ok := rec.(map[string]any)
				if !ok {
					continue
				}
				r := record{contentType: str(rm["tls.record.content_type"]), opaqueType: str(rm["tls.record.opaque_type"]),
					length: str(rm["tls.record.length"])}
				var names []string
				for _, h := range list(rm["tls.handshake"]) {
					if hm, ok := h.(map[string]any); ok && str(hm["tls.handshake.type"]) != "" {
						t, _ := strconv.Atoi(str(hm["tls.handshake.type"]))
						names = append(names, tlsparse.HandshakeType(t).String())
					}
				}
				r.hs = strings.Join(names, ",")
				if am, ok := rm["tls.alert_message"].(map[string]any); ok {
					r.alertLevel, r.alertDesc = str(am["tls.alert_message.level"]), str(am["tls.alert_message.desc"])
				}
				f.records = append(f.records, r)
			}
		}
		fs = append(fs, f)
	}
	return fs, nil
}

// list returns v as a list: tshark's JSON has an object where a field
// occurs once and an array where it repeats.
func list(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	}
	return []any{v}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
