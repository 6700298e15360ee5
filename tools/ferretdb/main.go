// Command ferretdb-helper runs an embedded FerretDB v1 (a MongoDB wire
// protocol server over SQLite) for cachier's tests, so that the mongo store is
// tested against a real MongoDB-protocol server on machines where no mongod
// is packaged.
//
// It lives in its own Go module (tools/ferretdb/go.mod) so that FerretDB and
// its dependencies never enter the library's go.mod.
//
// Usage:
//
//	cd tools/ferretdb && go build -o ferretdb-helper .
//	./ferretdb-helper -listen 127.0.0.1:27017 -data /var/lib/cachier-ferretdb
//
// It serves until interrupted (SIGINT, SIGTERM). scripts/services/mongo.sh
// builds and starts it when nothing answers on 127.0.0.1:27017.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	data := flag.String("data", filepath.Join(os.TempDir(), "cachier-ferretdb"), "directory for the SQLite databases")
	level := flag.String("log-level", "warn", "log level: debug, info, warn or error")
	flag.Parse()

	if err := run(*listen, *data, *level); err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb-helper:", err)
		os.Exit(1)
	}
}

func run(listen, data, level string) error {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))

	dir, err := filepath.Abs(data)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
	})
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(os.Stderr, "ferretdb-helper: serving %s on %s (data in %s)\n", "FerretDB", listen, dir)
	return f.Run(ctx)
}
