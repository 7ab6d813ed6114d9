package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/internal/testkit"
)

// ecsField is one field of the pinned ECS version (testdata/ecs).
type ecsField struct {
	typ     string
	array   bool
	allowed []string
}

func ecsFields(t *testing.T) map[string]ecsField {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "ecs", "fields.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]ecsField{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) != 4 {
			t.Fatalf("fields.tsv: %q", line)
		}
		fd := ecsField{typ: c[1], array: slices.Contains(strings.Split(c[2], ","), "array")}
		if c[3] != "" {
			fd.allowed = strings.Split(c[3], ",")
		}
		out[c[0]] = fd
	}
	if len(out) < 1000 {
		t.Fatalf("fields.tsv has %d fields", len(out))
	}
	return out
}

// flatten turns a decoded document into dotted leaf paths.
func flatten(prefix string, v any, out map[string]any) {
	if m, ok := v.(map[string]any); ok {
		for k, x := range m {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, x, out)
		}
		return
	}
	out[prefix] = v
}

// TestECSFields checks every field the ECS output writes, outside the
// custom hellowatch object, against ECS 9.4.0: the field exists, its JSON
// value fits the ECS type (an array only where ECS normalises to one), and
// a field with allowed values uses only those.
func TestECSFields(t *testing.T) {
	fields := ecsFields(t)
	seen := map[string]bool{}
	for _, s := range append(samples(), ecsExtraSamples()...) {
		doc := AppendECS(nil, s.h, findings(s.h))
		var m map[string]any
		if err := json.Unmarshal(doc, &m); err != nil {
			t.Fatalf("%s: invalid JSON: %v\n%s", s.name, err, doc)
		}
		flat := map[string]any{}
		flatten("", m, flat)
		for path, v := range flat {
			if strings.HasPrefix(path, "hellowatch.") {
				continue
			}
			seen[path] = true
			fd, ok := fields[path]
			if !ok {
				t.Errorf("%s: %s is not an ECS %s field", s.name, path, ECSVersion)
				continue
			}
			vals := []any{v}
			if arr, isArr := v.([]any); isArr {
				if !fd.array && fd.typ != "keyword" {
					t.Errorf("%s: %s is an array, ECS says %s", s.name, path, fd.typ)
				}
				vals = arr
			}
			for _, x := range vals {
				if !ecsTypeOK(fd.typ, x) {
					t.Errorf("%s: %s = %v (%T), ECS type %s", s.name, path, x, x, fd.typ)
				}
				if fd.allowed != nil && !slices.Contains(fd.allowed, x.(string)) {
					t.Errorf("%s: %s = %v, ECS allows %v", s.name, path, x, fd.allowed)
				}
			}
		}
		if m["ecs"].(map[string]any)["version"] != ECSVersion {
			t.Errorf("ecs.version %v", m["ecs"])
		}
	}
	for _, want := range []string{"@timestamp", "source.ip", "destination.port", "network.community_id",
		"tls.version", "tls.cipher", "tls.client.server_name", "tls.client.ja3", "tls.server.x509.subject.distinguished_name",
		"event.kind", "event.category", "event.type", "event.outcome", "error.code"} {
		if !seen[want] {
			t.Errorf("no sample wrote %s", want)
		}
	}
}

func ecsTypeOK(typ string, v any) bool {
	switch typ {
	case "keyword", "match_only_text", "wildcard", "constant_keyword", "text":
		_, ok := v.(string)
		return ok
	case "long", "float", "scaled_float", "double":
		_, ok := v.(float64)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "date":
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, err := time.Parse(time.RFC3339Nano, s)
		return err == nil
	case "ip":
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, err := netip.ParseAddr(s)
		return err == nil
	}
	return false
}

// ecsExtraSamples adds a QUIC record to the samples.
func ecsExtraSamples() []struct {
	name string
	h    *handshake.Handshake
} {
	q := *samples()[1].h
	q.Transport = handshake.TransportQUIC
	q.QUIC = &handshake.QUICInfo{Version: 1}
	return []struct {
		name string
		h    *handshake.Handshake
	}{{"quic", &q}}
}

func TestECSGolden(t *testing.T) {
	var buf bytes.Buffer
	ew := NewECSWriter(&buf)
	for _, s := range samples() {
		if err := ew.Write(s.h, findings(s.h)); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Golden(t, filepath.Join("testdata", "ecs.golden.jsonl"), buf.Bytes())
}

func TestECSOutcome(t *testing.T) {
	for _, s := range samples() {
		var m struct {
			Event struct{ Outcome string }
			Error *struct{ Code string }
			TLS   struct{ Established bool } `json:"tls"`
		}
		fs := findings(s.h)
		if err := json.Unmarshal(AppendECS(nil, s.h, fs), &m); err != nil {
			t.Fatal(err)
		}
		if m.Event.Outcome != ecsOutcome(s.h.Outcome) || m.TLS.Established != s.h.Established() {
			t.Errorf("%s: outcome %s, established %v", s.name, m.Event.Outcome, m.TLS.Established)
		}
		if (len(fs) > 0) != (m.Error != nil) || len(fs) > 0 && m.Error.Code != fs[0].ID {
			t.Errorf("%s: error %+v for findings %d", s.name, m.Error, len(fs))
		}
	}
}
