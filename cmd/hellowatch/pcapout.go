package main

import (
	"bufio"
	"os"
	"sync"

	"github.com/hellowatch/hellowatch/capture"
	"github.com/hellowatch/hellowatch/report"
)

// pcapOut is the -w file. The capture workers write failed flows' packets
// into it while the main goroutine flushes it after each live record, so
// every use takes mu.
type pcapOut struct {
	mu     sync.Mutex
	f      *os.File
	buf    *bufio.Writer
	w      *report.PcapngWriter
	err    error // the first write error
	closed bool
}

func createPcapOut(name string, snaplen int) (*pcapOut, error) {
	f, err := os.Create(name)
	if err != nil {
		return nil, err
	}
	o := &pcapOut{f: f, buf: bufio.NewWriterSize(f, 256<<10)}
	if o.w, err = report.NewPcapngWriter(o.buf, uint32(snaplen)); err != nil {
		f.Close()
		return nil, err
	}
	return o, nil
}

// write is Config.PacketOut.
func (o *pcapOut) write(p *capture.Packet) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err == nil {
		o.err = o.w.WritePacket(uint32(p.Link), p.Time(), p.Data, p.Len)
	}
}

// flush writes out what is buffered; it returns the first error so far.
func (o *pcapOut) flush() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err == nil {
		o.err = o.buf.Flush()
	}
	return o.err
}

// close flushes and closes the file; later calls do nothing.
func (o *pcapOut) close() error {
	if o.closed {
		return nil
	}
	o.closed = true
	err := o.flush()
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	return err
}
