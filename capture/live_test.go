//go:build cgo

package capture

import (
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// openLiveOrSkip opens a live capture, skipping the test when the process
// may not capture.
func openLiveOrSkip(t *testing.T, o LiveOptions) *LiveSource {
	t.Helper()
	src, err := OpenLive(o)
	if errors.Is(err, ErrPermission) {
		t.Skipf("live capture needs root or CAP_NET_RAW+CAP_NET_ADMIN (setcap cap_net_raw,cap_net_admin=eip on the test binary): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src.(*LiveSource)
}

// loopbackTraffic opens a TCP connection to a listener on 127.0.0.1 and
// sends msg over it; it returns the listener's port.
func loopbackTraffic(t *testing.T, msg string) (port int, done chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	port = ln.Addr().(*net.TCPAddr).Port
	done = make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(io.Discard, c)
		c.Close()
	}()
	return port, done
}

func sendLoopback(t *testing.T, port int, msg string) {
	c, err := net.Dial("tcp4", net.JoinHostPort("127.0.0.1", itoa(port)))
	if err != nil {
		t.Error(err)
		return
	}
	c.Write([]byte(msg))
	c.Close()
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestLiveLoopback(t *testing.T) {
	for _, ifname := range []string{"lo", "any"} {
		t.Run(ifname, func(t *testing.T) {
			port, done := loopbackTraffic(t, "")
			src := openLiveOrSkip(t, LiveOptions{
				Interface: ifname,
				Filter:    "tcp and host 127.0.0.1 and port " + itoa(port),
				Snaplen:   4096,
				Immediate: true,
				Timeout:   50 * time.Millisecond,
			})
			wantLink := map[string]LinkType{"lo": LinkEthernet, "any": LinkLinuxSLL}[ifname]
			if src.Link() != wantLink && !(ifname == "any" && src.Link() == LinkLinuxSLL2) {
				t.Errorf("link %v, want %v", src.Link(), wantLink)
			}
			const msg = "hello over loopback"
			// Stats is read from another goroutine while Next runs (-race).
			statsDone := make(chan struct{})
			statsStop := make(chan struct{})
			go func() {
				defer close(statsDone)
				for {
					select {
					case <-statsStop:
						return
					case <-time.After(time.Millisecond):
						src.Stats()
					}
				}
			}()
			go sendLoopback(t, port, msg)
			deadline := time.Now().Add(5 * time.Second)
			var syn, fin, data bool
			var last uint64
			for time.Now().Before(deadline) && !(syn && fin && data) {
				p, err := src.Next()
				if err != nil {
					t.Fatal(err)
				}
				if p == nil {
					continue // timeout tick
				}
				if p.Index != last+1 || p.Link != src.Link() || p.TS == 0 || p.CapLen != len(p.Data) {
					t.Fatalf("packet %+v", p)
				}
				last = p.Index
				var d Decoded
				if r := DecodePacket(p.Link, p.Data, &d); r != SkipNone {
					t.Fatalf("packet %d: %v", p.Index, r)
				}
				if d.SrcPort != uint16(port) && d.DstPort != uint16(port) {
					t.Fatalf("filter let through %+v", d)
				}
				syn = syn || d.Flags&TCPFlagSYN != 0
				fin = fin || d.Flags&TCPFlagFIN != 0
				data = data || string(d.Payload) == msg
			}
			if !(syn && fin && data) {
				t.Fatalf("saw syn=%v fin=%v data=%v", syn, fin, data)
			}
			<-done
			close(statsStop)
			<-statsDone
			st := src.Stats()
			if st.Packets != last || st.Received < st.Packets || st.Bytes == 0 {
				t.Errorf("stats %+v after %d packets", st, last)
			}
			src.Close()
			if _, err := src.Next(); err != io.EOF {
				t.Errorf("Next after Close: %v", err)
			}
			if st2 := src.Stats(); st2.Packets != st.Packets {
				t.Errorf("stats after close %+v", st2)
			}
		})
	}
}

func TestLiveTimeoutTick(t *testing.T) {
	src := openLiveOrSkip(t, LiveOptions{Interface: "lo", Filter: "udp port 9", Timeout: 50 * time.Millisecond})
	start := time.Now()
	p, err := src.Next()
	if p != nil || err != nil {
		t.Fatalf("Next = %v, %v; want nil, nil on a timeout", p, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("timeout tick after %v", d)
	}
}

func TestLiveErrors(t *testing.T) {
	if _, err := OpenLive(LiveOptions{Interface: "lo", Filter: "tcp port"}); errors.Is(err, ErrPermission) {
		t.Skip("live capture needs root or CAP_NET_RAW")
	} else if err == nil || !strings.Contains(err.Error(), "bad filter") || !strings.HasPrefix(err.Error(), "capture: lo: ") {
		t.Errorf("bad filter: %v", err)
	}
	_, err := OpenLive(LiveOptions{Interface: "nosuchif0"})
	if !errors.Is(err, ErrNoSuchInterface) || !strings.Contains(err.Error(), "lo") {
		t.Errorf("unknown interface: %v", err)
	}
	if _, err := OpenLive(LiveOptions{}); err == nil {
		t.Error("no interface: no error")
	}
	ifs, err := ListInterfaces()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, i := range ifs {
		if i.Name == "lo" {
			found = true
			for _, a := range i.Addresses {
				if a.String() == "127.0.0.1" {
					found = true
				}
			}
		}
	}
	if !found {
		t.Errorf("lo not in %+v", ifs)
	}
}

func TestLiveErrorMessages(t *testing.T) {
	for _, tt := range []struct{ libpcap, want string }{
		{"Permission Denied", "capture: eth9: activate: permission denied: capturing needs root, or run `setcap cap_net_raw,cap_net_admin=eip` on the binary"},
		{"Error: socket: Operation not permitted", "capture: eth9: activate: permission denied"},
		{"No Such Device", "capture: eth9: no such interface; interfaces: "},
		{"Interface Not Up", "capture: eth9: activate: interface Not Up"},
	} {
		if got := liveError("eth9", "activate", errors.New(tt.libpcap)).Error(); !strings.HasPrefix(got, tt.want) {
			t.Errorf("%q: got %q, want prefix %q", tt.libpcap, got, tt.want)
		}
	}
}

// TestLivePermission runs this test binary without CAP_NET_RAW (capsh) and
// checks that OpenLive says what to do.
func TestLivePermission(t *testing.T) {
	if os.Getenv("HELLOWATCH_NOCAP_CHILD") == "1" {
		_, err := OpenLive(LiveOptions{Interface: "lo"})
		if !errors.Is(err, ErrPermission) || !strings.Contains(err.Error(), "setcap cap_net_raw,cap_net_admin=eip") {
			t.Fatalf("without capabilities: %v", err)
		}
		return
	}
	capsh, err := exec.LookPath("capsh")
	if err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and capsh to drop CAP_NET_RAW")
	}
	cmd := exec.Command(capsh, "--drop=cap_net_raw,cap_net_admin", "--", "-c", `exec "$0" "$@"`, os.Args[0], "-test.run=^TestLivePermission$", "-test.v")
	cmd.Env = append(os.Environ(), "HELLOWATCH_NOCAP_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestLivePermission") {
		t.Fatalf("child did not run the check:\n%s", out)
	}
}

// TestLiveInterfaceGone captures on a veth interface whose peer is down (no
// traffic at all) and deletes it: Next must return an error, not hang.
func TestLiveInterfaceGone(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a veth pair")
	}
	const name = "hwtest0"
	if out, err := exec.Command("ip", "link", "add", name, "type", "veth", "peer", "name", "hwtest1").CombinedOutput(); err != nil {
		t.Skipf("cannot create a veth pair: %v %s", err, out)
	}
	defer exec.Command("ip", "link", "del", name).Run()
	// Up, with its peer down: no carrier, so no packet at all.
	if out, err := exec.Command("ip", "link", "set", name, "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set up: %v %s", err, out)
	}
	src := openLiveOrSkip(t, LiveOptions{Interface: name, Timeout: 50 * time.Millisecond})
	errc := make(chan error, 1)
	go func() {
		for {
			p, err := src.Next()
			if err != nil {
				errc <- err
				return
			}
			_ = p
		}
	}()
	time.Sleep(200 * time.Millisecond)
	if out, err := exec.Command("ip", "link", "del", name).CombinedOutput(); err != nil {
		t.Fatalf("ip link del: %v %s", err, out)
	}
	select {
	case err := <-errc:
		if err == io.EOF || !strings.HasPrefix(err.Error(), "capture: ") {
			t.Errorf("Next after the interface went away: %v", err)
		}
		t.Logf("Next: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("Next hangs after the interface went away")
	}
}
