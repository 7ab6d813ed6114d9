//go:build !cgo

package capture

import "errors"

// ErrNoLibpcap is returned by OpenLive and ListInterfaces in a build without
// cgo: live capture needs libpcap.
var ErrNoLibpcap = errors.New("capture: built without cgo (CGO_ENABLED=0): live capture needs libpcap; capture files can still be read with -r")

// ListInterfaces returns ErrNoLibpcap in a build without cgo.
func ListInterfaces() ([]Interface, error) { return nil, ErrNoLibpcap }

// OpenLive returns ErrNoLibpcap in a build without cgo.
func OpenLive(LiveOptions) (Source, error) { return nil, ErrNoLibpcap }
