package confirm

import (
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// Finding IDs that later diagnosis work adds (issue 20); matched by their
// stable words so that confirm picks them up when diagnose emits them.
// Until then the same cases are recognised from the record (an alert 120).
const (
	findingALPNMismatch     = "alpn_mismatch"
	findingCertNameMismatch = "certificate_name_mismatch"
	findingLargeHello       = diagnose.LargeHelloDropped
)

// Variant IDs: stable words, in the JSON output.
const (
	VariantAsCaptured    = "as_captured"
	VariantSNI           = "sni"
	VariantVersions      = "versions"
	VariantALPN          = "alpn"
	VariantClassicGroups = "classic_groups"
	VariantTwoSegments   = "two_segments"
)

// Variant is one ClientHello to send: the captured one, or the captured one
// with one fix applied.
type Variant struct {
	ID    string // one of the Variant* words
	Label string // for the table: "as captured", "with SNI abc.example.com"
	// Finding is the finding whose fix the variant applies; empty for the
	// baseline and for the two-segment replay, which only shows how the
	// server treats a split hello.
	Finding string
	// Fix is what to change when this variant gets a ServerHello and the
	// captured hello does not.
	Fix string
	// Records are the bytes sent. Split > 0 sends the first Split bytes,
	// pauses, then sends the rest.
	Records []byte
	Split   int
	// Name is the SNI the variant carries ("" for none). With
	// CheckCertName, a TLS 1.2 certificate that does not cover Name means
	// the variant did not fix the handshake.
	Name          string
	CheckCertName bool
	// The hello's facts: message length, fingerprints.
	HelloLen int
	JA3, JA4 string
}

// Options are the caller's choices for [Plan].
type Options struct {
	// SNI is the host name for the variants that add or replace the
	// server name (--sni). Empty: the first of Names.
	SNI string
	// Names are host names other hellos to the same server carried
	// ([Capture.NamesFor]), tried when SNI is empty.
	Names []string
	// X25519Share is the x25519 public key for a key share the TLS 1.3
	// upgrade or the classic-groups variant needs; nil makes a fresh one.
	X25519Share []byte
}

// Errors of Plan.
var (
	// ErrNeedName reports a finding whose fix is a (different) server name
	// when no name was given and the capture shows none.
	ErrNeedName = errors.New("confirm: no host name to try: give it with --sni")
	// ErrNoVariant reports a handshake whose findings have no fix that a
	// changed ClientHello can show.
	ErrNoVariant = errors.New("confirm: no ClientHello change tests this finding")
)

// Plan chooses the variants for a flow: the hello as captured first, then
// one variant per fix its findings suggest (most important finding first),
// each rebuilt by tlsparse and parsed back.
//
//   - missing_sni, missing_sni_resumed: the hello plus server_name (opts.SNI,
//     or the name other hellos to the server sent);
//   - unknown_name, sni_is_ip, certificate_name_mismatch: another name;
//   - version_mismatch: supported_versions TLS 1.3 and 1.2;
//   - alpn_mismatch, or a no_application_protocol (120) alert: ALPN h2,
//     http/1.1;
//   - large_hello_dropped, or a hello of two or more segments refused with
//     a RST, a FIN or silence: the hello in two segments as captured (to
//     show the split is what is refused), and with classic groups only so
//     that it fits one segment.
//
// An explicit opts.SNI also adds a SNI variant when no finding asked for
// one.
func Plan(f *Flow, hello *Hello, opts Options) ([]Variant, error) {
	h := f.Record
	p := planner{f: f, hello: hello, opts: opts}
	if err := p.add(Variant{ID: VariantAsCaptured, Label: "as captured", Records: hello.Records}, nil); err != nil {
		return nil, err
	}
	var ids []string
	for _, x := range f.Findings {
		// large_hello_dropped is a warning until a success to the same
		// server is seen: the replay is what settles it.
		if x.Severity != diagnose.SeverityError && x.ID != findingLargeHello {
			continue
		}
		ids = append(ids, x.ID)
		if err := p.finding(x); err != nil {
			return nil, err
		}
	}
	if serverAlert(h, tlsparse.AlertNoApplicationProtocol) {
		if err := p.alpn(findingALPNMismatch, ""); err != nil {
			return nil, err
		}
	}
	if looksDropped(h, hello) {
		if err := p.large(findingLargeHello, ""); err != nil {
			return nil, err
		}
	}
	if opts.SNI != "" && !p.has(VariantSNI) {
		if err := p.sni("", "send SNI "+opts.SNI, opts.SNI, false); err != nil {
			return nil, err
		}
	}
	fixes := 0
	for _, v := range p.out {
		if v.Fix != "" {
			fixes++
		}
	}
	if fixes == 0 {
		if len(ids) == 0 {
			ids = []string{"none"}
		}
		return nil, fmt.Errorf("%w (findings: %s); confirm replays fixes for missing_sni, unknown_name, sni_is_ip, version_mismatch, alpn_mismatch and large_hello_dropped, and any name given with --sni",
			ErrNoVariant, strings.Join(ids, ", "))
	}
	return p.out, nil
}

type planner struct {
	f     *Flow
	hello *Hello
	opts  Options
	out   []Variant
}

func (p *planner) has(id string) bool {
	for _, v := range p.out {
		if v.ID == id {
			return true
		}
	}
	return false
}

func (p *planner) finding(x diagnose.Finding) error {
	h := p.f.Record
	switch x.ID {
	case diagnose.MissingSNI, diagnose.MissingSNIResumed:
		name, err := p.name(false)
		if err != nil {
			return err
		}
		return p.sni(x.ID, x.Hint, name, false)
	case diagnose.UnknownName, diagnose.SNIIsIP, findingCertNameMismatch:
		name, err := p.name(true)
		if err != nil {
			return err
		}
		fix := "send the name " + strconv.Quote(name) + " as SNI (nginx: `proxy_ssl_name " + name + ";` with `proxy_ssl_server_name on;`)"
		return p.sni(x.ID, fix, name, x.ID == findingCertNameMismatch || h.ServerHelloSeen)
	case diagnose.VersionMismatch:
		return p.versions(x.ID, x.Hint)
	case findingALPNMismatch:
		return p.alpn(x.ID, x.Hint)
	case findingLargeHello:
		return p.large(x.ID, x.Hint)
	}
	return nil
}

// name is the host name to try: --sni, else one other hellos to the
// server carried (other than the flow's own when different).
func (p *planner) name(different bool) (string, error) {
	if p.opts.SNI != "" {
		return p.opts.SNI, nil
	}
	own := p.hello.ServerName
	for _, n := range p.opts.Names {
		if !different || n != own {
			return n, nil
		}
	}
	return "", ErrNeedName
}

func (p *planner) share() ([]byte, error) {
	if p.opts.X25519Share == nil {
		k, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("confirm: x25519 key: %w", err)
		}
		p.opts.X25519Share = k.PublicKey().Bytes()
	}
	return p.opts.X25519Share, nil
}

// add rebuilds v's hello with e (nil: v.Records as they are), parses it
// back, fills in its facts and appends it.
func (p *planner) add(v Variant, e *tlsparse.HelloEdit) error {
	if p.has(v.ID) {
		return nil
	}
	body := p.hello.Body
	if e != nil {
		var err error
		if body, err = tlsparse.RewriteClientHello(nil, p.hello.Body, e); err != nil {
			return fmt.Errorf("confirm: %s: %w", v.Label, err)
		}
		v.Records = tlsparse.AppendClientHelloRecords(nil, p.hello.Version, body)
	}
	var ch tlsparse.ClientHello
	if err := tlsparse.ParseClientHello(body, &ch); err != nil {
		return fmt.Errorf("confirm: %s: the rebuilt hello does not parse: %w", v.Label, err)
	}
	if ch.HasSNI {
		v.Name = string(ch.ServerName())
	}
	v.HelloLen = 4 + len(body)
	v.JA3 = string(ch.JA3(nil))
	v.JA4 = string(ch.JA4(nil))
	p.out = append(p.out, v)
	return nil
}

func (p *planner) sni(finding, fix, name string, checkCert bool) error {
	label := "with SNI " + name
	if p.hello.HasSNI {
		label = "with SNI " + name + " instead"
	}
	return p.add(Variant{ID: VariantSNI, Label: label, Finding: finding, Fix: fix, CheckCertName: checkCert},
		&tlsparse.HelloEdit{SetServerName: true, ServerName: []byte(name)})
}

func (p *planner) versions(finding, fix string) error {
	share, err := p.share()
	if err != nil {
		return err
	}
	return p.add(Variant{ID: VariantVersions, Label: "with TLS 1.3 and 1.2", Finding: finding, Fix: fix},
		&tlsparse.HelloEdit{Versions: []tlsparse.Version{tlsparse.VersionTLS13, tlsparse.VersionTLS12}, X25519Share: share})
}

const alpnFix = "offer h2 or http/1.1 in ALPN, which the server accepts (Go: `tls.Config.NextProtos`; curl: `--http2` / `--http1.1`; HAProxy: `alpn h2,http/1.1` on the server line)"

func (p *planner) alpn(finding, fix string) error {
	if fix == "" {
		fix = alpnFix
	}
	return p.add(Variant{ID: VariantALPN, Label: "with ALPN h2, http/1.1", Finding: finding, Fix: fix},
		&tlsparse.HelloEdit{SetALPN: true, ALPN: [][]byte{[]byte("h2"), []byte("http/1.1")}})
}

const largeFix = "the hello must fit one TCP segment, or what routes on its SNI must wait for all of it " +
	"(HAProxy: `tcp-request inspect-delay 5s` with `tcp-request content accept if { req.ssl_hello_type 1 }`, which waits for the whole hello); " +
	"as a stopgap on the client, classic key shares only (Go: `GODEBUG=tlsmlkem=0`; curl: `--curves X25519:P-256`)"

func (p *planner) large(finding, fix string) error {
	if fix == "" {
		fix = largeFix
	}
	segs := p.hello.Segments
	split := len(p.hello.Records) / 2
	if len(segs) >= 2 && segs[0] < len(p.hello.Records) {
		split = segs[0]
	}
	if split > 0 {
		label := fmt.Sprintf("in two segments (%d + %d bytes)", split, len(p.hello.Records)-split)
		if err := p.add(Variant{ID: VariantTwoSegments, Label: label, Records: p.hello.Records, Split: split}, nil); err != nil {
			return err
		}
	}
	var ch tlsparse.ClientHello
	if tlsparse.ParseClientHello(p.hello.Body, &ch) != nil {
		return nil
	}
	pq := false
	for _, k := range ch.KeyShares {
		pq = pq || k.Group.IsPostQuantum()
	}
	if !pq {
		return nil // nothing to drop: no variant makes it smaller
	}
	share, err := p.share()
	if err != nil {
		return err
	}
	return p.add(Variant{ID: VariantClassicGroups, Label: "with classic groups only", Finding: finding, Fix: fix},
		&tlsparse.HelloEdit{ClassicGroupsOnly: true, X25519Share: share})
}

// serverAlert reports whether the server sent a plaintext alert d.
func serverAlert(h *handshake.Handshake, d tlsparse.AlertDescription) bool {
	for _, a := range h.Alerts {
		if a.Sender == handshake.SideServer && !a.Encrypted && a.Description == d {
			return true
		}
	}
	return false
}

// looksDropped reports the pattern of a split hello that something in the
// path refused: a hello of two or more segments with SNI present,
// answered by a RST, a FIN or nothing, or cut short by the server's FIN
// or RST (issue 13's large_hello_dropped on a single handshake).
func looksDropped(h *handshake.Handshake, hello *Hello) bool {
	if len(hello.Segments) < 2 || !hello.HasSNI || h.ServerHelloSeen {
		return false
	}
	if endedMidHello(h) {
		return true
	}
	switch h.Outcome {
	case handshake.OutcomeServerReset, handshake.OutcomeServerClosed, handshake.OutcomeNoResponse:
		return true
	}
	return false
}
