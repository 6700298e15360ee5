package testenv

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// A Proxy forwards TCP connections from a local address to a server, and
// can stage the two outages the outage tests need:
//
//   - Hang: the server hangs, or a network drops packets. Connections are
//     accepted and held open but nothing comes back; the proxy's own side of
//     every forwarded connection is cut, so the server sees its clients go.
//   - Stop: the server is gone. Every connection is cut and new ones are
//     refused.
//
// Restore ends either outage, forwarding again on the same address. A Proxy
// is closed, with every goroutine it started ended, when the test ends.
type Proxy struct {
	t      testing.TB
	addr   string
	target string
	wg     sync.WaitGroup // accept loops and pipes

	mu     sync.Mutex
	ln     net.Listener // nil while stopped or closed
	mode   proxyMode
	closed bool
	links  map[*link]bool    // forwarded connections
	held   map[net.Conn]bool // client connections accepted or left open in a hang
}

type proxyMode int

const (
	forwarding proxyMode = iota
	hanging
	stopped
)

// A link is one forwarded connection: the client's and the server's side.
type link struct{ client, server net.Conn }

// dialTimeout bounds the proxy's connection to the target, so that a target
// that does not answer costs a client one failed connection, not a hang.
const dialTimeout = 5 * time.Second

// StartProxy starts a Proxy on a free port of 127.0.0.1 that forwards to
// target (host:port), and closes it when t ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy to %s: %v", target, err)
	}
	p := &Proxy{
		t:      t,
		addr:   ln.Addr().String(),
		target: target,
		ln:     ln,
		links:  map[*link]bool{},
		held:   map[net.Conn]bool{},
	}
	p.wg.Add(1)
	go p.serve(ln)
	t.Cleanup(p.Close)
	return p
}

// Addr returns the proxy's address (host:port), the same for its lifetime.
func (p *Proxy) Addr() string { return p.addr }

// Hang starts an outage in which the server seems to hang: the server side
// of every forwarded connection is closed, while the client side stays
// open and silent; new connections are accepted and held open, never
// answered. A client notices only through its own timeouts.
func (p *Proxy) Hang() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if p.ln == nil {
		p.listen()
	}
	p.mode = hanging
	for l := range p.links {
		l.server.Close()
		p.held[l.client] = true
	}
	clear(p.links)
}

// Stop starts an outage in which the server is gone: the listener and
// every connection, forwarded or held, are closed, so clients see their
// connections reset and new ones refused.
func (p *Proxy) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = stopped
	p.cutAll()
}

// Restore ends an outage: the connections held open by Hang are closed (a
// client's pool then replaces them), and the proxy forwards new connections
// again, on the same address after Stop. It fails the test if that address
// cannot be listened on again.
func (p *Proxy) Restore() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.mode = forwarding
	for c := range p.held {
		c.Close()
	}
	clear(p.held)
	if p.ln == nil {
		p.listen()
	}
}

// Close closes the listener and every connection, and waits for the
// proxy's goroutines to end. It is called when the test ends; calling it
// more than once is harmless.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.cutAll()
	p.mu.Unlock()
	p.wg.Wait()
}

// listen listens on p.addr again and serves it; p.mu is held.
func (p *Proxy) listen() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy to %s: listening again: %v", p.target, err)
	}
	p.ln = ln
	p.wg.Add(1)
	go p.serve(ln)
}

// cutAll closes the listener and every connection; p.mu is held.
func (p *Proxy) cutAll() {
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for l := range p.links {
		l.client.Close()
		l.server.Close()
	}
	clear(p.links)
	for c := range p.held {
		c.Close()
	}
	clear(p.held)
}

// serve accepts connections on ln until it is closed, holding them during
// a hang and forwarding them otherwise.
func (p *Proxy) serve(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode, current := p.mode, p.ln == ln
		if current && mode == hanging {
			p.held[c] = true
		}
		p.mu.Unlock()
		if !current {
			c.Close()
			return
		}
		if mode == hanging {
			continue
		}
		s, err := net.DialTimeout("tcp", p.target, dialTimeout)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		switch {
		case p.ln != ln: // stopped or closed while dialing
			c.Close()
			s.Close()
		case p.mode == hanging: // hung while dialing
			s.Close()
			p.held[c] = true
		default:
			l := &link{client: c, server: s}
			p.links[l] = true
			p.wg.Add(2)
			go p.pipe(l, s, c)
			go p.pipe(l, c, s)
		}
		p.mu.Unlock()
	}
}

// pipe copies src to dst until either fails. While l is still forwarded,
// it then closes both sides, so that either end closing reaches the other;
// after Hang took l over, it leaves the client's side open.
func (p *Proxy) pipe(l *link, dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.links[l] {
		delete(p.links, l)
		l.client.Close()
		l.server.Close()
	}
}
