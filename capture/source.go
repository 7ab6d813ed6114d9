package capture

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hellowatch/hellowatch/internal/prefetch"
)

// LinkType is a pcap LINKTYPE_ (or DLT_) value kept as a full 32-bit number.
// gopacket v1.1.19's layers.LinkType is 8 bits wide and turns LINUX_SLL2
// (276) into 20, so link types never pass through it.
type LinkType uint32

// Link types this package decodes. See https://www.tcpdump.org/linktypes.html.
const (
	LinkNull      LinkType = 0   // BSD loopback: 4-byte address family in the writer's byte order
	LinkEthernet  LinkType = 1   // Ethernet II, with 802.1Q / 802.1ad tags
	LinkPPP       LinkType = 9   // PPP, with or without the HDLC address and control bytes
	LinkRawDLT12  LinkType = 12  // DLT_RAW as most BSDs and Linux number it: raw IPv4 or IPv6
	LinkRawDLT14  LinkType = 14  // DLT_RAW as OpenBSD numbers it: raw IPv4 or IPv6
	LinkRaw       LinkType = 101 // LINKTYPE_RAW: raw IPv4 or IPv6
	LinkLoop      LinkType = 108 // OpenBSD loopback: 4-byte address family, network byte order
	LinkLinuxSLL  LinkType = 113 // Linux cooked capture v1 (16-byte header)
	LinkPPPHDLC   LinkType = 50  // PPP in HDLC-like framing (RFC 1662)
	LinkIPv4      LinkType = 228 // raw IPv4
	LinkIPv6      LinkType = 229 // raw IPv6
	LinkLinuxSLL2 LinkType = 276 // Linux cooked capture v2 (20-byte header)
)

// String returns the link type's LINKTYPE_ name, or its number.
func (l LinkType) String() string {
	switch l {
	case LinkNull:
		return "NULL"
	case LinkEthernet:
		return "EN10MB"
	case LinkRawDLT12, LinkRawDLT14, LinkRaw:
		return "RAW"
	case LinkLoop:
		return "LOOP"
	case LinkPPP:
		return "PPP"
	case LinkPPPHDLC:
		return "PPP_HDLC"
	case LinkLinuxSLL:
		return "LINUX_SLL"
	case LinkIPv4:
		return "IPV4"
	case LinkIPv6:
		return "IPV6"
	case LinkLinuxSLL2:
		return "LINUX_SLL2"
	}
	return "LINKTYPE_" + strconv.FormatUint(uint64(l), 10)
}

// MaxSnaplen is the largest captured length a file record may claim. A
// larger claim means a corrupt file: it is reported, never allocated.
const MaxSnaplen = 256 << 10

// Packet is one captured packet. A Source reuses one Packet: the pointer
// returned by Next, and Data, which aliases the source's buffer, are valid
// only until the next call to Next. Copy what must outlive it.
type Packet struct {
	Data   []byte   // captured bytes, len(Data) == CapLen
	TS     int64    // capture time, nanoseconds since the Unix epoch
	CapLen int      // captured length
	Len    int      // original length on the wire; CapLen < Len means cut by snaplen
	Link   LinkType // link type of Data
	Index  uint64   // 1-based packet number across the whole Source (all files)

	buf *chunkBuf // the file buffer Data points into; nil for live packets
}

// Time returns the capture time as a time.Time (UTC).
func (p *Packet) Time() time.Time { return time.Unix(0, p.TS).UTC() }

// Source yields packets in capture order. Next and Close are called from one
// goroutine; Stats may be called from any goroutine at any time.
type Source interface {
	// Next returns the next packet, or io.EOF at the end. A truncated or
	// corrupt file yields every complete packet first, then a *FileError;
	// calling Next again goes on with the next file, if any.
	// A live source returns (nil, nil) when its read timeout expires with no
	// packet, so that the caller can run its timers.
	Next() (*Packet, error)
	// Stats returns counters so far; safe for concurrent use.
	Stats() SourceStats
	// Close releases the source. It is safe to call more than once.
	Close() error
}

// SourceStats counts what a Source has delivered and, for a live capture,
// what the kernel saw (libpcap's pcap_stats).
type SourceStats struct {
	Packets   uint64 // packets returned by Next
	Bytes     uint64 // captured bytes of those packets (sum of CapLen)
	Files     uint64 // files opened so far (file sources)
	Received  uint64 // live: packets received by the filter (ps_recv)
	Dropped   uint64 // live: packets dropped by the kernel for lack of buffer space (ps_drop)
	IfDropped uint64 // live: packets dropped by the interface or driver (ps_ifdrop)
}

// FileError is a problem with a capture file: it cannot be opened, it is
// not a capture file, or it is truncated or corrupt at Offset. For a gzip
// file Offset counts decompressed bytes.
type FileError struct {
	File   string // file name as given ("-" for standard input)
	Offset int64  // byte offset of the bad header or record
	Err    error  // what is wrong
}

// Error returns "capture: <file>: offset N: <err>".
func (e *FileError) Error() string {
	return "capture: " + e.File + ": offset " + strconv.FormatInt(e.Offset, 10) + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *FileError) Unwrap() error { return e.Err }

// Errors a FileError may carry, for errors.Is.
var (
	// ErrTruncated means the file ends in the middle of a header or record.
	ErrTruncated = errors.New("file truncated in the middle of a record")
	// ErrNotCapture means the file is neither pcap nor pcapng (nor gzip of either).
	ErrNotCapture = errors.New("not a pcap or pcapng file")
	// ErrShrank means a mapped file was truncated while it was being read.
	ErrShrank = errors.New("the file shrank while it was being read (truncated by another program?)")
)

// fileReader is a format-specific reader of one capture stream.
type fileReader interface {
	// next fills p (all but Index) and returns nil, io.EOF at a clean end,
	// or a *FileError.
	next(p *Packet) error
	// chunks returns the buffer reader the packets' Data comes from.
	chunks() *chunkReader
}

const (
	readBufSize  = 4 << 20  // largest read buffer: bytes read per refill
	firstBufSize = 64 << 10 // first read buffer, doubled up to readBufSize
	gzipMagic0   = 0x1f
	gzipMagic1   = 0x8b
)

// chunkBuf is a read buffer that packets alias. Its reference count is the
// reader's own reference (while it is the current buffer) plus one per
// holder: a Pipeline holds the buffers its queued packets point into, and
// the reader moves on to a fresh buffer instead of overwriting a held one.
// Whoever drops the last reference recycles the buffer.
type chunkBuf struct {
	b    []byte
	refs atomic.Int32
	free chan *chunkBuf // spare buffers of the reader that made this one

	// A region of a mapped file instead (b is nil): bytes start:end of m,
	// handed back once (released), even if a copy of a packet outlives it.
	m          *fileMap
	start, end int
	released   atomic.Bool
}

// hold adds a reference; only the reader's goroutine calls it.
func (b *chunkBuf) hold() { b.refs.Add(1) }

// release drops a reference; safe from any goroutine.
func (b *chunkBuf) release() {
	if b.refs.Add(-1) == 0 {
		if b.m != nil {
			if !b.released.Swap(true) {
				b.releaseRegion()
			}
			return
		}
		select {
		case b.free <- b:
		default: // enough spares: let the garbage collector have it
		}
	}
}

// chunkReader reads an io.Reader in large blocks and hands out slices of
// its buffer, so that a packet costs no copy and no allocation. Over a
// mapped file (m set) buf is the whole mapping and cur the region of pos;
// past the end of the mapping (a file that grew after it was opened) it
// reads the rest from r, as for any other input.
type chunkReader struct {
	r    io.Reader
	cur  *chunkBuf
	free chan *chunkBuf
	buf  []byte // cur.b, or the mapping
	pos  int    // next unread byte in buf
	end  int    // end of valid bytes in buf
	mark int    // peek takes the slow path from here: len(buf), or mapped, the next prefetch or region
	pf   int    // mapped: prefetched up to here
	base int64  // file offset of buf[0]
	err  error  // sticky read error (io.EOF at the end)
	full bool   // the last refill filled the whole buffer
	m    *fileMap
}

func newChunkReader(r io.Reader, size int) *chunkReader {
	c := &chunkReader{r: r, free: make(chan *chunkBuf, 4)}
	c.use(c.newBuf(size))
	return c
}

// newMappedReader reads the mapping m; r must be positioned at its end
// (it supplies what the file gains after the mapping was made).
func newMappedReader(r io.Reader, m *fileMap) *chunkReader {
	c := &chunkReader{r: r, free: make(chan *chunkBuf, 4), m: m, buf: m.data, end: len(m.data)}
	c.cur = m.region(0)
	c.ahead()
	return c
}

// Mapped files: the reader asks the CPU to load the file prefetchAhead
// bytes ahead of the packet it reads, prefetchStep bytes at a time. Pages
// of the page cache are not in any CPU cache, and the record headers are
// too far apart for the CPU to guess the next one: without the hint each
// header costs a full memory latency.
const (
	prefetchAhead = 16 << 10
	prefetchStep  = 4 << 10
)

// ahead prefetches up to prefetchAhead bytes past pos and sets the mark
// at the next step or the end of the region, whichever comes first.
func (c *chunkReader) ahead() {
	// A fault on the mapping (a file truncated under it) is to panic, for
	// fileSource.readNext to recover, rather than to crash: set here, on
	// whichever goroutine reads, every few KiB, as the reader's goroutine
	// could change between calls.
	debug.SetPanicOnFault(true)
	if to := min(c.pos+prefetchAhead, c.end); to > c.pf {
		prefetch.Bytes(c.buf[max(c.pf, c.pos):to])
		c.pf = to
	}
	c.mark = min(c.cur.end, c.pos+prefetchStep)
}

// close drops the reader's references: its buffer, and its mapping (which
// is unmapped once no Pipeline batch holds a region of it either).
func (c *chunkReader) close() {
	if c.cur != nil {
		c.cur.release()
		c.cur = nil
	}
	if c.m != nil {
		c.m.unref()
		c.m = nil
	}
	c.buf, c.pos, c.end, c.mark = nil, 0, 0, 0
}

// newBuf returns a spare buffer of the given size or a new one.
func (c *chunkReader) newBuf(size int) *chunkBuf {
	for {
		select {
		case b := <-c.free:
			if len(b.b) != size {
				continue // a spare from before the buffer grew
			}
			b.refs.Store(1)
			return b
		default:
			b := &chunkBuf{b: make([]byte, size), free: c.free}
			b.refs.Store(1)
			return b
		}
	}
}

// use makes b the current buffer, carrying over the unread bytes, and
// drops the reader's reference to the previous one.
func (c *chunkReader) use(b *chunkBuf) {
	old := c.cur
	c.end = copy(b.b, c.buf[c.pos:c.end])
	c.base += int64(c.pos)
	c.pos = 0
	c.cur, c.buf = b, b.b
	c.mark = len(b.b)
	if old != nil {
		old.release()
	}
}

// offset returns the file offset of the next unread byte.
func (c *chunkReader) offset() int64 { return c.base + int64(c.pos) }

// peek returns the next n bytes without consuming them. It returns fewer
// than n bytes only at the end of the input (or on a read error, kept in
// c.err). n must not exceed len(c.buf). Slices returned earlier may be
// invalidated.
func (c *chunkReader) peek(n int) []byte {
	if c.end-c.pos >= n && c.pos < c.mark {
		return c.buf[c.pos : c.pos+n]
	}
	return c.fill(n)
}

func (c *chunkReader) fill(n int) []byte {
	if c.m != nil {
		if c.pos < c.end {
			if c.pos >= c.cur.end {
				// Into the next region; the reader lets go of the last one.
				old := c.cur
				c.cur = c.m.region(c.pos)
				old.release()
			}
			c.ahead()
			if c.end-c.pos >= n {
				return c.buf[c.pos : c.pos+n]
			}
		}
		// The mapping ends here: the unread tail moves to a buffer of its
		// own, and reading goes on from r.
		m := c.m
		c.use(c.newBuf(max(firstBufSize, n)))
		c.m = nil
		m.unref()
	}
	if n > len(c.buf) || (c.full && len(c.buf) < readBufSize) {
		// Start small (many tests and short files open many sources) and
		// grow while the input keeps filling the buffer: at most a few
		// allocations per source, none per packet.
		size := min(2*len(c.buf), readBufSize)
		size = max(size, n)
		c.use(c.newBuf(size))
	} else if c.cur.refs.Load() > 1 {
		// Packets of this buffer are still queued in a Pipeline.
		c.use(c.newBuf(len(c.buf)))
	} else if c.pos > 0 {
		copy(c.buf, c.buf[c.pos:c.end])
		c.base += int64(c.pos)
		c.end -= c.pos
		c.pos = 0
	}
	for c.end < n && c.err == nil {
		m, err := c.r.Read(c.buf[c.end:])
		c.end += m
		if err != nil {
			c.err = err
		}
	}
	c.full = c.end == len(c.buf)
	if c.end < n {
		return c.buf[:c.end]
	}
	return c.buf[:n]
}

// discard consumes n bytes; n may exceed the buffer (skipping big blocks).
// It returns the number of bytes actually skipped.
func (c *chunkReader) discard(n int64) int64 {
	var done int64
	for n > 0 {
		avail := int64(c.end - c.pos)
		if avail == 0 {
			if len(c.fill(1)) == 0 {
				return done
			}
			continue
		}
		if avail > n {
			avail = n
		}
		c.pos += int(avail)
		n -= avail
		done += avail
	}
	return done
}

// readErr returns the read error behind a short peek, or nil at a clean EOF.
func (c *chunkReader) readErr() error {
	if c.err == io.EOF {
		return nil
	}
	return c.err
}

// openStream sniffs the format of r and returns a reader for it.
// closer, if not nil, is closed with the source.
func openStream(name string, r io.Reader) (fileReader, io.Closer, error) {
	br := bufio.NewReaderSize(r, 64)
	head, _ := br.Peek(2)
	var closer io.Closer
	var src io.Reader = br
	if len(head) == 2 && head[0] == gzipMagic0 && head[1] == gzipMagic1 {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, &FileError{File: name, Err: fmt.Errorf("gzip: %w", err)}
		}
		zr.Multistream(true)
		src, closer = zr, zr
	}
	rd, err := openChunks(name, newChunkReader(src, firstBufSize))
	return rd, closer, err
}

// openFile returns a reader for the capture file f: over a mapping of it
// when it is a regular, uncompressed file that can be mapped (see
// fileMap), else as openStream.
func openFile(name string, f *os.File, noMap bool) (fileReader, io.Closer, error) {
	var m *fileMap
	if !noMap {
		m = mapFile(f)
	}
	if m != nil {
		if len(m.data) >= 2 && m.data[0] == gzipMagic0 && m.data[1] == gzipMagic1 {
			m.unref()
		} else if _, err := f.Seek(int64(len(m.data)), io.SeekStart); err != nil {
			m.unref()
		} else {
			rd, err := openChunks(name, newMappedReader(f, m))
			return rd, nil, err
		}
	}
	return openStream(name, f)
}

// openChunks sniffs the format of c's input and returns a reader for it;
// on an error c is closed.
func openChunks(name string, c *chunkReader) (fileReader, error) {
	rd, err := sniffChunks(name, c)
	if err != nil {
		c.close()
		return nil, err
	}
	return rd, nil
}

func sniffChunks(name string, c *chunkReader) (fileReader, error) {
	magic := c.peek(4)
	if len(magic) < 4 {
		if err := c.readErr(); err != nil {
			return nil, &FileError{File: name, Err: err}
		}
		if len(magic) == 0 {
			return nil, &FileError{File: name, Err: errors.New("empty file")}
		}
		return nil, &FileError{File: name, Err: fmt.Errorf("%w (only %d bytes: 0x%x)", ErrNotCapture, len(magic), magic)}
	}
	switch {
	case isPcapMagic(magic):
		return newPcapReader(name, c)
	case isPcapngMagic(magic):
		return newPcapngReader(name, c)
	}
	first := c.peek(16)
	return nil, &FileError{File: name, Err: fmt.Errorf("%w (first bytes 0x%x)", ErrNotCapture, first)}
}

// fileSource reads capture files one after the other.
type fileSource struct {
	names  []string
	next   int // index in names of the next file to open
	name   string
	f      io.Closer // current file (nil for stdin and OpenReader)
	extra  io.Closer // gzip reader
	rd     fileReader
	stdin  io.Reader
	pkt    Packet
	index  uint64
	done   bool
	closed bool
	noMap  bool

	nbytes uint64 // captured bytes so far; Stats reads them from bytes

	packets atomic.Uint64 // published every statsEvery packets (see publish)
	bytes   atomic.Uint64
	files   atomic.Uint64
}

// OpenFiles opens one or more capture files to be read in a row, as one
// Source; "-" means standard input. The format of each file is sniffed from
// its first bytes: classic pcap (either byte order, micro- or nanosecond
// timestamps), pcapng, or a gzip-compressed version of either. The first
// file is opened at once; the others when reached, and an error opening one
// is returned by Next as a *FileError.
func OpenFiles(names []string) (Source, error) {
	return OpenFilesWith(names, FileOptions{})
}

// FileOptions change how OpenFilesWith reads files.
type FileOptions struct {
	// NoMap reads regular files with read(2) instead of mapping them. A
	// mapped file that shrinks while it is read (truncated by another
	// process) makes the next access to a page past its new end fault.
	NoMap bool
}

// OpenFilesWith is OpenFiles with options.
func OpenFilesWith(names []string, opts FileOptions) (Source, error) {
	if len(names) == 0 {
		return nil, errors.New("capture: no capture file given")
	}
	s := &fileSource{names: names, stdin: os.Stdin, noMap: opts.NoMap}
	if err := s.openNext(); err != nil {
		return nil, err
	}
	return s, nil
}

// OpenReader reads one capture stream from r; name is used in errors. It is
// meant for tests and for callers that already hold a reader. Closing the
// Source does not close r.
func OpenReader(name string, r io.Reader) (Source, error) {
	s := &fileSource{}
	rd, extra, err := openStream(name, r)
	if err != nil {
		return nil, err
	}
	s.name, s.rd, s.extra = name, rd, extra
	s.files.Add(1)
	return s, nil
}

func (s *fileSource) openNext() error {
	name := s.names[s.next]
	s.next++
	s.name = name
	var (
		rd    fileReader
		extra io.Closer
		err   error
	)
	if name == "-" {
		rd, extra, err = openStream(name, s.stdin)
	} else {
		f, ferr := os.Open(name)
		if ferr != nil {
			return &FileError{File: name, Err: unwrapPathError(ferr)}
		}
		s.f = f
		rd, extra, err = openFile(name, f, s.noMap)
	}
	if err != nil {
		if s.f != nil {
			s.f.Close()
			s.f = nil
		}
		return err
	}
	s.rd, s.extra = rd, extra
	s.files.Add(1)
	return nil
}

// unwrapPathError drops the *os.PathError wrapper, whose path FileError
// already names.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("open: %w", pe.Err)
	}
	return err
}

func (s *fileSource) closeCurrent() {
	if s.rd != nil {
		s.rd.chunks().close()
	}
	if s.extra != nil {
		s.extra.Close()
		s.extra = nil
	}
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	s.rd = nil
}

// Next implements Source.
func (s *fileSource) Next() (*Packet, error) {
	for {
		if s.done || s.closed {
			s.publish()
			return nil, io.EOF
		}
		if s.rd == nil {
			if s.next >= len(s.names) {
				s.done = true
				s.publish()
				return nil, io.EOF
			}
			if err := s.openNext(); err != nil {
				s.publish()
				return nil, err
			}
		}
		err := s.readNext()
		if err == nil {
			s.pkt.buf = s.rd.chunks().cur
			s.index++
			s.pkt.Index = s.index
			s.nbytes += uint64(s.pkt.CapLen)
			if s.index&(statsEvery-1) == 0 {
				s.publish()
			}
			return &s.pkt, nil
		}
		s.closeCurrent()
		if err != io.EOF {
			// Keep going with the next file on the following call.
			s.publish()
			return nil, err
		}
	}
}

// statsEvery is how many packets go by between updates of the counters
// Stats reads (a power of two): atomic updates per packet would cost the
// reading goroutine more than parsing the record does. At the end of the
// input, on an error and on Close they are exact.
const statsEvery = 256

// publish makes the counts so far visible to Stats.
func (s *fileSource) publish() {
	s.packets.Store(s.index)
	s.bytes.Store(s.nbytes)
}

// readNext reads the next packet of the current file. Over a mapping, a
// fault (the file was truncated under it) is a *FileError, not a crash.
func (s *fileSource) readNext() (err error) {
	c := s.rd.chunks()
	if c.m == nil {
		return s.rd.next(&s.pkt)
	}
	defer func() {
		if r := recover(); r != nil {
			if !isFault(r) {
				panic(r)
			}
			err = &FileError{File: s.name, Offset: c.offset(), Err: ErrShrank}
		}
	}()
	return s.rd.next(&s.pkt)
}

// isFault tells a memory fault turned into a panic (debug.SetPanicOnFault)
// from any other panic.
func isFault(r any) bool {
	_, ok := r.(interface{ Addr() uintptr })
	return ok
}

// Stats implements Source.
func (s *fileSource) Stats() SourceStats {
	return SourceStats{Packets: s.packets.Load(), Bytes: s.bytes.Load(), Files: s.files.Load()}
}

// Close implements Source.
func (s *fileSource) Close() error {
	s.publish()
	if !s.closed {
		s.closed = true
		s.closeCurrent()
	}
	return nil
}
