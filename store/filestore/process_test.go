package filestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cachier-go/cachier/store"
)

var twoLayouts = layouts[:2]

// TestKillWriter kills a process writing to the cache with SIGKILL, again
// and again at random moments (mid-append, mid-compaction, mid-rename), and
// checks after each kill that every write the process reported done reads
// back, from a fresh store and from one that watched all along.
func TestKillWriter(t *testing.T) {
	for _, l := range twoLayouts {
		t.Run(l.name, func(t *testing.T) {
			dir := t.TempDir()
			const fn = "example.com/app.Service.Fetch"
			acked := map[int]int64{}
			keys, version := 0, int64(1)
			rounds := 60
			switch {
			case testing.Short():
				rounds = 5
			case raceEnabled:
				rounds = 20
			}
			watcher := newStore(t, dir, l.o)
			rng := rand.New(rand.NewPCG(1, 2))
			ctx := context.Background()
			var lastLog os.FileInfo
			replaced := 0 // rounds in which the log was compacted
			repaired := 0 // torn writes the next writer found and repaired
			for round := range rounds {
				cmd := helper(t, "writer", helperArgs{Dir: dir, Opts: l.o, Fn: fn, Keys: keys, Version: version, CompactMin: 8 << 10})
				stdout, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				lines := readLines(stdout)
				ack := func(line string) {
					var k int
					var v int64
					if _, err := fmt.Sscan(line, &k, &v); err != nil {
						t.Fatalf("round %d: writer said %q: %v", round, line, err)
					}
					acked[k] = v
					keys = max(keys, k+1)
					version = v + 1
				}
				want := 1 + rng.IntN(60)
				timeout := time.After(2 * time.Minute)
				for range want {
					select {
					case line, ok := <-lines:
						if !ok {
							cmd.Wait()
							t.Fatalf("round %d: writer exited early", round)
						}
						ack(line)
					case <-timeout:
						cmd.Process.Kill()
						t.Fatalf("round %d: writer stalled", round)
					}
				}
				// Vary the moment of the kill within the next writes.
				time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				for line := range lines { // writes reported before it died count too
					ack(line)
				}
				if err := cmd.Wait(); err == nil {
					t.Fatalf("round %d: writer exited cleanly: %s", round, stderr.Bytes())
				}
				repaired += strings.Count(stderr.String(), "dropping a torn") + strings.Count(stderr.String(), "completing entry writes")
				inflight := version // the write it may have been making
				version++

				if fi, err := os.Stat(watcher.state(fn).logPath); err == nil {
					if lastLog != nil && !os.SameFile(fi, lastLog) {
						replaced++
					}
					lastLog = fi
				}
				fresh := newStore(t, dir, l.o)
				for si, s := range []*Store{fresh, watcher} {
					for k, v := range acked {
						e, err := s.Get(ctx, fn, keyN(k))
						if err != nil {
							t.Fatalf("round %d: key %d (version %d reported written): %v", round, k, v, err)
						}
						got, err := checkVersion(k, e)
						if err != nil {
							t.Fatalf("round %d: %v", round, err)
						}
						if got != v && got != inflight {
							t.Fatalf("round %d: store %d: key %d reads back version %d, want %d (or %d, being written)", round, si, k, got, v, inflight)
						}
						if got == inflight {
							acked[k] = got // it made it: later rounds must find it
						}
					}
				}
				fresh.Close()
			}
			t.Logf("%d rounds, %d keys, %d writes, log compacted in %d rounds, %d torn writes repaired",
				rounds, len(acked), version, replaced, repaired)
		})
	}
}

// TestMarkAcrossProcesses has four processes race for one mark: one gets
// it, and dies holding it; the mark then blocks others until its ttl
// passes, and no longer.
func TestMarkAcrossProcesses(t *testing.T) {
	for _, l := range twoLayouts {
		t.Run(l.name, func(t *testing.T) {
			dir := t.TempDir()
			const fn, key, ttl = "pkg.Slow", "00112233445566778899aabbccddeeff", 3 * time.Second
			type proc struct {
				in   io.WriteCloser
				out  <-chan string
				wait func() error
			}
			var procs []proc
			for i := range 4 {
				cmd := helper(t, "mark", helperArgs{Dir: dir, Opts: l.o, Fn: fn, Key: key, Owner: fmt.Sprint("proc", i), TTL: ttl})
				in, err := cmd.StdinPipe()
				if err != nil {
					t.Fatal(err)
				}
				out, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				procs = append(procs, proc{in, readLines(out), cmd.Wait})
			}
			for _, p := range procs {
				io.WriteString(p.in, "go\n")
			}
			start := time.Now()
			wins := 0
			for i, p := range procs {
				line := <-p.out
				if err := p.wait(); err != nil {
					t.Fatalf("process %d: %v", i, err)
				}
				switch line {
				case "true":
					wins++
				case "false":
				default:
					t.Fatalf("process %d said %q", i, line)
				}
			}
			if wins != 1 {
				t.Fatalf("%d of 4 processes acquired the mark, want 1", wins)
			}
			s := newStore(t, dir, l.o)
			ctx := context.Background()
			got, err := s.Mark(ctx, fn, key, "parent", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if got && time.Since(start) < ttl {
				t.Fatalf("the dead process's mark was taken over after %v, before its ttl %v", time.Since(start), ttl)
			}
			deadline := start.Add(ttl + 10*time.Second)
			for !got {
				if time.Now().After(deadline) {
					t.Fatalf("the dead process's mark (ttl %v) still blocks after %v", ttl, time.Since(start))
				}
				if err := s.Wait(ctx, fn, key); err != nil {
					t.Fatal(err)
				}
				if got, err = s.Mark(ctx, fn, key, "parent", time.Minute); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestReloadAcrossProcesses: a store sees another process's writes, and
// with NoReload keeps its own view instead.
func TestReloadAcrossProcesses(t *testing.T) {
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			dir := t.TempDir()
			const fn, key = "pkg.F", "0123456789abcdef0123456789abcdef"
			ctx := context.Background()
			s := newStore(t, dir, l.o)
			set := func(v string) {
				t.Helper()
				if err := helper(t, "set", helperArgs{Dir: dir, Opts: l.o, Fn: fn, Key: key, Value: v}).Run(); err != nil {
					t.Fatal(err)
				}
			}
			get := func(s *Store) string {
				t.Helper()
				e, err := s.Get(ctx, fn, key)
				if errors.Is(err, store.ErrNotFound) {
					return "<miss>"
				}
				if err != nil {
					t.Fatal(err)
				}
				return string(e.Value)
			}
			if got := get(s); got != "<miss>" {
				t.Fatalf("empty cache: %q", got)
			}
			set("one")
			want := "one"
			if l.o.NoReload {
				want = "<miss>"
			}
			if got := get(s); got != want {
				t.Fatalf("after another process's write: %q, want %q", got, want)
			}
			set(strings.Repeat("two", 10000)) // too large to be kept in memory
			set("three")
			if !l.o.NoReload {
				want = "three"
			}
			if got := get(s); got != want {
				t.Fatalf("after more writes: %q, want %q", got, want)
			}
			if got := get(newStore(t, dir, l.o)); got != "three" {
				t.Fatalf("a new store reads %q, want %q", got, "three")
			}
		})
	}
}
