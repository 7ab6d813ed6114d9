//go:build race

package e2e

// raceEnabled: the tests run under the race detector (go test -race), so
// the hellowatch binary they start is built with it too.
const raceEnabled = true
