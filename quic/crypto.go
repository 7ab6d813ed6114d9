package quic

import "bytes"

// DefaultCryptoLimit caps the bytes a CryptoStream holds: a ClientHello or
// ServerHello never comes near it (tlsparse caps handshake messages at 64
// KiB too), and an observer must not buffer more for a stranger.
const DefaultCryptoLimit = 64 << 10

// maxCryptoSpans bounds the disjoint pieces kept: a post-quantum hello in
// three Initials arrives in a handful, and a peer that scatters bytes finer
// than this is not a handshake worth following.
const maxCryptoSpans = 32

type span struct{ start, end int }

// CryptoStream reassembles the CRYPTO frames of one packet number space
// and direction (RFC 9000 §19.6): by offset, out of order, across packets.
// Bytes already received win over a later copy of the same offsets (a
// disagreeing copy is reported with ErrCryptoConflict and dropped), like
// a TCP reassembler that keeps the first segment. The zero value is ready;
// Reset keeps the buffer for reuse.
type CryptoStream struct {
	// Limit is the highest stream offset accepted; 0 means DefaultCryptoLimit.
	Limit int

	buf   []byte
	spans [maxCryptoSpans]span
	n     int
}

// keepBuf is the largest buffer Reset keeps for reuse: a ClientHello fits
// (a post-quantum one is ~1.5 KB), and a pool of streams does not keep the
// 64 KiB that a stranger's far-off CRYPTO frame made one grow to.
const keepBuf = 16 << 10

// Reset empties s, keeping its buffer when it is small.
func (s *CryptoStream) Reset() {
	if cap(s.buf) > keepBuf {
		s.buf = nil
	} else {
		clear(s.buf)
		s.buf = s.buf[:0]
	}
	s.n = 0
}

// Buffered returns the bytes s holds for its stream: up to the highest
// offset received, gaps included (what a CRYPTO frame at a far offset costs).
func (s *CryptoStream) Buffered() int { return len(s.buf) }

func (s *CryptoStream) limit() int {
	if s.Limit > 0 {
		return s.Limit
	}
	return DefaultCryptoLimit
}

// Add stores the bytes of one CRYPTO frame. Data is copied. On
// ErrCryptoTooLarge and ErrCryptoFragmented nothing is stored; on
// ErrCryptoConflict the new bytes fill only what was missing.
func (s *CryptoStream) Add(off uint64, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	lim := uint64(s.limit())
	if off >= lim || uint64(len(data)) > lim-off {
		return ErrCryptoTooLarge
	}
	a, b := int(off), int(off)+len(data)
	// The span list after the merge, computed first so that a failure
	// leaves s unchanged.
	var out [maxCryptoSpans]span
	m := 0
	merged := span{a, b}
	placed := false
	for i := 0; i < s.n; i++ {
		sp := s.spans[i]
		switch {
		case sp.end < merged.start:
			if m == maxCryptoSpans {
				return ErrCryptoFragmented
			}
			out[m] = sp
			m++
		case sp.start > merged.end:
			if !placed {
				if m == maxCryptoSpans {
					return ErrCryptoFragmented
				}
				out[m] = merged
				m++
				placed = true
			}
			if m == maxCryptoSpans {
				return ErrCryptoFragmented
			}
			out[m] = sp
			m++
		default: // overlapping or adjacent
			merged.start = min(merged.start, sp.start)
			merged.end = max(merged.end, sp.end)
		}
	}
	if !placed {
		if m == maxCryptoSpans {
			return ErrCryptoFragmented
		}
		out[m] = merged
		m++
	}
	if b > len(s.buf) {
		s.grow(b)
	}
	// Copy only into the holes; compare where bytes exist already.
	conflict := false
	pos := a
	for i := 0; i < s.n && pos < b; i++ {
		sp := s.spans[i]
		if sp.end <= pos || sp.start >= b {
			continue
		}
		if sp.start > pos {
			copy(s.buf[pos:sp.start], data[pos-a:sp.start-a])
			pos = sp.start
		}
		e := min(b, sp.end)
		if !bytes.Equal(s.buf[pos:e], data[pos-a:e-a]) {
			conflict = true
		}
		pos = e
	}
	if pos < b {
		copy(s.buf[pos:b], data[pos-a:])
	}
	s.spans = out
	s.n = m
	if conflict {
		return ErrCryptoConflict
	}
	return nil
}

// grow extends buf to n bytes (n <= limit), zero-filled, reusing capacity.
func (s *CryptoStream) grow(n int) {
	if n <= cap(s.buf) {
		s.buf = s.buf[:n]
		return
	}
	c := max(2*cap(s.buf), n, 2048)
	c = min(c, s.limit())
	nb := make([]byte, n, c)
	copy(nb, s.buf)
	s.buf = nb
}

// Contiguous returns the bytes received from offset 0 without a hole. It
// aliases s's buffer: valid until the next Add or Reset.
func (s *CryptoStream) Contiguous() []byte {
	if s.n == 0 || s.spans[0].start != 0 {
		return nil
	}
	return s.buf[:s.spans[0].end:s.spans[0].end]
}

// Received returns the number of distinct bytes received so far.
func (s *CryptoStream) Received() int {
	n := 0
	for i := 0; i < s.n; i++ {
		n += s.spans[i].end - s.spans[i].start
	}
	return n
}

// HasGap reports whether bytes beyond a hole were received.
func (s *CryptoStream) HasGap() bool {
	return s.n > 1 || s.n == 1 && s.spans[0].start != 0
}
