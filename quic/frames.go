package quic

// FrameType is a QUIC frame type (RFC 9000 §19).
type FrameType uint64

// Frame types that may appear in Initial and Handshake packets (RFC 9000
// §12.4, Table 3).
const (
	FramePadding          FrameType = 0x00
	FramePing             FrameType = 0x01
	FrameACK              FrameType = 0x02
	FrameACKECN           FrameType = 0x03
	FrameCrypto           FrameType = 0x06
	FrameConnectionClose  FrameType = 0x1c // transport error
	FrameApplicationClose FrameType = 0x1d // application error
)

// String returns the RFC's frame name.
func (t FrameType) String() string {
	switch t {
	case FramePadding:
		return "PADDING"
	case FramePing:
		return "PING"
	case FrameACK, FrameACKECN:
		return "ACK"
	case FrameCrypto:
		return "CRYPTO"
	case FrameConnectionClose, FrameApplicationClose:
		return "CONNECTION_CLOSE"
	}
	return "unknown"
}

// CryptoErrorBase is the first of the transport error codes that carry a
// TLS alert: 0x0100 + alert description (RFC 9001 §4.8).
const CryptoErrorBase = 0x0100

// Frame is one parsed frame. Only the fields of its Type are set; Data and
// Reason alias the parsed payload.
type Frame struct {
	Type FrameType

	// PADDING: the number of consecutive padding bytes (merged).
	PaddingLen int

	// CRYPTO (RFC 9000 §19.6).
	Offset uint64
	Data   []byte

	// ACK (RFC 9000 §19.3).
	LargestAcked  uint64
	ACKDelay      uint64
	ACKRangeCount uint64
	FirstACKRange uint64
	HasECN        bool
	ECT0, ECT1    uint64
	ECNCE         uint64

	// CONNECTION_CLOSE (RFC 9000 §19.19): ErrorCode, the frame type that
	// caused a transport error (0x1c only) and the reason phrase (untrusted
	// bytes, not necessarily UTF-8).
	ErrorCode    uint64
	ClosingFrame uint64
	Reason       []byte
}

// IsApplicationClose reports whether a CONNECTION_CLOSE carries an
// application error code (frame type 0x1d).
func (f *Frame) IsApplicationClose() bool { return f.Type == FrameApplicationClose }

// TLSAlert returns the TLS alert carried by a transport CONNECTION_CLOSE
// with a CRYPTO_ERROR code (0x0100 + alert, RFC 9001 §4.8).
func (f *Frame) TLSAlert() (alert uint8, ok bool) {
	if f.Type != FrameConnectionClose || f.ErrorCode < CryptoErrorBase || f.ErrorCode > CryptoErrorBase+0xff {
		return 0, false
	}
	return uint8(f.ErrorCode - CryptoErrorBase), true
}

// NextFrame parses the frame at the start of payload (a decrypted Initial
// or Handshake packet payload) into f and returns the bytes after it. f
// aliases payload. Frames not allowed in those packets give a
// *ParseError: an observer cannot know their layout.
func NextFrame(payload []byte, f *Frame) (rest []byte, err error) {
	*f = Frame{}
	typ, n := ReadVarint(payload)
	if n == 0 {
		return payload, ErrTruncated
	}
	f.Type = FrameType(typ)
	b := payload[n:]
	off := n
	var ok bool
	switch f.Type {
	case FramePadding:
		i := 0
		for i < len(b) && b[i] == 0 {
			i++
		}
		f.PaddingLen = 1 + i
		return b[i:], nil
	case FramePing:
		return b, nil
	case FrameACK, FrameACKECN:
		if f.LargestAcked, b, ok = varint(b); !ok {
			return payload, ErrTruncated
		}
		if f.ACKDelay, b, ok = varint(b); !ok {
			return payload, ErrTruncated
		}
		if f.ACKRangeCount, b, ok = varint(b); !ok {
			return payload, ErrTruncated
		}
		if f.FirstACKRange, b, ok = varint(b); !ok {
			return payload, ErrTruncated
		}
		if f.FirstACKRange > f.LargestAcked {
			return payload, perr("ack first range", off, "larger than largest acknowledged")
		}
		if f.ACKRangeCount > uint64(len(b)/2) {
			// Each range is two varints of at least one byte: never loop
			// on a count the packet cannot hold.
			return payload, ErrTruncated
		}
		for i := uint64(0); i < f.ACKRangeCount; i++ {
			if _, b, ok = varint(b); !ok {
				return payload, ErrTruncated
			}
			if _, b, ok = varint(b); !ok {
				return payload, ErrTruncated
			}
		}
		if f.Type == FrameACKECN {
			f.HasECN = true
			if f.ECT0, b, ok = varint(b); !ok {
				return payload, ErrTruncated
			}
			if f.ECT1, b, ok = varint(b); !ok {
				return payload, ErrTruncated
			}
			if f.ECNCE, b, ok = varint(b); !ok {
				return payload, ErrTruncated
			}
		}
		return b, nil
	case FrameCrypto:
		var ln uint64
		if f.Offset, b, ok = varint(b); !ok {
			return payload, ErrTruncated
		}
		if ln, b, ok = varint(b); !ok {
			return payload, ErrTruncated
		}
		if ln > uint64(len(b)) {
			return payload, ErrTruncated
		}
		if f.Offset+ln >= 1<<62 {
			return payload, perr("crypto offset", off, "beyond 2^62-1")
		}
		f.Data = b[:ln:ln]
		return b[ln:], nil
	case FrameConnectionClose, FrameApplicationClose:
		var ln uint64
		if f.ErrorCode, b, ok = varint(b); !ok {
			return payload, ErrTruncated
		}
		if f.Type == FrameConnectionClose {
			if f.ClosingFrame, b, ok = varint(b); !ok {
				return payload, ErrTruncated
			}
		}
		if ln, b, ok = varint(b); !ok {
			return payload, ErrTruncated
		}
		if ln > uint64(len(b)) {
			return payload, ErrTruncated
		}
		f.Reason = b[:ln:ln]
		return b[ln:], nil
	}
	return payload, perr("frame type", 0, "not allowed in Initial or Handshake packets")
}

func varint(b []byte) (uint64, []byte, bool) {
	v, n := ReadVarint(b)
	if n == 0 {
		return 0, b, false
	}
	return v, b[n:], true
}
