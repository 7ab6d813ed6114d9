package capture

import (
	"bytes"
	"hash/maphash"
	"slices"

	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// certCache remembers the last few TLS <= 1.2 Certificate messages a
// tracker parsed and what came of them. A server sends the same chain to
// every client, and x509 parsing is the costliest step of a handshake
// (about 15 µs, against 5 µs for all the rest of a TLS 1.3 one): with the
// cache a repeated chain costs a hash and a comparison of its bytes.
// Entries are exact (the whole message is compared, not only its hash);
// messages larger than certCacheMaxBody are parsed every time, so the cache
// holds at most certCacheSize*certCacheMaxBody bytes.
type certCache struct {
	seed    maphash.Seed
	entries [certCacheSize]certEntry
	next    int // the entry to replace next (round robin)
}

const (
	certCacheSize    = 16
	certCacheMaxBody = 16 << 10
)

type certEntry struct {
	hash uint64
	body []byte // nil: empty entry
	cert handshake.Certificate
}

// certificate returns the record's certificate for a Certificate message
// body, or nil when the message does not parse (tlsparse.ParseCertificate
// fails). cs is scratch space. Each call returns a new Certificate the
// record owns.
func (cc *certCache) certificate(body []byte, cs *tlsparse.CertificateSummary) *handshake.Certificate {
	cacheable := len(body) <= certCacheMaxBody
	var h uint64
	if cacheable {
		if cc.seed == (maphash.Seed{}) {
			cc.seed = maphash.MakeSeed()
		}
		h = maphash.Bytes(cc.seed, body)
		for i := range cc.entries {
			e := &cc.entries[i]
			if e.body != nil && e.hash == h && bytes.Equal(e.body, body) {
				c := e.cert
				c.SANs = slices.Clone(e.cert.SANs)
				return &c
			}
		}
	}
	if err := tlsparse.ParseCertificate(body, cs); err != nil {
		return nil
	}
	c := &handshake.Certificate{
		Subject: cs.Subject, Issuer: cs.Issuer,
		SANs:      slices.Clone(cs.SANs),
		NotBefore: cs.NotBefore, NotAfter: cs.NotAfter, ChainLen: cs.ChainLen,
	}
	if cs.ParseError != nil {
		c.ParseError = cs.ParseError.Error()
	}
	if cacheable {
		e := &cc.entries[cc.next]
		cc.next = (cc.next + 1) % certCacheSize
		e.hash, e.body, e.cert = h, append(e.body[:0], body...), *c
		e.cert.SANs = slices.Clone(c.SANs)
	}
	return c
}
