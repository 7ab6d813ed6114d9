// Command hostilegen writes one of internal/hostile's adversarial captures
// to a file: hostilegen NAME FILE. The command's tests build it without the
// race detector and run it, so that generating 100,000 authentic QUIC
// Initials or a million SYNs costs seconds, not minutes, and nothing of it
// stays in the test binary's memory.
package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/hellowatch/hellowatch/internal/hostile"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "hostilegen: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: hostilegen NAME FILE")
	}
	s, err := hostile.Capture(args[0])
	if err != nil {
		return err
	}
	f, err := os.Create(args[1])
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := s.Write(w); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
