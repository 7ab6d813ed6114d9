package tlsparse

// cursor is a cryptobyte-style reader over a []byte. Every read advances on
// success and reports failure with false without consuming anything. off is
// the offset of b[0] in the outermost buffer, kept for error messages.
type cursor struct {
	b   []byte
	off int
}

func (c *cursor) empty() bool { return len(c.b) == 0 }

func (c *cursor) skip(n int) bool {
	if n < 0 || len(c.b) < n {
		return false
	}
	c.b = c.b[n:]
	c.off += n
	return true
}

func (c *cursor) bytes(n int) ([]byte, bool) {
	if n < 0 || len(c.b) < n {
		return nil, false
	}
	v := c.b[:n:n]
	c.b = c.b[n:]
	c.off += n
	return v, true
}

func (c *cursor) u8(v *uint8) bool {
	if len(c.b) < 1 {
		return false
	}
	*v = c.b[0]
	c.b = c.b[1:]
	c.off++
	return true
}

func (c *cursor) u16(v *uint16) bool {
	if len(c.b) < 2 {
		return false
	}
	*v = uint16(c.b[0])<<8 | uint16(c.b[1])
	c.b = c.b[2:]
	c.off += 2
	return true
}

func (c *cursor) u32(v *uint32) bool {
	if len(c.b) < 4 {
		return false
	}
	*v = uint32(c.b[0])<<24 | uint32(c.b[1])<<16 | uint32(c.b[2])<<8 | uint32(c.b[3])
	c.b = c.b[4:]
	c.off += 4
	return true
}

// vec reads a vector with an lenBytes-byte length prefix into out, a
// sub-cursor whose offsets continue those of c.
func (c *cursor) vec(lenBytes int, out *cursor) bool {
	if len(c.b) < lenBytes {
		return false
	}
	n := 0
	for i := 0; i < lenBytes; i++ {
		n = n<<8 | int(c.b[i])
	}
	if len(c.b)-lenBytes < n {
		return false
	}
	*out = cursor{b: c.b[lenBytes : lenBytes+n : lenBytes+n], off: c.off + lenBytes}
	c.b = c.b[lenBytes+n:]
	c.off += lenBytes + n
	return true
}

func (c *cursor) vec8(out *cursor) bool  { return c.vec(1, out) }
func (c *cursor) vec16(out *cursor) bool { return c.vec(2, out) }
func (c *cursor) vec24(out *cursor) bool { return c.vec(3, out) }
