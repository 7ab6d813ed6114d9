package report

import (
	"fmt"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// appendJSONString appends s as a JSON string. It escapes what RFC 8259
// requires plus DEL and every non-printable rune (C1 controls, U+2028/U+2029,
// bidi overrides), so no terminal control sequence ever appears raw.
//
// When wire is true, s came off the wire and may be any bytes. Then each
// byte of invalid UTF-8 becomes the four characters `\xNN` in the decoded
// string, and a literal backslash is doubled (`\\` in the decoded string),
// so the original bytes can be recovered exactly: in the decoded value,
// `\\` stands for one backslash and `\xNN` for the byte 0xNN. When wire is
// false (our own text), invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string, wire bool) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"':
				dst = append(dst, '\\', '"')
			case '\\':
				if wire {
					dst = append(dst, '\\', '\\', '\\', '\\')
				} else {
					dst = append(dst, '\\', '\\')
				}
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, s[start:i]...)
			if wire {
				dst = append(dst, '\\', '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
			} else {
				dst = append(dst, '\\', 'u', 'f', 'f', 'f', 'd')
			}
			i++
			start = i
			continue
		}
		if !unicode.IsPrint(r) {
			// C1 controls, U+2028/U+2029, bidi overrides, zero-width
			// characters: never raw, so a log viewer cannot be fooled.
			dst = append(dst, s[start:i]...)
			if r > 0xffff {
				r1, r2 := utf16.EncodeRune(r)
				dst = appendU(dst, r1)
				dst = appendU(dst, r2)
			} else {
				dst = appendU(dst, r)
			}
			i += n
			start = i
			continue
		}
		i += n
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendJSONStrings appends a JSON array of strings.
func appendJSONStrings(dst []byte, ss []string, wire bool) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, s, wire)
	}
	return append(dst, ']')
}

// appendNonZero appends v's name, or null when v is zero (not seen).
func appendNonZero[T interface {
	comparable
	String() string
}](dst []byte, v T) []byte {
	var zero T
	if v == zero {
		return append(dst, "null"...)
	}
	return appendJSONString(dst, v.String(), true)
}

// appendNames appends a JSON array of the values' names.
func appendNames[T fmt.Stringer](dst []byte, vs []T) []byte {
	dst = append(dst, '[')
	for i, v := range vs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, v.String(), true)
	}
	return append(dst, ']')
}

// appendNullableString appends s, or null when s is empty.
func appendNullableString(dst []byte, s string, wire bool) []byte {
	if s == "" {
		return append(dst, "null"...)
	}
	return appendJSONString(dst, s, wire)
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}
