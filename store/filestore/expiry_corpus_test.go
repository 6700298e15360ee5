package filestore

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cachier-go/cachier/store"
)

// TestWriteExpiryFuzzSeeds writes the fuzz seeds of entries with an expiry
// (a recSetExp record, a CACHENX entry file) into testdata/fuzz when
// CACHIER_WRITE_FUZZ_SEEDS is set; the files are committed.
func TestWriteExpiryFuzzSeeds(t *testing.T) {
	if os.Getenv("CACHIER_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set CACHIER_WRITE_FUZZ_SEEDS=1 to rewrite the committed seeds")
	}
	seed := fnSeed(fuzzFn)
	far := expNanos(time.Unix(4_000_000_000, 0))
	log := append([]byte(logMagic), appendFunc(nil, fuzzFn)...)
	log = appendSet(log, seed, keyN(1), time.Unix(1_700_000_000, 5), far, []byte("one"))
	log = appendSet(log, seed, keyN(2), time.Unix(1_700_000_000, 5), 1, []byte("expired"))
	log = appendSet(log, seed, keyN(3), time.Unix(1_700_000_000, 5), 0, []byte("three"))
	entry := encodeEntry(seed, keyN(1), store.Entry{Value: []byte("one"), Time: time.Unix(1_700_000_000, 0), Expires: time.Unix(4_000_000_000, 0)})
	expired := encodeEntry(seed, keyN(1), store.Entry{Value: []byte("gone"), Time: time.Unix(1_700_000_000, 0), Expires: time.Unix(1, 0)})
	for _, s := range []struct {
		target, name string
		data         []byte
	}{
		{"FuzzLogFile", "expiry-records", log},
		{"FuzzEntryFile", "expiry-entry", entry},
		{"FuzzEntryFile", "expiry-entry-expired", expired},
	} {
		dir := filepath.Join("testdata", "fuzz", s.target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s.data)
		if err := os.WriteFile(filepath.Join(dir, s.name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
