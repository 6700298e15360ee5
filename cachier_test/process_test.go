package cachier_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/hashing"
	"github.com/cachier-go/cachier/store"
)

// The process race: four OS processes (this test binary, re-executed) ask
// one backend for one slow key at the same moment. The function must run
// once, and all four must get its result.
const (
	envChild   = "CACHIER_RACE_CHILD"
	envBackend = "CACHIER_RACE_BACKEND"
	envDir     = "CACHIER_RACE_DIR"
	raceProcs  = 4
)

func TestProcessRace(t *testing.T) {
	if testing.Short() {
		t.Skip("starts OS processes")
	}
	for _, name := range crossProcessBackends() {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			backends[name].open(t, dir) // skips (or fails) when the server is absent
			var (
				cmds []*exec.Cmd
				outs []*bytes.Buffer
			)
			for i := range raceProcs {
				cmd := exec.Command(os.Args[0], "-test.run=^TestProcessRaceChild$", "-test.v", "-test.count=1")
				cmd.Env = append(os.Environ(), envChild+"=1", envBackend+"="+name, envDir+"="+dir,
					fmt.Sprintf("CACHIER_RACE_ID=%d", i))
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				cmds, outs = append(cmds, cmd), append(outs, &out)
			}
			// Barrier: wait until every child is ready, then let them go.
			deadline := time.Now().Add(60 * time.Second)
			for {
				ready, _ := filepath.Glob(filepath.Join(dir, "ready-*"))
				if len(ready) == raceProcs {
					break
				}
				if time.Now().After(deadline) {
					var logs strings.Builder
					for i, c := range cmds {
						_ = c.Process.Kill()
						_ = c.Wait()
						fmt.Fprintf(&logs, "child %d:\n%s\n", i, outs[i])
					}
					t.Fatalf("only %d of %d children got ready\n%s", len(ready), raceProcs, &logs)
				}
				time.Sleep(5 * time.Millisecond)
			}
			if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			for i, c := range cmds {
				if err := c.Wait(); err != nil {
					t.Errorf("child %d: %v\n%s", i, err, outs[i])
				}
			}
			for i, out := range outs {
				if !strings.Contains(out.String(), "RESULT=value-42\n") {
					t.Errorf("child %d did not get the result:\n%s", i, out)
				}
			}
			calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
			if n := strings.Count(string(calls), "\n"); n != 1 {
				var logs strings.Builder
				for i, out := range outs {
					fmt.Fprintf(&logs, "child %d:\n%s\n", i, out)
				}
				t.Fatalf("%d processes computed the key, want 1; calls:\n%s\n%s", n, calls, &logs)
			}
		})
	}
}

// crossProcessBackends returns the names of the backends that processes
// share, sorted.
func crossProcessBackends() []string {
	names := make([]string, 0, len(backends))
	for name, def := range backends {
		if def.crossProcess {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// TestProcessRaceChild is one process of TestProcessRace.
func TestProcessRaceChild(t *testing.T) {
	if os.Getenv(envChild) != "1" {
		t.Skip("run by TestProcessRace")
	}
	dir := os.Getenv(envDir)
	def := backends[os.Getenv(envBackend)]
	b := def.open(t, dir)
	slow := func(ctx context.Context, x int) (string, error) {
		f, err := os.OpenFile(filepath.Join(dir, "calls"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(f, "pid %d\n", os.Getpid())
		f.Close()
		time.Sleep(700 * time.Millisecond) // the slow work the others must wait for
		return fmt.Sprint("value-", x), nil
	}
	opts := append([]cachier.Option{cachier.Tag(b.tag + ",name=race-" + filepath.Base(dir))}, b.opts...)
	if err := cachier.Decorate(&slow, opts...); err != nil {
		t.Fatal(err)
	}
	ready := filepath.Join(dir, "ready-"+os.Getenv("CACHIER_RACE_ID"))
	if err := os.WriteFile(ready, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "go")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no go signal")
		}
	}
	v, err := slow(context.Background(), 42)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("RESULT=%s\n", v)
}

// TestDeadProcessMark: a process that dies mid-calculation holding the
// being-calculated mark must not block the others for longer than mark_ttl.
// A child (this test binary, re-executed) starts computing a key and is
// killed with SIGKILL; this process then asks for the key and must compute
// it itself once the mark lapses.
func TestDeadProcessMark(t *testing.T) {
	if testing.Short() {
		t.Skip("starts OS processes")
	}
	const markTTL = 1500 * time.Millisecond
	for _, name := range crossProcessBackends() {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			b := backends[name].open(t, dir)
			cmd := exec.Command(os.Args[0], "-test.run=^TestDeadProcessMarkChild$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), envChild+"=1", envBackend+"="+name, envDir+"="+dir)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			started := filepath.Join(dir, "started")
			for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				if _, err := os.Stat(started); err == nil {
					break
				}
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					t.Fatalf("the child never started computing:\n%s", &out)
				}
			}
			f := func(ctx context.Context, x int) (string, error) { return fmt.Sprint("mine-", x), nil }
			opts := append([]cachier.Option{cachier.Tag(b.tag + ",name=dead-" + filepath.Base(dir) + fmt.Sprintf(",mark_ttl=%s", markTTL))}, b.opts...)
			if err := cachier.Decorate(&f, opts...); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			h, err := cachier.Of(&f)
			if err != nil {
				t.Fatal(err)
			}
			// Before the kill, one round trip of this process's store (a
			// collection or table made ready, a connection dialled), so that
			// the probe below comes within the dead mark's life however
			// slow the server is to start with.
			if _, err := h.Store().Get(ctx, h.Name(), strings.Repeat("0", 64)); err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("warming the store up: %v", err)
			}
			_ = cmd.Process.Kill() // SIGKILL: no deferred cleanup runs, the mark stays
			_ = cmd.Wait()

			// The dead child's mark is there: nobody else may take it yet.
			key, _ := hashing.Default([]any{7})
			if got, err := h.Store().Mark(ctx, h.Name(), key, "probe", time.Second); err != nil || got {
				t.Fatalf("Mark by a third party = %v, %v: the dead process held no mark", got, err)
			}
			start := time.Now()
			v, err := f(ctx, 7)
			if err != nil || v != "mine-7" {
				t.Fatalf("after the owner died: %q, %v (waited %v)", v, err, time.Since(start))
			}
			t.Logf("computed after waiting %v for the dead process's mark (mark_ttl %v)", time.Since(start).Round(time.Millisecond), markTTL)
		})
	}
}

// TestDeadProcessMarkChild is the process TestDeadProcessMark kills.
func TestDeadProcessMarkChild(t *testing.T) {
	if os.Getenv(envChild) != "1" {
		t.Skip("run by TestDeadProcessMark")
	}
	dir := os.Getenv(envDir)
	b := backends[os.Getenv(envBackend)].open(t, dir)
	f := func(ctx context.Context, x int) (string, error) {
		_ = os.WriteFile(filepath.Join(dir, "started"), nil, 0o600)
		select {} // computes until killed
	}
	opts := append([]cachier.Option{cachier.Tag(b.tag + ",name=dead-" + filepath.Base(dir) + ",mark_ttl=1500ms")}, b.opts...)
	if err := cachier.Decorate(&f, opts...); err != nil {
		t.Fatal(err)
	}
	_, _ = f(context.Background(), 7)
}
