package testenv_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachier-go/cachier/internal/testenv"
)

// An echoServer writes back what each connection sends, and closes a
// connection that sends "bye". open counts its connections not yet closed.
type echoServer struct {
	ln   net.Listener
	open atomic.Int32
	wg   sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]bool
}

// startEcho starts an echoServer on a free port, closed when t ends.
func startEcho(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln, conns: map[net.Conn]bool{}}
	e.wg.Add(1)
	go e.serve()
	t.Cleanup(e.close)
	return e
}

func (e *echoServer) addr() string { return e.ln.Addr().String() }

func (e *echoServer) serve() {
	defer e.wg.Done()
	for {
		c, err := e.ln.Accept()
		if err != nil {
			return
		}
		e.mu.Lock()
		e.conns[c] = true
		e.mu.Unlock()
		e.open.Add(1)
		e.wg.Add(1)
		go e.echo(c)
	}
}

func (e *echoServer) echo(c net.Conn) {
	defer e.wg.Done()
	defer e.open.Add(-1)
	defer c.Close()
	buf := make([]byte, 1024)
	for {
		n, err := c.Read(buf)
		if err != nil || bytes.Equal(buf[:n], []byte("bye")) {
			return
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
	}
}

func (e *echoServer) close() {
	e.ln.Close()
	e.mu.Lock()
	for c := range e.conns {
		c.Close()
	}
	e.mu.Unlock()
	e.wg.Wait()
}

// dial connects to addr, closing the connection when t ends.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// expectEcho sends msg on c and fails t unless it comes back.
func expectEcho(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("read %q, %v; want %q", buf, err, msg)
	}
}

// expectSilent sends msg on c and fails t unless c stays open and nothing
// comes back for a while.
func expectSilent(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(300 * time.Millisecond))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write %q: %v; want the connection open", msg, err)
	}
	n, err := c.Read(make([]byte, 16))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read %d bytes, %v; want nothing until the deadline", n, err)
	}
}

// expectClosed fails t unless c is closed by its other end.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	n, err := c.Read(make([]byte, 16))
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("read %d bytes, %v; want the connection closed", n, err)
	}
}

// waitFor fails t unless cond holds within 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not so after 5s: %s", what)
		}
	}
}

func TestProxyForwards(t *testing.T) {
	e := startEcho(t)
	p := testenv.StartProxy(t, e.addr())
	a, b := dial(t, p.Addr()), dial(t, p.Addr())
	expectEcho(t, a, "hello")
	expectEcho(t, b, "world")
	expectEcho(t, a, "again")
	// The server closing a connection reaches the client.
	if _, err := b.Write([]byte("bye")); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, b)
	expectEcho(t, a, "still")
}

func TestProxyHang(t *testing.T) {
	e := startEcho(t)
	p := testenv.StartProxy(t, e.addr())
	old := dial(t, p.Addr())
	expectEcho(t, old, "before")

	p.Hang()
	// The server sees its client go; the client sees nothing.
	waitFor(t, "the server's connections closed", func() bool { return e.open.Load() == 0 })
	expectSilent(t, old, "during")
	held := dial(t, p.Addr()) // accepted, never answered
	expectSilent(t, held, "during")
	if n := e.open.Load(); n != 0 {
		t.Errorf("the server has %d connections during the hang, want 0", n)
	}

	p.Restore()
	expectClosed(t, old)
	expectClosed(t, held)
	expectEcho(t, dial(t, p.Addr()), "after")
}

func TestProxyStop(t *testing.T) {
	e := startEcho(t)
	p := testenv.StartProxy(t, e.addr())
	addr := p.Addr()
	old := dial(t, addr)
	expectEcho(t, old, "before")

	p.Stop()
	expectClosed(t, old)
	waitFor(t, "the server's connections closed", func() bool { return e.open.Load() == 0 })
	if c, err := net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
		c.Close()
		t.Fatal("dial during the stop succeeded; want refused")
	}

	p.Restore()
	if p.Addr() != addr {
		t.Errorf("Addr after Restore = %s, want %s", p.Addr(), addr)
	}
	expectEcho(t, dial(t, addr), "after")
}

// TestProxyOutagesInTurn: each outage can follow the other, and Restore
// after no outage changes nothing.
func TestProxyOutagesInTurn(t *testing.T) {
	e := startEcho(t)
	p := testenv.StartProxy(t, e.addr())
	p.Restore()
	expectEcho(t, dial(t, p.Addr()), "up")
	p.Stop()
	p.Hang() // listens again, holding every connection
	expectSilent(t, dial(t, p.Addr()), "hung")
	p.Stop()
	p.Restore()
	expectEcho(t, dial(t, p.Addr()), "up again")
}

// TestProxyNoGoroutineLeft: once a proxy is closed, by Close or by the end
// of its test, and whatever it was doing, none of its goroutines is left.
func TestProxyNoGoroutineLeft(t *testing.T) {
	e := startEcho(t)
	before := runtime.NumGoroutine()
	for _, tc := range []struct {
		name   string
		outage func(p *testenv.Proxy)
	}{
		{"Forwarding", func(*testenv.Proxy) {}},
		{"Hang", (*testenv.Proxy).Hang},
		{"Stop", (*testenv.Proxy).Stop},
	} {
		t.Run(tc.name+"/Close", func(t *testing.T) {
			p := testenv.StartProxy(t, e.addr())
			c := dial(t, p.Addr())
			expectEcho(t, c, "x")
			tc.outage(p)
			p.Close()
			p.Close()
			c.Close()
		})
		t.Run(tc.name+"/Cleanup", func(t *testing.T) {
			p := testenv.StartProxy(t, e.addr())
			expectEcho(t, dial(t, p.Addr()), "x")
			tc.outage(p)
			if tc.name == "Hang" {
				dial(t, p.Addr()) // held when the test ends
			}
		})
	}
	waitFor(t, "goroutines back to the count before", func() bool { return runtime.NumGoroutine() <= before })
}
