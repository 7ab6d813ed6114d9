package top

import (
	"errors"
	"io"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
)

// Run shows the view full-screen on the terminal out until the user quits
// with q or Ctrl+C, or the process gets SIGTERM or SIGINT. Keys are read
// from in; nil means standard input, or the controlling terminal when
// standard input is not one (it may be the capture: -r -).
func Run(cfg Config, in io.Reader, out io.Writer) error {
	// The colour decision is the command's (--color, NO_COLOR): the view
	// writes basic ANSI colours or none, and the renderer passes them on
	// as they are.
	profile := colorprofile.Ascii
	if cfg.Color {
		profile = colorprofile.ANSI
	}
	opts := []tea.ProgramOption{tea.WithOutput(out), tea.WithColorProfile(profile)}
	if in != nil {
		opts = append(opts, tea.WithInput(in))
	}
	_, err := tea.NewProgram(New(cfg), opts...).Run()
	if errors.Is(err, tea.ErrInterrupted) {
		return nil // SIGINT: a way to quit, as for the main command
	}
	return err
}
