package shard

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
)

// CheckLogName is the file in the data dir that keeps the prints of
// checked tenant files across restarts (checkLog).
const CheckLogName = "tenant-checks.log"

// checkLog keeps checkedFiles across restarts, so a restarted proxy opens
// a known, unchanged file on the fast path instead of checking it in full.
//
// It is an append-only file of lines, one per print recorded after a full
// check and one per file forgotten (Evict, Remove), each ending in a CRC
// (a torn or altered line is skipped). Every line names the checker that
// wrote it: a hash of this binary, which carries the migrations and the
// audit rules. A print is only worth anything to the binary that checked
// the file, so lines of another build are ignored and dropped. Losing
// lines (a crash before the write reached the disk, a corrupt file) only
// costs full checks: nothing is fsynced.
//
// Appends take a shared flock and the rewrite at load an exclusive one, so
// a second process on the data dir (a CLI tool forgetting a file it
// restored) never loses a line to a rewrite.
type checkLog struct {
	path    string
	checker string

	f   *os.File // opened on first use; nil after a failure (the log is off)
	err error
}

// recordLine is one line of the log.
type recordLine struct {
	checker string
	forget  bool
	path    string
	p       schemaPrint
}

func (l recordLine) encode() []byte {
	op := byte('r')
	if l.forget {
		op = 'f'
	}
	b := fmt.Appendf(nil, "%s %c %d %d %d %d %d %d %s", l.checker, op,
		l.p.dev, l.p.ino, l.p.btime, l.p.cookie, l.p.migrations, l.p.version, strconv.Quote(l.path))
	return fmt.Appendf(b, " %08x\n", crc32.ChecksumIEEE(b))
}

func decodeLine(line []byte) (recordLine, bool) {
	var l recordLine
	i := bytes.LastIndexByte(line, ' ')
	if i < 0 {
		return l, false
	}
	sum, err := strconv.ParseUint(string(line[i+1:]), 16, 32)
	if err != nil || uint32(sum) != crc32.ChecksumIEEE(line[:i]) {
		return l, false
	}
	body := line[:i]
	q := bytes.IndexByte(body, '"')
	if q < 0 {
		return l, false
	}
	if l.path, err = strconv.Unquote(string(body[q:])); err != nil {
		return l, false
	}
	f := bytes.Fields(body[:q])
	if len(f) != 8 || len(f[1]) != 1 {
		return l, false
	}
	l.checker, l.forget = string(f[0]), f[1][0] == 'f'
	nums := []*int64{nil, nil, &l.p.btime, &l.p.cookie, &l.p.migrations, &l.p.version}
	for k, dst := range nums {
		if dst == nil {
			continue
		}
		if *dst, err = strconv.ParseInt(string(f[2+k]), 10, 64); err != nil {
			return l, false
		}
	}
	if l.p.dev, err = strconv.ParseUint(string(f[2]), 10, 64); err != nil {
		return l, false
	}
	if l.p.ino, err = strconv.ParseUint(string(f[3]), 10, 64); err != nil {
		return l, false
	}
	return l, true
}

func (c *checkLog) open() *os.File {
	if c.f == nil && c.err == nil {
		if c.checker == "" {
			c.checker = binaryChecker()
		}
		if c.checker == "" {
			c.err = errors.New("cannot identify this executable")
			return nil
		}
		c.f, c.err = os.OpenFile(c.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	}
	return c.f
}

// load reads this checker's prints and rewrites the file without the lines
// it no longer needs (forgotten files, other builds, damage).
func (c *checkLog) load() (map[string]schemaPrint, error) {
	f := c.open()
	if f == nil {
		return nil, c.err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return nil, err
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<40))
	if err != nil {
		return nil, err
	}
	prints := map[string]schemaPrint{}
	lines := 0
	for line := range bytes.Lines(data) {
		lines++
		l, ok := decodeLine(bytes.TrimSuffix(line, []byte("\n")))
		if !ok || l.checker != c.checker {
			continue
		}
		if l.forget {
			delete(prints, l.path)
		} else {
			prints[l.path] = l.p
		}
	}
	if lines > 2*len(prints)+64 {
		var out []byte
		for path, p := range prints {
			out = append(out, recordLine{checker: c.checker, path: path, p: p}.encode()...)
		}
		// In place under the exclusive lock: other processes' appends
		// (O_APPEND) land after it.
		if err := f.Truncate(0); err != nil {
			return prints, err
		}
		if _, err := f.Write(out); err != nil {
			return prints, err
		}
	}
	return prints, nil
}

func (c *checkLog) append(l recordLine) error {
	f := c.open()
	if f == nil {
		return c.err
	}
	l.checker = c.checker
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		return err
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	_, err := f.Write(l.encode())
	return err
}

func (c *checkLog) close() {
	if c.f != nil {
		c.f.Close()
		c.f = nil
	}
}

var binaryChecker = sync.OnceValue(func() string {
	h := sha256.New()
	exe, err := os.Executable()
	if err == nil {
		var f *os.File
		if f, err = os.Open(exe); err == nil {
			_, err = io.Copy(h, f)
			f.Close()
		}
	}
	if err != nil {
		return "" // unknown binary: nothing is persisted
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
})

func newCheckLog(dataDir, checker string) *checkLog {
	if dataDir == "" {
		return nil
	}
	if checker != "" { // a stand-in for another build (tests)
		h := sha256.Sum256([]byte(checker))
		checker = hex.EncodeToString(h[:8])
	}
	return &checkLog{path: filepath.Join(dataDir, CheckLogName), checker: checker}
}
