package cachier

import (
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"unsafe"
	"weak"
)

// The registry knows every live decorated function: by its wrapper, for Of,
// and by identity, so that two different functions never take one identity
// silently. It must not keep a function alive: a program that drops a
// decorated function gets back its memory and what it captured, and its
// identity becomes free.
//
// Each wrapper (the func value Decorate installs) holds a small *wrapper,
// and nothing else does. The registry holds it weakly; a cleanup attached
// to it removes the function's entry once the wrapper is unreachable.

// wrapper is what a decorated function's reflect.MakeFunc closure holds.
type wrapper struct{ f *fn }

func (w *wrapper) call(args []reflect.Value) []reflect.Value { return w.f.call(args) }

// A regEntry is one live decorated function.
type regEntry struct {
	w        weak.Pointer[wrapper]
	h        *Handle
	key      uintptr // the wrapper's closure pointer
	orig     uintptr // the decorated function's closure pointer
	explicit bool    // its identity was given with name=
}

var reg = struct {
	mu     sync.Mutex
	byFunc map[uintptr]*regEntry             // wrapper closure pointer -> entry
	byName map[string]map[*regEntry]struct{} // identity -> live entries
}{
	byFunc: map[uintptr]*regEntry{},
	byName: map[string]map[*regEntry]struct{}{},
}

// lookupHandle returns the handle of the decorated function whose closure
// pointer is p, or nil.
func lookupHandle(p unsafe.Pointer) *Handle {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if e := reg.byFunc[uintptr(p)]; e != nil && e.w.Value() != nil {
		return e.h
	}
	return nil
}

// Handles returns the handles of every live decorated function, in no
// fixed order. A function the program has dropped is absent once the
// garbage collector has found it unreachable.
func Handles() []*Handle {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	hs := make([]*Handle, 0, len(reg.byFunc))
	for _, e := range reg.byFunc {
		if e.w.Value() != nil {
			hs = append(hs, e.h)
		}
	}
	return hs
}

// A pending function is one that Decorate validated and is about to
// install in field.
type pending struct {
	field    reflect.Value
	f        *fn
	orig     uintptr
	explicit bool
}

// installAll checks that no function in ps takes an identity held by a
// different live function, then installs them all, or none.
func installAll(ps []pending) error {
	reg.mu.Lock()
	err := conflicts(ps)
	if err != nil {
		// The holder may be dropped already and not yet collected: what is
		// unreachable must not block Decorate.
		reg.mu.Unlock()
		runtime.GC()
		reg.mu.Lock()
		err = conflicts(ps)
	}
	defer reg.mu.Unlock()
	if err != nil {
		return err
	}
	for _, p := range ps {
		installLocked(p)
	}
	return nil
}

// conflicts reports the first function of ps whose identity is held by a
// different live function (or by another of ps), unless ps names it with
// name=. reg.mu is held.
func conflicts(ps []pending) error {
	for i, p := range ps {
		if p.explicit {
			continue
		}
		for e := range reg.byName[p.f.name] {
			if e.orig != p.orig && e.w.Value() != nil {
				return conflictErr(p, e.h.f.field)
			}
		}
		for _, q := range ps[:i] {
			if q.f.name == p.f.name && q.orig != p.orig {
				return conflictErr(p, q.f.field)
			}
		}
	}
	return nil
}

func conflictErr(p pending, holder string) error {
	return &TagError{Field: p.f.field, Err: fmt.Errorf(
		"identity %s is held by %s, a different function decorated earlier and still live: "+
			"give one of them key_prefix= (or version=) to keep their caches apart, "+
			"or the same name= to share one cache deliberately "+
			"(two instances of one struct type with different funcs in a field need distinct key_prefix)",
		p.f.name, holder)}
}

// installLocked replaces the func in p.field with p.f's wrapper and records
// it. reg.mu is held.
func installLocked(p pending) {
	w := &wrapper{f: p.f}
	p.field.Set(reflect.MakeFunc(p.field.Type(), w.call))
	e := &regEntry{w: weak.Make(w), h: &Handle{f: p.f}, key: uintptr(funcPtr(p.field)), orig: p.orig, explicit: p.explicit}
	reg.byFunc[e.key] = e
	set := reg.byName[p.f.name]
	if set == nil {
		set = map[*regEntry]struct{}{}
		reg.byName[p.f.name] = set
	}
	set[e] = struct{}{}
	runtime.AddCleanup(w, unregister, e)
	p.f.applyBounds()
}

// unregister forgets e, once its wrapper is unreachable. The wrapper's
// address may already serve a newer function: only e itself is removed.
func unregister(e *regEntry) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if reg.byFunc[e.key] == e {
		delete(reg.byFunc, e.key)
	}
	if set := reg.byName[e.h.f.name]; set != nil {
		delete(set, e)
		if len(set) == 0 {
			delete(reg.byName, e.h.f.name)
		}
	}
}

// pending returns f, about to be installed in field v.
func (f *fn) pending(v reflect.Value) pending {
	return pending{field: v, f: f, orig: uintptr(funcPtr(f.orig)), explicit: f.explicit}
}
