package main

import (
	"io"

	"github.com/hellowatch/hellowatch/diagnose"
	"github.com/hellowatch/hellowatch/handshake"
	"github.com/hellowatch/hellowatch/report"
)

// recordWriter is a machine-readable output: one record per handshake.
type recordWriter interface {
	Write(h *handshake.Handshake, fs []diagnose.Finding) error
}

// newRecordWriter returns the writer of --format json, zeek or ecs.
func newRecordWriter(format string, w io.Writer) recordWriter {
	switch format {
	case "zeek":
		return report.NewZeekWriter(w)
	case "ecs":
		return report.NewECSWriter(w)
	}
	return report.NewJSONWriter(w)
}
