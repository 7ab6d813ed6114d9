package tlsparse

import "strings"

// ecCurveTypeNamed is ECCurveType named_curve (RFC 8422 §5.4); explicit
// curves (1, 2) are deprecated and carry no NamedGroup.
const ecCurveTypeNamed = 3

// ServerKeyExchangeGroup returns the named curve of an ECDHE
// ServerKeyExchange body (RFC 8422 §5.4: ServerECDHParams begins with
// ECParameters, curve_type named_curve then the NamedCurve). It reports
// false when body is too short or uses explicit curve parameters. The body
// is only meaningful as ECDHE parameters when the chosen suite is
// [CipherSuite.ECDHE]: a DHE or PSK ServerKeyExchange starts otherwise.
func ServerKeyExchangeGroup(body []byte) (NamedGroup, bool) {
	if len(body) < 3 || body[0] != ecCurveTypeNamed {
		return 0, false
	}
	return NamedGroup(uint16(body[1])<<8 | uint16(body[2])), true
}

// ECDHE reports whether the suite's ServerKeyExchange carries ephemeral
// ECDH parameters first (TLS_ECDHE_RSA_*, TLS_ECDHE_ECDSA_*,
// TLS_ECDH_anon_*). ECDHE_PSK suites are excluded: their ServerKeyExchange
// starts with a PSK identity hint.
func (c CipherSuite) ECDHE() bool {
	n := cipherSuiteNames[c]
	return strings.HasPrefix(n, "TLS_ECDHE_RSA_") || strings.HasPrefix(n, "TLS_ECDHE_ECDSA_") || strings.HasPrefix(n, "TLS_ECDH_anon_")
}
