// Command metrics serves a decorated service with its cache metrics
// (enable_metrics) on /metrics, for Prometheus to scrape. It is a module of
// its own, as the Prometheus exporter is; from the repository root:
//
//	go run -C examples/metrics .                 # serve on 127.0.0.1:9464
//	curl 'http://127.0.0.1:9464/square?x=3'      # a miss, then hits
//	curl http://127.0.0.1:9464/metrics | grep cachier_
//
//	go run -C examples/metrics . -demo           # a few calls, one scrape printed, exit
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/defaults"
	cachierprom "github.com/cachier-go/cachier/metrics/prometheus"
)

// Service is the decorated service: both functions count their calls.
type Service struct {
	// Square stands in for a slow computation kept in memory.
	Square func(ctx context.Context, x int) (int, error) `cachier:"backend=memory,enable_metrics,stale_after=1m"`
	// Greet stands in for a slow lookup kept on disk (the -dir directory).
	Greet func(ctx context.Context, name string) (string, error) `cachier:"enable_metrics"`
}

func newService(dir string) (*Service, error) {
	svc := &Service{
		Square: func(ctx context.Context, x int) (int, error) {
			time.Sleep(20 * time.Millisecond) // the slow part
			return x * x, nil
		},
		Greet: func(ctx context.Context, name string) (string, error) {
			time.Sleep(20 * time.Millisecond)
			return "hello, " + name, nil
		},
	}
	// The file backend's directory, for every function decorated from now
	// on that does not name its own (quoted: a path may hold a comma).
	if err := defaults.Set("cache_dir='" + dir + "'"); err != nil {
		return nil, err
	}
	if err := cachier.Decorate(svc); err != nil {
		return nil, err
	}
	return svc, nil
}

// handler serves /metrics (the cachier Collector and the Go runtime's) and
// the service's two functions.
func handler(svc *Service) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(cachierprom.New(), collectors.NewGoCollector())
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/square", func(w http.ResponseWriter, r *http.Request) {
		x, err := strconv.Atoi(r.URL.Query().Get("x"))
		if err != nil {
			http.Error(w, "want ?x=<integer>", http.StatusBadRequest)
			return
		}
		v, err := svc.Square(r.Context(), x)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, v)
	})
	mux.HandleFunc("/greet", func(w http.ResponseWriter, r *http.Request) {
		s, err := svc.Greet(r.Context(), r.URL.Query().Get("name"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, s)
	})
	return mux
}

// demo makes a few requests to base, then prints the cachier lines of one
// scrape of base/metrics to out.
func demo(base string, out io.Writer) error {
	for _, path := range []string{"/square?x=3", "/square?x=3", "/square?x=4", "/square?x=3", "/greet?name=ada", "/greet?name=ada"} {
		resp, err := http.Get(base + path)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", path, resp.Status)
		}
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "cachier_") && !strings.Contains(line, "_bucket{") {
			fmt.Fprintln(out, line)
		}
	}
	return sc.Err()
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9464", "address to serve on")
	dir := flag.String("dir", os.TempDir()+"/cachier-metrics-example", "cache_dir of the file-backed function")
	demoMode := flag.Bool("demo", false, "make a few calls, print one scrape, and exit")
	flag.Parse()

	svc, err := newService(*dir)
	if err != nil {
		log.Fatal(err)
	}
	if *demoMode {
		*addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: handler(svc), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()
	base := "http://" + ln.Addr().String()
	if *demoMode {
		err := demo(base, os.Stdout)
		srv.Close()
		if err != nil {
			log.Fatal(err)
		}
		return
	}
	log.Printf("serving %s/metrics (try %s/square?x=3); Ctrl-C to stop", base, base)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	<-ctx.Done()
	_ = srv.Shutdown(context.Background())
}
