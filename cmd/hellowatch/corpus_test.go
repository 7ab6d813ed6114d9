package main

// The JSON contract against the shared conformance corpus (testkit.Corpus):
// hellowatch --format json over every file in it (captures written by Zeek,
// FoxIO JA4, Arkime, Suricata and nDPI tests, plus their text files).

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/hellowatch/hellowatch/internal/testkit"
	"github.com/hellowatch/hellowatch/report"
)

// isCaptureName says whether a corpus file is meant to be a capture.
func isCaptureName(name string) bool {
	name = strings.TrimSuffix(strings.ToLower(name), ".gz")
	for _, ext := range []string{".pcap", ".pcapng", ".cap", ".trace", ".dump"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

var outcomeWords = []string{"established", "server_alert", "client_alert", "server_reset",
	"server_closed", "not_tls", "no_response", "incomplete"}

// checkContract checks one JSON line against the contract: every key of
// report.JSONKeys present, and those below with their JSON type.
func checkContract(line []byte) error {
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		return fmt.Errorf("not a JSON object: %v", err)
	}
	isStr := func(v any) bool { _, ok := v.(string); return ok }
	strOrNull := func(v any) bool { return v == nil || isStr(v) }
	strArray := func(v any) bool {
		a, ok := v.([]any)
		if !ok {
			return false
		}
		for _, e := range a {
			if !isStr(e) {
				return false
			}
		}
		return true
	}
	objArray := func(v any) bool {
		a, ok := v.([]any)
		if !ok {
			return false
		}
		for _, e := range a {
			if _, ok := e.(map[string]any); !ok {
				return false
			}
		}
		return true
	}
	types := []struct {
		key  string
		want string
		ok   func(any) bool
	}{
		{"ts", "string", isStr},
		{"client", "string", isStr},
		{"server", "string", isStr},
		{"server_name", "string or null", strOrNull},
		{"client_versions", "array of strings", strArray},
		{"version", "string or null", strOrNull},
		{"cipher", "string or null", strOrNull},
		{"alpn", "array of strings", strArray},
		{"next_protocol", "string or null", strOrNull},
		{"ja3", "string or null", strOrNull},
		{"ja4", "string or null", strOrNull},
		{"alerts", "array of objects", objArray},
		{"outcome", "outcome word", func(v any) bool { s, ok := v.(string); return ok && slices.Contains(outcomeWords, s) }},
		{"established", "bool", func(v any) bool { _, ok := v.(bool); return ok }},
		{"findings", "array of objects", objArray},
		{"history", "string", isStr},
		{"tunnel", "array of objects", objArray},
	}
	var errs []error
	for _, k := range report.JSONKeys {
		if _, present := m[k]; !present {
			errs = append(errs, fmt.Errorf("missing key %q", k))
		}
	}
	for _, ty := range types {
		if v, present := m[ty.key]; present && !ty.ok(v) {
			errs = append(errs, fmt.Errorf("%s = %v, want %s", ty.key, v, ty.want))
		}
	}
	if len(errs) == 0 && (m["established"] == true) != (m["outcome"] == "established") {
		errs = append(errs, fmt.Errorf("established %v with outcome %v", m["established"], m["outcome"]))
	}
	for _, a := range m["alerts"].([]any) {
		a := a.(map[string]any)
		for _, k := range []string{"sender", "level", "description", "code", "encrypted"} {
			if _, ok := a[k]; !ok {
				errs = append(errs, fmt.Errorf("alert %v lacks %q", a, k))
			}
		}
	}
	for _, f := range m["findings"].([]any) {
		f := f.(map[string]any)
		for _, k := range []string{"id", "summary", "hint"} {
			if !isStr(f[k]) {
				errs = append(errs, fmt.Errorf("finding %v: %q is not a string", f["id"], k))
			}
		}
	}
	return errors.Join(errs...)
}

// runNoPanic runs hellowatch in-process and turns a panic into an error
// naming the file.
func runNoPanic(t *testing.T, args ...string) (stdout, stderr string, code int, panicked error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			panicked = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	stdout, stderr, code = envRun(t, nil, args...)
	return
}

// TestCorpusJSONContract runs hellowatch --format json on every file of the
// corpus. Captures must give valid JSON lines with the contract's keys and
// types, or exit 1 with a FileError naming the file; any other file must be
// refused with exit 1 and a FileError; nothing may panic.
func TestCorpusJSONContract(t *testing.T) {
	root := testkit.Corpus(t)
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var captures, lines, fileErrors, refused int
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		capture := isCaptureName(f)
		stdout, stderr, code, panicked := runNoPanic(t, "-r", f, "--format", "json", "--summary", "never")
		if panicked != nil {
			t.Errorf("%s: %v", rel, panicked)
			continue
		}
		// Every line, also those before a FileError, keeps the contract.
		sc := bufio.NewScanner(strings.NewReader(stdout))
		sc.Buffer(make([]byte, 4<<20), 4<<20)
		n := 0
		for sc.Scan() {
			n++
			if err := checkContract(sc.Bytes()); err != nil {
				t.Errorf("%s line %d: %v\n%.600s", rel, n, err, sc.Text())
			}
		}
		if err := sc.Err(); err != nil {
			t.Errorf("%s: reading output: %v", rel, err)
		}
		lines += n
		fileErr := "hellowatch: capture: " + f + ": offset "
		switch {
		case code == exitOK && capture:
			captures++
		case code == exitError && strings.HasPrefix(stderr, fileErr):
			if capture {
				fileErrors++
				t.Logf("%s: not fully readable (exit 1, %d lines first): %s", rel, n, strings.TrimSpace(stderr))
			} else {
				refused++
			}
		case code == exitOK && !capture:
			t.Errorf("%s is not a capture but was read as one (%d lines)", rel, n)
		default:
			t.Errorf("%s: exit %d, want 0 or 1 with a FileError (%q...)\nstderr:\n%s", rel, code, fileErr, stderr)
		}
		if code == exitError && !capture && !strings.Contains(stderr, "not a pcap or pcapng file") && !strings.Contains(stderr, "empty file") {
			t.Errorf("%s: a non-capture file should be refused as not a capture:\n%s", rel, stderr)
		}
	}
	if captures == 0 {
		t.Errorf("no capture in %s could be read", root)
	}
	t.Logf("corpus %s: %d files: %d captures read (%d JSON lines), %d captures with a FileError, %d other files refused",
		root, len(files), captures, lines, fileErrors, refused)
}
