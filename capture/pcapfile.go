package capture

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Classic pcap magic numbers as read in little-endian order.
const (
	pcapMagicMicro = 0xa1b2c3d4 // microsecond timestamps
	pcapMagicNano  = 0xa1b23c4d // nanosecond timestamps
	pcapHeaderLen  = 24
	pcapRecordLen  = 16
)

func isPcapMagic(b []byte) bool {
	le := binary.LittleEndian.Uint32(b)
	be := binary.BigEndian.Uint32(b)
	return le == pcapMagicMicro || le == pcapMagicNano || be == pcapMagicMicro || be == pcapMagicNano
}

// pcapReader reads a classic pcap file (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html).
type pcapReader struct {
	name    string
	c       *chunkReader
	big     bool  // big-endian headers
	tsScale int64 // nanoseconds per fractional-second unit: 1000 or 1
	link    LinkType
	snaplen uint32
}

func newPcapReader(name string, c *chunkReader) (*pcapReader, error) {
	h := c.peek(pcapHeaderLen)
	if len(h) < pcapHeaderLen {
		if err := c.readErr(); err != nil {
			return nil, &FileError{File: name, Err: err}
		}
		return nil, &FileError{File: name, Err: fmt.Errorf("pcap file header: %w", ErrTruncated)}
	}
	r := &pcapReader{name: name, c: c, tsScale: 1000}
	var bo binary.ByteOrder = binary.LittleEndian
	magic := binary.LittleEndian.Uint32(h)
	if magic != pcapMagicMicro && magic != pcapMagicNano {
		bo = binary.BigEndian
		magic = binary.BigEndian.Uint32(h)
		r.big = true
	}
	if magic == pcapMagicNano {
		r.tsScale = 1
	}
	// The link-type field also carries FCS information in its top bits
	// (draft-ietf-opsawg-pcap, section 4); the link type is the low 16.
	r.link = LinkType(bo.Uint32(h[20:]) & 0xffff)
	r.snaplen = bo.Uint32(h[16:])
	c.discard(pcapHeaderLen)
	return r, nil
}

func (r *pcapReader) next(p *Packet) error {
	c := r.c
	start := c.offset()
	h := c.peek(pcapRecordLen)
	if len(h) < pcapRecordLen {
		return r.short(start, len(h), "record header")
	}
	var sec, frac, capLen, origLen uint32
	if r.big {
		sec = binary.BigEndian.Uint32(h)
		frac = binary.BigEndian.Uint32(h[4:])
		capLen = binary.BigEndian.Uint32(h[8:])
		origLen = binary.BigEndian.Uint32(h[12:])
	} else {
		sec = binary.LittleEndian.Uint32(h)
		frac = binary.LittleEndian.Uint32(h[4:])
		capLen = binary.LittleEndian.Uint32(h[8:])
		origLen = binary.LittleEndian.Uint32(h[12:])
	}
	if capLen > MaxSnaplen {
		return &FileError{File: r.name, Offset: start, Err: fmt.Errorf("record claims %d captured bytes (more than %d): corrupt file", capLen, MaxSnaplen)}
	}
	n := pcapRecordLen + int(capLen)
	b := c.peek(n)
	if len(b) < n {
		return r.short(start, len(b), "packet data")
	}
	c.pos += n
	p.Data = b[pcapRecordLen:n:n]
	// Seconds are unsigned in the format: files written after 2038 stay valid.
	p.TS = int64(sec)*1e9 + int64(frac)*r.tsScale
	p.CapLen = int(capLen)
	p.Len = int(origLen)
	p.Link = r.link
	return nil
}

// short reports a record cut after got bytes, or a clean end when got is 0.
func (r *pcapReader) short(start int64, got int, what string) error {
	if err := r.c.readErr(); err != nil {
		return &FileError{File: r.name, Offset: start + int64(got), Err: err}
	}
	if got == 0 {
		return io.EOF
	}
	return &FileError{File: r.name, Offset: start, Err: fmt.Errorf("%s: %w (%d bytes left)", what, ErrTruncated, got)}
}

func (r *pcapReader) chunks() *chunkReader { return r.c }
