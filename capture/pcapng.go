package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// pcapng block types (draft-ietf-opsawg-pcapng, section 11.1).
const (
	ngBlockSHB = 0x0A0D0D0A // Section Header Block, same in both byte orders
	ngBlockIDB = 0x00000001 // Interface Description Block
	ngBlockPB  = 0x00000002 // Packet Block (obsolete)
	ngBlockSPB = 0x00000003 // Simple Packet Block
	ngBlockEPB = 0x00000006 // Enhanced Packet Block

	ngByteOrderMagic = 0x1A2B3C4D
	ngOptEnd         = 0
	ngOptTsresol     = 9  // if_tsresol
	ngOptTsoffset    = 14 // if_tsoffset

	// ngMaxParsedBlock caps the blocks that are parsed in the buffer (SHB,
	// IDB, packets): a packet of MaxSnaplen plus room for options. Other
	// blocks of any length are skipped without being held.
	ngMaxParsedBlock = MaxSnaplen + 64<<10
	// ngMaxInterfaces bounds the interface table a corrupt file could grow.
	ngMaxInterfaces = 1 << 16
)

func isPcapngMagic(b []byte) bool {
	return binary.LittleEndian.Uint32(b) == ngBlockSHB
}

// ngInterface is what an IDB says about packets of its interface.
type ngInterface struct {
	link    LinkType
	snaplen uint32
	// timestamp units to nanoseconds: units*mul/div, or (units*1e9)>>shift
	// when binary is set; plus offset seconds.
	mul, div uint64
	shift    uint
	binary   bool
	offset   int64
}

func (i *ngInterface) nanos(units uint64) int64 {
	var ns uint64
	switch {
	case i.binary:
		hi, lo := bits.Mul64(units, 1e9)
		switch {
		case i.shift == 0:
			ns = lo
		case i.shift < 64:
			ns = hi<<(64-i.shift) | lo>>i.shift
		default:
			ns = hi >> (i.shift - 64)
		}
	case i.div > 1:
		ns = units / i.div
	default:
		ns = units * i.mul
	}
	return int64(ns) + i.offset*1e9
}

// pcapngReader reads a pcapng file: any number of sections, each with its
// own byte order and interfaces (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html).
type pcapngReader struct {
	name   string
	c      *chunkReader
	bo     binary.ByteOrder
	big    bool
	ifaces []ngInterface
	lastTS int64 // timestamp of the last packet, for simple packet blocks
}

func newPcapngReader(name string, c *chunkReader) (*pcapngReader, error) {
	r := &pcapngReader{name: name, c: c, bo: binary.LittleEndian}
	start := c.offset()
	if err := r.readSHB(start); err != nil {
		if err == io.EOF {
			return nil, &FileError{File: name, Offset: start, Err: fmt.Errorf("section header: %w", ErrTruncated)}
		}
		return nil, err
	}
	return r, nil
}

func (r *pcapngReader) errf(off int64, format string, args ...any) error {
	return &FileError{File: r.name, Offset: off, Err: fmt.Errorf(format, args...)}
}

// short reports a block cut after got bytes, or a clean end when got is 0.
func (r *pcapngReader) short(start int64, got int) error {
	if err := r.c.readErr(); err != nil {
		return &FileError{File: r.name, Offset: start + int64(got), Err: err}
	}
	if got == 0 {
		return io.EOF
	}
	return &FileError{File: r.name, Offset: start, Err: fmt.Errorf("block: %w (%d bytes left)", ErrTruncated, got)}
}

// readSHB reads a Section Header Block at the current position and starts
// a new section.
func (r *pcapngReader) readSHB(start int64) error {
	h := r.c.peek(12)
	if len(h) < 12 {
		return r.short(start, len(h))
	}
	var bo binary.ByteOrder
	switch {
	case binary.LittleEndian.Uint32(h[8:]) == ngByteOrderMagic:
		bo, r.big = binary.LittleEndian, false
	case binary.BigEndian.Uint32(h[8:]) == ngByteOrderMagic:
		bo, r.big = binary.BigEndian, true
	default:
		return r.errf(start, "section header: bad byte-order magic 0x%x", h[8:12])
	}
	r.bo = bo
	n := bo.Uint32(h[4:])
	if n < 28 || n%4 != 0 || n > ngMaxParsedBlock {
		return r.errf(start, "section header: bad block length %d", n)
	}
	b := r.c.peek(int(n))
	if len(b) < int(n) {
		return r.short(start, len(b))
	}
	if bo.Uint32(b[n-4:]) != n {
		return r.errf(start, "section header: trailing length %d != %d", bo.Uint32(b[n-4:]), n)
	}
	if major := bo.Uint16(b[12:]); major != 1 {
		return r.errf(start, "section header: unsupported version %d.%d", major, bo.Uint16(b[14:]))
	}
	r.ifaces = r.ifaces[:0]
	r.c.pos += int(n)
	return nil
}

// readIDB appends the interface described by block b (whole block).
func (r *pcapngReader) readIDB(start int64, b []byte) error {
	if len(b) < 20 {
		return r.errf(start, "interface description: block too short (%d bytes)", len(b))
	}
	if len(r.ifaces) >= ngMaxInterfaces {
		return r.errf(start, "interface description: more than %d interfaces", ngMaxInterfaces)
	}
	bo := r.bo
	ifc := ngInterface{
		link:    LinkType(bo.Uint16(b[8:])),
		snaplen: bo.Uint32(b[12:]),
		mul:     1000, // default resolution: microseconds
		div:     1,
	}
	opts := b[16 : len(b)-4]
	for len(opts) >= 4 {
		code, olen := bo.Uint16(opts), int(bo.Uint16(opts[2:]))
		if code == ngOptEnd {
			break
		}
		padded := (olen + 3) &^ 3
		if 4+padded > len(opts) {
			return r.errf(start, "interface description: option %d overruns the block", code)
		}
		v := opts[4 : 4+olen]
		switch code {
		case ngOptTsresol:
			if olen != 1 {
				return r.errf(start, "interface description: if_tsresol of %d bytes", olen)
			}
			res := v[0]
			if res&0x80 != 0 {
				ifc.binary, ifc.shift = true, uint(res&0x7f)
			} else {
				n := int(res)
				switch {
				case n > 19:
					return r.errf(start, "interface description: if_tsresol 10^-%d", n)
				case n <= 9:
					ifc.mul, ifc.div = pow10(9-n), 1
				default:
					ifc.mul, ifc.div = 1, pow10(n-9)
				}
			}
		case ngOptTsoffset:
			if olen != 8 {
				return r.errf(start, "interface description: if_tsoffset of %d bytes", olen)
			}
			ifc.offset = int64(bo.Uint64(v))
		}
		opts = opts[4+padded:]
	}
	r.ifaces = append(r.ifaces, ifc)
	return nil
}

func pow10(n int) uint64 {
	v := uint64(1)
	for ; n > 0; n-- {
		v *= 10
	}
	return v
}

var errNoInterface = errors.New("packet before any interface description block")

func (r *pcapngReader) next(p *Packet) error {
	c := r.c
	for {
		start := c.offset()
		h := c.peek(8)
		if len(h) < 8 {
			return r.short(start, len(h))
		}
		if binary.LittleEndian.Uint32(h) == ngBlockSHB {
			if err := r.readSHB(start); err != nil {
				return err
			}
			continue
		}
		var typ, n uint32
		if r.big {
			typ, n = binary.BigEndian.Uint32(h), binary.BigEndian.Uint32(h[4:])
		} else {
			typ, n = binary.LittleEndian.Uint32(h), binary.LittleEndian.Uint32(h[4:])
		}
		if n < 12 || n%4 != 0 {
			return r.errf(start, "block type 0x%x: bad block length %d", typ, n)
		}
		switch typ {
		case ngBlockEPB, ngBlockSPB, ngBlockPB, ngBlockIDB:
		default:
			// Unknown or uninteresting block: skip it, whatever its size.
			if got := c.discard(int64(n) - 4); got < int64(n)-4 {
				return r.short(start, int(got))
			}
			t := c.peek(4)
			if len(t) < 4 {
				return r.short(start, int(n)-4+len(t))
			}
			if r.bo.Uint32(t) != n {
				return r.errf(start, "block type 0x%x: trailing length %d != %d", typ, r.bo.Uint32(t), n)
			}
			c.pos += 4
			continue
		}
		if n > ngMaxParsedBlock {
			return r.errf(start, "block type 0x%x: block length %d too large", typ, n)
		}
		b := c.peek(int(n))
		if len(b) < int(n) {
			return r.short(start, len(b))
		}
		if r.bo.Uint32(b[n-4:]) != n {
			return r.errf(start, "block type 0x%x: trailing length %d != %d", typ, r.bo.Uint32(b[n-4:]), n)
		}
		if typ == ngBlockIDB {
			if err := r.readIDB(start, b); err != nil {
				return err
			}
			c.pos += int(n)
			continue
		}
		if err := r.packet(start, typ, b, p); err != nil {
			return err
		}
		c.pos += int(n)
		return nil
	}
}

// packet decodes an EPB, SPB or PB held whole in b.
func (r *pcapngReader) packet(start int64, typ uint32, b []byte, p *Packet) error {
	bo := r.bo
	var ifid, capLen, origLen uint32
	var units uint64
	var data []byte
	switch typ {
	case ngBlockEPB, ngBlockPB:
		if len(b) < 32 {
			return r.errf(start, "packet block too short (%d bytes)", len(b))
		}
		if typ == ngBlockEPB {
			ifid = bo.Uint32(b[8:])
		} else {
			ifid = uint32(bo.Uint16(b[8:]))
		}
		units = uint64(bo.Uint32(b[12:]))<<32 | uint64(bo.Uint32(b[16:]))
		capLen, origLen = bo.Uint32(b[20:]), bo.Uint32(b[24:])
		if capLen > MaxSnaplen {
			return r.errf(start, "packet claims %d captured bytes (more than %d): corrupt file", capLen, MaxSnaplen)
		}
		if uint64(capLen) > uint64(len(b)-32) {
			return r.errf(start, "packet data (%d bytes) overruns its block", capLen)
		}
		data = b[28 : 28+capLen : 28+capLen]
	case ngBlockSPB:
		if len(b) < 16 {
			return r.errf(start, "simple packet block too short (%d bytes)", len(b))
		}
		origLen = bo.Uint32(b[8:])
		capLen = uint32(len(b) - 16)
		if origLen < capLen {
			capLen = origLen
		}
		if len(r.ifaces) > 0 && r.ifaces[0].snaplen != 0 && r.ifaces[0].snaplen < capLen {
			capLen = r.ifaces[0].snaplen
		}
		data = b[12 : 12+capLen : 12+capLen]
	}
	if int(ifid) >= len(r.ifaces) {
		if len(r.ifaces) == 0 {
			return &FileError{File: r.name, Offset: start, Err: errNoInterface}
		}
		return r.errf(start, "packet for interface %d, but only %d described", ifid, len(r.ifaces))
	}
	ifc := &r.ifaces[ifid]
	p.Data = data
	if typ == ngBlockSPB {
		// A simple packet block carries no timestamp: repeat the last one
		// (0 before any), so that time never jumps back to 1970.
		p.TS = r.lastTS
	} else {
		p.TS = ifc.nanos(units)
		r.lastTS = p.TS
	}
	p.CapLen = int(capLen)
	p.Len = int(origLen)
	p.Link = ifc.link
	return nil
}

func (r *pcapngReader) chunks() *chunkReader { return r.c }
