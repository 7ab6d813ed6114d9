// Command readloop is the read-limit baseline for bench/compare.sh: it reads a
// capture file with gopacket's pcapgo reader and ZeroCopyReadPacketData, and
// does nothing with the packets beyond counting them. No analyzer that reads
// files through the same reader can be faster than this loop.
//
// Usage:
//
//	readloop [-buf BYTES] [-mmap] FILE
//
// With -mmap it reads the same way from a read-only mapping of the file
// (pcapgo over a bytes.Reader of the mapping) instead of read(2): the
// read limit for a reader that maps files, as hellowatch does.
//
// It prints one line to stdout, key=value pairs meant for scripts:
//
//	packets=N cap_bytes=N wire_bytes=N file_bytes=N seconds=S mb_per_s=X pkts_per_s=X linktype=NAME
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/pcapgo"
)

// packetReader is what both pcapgo.Reader and pcapgo.NgReader offer.
type packetReader interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, slog.New(slog.NewTextHandler(os.Stderr, nil))))
}

func run(args []string, stdout io.Writer, logger *slog.Logger) int {
	fs := flag.NewFlagSet("readloop", flag.ContinueOnError)
	bufSize := fs.Int("buf", 1<<20, "read buffer size in bytes")
	useMmap := fs.Bool("mmap", false, "read from a memory mapping of the file instead of read(2)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: readloop [-buf BYTES] [-mmap] FILE")
		return 2
	}
	name := fs.Arg(0)
	f, err := os.Open(name)
	if err != nil {
		logger.Error("open capture", "err", err)
		return 1
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		logger.Error("stat capture", "err", err)
		return 1
	}

	start := time.Now()
	var in io.Reader = f
	if *useMmap {
		data, unmap, err := mapFile(f, st.Size())
		if err != nil {
			logger.Error("mmap capture", "file", name, "err", err)
			return 1
		}
		defer unmap()
		in = bytes.NewReader(data)
	}
	br := bufio.NewReaderSize(in, *bufSize)
	magic, err := br.Peek(4)
	if err != nil {
		logger.Error("read capture header", "file", name, "err", err)
		return 1
	}
	var (
		r        packetReader
		linkType string
	)
	// pcapng starts with a Section Header Block, type 0x0A0D0D0A in either byte order.
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		ng, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			logger.Error("open pcapng", "file", name, "err", err)
			return 1
		}
		r, linkType = ng, ng.LinkType().String()
	} else {
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			logger.Error("open pcap", "file", name, "err", err)
			return 1
		}
		r, linkType = pr, pr.LinkType().String()
	}

	var packets, capBytes, wireBytes uint64
	var sink byte
	for {
		data, ci, err := r.ZeroCopyReadPacketData()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			logger.Error("read packet", "packet", packets+1, "err", err)
			return 1
		}
		packets++
		capBytes += uint64(len(data))
		wireBytes += uint64(ci.Length)
		if len(data) > 0 {
			// Touch the packet so the loop cannot be said to skip the data.
			sink ^= data[len(data)-1]
		}
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(stdout, "packets=%d cap_bytes=%d wire_bytes=%d file_bytes=%d seconds=%.3f mb_per_s=%.1f pkts_per_s=%.0f linktype=%s sink=%d\n",
		packets, capBytes, wireBytes, st.Size(), secs,
		float64(st.Size())/1e6/secs, float64(packets)/secs, linkType, sink)
	return 0
}
