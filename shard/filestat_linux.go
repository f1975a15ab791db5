package shard

import "golang.org/x/sys/unix"

// fileIdentity tells one file from another at the same path.
type fileIdentity struct {
	dev, ino uint64
	btime    int64
}

// statFile is the identity of the file at path (statx: device, inode and,
// where the file system keeps it, birth time).
func statFile(path string) (fileIdentity, error) {
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, 0, unix.STATX_INO|unix.STATX_BTIME, &st); err != nil {
		return fileIdentity{}, err
	}
	id := fileIdentity{dev: unix.Mkdev(st.Dev_major, st.Dev_minor), ino: st.Ino}
	if st.Mask&unix.STATX_BTIME != 0 {
		id.btime = st.Btime.Sec*1e9 + int64(st.Btime.Nsec)
	}
	return id, nil
}
