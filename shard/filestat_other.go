//go:build !linux

package shard

import (
	"os"
	"syscall"
)

// fileIdentity tells one file from another at the same path.
type fileIdentity struct {
	dev, ino uint64
	btime    int64
}

// statFile is the identity of the file at path (device and inode).
func statFile(path string) (fileIdentity, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileIdentity{}, err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileIdentity{dev: uint64(st.Dev), ino: uint64(st.Ino)}, nil
	}
	return fileIdentity{}, nil
}
