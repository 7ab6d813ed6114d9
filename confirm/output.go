package confirm

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/report"
)

// Report is everything `hellowatch confirm` prints: the flow, each variant
// with its answer, and the verdict.
type Report struct {
	Flow    *Flow
	Hello   *Hello
	Target  string
	Results []VariantResult
	Verdict Verdict
	// Fixed is the variant whose fix worked (VerdictFixWorks only).
	Fixed *VariantResult
	// SplitPause is the pause within split hellos, as given to Run.
	SplitPause time.Duration
}

func (r *Report) splitPause() time.Duration {
	if r.SplitPause <= 0 {
		return defaultSplitPause
	}
	return r.SplitPause
}

// NewReport judges results and gathers what the output needs.
func NewReport(f *Flow, hello *Hello, target string, results []VariantResult) (*Report, error) {
	v, fixed, err := Judge(results)
	if err != nil {
		return nil, err
	}
	return &Report{Flow: f, Hello: hello, Target: target, Results: results, Verdict: v, Fixed: fixed}, nil
}

// VerdictText is the verdict line.
func (r *Report) VerdictText() string {
	switch r.Verdict {
	case VerdictFixWorks:
		return "the fix works: " + r.Fixed.Fix
	case VerdictNotReproduced:
		return "the failure does not reproduce: the server accepts the hello as captured now (" + answerText(&r.Results[0]) + ")"
	}
	changed := false
	for _, x := range r.Results[1:] {
		if !sameAnswer(x.Answer, r.Results[0].Answer) {
			changed = true
		}
	}
	if changed {
		return "no fix gets a ServerHello (the answers differ, each a refusal): the cause is elsewhere"
	}
	return "the fix does not change the answer: the cause is elsewhere"
}

func findingIDs(fs []diagnose.Finding) []string {
	ids := []string{}
	for _, f := range fs {
		ids = append(ids, f.ID)
	}
	return ids
}

// WriteText writes the table and the verdict. Strings from the wire (the
// SNI, certificate names, a non-TLS answer) are escaped.
func (r *Report) WriteText(w io.Writer) error {
	h := r.Flow.Record
	var b strings.Builder
	sni := "no SNI"
	if r.Hello.HasSNI {
		sni = `"` + report.EscapeWire(r.Hello.ServerName) + `"`
	}
	if ids := findingIDs(r.Flow.Findings); len(ids) > 0 {
		sni += ", " + strings.Join(ids, ", ")
	} else if endedMidHello(h) {
		sni += ", closed by the server before the hello was whole"
	}
	fmt.Fprintf(&b, "the ClientHello of %v → %v (%s), replayed to %s, one connection each:\n", h.Client, h.Server, sni, r.Target)
	width := 0
	for _, x := range r.Results {
		width = max(width, len(report.EscapeWire(x.Label))+1)
	}
	for i := range r.Results {
		x := &r.Results[i]
		label := report.EscapeWire(x.Label) + ":"
		fmt.Fprintf(&b, "  %-*s  %s\n", width, label, answerText(x))
		segs := "in one write"
		if x.Split > 0 {
			segs = "in two writes " + fmtDur(r.splitPause()) + " apart"
		}
		fmt.Fprintf(&b, "  %-*s    %d-byte hello %s, ja3 %s, ja4 %s\n", width, "", x.HelloLen, segs, x.JA3, x.JA4)
	}
	b.WriteString(r.VerdictText())
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// answerText renders an answer: "fatal handshake_failure (40)",
// "ServerHello TLS 1.2, TLS_ECDHE_..., certificate CN=abc.example.com".
func answerText(x *VariantResult) string {
	a := &x.Answer
	var s string
	switch a.Kind {
	case AnswerServerHello, AnswerHelloRetry:
		s = "ServerHello " + a.Version.String() + ", " + a.Cipher.String()
		if a.Kind == AnswerHelloRetry {
			s = "HelloRetryRequest " + a.Version.String() + ", " + a.Cipher.String() + ", asks for a " + a.Group.String() + " key share"
		}
		if a.ALPN != "" {
			s += ", ALPN " + report.EscapeWire(a.ALPN)
		}
		if c := a.Cert; c != nil {
			s += ", certificate " + report.EscapeWire(c.Subject)
			if len(c.SANs) > 0 && !(len(c.SANs) == 1 && "CN="+c.SANs[0] == c.Subject) {
				n := min(len(c.SANs), 3)
				var sans []string
				for _, x := range c.SANs[:n] {
					sans = append(sans, report.EscapeWire(x))
				}
				more := ""
				if len(c.SANs) > n {
					more = fmt.Sprintf(", +%d", len(c.SANs)-n)
				}
				s += " (" + strings.Join(sans, ", ") + more + ")"
			}
			if x.NameMismatch {
				s += ", which does not cover " + report.EscapeWire(x.Name)
			}
		}
	case AnswerAlert:
		s = fmt.Sprintf("%s %s (%d)", a.Alert.Level, a.Alert.Description, a.Alert.Description)
	case AnswerReset:
		s = "connection reset (RST), no TLS answer"
	case AnswerClosed:
		s = "connection closed (FIN), no TLS answer"
	case AnswerSilence:
		return "no answer within the timeout"
	case AnswerNotTLS:
		s = `not TLS: "` + report.EscapeWire(string(a.NotTLS)) + `"`
	case AnswerOther:
		s = "TLS, but " + report.EscapeWire(a.Message) + " first"
	default:
		return "cannot connect: " + report.EscapeWire(a.Err)
	}
	if a.Partial > 0 && !a.Kind.Accepted() && a.Kind != AnswerNotTLS {
		s += fmt.Sprintf(", after %d bytes of an incomplete TLS record", a.Partial)
	}
	if a.Early {
		s += fmt.Sprintf(", to the first %d bytes (the rest was not sent)", x.Split)
	}
	return s + ", " + fmtDur(a.After)
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + " ms"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s"
}

// The JSON document (schema "hellowatch-confirm/1").
type (
	jsonReport struct {
		Schema     string             `json:"schema"`
		Client     string             `json:"client"`
		Server     string             `json:"server"`
		Target     string             `json:"target"`
		ServerName *report.WireString `json:"server_name"`
		Findings   []string           `json:"findings"`
		// EndedMidHello: the server closed before the hello was whole
		// (the tracker reports such a flow incomplete, without findings).
		EndedMidHello bool          `json:"ended_mid_hello"`
		Segments      []int         `json:"hello_segments"`
		Variants      []jsonVariant `json:"variants"`
		Verdict       string        `json:"verdict"`
		Text          string        `json:"verdict_text"`
		Fix           *string       `json:"fix"`
		FixedBy       *string       `json:"fixed_by"`
	}
	jsonVariant struct {
		ID         string             `json:"id"`
		Label      report.WireString  `json:"label"`
		Finding    *string            `json:"finding"`
		Fix        *string            `json:"fix"`
		ServerName *report.WireString `json:"server_name"`
		HelloLen   int                `json:"hello_len"`
		Bytes      int                `json:"bytes"`
		Split      *int               `json:"split"`
		JA3        string             `json:"ja3"`
		JA4        string             `json:"ja4"`
		Answer     jsonAnswer         `json:"answer"`
		Accepted   bool               `json:"accepted"`
	}
	jsonAnswer struct {
		Kind         string             `json:"kind"`
		Version      *string            `json:"version"`
		Cipher       *string            `json:"cipher"`
		ALPN         *report.WireString `json:"alpn"`
		Group        *string            `json:"hrr_group"`
		Alert        *jsonAlert         `json:"alert"`
		Cert         *jsonCert          `json:"certificate"`
		NameMismatch bool               `json:"name_mismatch"`
		NotTLS       *report.WireString `json:"not_tls_prefix"`
		Message      *report.WireString `json:"message"`
		Partial      int                `json:"partial_bytes"`
		Early        bool               `json:"before_rest_sent"`
		AfterMS      float64            `json:"answer_ms"`
		Error        *report.WireString `json:"error"`
	}
	jsonAlert struct {
		Level       string `json:"level"`
		Description string `json:"description"`
		Code        int    `json:"code"`
	}
	jsonCert struct {
		Subject report.WireString   `json:"subject"`
		Issuer  report.WireString   `json:"issuer"`
		SANs    []report.WireString `json:"sans"`
	}
)

func strp(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func wirep(s string) *report.WireString {
	if s == "" {
		return nil
	}
	w := report.WireString(s)
	return &w
}

// WriteJSON writes the report as one JSON object and a newline.
func (r *Report) WriteJSON(w io.Writer) error {
	h := r.Flow.Record
	j := jsonReport{
		Schema: "hellowatch-confirm/1", Client: h.Client.String(), Server: h.Server.String(), Target: r.Target,
		Findings: findingIDs(r.Flow.Findings), Segments: r.Hello.Segments, Verdict: r.Verdict.String(),
		EndedMidHello: endedMidHello(h),
		Text:          r.VerdictText(), Variants: []jsonVariant{},
	}
	if r.Hello.HasSNI {
		j.ServerName = wirep(r.Hello.ServerName)
		if j.ServerName == nil {
			empty := report.WireString("")
			j.ServerName = &empty
		}
	}
	if r.Fixed != nil {
		j.Fix, j.FixedBy = strp(r.Fixed.Fix), strp(r.Fixed.ID)
	}
	for i := range r.Results {
		x := &r.Results[i]
		a := &x.Answer
		v := jsonVariant{
			ID: x.ID, Label: report.WireString(x.Label), Finding: strp(x.Finding), Fix: strp(x.Fix),
			ServerName: wirep(x.Name), HelloLen: x.HelloLen, Bytes: len(x.Records), JA3: x.JA3, JA4: x.JA4,
			Accepted: x.Accepted,
			Answer: jsonAnswer{
				Kind: a.Kind.String(), ALPN: wirep(a.ALPN), NameMismatch: x.NameMismatch,
				Message: wirep(a.Message), Partial: a.Partial, Early: a.Early,
				AfterMS: float64(a.After.Microseconds()) / 1000, Error: wirep(a.Err),
			},
		}
		if x.Split > 0 {
			n := x.Split
			v.Split = &n
		}
		if a.Kind.Accepted() {
			v.Answer.Version, v.Answer.Cipher = strp(a.Version.String()), strp(a.Cipher.String())
		}
		if a.Kind == AnswerHelloRetry {
			v.Answer.Group = strp(a.Group.String())
		}
		if a.Kind == AnswerAlert {
			v.Answer.Alert = &jsonAlert{Level: a.Alert.Level.String(), Description: a.Alert.Description.String(), Code: int(a.Alert.Description)}
		}
		if a.Kind == AnswerNotTLS {
			v.Answer.NotTLS = wirep(string(a.NotTLS))
		}
		if c := a.Cert; c != nil {
			jc := &jsonCert{Subject: report.WireString(c.Subject), Issuer: report.WireString(c.Issuer), SANs: []report.WireString{}}
			for _, s := range c.SANs {
				jc.SANs = append(jc.SANs, report.WireString(s))
			}
			v.Answer.Cert = jc
		}
		j.Variants = append(j.Variants, v)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(&j)
}
