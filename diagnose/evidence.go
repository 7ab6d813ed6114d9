package diagnose

// Evidence: the sentences that say what the capture shows.

import (
	"strconv"
	"time"

	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/tlsparse"
)

// HelloDecoded reports whether h's ClientHello was parsed (it may have been
// lost to a capture gap): without it nobody can say the SNI was missing.
func HelloDecoded(h *handshake.Handshake) bool {
	return h.HasSNI || len(h.ClientVersions) > 0 || h.ClientLegacyVer != 0 || h.JA3 != ""
}

// noSNI reports whether the ClientHello is known to carry no SNI.
func noSNI(h *handshake.Handshake) bool { return !h.HasSNI && HelloDecoded(h) }

// firstPlain returns the first plaintext alert sent by side, or nil.
func firstPlain(h *handshake.Handshake, side handshake.Side) *handshake.AlertRecord {
	for i := range h.Alerts {
		if a := &h.Alerts[i]; a.Sender == side && !a.Encrypted {
			return a
		}
	}
	return nil
}

// firstAny returns the first alert (encrypted or not) sent by side, or nil.
func firstAny(h *handshake.Handshake, side handshake.Side) *handshake.AlertRecord {
	for i := range h.Alerts {
		if a := &h.Alerts[i]; a.Sender == side {
			return a
		}
	}
	return nil
}

func anyAlert(h *handshake.Handshake, d tlsparse.AlertDescription) bool {
	for _, a := range h.Alerts {
		if !a.Encrypted && a.Description == d {
			return true
		}
	}
	return false
}

// fmtDur renders a duration for people: "0.4 ms", "12.3 ms", "1.52 s".
func fmtDur(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d < time.Second {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s"
}

// since returns " 0.4 ms after the ClientHello" or "" when a time is missing.
func (d *diag) since(t time.Time) string {
	if t.IsZero() || d.h.ClientHelloTime.IsZero() {
		return ""
	}
	return ", " + fmtDur(t.Sub(d.h.ClientHelloTime)) + " after the ClientHello"
}

func levelWord(l tlsparse.AlertLevel) string {
	if l == tlsparse.AlertLevelWarning || l == tlsparse.AlertLevelFatal {
		return l.String()
	}
	return "level-" + strconv.Itoa(int(l))
}

// alertEvidence: "server sent fatal alert handshake_failure (40) in packet 6, 0.4 ms after the ClientHello".
func (d *diag) alertEvidence(a *handshake.AlertRecord) string {
	s := a.Sender.String() + " sent " + levelWord(a.Level) + " alert " + alertLabel(a.Description)
	switch {
	case a.Encrypted:
		s = a.Sender.String() + " sent an encrypted alert"
	case d.isQUIC():
		s = d.quicAlertEvidence(a)
	}
	if a.Packet > 0 {
		s += " in packet " + strconv.FormatUint(a.Packet, 10)
	}
	return s + d.since(a.Time)
}

func (d *diag) helloEvidence() []string {
	h := d.h
	var ev []string
	switch {
	case h.HasSNI:
		ev = append(ev, "ClientHello server_name is "+strconv.Quote(h.ServerName))
	case !HelloDecoded(h):
		msg := "the ClientHello could not be decoded"
		if h.ClientHelloError != "" {
			msg += " (" + strconv.Quote(h.ClientHelloError) + ")"
		}
		ev = append(ev, msg)
	default:
		ev = append(ev, "ClientHello has no server_name extension")
	}
	if len(h.ClientVersions) > 0 {
		ev = append(ev, "client offered "+joinVersions(h.ClientVersions))
	}
	if h.FirstPacket > 0 {
		ev[0] += " (flow starts at packet " + strconv.FormatUint(h.FirstPacket, 10) + ")"
	}
	return ev
}

func noServerHello(ev []string) []string {
	return append(ev, "no ServerHello was sent")
}

func waited(h *handshake.Handshake) string {
	if h.EndTime.IsZero() || h.ClientHelloTime.IsZero() {
		return ""
	}
	return " for " + fmtDur(h.EndTime.Sub(h.ClientHelloTime)) + " after the ClientHello"
}
