package diagnose

import (
	"strconv"

	"github.com/hellowatch/hellowatch/tlsparse"
)

// openSSLAlertReasons holds the reason strings OpenSSL 3 prints for a
// received alert, so that the nginx log line we quote matches the user's.
var openSSLAlertReasons = map[tlsparse.AlertDescription]string{
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

// alertLabel formats an alert as "handshake_failure (40)".
func alertLabel(d tlsparse.AlertDescription) string {
	return d.Name() + " (" + strconv.Itoa(int(d)) + ")"
}

// nginxAlertLog returns the line nginx (OpenSSL 3) logs when the upstream
// sends the given alert during the handshake. OpenSSL's reason code for a
// received alert is 1000 + the alert description.
func nginxAlertLog(code tlsparse.AlertDescription) string {
	reason, ok := openSSLAlertReasons[code]
	if !ok {
		reason = "ssl/tls alert " + code.Name()
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
