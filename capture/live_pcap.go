//go:build cgo

package capture

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/gopacket/pcap"
)

// ListInterfaces returns the interfaces libpcap can capture on.
func ListInterfaces() ([]Interface, error) {
	devs, err := pcap.FindAllDevs()
	if err != nil {
		return nil, fmt.Errorf("capture: list interfaces: %w", err)
	}
	out := make([]Interface, 0, len(devs))
	for _, d := range devs {
		ifc := Interface{Name: d.Name, Description: d.Description}
		for _, a := range d.Addresses {
			if ip, ok := netip.AddrFromSlice(a.IP); ok {
				ifc.Addresses = append(ifc.Addresses, ip.Unmap())
			}
		}
		out = append(out, ifc)
	}
	return out, nil
}

// LiveSource is the Source OpenLive returns. Besides Source it gives the
// link type and the libpcap handle (e.g. to write pcaps of what it reads).
type LiveSource struct {
	h    *pcap.Handle
	name string // interface, for errors
	link LinkType
	pkt  Packet

	index     uint64
	packets   atomic.Uint64
	bytes     atomic.Uint64
	closeOnce sync.Once
	closed    atomic.Bool

	mu       sync.Mutex // guards the kernel counters and the stats call
	lastStat SourceStats
}

// OpenLive opens a live capture on o.Interface with libpcap. Errors say
// what to do: ErrPermission (root or capabilities needed),
// ErrNoSuchInterface (with the list of real interfaces), or libpcap's
// message for a bad filter. The Source is a *LiveSource.
func OpenLive(o LiveOptions) (Source, error) {
	if o.Interface == "" {
		return nil, errors.New("capture: no interface given")
	}
	snap := o.Snaplen
	if snap <= 0 {
		snap = MaxSnaplen
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 200 * time.Millisecond
	}
	in, err := pcap.NewInactiveHandle(o.Interface)
	if err != nil {
		return nil, liveError(o.Interface, "open", err)
	}
	defer in.CleanUp()
	if err := in.SetSnapLen(snap); err != nil {
		return nil, liveError(o.Interface, "set snaplen", err)
	}
	if err := in.SetPromisc(o.Promisc); err != nil {
		return nil, liveError(o.Interface, "set promiscuous mode", err)
	}
	if o.BufferSize > 0 {
		if err := in.SetBufferSize(o.BufferSize); err != nil {
			return nil, liveError(o.Interface, "set buffer size", err)
		}
	}
	if err := in.SetImmediateMode(o.Immediate); err != nil {
		return nil, liveError(o.Interface, "set immediate mode", err)
	}
	if err := in.SetTimeout(timeout); err != nil {
		return nil, liveError(o.Interface, "set timeout", err)
	}
	h, err := in.Activate()
	if err != nil {
		return nil, liveError(o.Interface, "activate", err)
	}
	if o.Filter != "" {
		if err := h.SetBPFFilter(o.Filter); err != nil {
			h.Close()
			return nil, fmt.Errorf("capture: %s: bad filter %q: %w", o.Interface, o.Filter, lowerFirst(err))
		}
	}
	return &LiveSource{h: h, name: o.Interface, link: handleLinkType(h)}, nil
}

// handleLinkType returns the handle's full DLT value. gopacket's LinkType
// keeps only the low 8 bits of pcap_datalink; the full value is found among
// the handle's possible link types (pcap_list_datalinks), by name.
func handleLinkType(h *pcap.Handle) LinkType {
	low := uint32(h.LinkType())
	dls, err := h.ListDataLinks()
	if err != nil {
		return LinkType(low)
	}
	found, n := LinkType(low), 0
	for _, dl := range dls {
		v := pcap.DatalinkNameToVal(dl.Name)
		if v >= 0 && uint32(v)&0xff == low {
			found = LinkType(v)
			n++
		}
	}
	if n != 1 {
		return LinkType(low)
	}
	return found
}

// liveError turns libpcap's activation errors into ones a person can act on.
func liveError(ifname, op string, err error) error {
	msg := err.Error()
	lm := strings.ToLower(msg)
	switch {
	case strings.Contains(lm, "permission") || strings.Contains(lm, "not permitted"):
		return fmt.Errorf("capture: %s: %s: %w", ifname, op, ErrPermission)
	case strings.Contains(lm, "no such device") || strings.Contains(lm, "doesn't exist"):
		return fmt.Errorf("capture: %s: %w; interfaces: %s", ifname, ErrNoSuchInterface, interfaceNames())
	}
	return fmt.Errorf("capture: %s: %s: %w", ifname, op, lowerFirst(err))
}

func interfaceNames() string {
	ifs, err := ListInterfaces()
	if err != nil || len(ifs) == 0 {
		return "(none found)"
	}
	names := make([]string, len(ifs))
	for i, ifc := range ifs {
		names[i] = ifc.Name
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// lowerFirst lower-cases the first letter of libpcap's message.
func lowerFirst(err error) error {
	s := err.Error()
	if s != "" && s[0] >= 'A' && s[0] <= 'Z' && (len(s) < 2 || !(s[1] >= 'A' && s[1] <= 'Z')) {
		return errors.New(string(s[0]+'a'-'A') + s[1:])
	}
	return err
}

// Link returns the capture's link type (the full DLT value).
func (s *LiveSource) Link() LinkType { return s.link }

// Handle returns the underlying libpcap handle. Reading from it directly
// competes with Next.
func (s *LiveSource) Handle() *pcap.Handle { return s.h }

// Next implements Source. It returns (nil, nil) when the read timeout
// expires with no packet, so that the caller can advance its timers, and
// io.EOF after Close. When the interface goes away it returns libpcap's
// error, naming the interface ("capture: eth1: read: the interface
// disappeared"), so that a supervisor's log says which one.
func (s *LiveSource) Next() (*Packet, error) {
	if s.closed.Load() {
		return nil, io.EOF
	}
	data, ci, err := s.h.ZeroCopyReadPacketData()
	if err != nil {
		if err == pcap.NextErrorTimeoutExpired {
			return nil, nil
		}
		if err == io.EOF {
			return nil, io.EOF
		}
		// libpcap's own message (pcap_geterr) says more, e.g. "The
		// interface disappeared".
		if perr := s.h.Error(); perr != nil && perr.Error() != "" {
			err = perr
		}
		return nil, fmt.Errorf("capture: %s: read: %w", s.name, lowerFirst(err))
	}
	s.index++
	s.pkt = Packet{
		Data:   data,
		TS:     ci.Timestamp.UnixNano(),
		CapLen: ci.CaptureLength,
		Len:    ci.Length,
		Link:   s.link,
		Index:  s.index,
	}
	s.packets.Add(1)
	s.bytes.Add(uint64(ci.CaptureLength))
	return &s.pkt, nil
}

// Stats implements Source: packets and bytes returned so far and the
// kernel's counters (pcap_stats). Safe to call from any goroutine.
func (s *LiveSource) Stats() SourceStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed.Load() {
		if st, err := s.h.Stats(); err == nil {
			s.lastStat.Received = uint64(uint32(st.PacketsReceived))
			s.lastStat.Dropped = uint64(uint32(st.PacketsDropped))
			s.lastStat.IfDropped = uint64(uint32(st.PacketsIfDropped))
		}
	}
	out := s.lastStat
	out.Packets = s.packets.Load()
	out.Bytes = s.bytes.Load()
	return out
}

// Close implements Source: it stops the capture, and a Next blocked in
// another goroutine returns io.EOF.
func (s *LiveSource) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		if st, err := s.h.Stats(); err == nil {
			s.lastStat.Received = uint64(uint32(st.PacketsReceived))
			s.lastStat.Dropped = uint64(uint32(st.PacketsDropped))
			s.lastStat.IfDropped = uint64(uint32(st.PacketsIfDropped))
		}
		s.closed.Store(true)
		s.mu.Unlock()
		s.h.Close()
	})
	return nil
}
