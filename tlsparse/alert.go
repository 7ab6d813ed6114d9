package tlsparse

// ParseAlert parses a plaintext alert record body: exactly one 2-byte alert
// (level, description). A shorter body gives [ErrIncomplete]; a longer one a
// *[ParseError] (several alerts in one record are reported one by one by
// [Stream]).
func ParseAlert(b []byte) (Alert, error) {
	if len(b) < 2 {
		return Alert{}, ErrIncomplete
	}
	if len(b) > 2 {
		return Alert{}, perr("alert", 2, "trailing bytes")
	}
	return Alert{Level: AlertLevel(b[0]), Description: AlertDescription(b[1])}, nil
}

// String returns "fatal handshake_failure", "warning close_notify" or
// "encrypted".
func (a Alert) String() string {
	if a.Encrypted {
		return "encrypted"
	}
	return a.Level.String() + " " + a.Description.String()
}
