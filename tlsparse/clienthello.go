package tlsparse

// KeyShare is one key_share entry of a ClientHello: the group and the length
// of its key_exchange bytes.
type KeyShare struct {
	Group  NamedGroup
	KeyLen int
}

// ClientHello is a parsed ClientHello message. [ParseClientHello] resets it
// and reuses its slices' capacity; every []byte field (and every element of a
// [][]byte field) aliases the parsed body.
type ClientHello struct {
	LegacyVersion      Version
	Random             []byte
	SessionID          []byte
	CipherSuites       []CipherSuite // wire order, GREASE included
	CompressionMethods []byte
	// Extensions lists extension types in wire order, GREASE included.
	Extensions []ExtensionType
	// HasExtensions is false for a hello that ends after the compression
	// methods (no extensions block at all).
	HasExtensions bool

	// server_name (RFC 6066, 3). ServerNames holds every host_name entry.
	// HasSNI is true when the extension is present with a host_name entry.
	// SNIIsIP: a name is an IPv4 or IPv6 literal (forbidden by RFC 6066).
	// SNIEmpty: a host_name entry is empty. SNIInvalid: a name, not an IP
	// literal, is not a valid DNS host name.
	ServerNames [][]byte
	HasSNI      bool
	SNIIsIP     bool
	SNIEmpty    bool
	SNIInvalid  bool

	ALPN                    [][]byte // application_layer_protocol_negotiation, in order
	SupportedVersions       []Version
	SupportedGroups         []NamedGroup
	ECPointFormats          []uint8
	SignatureAlgorithms     []SignatureScheme
	SignatureAlgorithmsCert []SignatureScheme
	KeyShares               []KeyShare
	PSKModes                []uint8
	PSKIdentities           int // number of pre_shared_key identities
	HasPSK                  bool
	EarlyData               bool
	StatusRequest           bool
	SessionTicket           []byte
	HasSessionTicket        bool
	RenegotiationInfo       bool
	PaddingLen              int
	RecordSizeLimit         uint16
	CompressCertificate     []uint16
	ApplicationSettings     [][]byte // ALPS supported protocols (either code point)

	// encrypted_client_hello (draft-ietf-tls-esni): ECHOuter for an outer
	// hello, with its config id, HPKE KDF and AEAD ids and enc length;
	// ECHInner for the inner-hello marker.
	ECHOuter    bool
	ECHInner    bool
	ECHConfigID uint8
	ECHKDF      uint16
	ECHAEAD     uint16
	ECHEncLen   int

	QUICTransportParams  bool
	ExtendedMasterSecret bool
	EncryptThenMAC       bool

	// DuplicateExtension is set when an extension type occurs twice
	// (RFC 8446, 4.2 forbids it); decoding continues.
	DuplicateExtension bool

	// ExtensionError is the first *ParseError met while decoding an
	// extension body whose nested lengths do not match exactly. Such an
	// error does not stop parsing: the extension stays in Extensions, the
	// others are decoded, and fingerprints can still be computed (a server
	// would typically answer decode_error). Nil when every body decoded.
	ExtensionError error
}

// ParseClientHello parses a ClientHello handshake body (without the 4-byte
// handshake header) into ch. It resets ch, reusing its slices' capacity, so
// after warm-up it allocates nothing; []byte fields alias body.
//
// A body that ends inside a field gives [ErrIncomplete]; a malformed
// top-level field or extension framing gives a *[ParseError]. A malformed
// body of a single extension is recorded in ch.ExtensionError instead, and
// ParseClientHello returns nil.
func ParseClientHello(body []byte, ch *ClientHello) error {
	ch.reset()
	c := cursor{b: body}
	var v uint16
	if !c.u16(&v) {
		return ErrIncomplete
	}
	ch.LegacyVersion = Version(v)
	var ok bool
	if ch.Random, ok = c.bytes(32); !ok {
		return ErrIncomplete
	}
	var sub cursor
	if !c.vec8(&sub) {
		return ErrIncomplete
	}
	if len(sub.b) > 32 {
		return perr("client_hello session_id", sub.off-1, "longer than 32 bytes")
	}
	ch.SessionID = sub.b
	if !c.vec16(&sub) {
		return ErrIncomplete
	}
	if len(sub.b)%2 != 0 {
		return perr("client_hello cipher_suites", sub.off-2, "odd length")
	}
	for !sub.empty() {
		sub.u16(&v)
		ch.CipherSuites = append(ch.CipherSuites, CipherSuite(v))
	}
	if !c.vec8(&sub) {
		return ErrIncomplete
	}
	ch.CompressionMethods = sub.b
	if c.empty() {
		return nil
	}
	ch.HasExtensions = true
	var exts cursor
	if !c.vec16(&exts) {
		return ErrIncomplete
	}
	if !c.empty() {
		return perr("client_hello", c.off, "trailing bytes after extensions")
	}
	var seen [4]uint64
	for !exts.empty() {
		var typ uint16
		var ext cursor
		start := exts.off
		if !exts.u16(&typ) || !exts.vec16(&ext) {
			return perr("client_hello extensions", start, "truncated extension")
		}
		et := ExtensionType(typ)
		if ch.markSeen(&seen, et) {
			ch.DuplicateExtension = true
		}
		ch.Extensions = append(ch.Extensions, et)
		if err := ch.decodeExtension(et, ext); err != nil && ch.ExtensionError == nil {
			ch.ExtensionError = err
		}
	}
	return nil
}

func (ch *ClientHello) markSeen(seen *[4]uint64, et ExtensionType) bool {
	if et < 256 {
		bit := uint64(1) << (et & 63)
		dup := seen[et>>6]&bit != 0
		seen[et>>6] |= bit
		return dup
	}
	// rare: linear scan among the earlier extensions
	for _, e := range ch.Extensions {
		if e == et {
			return true
		}
	}
	return false
}

func (ch *ClientHello) reset() {
	*ch = ClientHello{
		CipherSuites:            ch.CipherSuites[:0],
		Extensions:              ch.Extensions[:0],
		ServerNames:             ch.ServerNames[:0],
		ALPN:                    ch.ALPN[:0],
		SupportedVersions:       ch.SupportedVersions[:0],
		SupportedGroups:         ch.SupportedGroups[:0],
		ECPointFormats:          ch.ECPointFormats[:0],
		SignatureAlgorithms:     ch.SignatureAlgorithms[:0],
		SignatureAlgorithmsCert: ch.SignatureAlgorithmsCert[:0],
		KeyShares:               ch.KeyShares[:0],
		PSKModes:                ch.PSKModes[:0],
		CompressCertificate:     ch.CompressCertificate[:0],
		ApplicationSettings:     ch.ApplicationSettings[:0],
	}
}

func extErr(et ExtensionType, off int, msg string) error {
	return perr("extension "+et.String(), off, msg)
}

// decodeExtension decodes one ClientHello extension body; every nested
// length must match exactly. Unknown extensions are skipped.
func (ch *ClientHello) decodeExtension(et ExtensionType, e cursor) error {
	var list cursor
	var v uint16
	var b uint8
	switch et {
	case ExtServerName: // RFC 6066, 3
		if !e.vec16(&list) || !e.empty() || list.empty() {
			return extErr(et, e.off, "bad server_name_list length")
		}
		for !list.empty() {
			var name cursor
			if !list.u8(&b) || !list.vec16(&name) {
				return extErr(et, list.off, "bad server name entry")
			}
			if b != 0 {
				continue
			}
			ch.HasSNI = true
			ch.ServerNames = append(ch.ServerNames, name.b)
			switch {
			case len(name.b) == 0:
				ch.SNIEmpty = true
			case isIPLiteral(name.b):
				ch.SNIIsIP = true
			case !isHostname(name.b):
				ch.SNIInvalid = true
			}
		}
	case ExtALPN: // RFC 7301, 3.1
		if !e.vec16(&list) || !e.empty() {
			return extErr(et, e.off, "bad protocol_name_list length")
		}
		for !list.empty() {
			var p cursor
			if !list.vec8(&p) {
				return extErr(et, list.off, "bad protocol name length")
			}
			ch.ALPN = append(ch.ALPN, p.b)
		}
	case ExtSupportedVersions: // RFC 8446, 4.2.1
		if !e.vec8(&list) || !e.empty() || len(list.b)%2 != 0 {
			return extErr(et, e.off, "bad versions length")
		}
		for list.u16(&v) {
			ch.SupportedVersions = append(ch.SupportedVersions, Version(v))
		}
	case ExtSupportedGroups: // RFC 8446, 4.2.7
		if !e.vec16(&list) || !e.empty() || len(list.b)%2 != 0 {
			return extErr(et, e.off, "bad named_group_list length")
		}
		for list.u16(&v) {
			ch.SupportedGroups = append(ch.SupportedGroups, NamedGroup(v))
		}
	case ExtSignatureAlgorithms, ExtSignatureAlgorithmsCert: // RFC 8446, 4.2.3
		if !e.vec16(&list) || !e.empty() || len(list.b)%2 != 0 {
			return extErr(et, e.off, "bad supported_signature_algorithms length")
		}
		for list.u16(&v) {
			if et == ExtSignatureAlgorithms {
				ch.SignatureAlgorithms = append(ch.SignatureAlgorithms, SignatureScheme(v))
			} else {
				ch.SignatureAlgorithmsCert = append(ch.SignatureAlgorithmsCert, SignatureScheme(v))
			}
		}
	case ExtECPointFormats: // RFC 8422, 5.1.2
		if !e.vec8(&list) || !e.empty() {
			return extErr(et, e.off, "bad ec_point_format_list length")
		}
		ch.ECPointFormats = append(ch.ECPointFormats, list.b...)
	case ExtKeyShare: // RFC 8446, 4.2.8
		if !e.vec16(&list) || !e.empty() {
			return extErr(et, e.off, "bad client_shares length")
		}
		for !list.empty() {
			var kx cursor
			if !list.u16(&v) || !list.vec16(&kx) {
				return extErr(et, list.off, "bad key_share entry")
			}
			ch.KeyShares = append(ch.KeyShares, KeyShare{Group: NamedGroup(v), KeyLen: len(kx.b)})
		}
	case ExtPSKKeyExchangeModes: // RFC 8446, 4.2.9
		if !e.vec8(&list) || !e.empty() {
			return extErr(et, e.off, "bad ke_modes length")
		}
		ch.PSKModes = append(ch.PSKModes, list.b...)
	case ExtPreSharedKey: // RFC 8446, 4.2.11
		var binders cursor
		if !e.vec16(&list) || !e.vec16(&binders) || !e.empty() {
			return extErr(et, e.off, "bad identities or binders length")
		}
		ch.HasPSK = true
		for !list.empty() {
			var id cursor
			var age uint32
			if !list.vec16(&id) || !list.u32(&age) {
				return extErr(et, list.off, "bad psk identity")
			}
			ch.PSKIdentities++
		}
		for !binders.empty() {
			var bd cursor
			if !binders.vec8(&bd) {
				return extErr(et, binders.off, "bad psk binder")
			}
		}
	case ExtEarlyData: // RFC 8446, 4.2.10
		if !e.empty() {
			return extErr(et, e.off, "non-empty early_data in client_hello")
		}
		ch.EarlyData = true
	case ExtStatusRequest: // RFC 6066, 8
		var ids, exts cursor
		if !e.u8(&b) {
			return extErr(et, e.off, "missing status_type")
		}
		if b == 1 {
			if !e.vec16(&ids) || !e.vec16(&exts) || !e.empty() {
				return extErr(et, e.off, "bad ocsp_status_request length")
			}
		}
		ch.StatusRequest = true
	case ExtSessionTicket: // RFC 5077, 3.2
		ch.SessionTicket = e.b
		ch.HasSessionTicket = true
	case ExtRenegotiationInfo: // RFC 5746, 3.2
		if !e.vec8(&list) || !e.empty() {
			return extErr(et, e.off, "bad renegotiated_connection length")
		}
		ch.RenegotiationInfo = true
	case ExtPadding: // RFC 7685
		ch.PaddingLen = len(e.b)
	case ExtRecordSizeLimit: // RFC 8449, 4
		if !e.u16(&v) || !e.empty() {
			return extErr(et, e.off, "bad record_size_limit length")
		}
		ch.RecordSizeLimit = v
	case ExtCompressCertificate: // RFC 8879, 3
		if !e.vec8(&list) || !e.empty() || len(list.b)%2 != 0 {
			return extErr(et, e.off, "bad algorithms length")
		}
		for list.u16(&v) {
			ch.CompressCertificate = append(ch.CompressCertificate, v)
		}
	case ExtApplicationSettings, ExtApplicationSettingsOld: // draft-vvv-tls-alps
		if !e.vec16(&list) || !e.empty() {
			return extErr(et, e.off, "bad supported_protocols length")
		}
		for !list.empty() {
			var p cursor
			if !list.vec8(&p) {
				return extErr(et, list.off, "bad protocol name length")
			}
			ch.ApplicationSettings = append(ch.ApplicationSettings, p.b)
		}
	case ExtECH: // draft-ietf-tls-esni, 5
		if !e.u8(&b) {
			return extErr(et, e.off, "missing ech type")
		}
		switch b {
		case 0:
			var enc, payload cursor
			if !e.u16(&ch.ECHKDF) || !e.u16(&ch.ECHAEAD) || !e.u8(&ch.ECHConfigID) ||
				!e.vec16(&enc) || !e.vec16(&payload) || !e.empty() {
				return extErr(et, e.off, "bad outer ech")
			}
			ch.ECHOuter = true
			ch.ECHEncLen = len(enc.b)
		case 1:
			if !e.empty() {
				return extErr(et, e.off, "non-empty inner ech")
			}
			ch.ECHInner = true
		default:
			return extErr(et, e.off-1, "unknown ech type")
		}
	case ExtQUICTransportParams, ExtQUICTransportParamsDraft:
		ch.QUICTransportParams = true
	case 23: // extended_master_secret, RFC 7627
		if !e.empty() {
			return extErr(et, e.off, "non-empty extended_master_secret")
		}
		ch.ExtendedMasterSecret = true
	case 22: // encrypt_then_mac, RFC 7366
		if !e.empty() {
			return extErr(et, e.off, "non-empty encrypt_then_mac")
		}
		ch.EncryptThenMAC = true
	}
	return nil
}

// ServerName returns the first SNI host name, or nil.
func (ch *ClientHello) ServerName() []byte {
	if len(ch.ServerNames) == 0 {
		return nil
	}
	return ch.ServerNames[0]
}

// HighestVersion returns the highest non-GREASE version in
// supported_versions, or LegacyVersion when the extension is absent or
// holds only GREASE.
func (ch *ClientHello) HighestVersion() Version {
	var best Version
	for _, v := range ch.SupportedVersions {
		if !IsGREASE(uint16(v)) && versionRank(v) > versionRank(best) {
			best = v
		}
	}
	if best == 0 {
		return ch.LegacyVersion
	}
	return best
}

// versionRank orders versions, DTLS (whose numbers count down) included.
func versionRank(v Version) int {
	switch v {
	case 0xfeff:
		return 0x0302
	case 0xfefd:
		return 0x0303
	case 0xfefc:
		return 0x0304
	}
	if v>>8 == 0xfe {
		return 0
	}
	return int(v)
}

// OfferedVersions appends the versions the client offers, highest first:
// supported_versions without GREASE, or LegacyVersion alone when absent.
func (ch *ClientHello) OfferedVersions(dst []Version) []Version {
	start := len(dst)
	for _, v := range ch.SupportedVersions {
		if !IsGREASE(uint16(v)) {
			dst = append(dst, v)
		}
	}
	if len(dst) == start {
		return append(dst, ch.LegacyVersion)
	}
	// insertion sort, highest first (lists are tiny)
	s := dst[start:]
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && versionRank(s[j]) > versionRank(s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return dst
}

// HasExtension reports whether the hello carries extension et.
func (ch *ClientHello) HasExtension(et ExtensionType) bool {
	for _, e := range ch.Extensions {
		if e == et {
			return true
		}
	}
	return false
}

// isIPLiteral reports whether b looks like an IPv4 dotted quad or an IPv6
// literal (contains ':' and only hex digits, ':' , '.', '[', ']' or '%').
func isIPLiteral(b []byte) bool {
	colon := false
	for _, c := range b {
		if c == ':' {
			colon = true
		}
	}
	if colon {
		for _, c := range b {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' ||
				c == ':' || c == '.' || c == '[' || c == ']' || c == '%') {
				return false
			}
		}
		return true
	}
	parts, n, digits := 0, 0, 0
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9':
			n = n*10 + int(c-'0')
			digits++
			if n > 255 || digits > 3 {
				return false
			}
		case c == '.' && digits > 0 && i != len(b)-1:
			parts++
			n, digits = 0, 0
		default:
			return false
		}
	}
	return parts == 3 && digits > 0
}

// isHostname reports whether b is a syntactically valid DNS host name:
// at most 253 bytes, labels of 1-63 letters, digits, '-' or '_' not starting
// or ending with '-', an optional single trailing dot tolerated.
func isHostname(b []byte) bool {
	if len(b) > 0 && b[len(b)-1] == '.' {
		b = b[:len(b)-1]
	}
	if len(b) == 0 || len(b) > 253 {
		return false
	}
	label := 0
	var prev byte
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
			label++
		case c == '-':
			if label == 0 {
				return false
			}
			label++
		case c == '.':
			if label == 0 || prev == '-' {
				return false
			}
			label = 0
		default:
			return false
		}
		if label > 63 {
			return false
		}
		prev = c
	}
	return label > 0 && prev != '-'
}

// offers13 reports, without allocating, whether a ClientHello body offers
// TLS 1.3 in supported_versions.
func offers13(body []byte) bool {
	c := cursor{b: body}
	var sub, exts cursor
	if !c.skip(34) || !c.vec8(&sub) || !c.vec16(&sub) || !c.vec8(&sub) || !c.vec16(&exts) {
		return false
	}
	for !exts.empty() {
		var typ, v uint16
		var ext cursor
		if !exts.u16(&typ) || !exts.vec16(&ext) {
			return false
		}
		if ExtensionType(typ) == ExtSupportedVersions {
			var list cursor
			if !ext.vec8(&list) {
				return false
			}
			for list.u16(&v) {
				if Version(v) == VersionTLS13 {
					return true
				}
			}
		}
	}
	return false
}
