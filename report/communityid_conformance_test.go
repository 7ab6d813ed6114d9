package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hellowatch/hellowatch/handshake"
)

// peerCommunityID is a Community ID another tool recorded for a flow of a
// corpus capture.
type peerCommunityID struct {
	file, peer string
	a, b       string // ip:port, either order
	udp        bool
	seed       uint16
	id         string
}

// arkimeCommunityIDs reads the sessions of Arkime's test files
// (arkime/tests/pcap/<name>.test beside <name>.pcap) that carry
// network.community_id.
func arkimeCommunityIDs(t *testing.T, dir string) []peerCommunityID {
	paths, err := filepath.Glob(filepath.Join(dir, "arkime", "tests", "pcap", "*.test"))
	if err != nil {
		t.Fatal(err)
	}
	var out []peerCommunityID
	for _, p := range paths {
		pcap := strings.TrimSuffix(p, ".test") + ".pcap"
		if _, err := os.Stat(pcap); err != nil {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Sessions []struct {
				Body struct {
					Source, Destination struct {
						IP   string `json:"ip"`
						Port int    `json:"port"`
					}
					IPProtocol int `json:"ipProtocol"`
					Network    struct {
						CommunityID string `json:"community_id"`
					} `json:"network"`
				} `json:"body"`
			} `json:"sessions3"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			continue // not every .test is a sessions document
		}
		rel, _ := filepath.Rel(dir, pcap)
		for _, s := range doc.Sessions {
			body := s.Body
			if body.Network.CommunityID == "" || body.IPProtocol != 6 && body.IPProtocol != 17 {
				continue
			}
			out = append(out, peerCommunityID{
				file: rel, peer: "arkime",
				a:   hostPort(body.Source.IP, body.Source.Port),
				b:   hostPort(body.Destination.IP, body.Destination.Port),
				udp: body.IPProtocol == 17, id: body.Network.CommunityID,
			})
		}
	}
	return out
}

func hostPort(ip string, port int) string {
	if strings.Contains(ip, ":") {
		return fmt.Sprintf("[%s]:%d", ip, port)
	}
	return fmt.Sprintf("%s:%d", ip, port)
}

// suricataCommunityIDs reads the community_id checks of the
// suricata-verify community-id tests. Their suricata.yaml (not copied into
// the corpus) sets community-id-seed: 7 (OISF/suricata-verify,
// tests/community-id-ipv4/suricata.yaml), so the IDs are seed 7's.
func suricataCommunityIDs(t *testing.T, dir string) []peerCommunityID {
	var out []peerCommunityID
	field := func(block, name string) string {
		m := regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(name) + `:\s*(\S+)\s*$`).FindStringSubmatch(block)
		if m == nil {
			return ""
		}
		return m[1]
	}
	for _, test := range []string{"community-id-ipv4", "community-id-ipv6"} {
		tdir := filepath.Join(dir, "suricata-verify", "tests", test)
		b, err := os.ReadFile(filepath.Join(tdir, "test.yaml"))
		if err != nil {
			continue
		}
		for _, block := range strings.Split(string(b), "- filter:")[1:] {
			id, proto := field(block, "community_id"), field(block, "proto")
			if id == "" || proto != "TCP" && proto != "UDP" {
				continue
			}
			var sp, dp int
			fmt.Sscan(field(block, "src_port"), &sp)
			fmt.Sscan(field(block, "dest_port"), &dp)
			out = append(out, peerCommunityID{
				file: filepath.Join("suricata-verify", "tests", test, "input.pcap"), peer: "suricata",
				a:   hostPort(field(block, "src_ip"), sp),
				b:   hostPort(field(block, "dest_ip"), dp),
				udp: proto == "UDP", seed: 7, id: id,
			})
		}
	}
	return out
}

// TestCommunityIDConformance checks the community_id of hellowatch's
// records against the Community IDs Arkime and Suricata recorded for the
// same connections of the corpus captures (independent implementations,
// on real captures): every handshake whose 4-tuple and transport match a
// peer's flow must have the peer's ID.
func TestCommunityIDConformance(t *testing.T) {
	dir := corpusRoot(t)
	peers := append(arkimeCommunityIDs(t, dir), suricataCommunityIDs(t, dir)...)
	if len(peers) < 20 {
		t.Fatalf("%d peer Community IDs in the corpus", len(peers))
	}
	cache := map[string][]*handshake.Handshake{}
	matched := map[string]int{}
	for _, p := range peers {
		hs, ok := cache[p.file]
		if !ok {
			hs, _ = readCapture(filepath.Join(dir, p.file))
			cache[p.file] = hs
		}
		for _, h := range hs {
			if !sameFlow(h, p.a, p.b) || (h.Transport == handshake.TransportQUIC) != p.udp {
				continue
			}
			matched[p.peer]++
			if got := string(communityFlow(h).Append(nil, p.seed)); got != p.id {
				t.Errorf("%s %s-%s: community_id (seed %d) %s, %s recorded %s", p.file, p.a, p.b, p.seed, got, p.peer, p.id)
			}
		}
	}
	t.Logf("%d peer flows, matched handshakes: %v", len(peers), matched)
	if matched["arkime"] < 20 || matched["suricata"] < 2 {
		t.Errorf("too few handshakes matched a peer's flow: %v", matched)
	}
}
