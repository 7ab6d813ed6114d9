package capture

/*
#cgo linux LDFLAGS: -lpcap
#include <stdlib.h>
#include <pcap/pcap.h>

static int hw_filter(struct bpf_program *prog, const unsigned char *data, unsigned int caplen, unsigned int len) {
	struct pcap_pkthdr h;
	h.ts.tv_sec = 0;
	h.ts.tv_usec = 0;
	h.caplen = caplen;
	h.len = len;
	return pcap_offline_filter(prog, &h, data);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// bpfProgram is a BPF filter compiled by libpcap for one link type. Files
// are filtered with it exactly as tcpdump -r would, including link types
// (such as LINUX_SLL2) that gopacket cannot name.
type bpfProgram struct {
	prog C.struct_bpf_program
}

// compileBPF compiles expr for link with libpcap's pcap_compile.
func compileBPF(link LinkType, snaplen int, expr string) (*bpfProgram, error) {
	p := C.pcap_open_dead(C.int(link), C.int(snaplen))
	if p == nil {
		return nil, errors.New("capture: pcap_open_dead failed")
	}
	defer C.pcap_close(p)
	cexpr := C.CString(expr)
	defer C.free(unsafe.Pointer(cexpr))
	b := &bpfProgram{}
	if C.pcap_compile(p, &b.prog, cexpr, 1, C.PCAP_NETMASK_UNKNOWN) != 0 {
		return nil, fmt.Errorf("capture: bad filter %q: %s", expr, C.GoString(C.pcap_geterr(p)))
	}
	return b, nil
}

// match runs the filter on one packet.
func (b *bpfProgram) match(data []byte, origLen int) bool {
	if len(data) == 0 {
		return false
	}
	return C.hw_filter(&b.prog, (*C.uchar)(unsafe.Pointer(&data[0])), C.uint(len(data)), C.uint(origLen)) != 0
}

func (b *bpfProgram) free() { C.pcap_freecode(&b.prog) }

// filterSource passes on only the packets that match a BPF filter.
type filterSource struct {
	Source
	expr  string
	progs map[LinkType]*bpfProgram
}

// FilterSource wraps src so that Next returns only packets matching the BPF
// expression expr (tcpdump syntax), compiled per link type on first use.
// The expression is checked at once against Ethernet so that a typo is
// reported before any packet is read.
func FilterSource(src Source, expr string) (Source, error) {
	p, err := compileBPF(LinkEthernet, MaxSnaplen, expr)
	if err != nil {
		return nil, err
	}
	return &filterSource{Source: src, expr: expr, progs: map[LinkType]*bpfProgram{LinkEthernet: p}}, nil
}

// Next returns the next matching packet.
func (f *filterSource) Next() (*Packet, error) {
	for {
		p, err := f.Source.Next()
		if p == nil || err != nil {
			return p, err
		}
		prog, ok := f.progs[p.Link]
		if !ok {
			prog, err = compileBPF(p.Link, MaxSnaplen, f.expr)
			if err != nil {
				// The filter cannot apply to this link type (libpcap says
				// why); no packet of it can match.
				prog = nil
			}
			f.progs[p.Link] = prog
		}
		if prog != nil && prog.match(p.Data, p.Len) {
			return p, nil
		}
	}
}

// Close frees the compiled filters and closes the source.
func (f *filterSource) Close() error {
	for _, p := range f.progs {
		if p != nil {
			p.free()
		}
	}
	f.progs = nil
	return f.Source.Close()
}
