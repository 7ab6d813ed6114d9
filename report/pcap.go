package report

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Classic pcap constants (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html).
const (
	pcapMagicNanos = 0xa1b23c4d // nanosecond timestamps
	pcapVersionMaj = 2
	pcapVersionMin = 4
)

// DefaultSnaplen is used when a writer is given a snaplen of 0.
const DefaultSnaplen = 262144

// PcapWriter writes a classic pcap file with nanosecond timestamps. The
// 32-bit link type is written as given (gopacket's pcapgo keeps only 8 bits,
// which turns LINUX_SLL2 = 276 into 20). A classic pcap holds one link type:
// the one given to NewPcapWriter; use PcapngWriter when packets come from
// interfaces of different link types. A PcapWriter is safe for concurrent
// use.
type PcapWriter struct {
	mu      sync.Mutex
	w       io.Writer
	snaplen uint32
	buf     []byte
}

// NewPcapWriter writes the file header to w and returns the writer. A
// snaplen of 0 means DefaultSnaplen.
func NewPcapWriter(w io.Writer, link uint32, snaplen uint32) (*PcapWriter, error) {
	if snaplen == 0 {
		snaplen = DefaultSnaplen
	}
	var hdr [24]byte
	binary.LittleEndian.PutUint32(hdr[0:], pcapMagicNanos)
	binary.LittleEndian.PutUint16(hdr[4:], pcapVersionMaj)
	binary.LittleEndian.PutUint16(hdr[6:], pcapVersionMin)
	// thiszone and sigfigs stay 0.
	binary.LittleEndian.PutUint32(hdr[16:], snaplen)
	binary.LittleEndian.PutUint32(hdr[20:], link)
	if _, err := w.Write(hdr[:]); err != nil {
		return nil, fmt.Errorf("report: write pcap header: %w", err)
	}
	return &PcapWriter{w: w, snaplen: snaplen, buf: make([]byte, 0, 2048)}, nil
}

// errNegativeTime is returned for packets before 1970, which pcap cannot hold.
var errNegativeTime = errors.New("report: packet time before 1970")

// WritePacket writes one packet captured at ts; data is cut to the snaplen
// and origLen is its length on the wire (at least len(data)).
func (p *PcapWriter) WritePacket(ts time.Time, data []byte, origLen int) error {
	ns := ts.UnixNano()
	if ns < 0 {
		return errNegativeTime
	}
	if len(data) > int(p.snaplen) {
		data = data[:p.snaplen]
	}
	if origLen < len(data) {
		origLen = len(data)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.buf[:0]
	b = binary.LittleEndian.AppendUint32(b, uint32(ns/1e9))
	b = binary.LittleEndian.AppendUint32(b, uint32(ns%1e9))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = binary.LittleEndian.AppendUint32(b, uint32(origLen))
	b = append(b, data...)
	p.buf = b
	if _, err := p.w.Write(b); err != nil {
		return fmt.Errorf("report: write pcap packet: %w", err)
	}
	return nil
}

// pcapng block types (RFC draft-ietf-opsawg-pcapng).
const (
	ngSHB          = 0x0A0D0D0A
	ngIDB          = 0x00000001
	ngEPB          = 0x00000006
	ngByteOrder    = 0x1A2B3C4D
	ngOptTSResol   = 9
	ngOptEndOfOpts = 0
)

// PcapngWriter writes a pcapng file with one interface (IDB) per link type,
// created on first use, and nanosecond timestamps. Use it when packets come
// from several interfaces. A PcapngWriter is safe for concurrent use.
type PcapngWriter struct {
	mu      sync.Mutex
	w       io.Writer
	snaplen uint32
	ifaces  map[uint32]uint32 // link type -> interface id
	buf     []byte
}

// NewPcapngWriter writes the section header to w and returns the writer. A
// snaplen of 0 means DefaultSnaplen.
func NewPcapngWriter(w io.Writer, snaplen uint32) (*PcapngWriter, error) {
	if snaplen == 0 {
		snaplen = DefaultSnaplen
	}
	b := make([]byte, 0, 28)
	b = binary.LittleEndian.AppendUint32(b, ngSHB)
	b = binary.LittleEndian.AppendUint32(b, 28)
	b = binary.LittleEndian.AppendUint32(b, ngByteOrder)
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint64(b, ^uint64(0)) // section length unknown
	b = binary.LittleEndian.AppendUint32(b, 28)
	if _, err := w.Write(b); err != nil {
		return nil, fmt.Errorf("report: write pcapng header: %w", err)
	}
	return &PcapngWriter{w: w, snaplen: snaplen, ifaces: make(map[uint32]uint32), buf: make([]byte, 0, 2048)}, nil
}

// WritePacket writes one packet of the given link type (pcapng holds 16-bit
// link types; larger values are refused).
func (p *PcapngWriter) WritePacket(link uint32, ts time.Time, data []byte, origLen int) error {
	if link > 0xffff {
		return fmt.Errorf("report: pcapng link type %d does not fit 16 bits", link)
	}
	ns := ts.UnixNano()
	if ns < 0 {
		return errNegativeTime
	}
	if len(data) > int(p.snaplen) {
		data = data[:p.snaplen]
	}
	if origLen < len(data) {
		origLen = len(data)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.buf[:0]
	id, ok := p.ifaces[link]
	if !ok {
		id = uint32(len(p.ifaces))
		// IDB: type, len, linktype, reserved, snaplen, if_tsresol=9, end, len.
		b = binary.LittleEndian.AppendUint32(b, ngIDB)
		b = binary.LittleEndian.AppendUint32(b, 32)
		b = binary.LittleEndian.AppendUint16(b, uint16(link))
		b = binary.LittleEndian.AppendUint16(b, 0)
		b = binary.LittleEndian.AppendUint32(b, p.snaplen)
		b = binary.LittleEndian.AppendUint16(b, ngOptTSResol)
		b = binary.LittleEndian.AppendUint16(b, 1)
		b = append(b, 9, 0, 0, 0) // 10^-9 s, padded
		b = binary.LittleEndian.AppendUint16(b, ngOptEndOfOpts)
		b = binary.LittleEndian.AppendUint16(b, 0)
		b = binary.LittleEndian.AppendUint32(b, 32)
	}
	pad := (4 - len(data)%4) % 4
	total := uint32(32 + len(data) + pad)
	b = binary.LittleEndian.AppendUint32(b, ngEPB)
	b = binary.LittleEndian.AppendUint32(b, total)
	b = binary.LittleEndian.AppendUint32(b, id)
	b = binary.LittleEndian.AppendUint32(b, uint32(uint64(ns)>>32))
	b = binary.LittleEndian.AppendUint32(b, uint32(uint64(ns)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = binary.LittleEndian.AppendUint32(b, uint32(origLen))
	b = append(b, data...)
	b = append(b, make([]byte, pad)...)
	b = binary.LittleEndian.AppendUint32(b, total)
	p.buf = b
	if _, err := p.w.Write(b); err != nil {
		return fmt.Errorf("report: write pcapng packet: %w", err)
	}
	if !ok {
		p.ifaces[link] = id
	}
	return nil
}
