package tlsparse

import (
	"crypto/md5"
	"strconv"
)

const hexDigits = "0123456789abcdef"

// JA3String appends the JA3 string of the hello to dst:
// "SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats",
// decimal values joined by '-', GREASE removed, version = LegacyVersion.
func (ch *ClientHello) JA3String(dst []byte) []byte {
	dst = strconv.AppendUint(dst, uint64(ch.LegacyVersion), 10)
	dst = append(dst, ',')
	first := true
	for _, c := range ch.CipherSuites {
		if !IsGREASE(uint16(c)) {
			dst = ja3Item(dst, uint16(c), &first)
		}
	}
	dst = append(dst, ',')
	first = true
	for _, e := range ch.Extensions {
		if !IsGREASE(uint16(e)) {
			dst = ja3Item(dst, uint16(e), &first)
		}
	}
	dst = append(dst, ',')
	first = true
	for _, g := range ch.SupportedGroups {
		if !IsGREASE(uint16(g)) {
			dst = ja3Item(dst, uint16(g), &first)
		}
	}
	dst = append(dst, ',')
	first = true
	for _, f := range ch.ECPointFormats {
		dst = ja3Item(dst, uint16(f), &first)
	}
	return dst
}

func ja3Item(dst []byte, v uint16, first *bool) []byte {
	if !*first {
		dst = append(dst, '-')
	}
	*first = false
	return strconv.AppendUint(dst, uint64(v), 10)
}

// JA3 appends the JA3 fingerprint (32 lower-case hex digits of the MD5 of
// [ClientHello.JA3String]) to dst.
func (ch *ClientHello) JA3(dst []byte) []byte {
	var buf [1024]byte
	s := ch.JA3String(buf[:0])
	sum := md5.Sum(s)
	return appendHex(dst, sum[:])
}

func appendHex(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return dst
}
