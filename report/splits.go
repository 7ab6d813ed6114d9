package report

import (
	"io"
	"strconv"
	"strings"

	"github.com/hellowatch/hellowatch/across"
	"github.com/hellowatch/hellowatch/handshake"
)

// maxSplitsShown caps the servers listed under "what separates failures".
const maxSplitsShown = 20

// WriteSplits writes, for the end summary, what separates the failing
// handshakes to each server from the working ones (across.Stage.Splits),
// or nothing when no server had both.
func WriteSplits(w io.Writer, splits []across.Split) error {
	if len(splits) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("\nwhat separates failures from successes (per server):\n")
	for i, sp := range splits {
		if i == maxSplitsShown {
			b.WriteString("  … " + strconv.Itoa(len(splits)-i) + " more servers\n")
			break
		}
		b.WriteString("  ")
		b.Write(appendEscapedWire(nil, sp.String()))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// AppendSummaryJSON appends the JSON summary line (without a newline):
// {"type":"summary","schema":…,"handshakes":…,"established":…,"failed":…,
// "incomplete":…,"findings":{…},"servers":[{"server","failed","worked",
// "split":{"attribute","value","failed_with","worked_with","clean"}}]}.
// servers lists the servers with both failures and successes, most
// failures first (at most 100).
func (s *Summary) AppendSummaryJSON(dst []byte, splits []across.Split) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	est := s.outcomes[handshake.OutcomeEstablished]
	inc := s.outcomes[handshake.OutcomeIncomplete]
	dst = append(dst, `{"type":"summary","schema":"`+Schema+`","handshakes":`...)
	dst = strconv.AppendUint(dst, s.total, 10)
	dst = append(dst, `,"established":`...)
	dst = strconv.AppendUint(dst, est, 10)
	dst = append(dst, `,"failed":`...)
	dst = strconv.AppendUint(dst, s.total-est-inc, 10)
	dst = append(dst, `,"incomplete":`...)
	dst = strconv.AppendUint(dst, inc, 10)
	dst = append(dst, `,"findings":{`...)
	for i, c := range ranked(s.findings) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, c.Name, false)
		dst = append(dst, ':')
		dst = strconv.AppendUint(dst, c.N, 10)
	}
	dst = append(dst, `},"servers":[`...)
	for i, sp := range splits {
		if i == 100 {
			break
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"server":"`...)
		dst = sp.Server.AppendTo(dst)
		dst = append(dst, `","failed":`...)
		dst = strconv.AppendUint(dst, sp.Failed, 10)
		dst = append(dst, `,"worked":`...)
		dst = strconv.AppendUint(dst, sp.Worked, 10)
		dst = append(dst, `,"split":{"attribute":`...)
		dst = appendJSONString(dst, sp.Attribute, false)
		dst = append(dst, `,"value":`...)
		dst = appendJSONString(dst, sp.Value, true)
		dst = append(dst, `,"failed_with":`...)
		dst = strconv.AppendUint(dst, sp.FailedWith, 10)
		dst = append(dst, `,"worked_with":`...)
		dst = strconv.AppendUint(dst, sp.WorkedWith, 10)
		dst = append(dst, `,"clean":`...)
		dst = appendBool(dst, sp.Clean())
		dst = append(dst, `,"text":`...)
		dst = appendJSONString(dst, sp.String(), true)
		dst = append(dst, "}}"...)
	}
	return append(dst, "]}"...)
}
