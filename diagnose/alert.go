package diagnose

import "strconv"

// alertNames maps TLS alert descriptions to their IANA names (RFC 8446
// section 6, RFC 5246 section 7.2, RFC 6066, RFC 7301, RFC 8446 additions).
var alertNames = map[uint8]string{
	0:   "close_notify",
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
	120: "no_application_protocol",
	121: "ech_required",
}

// openSSLAlertReasons holds the reason strings OpenSSL 3 prints for a
// received alert, so that the nginx log line we quote matches the user's.
var openSSLAlertReasons = map[uint8]string{
	10:  "sslv3 alert unexpected message",
	20:  "sslv3 alert bad record mac",
	30:  "sslv3 alert decompression failure",
	40:  "sslv3 alert handshake failure",
	42:  "sslv3 alert bad certificate",
	43:  "sslv3 alert unsupported certificate",
	44:  "sslv3 alert certificate revoked",
	45:  "sslv3 alert certificate expired",
	46:  "sslv3 alert certificate unknown",
	47:  "sslv3 alert illegal parameter",
	48:  "tlsv1 alert unknown ca",
	49:  "tlsv1 alert access denied",
	50:  "tlsv1 alert decode error",
	51:  "tlsv1 alert decrypt error",
	70:  "tlsv1 alert protocol version",
	71:  "tlsv1 alert insufficient security",
	80:  "tlsv1 alert internal error",
	86:  "tlsv1 alert inappropriate fallback",
	90:  "tlsv1 alert user cancelled",
	100: "tlsv1 alert no renegotiation",
	109: "tlsv13 alert missing extension",
	110: "tlsv1 unsupported extension",
	112: "tlsv1 unrecognized name",
	113: "tlsv1 bad certificate status response",
	115: "tlsv1 alert unknown psk identity",
	116: "tlsv13 alert certificate required",
	120: "tlsv1 alert no application protocol",
}

// AlertName returns the IANA name of a TLS alert description, or
// "unknown" when the code is unassigned.
func AlertName(code uint8) string {
	if n, ok := alertNames[code]; ok {
		return n
	}
	return "unknown"
}

// AlertNames returns every assigned alert name, ordered by code; it is the
// closed set for metric labels. The caller owns the returned slice.
func AlertNames() []string {
	out := make([]string, 0, len(alertNames))
	for c := 0; c < 256; c++ {
		if n, ok := alertNames[uint8(c)]; ok {
			out = append(out, n)
		}
	}
	return out
}

// alertLabel formats an alert as "handshake_failure (40)".
func alertLabel(code uint8) string {
	return AlertName(code) + " (" + strconv.Itoa(int(code)) + ")"
}

// nginxAlertLog returns the line nginx (OpenSSL 3) logs when the upstream
// sends the given alert during the handshake. OpenSSL's reason code for a
// received alert is 1000 + the alert description.
func nginxAlertLog(code uint8) string {
	reason, ok := openSSLAlertReasons[code]
	if !ok {
		reason = "ssl/tls alert " + AlertName(code)
	}
	hex := strconv.FormatUint(uint64(1000+int(code)), 16)
	for len(hex) < 3 {
		hex = "0" + hex
	}
	return "SSL_do_handshake() failed (SSL: error:0A000" + upper(hex) + ":SSL routines::" + reason +
		":SSL alert number " + strconv.Itoa(int(code)) + ") while SSL handshaking to upstream"
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
