package tlsparse

import "errors"

// This file rebuilds ClientHellos: the captured hello of a failed handshake
// with one thing changed (the name, the versions, the ALPN list, the
// groups), so that `hellowatch confirm` can show that the change alone
// changes the server's answer. It knows the same framing as the parser and
// uses it to parse the rebuilt hello back.

// HelloEdit is a change to a ClientHello for [RewriteClientHello]. The zero
// value changes nothing (but see pre_shared_key in RewriteClientHello).
type HelloEdit struct {
	// SetServerName makes server_name carry ServerName as its only
	// host_name entry: the extension is rewritten where it is, or added
	// first (after a leading GREASE extension), where OpenSSL, Go and
	// browsers put it.
	SetServerName bool
	ServerName    []byte

	// Versions, when not empty, becomes supported_versions' list, after
	// the GREASE entries the hello had; the extension is added when
	// absent. A hello that did not offer TLS 1.3 and now does gets what a
	// TLS 1.3 server needs from it (RFC 8446, 9.2): the three TLS 1.3
	// cipher suites in front, x25519 in supported_groups, a key_share with
	// X25519Share, signature_algorithms when absent, legacy_version
	// 0x0303 and the null compression method only.
	Versions []Version

	// SetALPN replaces ALPN's protocol list with ALPN (the extension is
	// added when absent, removed when ALPN is empty).
	SetALPN bool
	ALPN    [][]byte

	// ClassicGroupsOnly removes post-quantum and hybrid groups (see
	// [NamedGroup.IsPostQuantum]) from supported_groups and their shares
	// from key_share; GREASE stays. When no classic share is left, one for
	// x25519 with X25519Share is added (x25519 joins supported_groups if
	// needed); without X25519Share the key_share list is left empty and a
	// server answers with a HelloRetryRequest.
	ClassicGroupsOnly bool

	// X25519Share is a 32-byte x25519 public key for a key_share entry
	// the edits above need to add. The caller makes it (crypto/ecdh): the
	// rewriter does no cryptography. The server computes a shared secret
	// from it and nothing more is ever sent.
	X25519Share []byte
}

// IsPostQuantum reports whether g is a post-quantum or hybrid key exchange
// group: ML-KEM (0x0200-0x0202), the hybrids X25519MLKEM768,
// SecP256r1MLKEM768 and SecP384r1MLKEM1024 (0x11eb-0x11ed), and the
// pre-standard Kyber hybrids (0x6399, 0x639a). Their key shares are 800 to
// 1,600 bytes: what makes a hello outgrow one TCP segment.
func (g NamedGroup) IsPostQuantum() bool {
	switch {
	case g >= 0x0200 && g <= 0x0202, g >= 0x11eb && g <= 0x11ed, g == 0x6399, g == 0x639a:
		return true
	}
	return false
}

// Errors of the rewriter.
var (
	// ErrRewrite reports a ClientHello that cannot be rebuilt as asked:
	// an extension to change is malformed or repeated, or the result
	// would not fit TLS's length fields. The returned error wraps it
	// with the reason.
	ErrRewrite = errors.New("tlsparse: cannot rewrite client hello")
)

func rewriteErr(msg string) error { return &rewriteError{msg} }

type rewriteError struct{ msg string }

func (e *rewriteError) Error() string { return "tlsparse: cannot rewrite client hello: " + e.msg }
func (e *rewriteError) Unwrap() error { return ErrRewrite }

// The three TLS 1.3 cipher suites (RFC 8446, B.4) and a signature_algorithms
// list for a TLS 1.3 upgrade of a hello that had none: ECDSA, RSA-PSS,
// RSA PKCS#1 and Ed25519, as OpenSSL 3.0 offers them.
var (
	tls13Suites  = []CipherSuite{0x1301, 0x1302, 0x1303}
	tls13SigAlgs = []SignatureScheme{0x0403, 0x0503, 0x0603, 0x0807, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601}
)

// rawExt is one extension as on the wire: its type and body.
type rawExt struct {
	typ  ExtensionType
	data []byte
}

// RewriteClientHello appends to dst a ClientHello body (without the 4-byte
// handshake header) made from body with the edit e applied, and returns the
// extended slice. body must parse with [ParseClientHello]; what e does not
// change is copied byte for byte, in order, GREASE included, and every
// length (each extension, the extensions block) is recomputed. Two rules
// apply to any rebuilt hello, whatever e asks:
//
//   - pre_shared_key and early_data are removed: the PSK binder is a MAC
//     over the hello's bytes (RFC 8446, 4.2.11.2), so a changed hello
//     carries a wrong one and a server that knows the ticket must abort
//     with decrypt_error. Without them the server does a full handshake
//     (a session offered in TLS 1.2's session_ticket or session id stays:
//     nothing binds it to the hello).
//   - A padding extension (RFC 7685) is resized as OpenSSL and BoringSSL
//     size it: the message is padded to 512 bytes when it would otherwise
//     be 256 to 511 bytes long (the F5 bug workaround it exists for), and
//     the extension is dropped when no padding is needed. A hello without
//     padding gets none.
//
// New extensions go where RFC 8446, 4.2 allows (anywhere before
// pre_shared_key, which must be last): server_name first, the others
// before a trailing padding extension. An edit that needs an extension the
// hello has twice, or has malformed, fails with an error wrapping
// [ErrRewrite]; so does a result longer than [MaxHandshakeLen].
func RewriteClientHello(dst, body []byte, e *HelloEdit) ([]byte, error) {
	var ch ClientHello
	if err := ParseClientHello(body, &ch); err != nil {
		return dst, err
	}
	c := cursor{b: body}
	var legacy uint16
	var random []byte
	var sid, suites, comp, exts cursor
	c.u16(&legacy)
	random, _ = c.bytes(32)
	c.vec8(&sid)
	c.vec16(&suites)
	c.vec8(&comp)
	if !c.empty() {
		c.vec16(&exts)
	}
	var list []rawExt
	for !exts.empty() {
		var typ uint16
		var data cursor
		exts.u16(&typ)
		exts.vec16(&data)
		list = append(list, rawExt{ExtensionType(typ), data.b})
	}
	r := rewriter{ch: &ch, e: e, exts: list, legacy: legacy, comp: comp.b}
	for s := suites; !s.empty(); {
		var v uint16
		s.u16(&v)
		r.suites = append(r.suites, CipherSuite(v))
	}
	if err := r.apply(); err != nil {
		return dst, err
	}
	return r.append(dst, random, sid.b)
}

type rewriter struct {
	ch     *ClientHello
	e      *HelloEdit
	exts   []rawExt
	legacy uint16
	suites []CipherSuite
	comp   []byte
}

func (r *rewriter) find(t ExtensionType) int {
	for i, x := range r.exts {
		if x.typ == t {
			return i
		}
	}
	return -1
}

func (r *rewriter) count(t ExtensionType) int {
	n := 0
	for _, x := range r.exts {
		if x.typ == t {
			n++
		}
	}
	return n
}

// editable returns the index of extension t (-1 when absent), failing when
// it occurs twice or its body did not decode.
func (r *rewriter) editable(t ExtensionType) (int, error) {
	if r.count(t) > 1 {
		return -1, rewriteErr("extension " + t.String() + " occurs twice")
	}
	i := r.find(t)
	if i >= 0 {
		var probe ClientHello
		if probe.decodeExtension(t, cursor{b: r.exts[i].data}) != nil {
			return -1, rewriteErr("extension " + t.String() + " is malformed")
		}
	}
	return i, nil
}

// set replaces extension t's body, or inserts it at the end (before a
// trailing padding or pre_shared_key).
func (r *rewriter) set(t ExtensionType, data []byte) error {
	i, err := r.editable(t)
	if err != nil {
		return err
	}
	if i >= 0 {
		r.exts[i].data = data
		return nil
	}
	r.insert(r.tail(), rawExt{t, data})
	return nil
}

// tail is where a new extension goes: before the trailing run of padding
// and pre_shared_key extensions.
func (r *rewriter) tail() int {
	i := len(r.exts)
	for i > 0 && (r.exts[i-1].typ == ExtPadding || r.exts[i-1].typ == ExtPreSharedKey) {
		i--
	}
	return i
}

func (r *rewriter) insert(i int, x rawExt) {
	r.exts = append(r.exts, rawExt{})
	copy(r.exts[i+1:], r.exts[i:])
	r.exts[i] = x
}

func (r *rewriter) remove(t ExtensionType) {
	out := r.exts[:0]
	for _, x := range r.exts {
		if x.typ != t {
			out = append(out, x)
		}
	}
	r.exts = out
}

func (r *rewriter) apply() error {
	e := r.e
	r.remove(ExtPreSharedKey)
	r.remove(ExtEarlyData)
	if e.SetServerName {
		if err := r.serverName(); err != nil {
			return err
		}
	}
	if len(e.Versions) > 0 {
		if err := r.versions(); err != nil {
			return err
		}
	}
	if e.SetALPN {
		if err := r.alpn(); err != nil {
			return err
		}
	}
	if e.ClassicGroupsOnly {
		if err := r.classicGroups(); err != nil {
			return err
		}
	}
	return nil
}

func (r *rewriter) serverName() error {
	name := r.e.ServerName
	if len(name) > 0xffff-5 {
		return rewriteErr("server name too long")
	}
	i, err := r.editable(ExtServerName)
	if err != nil {
		return err
	}
	// RFC 6066, 3: server_name_list<1..2^16-1> of {name_type, HostName<1..2^16-1>}.
	d := make([]byte, 0, 5+len(name))
	d = appendU16(d, uint16(3+len(name)))
	d = append(d, 0)
	d = appendU16(d, uint16(len(name)))
	d = append(d, name...)
	if i >= 0 {
		r.exts[i].data = d
		return nil
	}
	at := 0
	if len(r.exts) > 0 && IsGREASE(uint16(r.exts[0].typ)) {
		at = 1
	}
	r.insert(at, rawExt{ExtServerName, d})
	return nil
}

func (r *rewriter) versions() error {
	e := r.e
	if len(e.Versions) > 127 {
		return rewriteErr("too many versions")
	}
	if _, err := r.editable(ExtSupportedVersions); err != nil {
		return err
	}
	had13 := false
	var d []byte
	d = append(d, 0)
	for _, v := range r.ch.SupportedVersions {
		if IsGREASE(uint16(v)) {
			d = appendU16(d, uint16(v))
		}
		if v == VersionTLS13 {
			had13 = true
		}
	}
	want13 := false
	for _, v := range e.Versions {
		d = appendU16(d, uint16(v))
		if v == VersionTLS13 {
			want13 = true
		}
	}
	if len(d) > 255 {
		return rewriteErr("too many versions")
	}
	d[0] = byte(len(d) - 1)
	if err := r.set(ExtSupportedVersions, d); err != nil {
		return err
	}
	if want13 && !had13 {
		return r.upgrade13()
	}
	return nil
}

// upgrade13 adds what a hello offering TLS 1.3 must carry (RFC 8446, 9.2)
// to one that did not offer it.
func (r *rewriter) upgrade13() error {
	if r.legacy < uint16(VersionTLS12) {
		r.legacy = uint16(VersionTLS12)
	}
	r.comp = []byte{0}
	has := false
	for _, s := range r.suites {
		if s>>8 == 0x13 {
			has = true
		}
	}
	if !has {
		at := 0
		if len(r.suites) > 0 && IsGREASE(uint16(r.suites[0])) {
			at = 1
		}
		out := make([]CipherSuite, 0, len(r.suites)+len(tls13Suites))
		out = append(out, r.suites[:at]...)
		out = append(out, tls13Suites...)
		r.suites = append(out, r.suites[at:]...)
		if len(r.suites) > 0x7fff {
			return rewriteErr("too many cipher suites")
		}
	}
	if r.find(ExtSignatureAlgorithms) < 0 {
		d := appendU16(nil, uint16(2*len(tls13SigAlgs)))
		for _, s := range tls13SigAlgs {
			d = appendU16(d, uint16(s))
		}
		r.insert(r.tail(), rawExt{ExtSignatureAlgorithms, d})
	}
	if err := r.ensureX25519Group(); err != nil {
		return err
	}
	i, err := r.editable(ExtKeyShare)
	if err != nil {
		return err
	}
	if i < 0 {
		if len(r.e.X25519Share) != 32 {
			return rewriteErr("a TLS 1.3 hello needs a key share: X25519Share must be 32 bytes")
		}
		d, _ := r.keyShares(nil, true)
		r.insert(r.tail(), rawExt{ExtKeyShare, d})
	}
	return nil
}

// ensureX25519Group puts x25519 in supported_groups (first, after GREASE)
// when it is not there, adding the extension when absent.
func (r *rewriter) ensureX25519Group() error {
	i, err := r.editable(ExtSupportedGroups)
	if err != nil {
		return err
	}
	var gs []NamedGroup
	if i >= 0 {
		gs = r.groupsNow(i)
	}
	for _, g := range gs {
		if g == GroupX25519 {
			return nil
		}
	}
	at := 0
	if len(gs) > 0 && IsGREASE(uint16(gs[0])) {
		at = 1
	}
	out := make([]NamedGroup, 0, len(gs)+3)
	out = append(out, gs[:at]...)
	out = append(out, GroupX25519)
	if i < 0 {
		out = append(out, GroupSecp256r1, GroupSecp384r1)
	}
	out = append(out, gs[at:]...)
	return r.setGroups(out)
}

// groupsNow decodes the current body of supported_groups at index i (it may
// have been rewritten already).
func (r *rewriter) groupsNow(i int) []NamedGroup {
	c := cursor{b: r.exts[i].data}
	var l cursor
	var out []NamedGroup
	if !c.vec16(&l) {
		return nil
	}
	var v uint16
	for l.u16(&v) {
		out = append(out, NamedGroup(v))
	}
	return out
}

func (r *rewriter) setGroups(gs []NamedGroup) error {
	if len(gs) > 0x7fff {
		return rewriteErr("too many groups")
	}
	d := appendU16(make([]byte, 0, 2+2*len(gs)), uint16(2*len(gs)))
	for _, g := range gs {
		d = appendU16(d, uint16(g))
	}
	return r.set(ExtSupportedGroups, d)
}

// keyShares builds a key_share body from the shares in orig (a key_share
// body; classic ones only when classic), adding an x25519 share from
// X25519Share when no classic share is left. added tells whether it did.
func (r *rewriter) keyShares(orig []byte, classic bool) (d []byte, added bool) {
	d = []byte{0, 0}
	c := cursor{b: orig}
	var l cursor
	hasClassic := false
	if c.vec16(&l) {
		for !l.empty() {
			var g uint16
			var kx cursor
			if !l.u16(&g) || !l.vec16(&kx) {
				break
			}
			if classic && NamedGroup(g).IsPostQuantum() {
				continue
			}
			if !IsGREASE(g) {
				hasClassic = true
			}
			d = appendU16(d, g)
			d = appendU16(d, uint16(len(kx.b)))
			d = append(d, kx.b...)
		}
	}
	if !hasClassic && len(r.e.X25519Share) == 32 {
		d = appendU16(d, uint16(GroupX25519))
		d = appendU16(d, 32)
		d = append(d, r.e.X25519Share...)
		added = true
	}
	n := len(d) - 2
	d[0], d[1] = byte(n>>8), byte(n)
	return d, added
}

func (r *rewriter) alpn() error {
	i, err := r.editable(ExtALPN)
	if err != nil {
		return err
	}
	if len(r.e.ALPN) == 0 {
		if i >= 0 {
			r.remove(ExtALPN)
		}
		return nil
	}
	d := []byte{0, 0}
	for _, p := range r.e.ALPN {
		if len(p) == 0 || len(p) > 255 {
			return rewriteErr("an ALPN protocol name must be 1 to 255 bytes")
		}
		d = append(d, byte(len(p)))
		d = append(d, p...)
	}
	n := len(d) - 2
	if n > 0xffff-2 {
		return rewriteErr("ALPN list too long")
	}
	d[0], d[1] = byte(n>>8), byte(n)
	return r.set(ExtALPN, d)
}

func (r *rewriter) classicGroups() error {
	i, err := r.editable(ExtSupportedGroups)
	if err != nil {
		return err
	}
	if i >= 0 {
		var out []NamedGroup
		for _, g := range r.groupsNow(i) {
			if !g.IsPostQuantum() {
				out = append(out, g)
			}
		}
		if err := r.setGroups(out); err != nil {
			return err
		}
	}
	k, err := r.editable(ExtKeyShare)
	if err != nil {
		return err
	}
	if k < 0 {
		return nil
	}
	d, added := r.keyShares(r.exts[k].data, true)
	if added {
		// The group of the added share must be offered.
		if err := r.ensureX25519Group(); err != nil {
			return err
		}
	}
	r.exts[r.find(ExtKeyShare)].data = d
	return nil
}

// append serializes the hello, sizing padding last.
func (r *rewriter) append(dst, random, sid []byte) ([]byte, error) {
	padAt := r.find(ExtPadding)
	if padAt >= 0 {
		r.exts[padAt].data = nil
	}
	// Unpadded message length (with the 4-byte handshake header, as the
	// padding rule counts it).
	size := 4 + 2 + 32 + 1 + len(sid) + 2 + 2*len(r.suites) + 1 + len(r.comp) + 2
	for _, x := range r.exts {
		if x.typ != ExtPadding {
			size += 4 + len(x.data)
		}
	}
	if padAt >= 0 {
		if size > 0xff && size < 0x200 {
			n := 0x200 - size
			if n >= 4 {
				n -= 4
			} else {
				n = 0
			}
			r.exts[padAt].data = make([]byte, n)
		} else {
			r.remove(ExtPadding)
		}
	}
	extLen := 0
	for _, x := range r.exts {
		extLen += 4 + len(x.data)
		if len(x.data) > 0xffff {
			return dst, rewriteErr("extension " + x.typ.String() + " too long")
		}
	}
	if extLen > 0xffff {
		return dst, rewriteErr("extensions block too long")
	}
	bodyLen := 2 + 32 + 1 + len(sid) + 2 + 2*len(r.suites) + 1 + len(r.comp)
	if r.ch.HasExtensions || len(r.exts) > 0 {
		bodyLen += 2 + extLen
	}
	if bodyLen > MaxHandshakeLen {
		return dst, rewriteErr("hello longer than 64 KiB")
	}
	dst = appendU16(dst, r.legacy)
	dst = append(dst, random...)
	dst = append(dst, byte(len(sid)))
	dst = append(dst, sid...)
	dst = appendU16(dst, uint16(2*len(r.suites)))
	for _, s := range r.suites {
		dst = appendU16(dst, uint16(s))
	}
	dst = append(dst, byte(len(r.comp)))
	dst = append(dst, r.comp...)
	if r.ch.HasExtensions || len(r.exts) > 0 {
		dst = appendU16(dst, uint16(extLen))
		for _, x := range r.exts {
			dst = appendU16(dst, uint16(x.typ))
			dst = appendU16(dst, uint16(len(x.data)))
			dst = append(dst, x.data...)
		}
	}
	return dst, nil
}

func appendU16(b []byte, v uint16) []byte { return append(b, byte(v>>8), byte(v)) }

// AppendClientHelloRecords appends body as a ClientHello handshake message
// (4-byte header) in handshake records of record version recVersion, each
// at most 2^14 bytes long (RFC 8446, 5.1), and returns the extended slice.
func AppendClientHelloRecords(dst []byte, recVersion Version, body []byte) []byte {
	msg := make([]byte, 0, 4+len(body))
	msg = append(msg, byte(HandshakeClientHello), byte(len(body)>>16), byte(len(body)>>8), byte(len(body)))
	msg = append(msg, body...)
	for len(msg) > 0 {
		n := min(len(msg), 1<<14)
		dst = append(dst, byte(ContentTypeHandshake), byte(recVersion>>8), byte(recVersion), byte(n>>8), byte(n))
		dst = append(dst, msg[:n]...)
		msg = msg[n:]
	}
	return dst
}

// ClientHelloFromRecords reads the ClientHello that b starts with: handshake
// records (empty ones in front skipped, as OpenSSL does), whose payloads
// hold a ClientHello message, possibly across records. It returns the
// message body (aliasing b when the hello is in one record, a copy
// otherwise), the first record's version, and n, the bytes of b up to the
// end of the record in which the hello ends. A b that ends first gives
// [ErrIncomplete]; anything else that is not such a hello, a *[ParseError].
func ClientHelloFromRecords(b []byte) (body []byte, recVersion Version, n int, err error) {
	var msg []byte
	records := 0
	for off, empties := 0, 0; ; {
		if len(b)-off < 5 {
			return nil, 0, 0, ErrIncomplete
		}
		h := b[off : off+5]
		if ContentType(h[0]) != ContentTypeHandshake || h[1] != 3 {
			return nil, 0, 0, perr("client_hello record", off, "not a handshake record")
		}
		l := int(h[3])<<8 | int(h[4])
		if l > MaxRecordLen {
			return nil, 0, 0, ErrRecordTooLong
		}
		if len(b)-off-5 < l {
			return nil, 0, 0, ErrIncomplete
		}
		if records == 0 {
			recVersion = Version(uint16(h[1])<<8 | uint16(h[2]))
		}
		payload := b[off+5 : off+5+l]
		off += 5 + l
		if l == 0 {
			if records > 0 {
				return nil, 0, 0, perr("client_hello record", off-5, "empty record inside the hello")
			}
			if empties++; empties > maxEmptyHelloRecords {
				return nil, 0, 0, perr("client_hello record", off-5, "too many empty records")
			}
			continue
		}
		records++
		if records == 1 {
			msg = payload
		} else {
			if records == 2 {
				msg = append([]byte(nil), msg...)
			}
			msg = append(msg, payload...)
		}
		if msg[0] != byte(HandshakeClientHello) {
			return nil, 0, 0, perr("client_hello", off-l, "not a client_hello message")
		}
		if len(msg) < 4 {
			continue
		}
		hl := int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3])
		if hl > MaxHandshakeLen {
			return nil, 0, 0, ErrHandshakeTooLong
		}
		if len(msg) >= 4+hl {
			return msg[4 : 4+hl : 4+hl], recVersion, off, nil
		}
	}
}

// maxEmptyHelloRecords is how many empty handshake records may precede a
// ClientHello (OpenSSL accepts 32 in a row).
const maxEmptyHelloRecords = 32

// RewriteClientHelloRecords rewrites the ClientHello that rec starts with
// (see [ClientHelloFromRecords] and [RewriteClientHello]) and returns it as
// records of the same record version, ready to send.
func RewriteClientHelloRecords(rec []byte, e *HelloEdit) ([]byte, error) {
	body, rv, _, err := ClientHelloFromRecords(rec)
	if err != nil {
		return nil, err
	}
	nb, err := RewriteClientHello(nil, body, e)
	if err != nil {
		return nil, err
	}
	return AppendClientHelloRecords(make([]byte, 0, len(nb)+4+5*(len(nb)/(1<<14)+1)), rv, nb), nil
}
