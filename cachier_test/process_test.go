package cachier_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cachier-go/cachier"
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
	names := make([]string, 0, len(backends))
	for name, def := range backends {
		if def.crossProcess {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
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
					for _, c := range cmds {
						_ = c.Process.Kill()
					}
					t.Fatalf("only %d of %d children got ready", len(ready), raceProcs)
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
				t.Fatalf("%d processes computed the key, want 1; calls:\n%s", n, calls)
			}
		})
	}
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
