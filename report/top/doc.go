// Package top is `hellowatch top`'s full-screen view: one row per (server,
// SNI) — handshakes per second, failures, the most frequent finding, how
// the latest failure ended, answer time p50/p95 — sorted by failures, and
// for the selected row its latest failed handshakes as the text output
// writes them (report.TextWriter), with their findings and fix.
//
// It lives under report because it is one more way of writing report's
// records out: the numbers are report.Summary's rows (Summary.Rows), the
// same ones the end summary prints, never a tally of its own, and the
// detail is report's text. It is a package of its own so that report, which
// everything imports, stays free of the TUI library (Bubble Tea), and so
// that the view's logic is testable without a terminal: Model's Update is
// a function from a key or tick to a new state, and View renders that state
// to a string of a given size. It does no capture and no I/O besides the
// terminal (Run); the command feeds it a Fetch function.
package top
