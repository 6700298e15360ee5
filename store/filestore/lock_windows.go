//go:build windows

package filestore

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/windows"
)

// tryLock takes an exclusive LockFileEx lock on the first byte of f without
// blocking, and reports whether it got it. Windows releases the lock when
// the handle is closed, including when the process dies.
func tryLock(f *os.File) (bool, error) {
	ol := new(windows.Overlapped)
	err := windows.LockFileEx(windows.Handle(f.Fd()),
		windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, windows.ERROR_LOCK_VIOLATION), errors.Is(err, windows.ERROR_IO_PENDING):
		return false, nil
	}
	return false, err
}

// unlock releases the lock taken by tryLock.
func unlock(f *os.File) error {
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, new(windows.Overlapped))
}

// noFollow is 0 on Windows, which has no O_NOFOLLOW: the store checks
// paths with Lstat before opening them instead.
const noFollow = 0

// syncDir is a no-op on Windows, where a directory cannot be opened for
// syncing; NTFS journals the rename itself.
func syncDir(string) error { return nil }

// openFile opens an existing file for reading, and writing with rw,
// sharing it for deletion, so that another process (or this one) can
// rename a new version over it while it is open, as on Unix. os.Open does
// not share deletion.
//
// It refuses a symbolic link (or other reparse point), checked with Lstat
// just before: Windows has no O_NOFOLLOW.
func openFile(path string, rw bool) (*os.File, error) {
	if err := notLink(path); err != nil {
		return nil, err
	}
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	access := uint32(windows.GENERIC_READ)
	if rw {
		access |= windows.GENERIC_WRITE
	}
	h, err := windows.CreateFile(p, access,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		nil, windows.OPEN_EXISTING, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}

// stillLinked is not known here (ok false): the caller compares the file
// with the one at its path.
func stillLinked(f *os.File) (linked bool, size int64, ok bool) { return false, 0, false }
