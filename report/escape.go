package report

import (
	"unicode"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// EscapeWire makes a string taken off the wire safe to print on a terminal.
// Printable ASCII and printable Unicode pass through; a backslash becomes
// `\\` and a double quote `\"`; control characters (C0, DEL), ESC sequences
// and bytes of invalid UTF-8 become `\xNN`; C1 controls and other
// non-printable runes (bidi overrides, zero-width characters) become
// `\uNNNN`. The result is unambiguous: the input can be recovered from it.
// A string that needs no escaping is returned as is, without allocating.
func EscapeWire(b string) string {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c < 0x20 || c >= 0x7f || c == '\\' || c == '"' {
			return string(appendEscapedWire(make([]byte, 0, len(b)+16), b))
		}
	}
	return b
}

// appendEscapedWire appends EscapeWire(s) to dst.
func appendEscapedWire(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\\' || c == '"':
				dst = append(dst, '\\', c)
			case c < 0x20 || c == 0x7f:
				dst = append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			dst = append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		case !unicode.IsPrint(r):
			dst = appendU(dst, r)
		default:
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return dst
}

// appendU appends \uNNNN (or \UNNNNNNNN beyond the BMP).
func appendU(dst []byte, r rune) []byte {
	if r > 0xffff {
		dst = append(dst, '\\', 'U')
		for s := 28; s >= 0; s -= 4 {
			dst = append(dst, hexDigits[(r>>uint(s))&0xf])
		}
		return dst
	}
	dst = append(dst, '\\', 'u')
	for s := 12; s >= 0; s -= 4 {
		dst = append(dst, hexDigits[(r>>uint(s))&0xf])
	}
	return dst
}
