package cachier

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cachier-go/cachier/defaults"
	reflectx "github.com/cachier-go/cachier/reflect"
)

// ignoreArgs returns sig without the parameters that ignore_args leaves
// out of the key (positions among all parameters, 0-based), or sig itself
// when none is. A position out of range, or that of the context or the
// receiver (never part of the key anyway), is an error. The fingerprint
// changes with the positions, so that keys of different shapes never share
// a cache.
func ignoreArgs(sig *reflectx.Signature, spec string) (*reflectx.Signature, error) {
	if spec == "" {
		return sig, nil
	}
	ps, err := defaults.ParsePositions(spec)
	if err != nil {
		return nil, err
	}
	n := sig.Type.NumIn()
	for _, p := range ps {
		switch {
		case p >= n:
			return nil, fmt.Errorf("position %d out of range: the function has %d parameters (0 to %d)", p, n, n-1)
		case p == sig.Receiver:
			return nil, fmt.Errorf("position %d is the receiver, which is never part of the key", p)
		case !slices.Contains(sig.KeyArgs, p):
			return nil, fmt.Errorf("position %d is a context.Context, which is never part of the key", p)
		}
	}
	s := *sig // the cached Signature is shared: change a copy
	s.KeyArgs, s.KeyTypes = nil, nil
	for i, p := range sig.KeyArgs {
		if !slices.Contains(ps, p) {
			s.KeyArgs = append(s.KeyArgs, p)
			s.KeyTypes = append(s.KeyTypes, sig.KeyTypes[i])
		}
	}
	slices.Sort(ps)
	pos := make([]string, len(ps))
	for i, p := range ps {
		pos[i] = strconv.Itoa(p)
	}
	sum := sha256.Sum256([]byte(sig.Fingerprint + "/ignore_args=" + strings.Join(pos, "|")))
	s.Fingerprint = hex.EncodeToString(sum[:8])
	return &s, nil
}
