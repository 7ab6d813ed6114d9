package tlsparse

import (
	"fmt"
	"strings"
)

type hsEvent struct {
	typ  HandshakeType
	body []byte
}

// recorder is a Handler that keeps copies of everything it is told, and a
// textual log for comparing event sequences.
type recorder struct {
	hs     []hsEvent
	alerts []Alert
	log    strings.Builder
	notTLS []byte
	sslv2  []byte
}

func (r *recorder) Record(ct ContentType, v Version, n int) {
	fmt.Fprintf(&r.log, "R %v %v %d\n", ct, v, n)
}
func (r *recorder) Handshake(t HandshakeType, b []byte) {
	r.hs = append(r.hs, hsEvent{t, append([]byte(nil), b...)})
	fmt.Fprintf(&r.log, "H %v %x\n", t, b)
}
func (r *recorder) Alert(a Alert) {
	r.alerts = append(r.alerts, a)
	fmt.Fprintf(&r.log, "A %v\n", a)
}
func (r *recorder) ChangeCipherSpec() { r.log.WriteString("C\n") }
func (r *recorder) ApplicationData(n int, enc bool) {
	fmt.Fprintf(&r.log, "D %d %v\n", n, enc)
}
func (r *recorder) NotTLS(p []byte) {
	r.notTLS = append([]byte(nil), p...)
	fmt.Fprintf(&r.log, "N %q\n", p)
}
func (r *recorder) SSLv2ServerHello(b []byte) {
	r.sslv2 = append([]byte(nil), b...)
	fmt.Fprintf(&r.log, "4 %x\n", b)
}
func (r *recorder) SSLv2ClientHello(b []byte) {
	r.sslv2 = append([]byte(nil), b...)
	fmt.Fprintf(&r.log, "2 %x\n", b)
}
