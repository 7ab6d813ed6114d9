package errlog

import (
	"bytes"
	"errors"
	"net/netip"
	"strconv"
	"time"

	"github.com/hellowatch/hellowatch/tlsparse"
)

// ErrNotTLS is returned by Parse for a well-formed nginx error-log line that
// is not about an upstream TLS connection (a startup notice, a downstream
// handshake, a plain connect() failure).
var ErrNotTLS = errors.New("errlog: not an upstream TLS line")

// ParseError says why a line is not an nginx error-log line.
type ParseError struct {
	Field  string // what could not be read: "time", "level", "pid", ...
	Offset int    // byte offset in the line
}

func (e *ParseError) Error() string {
	return "errlog: bad " + e.Field + " at offset " + strconv.Itoa(e.Offset)
}

// mismatchPrefix starts the one message that quotes a name (which may come
// from a request's Host header, so may contain anything).
const mismatchPrefix = `upstream SSL certificate does not match "`

// timeLayoutLen is len("2006/01/02 15:04:05").
const timeLayoutLen = 19

// Parse reads one nginx error-log line (without its line ending) into an
// Entry. loc is the zone nginx wrote its local time in (nil means UTC).
// It returns ErrNotTLS for a well-formed line about something else and a
// *ParseError for a line that is not an nginx error-log line. The Entry does
// not alias line.
func Parse(line []byte, loc *time.Location) (Entry, error) {
	var e Entry
	if loc == nil {
		loc = time.UTC
	}
	t, ok := parseTime(line, loc)
	if !ok {
		return e, &ParseError{Field: "time", Offset: 0}
	}
	e.Time = t
	p := timeLayoutLen
	// " [crit] "
	if !hasPrefixAt(line, p, " [") {
		return e, &ParseError{Field: "level", Offset: p}
	}
	p += 2
	end := bytes.IndexByte(line[p:], ']')
	if end < 0 || end > 8 {
		return e, &ParseError{Field: "level", Offset: p}
	}
	e.Level = parseLevel(line[p : p+end])
	if e.Level == LevelUnknown {
		return e, &ParseError{Field: "level", Offset: p}
	}
	p += end + 1
	if !hasPrefixAt(line, p, " ") {
		return e, &ParseError{Field: "pid", Offset: p}
	}
	p++
	// "123#123: "
	var n int
	if e.PID, n = atoi(line[p:]); n == 0 || !hasPrefixAt(line, p+n, "#") {
		return e, &ParseError{Field: "pid", Offset: p}
	}
	p += n + 1
	if e.TID, n = atoi(line[p:]); n == 0 || !hasPrefixAt(line, p+n, ": ") {
		return e, &ParseError{Field: "tid", Offset: p}
	}
	p += n + 2
	// "*45 " (absent on lines not tied to a connection)
	if hasPrefixAt(line, p, "*") {
		c, n := atou(line[p+1:])
		if n == 0 || !hasPrefixAt(line, p+1+n, " ") {
			return e, &ParseError{Field: "connection", Offset: p}
		}
		e.Conn, e.HasConn = c, true
		p += n + 2
	}
	msg := line[p:]

	// The context nginx appends: ", client: ..., server: ..., request:
	// "...", upstream: "...", host: "...". The message before it comes from
	// nginx and OpenSSL, except a certificate name, which is quoted.
	ctx, from := len(msg), 0
	if bytes.HasPrefix(msg, []byte(mismatchPrefix)) {
		if i := bytes.Index(msg[len(mismatchPrefix):], []byte(`" while `)); i >= 0 {
			from = len(mismatchPrefix) + i
		}
	}
	if i := bytes.Index(msg[from:], []byte(", client: ")); i >= 0 {
		ctx = from + i
		parseContext(&e, msg[ctx:])
	}
	body := msg[:ctx]
	if i := bytes.LastIndex(body, []byte(" while ")); i >= 0 {
		e.Action = string(body[i+len(" while "):])
		body = body[:i]
	}
	e.Handshake = e.Action == "SSL handshaking to upstream"
	if !classify(&e, body) {
		return Entry{}, ErrNotTLS
	}
	// A downstream TLS failure ("while SSL handshaking, client: ...") has
	// no upstream.
	if e.Upstream == "" && !bytes.Contains([]byte(e.Action), []byte("upstream")) {
		return Entry{}, ErrNotTLS
	}
	e.Raw = string(line)
	return e, nil
}

// classify sets the Kind and its details from the message body (the text
// before " while "). It reports false for a message not about TLS.
func classify(e *Entry, body []byte) bool {
	switch {
	case bytes.HasPrefix(body, []byte("SSL_")):
		i := bytes.Index(body, []byte("() failed"))
		if i < 0 {
			return false
		}
		e.Func = string(body[:i])
		e.Kind = KindSSLError
		rest := body[i+len("() failed"):]
		// Up to two parenthesised groups: " (104: Connection reset by
		// peer)" and " (SSL: error:...)".
		for len(rest) > 0 {
			rest = bytes.TrimPrefix(rest, []byte(" "))
			if len(rest) == 0 || rest[0] != '(' {
				break
			}
			if bytes.HasPrefix(rest, []byte("(SSL:")) {
				// The OpenSSL group runs to the end of the body: its data
				// may contain parentheses.
				inner := bytes.TrimSuffix(rest[len("(SSL:"):], []byte(")"))
				parseOpenSSL(e, inner)
				break
			}
			j := bytes.IndexByte(rest, ')')
			if j < 0 {
				break
			}
			if no, n := atoi(rest[1:j]); n > 0 && hasPrefixAt(rest, 1+n, ":") {
				e.Errno = no
			}
			rest = rest[j+1:]
		}
		if e.OpenSSLCode == 0 && e.Reason == "" && e.Errno == 104 {
			e.Kind = KindPeerReset
		}
	case bytes.HasPrefix(body, []byte("upstream SSL certificate verify error: (")):
		e.Kind = KindVerifyError
		in := body[len("upstream SSL certificate verify error: ("):]
		in = bytes.TrimSuffix(in, []byte(")"))
		code, n := atoi(in)
		if n > 0 && hasPrefixAt(in, n, ":") {
			e.VerifyCode = code
			e.VerifyText = string(in[n+1:])
		} else {
			e.VerifyText = string(in)
		}
	case bytes.HasPrefix(body, []byte(mismatchPrefix)):
		e.Kind = KindNameMismatch
		in := body[len(mismatchPrefix):]
		e.Name = string(bytes.TrimSuffix(in, []byte("\"")))
	case bytes.HasPrefix(body, []byte("peer closed connection in SSL handshake")):
		e.Kind = KindPeerClosed
		in := bytes.TrimPrefix(body[len("peer closed connection in SSL handshake"):], []byte(" ("))
		if no, n := atoi(in); n > 0 && hasPrefixAt(in, n, ":") {
			e.Errno = no
			if no == 104 {
				e.Kind = KindPeerReset
			}
		}
	case bytes.HasPrefix(body, []byte("upstream timed out")):
		if !bytes.Contains([]byte(e.Action), []byte("SSL")) {
			return false
		}
		e.Kind = KindTimeout
		in := bytes.TrimPrefix(body[len("upstream timed out"):], []byte(" ("))
		if no, n := atoi(in); n > 0 {
			e.Errno = no
		}
	default:
		// Anything else nginx says while SSL handshaking to an upstream
		// ("upstream prematurely closed connection", a future wording).
		if !bytes.Contains([]byte(e.Action), []byte("SSL handshaking to upstream")) {
			return false
		}
		e.Kind = KindOther
	}
	return true
}

// parseOpenSSL reads nginx's rendering of OpenSSL's error queue,
// " error:0A000410:SSL routines::sslv3 alert handshake failure:SSL alert
// number 40" (OpenSSL 3), "error:14094410:SSL
// routines:ssl3_read_bytes:sslv3 alert handshake failure:SSL alert number
// 40" (1.1), possibly several errors separated by spaces. The first error
// decides the kind.
func parseOpenSSL(e *Entry, in []byte) {
	const marker = "error:"
	first := true
	for {
		i := bytes.Index(in, []byte(marker))
		if i < 0 {
			return
		}
		in = in[i+len(marker):]
		if len(in) < 9 || in[8] != ':' {
			continue
		}
		code, err := strconv.ParseUint(string(in[:8]), 16, 32)
		if err != nil {
			continue
		}
		rest := in[9:]
		// lib:func:reason[:data], up to the next " error:".
		if j := bytes.Index(rest, []byte(" "+marker)); j >= 0 {
			rest = rest[:j]
		}
		fields := bytes.SplitN(rest, []byte(":"), 4)
		var reason, data []byte
		if len(fields) >= 3 {
			reason = fields[2]
		}
		if len(fields) == 4 {
			data = fields[3]
		}
		if first {
			e.OpenSSLCode = uint32(code)
			e.Reason = string(reason)
			first = false
			classifyOpenSSL(e, uint32(code), reason, data)
		} else if e.Kind == KindSSLError && !e.HasAlert {
			// A later error can still carry the alert.
			classifyOpenSSL(e, uint32(code), reason, data)
		}
		in = in[8:]
	}
}

// OpenSSL's library number for SSL and the offset of alert reasons
// (SSL_AD_REASON_OFFSET): reason 1040 is "alert 40 received".
const (
	libSSL             = 20
	alertReasonOffset  = 1000
	reasonWrongVersion = 267 // SSL_R_WRONG_VERSION_NUMBER
	reasonUnexpEOF     = 294 // SSL_R_UNEXPECTED_EOF_WHILE_READING (3.0)
)

// sslReason returns the reason of an SSL-library error code, in both the
// OpenSSL 3 packing (lib<<23 | reason) and the 1.x one (lib<<24 | func<<12
// | reason).
func sslReason(code uint32) (int, bool) {
	if code&0x80000000 != 0 { // a system error (3.0)
		return 0, false
	}
	switch {
	case code>>24 == libSSL: // 1.x
		return int(code & 0xfff), true
	case code>>23 == libSSL: // 3.x
		return int(code & 0x7fffff), true
	}
	return 0, false
}

func classifyOpenSSL(e *Entry, code uint32, reason, data []byte) {
	if n, ok := cutNumber(data, "SSL alert number "); ok && n >= 0 && n < 256 {
		e.Kind, e.Alert, e.HasAlert = KindAlert, tlsparse.AlertDescription(n), true
		return
	}
	r, ok := sslReason(code)
	switch {
	case ok && r > alertReasonOffset && r < alertReasonOffset+256:
		e.Kind, e.Alert, e.HasAlert = KindAlert, tlsparse.AlertDescription(r-alertReasonOffset), true
	case ok && r == reasonWrongVersion, bytes.Equal(reason, []byte("wrong version number")):
		e.Kind = KindWrongVersion
	case ok && r == reasonUnexpEOF, bytes.Equal(reason, []byte("unexpected eof while reading")):
		e.Kind = KindUnexpectedEOF
	}
}

// cutNumber reads the decimal number after prefix at the start of b.
func cutNumber(b []byte, prefix string) (int, bool) {
	if !bytes.HasPrefix(b, []byte(prefix)) {
		return 0, false
	}
	n, l := atoi(b[len(prefix):])
	return n, l > 0
}

// parseContext reads the fields nginx appends to the message; ctx starts at
// ", client: ".
func parseContext(e *Entry, ctx []byte) {
	if v, ok := plainField(ctx, ", client: "); ok {
		if a, err := netip.ParseAddr(string(v)); err == nil {
			e.Client = a
		}
	}
	if v, ok := plainField(ctx, ", server: "); ok {
		e.Server = string(v)
	}
	// The upstream field follows the request line, which since nginx
	// 1.21.1 cannot contain spaces, and precedes the Host header, which
	// cannot contain a slash: the first ", upstream: "" is nginx's.
	if i := bytes.Index(ctx, []byte(`, upstream: "`)); i >= 0 {
		v := ctx[i+len(`, upstream: "`):]
		if j := bytes.IndexByte(v, '"'); j >= 0 {
			e.Upstream = string(v[:j])
			e.Scheme, e.UpstreamAddr = parseUpstream(v[:j])
		}
	}
	if i := bytes.LastIndex(ctx, []byte(`, host: "`)); i >= 0 {
		v := ctx[i+len(`, host: "`):]
		if j := bytes.IndexByte(v, '"'); j >= 0 {
			e.Host = string(v[:j])
		}
	}
}

// plainField returns the unquoted value after key, up to the next ", ".
func plainField(ctx []byte, key string) ([]byte, bool) {
	i := bytes.Index(ctx, []byte(key))
	if i < 0 {
		return nil, false
	}
	v := ctx[i+len(key):]
	if j := bytes.Index(v, []byte(", ")); j >= 0 {
		v = v[:j]
	}
	return v, true
}

// parseUpstream splits "https://127.0.0.1:8443/path" (or "127.0.0.1:8443",
// the stream module's form) into its scheme and address.
func parseUpstream(v []byte) (string, netip.AddrPort) {
	var scheme string
	if i := bytes.Index(v, []byte("://")); i >= 0 {
		scheme = string(v[:i])
		v = v[i+3:]
	}
	if j := bytes.IndexByte(v, '/'); j >= 0 {
		v = v[:j]
	}
	ap, err := netip.ParseAddrPort(string(v))
	if err != nil {
		return scheme, netip.AddrPort{}
	}
	return scheme, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// parseTime reads "2006/01/02 15:04:05" at the start of b without
// allocating.
func parseTime(b []byte, loc *time.Location) (time.Time, bool) {
	if len(b) < timeLayoutLen || b[4] != '/' || b[7] != '/' || b[10] != ' ' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	num := func(i, n int) int {
		v := 0
		for _, c := range b[i : i+n] {
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	y, mo, d, h, mi, s := num(0, 4), num(5, 2), num(8, 2), num(11, 2), num(14, 2), num(17, 2)
	if y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60 {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(mo), d, h, mi, s, 0, loc), true
}

func hasPrefixAt(b []byte, i int, p string) bool {
	return i <= len(b) && bytes.HasPrefix(b[i:], []byte(p))
}

// atoi reads up to 9 decimal digits at the start of b; n is how many.
func atoi(b []byte) (v, n int) {
	for n < len(b) && n < 9 && b[n] >= '0' && b[n] <= '9' {
		v = v*10 + int(b[n]-'0')
		n++
	}
	return v, n
}

// atou reads up to 19 decimal digits at the start of b.
func atou(b []byte) (v uint64, n int) {
	for n < len(b) && n < 19 && b[n] >= '0' && b[n] <= '9' {
		v = v*10 + uint64(b[n]-'0')
		n++
	}
	return v, n
}
