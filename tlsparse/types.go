package tlsparse

import "strconv"

// Version is a TLS or SSL protocol version as carried on the wire.
type Version uint16

// Protocol versions.
const (
	VersionSSL20 Version = 0x0002
	VersionSSL30 Version = 0x0300
	VersionTLS10 Version = 0x0301
	VersionTLS11 Version = 0x0302
	VersionTLS12 Version = 0x0303
	VersionTLS13 Version = 0x0304
)

// String returns "SSL 3.0", "TLS 1.0" ... "TLS 1.3", "SSL 2.0", "GREASE" or
// "0x%04x" for anything else.
func (v Version) String() string {
	switch v {
	case VersionSSL20:
		return "SSL 2.0"
	case VersionSSL30:
		return "SSL 3.0"
	case VersionTLS10:
		return "TLS 1.0"
	case VersionTLS11:
		return "TLS 1.1"
	case VersionTLS12:
		return "TLS 1.2"
	case VersionTLS13:
		return "TLS 1.3"
	case 0xfeff:
		return "DTLS 1.0"
	case 0xfefd:
		return "DTLS 1.2"
	case 0xfefc:
		return "DTLS 1.3"
	}
	if IsGREASE(uint16(v)) {
		return "GREASE"
	}
	if v>>8 == 0x7f {
		return draftNames[v&0xff]
	}
	return hex4(uint16(v))
}

// IsGREASE reports whether v is one of the reserved GREASE values of RFC 8701
// (0x0a0a, 0x1a1a, ..., 0xfafa).
func IsGREASE(v uint16) bool {
	return v&0x0f0f == 0x0a0a && v>>8 == v&0xff
}

func hex4(v uint16) string {
	const digits = "0123456789abcdef"
	return string([]byte{'0', 'x', digits[v>>12], digits[v>>8&0xf], digits[v>>4&0xf], digits[v&0xf]})
}

func unknown(v int) string { return "unknown(" + strconv.Itoa(v) + ")" }

// ContentType is the type of a TLS record.
type ContentType uint8

// Record content types (RFC 8446, 5.1; RFC 6520).
const (
	ContentTypeChangeCipherSpec ContentType = 20
	ContentTypeAlert            ContentType = 21
	ContentTypeHandshake        ContentType = 22
	ContentTypeApplicationData  ContentType = 23
	ContentTypeHeartbeat        ContentType = 24
)

// String returns the RFC name of the content type, or "unknown(N)".
func (c ContentType) String() string {
	switch c {
	case ContentTypeChangeCipherSpec:
		return "change_cipher_spec"
	case ContentTypeAlert:
		return "alert"
	case ContentTypeHandshake:
		return "handshake"
	case ContentTypeApplicationData:
		return "application_data"
	case ContentTypeHeartbeat:
		return "heartbeat"
	}
	return unknown(int(c))
}

// HandshakeType is the type of a handshake message.
type HandshakeType uint8

// Handshake message types (RFC 8446, 4; RFC 5246, 7.4).
const (
	HandshakeHelloRequest        HandshakeType = 0
	HandshakeClientHello         HandshakeType = 1
	HandshakeServerHello         HandshakeType = 2
	HandshakeHelloVerifyRequest  HandshakeType = 3
	HandshakeNewSessionTicket    HandshakeType = 4
	HandshakeEndOfEarlyData      HandshakeType = 5
	HandshakeEncryptedExtensions HandshakeType = 8
	HandshakeCertificate         HandshakeType = 11
	HandshakeServerKeyExchange   HandshakeType = 12
	HandshakeCertificateRequest  HandshakeType = 13
	HandshakeServerHelloDone     HandshakeType = 14
	HandshakeCertificateVerify   HandshakeType = 15
	HandshakeClientKeyExchange   HandshakeType = 16
	HandshakeFinished            HandshakeType = 20
	HandshakeCertificateURL      HandshakeType = 21
	HandshakeCertificateStatus   HandshakeType = 22
	HandshakeSupplementalData    HandshakeType = 23
	HandshakeKeyUpdate           HandshakeType = 24
	HandshakeCompressedCert      HandshakeType = 25
	HandshakeNextProtocol        HandshakeType = 67
	HandshakeMessageHash         HandshakeType = 254
)

var handshakeNames = map[HandshakeType]string{
	0: "hello_request", 1: "client_hello", 2: "server_hello", 3: "hello_verify_request",
	4: "new_session_ticket", 5: "end_of_early_data", 6: "hello_retry_request", 8: "encrypted_extensions",
	11: "certificate", 12: "server_key_exchange", 13: "certificate_request", 14: "server_hello_done",
	15: "certificate_verify", 16: "client_key_exchange", 20: "finished", 21: "certificate_url",
	22: "certificate_status", 23: "supplemental_data", 24: "key_update", 25: "compressed_certificate",
	26: "ekt_key", 67: "next_protocol", 254: "message_hash",
}

// String returns the RFC name of the handshake type, or "unknown(N)".
func (t HandshakeType) String() string {
	if s, ok := handshakeNames[t]; ok {
		return s
	}
	return unknown(int(t))
}

// AlertLevel is the level byte of an alert.
type AlertLevel uint8

// Alert levels.
const (
	AlertLevelWarning AlertLevel = 1
	AlertLevelFatal   AlertLevel = 2
)

// String returns "warning", "fatal" or "unknown(N)".
func (l AlertLevel) String() string {
	switch l {
	case AlertLevelWarning:
		return "warning"
	case AlertLevelFatal:
		return "fatal"
	}
	return unknown(int(l))
}

// AlertDescription is the description byte of an alert.
type AlertDescription uint8

// Alert descriptions commonly tested by callers; [AlertDescription.String]
// names every code of RFC 8446 and RFC 5246 (and later registrations).
const (
	AlertCloseNotify            AlertDescription = 0
	AlertUnexpectedMessage      AlertDescription = 10
	AlertBadRecordMAC           AlertDescription = 20
	AlertRecordOverflow         AlertDescription = 22
	AlertHandshakeFailure       AlertDescription = 40
	AlertBadCertificate         AlertDescription = 42
	AlertUnsupportedCertificate AlertDescription = 43
	AlertCertificateRevoked     AlertDescription = 44
	AlertCertificateExpired     AlertDescription = 45
	AlertCertificateUnknown     AlertDescription = 46
	AlertIllegalParameter       AlertDescription = 47
	AlertUnknownCA              AlertDescription = 48
	AlertAccessDenied           AlertDescription = 49
	AlertDecodeError            AlertDescription = 50
	AlertDecryptError           AlertDescription = 51
	AlertProtocolVersion        AlertDescription = 70
	AlertInsufficientSecurity   AlertDescription = 71
	AlertInternalError          AlertDescription = 80
	AlertInappropriateFallback  AlertDescription = 86
	AlertUserCanceled           AlertDescription = 90
	AlertNoRenegotiation        AlertDescription = 100
	AlertMissingExtension       AlertDescription = 109
	AlertUnsupportedExtension   AlertDescription = 110
	AlertUnrecognizedName       AlertDescription = 112
	AlertCertificateRequired    AlertDescription = 116
	AlertNoApplicationProtocol  AlertDescription = 120
	AlertECHRequired            AlertDescription = 121
)

var alertNames = [256]string{
	0:   "close_notify",
	1:   "end_of_early_data",
	10:  "unexpected_message",
	20:  "bad_record_mac",
	21:  "decryption_failed",
	22:  "record_overflow",
	30:  "decompression_failure",
	40:  "handshake_failure",
	41:  "no_certificate",
	42:  "bad_certificate",
	43:  "unsupported_certificate",
	44:  "certificate_revoked",
	45:  "certificate_expired",
	46:  "certificate_unknown",
	47:  "illegal_parameter",
	48:  "unknown_ca",
	49:  "access_denied",
	50:  "decode_error",
	51:  "decrypt_error",
	52:  "too_many_cids_requested",
	60:  "export_restriction",
	70:  "protocol_version",
	71:  "insufficient_security",
	80:  "internal_error",
	86:  "inappropriate_fallback",
	90:  "user_canceled",
	100: "no_renegotiation",
	109: "missing_extension",
	110: "unsupported_extension",
	111: "certificate_unobtainable",
	112: "unrecognized_name",
	113: "bad_certificate_status_response",
	114: "bad_certificate_hash_value",
	115: "unknown_psk_identity",
	116: "certificate_required",
	117: "general_error",
	120: "no_application_protocol",
	121: "ech_required",
}

// Assigned reports whether d is in the IANA TLS Alerts registry.
func (d AlertDescription) Assigned() bool { return alertNames[d] != "" }

// Name returns the IANA name, or "unknown" for an unassigned code: the
// closed set of metric label values ([AlertDescriptions] plus "unknown").
func (d AlertDescription) Name() string {
	if s := alertNames[d]; s != "" {
		return s
	}
	return "unknown"
}

// AlertDescriptions returns every assigned description, ordered by code.
// The caller owns the returned slice.
func AlertDescriptions() []AlertDescription {
	var out []AlertDescription
	for c := range alertNames {
		if alertNames[c] != "" {
			out = append(out, AlertDescription(c))
		}
	}
	return out
}

// String returns the RFC 8446 / RFC 5246 snake_case name, or "unknown(N)".
func (d AlertDescription) String() string {
	if s := alertNames[d]; s != "" {
		return s
	}
	return unknown(int(d))
}

// CipherSuite is a TLS cipher suite code point.
type CipherSuite uint16

// A few cipher suites callers name directly.
const (
	TLS_AES_128_GCM_SHA256                  CipherSuite = 0x1301
	TLS_AES_256_GCM_SHA384                  CipherSuite = 0x1302
	TLS_CHACHA20_POLY1305_SHA256            CipherSuite = 0x1303
	TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256   CipherSuite = 0xc02f
	TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 CipherSuite = 0xc02b
	TLS_EMPTY_RENEGOTIATION_INFO_SCSV       CipherSuite = 0x00ff
	TLS_FALLBACK_SCSV                       CipherSuite = 0x5600
)

// String returns the IANA registry name, "GREASE", or "0x%04x".
func (c CipherSuite) String() string {
	if s, ok := cipherSuiteNames[c]; ok {
		return s
	}
	if IsGREASE(uint16(c)) {
		return "GREASE"
	}
	return hex4(uint16(c))
}

// NamedGroup is a supported_groups / key_share group code point.
type NamedGroup uint16

// Named groups callers test for.
const (
	GroupSecp256r1      NamedGroup = 23
	GroupSecp384r1      NamedGroup = 24
	GroupSecp521r1      NamedGroup = 25
	GroupX25519         NamedGroup = 29
	GroupX448           NamedGroup = 30
	GroupX25519MLKEM768 NamedGroup = 0x11ec
)

var groupNames = map[NamedGroup]string{
	1: "sect163k1", 2: "sect163r1", 3: "sect163r2", 4: "sect193r1", 5: "sect193r2", 6: "sect233k1",
	7: "sect233r1", 8: "sect239k1", 9: "sect283k1", 10: "sect283r1", 11: "sect409k1", 12: "sect409r1",
	13: "sect571k1", 14: "sect571r1", 15: "secp160k1", 16: "secp160r1", 17: "secp160r2", 18: "secp192k1",
	19: "secp192r1", 20: "secp224k1", 21: "secp224r1", 22: "secp256k1", 23: "secp256r1", 24: "secp384r1",
	25: "secp521r1", 26: "brainpoolP256r1", 27: "brainpoolP384r1", 28: "brainpoolP512r1", 29: "x25519",
	30: "x448", 31: "brainpoolP256r1tls13", 32: "brainpoolP384r1tls13", 33: "brainpoolP512r1tls13",
	34: "GC256A", 35: "GC256B", 36: "GC256C", 37: "GC256D", 38: "GC512A", 39: "GC512B", 40: "GC512C",
	41: "curveSM2", 256: "ffdhe2048", 257: "ffdhe3072", 258: "ffdhe4096", 259: "ffdhe6144", 260: "ffdhe8192",
	0x0200: "MLKEM512", 0x0201: "MLKEM768", 0x0202: "MLKEM1024",
	0x11eb: "SecP256r1MLKEM768", 0x11ec: "X25519MLKEM768", 0x11ed: "SecP384r1MLKEM1024",
	0x6399: "X25519Kyber768Draft00", 0x639a: "SecP256r1Kyber768Draft00",
	0xff01: "arbitrary_explicit_prime_curves", 0xff02: "arbitrary_explicit_char2_curves",
}

// String returns the IANA name (e.g. "x25519", "X25519MLKEM768"), "GREASE",
// or "0x%04x".
func (g NamedGroup) String() string {
	if s, ok := groupNames[g]; ok {
		return s
	}
	if IsGREASE(uint16(g)) {
		return "GREASE"
	}
	return hex4(uint16(g))
}

// SignatureScheme is a signature_algorithms code point.
type SignatureScheme uint16

var sigNames = map[SignatureScheme]string{
	0x0201: "rsa_pkcs1_sha1", 0x0202: "dsa_sha1", 0x0203: "ecdsa_sha1",
	0x0301: "rsa_pkcs1_sha224", 0x0302: "dsa_sha224", 0x0303: "ecdsa_sha224",
	0x0401: "rsa_pkcs1_sha256", 0x0402: "dsa_sha256", 0x0403: "ecdsa_secp256r1_sha256",
	0x0420: "rsa_pkcs1_sha256_legacy",
	0x0501: "rsa_pkcs1_sha384", 0x0502: "dsa_sha384", 0x0503: "ecdsa_secp384r1_sha384",
	0x0520: "rsa_pkcs1_sha384_legacy",
	0x0601: "rsa_pkcs1_sha512", 0x0602: "dsa_sha512", 0x0603: "ecdsa_secp521r1_sha512",
	0x0620: "rsa_pkcs1_sha512_legacy",
	0x0704: "eccsi_sha256", 0x0705: "iso_ibs1", 0x0706: "iso_ibs2", 0x0707: "iso_chinese_ibs",
	0x0708: "sm2sig_sm3", 0x0709: "gostr34102012_256a", 0x070a: "gostr34102012_256b",
	0x070b: "gostr34102012_256c", 0x070c: "gostr34102012_256d", 0x070d: "gostr34102012_512a",
	0x070e: "gostr34102012_512b", 0x070f: "gostr34102012_512c",
	0x0804: "rsa_pss_rsae_sha256", 0x0805: "rsa_pss_rsae_sha384", 0x0806: "rsa_pss_rsae_sha512",
	0x0807: "ed25519", 0x0808: "ed448",
	0x0809: "rsa_pss_pss_sha256", 0x080a: "rsa_pss_pss_sha384", 0x080b: "rsa_pss_pss_sha512",
	0x081a: "ecdsa_brainpoolP256r1tls13_sha256", 0x081b: "ecdsa_brainpoolP384r1tls13_sha384",
	0x081c: "ecdsa_brainpoolP512r1tls13_sha512",
	0x0904: "mldsa44", 0x0905: "mldsa65", 0x0906: "mldsa87",
}

// String returns the IANA name (e.g. "ecdsa_secp256r1_sha256"), "GREASE", or
// "0x%04x".
func (s SignatureScheme) String() string {
	if n, ok := sigNames[s]; ok {
		return n
	}
	if IsGREASE(uint16(s)) {
		return "GREASE"
	}
	return hex4(uint16(s))
}

// ExtensionType is a TLS extension code point.
type ExtensionType uint16

// Extension types decoded by [ParseClientHello] and [ParseServerHello].
const (
	ExtServerName               ExtensionType = 0
	ExtStatusRequest            ExtensionType = 5
	ExtSupportedGroups          ExtensionType = 10
	ExtECPointFormats           ExtensionType = 11
	ExtSignatureAlgorithms      ExtensionType = 13
	ExtALPN                     ExtensionType = 16
	ExtPadding                  ExtensionType = 21
	ExtCompressCertificate      ExtensionType = 27
	ExtRecordSizeLimit          ExtensionType = 28
	ExtSessionTicket            ExtensionType = 35
	ExtPreSharedKey             ExtensionType = 41
	ExtEarlyData                ExtensionType = 42
	ExtSupportedVersions        ExtensionType = 43
	ExtCookie                   ExtensionType = 44
	ExtPSKKeyExchangeModes      ExtensionType = 45
	ExtSignatureAlgorithmsCert  ExtensionType = 50
	ExtKeyShare                 ExtensionType = 51
	ExtQUICTransportParams      ExtensionType = 57
	ExtApplicationSettingsOld   ExtensionType = 0x4469
	ExtApplicationSettings      ExtensionType = 0x44cd
	ExtECH                      ExtensionType = 0xfe0d
	ExtQUICTransportParamsDraft ExtensionType = 0xffa5
	ExtRenegotiationInfo        ExtensionType = 0xff01
)

var extNames = map[ExtensionType]string{
	0: "server_name", 1: "max_fragment_length", 2: "client_certificate_url", 3: "trusted_ca_keys",
	4: "truncated_hmac", 5: "status_request", 6: "user_mapping", 7: "client_authz", 8: "server_authz",
	9: "cert_type", 10: "supported_groups", 11: "ec_point_formats", 12: "srp", 13: "signature_algorithms",
	14: "use_srtp", 15: "heartbeat", 16: "application_layer_protocol_negotiation", 17: "status_request_v2",
	18: "signed_certificate_timestamp", 19: "client_certificate_type", 20: "server_certificate_type",
	21: "padding", 22: "encrypt_then_mac", 23: "extended_master_secret", 24: "token_binding",
	25: "cached_info", 26: "tls_lts", 27: "compress_certificate", 28: "record_size_limit",
	29: "pwd_protect", 30: "pwd_clear", 31: "password_salt", 32: "ticket_pinning", 33: "tls_cert_with_extern_psk",
	34: "delegated_credential", 35: "session_ticket", 36: "TLMSP", 37: "TLMSP_proxying", 38: "TLMSP_delegate",
	39: "supported_ekt_ciphers", 41: "pre_shared_key", 42: "early_data", 43: "supported_versions",
	44: "cookie", 45: "psk_key_exchange_modes", 47: "certificate_authorities", 48: "oid_filters",
	49: "post_handshake_auth", 50: "signature_algorithms_cert", 51: "key_share", 52: "transparency_info",
	53: "connection_id_deprecated", 54: "connection_id", 55: "external_id_hash", 56: "external_session_id",
	57: "quic_transport_parameters", 58: "ticket_request", 59: "dnssec_chain", 60: "sequence_number_encryption_algorithms",
	61: "rrc", 62: "tls_flags", 64: "trust_anchors",
	0x3374: "next_protocol_negotiation", 0x4469: "application_settings_old", 0x44cd: "application_settings",
	0x754f: "channel_id_old", 0x7550: "channel_id", 0xfd00: "ech_outer_extensions",
	0xfe0d: "encrypted_client_hello", 0xff01: "renegotiation_info",
	0xffa5: "quic_transport_parameters_draft", 0xffce: "encrypted_server_name",
}

// String returns the IANA name (e.g. "server_name", "key_share"), "GREASE",
// or "0x%04x".
func (e ExtensionType) String() string {
	if s, ok := extNames[e]; ok {
		return s
	}
	if IsGREASE(uint16(e)) {
		return "GREASE"
	}
	return hex4(uint16(e))
}

// draftNames spells TLS 1.3 draft versions (0x7fNN) without allocating.
var draftNames = func() (n [256]string) {
	for i := range n {
		n[i] = "TLS 1.3 draft " + strconv.Itoa(i)
	}
	return n
}()
