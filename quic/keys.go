package quic

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
)

// Keys are the packet protection keys of one direction of one packet
// number space (RFC 9001 §5.1). Initial packets always use AES-128-GCM
// and AES-based header protection (§5.2). A Keys holds scratch space: it
// is not safe for concurrent use.
type Keys struct {
	Secret [32]byte // client_initial_secret or server_initial_secret
	Key    [16]byte
	IV     [12]byte
	HP     [16]byte

	aead  cipher.AEAD
	hp    cipher.Block
	mask  [16]byte
	nonce [12]byte
}

// InitialKeys are both directions' Initial keys of a connection, derived
// from the Destination Connection ID of the client's first Initial packet
// (or of its Initial after a Retry).
type InitialKeys struct {
	Version Version
	Client  Keys
	Server  Keys
}

// hkdfExpandLabel is TLS 1.3's HKDF-Expand-Label (RFC 8446 §7.1) with an
// empty context, as QUIC uses it.
func hkdfExpandLabel(dst, secret []byte, label string) error {
	var info [2 + 1 + 32 + 1]byte
	n := len(dst)
	info[0], info[1] = byte(n>>8), byte(n)
	full := "tls13 " + label
	info[2] = byte(len(full))
	copy(info[3:], full)
	info[3+len(full)] = 0
	out, err := hkdf.Expand(sha256.New, secret, string(info[:4+len(full)]), n)
	if err != nil {
		return err
	}
	copy(dst, out)
	return nil
}

// Derive computes k's keys for version v and the client's Destination
// Connection ID dcid (RFC 9001 §5.2, RFC 9369 §3.3). It allocates the
// ciphers: callers cache the result per connection.
func (k *InitialKeys) Derive(v Version, dcid []byte) error {
	p := v.params()
	if p == nil {
		return ErrUnknownVersion
	}
	prk, err := hkdf.Extract(sha256.New, dcid, p.salt)
	if err != nil {
		return err
	}
	k.Version = v
	if err := k.Client.derive(prk, "client in", p); err != nil {
		return err
	}
	return k.Server.derive(prk, "server in", p)
}

func (k *Keys) derive(prk []byte, label string, p *versionParams) error {
	if err := hkdfExpandLabel(k.Secret[:], prk, label); err != nil {
		return err
	}
	if err := hkdfExpandLabel(k.Key[:], k.Secret[:], p.keyLabel); err != nil {
		return err
	}
	if err := hkdfExpandLabel(k.IV[:], k.Secret[:], p.ivLabel); err != nil {
		return err
	}
	if err := hkdfExpandLabel(k.HP[:], k.Secret[:], p.hpLabel); err != nil {
		return err
	}
	block, err := aes.NewCipher(k.Key[:])
	if err != nil {
		return err
	}
	if k.aead, err = cipher.NewGCM(block); err != nil {
		return err
	}
	k.hp, err = aes.NewCipher(k.HP[:])
	return err
}

// sampleMask computes the header protection mask from the 16-byte sample
// that starts 4 bytes after the packet number (RFC 9001 §5.4.2).
func (k *Keys) sampleMask(pkt []byte, pnOff, end int) bool {
	s := pnOff + 4
	if s+16 > end || k.hp == nil {
		return false
	}
	k.hp.Encrypt(k.mask[:], pkt[s:s+16])
	return true
}

func (k *Keys) setNonce(pn int64) {
	k.nonce = k.IV
	for i := 0; i < 8; i++ {
		k.nonce[11-i] ^= byte(uint64(pn) >> (8 * i))
	}
}

// Open removes header protection from the long-header packet at the start
// of pkt (parsed into h by [ParseHeader]) and decrypts it. pkt is not
// modified. The unprotected header and the plaintext are written to dst
// (grown only when its capacity is short: pass a buffer of 64 KiB or the
// datagram's size to never allocate); the returned payload aliases dst.
// largest is the largest packet number seen so far in this packet number
// space and direction (-1 for none), used to expand the truncated packet
// number (RFC 9000 §17.1). A packet that does not authenticate gives ErrAuth.
func (k *Keys) Open(dst, pkt []byte, h *Header, largest int64) (payload []byte, pn int64, err error) {
	if h.PacketLen == 0 || h.PacketLen > len(pkt) || h.PNOffset <= 0 || h.PNOffset >= h.PacketLen {
		return nil, 0, ErrTruncated
	}
	end := h.PacketLen
	if !k.sampleMask(pkt, h.PNOffset, end) {
		return nil, 0, ErrTruncated
	}
	first := pkt[0] ^ k.mask[0]&0x0f
	pnLen := int(first&3) + 1
	hdrLen := h.PNOffset + pnLen
	dst = append(dst[:0], pkt[:hdrLen]...)
	dst[0] = first
	var trunc uint64
	for i := 0; i < pnLen; i++ {
		dst[h.PNOffset+i] ^= k.mask[1+i]
		trunc = trunc<<8 | uint64(dst[h.PNOffset+i])
	}
	pn = DecodePacketNumber(largest, trunc, pnLen)
	k.setNonce(pn)
	hdr := dst[:hdrLen:hdrLen]
	out, err := k.aead.Open(dst[hdrLen:hdrLen], k.nonce[:], pkt[hdrLen:end], hdr)
	if err != nil {
		return nil, 0, ErrAuth
	}
	return out, pn, nil
}

// Seal protects an Initial (or Handshake) packet: hdr is the unprotected
// long header ending with a pnLen-byte packet number pn and a Length field
// that already counts pnLen + len(payload) + 16. The protected packet is
// appended to dst. It exists for tests and tools that build packets.
func (k *Keys) Seal(dst, hdr, payload []byte, pn int64, pnLen int) []byte {
	start := len(dst)
	dst = append(dst, hdr...)
	k.setNonce(pn)
	dst = k.aead.Seal(dst, k.nonce[:], payload, dst[start:])
	pnOff := start + len(hdr) - pnLen
	if !k.sampleMask(dst, pnOff, len(dst)) {
		return dst
	}
	if dst[start]&0x80 != 0 {
		dst[start] ^= k.mask[0] & 0x0f
	} else {
		dst[start] ^= k.mask[0] & 0x1f
	}
	for i := 0; i < pnLen; i++ {
		dst[pnOff+i] ^= k.mask[1+i]
	}
	return dst
}

// DecodePacketNumber expands a truncated packet number of pnLen bytes
// given the largest packet number seen so far (-1 for none), as in RFC 9000
// Appendix A.3.
func DecodePacketNumber(largest int64, truncated uint64, pnLen int) int64 {
	expected := largest + 1
	win := int64(1) << (8 * pnLen)
	hwin := win / 2
	mask := win - 1
	candidate := expected&^mask | int64(truncated)
	switch {
	case candidate <= expected-hwin && candidate < 1<<62-win:
		return candidate + win
	case candidate > expected+hwin && candidate >= win:
		return candidate - win
	}
	return candidate
}

// VerifyRetry checks a Retry packet's integrity tag (RFC 9001 §5.8, RFC
// 9369 §3.3.3) against the Destination Connection ID of the client's
// Initial that it answers. pkt is the whole Retry packet (the datagram: a
// Retry is never coalesced) and h its parsed header. Drafts before 29 have
// no tag: false.
func VerifyRetry(pkt []byte, h *Header, odcid []byte) bool {
	p := h.Version.params()
	if p == nil || p.retryKey == nil || h.Type != PacketRetry || len(pkt) < 16 || len(odcid) > 255 {
		return false
	}
	block, err := aes.NewCipher(p.retryKey)
	if err != nil {
		return false
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return false
	}
	pseudo := make([]byte, 0, 1+len(odcid)+len(pkt))
	pseudo = append(pseudo, byte(len(odcid)))
	pseudo = append(pseudo, odcid...)
	pseudo = append(pseudo, pkt[:len(pkt)-16]...)
	tag := aead.Seal(nil, p.retryIV, nil, pseudo)
	return subtle.ConstantTimeCompare(tag, pkt[len(pkt)-16:]) == 1
}
