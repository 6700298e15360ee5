package filestore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// readOnly reports whether err says a file cannot be opened for writing
// (permissions, a read-only file system), so that it may be opened for
// reading instead.
func readOnly(err error) bool {
	return errors.Is(err, fs.ErrPermission) || readOnlyFS(err)
}

// Nothing inside the store's directory is followed through a symbolic
// link: a link planted at a function's entry directory, journal, log or
// lock file (by a careless tool or by someone who can write to cache_dir)
// would otherwise make the store read another file as its cache, or write
// and create files outside cache_dir. Files are opened with O_NOFOLLOW
// (Lstat just before, where the platform has none), directories are
// checked with Lstat before files are created in them, and the paths a
// temporary file is renamed onto are checked too. The directory the store
// was given is the caller's choice and may itself be a link.

// errLink is returned for a symbolic link, or anything else that is not
// what the store expects, at one of its paths.
var errLink = errors.New("not a regular file or directory (a symbolic link?); refusing to follow it")

// notLink returns an error naming path when it exists and is a symbolic
// link or other non-regular file; a missing path is not an error.
func notLink(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if !fi.Mode().IsRegular() {
		return &fs.PathError{Op: "open", Path: path, Err: errLink}
	}
	return nil
}

// checkDir returns an error when dir exists and is not a directory (a
// symbolic link to one included); a missing dir is not an error.
func checkDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if !fi.IsDir() {
		return &fs.PathError{Op: "open", Path: dir, Err: errLink}
	}
	return nil
}

// ensureDir creates the directory of the function's files if it is
// missing, and refuses one that is a symbolic link.
func (st *fnState) ensureDir() error {
	if st.entDir == "" {
		if err := os.MkdirAll(st.s.dir, 0o700); err != nil {
			return st.errorf("%w", err)
		}
		return nil
	}
	if err := checkDir(st.entDir); err != nil {
		return st.errorf("%w", err)
	}
	if err := os.MkdirAll(st.s.dir, 0o700); err != nil {
		return st.errorf("%w", err)
	}
	if err := os.Mkdir(st.entDir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return st.errorf("%w", err)
	}
	if err := checkDir(st.entDir); err != nil { // planted since the first check
		return st.errorf("%w", err)
	}
	return nil
}

// checkEntDir refuses an entry directory that is a symbolic link.
func (st *fnState) checkEntDir() error {
	if st.entDir == "" {
		return nil
	}
	if err := checkDir(st.entDir); err != nil {
		return st.errorf("%w", err)
	}
	return nil
}

// renameInto renames the temporary file tmp onto path, refusing a path
// that is a symbolic link (which a rename would replace rather than
// follow, but which is not the store's to replace).
func renameInto(tmp, path string) error {
	if err := notLink(path); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("%w", err)
	}
	return nil
}
