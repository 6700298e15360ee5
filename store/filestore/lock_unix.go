//go:build unix

package filestore

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// tryLock takes an exclusive flock(2) on f without blocking, and reports
// whether it got it. flock locks belong to the open file description, so
// the kernel drops them when the process dies, however it dies.
func tryLock(f *os.File) (bool, error) {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, unix.EWOULDBLOCK):
			return false, nil
		case errors.Is(err, unix.EINTR):
			continue
		}
		return false, err
	}
}

// unlock releases the lock taken by tryLock.
func unlock(f *os.File) error {
	return unix.Flock(int(f.Fd()), unix.LOCK_UN)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// noFollow makes an open fail on a symbolic link rather than follow it.
const noFollow = unix.O_NOFOLLOW

// openFile opens an existing file for reading, and writing with rw; it
// fails on a symbolic link.
func openFile(path string, rw bool) (*os.File, error) {
	if rw {
		return os.OpenFile(path, os.O_RDWR|noFollow, 0)
	}
	return os.OpenFile(path, os.O_RDONLY|noFollow, 0)
}

// stillLinked reports whether f still has a name in the file system (a
// file removed, or replaced by a rename, has none left), and its size.
func stillLinked(f *os.File) (linked bool, size int64, ok bool) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return false, 0, false
	}
	return st.Nlink > 0, st.Size, true
}
