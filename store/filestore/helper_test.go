package filestore

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/cachier-go/cachier/store"
)

// The tests run helper processes by running the test binary again with
// FILESTORE_HELPER naming what to do and FILESTORE_ARGS holding a
// helperArgs in JSON. TestMain sends such a process to runHelper.

type helperArgs struct {
	Dir        string
	Opts       Options
	Fn         string
	Key        string
	Owner      string
	TTL        time.Duration
	Value      string
	Keys       int   // writer: keys 0..Keys-1 exist and may be overwritten
	Version    int64 // writer: the first version number
	CompactMin int64 // writer: compactMin, when not 0
	MaxEntries int   // Bound(Fn, MaxEntries, MaxBytes) when either is set
	MaxBytes   int64
}

func TestMain(m *testing.M) {
	if mode := os.Getenv("FILESTORE_HELPER"); mode != "" {
		var a helperArgs
		if err := json.Unmarshal([]byte(os.Getenv("FILESTORE_ARGS")), &a); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(2)
		}
		if err := runHelper(mode, a); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helper returns the command for a helper process.
func helper(t *testing.T, mode string, a helperArgs) *exec.Cmd {
	t.Helper()
	js, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FILESTORE_HELPER="+mode, "FILESTORE_ARGS="+string(js))
	cmd.Stderr = os.Stderr
	return cmd
}

func runHelper(mode string, a helperArgs) error {
	if a.CompactMin != 0 {
		compactMin = a.CompactMin
	}
	s, err := New(a.Dir, a.Opts)
	if err != nil {
		return err
	}
	if a.MaxEntries > 0 || a.MaxBytes > 0 {
		s.Bound(a.Fn, a.MaxEntries, a.MaxBytes)
	}
	ctx := context.Background()
	out := bufio.NewWriter(os.Stdout)
	switch mode {
	case "set":
		return s.Set(ctx, a.Fn, a.Key, entryOf(a.Value))
	case "delete":
		return s.Delete(ctx, a.Fn, a.Key)
	case "clear":
		return s.Clear(ctx, a.Fn)
	case "readonly":
		// Read keys 0..Keys-1 and print each value (or <miss>, or the
		// error); then try a write, print its outcome, and read key 0 again.
		get := func(k int) string {
			e, err := s.Get(ctx, a.Fn, keyN(k))
			switch {
			case errors.Is(err, store.ErrNotFound):
				return "<miss>"
			case err != nil:
				return "error: " + err.Error()
			}
			return string(e.Value)
		}
		for k := range a.Keys {
			fmt.Fprintln(out, get(k))
		}
		if err := s.Set(ctx, a.Fn, keyN(a.Keys), entryOf("new")); err != nil {
			fmt.Fprintln(out, "write refused")
		} else {
			fmt.Fprintln(out, "write accepted")
		}
		fmt.Fprintln(out, get(0))
		return out.Flush()
	case "setmany":
		// Write keys Version .. Version+Keys-1, each worth Value and its number.
		for i := a.Version; i < a.Version+int64(a.Keys); i++ {
			if err := s.Set(ctx, a.Fn, keyN(int(i)), entryOf(fmt.Sprint(a.Value, i))); err != nil {
				return err
			}
			if a.Owner == "report" { // say so, for a test that kills it
				fmt.Fprintln(out, i)
				out.Flush()
			}
		}
		return nil
	case "mark":
		// Wait for the go signal (a line on stdin), mark, report, and die
		// holding the mark.
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
			return err
		}
		got, err := s.Mark(ctx, a.Fn, a.Key, a.Owner, a.TTL)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, got)
		return out.Flush()
	case "writer":
		// Write until killed, reporting every write that returned.
		rng := rand.New(rand.NewPCG(uint64(a.Version), 7))
		next, v := a.Keys, a.Version
		for {
			k := next                         // a new key, or an existing one overwritten
			if next > 0 && rng.IntN(10) < 7 { // mostly overwrites: garbage, so compactions
				k = rng.IntN(next)
			} else {
				next++
			}
			owner := fmt.Sprint("w", v)
			if _, err := s.Mark(ctx, a.Fn, keyN(k), owner, time.Minute); err != nil {
				return err
			}
			if rng.IntN(4) == 0 {
				// A failed calculation: the mark goes, no entry.
				if err := s.Unmark(ctx, a.Fn, keyN(k), owner); err != nil {
					return err
				}
			}
			if err := s.Set(ctx, a.Fn, keyN(k), versionEntry(k, v)); err != nil {
				return err
			}
			fmt.Fprintln(out, k, v)
			if err := out.Flush(); err != nil {
				return err
			}
			v++
		}
	}
	return fmt.Errorf("unknown helper mode %q", mode)
}

func keyN(i int) string { return fmt.Sprintf("%032x", i) }

// versionEntry is the entry the writer helper writes for key k at version
// v: between 16 bytes and 192 KiB, self-checking, its time derived from v.
func versionEntry(k int, v int64) store.Entry {
	rng := rand.New(rand.NewPCG(uint64(k), uint64(v)))
	n := 16 + rng.IntN(4096)
	if rng.IntN(8) == 0 {
		n = 16 + rng.IntN(192<<10)
	}
	b := make([]byte, n)
	for i := 16; i < n; i++ {
		b[i] = byte(rng.Uint32())
	}
	binary.LittleEndian.PutUint32(b, uint32(k))
	binary.LittleEndian.PutUint64(b[4:], uint64(v))
	binary.LittleEndian.PutUint32(b[12:], crc32.ChecksumIEEE(b[16:]))
	return store.Entry{Value: b, Time: time.Unix(1_700_000_000+v, 0)}
}

// checkVersion reports which version of key k the entry is, or an error
// when it is not one the writer wrote.
func checkVersion(k int, e store.Entry) (int64, error) {
	b := e.Value
	if len(b) < 16 || int(binary.LittleEndian.Uint32(b)) != k || binary.LittleEndian.Uint32(b[12:]) != crc32.ChecksumIEEE(b[16:]) {
		return 0, fmt.Errorf("key %d: value is not one the writer wrote (%d bytes)", k, len(b))
	}
	v := int64(binary.LittleEndian.Uint64(b[4:]))
	want := versionEntry(k, v)
	if string(want.Value) != string(b) || !want.Time.Equal(e.Time) {
		return 0, fmt.Errorf("key %d: version %d does not match what was written (time %v)", k, v, e.Time)
	}
	return v, nil
}

func entryOf(s string) store.Entry {
	return store.Entry{Value: []byte(s), Time: time.Now().Truncate(time.Millisecond)}
}

// readLines sends the lines r yields to a channel, closed at EOF.
func readLines(r io.Reader) <-chan string {
	c := make(chan string, 64)
	go func() {
		defer close(c)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			c <- sc.Text()
		}
	}()
	return c
}
