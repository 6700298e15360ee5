package cachier_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The file backend is built into the core, which opens the file store
// (store/filestore) from the tag: the registrations only name the directory
// and the layout.
func init() {
	backends["file"] = backendDef{open: openFile(""), crossProcess: true}
	backends["file-separate"] = backendDef{open: openFile(",separate_files"), crossProcess: true}
}

// openFile returns the opener of the file backend with the extra tag keys
// in extra.
func openFile(extra string) func(t *testing.T, dir string) backend {
	return func(t *testing.T, dir string) backend {
		t.Helper()
		return backend{tag: "backend=file,cache_dir=" + tagDir(t, dir) + extra}
	}
}

// tagDir returns a name for dir that a tag can hold: dir itself, or, when
// it has a comma (which ends a tag value), a symbolic link to it in the
// system's temporary directory, named after dir so that every process of a
// race finds the same one. The link is left behind: another process of the
// race may still be using it when this test ends.
func tagDir(t *testing.T, dir string) string {
	t.Helper()
	if !strings.Contains(dir, ",") {
		return dir
	}
	h := sha256.Sum256([]byte(dir))
	link := filepath.Join(os.TempDir(), "cachier-file-"+hex.EncodeToString(h[:8]))
	if err := os.Symlink(dir, link); err != nil && !errors.Is(err, fs.ErrExist) {
		t.Fatalf("cache_dir %q has a comma, and linking to it: %v", dir, err)
	}
	return link
}
