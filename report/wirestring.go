package report

// WireString is a string taken off the wire (a server name, a certificate
// subject, a non-TLS answer), for callers that write JSON with
// encoding/json: it marshals exactly as the JSON lines write wire strings,
// so any bytes give valid, unambiguous JSON — in the decoded value, `\xNN`
// stands for a byte of invalid UTF-8 and `\\` for one backslash.
type WireString string

// MarshalJSON implements json.Marshaler.
func (w WireString) MarshalJSON() ([]byte, error) {
	return appendJSONString(nil, string(w), true), nil
}
