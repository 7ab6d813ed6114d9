// Package report writes finished handshakes and their findings out: text
// lines for people (text.go), JSON lines for log pipelines (json.go), an
// end-of-run summary (summary.go), Prometheus metrics and the HTTP handler
// that serves them (metrics.go), and pcap/pcapng files of chosen flows
// (pcap.go). It never decides outcomes: capture and diagnose do.
//
// Strings taken off the wire are never printed raw: EscapeWire for text,
// reversible escaping for JSON (see JSONWriter).
package report
