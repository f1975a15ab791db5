//go:build !linux

package fairshare

// background does nothing where thread niceness is not supported: heavy
// statements then yield only Go's processor (see nice_linux.go).
func background() (restore func()) { return nil }
