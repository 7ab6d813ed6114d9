package tlsparse

import (
	"crypto/x509"
	"time"
)

// CertificateSummary describes a TLS 1.2 (or earlier) Certificate message:
// the leaf certificate's names and validity and the chain length. Strings
// are copies; nothing aliases the parsed body.
type CertificateSummary struct {
	Subject   string
	Issuer    string
	SANs      []string // DNS names, then IP addresses, e-mail addresses, URIs
	NotBefore time.Time
	NotAfter  time.Time
	ChainLen  int
	// ParseError is set when the leaf does not parse with crypto/x509; the
	// other leaf fields are then empty. It is not returned as an error.
	ParseError error
}

// ParseCertificate parses a TLS <= 1.2 Certificate handshake body (RFC 5246,
// 7.4.2: a 3-byte-length list of 3-byte-length DER certificates). The framing
// must be exact; the leaf is parsed with crypto/x509 and a leaf that does not
// parse sets cs.ParseError rather than failing. Unlike the hello parsers this
// allocates (x509 parsing does).
func ParseCertificate(body []byte, cs *CertificateSummary) error {
	*cs = CertificateSummary{SANs: cs.SANs[:0]}
	c := cursor{b: body}
	var list cursor
	if !c.vec24(&list) {
		if len(body) < 3 {
			return ErrIncomplete
		}
		return ErrIncomplete
	}
	if !c.empty() {
		return perr("certificate", c.off, "trailing bytes after certificate_list")
	}
	var leaf []byte
	for !list.empty() {
		var cert cursor
		start := list.off
		if !list.vec24(&cert) {
			return perr("certificate entry", start, "length exceeds certificate_list")
		}
		if cs.ChainLen == 0 {
			leaf = cert.b
		}
		cs.ChainLen++
	}
	if leaf == nil {
		return nil
	}
	x, err := x509.ParseCertificate(leaf)
	if err != nil {
		cs.ParseError = err
		return nil
	}
	cs.Subject = x.Subject.String()
	cs.Issuer = x.Issuer.String()
	cs.NotBefore = x.NotBefore
	cs.NotAfter = x.NotAfter
	cs.SANs = append(cs.SANs, x.DNSNames...)
	for _, ip := range x.IPAddresses {
		cs.SANs = append(cs.SANs, ip.String())
	}
	cs.SANs = append(cs.SANs, x.EmailAddresses...)
	for _, u := range x.URIs {
		cs.SANs = append(cs.SANs, u.String())
	}
	return nil
}
