// Package across judges handshakes by what other handshakes to the same
// server showed: the causes that no single connection names. It is the
// stage after diagnose (docs/ARCHITECTURE.md, "Where a new finding goes"):
// fed every finished record in order, with the findings diagnose gave it,
// it returns the findings to emit with that record, and it can say, per
// server, which attribute of the ClientHello separates the failing
// handshakes from the working ones.
//
// Memory is bounded: a table of at most Config.MaxServers servers, oldest
// out, each holding fixed-size counters; a handshake costs O(1).
package across

import (
	"container/list"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// DefaultMaxServers is the default cap of the server table.
const DefaultMaxServers = 4096

// maxValues caps the distinct values counted per attribute and server;
// further values are counted as "other".
const maxValues = 8

// Config configures a Stage.
type Config struct {
	// MaxServers caps the servers remembered; 0 means DefaultMaxServers.
	MaxServers int
}

// Stage remembers recent handshakes per server. It is not safe for
// concurrent use: feed it from the goroutine that emits records.
type Stage struct {
	max     int
	servers map[netip.AddrPort]*list.Element
	lru     *list.List // front = most recently used *server
	evicted uint64
}

// New returns a Stage.
func New(cfg Config) *Stage {
	n := cfg.MaxServers
	if n <= 0 {
		n = DefaultMaxServers
	}
	return &Stage{max: n, servers: make(map[netip.AddrPort]*list.Element), lru: list.New()}
}

// Len returns the number of servers remembered.
func (s *Stage) Len() int { return s.lru.Len() }

// Evicted returns how many servers were forgotten to keep the cap.
func (s *Stage) Evicted() uint64 { return s.evicted }

// server is what the stage remembers of one server address.
type server struct {
	addr           netip.AddrPort
	failed, worked uint64
	attrs          [numAttrs]attrCounts
	// single-segment hellos that worked and multi-segment ones that
	// failed without a TLS answer, for large_hello_dropped.
	smallOK, largeOK, largeDropped uint64
	largestOK                      int // the largest hello that worked (bytes)
	// The certificate subjects seen with and without SNI (TLS <= 1.2),
	// for missing_sni's evidence.
	certWithSNI, certNoSNI string
}

// attribute is a property of a ClientHello that may separate the failing
// handshakes from the working ones.
type attribute uint8

const (
	attrSNI attribute = iota
	attrVersion
	attrSegments
	attrKeyShare
	attrALPN
	attrJA4
	numAttrs
)

var attrNames = [numAttrs]string{"sni", "max_version", "hello_segments", "key_share", "alpn", "ja4"}

// String returns the attribute's JSON word.
func (a attribute) String() string { return attrNames[a] }

// attrCounts counts, per value, the failed and the working handshakes.
type attrCounts struct {
	n      int
	values [maxValues + 1]string // the last one is "other"
	failed [maxValues + 1]uint64
	worked [maxValues + 1]uint64
}

func (c *attrCounts) add(v string, failed bool) {
	i := slices.Index(c.values[:c.n], v)
	if i < 0 {
		if c.n < maxValues {
			i = c.n
			c.values[i] = v
			c.n++
		} else {
			i = maxValues
			c.values[i] = "other"
		}
	}
	if failed {
		c.failed[i]++
	} else {
		c.worked[i]++
	}
}

// attrValue renders h's value of attribute a (bounded in length).
func attrValue(h *handshake.Handshake, a attribute) string {
	switch a {
	case attrSNI:
		if h.HasSNI {
			return "present"
		}
		return "absent"
	case attrVersion:
		if len(h.ClientVersions) == 0 {
			return "unknown"
		}
		return h.ClientVersions[0].String()
	case attrSegments:
		if h.HelloSegments >= 2 {
			return "2+"
		}
		return "1"
	case attrKeyShare:
		var b strings.Builder
		for _, g := range h.ClientKeyShares {
			if tlsparse.IsGREASE(uint16(g)) {
				continue
			}
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(g.String())
			if b.Len() > 64 {
				break
			}
		}
		if b.Len() == 0 {
			return "none"
		}
		return b.String()
	case attrALPN:
		if len(h.ALPN) == 0 {
			return "none"
		}
		s := strings.Join(h.ALPN, ",")
		if len(s) > 64 {
			s = s[:64]
		}
		return strings.ToValidUTF8(s, "?")
	case attrJA4:
		if h.JA4 == "" {
			return "unknown"
		}
		return h.JA4
	}
	return ""
}

// Failed reports whether a handshake counts as failed for the comparison
// across handshakes: not established, or established with an error
// finding that names a cause. A client that merely closed at once
// (closed_after_handshake alone: a verify failure, or a probe such as
// openssl s_client without a request) is not counted either way as a
// cause to compare.
func Failed(h *handshake.Handshake, fs []diagnose.Finding) bool {
	if h.Outcome != handshake.OutcomeEstablished {
		return true
	}
	for i := range fs {
		if fs[i].Severity == diagnose.SeverityError && fs[i].ID != diagnose.ClosedAfterHandshake {
			return true
		}
	}
	return false
}

// lookup returns the server's entry, making room when the table is full.
func (s *Stage) lookup(addr netip.AddrPort) *server {
	if e, ok := s.servers[addr]; ok {
		s.lru.MoveToFront(e)
		return e.Value.(*server)
	}
	if s.lru.Len() >= s.max {
		old := s.lru.Back()
		s.lru.Remove(old)
		delete(s.servers, old.Value.(*server).addr)
		s.evicted++
	}
	sv := &server{addr: addr}
	s.servers[addr] = s.lru.PushFront(sv)
	return sv
}

// Add takes one finished record and the findings diagnose gave it, and
// returns the findings to emit with it: those, with the findings that
// need other handshakes put in front and evidence added. Incomplete
// handshakes and records without a decoded hello are remembered not at all.
// The caller owns the returned slice; fs may be reused in it.
func (s *Stage) Add(h *handshake.Handshake, fs []diagnose.Finding) []diagnose.Finding {
	if h == nil || h.Outcome == handshake.OutcomeIncomplete || !diagnose.HelloDecoded(h) {
		return fs
	}
	sv := s.lookup(h.Server)
	failed := Failed(h, fs)
	if failed {
		sv.failed++
	} else {
		sv.worked++
	}
	for a := attribute(0); a < numAttrs; a++ {
		sv.attrs[a].add(attrValue(h, a), failed)
	}
	if h.Cert != nil && h.Cert.Subject != "" {
		if h.HasSNI && sv.certWithSNI == "" {
			sv.certWithSNI = clip(h.Cert.Subject)
		} else if !h.HasSNI && sv.certNoSNI == "" {
			sv.certNoSNI = clip(h.Cert.Subject)
		}
	}
	if !failed && h.HelloSegments <= 1 && h.Transport == handshake.TransportTCP {
		sv.smallOK++
		sv.largestOK = max(sv.largestOK, h.HelloLen)
	}
	if f, ok := s.largeHello(sv, h, fs, failed); ok {
		fs = slices.Insert(fs, 0, f)
	}
	return s.addEvidence(sv, h, fs)
}

func clip(s string) string {
	if len(s) > 256 {
		return s[:256]
	}
	return s
}

// Split is what separates the failing handshakes to one server from the
// working ones: the attribute value shared most by one side and least by
// the other.
type Split struct {
	Server         netip.AddrPort
	Failed, Worked uint64
	Attribute      string // "sni", "max_version", "hello_segments", "key_share", "alpn", "ja4"
	Value          string // the value the failures share, e.g. "absent"
	// FailedWith and WorkedWith count the failed and the working
	// handshakes with Value.
	FailedWith, WorkedWith uint64
}

// Clean reports whether the split is perfect: every failure had the value
// and no success did.
func (sp Split) Clean() bool { return sp.FailedWith == sp.Failed && sp.WorkedWith == 0 }

// String renders the split for people, e.g. "127.0.0.2:443: 40 failed, 260
// worked; every failure had no SNI, every success had it".
func (sp Split) String() string {
	var b strings.Builder
	b.WriteString(sp.Server.String())
	b.WriteString(": ")
	b.WriteString(strconv.FormatUint(sp.Failed, 10))
	b.WriteString(" failed, ")
	b.WriteString(strconv.FormatUint(sp.Worked, 10))
	b.WriteString(" worked; ")
	what := valueWords(sp.Attribute, sp.Value)
	if sp.Clean() {
		b.WriteString("every failure had " + what + ", no success did")
		if sp.Attribute == "sni" && sp.Value == "absent" {
			b.Reset()
			b.WriteString(sp.Server.String() + ": " + strconv.FormatUint(sp.Failed, 10) + " failed, " +
				strconv.FormatUint(sp.Worked, 10) + " worked; every failure had no SNI, every success had it")
		}
		return b.String()
	}
	b.WriteString(strconv.FormatUint(sp.FailedWith, 10) + " of " + strconv.FormatUint(sp.Failed, 10) + " failures had " + what)
	b.WriteString(", " + strconv.FormatUint(sp.WorkedWith, 10) + " of " + strconv.FormatUint(sp.Worked, 10) + " successes")
	return b.String()
}

// valueWords names an attribute value in a sentence.
func valueWords(attr, v string) string {
	switch attr {
	case "sni":
		if v == "absent" {
			return "no SNI"
		}
		return "SNI"
	case "max_version":
		return v + " as the highest version offered"
	case "hello_segments":
		if v == "2+" {
			return "a ClientHello in 2 or more TCP segments"
		}
		return "a ClientHello in one TCP segment"
	case "key_share":
		return "key shares " + strconv.Quote(v)
	case "alpn":
		return "ALPN " + strconv.Quote(v)
	case "ja4":
		return "JA4 " + v
	}
	return attr + "=" + strconv.Quote(v)
}

// split finds the attribute value that separates sv's failures from its
// successes best, or ok false when it has not seen both.
func (sv *server) split() (Split, bool) {
	if sv.failed == 0 || sv.worked == 0 {
		return Split{}, false
	}
	best, bestScore := Split{}, -1.0
	for a := attribute(0); a < numAttrs; a++ {
		c := &sv.attrs[a]
		for i := 0; i <= maxValues; i++ {
			if i == c.n && i < maxValues {
				i = maxValues
			}
			if c.failed[i] == 0 {
				continue
			}
			score := float64(c.failed[i])/float64(sv.failed) - float64(c.worked[i])/float64(sv.worked)
			if score > bestScore+1e-9 {
				bestScore = score
				best = Split{Server: sv.addr, Failed: sv.failed, Worked: sv.worked, Attribute: a.String(),
					Value: c.values[i], FailedWith: c.failed[i], WorkedWith: c.worked[i]}
			}
		}
	}
	return best, bestScore > 0
}

// Splits returns, for every remembered server with both failures and
// successes, what separates them, most failures first.
func (s *Stage) Splits() []Split {
	var out []Split
	for e := s.lru.Front(); e != nil; e = e.Next() {
		if sp, ok := e.Value.(*server).split(); ok {
			out = append(out, sp)
		}
	}
	slices.SortStableFunc(out, func(a, b Split) int {
		if a.Failed != b.Failed {
			if a.Failed > b.Failed {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Server.String(), b.Server.String())
	})
	return out
}
