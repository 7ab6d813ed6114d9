package tlsparse

import (
	"crypto/sha256"
)

// JA4 appends the JA4 fingerprint of the hello, as seen over TCP, to dst
// (FoxIO JA4 specification, technical_details/JA4.md). GREASE is ignored
// everywhere. The ALPN part follows the written specification: a first ALPN
// value whose first or last byte is not alphanumeric is shown as the first
// and last hex digits (0xba 0xad gives "bd"), where FoxIO's own tools print
// non-ASCII bytes as '9'. When the hello has no extensions besides SNI and
// ALPN the extension hash is twelve zeros, in every variant.
func (ch *ClientHello) JA4(dst []byte) []byte { return ch.ja4(dst, 't', true, false) }

// JA4R appends the raw (unhashed) JA4 fingerprint, ja4_r.
func (ch *ClientHello) JA4R(dst []byte) []byte { return ch.ja4(dst, 't', false, false) }

// JA4O appends ja4_o: JA4 with ciphers and extensions in wire order (SNI and
// ALPN kept in the extension list).
func (ch *ClientHello) JA4O(dst []byte) []byte { return ch.ja4(dst, 't', true, true) }

// JA4RO appends ja4_ro: the raw, wire-order JA4.
func (ch *ClientHello) JA4RO(dst []byte) []byte { return ch.ja4(dst, 't', false, true) }

// JA4With appends a JA4 variant for the given transport: proto is 't' (TCP),
// 'q' (QUIC) or 'd' (DTLS); hashed selects ja4 over ja4_r, original selects
// the _o variants.
func (ch *ClientHello) JA4With(dst []byte, proto byte, hashed, original bool) []byte {
	return ch.ja4(dst, proto, hashed, original)
}

// ja4Version returns the 2-character JA4 version code.
func ja4Version(v Version) string {
	switch v {
	case VersionTLS13:
		return "13"
	case VersionTLS12:
		return "12"
	case VersionTLS11:
		return "11"
	case VersionTLS10:
		return "10"
	case VersionSSL30:
		return "s3"
	case VersionSSL20:
		return "s2"
	case 0xfeff:
		return "d1"
	case 0xfefd:
		return "d2"
	case 0xfefc:
		return "d3"
	}
	return "00"
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func appendCount(dst []byte, n int) []byte {
	if n > 99 {
		n = 99
	}
	return append(dst, byte('0'+n/10), byte('0'+n%10))
}

func appendHex4(dst []byte, v uint16) []byte {
	return append(dst, hexDigits[v>>12], hexDigits[v>>8&0xf], hexDigits[v>>4&0xf], hexDigits[v&0xf])
}

// sort16 sorts a small slice in place (insertion sort: lists are short and
// this must not allocate).
func sort16(s []uint16) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// appendList appends vals as comma-joined 4-digit hex.
func appendList(dst []byte, vals []uint16) []byte {
	for i, v := range vals {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendHex4(dst, v)
	}
	return dst
}

// appendHash12 appends the first 12 hex digits of SHA-256(s), or twelve
// zeros when s is empty.
func appendHash12(dst, s []byte) []byte {
	if len(s) == 0 {
		return append(dst, "000000000000"...)
	}
	sum := sha256.Sum256(s)
	return appendHex(dst, sum[:6])
}

func (ch *ClientHello) ja4(dst []byte, proto byte, hashed, original bool) []byte {
	// Scratch space on the stack: counts are bounded by the wire (at most
	// 32767 ciphers), but fingerprints of absurd hellos are truncated to
	// what fits here rather than allocating.
	var cbuf, ebuf [512]uint16
	ciphers := cbuf[:0]
	for _, c := range ch.CipherSuites {
		if !IsGREASE(uint16(c)) && len(ciphers) < len(cbuf) {
			ciphers = append(ciphers, uint16(c))
		}
	}
	exts := ebuf[:0]
	nExt := 0
	nOther := 0 // extensions other than GREASE, SNI and ALPN
	hasSNI := false
	for _, e := range ch.Extensions {
		if IsGREASE(uint16(e)) {
			continue
		}
		nExt++
		if e == ExtServerName {
			hasSNI = true
		}
		if e != ExtServerName && e != ExtALPN {
			nOther++
		} else if !original {
			continue
		}
		if len(exts) < len(ebuf) {
			exts = append(exts, uint16(e))
		}
	}
	if !original {
		sort16(ciphers)
		sort16(exts)
	}

	dst = append(dst, proto)
	dst = append(dst, ja4Version(ch.HighestVersion())...)
	if hasSNI {
		dst = append(dst, 'd')
	} else {
		dst = append(dst, 'i')
	}
	dst = appendCount(dst, len(ciphers))
	dst = appendCount(dst, nExt)
	if len(ch.ALPN) == 0 || len(ch.ALPN[0]) == 0 {
		dst = append(dst, '0', '0')
	} else {
		a := ch.ALPN[0]
		f, l := a[0], a[len(a)-1]
		if isAlnum(f) && isAlnum(l) {
			dst = append(dst, f, l)
		} else {
			dst = append(dst, hexDigits[f>>4], hexDigits[l&0xf])
		}
	}
	dst = append(dst, '_')

	var sbuf [512]uint16
	sigs := sbuf[:0]
	for _, s := range ch.SignatureAlgorithms {
		if !IsGREASE(uint16(s)) && len(sigs) < len(sbuf) {
			sigs = append(sigs, uint16(s))
		}
	}

	if !hashed {
		dst = appendList(dst, ciphers)
		dst = append(dst, '_')
		dst = appendList(dst, exts)
		if len(sigs) > 0 {
			dst = append(dst, '_')
			dst = appendList(dst, sigs)
		}
		return dst
	}
	var tmp [5 * 1600]byte
	s := appendList(tmp[:0], ciphers)
	dst = appendHash12(dst, s)
	dst = append(dst, '_')
	s = appendList(tmp[:0], exts)
	if nOther == 0 {
		// No extensions besides SNI and ALPN: the spec sets the hash to
		// zeros. FoxIO's reference code decides this on the sorted list
		// (without SNI and ALPN) for ja4_o too, so we do the same.
		return append(dst, "000000000000"...)
	}
	if len(sigs) > 0 {
		s = append(s, '_')
		s = appendList(s, sigs)
	}
	return appendHash12(dst, s)
}
