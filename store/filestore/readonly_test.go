//go:build unix

package filestore

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// nobody is the user the read-only test's reader runs as, when the test
// runs as root (whom file permissions do not stop).
const nobody = 65534

// TestReadOnlyCacheDir: a shared, pre-filled cache that the reading
// process cannot write to (directories r-x, files r--) serves hits, in
// both layouts, and refuses writes with an error, never a panic.
//
// What it proves: the store opens the log or journal read-only when it
// cannot open it read-write, and a reader needs no write access. As root
// (the usual case in containers, and here) permission bits do not bind,
// so the reader is a child process running as the unprivileged user
// 65534, and the cache is handed to that user with write permission
// removed: its writes then fail for real in the kernel. Not as root, the
// reader is a child process of the same user.
func TestReadOnlyCacheDir(t *testing.T) {
	asRoot := os.Geteuid() == 0
	for _, l := range twoLayouts {
		t.Run(l.name, func(t *testing.T) {
			// A directory the unprivileged user can reach: t.TempDir is 0700.
			top, err := os.MkdirTemp("", "cachier-readonly-*")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
					if err == nil && d.IsDir() {
						os.Chmod(p, 0o700)
					}
					return nil
				})
				os.RemoveAll(top)
			})
			if err := os.Chmod(top, 0o755); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(top, "cache")
			const fn, n = "pkg.Shared", 5
			s := newStore(t, dir, l.o)
			for i := range n {
				mustSet(t, s, fn, keyN(i), fmt.Sprint("shared ", i))
			}
			s.Close()

			bin := os.Args[0]
			if asRoot {
				// The test binary, where the user can run it.
				bin = filepath.Join(top, "filestore.test")
				copyFile(t, os.Args[0], bin)
				if err := os.Chmod(bin, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			// Read-only: r-x directories, r-- files, owned by the reader.
			err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if asRoot {
					if err := os.Lchown(p, nobody, nobody); err != nil {
						return err
					}
				}
				if d.IsDir() {
					return nil // after the files, below
				}
				return os.Chmod(p, 0o400)
			})
			if err != nil {
				t.Fatal(err)
			}
			var dirs []string
			filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					dirs = append(dirs, p)
				}
				return nil
			})
			for _, d := range dirs {
				if err := os.Chmod(d, 0o500); err != nil {
					t.Fatal(err)
				}
			}

			cmd := helper(t, "readonly", helperArgs{Dir: dir, Opts: l.o, Fn: fn, Keys: n})
			cmd.Path, cmd.Args[0] = bin, bin
			if asRoot {
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
				cmd.Dir = top
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("reader: %v\n%s", err, stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			var want []string
			for i := range n {
				want = append(want, fmt.Sprint("shared ", i))
			}
			want = append(want, "write refused", "shared 0")
			if strings.Join(lines, "\n") != strings.Join(want, "\n") {
				t.Fatalf("the reader of a read-only cache got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}
