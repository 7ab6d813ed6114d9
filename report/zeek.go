package report

import (
	"crypto/sha1"
	"fmt"
	"io"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/hellowatch/hellowatch/communityid"
	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// The Zeek output: one ssl.log object per handshake and one notice.log
// object per finding, as Zeek's JSON writer (LogAscii::use_json=T) writes
// them, field names and value forms from Zeek's own scripts
// (base/protocols/ssl/main.zeek, consts.zeek, base/frameworks/notice), so
// that pipelines reading Zeek's logs (Elastic's Zeek integration, Security
// Onion, Malcolm) read hellowatch's unchanged. See docs/zeek-ecs-notes.md.

// ZeekNotePrefix is the Zeek module of hellowatch's notices: a finding
// missing_sni is the note HelloWatch::missing_sni.
const ZeekNotePrefix = "HelloWatch::"

// zeekVersion returns a version as Zeek's version_strings spells it.
func zeekVersion(v tlsparse.Version) string {
	switch v {
	case tlsparse.VersionSSL20:
		return "SSLv2"
	case tlsparse.VersionSSL30:
		return "SSLv3"
	case tlsparse.VersionTLS10:
		return "TLSv10"
	case tlsparse.VersionTLS11:
		return "TLSv11"
	case tlsparse.VersionTLS12:
		return "TLSv12"
	case tlsparse.VersionTLS13:
		return "TLSv13"
	case 0xfeff:
		return "DTLSv10"
	case 0xfefd:
		return "DTLSv12"
	case 0xfefc:
		return "DTLSv13"
	}
	if v/0xff == 0x7f {
		// Zeek's formula, kept as is: 0x7f0e % 0x7f = 14.
		return "TLSv13-draft" + strconv.Itoa(int(v%0x7f))
	}
	return "unknown-" + strconv.Itoa(int(v))
}

// zeekCipherNames are Zeek's cipher_desc names that are not the IANA name
// tlsparse knows (obsolete drafts and vendor code points).
var zeekCipherNames = map[tlsparse.CipherSuite]string{
	0x0072: "TLS_DHE_DSS_WITH_3DES_EDE_CBC_RMD",
	0x0073: "TLS_DHE_DSS_WITH_AES_128_CBC_RMD",
	0x0074: "TLS_DHE_DSS_WITH_AES_256_CBC_RMD",
	0x0077: "TLS_DHE_RSA_WITH_3DES_EDE_CBC_RMD",
	0x0078: "TLS_DHE_RSA_WITH_AES_128_CBC_RMD",
	0x0079: "TLS_DHE_RSA_WITH_AES_256_CBC_RMD",
	0x007c: "TLS_RSA_WITH_3DES_EDE_CBC_RMD",
	0x007d: "TLS_RSA_WITH_AES_128_CBC_RMD",
	0x007e: "TLS_RSA_WITH_AES_256_CBC_RMD",
	0x1306: "TLS_AEGIS_256_SHA384",
	0x1307: "TLS_AEGIS_128L_SHA256",
	0x16b7: "TLS_CECPQ1_RSA_WITH_CHACHA20_POLY1305_SHA256",
	0x16b8: "TLS_CECPQ1_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	0x16b9: "TLS_CECPQ1_RSA_WITH_AES_256_GCM_SHA384",
	0x16ba: "TLS_CECPQ1_ECDSA_WITH_AES_256_GCM_SHA384",
	0xcc13: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256_OLD",
	0xcc14: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256_OLD",
	0xcc15: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256_OLD",
	0xd004: "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256_OLD",
	0xff80: "SSL_RSA_WITH_RC2_CBC_MD5",
	0xff81: "SSL_RSA_WITH_IDEA_CBC_MD5",
	0xff82: "SSL_RSA_WITH_DES_CBC_MD5",
	0xff83: "SSL_RSA_WITH_3DES_EDE_CBC_MD5",
	0xffe0: "SSL_RSA_FIPS_WITH_3DES_EDE_CBC_SHA_2",
	0xffe1: "SSL_RSA_FIPS_WITH_DES_CBC_SHA_2",
}

// zeekCipher returns a cipher suite as Zeek's cipher_desc spells it: the
// IANA name with "_anon_" in capitals, Zeek's names for the code points
// above, "grease_0xAAAA", or "unknown-N".
func zeekCipher(c tlsparse.CipherSuite) string {
	if n, ok := zeekCipherNames[c]; ok {
		return n
	}
	if tlsparse.IsGREASE(uint16(c)) {
		return fmt.Sprintf("grease_0x%04X", uint16(c))
	}
	n := c.String()
	if strings.HasPrefix(n, "0x") {
		return "unknown-" + strconv.Itoa(int(c))
	}
	return strings.Replace(n, "_anon_", "_ANON_", 1)
}

// zeekGroup returns a named group as Zeek's ec_curves spells it.
func zeekGroup(g tlsparse.NamedGroup) string {
	switch g {
	case 0x4138:
		return "CECPQ2"
	case 0x11ee:
		return "curveSM2MLKEM768"
	}
	if tlsparse.IsGREASE(uint16(g)) {
		return fmt.Sprintf("grease_0x%04X", uint16(g))
	}
	n := g.String()
	if strings.HasPrefix(n, "0x") {
		return "unknown-" + strconv.Itoa(int(g))
	}
	return n
}

// zeekAlert returns an alert description as Zeek's alert_descriptions
// spells it (the IANA names; "unknown-N" for unassigned codes).
func zeekAlert(d tlsparse.AlertDescription) string {
	if !d.Assigned() {
		return "unknown-" + strconv.Itoa(int(d))
	}
	return d.Name()
}

// zeekCurve is the group Zeek logs as curve: the server's key_share (TLS
// 1.3) or the named curve of its ServerKeyExchange (ECDHE).
func zeekCurve(h *handshake.Handshake) tlsparse.NamedGroup {
	if h.KeyShareGroup != 0 {
		return h.KeyShareGroup
	}
	return h.ECDHGroup
}

// ZeekHistory returns Zeek's ssl_history and established for h, derived
// from h.History by the rules of Zeek's SSL analyzer: a direction turns
// encrypted at its ChangeCipherSpec (not in TLS 1.3, where the CCS is
// compatibility fluff) or, when the version is TLS 1.3 or unknown, at its
// first application_data record; records of an encrypted direction get no
// letter, and the first one after both directions turned encrypted raises
// ssl_established, after which Zeek stops analysing (so the history ends
// there). SSL 2.0 is established at the client's CLIENT-MASTER-KEY. Zeek
// never sees a QUIC handshake finish: established is false, and the
// history has the letters of the Initial packets' messages.
func ZeekHistory(h *handshake.Handshake) (history string, established bool) {
	var b [64]byte
	out, est := zeekHistory(b[:0], h)
	return string(out), est
}

// zeekHistory appends Zeek's ssl_history of h to out (see [ZeekHistory]).
func zeekHistory(out []byte, h *handshake.Handshake) ([]byte, bool) {
	v := h.Version
	if h.Transport == handshake.TransportQUIC {
		// Only the messages of the Initial packets: no CONNECTION_CLOSE
		// (hellowatch's L), no Handshake packets (D).
		for i := 0; i < len(h.History); i++ {
			switch c := h.History[i]; c {
			case 'D', 'd', 'L', 'l':
			default:
				out = append(out, c)
			}
		}
		return out, false
	}
	// Zeek's determine_tls13 (a CCS does not encrypt) and determine_state
	// (application data encrypts unless SSL 2/3 or TLS 1.0-1.2).
	tls13 := v == tlsparse.VersionTLS13 || v>>8 == 0x7f
	dataEncrypts := true
	switch v {
	case tlsparse.VersionSSL20, tlsparse.VersionSSL30, tlsparse.VersionTLS10, tlsparse.VersionTLS11, tlsparse.VersionTLS12:
		dataEncrypts = false
	}
	var enc [2]bool // client, server
	for i := 0; i < len(h.History); i++ {
		c := h.History[i]
		side := 0
		if c >= 'a' && c <= 'z' {
			side = 1
		}
		data := c == 'D' || c == 'd'
		if v == tlsparse.VersionSSL20 {
			if c == 'D' && h.ServerHelloSeen {
				return out, true
			}
			if !data {
				out = append(out, c)
			}
			continue
		}
		if data && dataEncrypts {
			enc[side] = true
		}
		if enc[side] {
			if enc[0] && enc[1] {
				return out, true
			}
			continue
		}
		if data {
			continue // plaintext application data: no letter
		}
		out = append(out, c)
		if (c == 'I' || c == 'i') && !tls13 {
			enc[side] = true
		}
	}
	return out, false
}

// CommunityID returns h's Community ID v1 (seed 0): its TCP or, for QUIC,
// UDP 5-tuple.
func CommunityID(h *handshake.Handshake) string {
	var b [communityid.Len]byte
	return string(appendCommunityID(b[:0], h))
}

// communityFlow is h's flow tuple for the Community ID.
func communityFlow(h *handshake.Handshake) communityid.Flow {
	if h.Transport == handshake.TransportQUIC {
		return communityid.UDP(h.Client, h.Server)
	}
	return communityid.TCP(h.Client, h.Server)
}

func appendCommunityID(dst []byte, h *handshake.Handshake) []byte {
	return communityFlow(h).Append(dst, 0)
}

// appendCommunityIDField appends ,"community_id":"..." when h has one.
func appendCommunityIDField(dst []byte, h *handshake.Handshake) []byte {
	f := communityFlow(h)
	if !f.Valid() {
		return dst
	}
	dst = append(dst, `,"community_id":"`...)
	dst = f.Append(dst, 0)
	return append(dst, '"')
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// ZeekUID returns the uid of h's records: "C" and 17 base62 digits of 96
// bits hashed from the 4-tuple and the ClientHello's time, so that the
// ssl.log and notice.log records of a handshake share it and a capture
// read twice gives the same uids (Zeek's are random per run).
func ZeekUID(h *handshake.Handshake) string {
	var b [18]byte
	return string(appendZeekUID(b[:0], h))
}

func appendZeekUID(dst []byte, h *handshake.Handshake) []byte {
	var in [64]byte
	p := appendCommunityID(in[:0], h)
	p = strconv.AppendInt(p, h.ClientHelloTime.UnixNano(), 10)
	sum := sha1.Sum(p)
	// 96 bits as a big number, written in base 62 with a fixed width.
	hi := uint64(sum[0])<<24 | uint64(sum[1])<<16 | uint64(sum[2])<<8 | uint64(sum[3])
	lo := uint64(sum[4])<<56 | uint64(sum[5])<<48 | uint64(sum[6])<<40 | uint64(sum[7])<<32 |
		uint64(sum[8])<<24 | uint64(sum[9])<<16 | uint64(sum[10])<<8 | uint64(sum[11])
	dst = append(dst, 'C')
	return appendBase62(dst, hi, lo)
}

// appendBase62 appends hi*2^64+lo (hi < 2^32) as 17 base62 digits, most
// significant first (62^17 > 2^96).
func appendBase62(dst []byte, hi, lo uint64) []byte {
	var digits [17]byte
	for i := len(digits) - 1; i >= 0; i-- {
		// (hi*2^64 + lo) divided by 62, digit by digit.
		r := hi % 62
		hi /= 62
		q, rem := div128by62(r, lo)
		lo = q
		digits[i] = base62[rem]
	}
	return append(dst, digits[:]...)
}

// div128by62 divides r*2^64 + lo (r < 62) by 62.
func div128by62(r, lo uint64) (q, rem uint64) {
	// Split lo into two 32-bit halves so that no step overflows.
	a := r<<32 | lo>>32
	qa := a / 62
	ra := a % 62
	b := ra<<32 | lo&0xffffffff
	qb := b / 62
	return qa<<32 | qb, b % 62
}

// appendZeekTime appends t as Zeek's JSON writer writes a time: seconds
// since the epoch as a double, in the shortest form that reads back the
// same (rapidjson's Writer::Double).
func appendZeekTime(dst []byte, t time.Time) []byte {
	f := float64(t.Unix()) + float64(t.Nanosecond())/1e9
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}

func appendZeekID(dst []byte, client, server netip.AddrPort) []byte {
	dst = append(dst, `"id.orig_h":"`...)
	dst = client.Addr().WithZone("").AppendTo(dst)
	dst = append(dst, `","id.orig_p":`...)
	dst = strconv.AppendUint(dst, uint64(client.Port()), 10)
	dst = append(dst, `,"id.resp_h":"`...)
	dst = server.Addr().WithZone("").AppendTo(dst)
	dst = append(dst, `","id.resp_p":`...)
	return strconv.AppendUint(dst, uint64(server.Port()), 10)
}

// AppendZeekSSL appends h as one ssl.log JSON object (no newline). With
// path, the object starts with "_path":"ssl", as a single stream mixing
// Zeek logs needs it (corelight/json-streaming-logs' convention); a file
// named ssl.log has no _path, as Zeek writes it.
//
// Fields, in Zeek's order: ts (the ClientHello), uid, id.*, version,
// cipher, curve, server_name, resumed, last_alert, next_protocol,
// established, ssl_history (Zeek's view: see [ZeekHistory]), then the
// ssl-log-ext fields hellowatch knows (client_version, ssl_client_exts,
// orig_alpn, server_key_share_group), FoxIO's ja4 (and ja4_r), and
// community_id. Unset optional fields are left out, as Zeek's JSON writer
// does.
func AppendZeekSSL(dst []byte, h *handshake.Handshake, path bool) []byte {
	dst = append(dst, '{')
	if path {
		dst = append(dst, `"_path":"ssl",`...)
	}
	dst = append(dst, `"ts":`...)
	dst = appendZeekTime(dst, h.ClientHelloTime)
	dst = append(dst, `,"uid":"`...)
	dst = appendZeekUID(dst, h)
	dst = append(dst, `",`...)
	dst = appendZeekID(dst, h.Client, h.Server)
	if h.ServerHelloSeen && h.Version != 0 {
		dst = append(dst, `,"version":"`...)
		dst = append(dst, zeekVersion(h.Version)...)
		dst = append(dst, '"')
	}
	if h.ServerHelloSeen && h.Version != tlsparse.VersionSSL20 {
		dst = append(dst, `,"cipher":"`...)
		dst = append(dst, zeekCipher(h.Cipher)...)
		dst = append(dst, '"')
	}
	if g := zeekCurve(h); g != 0 {
		dst = append(dst, `,"curve":"`...)
		dst = append(dst, zeekGroup(g)...)
		dst = append(dst, '"')
	}
	if h.HasSNI {
		dst = append(dst, `,"server_name":`...)
		dst = appendJSONString(dst, h.ServerName, true)
	}
	dst = append(dst, `,"resumed":`...)
	dst = appendBool(dst, h.Resumed)
	for i := len(h.Alerts) - 1; i >= 0; i-- {
		if a := &h.Alerts[i]; !a.Encrypted {
			dst = append(dst, `,"last_alert":"`...)
			dst = append(dst, zeekAlert(a.Description)...)
			dst = append(dst, '"')
			break
		}
	}
	if h.NextProtocol != "" {
		dst = append(dst, `,"next_protocol":`...)
		dst = appendJSONString(dst, h.NextProtocol, true)
	}
	var hb [64]byte
	hist, est := zeekHistory(hb[:0], h)
	dst = append(dst, `,"established":`...)
	dst = appendBool(dst, est)
	dst = append(dst, `,"ssl_history":`...)
	// No copy: appendJSONString does not keep its argument.
	dst = appendJSONString(dst, unsafe.String(unsafe.SliceData(hist), len(hist)), false)

	// policy/protocols/ssl/ssl-log-ext.zeek
	if h.ClientLegacyVer != 0 {
		dst = append(dst, `,"client_version":`...)
		dst = strconv.AppendUint(dst, uint64(h.ClientLegacyVer), 10)
	}
	if len(h.Extensions) > 0 {
		dst = append(dst, `,"ssl_client_exts":[`...)
		for i, e := range h.Extensions {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendUint(dst, uint64(e), 10)
		}
		dst = append(dst, ']')
	}
	if len(h.ALPN) > 0 {
		dst = append(dst, `,"orig_alpn":`...)
		dst = appendJSONStrings(dst, h.ALPN, true)
	}
	if h.KeyShareGroup != 0 {
		dst = append(dst, `,"server_key_share_group":`...)
		dst = strconv.AppendUint(dst, uint64(h.KeyShareGroup), 10)
	}
	// FoxIO's JA4 package (ja4 is &default="": always written).
	dst = append(dst, `,"ja4":`...)
	dst = appendJSONString(dst, h.JA4, false)
	if h.JA4R != "" {
		dst = append(dst, `,"ja4_r":`...)
		dst = appendJSONString(dst, h.JA4R, false)
	}
	dst = appendCommunityIDField(dst, h)
	return append(dst, '}')
}

// AppendZeekNotice appends finding f of h as one notice.log JSON object (no
// newline), with "_path":"notice" first when path is set: ts (when the
// outcome was decided), the uid of h's ssl.log object, id.*, proto, note
// (HelloWatch::<finding>), msg (the summary), sub (the fix), src, dst, p,
// and Zeek's defaults for a logged notice (actions, email_dest,
// suppress_for), then community_id.
func AppendZeekNotice(dst []byte, h *handshake.Handshake, f *diagnose.Finding, path bool) []byte {
	dst = append(dst, '{')
	if path {
		dst = append(dst, `"_path":"notice",`...)
	}
	ts := h.EndTime
	if ts.IsZero() {
		ts = h.ClientHelloTime
	}
	dst = append(dst, `"ts":`...)
	dst = appendZeekTime(dst, ts)
	dst = append(dst, `,"uid":"`...)
	dst = appendZeekUID(dst, h)
	dst = append(dst, `",`...)
	dst = appendZeekID(dst, h.Client, h.Server)
	dst = append(dst, `,"proto":"`...)
	if h.Transport == handshake.TransportQUIC {
		dst = append(dst, "udp"...)
	} else {
		dst = append(dst, "tcp"...)
	}
	dst = append(dst, `","note":`...)
	dst = appendJSONString(dst, ZeekNotePrefix+f.ID, false)
	dst = append(dst, `,"msg":`...)
	dst = appendJSONString(dst, f.Summary, false)
	if f.Hint != "" {
		dst = append(dst, `,"sub":`...)
		dst = appendJSONString(dst, f.Hint, false)
	}
	dst = append(dst, `,"src":"`...)
	dst = h.Client.Addr().WithZone("").AppendTo(dst)
	dst = append(dst, `","dst":"`...)
	dst = h.Server.Addr().WithZone("").AppendTo(dst)
	dst = append(dst, `","p":`...)
	dst = strconv.AppendUint(dst, uint64(h.Server.Port()), 10)
	dst = append(dst, `,"actions":["Notice::ACTION_LOG"],"email_dest":[],"suppress_for":3600.0`...)
	dst = appendCommunityIDField(dst, h)
	return append(dst, '}')
}

// ZeekWriter writes the Zeek output: ssl and notice objects on one stream
// (each with _path), or ssl.log and notice.log in a directory
// ([OpenZeekDir]). It is safe for concurrent use.
type ZeekWriter struct {
	mu          sync.Mutex
	ssl, notice io.Writer
	path        bool
	buf         []byte
	closers     []io.Closer
}

// NewZeekWriter returns a ZeekWriter writing both logs to w, one object a
// line, each with its _path. When w has a Flush method it is called after
// each handshake.
func NewZeekWriter(w io.Writer) *ZeekWriter {
	return &ZeekWriter{ssl: w, notice: w, path: true, buf: make([]byte, 0, 2048)}
}

// Write writes h's ssl object and one notice object per finding.
func (z *ZeekWriter) Write(h *handshake.Handshake, fs []diagnose.Finding) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.buf = AppendZeekSSL(z.buf[:0], h, z.path)
	z.buf = append(z.buf, '\n')
	if _, err := z.ssl.Write(z.buf); err != nil {
		return fmt.Errorf("report: write zeek ssl: %w", err)
	}
	if len(fs) > 0 {
		z.buf = z.buf[:0]
		for i := range fs {
			z.buf = AppendZeekNotice(z.buf, h, &fs[i], z.path)
			z.buf = append(z.buf, '\n')
		}
		if _, err := z.notice.Write(z.buf); err != nil {
			return fmt.Errorf("report: write zeek notice: %w", err)
		}
	}
	for _, w := range []io.Writer{z.ssl, z.notice} {
		if err := flush(w); err != nil {
			return fmt.Errorf("report: flush zeek: %w", err)
		}
		if z.ssl == z.notice {
			break
		}
	}
	return nil
}

// Close closes the files of a directory writer; it does nothing for a
// stream writer.
func (z *ZeekWriter) Close() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	var first error
	for _, c := range z.closers {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	z.closers = nil
	return first
}

func flush(w io.Writer) error {
	switch f := w.(type) {
	case interface{ Flush() error }:
		return f.Flush()
	case interface{ Flush() }:
		f.Flush()
	}
	return nil
}
