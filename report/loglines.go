package report

import "strconv"

// LogLine is a line of the user's nginx error log joined to a handshake.
// Text is attacker-controlled in part (request line, Host header).
type LogLine struct {
	File string
	Line int64
	Text string
}

func appendLogLine(dst []byte, l *LogLine) []byte {
	dst = append(dst, `{"file":`...)
	dst = appendJSONString(dst, l.File, false)
	dst = append(dst, `,"line":`...)
	dst = strconv.AppendInt(dst, l.Line, 10)
	dst = append(dst, `,"text":`...)
	dst = appendJSONString(dst, l.Text, true)
	return append(dst, '}')
}

// appendLogLines writes each line as `nginx log (FILE:LINE): TEXT`, with
// controls, escape sequences and invalid UTF-8 escaped (the JSON output
// keeps the exact bytes).
func appendLogLines(b []byte, indent string, lines []LogLine) []byte {
	for _, l := range lines {
		b = append(b, indent...)
		b = append(b, "nginx log ("...)
		b = appendEscapedText(b, l.File)
		b = append(b, ':')
		b = strconv.AppendInt(b, l.Line, 10)
		b = append(b, "): "...)
		b = appendEscapedText(b, l.Text)
		b = append(b, '\n')
	}
	return b
}

// NginxStats are the counts of the nginx error-log join, for the summary.
type NginxStats struct {
	// Lines are the upstream TLS lines read; Joined those joined to a
	// handshake; Unexplained those no captured handshake explains.
	Lines, Joined, Unexplained uint64
	// Silent counts failed handshakes with no log line.
	Silent uint64
	// Skipped counts other lines: not about upstream TLS, malformed, too
	// long.
	Skipped uint64
}
