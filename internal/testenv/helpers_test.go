package testenv_test

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachier-go/cachier/internal/testenv"
)

func TestCaptureLogs(t *testing.T) {
	var logs *testenv.LogBuffer
	t.Run("inner", func(t *testing.T) {
		logs = testenv.CaptureLogs(t)
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Add(1)
			go func() { defer wg.Done(); slog.Info("hello", "i", i) }()
		}
		wg.Wait()
	})
	if n := strings.Count(logs.String(), "msg=hello"); n != 4 {
		t.Fatalf("captured %d lines, want 4:\n%s", n, logs)
	}
	before := logs.String()
	slog.Info("after the test") // the previous logger is back
	if logs.String() != before {
		t.Fatal("CaptureLogs still captures after its test ended")
	}
}

func BenchmarkPaired(b *testing.B) {
	var counts [2]int
	took, rounds := testenv.Paired(b,
		func() { counts[0]++ },
		func() { counts[1]++; time.Sleep(time.Microsecond) },
	)
	if counts[0] != rounds || counts[1] != rounds {
		b.Fatalf("ops ran %v times in %d rounds", counts, rounds)
	}
	if took[1] <= took[0] {
		b.Fatalf("the sleeping op took %v, the empty one %v", took[1], took[0])
	}
}
