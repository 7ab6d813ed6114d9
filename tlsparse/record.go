package tlsparse

// MaxRecordLen is the largest record body accepted: 2^14 plus 2048 bytes of
// ciphertext expansion (RFC 5246, 6.2.3). Longer records give
// [ErrRecordTooLong].
const MaxRecordLen = 1<<14 + 2048

// MaxHandshakeLen is the largest handshake message body accepted (the cap Go's
// crypto/tls uses). A longer declared length gives [ErrHandshakeTooLong]
// before anything is buffered.
const MaxHandshakeLen = 65536

// NotTLSPrefixLen is how many leading bytes of a non-TLS direction
// [Handler.NotTLS] receives (fewer only if the stream ends first, see
// [Stream.Close]).
const NotTLSPrefixLen = 64

// Alert is one alert record's content. When Encrypted is true the alert came
// after encryption started, so Level and Description are unknown (zero).
type Alert struct {
	Level       AlertLevel
	Description AlertDescription
	Encrypted   bool
}

// Handler receives the events of a [Stream]. All []byte arguments alias
// internal or caller buffers and are valid only during the call.
type Handler interface {
	// Record is called for every TLS record header, plaintext or not.
	Record(ct ContentType, v Version, length int)
	// Handshake is called for each complete plaintext handshake message;
	// body excludes the 4-byte message header and is reassembled across
	// records.
	Handshake(typ HandshakeType, body []byte)
	// Alert is called for each alert; a.Encrypted is set when the alert
	// record came after encryption started.
	Alert(a Alert)
	// ChangeCipherSpec is called for each change_cipher_spec record.
	ChangeCipherSpec()
	// ApplicationData is called, at its header, for each application_data
	// record and for any other record counted as ciphertext. encrypted tells
	// whether the stream was already in encrypted mode.
	ApplicationData(length int, encrypted bool)
	// NotTLS is called once when the direction's bytes are not TLS; prefix
	// holds the first up to [NotTLSPrefixLen] bytes of the stream.
	NotTLS(prefix []byte)
	// SSLv2ClientHello is called with the body of an SSLv2-compatible
	// ClientHello record (after its 2-byte 0x80 header); see
	// [ParseSSLv2ClientHello].
	SSLv2ClientHello(body []byte)
	// SSLv2ServerHello is called with the body of an SSLv2 SERVER-HELLO
	// record (after its 2-byte header) that starts a stream; see
	// [ParseSSLv2ServerHello]. The direction's later records are SSLv2
	// records: each is reported with ApplicationData(length, true) and
	// not parsed (the client's CLIENT-MASTER-KEY, then ciphertext).
	SSLv2ServerHello(body []byte)
}

type streamState uint8

const (
	stHeader streamState = iota // collecting a 5-byte record header
	stBody                      // inside a plaintext record body
	stSkip                      // inside a ciphertext or opaque record body: skip bytes
	stPeek                      // first handshake record after a CCS: deciding plaintext or ciphertext
	stSSLv2                     // inside an SSLv2 ClientHello or SERVER-HELLO body
	stNotTLS                    // collecting the prefix of a non-TLS stream
	stBroken                    // sticky error
)

// Stream is an incremental TLS record parser for one direction of a
// connection. The zero value is ready to use. Bytes may be fed in any
// chunking: feeding one byte at a time produces exactly the same events as
// feeding the whole buffer at once.
//
// The Stream switches itself to encrypted mode after it passes a
// ChangeCipherSpec in its own direction and after a ServerHello in its own
// direction whose supported_versions selects TLS 1.3 (not a
// HelloRetryRequest). In TLS 1.3 middlebox-compatibility mode a CCS is also
// sent before a second ClientHello (after a HelloRetryRequest) or after a
// HelloRetryRequest; the first handshake record following such a CCS is kept
// plaintext when it starts like a plaintext ClientHello or ServerHello.
//
// A Stream does not allocate per record: handshake messages that arrive whole
// inside one Feed call are passed without copying, and only fragmented ones
// are copied into a reusable buffer of at most 4+[MaxHandshakeLen] bytes.
type Stream struct {
	state     streamState
	err       error
	encrypted bool

	pos     int // bytes consumed so far, for error offsets
	records int // records seen

	hdr  [5]byte
	hdrN int

	ct     ContentType
	ver    Version
	recLen int
	remain int // bytes of the current record body left

	// handshake reassembly across records
	hsHdr    [4]byte
	hsHdrN   int
	hsLen    int
	hsBuf    []byte // body bytes collected so far (cap reused)
	inHSBody bool

	// alert reassembly (alerts may be fragmented in TLS <= 1.2)
	alert  [2]byte
	alertN int

	// CCS handling
	tentative bool // a CCS switched us to encrypted, but the next handshake record may still be plaintext
	offered13 bool // this direction sent a ClientHello offering TLS 1.3
	sentHRR   bool // this direction sent a HelloRetryRequest and no ServerHello since
	peek      [6]byte
	peekN     int

	prefix  [NotTLSPrefixLen]byte
	prefixN int

	v2Server bool // the SSLv2 body being collected is a SERVER-HELLO
	v2       bool // SSLv2 record framing: 2- or 3-byte headers, bodies skipped
}

// Encrypted reports whether the stream treats records as ciphertext.
func (s *Stream) Encrypted() bool { return s.encrypted }

// SetEncrypted makes every later record of this direction ciphertext: counted
// with [Handler.ApplicationData] and, for alerts, reported as encrypted. The
// flow tracker calls it for the client direction after a TLS 1.3 ServerHello.
func (s *Stream) SetEncrypted() {
	s.encrypted = true
	s.tentative = false
	s.resetHandshake()
}

// SetSSLv2 makes the stream read SSLv2 records from its next record header
// on (draft-hickman-netscape-ssl-00: a 2-byte header with the high bit set,
// or a 3-byte one with a padding length), each reported with
// [Handler.ApplicationData](length, true) and skipped. A stream switches
// itself after an SSLv2 SERVER-HELLO; the flow tracker calls it for the
// client direction when the server answered that way.
func (s *Stream) SetSSLv2() {
	s.v2 = true
	s.tentative = false
	s.resetHandshake()
}

// Reset returns the stream to its zero state, keeping a small buffer.
func (s *Stream) Reset() {
	buf := s.hsBuf[:0]
	if cap(buf) > keepHandshakeBuf {
		buf = nil // a pooled stream does not keep a 64 KiB message's buffer
	}
	*s = Stream{}
	s.hsBuf = buf
}

// keepHandshakeBuf is the largest handshake buffer Reset keeps for reuse:
// hellos and most certificate chains fit.
const keepHandshakeBuf = 16 << 10

// Buffered returns the bytes of an incomplete handshake message s holds
// (at most 64 KiB plus a header): what a caller that bounds memory counts.
func (s *Stream) Buffered() int { return len(s.hsBuf) }

// Err returns the sticky error, if any.
func (s *Stream) Err() error { return s.err }

// Close tells the stream that its direction ended (FIN, RST or end of
// capture). Callers should call it once per direction: a short non-TLS
// answer (fewer than [NotTLSPrefixLen] bytes, e.g. "ERR\n") is only reported
// then, because Feed waits for the full prefix so that any chunking of the
// input gives the same events. If the bytes seen so far
// were judged not to be TLS but fewer than [NotTLSPrefixLen] bytes arrived,
// Close reports them with [Handler.NotTLS] and returns [ErrNotTLS]. Otherwise
// it returns the sticky error or nil. Feed must not be called after Close
// except after a Reset.
func (s *Stream) Close(h Handler) error {
	if s.state == stNotTLS {
		h.NotTLS(s.prefix[:s.prefixN])
		s.fail(ErrNotTLS)
	}
	return s.err
}

func (s *Stream) resetHandshake() {
	s.hsHdrN = 0
	s.hsLen = 0
	s.hsBuf = s.hsBuf[:0]
	s.inHSBody = false
}

func (s *Stream) fail(err error) error {
	s.err = err
	s.state = stBroken
	return err
}

// validHeaderByte reports whether b can be byte i of the first TLS record
// header of a stream (type, then version 0x0300-0x0304).
func validHeaderByte(i int, b byte) bool {
	switch i {
	case 0:
		return b >= 20 && b <= 24
	case 1:
		return b == 3
	case 2:
		return b <= 4
	}
	return true
}

// StartsClientHello reports whether b starts with a TLS handshake record
// holding a ClientHello (possibly behind up to 32 empty handshake records),
// or an SSLv2-compatible ClientHello. It needs the record header and the
// message type (6 bytes): a shorter b is not a start yet. Capture uses it to
// find a hello by content, not port.
func StartsClientHello(b []byte) bool {
	if len(b) >= 6 && b[0] == 22 && b[1] == 3 && b[2] <= 4 && b[5] == 1 {
		return true
	}
	// Empty handshake records in front of the hello (RFC 8446 forbids
	// them, but servers may accept them): a client must not hide its hello
	// behind a few.
	if len(b) >= 11 && b[0] == 22 && b[1] == 3 && b[2] <= 4 && b[3] == 0 && b[4] == 0 {
		for i := 0; i < maxEmptyRecords && len(b) >= 11 && b[0] == 22 && b[1] == 3 && b[2] <= 4 && b[3] == 0 && b[4] == 0; i++ {
			b = b[5:]
		}
		return len(b) >= 6 && b[0] == 22 && b[1] == 3 && b[2] <= 4 && b[5] == 1
	}
	// SSLv2 header: 2-byte length with the high bit set, then msg type 1 and
	// a version 0x0002 or 0x03xx.
	return len(b) >= 5 && b[0]&0x80 != 0 && b[2] == 1 && (b[3] == 3 || (b[3] == 0 && b[4] == 2))
}

// maxEmptyRecords is how many empty handshake records may precede a
// ClientHello (OpenSSL allows 32 empty records in a row).
const maxEmptyRecords = 32

// MayStartClientHello reports whether b, shorter than the 6 bytes
// StartsClientHello needs, could be the first bytes of a TLS handshake
// record (content type 22, version 3.x): stacks and DPI-evasion tools send
// the record header, or less, in a segment of its own.
func MayStartClientHello(b []byte) bool {
	if len(b) == 0 || len(b) >= 6 {
		return false
	}
	if b[0] != byte(ContentTypeHandshake) {
		return false
	}
	if len(b) >= 2 && b[1] != 3 {
		return false
	}
	if len(b) >= 3 && b[2] > 4 {
		return false
	}
	return true
}

// LooksLikeTLS reports whether b starts like a TLS record header (content
// type 20-24, version 0x0300-0x0304) or an SSLv2-compatible ClientHello. It
// looks at no more than the first 5 bytes and accepts a shorter b when its
// bytes so far fit.
func LooksLikeTLS(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	if b[0]&0x80 != 0 {
		return looksLikeSSLv2(b)
	}
	for i := 0; i < len(b) && i < 3; i++ {
		if !validHeaderByte(i, b[i]) {
			return false
		}
	}
	return true
}

func looksLikeSSLv2(b []byte) bool {
	// 2-byte header with the high bit set, msg type 1 (client hello), then
	// version 0x0002 or 0x0300-0x0304.
	if len(b) > 0 && b[0]&0x80 == 0 {
		return false
	}
	if len(b) > 2 && b[2] != 1 {
		return false
	}
	if len(b) > 3 && b[3] != 0 && b[3] != 3 {
		return false
	}
	if len(b) > 4 {
		if b[3] == 0 && b[4] != 2 {
			return false
		}
		if b[3] == 3 && b[4] > 4 {
			return false
		}
	}
	if len(b) > 1 {
		n := int(b[0]&0x7f)<<8 | int(b[1])
		if n < 9 {
			return false
		}
	}
	return true
}

// looksLikeSSLv2ServerHello reports whether b starts like an SSLv2
// SERVER-HELLO record: a 2-byte header with the high bit set and a length
// that holds at least the fixed fields and a 16-byte connection id, msg
// type 4, a session-id-hit flag of 0 or 1 and a certificate type of 0 or 1
// (X.509). It accepts a shorter b when its bytes so far fit.
func looksLikeSSLv2ServerHello(b []byte) bool {
	if len(b) > 0 && b[0]&0x80 == 0 {
		return false
	}
	if len(b) > 1 && int(b[0]&0x7f)<<8|int(b[1]) < 11+16 {
		return false
	}
	if len(b) > 2 && b[2] != sslv2MsgServerHello {
		return false
	}
	if len(b) > 3 && b[3] > 1 {
		return false
	}
	if len(b) > 4 && b[4] > 1 {
		return false
	}
	return true
}

// v2Header takes one byte of an SSLv2 record header. A header with the
// high bit set is 2 bytes (15-bit length), one without is 3 (14-bit length,
// then the padding length, which the record length includes).
func (s *Stream) v2Header(b byte, h Handler) {
	s.hdr[s.hdrN] = b
	s.hdrN++
	s.pos++
	var n int
	if s.hdr[0]&0x80 != 0 {
		if s.hdrN < 2 {
			return
		}
		n = int(s.hdr[0]&0x7f)<<8 | int(s.hdr[1])
	} else {
		if s.hdrN < 3 {
			return
		}
		n = int(s.hdr[0]&0x3f)<<8 | int(s.hdr[1])
	}
	s.hdrN = 0
	s.records++
	h.ApplicationData(n, true)
	if n > 0 {
		s.remain = n
		s.state = stSkip
	}
}

// Feed parses p and reports events to h. It returns nil while the stream is
// fine, including when it waits for more bytes. Once the stream is broken it
// returns a *ParseError, [ErrRecordTooLong], [ErrHandshakeTooLong] or
// [ErrNotTLS], and every later call returns the same error and emits
// nothing.
func (s *Stream) Feed(p []byte, h Handler) error {
	for len(p) > 0 {
		switch s.state {
		case stBroken:
			return s.err
		case stNotTLS:
			n := copy(s.prefix[s.prefixN:], p)
			s.prefixN += n
			p = p[n:]
			s.pos += n
			if s.prefixN == NotTLSPrefixLen {
				h.NotTLS(s.prefix[:])
				return s.fail(ErrNotTLS)
			}
		case stHeader:
			if s.v2 {
				s.v2Header(p[0], h)
				p = p[1:]
				continue
			}
			if s.hdrN == 0 && len(p) >= 5 && s.records > 0 {
				// fast path: whole header in p
				copy(s.hdr[:], p[:5])
				s.hdrN = 5
				p = p[5:]
				s.pos += 5
			} else {
				b := p[0]
				if s.records == 0 {
					// The first record decides whether this is TLS at all.
					s.hdr[s.hdrN] = b
					var ok bool
					if s.hdr[0]&0x80 != 0 {
						ok = looksLikeSSLv2(s.hdr[:s.hdrN+1]) || looksLikeSSLv2ServerHello(s.hdr[:s.hdrN+1])
					} else {
						ok = validHeaderByte(s.hdrN, b)
					}
					if !ok {
						s.toNotTLS()
						continue
					}
				}
				s.hdr[s.hdrN] = b
				s.hdrN++
				p = p[1:]
				s.pos++
				if s.hdrN < 5 {
					continue
				}
				if s.records == 0 && s.hdr[0]&0x80 != 0 {
					// SSLv2 header (2 bytes) plus msg type and version.
					n := int(s.hdr[0]&0x7f)<<8 | int(s.hdr[1])
					if n > MaxRecordLen {
						return s.fail(ErrRecordTooLong)
					}
					s.recLen = n
					s.remain = n - 3
					s.hdrN = 0
					s.records++
					s.hsBuf = append(s.hsBuf[:0], s.hdr[2:5]...)
					s.v2Server = s.hdr[2] == sslv2MsgServerHello
					s.state = stSSLv2
					continue
				}
			}
			if err := s.startRecord(h); err != nil {
				return err
			}
		case stSSLv2:
			n := min(len(p), s.remain)
			s.hsBuf = append(s.hsBuf, p[:n]...)
			p = p[n:]
			s.pos += n
			s.remain -= n
			if s.remain == 0 {
				s.state = stHeader
				if s.v2Server {
					// Everything after the SERVER-HELLO is SSLv2 records.
					s.v2 = true
					h.SSLv2ServerHello(s.hsBuf)
				} else {
					h.SSLv2ClientHello(s.hsBuf)
				}
				s.hsBuf = s.hsBuf[:0]
			}
		case stSkip:
			n := min(len(p), s.remain)
			p = p[n:]
			s.pos += n
			s.remain -= n
			if s.remain == 0 {
				s.state = stHeader
			}
		case stPeek:
			want := min(len(s.peek), s.recLen)
			n := copy(s.peek[s.peekN:want], p)
			s.peekN += n
			p = p[n:]
			s.pos += n
			s.remain -= n
			if s.peekN < want {
				continue
			}
			s.tentative = false
			if looksLikePlainHello(s.peek[:s.peekN]) {
				s.encrypted = false
				s.state = stBody
				if err := s.handshakeBytes(s.peek[:s.peekN], h); err != nil {
					return err
				}
				if s.remain == 0 && s.state == stBody {
					s.state = stHeader
				}
			} else {
				h.ApplicationData(s.recLen, true)
				s.state = stSkip
				if s.remain == 0 {
					s.state = stHeader
				}
			}
		case stBody:
			n := min(len(p), s.remain)
			chunk := p[:n]
			p = p[n:]
			s.remain -= n
			var err error
			switch s.ct {
			case ContentTypeHandshake:
				err = s.handshakeBytes(chunk, h)
			case ContentTypeAlert:
				s.pos += n
				for _, b := range chunk {
					s.alert[s.alertN] = b
					s.alertN++
					if s.alertN == 2 {
						s.alertN = 0
						h.Alert(Alert{Level: AlertLevel(s.alert[0]), Description: AlertDescription(s.alert[1])})
					}
				}
			case ContentTypeChangeCipherSpec:
				s.pos += n
			default:
				s.pos += n
			}
			if err != nil {
				return err
			}
			if s.remain == 0 && s.state == stBody {
				s.endRecord(h)
			}
		}
	}
	if s.state == stBroken {
		return s.err
	}
	return nil
}

func (s *Stream) toNotTLS() {
	s.toNotTLSFrom(s.hdr[:s.hdrN], nil)
}

func (s *Stream) toNotTLSFrom(a, b []byte) {
	n := copy(s.prefix[:], a)
	n += copy(s.prefix[n:], b)
	s.prefixN = n
	s.hdrN = 0
	s.hsBuf = s.hsBuf[:0]
	s.state = stNotTLS
}

// looksLikePlainHello reports whether the first bytes of a handshake record
// body look like a plaintext ClientHello or ServerHello (type 1 or 2, a
// plausible length, legacy_version 0x0303), as sent after a TLS 1.3
// compatibility CCS. Ciphertext (an encrypted TLS 1.2 Finished) matches by
// chance with probability below 2^-40.
func looksLikePlainHello(b []byte) bool {
	if len(b) < 6 || (b[0] != 1 && b[0] != 2) {
		return false
	}
	n := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	if n < 38 || n > MaxHandshakeLen {
		return false
	}
	return b[4] == 3 && b[5] == 3
}

func (s *Stream) startRecord(h Handler) error {
	s.hdrN = 0
	s.ct = ContentType(s.hdr[0])
	s.ver = Version(uint16(s.hdr[1])<<8 | uint16(s.hdr[2]))
	s.recLen = int(s.hdr[3])<<8 | int(s.hdr[4])
	s.remain = s.recLen
	if s.ct < 20 || s.ct > 24 || s.hdr[1] != 3 {
		return s.fail(perr("record header", s.pos-5, "invalid content type or version"))
	}
	if s.recLen > MaxRecordLen {
		return s.fail(ErrRecordTooLong)
	}
	s.records++
	h.Record(s.ct, s.ver, s.recLen)
	switch {
	case s.ct == ContentTypeChangeCipherSpec:
		// A CCS is never encrypted in TLS 1.3 and marks the switch in TLS <= 1.2.
		h.ChangeCipherSpec()
		if !s.encrypted {
			s.encrypted = true
			s.resetHandshake()
			// TLS 1.3 compatibility-mode CCS around a HelloRetryRequest: the
			// next hello may still be plaintext.
			s.tentative = s.offered13 || s.sentHRR
		}
		s.state = stSkip
	case s.ct == ContentTypeAlert && s.encrypted && s.recLen != 2:
		// A 2-byte alert record is plaintext even after the switch: every
		// real cipher adds a tag or MAC, and TLS 1.3 protects alerts under
		// content type 23. OpenSSL sends its certificate alerts (unknown_ca)
		// in plaintext right after a TLS 1.3 ServerHello, before it has
		// installed the handshake keys.
		h.Alert(Alert{Encrypted: true})
		s.state = stSkip
	case s.ct == ContentTypeAlert:
		s.state = stBody
	case s.ct == ContentTypeHandshake && s.encrypted && s.tentative:
		s.peekN = 0
		s.state = stPeek
	case s.encrypted || s.ct == ContentTypeApplicationData:
		h.ApplicationData(s.recLen, s.encrypted)
		s.tentative = false
		if s.ct == ContentTypeApplicationData && !s.encrypted {
			// application data is always protected: we joined mid-connection
			// or the peer skipped what we expected.
			s.encrypted = true
			s.resetHandshake()
		}
		s.state = stSkip
	case s.ct == ContentTypeHandshake:
		s.state = stBody
	default: // heartbeat in plaintext: opaque
		s.state = stSkip
	}
	if s.remain == 0 {
		s.endRecord(h)
	}
	return nil
}

func (s *Stream) endRecord(h Handler) {
	s.state = stHeader
}

// handshakeBytes consumes plaintext handshake-record body bytes.
func (s *Stream) handshakeBytes(b []byte, h Handler) error {
	for len(b) > 0 {
		// A message may switch the stream to encrypted; the rest of this
		// record is still plaintext handshake data, so parsing goes on.
		if !s.inHSBody {
			// fast path: whole message in b with nothing buffered
			if s.hsHdrN == 0 && len(b) >= 4 {
				n := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
				if n > MaxHandshakeLen {
					return s.fail(ErrHandshakeTooLong)
				}
				if len(b) >= 4+n {
					typ := HandshakeType(b[0])
					body := b[4 : 4+n : 4+n]
					b = b[4+n:]
					s.pos += 4 + n
					s.message(typ, body, h)
					continue
				}
			}
			s.hsHdr[s.hsHdrN] = b[0]
			s.hsHdrN++
			b = b[1:]
			s.pos++
			if s.hsHdrN < 4 {
				continue
			}
			s.hsLen = int(s.hsHdr[1])<<16 | int(s.hsHdr[2])<<8 | int(s.hsHdr[3])
			if s.hsLen > MaxHandshakeLen {
				return s.fail(ErrHandshakeTooLong)
			}
			s.inHSBody = true
			s.hsBuf = s.hsBuf[:0]
			if s.hsLen == 0 {
				s.finishBuffered(h)
			}
			continue
		}
		n := min(len(b), s.hsLen-len(s.hsBuf))
		s.hsBuf = append(s.hsBuf, b[:n]...)
		b = b[n:]
		s.pos += n
		if len(s.hsBuf) == s.hsLen {
			s.finishBuffered(h)
		}
	}
	return nil
}

func (s *Stream) finishBuffered(h Handler) {
	typ := HandshakeType(s.hsHdr[0])
	body := s.hsBuf[:s.hsLen:s.hsLen]
	s.hsHdrN = 0
	s.inHSBody = false
	s.message(typ, body, h)
	s.hsBuf = s.hsBuf[:0]
}

func (s *Stream) message(typ HandshakeType, body []byte, h Handler) {
	h.Handshake(typ, body)
	switch typ {
	case HandshakeClientHello:
		if offers13(body) {
			s.offered13 = true
		}
	case HandshakeServerHello:
		hrr, v := serverHelloQuick(body)
		if hrr {
			s.sentHRR = true
		} else {
			s.sentHRR = false
			if v == VersionTLS13 {
				// Takes effect at the next record; the rest of this record
				// (none, in a conforming TLS 1.3 server) stays plaintext.
				s.encrypted = true
				s.tentative = false
			}
		}
	}
}

// ParseHandshake splits one handshake message off the front of b (a
// handshake byte stream without record headers): its type, its body (aliasing
// b) and the bytes after it. Any strict prefix of a message gives
// [ErrIncomplete]; a declared length above [MaxHandshakeLen] gives
// [ErrHandshakeTooLong].
func ParseHandshake(b []byte) (typ HandshakeType, body, rest []byte, err error) {
	if len(b) < 4 {
		return 0, nil, b, ErrIncomplete
	}
	n := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	if n > MaxHandshakeLen {
		return 0, nil, b, ErrHandshakeTooLong
	}
	if len(b) < 4+n {
		return 0, nil, b, ErrIncomplete
	}
	return HandshakeType(b[0]), b[4 : 4+n : 4+n], b[4+n:], nil
}
