package report

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestEscapeWire(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "example.com", "example.com"},
		{"empty", "", ""},
		{"esc_sequence", "a\x1b[2Jb", `a\x1b[2Jb`},
		{"osc_title", "\x1b]0;x\x07", `\x1b]0;x\x07`},
		{"nul_del", "\x00\x7f", `\x00\x7f`},
		{"newline_tab", "a\nb\tc", `a\x0ab\x09c`},
		{"invalid_utf8", "\xff\xfe", `\xff\xfe`},
		{"c1_csi", "\u009b31m", `\u009b31m`},
		{"nel", "a\u0085b", `a\u0085b`},
		{"bidi_override", "a\u202eb", `a\u202eb`},
		{"backslash_quote", `a\x41"b`, `a\\x41\"b`},
		{"utf8_printable", "bücher.example", "bücher.example"},
		{"emoji", "😀", "😀"},
		{"truncated_rune", "a\xe2\x82", `a\xe2\x82`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := EscapeWire(tc.in); got != tc.want {
				t.Errorf("EscapeWire(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// unescapeWire inverts EscapeWire, to prove it is reversible.
func unescapeWire(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			return "", false
		}
		switch s[i+1] {
		case '\\', '"':
			b.WriteByte(s[i+1])
			i++
		case 'x':
			v, err := strconv.ParseUint(s[i+2:i+4], 16, 8)
			if err != nil {
				return "", false
			}
			b.WriteByte(byte(v))
			i += 3
		case 'u':
			v, err := strconv.ParseUint(s[i+2:i+6], 16, 32)
			if err != nil {
				return "", false
			}
			b.WriteRune(rune(v))
			i += 5
		case 'U':
			v, err := strconv.ParseUint(s[i+2:i+10], 16, 32)
			if err != nil {
				return "", false
			}
			b.WriteRune(rune(v))
			i += 9
		default:
			return "", false
		}
	}
	return b.String(), true
}

func randomWire(r *rand.Rand) string {
	alphabet := []string{"a", "Z", ".", "\\", "\"", "\x00", "\x1b", "\x7f", "\xff", "\xc3", "\xa9", "é", "\u0085", "\u202e", "\u2028", "😀", "\n", "x41", "\xe2\x82", "\U000E0001", "\ufffd", "\u200b"}
	var b strings.Builder
	for n := r.IntN(24); n > 0; n-- {
		if r.IntN(4) == 0 {
			b.WriteByte(byte(r.IntN(256)))
		} else {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
	}
	return b.String()
}

func TestEscapeWireRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 50000; i++ {
		in := randomWire(r)
		out := EscapeWire(in)
		noRawControls(t, []byte(out), false)
		back, ok := unescapeWire(out)
		if !ok || back != in {
			t.Fatalf("round trip of %q: %q -> %q (%v)", in, out, back, ok)
		}
	}
}

func FuzzEscapeWire(f *testing.F) {
	for _, s := range []string{"example.com", "\x1b[2J", "\xff", "a\\x41", "\u0085"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := EscapeWire(in)
		noRawControls(t, []byte(out), false)
		if back, ok := unescapeWire(out); !ok || back != in {
			t.Fatalf("round trip of %q: %q -> %q", in, out, back)
		}
	})
}

func TestEscapeWireNoAlloc(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = EscapeWire("www.example.com") }); n != 0 {
		t.Fatalf("EscapeWire of a clean name allocates %v times", n)
	}
}
