package report

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// OpenZeekDir returns a ZeekWriter that appends to ssl.log and notice.log
// in dir (created if missing), as Zeek's JSON writer writes them: one
// object a line, no _path, no header. The files are opened for appending
// and reopened when they are moved or removed (logrotate's create mode,
// a shipper that renames finished files), so rotation needs no signal.
func OpenZeekDir(dir string) (*ZeekWriter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("report: zeek dir: %w", err)
	}
	ssl, err := openAppend(filepath.Join(dir, "ssl.log"))
	if err != nil {
		return nil, err
	}
	notice, err := openAppend(filepath.Join(dir, "notice.log"))
	if err != nil {
		ssl.Close()
		return nil, err
	}
	return &ZeekWriter{ssl: ssl, notice: notice, buf: make([]byte, 0, 2048), closers: []io.Closer{ssl, notice}}, nil
}

// appendFile is a log file opened for appending that follows its path: a
// write first checks that the path still names the open file and reopens
// it if not. Each Write is one write(2) with O_APPEND, so a line is never
// interleaved with another writer's.
type appendFile struct {
	path string
	f    *os.File
}

func openAppend(path string) (*appendFile, error) {
	a := &appendFile{path: path}
	if err := a.open(); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *appendFile) open() error {
	f, err := os.OpenFile(a.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("report: open %s: %w", a.path, err)
	}
	a.f = f
	return nil
}

// Write implements io.Writer.
func (a *appendFile) Write(p []byte) (int, error) {
	if a.f == nil {
		return 0, fmt.Errorf("report: write %s: closed", a.path)
	}
	if moved(a.f, a.path) {
		a.f.Close()
		if err := a.open(); err != nil {
			a.f = nil
			return 0, err
		}
	}
	return a.f.Write(p)
}

// moved reports whether path no longer names the open file f.
func moved(f *os.File, path string) bool {
	fi, err := f.Stat()
	if err != nil {
		return true
	}
	pi, err := os.Stat(path)
	return err != nil || !os.SameFile(fi, pi)
}

// Close implements io.Closer.
func (a *appendFile) Close() error {
	if a.f == nil {
		return nil
	}
	err := a.f.Close()
	a.f = nil
	return err
}
