package filestore

import (
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cachier-go/cachier/store"
)

func TestNotValueStore(t *testing.T) {
	var s store.Store = newStore(t, t.TempDir(), Options{})
	if _, ok := s.(store.ValueStore); ok {
		t.Fatal("the file store implements store.ValueStore, which a store that crosses processes must not")
	}
	if _, ok := s.(store.Waiter); !ok {
		t.Fatal("the file store does not implement store.Waiter")
	}
}

func TestNewCreatesDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", "cache")
	s := newStore(t, dir, Options{})
	if s.Dir() != dir {
		t.Fatalf("Dir() = %q, want %q", s.Dir(), dir)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o700 {
		t.Fatalf("cache dir mode %v, want 0700", fi.Mode().Perm())
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	if _, err := New(f, Options{}); err == nil {
		t.Fatal("New over a regular file succeeded")
	}
	if _, err := New("", Options{}); err == nil {
		t.Fatal("New with an empty dir succeeded")
	}
}

var oddNames = []string{
	"example.com/app.Service.Fetch",
	"with/slashes/../and\\backslashes",
	"../../escape",
	"/absolute/path",
	" spaces:colons*stars?\"quotes\"<>|",
	".ünïcödé.函数.🙂",
	"函数",
	strings.Repeat("long", 100),
	strings.Repeat("long", 100) + "2",
	"CON", "nul.txt", "com1", "LPT9.x",
	"...", ".", "",
	"Case", "case",
	"a\x00b", "a\nb",
}

// TestFileNames: every identity gets files of its own, inside the cache
// directory, with names every OS accepts, and modes 0600 and 0700.
func TestFileNames(t *testing.T) {
	for _, l := range twoLayouts {
		t.Run(l.name, func(t *testing.T) {
			dir := t.TempDir()
			s := newStore(t, dir, l.o)
			for i, fn := range oddNames {
				mustSet(t, s, fn, keyN(i), fn)
				if _, err := s.Mark(bg, fn, keyN(100+i), "me", time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			r := newStore(t, dir, l.o)
			for i, fn := range oddNames {
				if got := value(t, r, fn, keyN(i)); got != fn {
					t.Fatalf("function %q reads %q", fn, got)
				}
			}
			seen := map[string]string{}
			for _, fn := range oddNames {
				b := baseName(fn)
				if prev, dup := seen[strings.ToLower(b)]; dup {
					t.Fatalf("%q and %q share the file stem %q", prev, fn, b)
				}
				seen[strings.ToLower(b)] = fn
			}
			err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
				if err != nil || path == dir {
					return err
				}
				name := d.Name()
				if len(name) > 255 || strings.HasPrefix(name, ".") || reserved(name) {
					t.Errorf("bad file name %q", name)
				}
				for _, r := range name {
					if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.~", r)) {
						t.Errorf("file name %q has %q", name, r)
					}
				}
				fi, err := d.Info()
				if err != nil {
					return err
				}
				want := fs.FileMode(0o600)
				if d.IsDir() {
					want = 0o700
					if filepath.Dir(path) != dir || !strings.HasSuffix(name, ".d") {
						t.Errorf("unexpected directory %s", path)
					}
				}
				if runtime.GOOS != "windows" && fi.Mode().Perm() != want {
					t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	if got := baseName("CON"); !strings.HasPrefix(got, "_CON.") {
		t.Errorf("baseName(CON) = %q", got)
	}
	if got := entryName("NUL"); strings.HasPrefix(strings.ToUpper(got), "NUL") {
		t.Errorf("entryName(NUL) = %q", got)
	}
}

// snapshot maps every file under dir to a digest of its content.
func snapshot(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	m := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		m[path] = sha256.Sum256(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestOwnFilesOnly: Clear, ClearMarks and DeleteStale of one function leave
// every other file in the directory alone: other functions' (including one
// whose name extends this one's), other layouts', and files that are not
// the store's at all.
func TestOwnFilesOnly(t *testing.T) {
	for _, l := range twoLayouts {
		t.Run(l.name, func(t *testing.T) {
			dir := t.TempDir()
			const f = "pkg.F"
			others := []string{"pkg.G", f + "x", "pkg", f[:len(f)-1]}
			s := newStore(t, dir, l.o)
			other := newStore(t, dir, Options{SeparateFiles: !l.o.SeparateFiles})
			for i, g := range others {
				mustSet(t, s, g, keyN(i), g)
				mustSet(t, other, f, keyN(i), "other layout")
				if _, err := s.Mark(bg, g, keyN(50), "me", time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			base := baseName(f)
			foreign := map[string]string{
				"notes.txt":                              "mine",
				base + ".log.bak":                        "a backup someone made",
				base + ".lock2":                          "x",
				filepath.Join("sub", "a.entry"):          "not ours",
				filepath.Join(base+".dx", "x.entry"):     "not ours",
				"0123456789abcdef0123456789abcdef.entry": "a stray entry file",
			}
			for name, content := range foreign {
				p := filepath.Join(dir, name)
				os.MkdirAll(filepath.Dir(p), 0o700)
				if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			// f's own entries and marks.
			mustSet(t, s, f, keyN(1), "old")
			if err := s.Set(bg, f, keyN(2), store.Entry{Value: []byte("older"), Time: time.Now().Add(-time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Mark(bg, f, keyN(3), "me", time.Hour); err != nil {
				t.Fatal(err)
			}
			st := s.state(f)
			mine := func(p string) bool {
				if st.entDir != "" {
					return strings.HasPrefix(p, st.entDir+string(filepath.Separator))
				}
				return p == st.logPath || p == st.lockPath
			}
			before := snapshot(t, dir)
			for p := range before {
				if mine(p) {
					delete(before, p)
				}
			}
			if len(before) < len(foreign)+2*len(others) {
				t.Fatalf("only %d files not f's: %v", len(before), before)
			}
			for _, op := range []func() error{
				func() error { return s.DeleteStale(bg, f, time.Now().Add(-time.Minute)) },
				func() error { return s.ClearMarks(bg, f) },
				func() error { return s.Clear(bg, f) },
			} {
				if err := op(); err != nil {
					t.Fatal(err)
				}
				after := snapshot(t, dir)
				for p, sum := range before {
					if after[p] != sum {
						t.Fatalf("%s was changed or removed", p)
					}
				}
			}
			if got := value(t, s, f, keyN(1)); got != "<miss>" {
				t.Fatalf("after Clear f reads %q", got)
			}
			for i, g := range others {
				if got := value(t, s, g, keyN(i)); got != g {
					t.Fatalf("%s reads %q after f was cleared", g, got)
				}
				if ok, _ := s.Mark(bg, g, keyN(50), "you", time.Hour); ok {
					t.Fatalf("%s lost its mark when f was cleared", g)
				}
				if got := value(t, other, f, keyN(i)); got != "other layout" {
					t.Fatalf("the other layout's f reads %q", got)
				}
			}
		})
	}
}

// TestDeleteStaleKeepsFresh: DeleteStale removes exactly the entries older
// than the cutoff, as every process sees it.
func TestDeleteStaleAcrossStores(t *testing.T) {
	for _, l := range twoLayouts {
		t.Run(l.name, func(t *testing.T) {
			dir := t.TempDir()
			const fn = "pkg.F"
			a, b := newStore(t, dir, l.o), newStore(t, dir, l.o)
			now := time.Now()
			for i := range 10 {
				e := store.Entry{Value: []byte{byte(i)}, Time: now.Add(time.Duration(i-5) * time.Hour)}
				if err := a.Set(bg, fn, keyN(i), e); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 10 {
				value(t, b, fn, keyN(i)) // b caches what it reads
			}
			if err := a.DeleteStale(bg, fn, now); err != nil {
				t.Fatal(err)
			}
			for _, s := range []*Store{a, b, newStore(t, dir, l.o)} {
				for i := range 10 {
					got := value(t, s, fn, keyN(i))
					if (i < 5) != (got == "<miss>") {
						t.Fatalf("entry %d (%dh old) after DeleteStale: %q", i, 5-i, got)
					}
				}
			}
		})
	}
}

// TestLockTimeout: a writer that cannot get the lock gives up after the
// store's timeout, with an error, leaving the entry as it was; readers take
// no lock and go on.
func TestLockTimeout(t *testing.T) {
	for _, l := range twoLayouts {
		t.Run(l.name, func(t *testing.T) {
			dir := t.TempDir()
			const fn = "pkg.F"
			o := l.o
			o.Timeout = 200 * time.Millisecond
			a, holder := newStore(t, dir, o), newStore(t, dir, l.o)
			mustSet(t, a, fn, keyN(1), "before")
			release, err := holder.state(fn).acquire(bg)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = a.Set(bg, fn, keyN(1), entryOf("during"))
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Set while another holds the lock: %v, want a deadline error", err)
			}
			if el := time.Since(start); el < o.Timeout {
				t.Fatalf("gave up after %v, before the timeout %v", el, o.Timeout)
			}
			ctx, cancel := context.WithCancel(bg)
			cancel()
			if _, err := a.Mark(ctx, fn, keyN(1), "me", time.Minute); !errors.Is(err, context.Canceled) {
				t.Fatalf("Mark with a cancelled context: %v", err)
			}
			if got := value(t, a, fn, keyN(1)); got != "before" {
				t.Fatalf("while locked: %q, want %q", got, "before")
			}
			release()
			mustSet(t, a, fn, keyN(1), "after")
			if got := value(t, holder, fn, keyN(1)); got != "after" {
				t.Fatalf("after the lock was released: %q", got)
			}
		})
	}
}

// TestWait: a Wait returns once another store writes the key, after which
// a Get finds it, with NoReload too; and Wait returns at once when its
// context is done.
func TestWait(t *testing.T) {
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			dir := t.TempDir()
			const fn = "pkg.F"
			a, b := newStore(t, dir, l.o), newStore(t, dir, l.o)
			value(t, b, fn, keyN(1)) // b has looked at the function
			if ok, err := a.Mark(bg, fn, keyN(1), "a", time.Hour); !ok || err != nil {
				t.Fatalf("Mark = %v, %v", ok, err)
			}
			if ok, _ := b.Mark(bg, fn, keyN(1), "b", time.Hour); ok {
				t.Fatal("b took a's mark")
			}
			done := make(chan error)
			go func() {
				for {
					if err := b.Wait(bg, fn, keyN(1)); err != nil {
						done <- err
						return
					}
					if _, err := b.Get(bg, fn, keyN(1)); err == nil {
						done <- nil
						return
					}
				}
			}()
			mustSet(t, a, fn, keyN(1), "computed")
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(bg)
			cancel()
			if err := b.Wait(ctx, fn, keyN(2)); err == nil {
				// A change since b's last look may also end it; then the
				// next Wait must see the cancellation.
				if err := b.Wait(ctx, fn, keyN(2)); !errors.Is(err, context.Canceled) {
					t.Fatalf("Wait with a cancelled context: %v", err)
				}
			}
		})
	}
}

// TestBuildsEverywhere: the store, its file locking included, builds for
// Linux, macOS and Windows; and for Plan 9, where it has no file locks
// (lock_other.go).
func TestBuildsEverywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("builds for other systems")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	for _, goos := range []string{"darwin", "windows", "plan9"} {
		cmd := exec.Command(gobin, "build", "-o", os.DevNull, ".")
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("GOOS=%s go build: %v\n%s", goos, err, out)
		}
	}
}
