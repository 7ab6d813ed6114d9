package report

// AppendJSONText appends s, text of our own or a user's file, as a JSON
// string (invalid UTF-8 becomes U+FFFD; controls are escaped).
func AppendJSONText(dst []byte, s string) []byte { return appendJSONString(dst, s, false) }

// AppendJSONWire appends s, bytes from the wire or a log, as a JSON string
// from which the bytes can be recovered (see the JSON contract: `\\` and
// `\xNN` in the decoded value).
func AppendJSONWire(dst []byte, s string) []byte { return appendJSONString(dst, s, true) }
