//go:build !cgo

package capture

import (
	"errors"
	"fmt"
)

// ErrNoLibpcap is returned by OpenLive and ListInterfaces in a build without
// cgo: live capture needs libpcap.
var ErrNoLibpcap = errors.New("capture: built without cgo (CGO_ENABLED=0): live capture needs libpcap; capture files can still be read with -r")

// ListInterfaces returns ErrNoLibpcap in a build without cgo.
func ListInterfaces() ([]Interface, error) { return nil, ErrNoLibpcap }

// OpenLive returns ErrNoLibpcap in a build without cgo.
func OpenLive(LiveOptions) (Source, error) { return nil, ErrNoLibpcap }

// FilterSource returns src itself for an empty expression and ErrNoLibpcap
// otherwise in a build without cgo: libpcap compiles BPF filters.
func FilterSource(src Source, expr string) (Source, error) {
	if expr == "" {
		return src, nil
	}
	return nil, fmt.Errorf("capture: filter %q: libpcap compiles filters: %w", expr, ErrNoLibpcap)
}
