package cachier_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyPolicy is a statement of policy: a program that uses only
// the memory and file backends compiles no database driver and needs no cgo.
func TestDependencyPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	pkgs := []string{".", "./defaults", "./hashing", "./reflect", "./store", "./store/memstore", "./store/filestore", "./codec", "./metrics"}
	out, err := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	// Nor an exporter's library: the exporters are modules of their own
	// (metrics/prometheus, metrics/otel), compiled only into programs that
	// import them.
	for _, banned := range []string{"mattn/go-sqlite3", "go.mongodb.org/", "redis/go-redis", "jmoiron/sqlx", "jackc/pgx", "go-sql-driver", "database/sql",
		"prometheus", "go.opentelemetry.io/"} {
		for _, dep := range strings.Split(string(out), "\n") {
			if strings.Contains(dep, banned) {
				t.Errorf("the core depends on %s", dep)
			}
		}
	}
	// store/ imports nothing of ours; reflect, hashing, defaults, codec and
	// metrics never import the root.
	for pkg, banned := range map[string]string{
		"./store":    "github.com/cachier-go/cachier/",
		"./hashing":  "github.com/cachier-go/cachier\n",
		"./reflect":  "github.com/cachier-go/cachier\n",
		"./defaults": "github.com/cachier-go/cachier\n",
		"./codec":    "github.com/cachier-go/cachier\n",
		"./metrics":  "github.com/cachier-go/cachier\n",
	} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatal(err)
		}
		deps := strings.ReplaceAll(string(out), "github.com/cachier-go/cachier/store\n", "")
		if pkg == "./store" && strings.Contains(deps, banned) || pkg != "./store" && strings.Contains(deps, banned) {
			t.Errorf("%s imports %s", pkg, strings.TrimSpace(banned))
		}
	}
	cmd := exec.Command("go", append([]string{"build"}, pkgs...)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("the core does not build without cgo: %v\n%s", err, out)
	}
}
