//go:build !unix && !windows

package filestore

import "os"

// tryLock always succeeds where the platform has no file locks (js, wasip1,
// plan9): processes do not exclude each other there.
func tryLock(*os.File) (bool, error) { return true, nil }

func unlock(*os.File) error { return nil }

func syncDir(string) error { return nil }

// noFollow is 0 where the platform has no O_NOFOLLOW: the store checks
// paths with Lstat before opening them instead.
const noFollow = 0

func openFile(path string, rw bool) (*os.File, error) {
	if err := notLink(path); err != nil {
		return nil, err
	}
	if rw {
		return os.OpenFile(path, os.O_RDWR, 0)
	}
	return os.Open(path)
}

// stillLinked is not known here (ok false): the caller compares the file
// with the one at its path.
func stillLinked(f *os.File) (linked bool, size int64, ok bool) { return false, 0, false }
