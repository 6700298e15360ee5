package cachier

import (
	"context"
	"fmt"
	"reflect"
)

// Forget forgets the function's entry for args, so that the next call with
// them computes afresh. args are the function's arguments as Precache
// takes them: either all of them (a context and a receiver among them are
// ignored) or only those that make the key. An argument list with no entry
// is not an error. A calculation of those arguments under way meanwhile
// still stores its result when it returns.
func (h *Handle) Forget(ctx context.Context, args ...any) error {
	f := h.f
	key, err := f.keyOfArgs("Forget", args)
	if err != nil {
		return err
	}
	if err := f.delete(ctx, key); err != nil {
		return fmt.Errorf("cachier: %s: Forget: %w", f.field, err)
	}
	return nil
}

// keyOfArgs returns the key of args given to the handle's method op: all
// the function's arguments, or only the key ones (sig.KeyArgs).
func (f *fn) keyOfArgs(op string, args []any) (string, error) {
	sig := f.sig
	all := make([]reflect.Value, sig.Type.NumIn())
	var pos []int
	switch len(args) {
	case sig.Type.NumIn():
		pos = make([]int, len(args))
		for i := range args {
			pos[i] = i
		}
	case len(sig.KeyArgs):
		pos = sig.KeyArgs
	default:
		return "", fmt.Errorf("cachier: %s: %s got %d arguments, want %d (all) or %d (the key arguments)",
			f.field, op, len(args), sig.Type.NumIn(), len(sig.KeyArgs))
	}
	for i, a := range args {
		j := pos[i]
		v, err := convert(a, sig.Type.In(j))
		if err != nil {
			return "", fmt.Errorf("cachier: %s: %s argument %d: %w", f.field, op, i, err)
		}
		all[j] = v
	}
	key, err := f.key(all)
	if err != nil {
		return "", fmt.Errorf("cachier: %s: %s: %w", f.field, op, err)
	}
	return key, nil
}
