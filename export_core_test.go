package cachier

import "time"

// Waiting returns how many callers of h's function wait on calculations
// under way in this process: tests use it to know that every caller they
// started has joined a flight before they let the calculation finish.
func Waiting(h *Handle) int {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	n := 0
	for _, fl := range h.f.flights {
		n += fl.waiters
	}
	return n
}

// Busy returns how many calculations of h's function are under way in this
// process, background refreshes included.
func Busy(h *Handle) int {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	return len(h.f.flights)
}

// SetBreakerClock makes now the clock of the circuit breaker between h's
// function and its store, so that tests step through backoff windows
// without waiting for them.
func SetBreakerClock(h *Handle, now func() time.Time) {
	h.f.br.mu.Lock()
	defer h.f.br.mu.Unlock()
	h.f.br.now = now
}
