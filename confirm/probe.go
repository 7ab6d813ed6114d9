package confirm

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/hellowatch/hellowatch/tlsparse"
)

// AnswerKind is how the server first answered a hello.
type AnswerKind uint8

// Answer kinds. The String words are stable (JSON).
const (
	AnswerNone        AnswerKind = iota // not probed (connect failed)
	AnswerServerHello                   // a ServerHello
	AnswerHelloRetry                    // a HelloRetryRequest: the server takes the hello, wants another key share
	AnswerAlert                         // a plaintext alert
	AnswerReset                         // RST
	AnswerClosed                        // FIN without a TLS answer
	AnswerSilence                       // nothing within the timeout
	AnswerNotTLS                        // bytes that are not TLS
	AnswerOther                         // TLS, but something else than a ServerHello or an alert first
)

var answerWords = [...]string{
	AnswerNone: "none", AnswerServerHello: "server_hello", AnswerHelloRetry: "hello_retry_request",
	AnswerAlert: "alert", AnswerReset: "reset", AnswerClosed: "closed", AnswerSilence: "silence",
	AnswerNotTLS: "not_tls", AnswerOther: "other",
}

// String returns the kind's stable word.
func (k AnswerKind) String() string {
	if int(k) < len(answerWords) {
		return answerWords[k]
	}
	return "unknown"
}

// Accepted reports whether the answer means the server took the hello: a
// ServerHello, or a HelloRetryRequest (it chose a version and suite and
// only asks for another key share).
func (k AnswerKind) Accepted() bool { return k == AnswerServerHello || k == AnswerHelloRetry }

// Answer is the server's first answer to one hello.
type Answer struct {
	Kind AnswerKind
	// ServerHello / HelloRetryRequest facts.
	Version tlsparse.Version
	Cipher  tlsparse.CipherSuite
	ALPN    string
	Group   tlsparse.NamedGroup // the group a HelloRetryRequest asks for
	// Cert is the TLS 1.2 server certificate (TLS 1.3 encrypts it); nil
	// when not seen.
	Cert *tlsparse.CertificateSummary
	// Alert is the alert of an AnswerAlert.
	Alert tlsparse.Alert
	// NotTLS holds the first bytes of a non-TLS answer.
	NotTLS []byte
	// Message names the handshake message (or record) of an AnswerOther.
	Message string
	// Partial counts bytes of a TLS record that the close cut short.
	Partial int
	// Early is set when the answer came before the second part of a split
	// hello was sent (which then was not).
	Early bool
	// After is the time from sending the hello (its last part, when
	// split) to the answer. It is taken before the write: after it, the
	// scheduler may run the server first.
	After time.Duration
	// Err is why the connection could not be made (AnswerNone).
	Err string
}

// defaultSplitPause is the pause between the parts of a split hello: long
// enough for a router that decides on the first segment to decide.
const defaultSplitPause = 200 * time.Millisecond

// Probe is one hello to send and how.
type Probe struct {
	Addr    string        // host:port of the server
	Records []byte        // the hello's records
	Split   int           // > 0: send the first Split bytes, wait SplitPause, then the rest
	Timeout time.Duration // for the connection and for the answer
	// SplitPause is the wait between the two parts (default 200 ms).
	SplitPause time.Duration
}

// Send makes one TCP connection, sends the hello and reads the server's
// first answer, then closes the connection: nothing is sent after the
// hello. For a TLS 1.2 ServerHello it reads on to the Certificate, whose
// names it reports.
func Send(ctx context.Context, p Probe) Answer {
	if p.SplitPause <= 0 {
		p.SplitPause = defaultSplitPause
	}
	d := net.Dialer{Timeout: p.Timeout}
	c, err := d.DialContext(ctx, "tcp", p.Addr)
	if err != nil {
		return Answer{Err: err.Error()}
	}
	defer c.Close()
	tc := c.(*net.TCPConn)
	// Each write goes out at once: the split is the one asked for.
	_ = tc.SetNoDelay(true)
	var r answerReader
	first := p.Records
	sent := time.Now()
	if p.Split > 0 && p.Split < len(p.Records) {
		first = p.Records[:p.Split]
	}
	if _, err := c.Write(first); err != nil {
		return r.failed(err, 0)
	}
	buf := make([]byte, 16<<10)
	if len(first) < len(p.Records) {
		// The pause doubles as a look for an answer to the first part.
		_ = c.SetReadDeadline(time.Now().Add(p.SplitPause))
		n, err := c.Read(buf)
		if n > 0 || !isTimeout(err) {
			r.a.Early = true
			return r.read(c, buf, n, err, sent, p.Timeout)
		}
		sent = time.Now()
		if _, err := c.Write(p.Records[len(first):]); err != nil {
			return r.failed(err, 0)
		}
	}
	return r.read(c, buf, 0, nil, sent, p.Timeout)
}

// answerReader collects the first answer from the server's records.
type answerReader struct {
	s    tlsparse.Stream
	a    Answer
	done bool
	sh   bool // a TLS <= 1.2 ServerHello was seen: waiting for its Certificate
	got  int  // bytes received
}

// read feeds buf[:n] (already read, with its error) and reads on until the
// first answer is complete, the server closes, or timeout passes.
func (r *answerReader) read(c net.Conn, buf []byte, n int, err error, start time.Time, timeout time.Duration) Answer {
	_ = c.SetReadDeadline(start.Add(timeout))
	for {
		if n > 0 {
			r.got += n
			if r.a.After == 0 {
				r.a.After = time.Since(start)
			}
			if ferr := r.s.Feed(buf[:n], r); ferr != nil && !r.done {
				r.done = true
				if r.a.Kind == 0 {
					r.a.Kind = AnswerOther
					r.a.Message = "malformed TLS: " + ferr.Error()
				}
			}
			if r.done {
				return r.a
			}
		}
		if err != nil {
			return r.failed(err, time.Since(start))
		}
		n, err = c.Read(buf)
	}
}

// failed turns a read or write error (or the end of the stream) into the
// answer, unless an answer is already complete.
func (r *answerReader) failed(err error, after time.Duration) Answer {
	_ = r.s.Close(r)
	if r.done || r.a.Kind == AnswerNotTLS || r.a.Kind == AnswerServerHello {
		// A TLS 1.2 ServerHello without its Certificate yet: what was seen.
		return r.a
	}
	if r.a.After == 0 {
		r.a.After = after
	}
	switch {
	case isTimeout(err):
		r.a.Kind = AnswerSilence
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		r.a.Kind = AnswerReset
	case errors.Is(err, io.EOF):
		r.a.Kind = AnswerClosed
	default:
		r.a.Kind = AnswerOther
		r.a.Message = err.Error()
	}
	r.a.Partial = r.got // bytes came, but no whole record
	return r.a
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// Record implements tlsparse.Handler.
func (r *answerReader) Record(tlsparse.ContentType, tlsparse.Version, int) {}

// Handshake implements tlsparse.Handler.
func (r *answerReader) Handshake(typ tlsparse.HandshakeType, body []byte) {
	if r.done {
		return
	}
	if r.sh {
		if typ == tlsparse.HandshakeCertificate {
			var cs tlsparse.CertificateSummary
			if tlsparse.ParseCertificate(body, &cs) == nil {
				r.a.Cert = &cs
			}
		}
		r.done = true
		return
	}
	if typ != tlsparse.HandshakeServerHello {
		r.a.Kind, r.a.Message, r.done = AnswerOther, typ.String(), true
		return
	}
	var sh tlsparse.ServerHello
	if err := tlsparse.ParseServerHello(body, &sh); err != nil {
		r.a.Kind, r.a.Message, r.done = AnswerOther, "malformed ServerHello: "+err.Error(), true
		return
	}
	r.a.Version, r.a.Cipher, r.a.ALPN = sh.Version(), sh.CipherSuite, string(sh.ALPN)
	if sh.IsHRR {
		r.a.Kind, r.a.Group, r.done = AnswerHelloRetry, sh.KeyShareGroup, true
		return
	}
	r.a.Kind = AnswerServerHello
	if sh.Version() == tlsparse.VersionTLS13 || sh.Version()>>8 == 0x7f {
		r.done = true // the rest is encrypted
		return
	}
	r.sh = true
}

// Alert implements tlsparse.Handler.
func (r *answerReader) Alert(a tlsparse.Alert) {
	if r.done {
		return
	}
	if r.sh {
		// An alert after a TLS 1.2 ServerHello: the ServerHello was the
		// answer.
		r.done = true
		return
	}
	r.a.Kind, r.a.Alert, r.done = AnswerAlert, a, true
}

// ChangeCipherSpec implements tlsparse.Handler.
func (r *answerReader) ChangeCipherSpec() {
	if !r.done && !r.sh {
		r.a.Kind, r.a.Message = AnswerOther, "change_cipher_spec"
	}
	r.done = true
}

// ApplicationData implements tlsparse.Handler.
func (r *answerReader) ApplicationData(int, bool) {
	if !r.done && !r.sh {
		r.a.Kind, r.a.Message = AnswerOther, "application_data"
	}
	r.done = true
}

// NotTLS implements tlsparse.Handler.
func (r *answerReader) NotTLS(prefix []byte) {
	if r.done {
		return
	}
	r.a.Kind, r.a.NotTLS, r.done = AnswerNotTLS, append([]byte(nil), prefix...), true
}

// SSLv2ClientHello implements tlsparse.Handler.
func (r *answerReader) SSLv2ClientHello([]byte) { r.other("SSLv2 CLIENT-HELLO") }

// SSLv2ServerHello implements tlsparse.Handler.
func (r *answerReader) SSLv2ServerHello([]byte) { r.other("SSLv2 SERVER-HELLO") }

func (r *answerReader) other(msg string) {
	if !r.done {
		r.a.Kind, r.a.Message, r.done = AnswerOther, msg, true
	}
}

// CertCovers reports whether the certificate's names cover host (RFC 6125:
// exact DNS names, a wildcard only as the whole left-most label; the
// subject's CN only when there are no SANs), case-insensitively.
func CertCovers(cs *tlsparse.CertificateSummary, host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	names := cs.SANs
	if len(names) == 0 {
		for _, part := range strings.Split(cs.Subject, ",") {
			if cn, ok := strings.CutPrefix(part, "CN="); ok {
				names = append(names, cn)
			}
		}
	}
	for _, n := range names {
		n = strings.TrimSuffix(strings.ToLower(n), ".")
		if n == host {
			return true
		}
		if rest, ok := strings.CutPrefix(n, "*."); ok {
			if i := strings.IndexByte(host, '.'); i > 0 && host[i+1:] == rest && strings.Contains(rest, ".") {
				return true
			}
		}
	}
	return false
}
