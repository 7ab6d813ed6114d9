//go:build !race

package testkit

// Race says whether the test binary was built with the race detector (go
// test -race), so that what it builds can be too.
const Race = false
