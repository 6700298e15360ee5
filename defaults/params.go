package defaults

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/go-viper/mapstructure/v2"
)

// Params holds every cachier parameter. The same struct, and the same
// key=value syntax, serves struct tags, cachier.Tag and Set.
//
// A zero Duration in StaleAfter means "never stale"; a zero
// WaitForCalcTimeout means "wait as long as the calculation lasts"; a zero
// EntrySizeLimit means "no limit".
type Params struct {
	Backend            string        `mapstructure:"backend"`
	StaleAfter         time.Duration `mapstructure:"stale_after"`
	NextTime           bool          `mapstructure:"next_time"`
	WaitForCalcTimeout time.Duration `mapstructure:"wait_for_calc_timeout"`
	AllowNone          bool          `mapstructure:"allow_none"`
	CacheDir           string        `mapstructure:"cache_dir"`
	Reload             bool          `mapstructure:"reload"`
	SeparateFiles      bool          `mapstructure:"separate_files"`
	EntrySizeLimit     Size          `mapstructure:"entry_size_limit"`
	CleanupStale       bool          `mapstructure:"cleanup_stale"`
	CleanupInterval    time.Duration `mapstructure:"cleanup_interval"`
	HashFunc           string        `mapstructure:"hash_func"`
	KeyPrefix          string        `mapstructure:"key_prefix"`
	Name               string        `mapstructure:"name"`
	Version            string        `mapstructure:"version"`

	// IgnoreArgs lists parameters left out of the key, by 0-based position
	// among all the function's parameters: ignore_args=1|3. It is kept as
	// written (so that Params stays comparable); ParsePositions reads it.
	IgnoreArgs string `mapstructure:"ignore_args"`

	// Codec names how results become bytes in every store but memory: ""
	// is the library's own codec; "gob", "json", or a name given to
	// RegisterCodec.
	Codec string `mapstructure:"codec"`

	// Compress is "none" (or ""), "s2" or "zstd": encoded results of 1 KiB
	// or more are compressed before they are stored.
	Compress string `mapstructure:"compress"`

	// ExpireAfter: entries older than this are never served and are
	// deleted by the store where it can. Zero: never. At least StaleAfter.
	ExpireAfter time.Duration `mapstructure:"expire_after"`

	// MaxEntries and MaxSize bound one function's entries (memory and file
	// backends). Zero: no bound.
	MaxEntries int  `mapstructure:"max_entries"`
	MaxSize    Size `mapstructure:"max_size"`

	// EnableMetrics turns on the function's counters; MetricsSamplingRate
	// is the share of calls counted, in [0, 1].
	EnableMetrics       bool    `mapstructure:"enable_metrics"`
	MetricsSamplingRate float64 `mapstructure:"metrics_sampling_rate"`

	// MarkTTL bounds how long a being-calculated mark outlives a process
	// that died while computing: a live calculation renews its mark every
	// MarkTTL/3, so only a dead one lets it lapse. Not in Python cachier.
	MarkTTL time.Duration `mapstructure:"mark_ttl"`
}

// Builtin returns the built-in defaults: what Reset restores.
func Builtin() Params {
	return Params{
		Backend:             "file",
		CacheDir:            DefaultCacheDir(),
		Reload:              true,
		CleanupInterval:     24 * time.Hour,
		MarkTTL:             15 * time.Second,
		MetricsSamplingRate: 1,
	}
}

// A Size is a byte count. In tags it is written as plain bytes ("200000") or
// with a unit: B, KB, MB, GB, TB (powers of 1024), with decimals ("1.5MB").
type Size int64

// String returns s in the largest unit that keeps it exact.
func (s Size) String() string {
	for _, u := range sizeUnits {
		if s != 0 && s%Size(u.mult) == 0 {
			return strconv.FormatInt(int64(s)/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

var sizeUnits = []struct {
	name string
	mult int64
}{{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}}

// ParseSize parses a size as tags write it.
func ParseSize(s string) (Size, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.name) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.name)), u.mult
			break
		}
	}
	if mult == 1 {
		t = strings.TrimSpace(strings.TrimSuffix(t, "B"))
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || t == "" || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("invalid size %q: want bytes or a number with B, KB, MB, GB or TB", s)
	}
	if f < 0 {
		return 0, fmt.Errorf("invalid size %q: negative", s)
	}
	b := f * float64(mult)
	if b > math.MaxInt64 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return Size(math.Round(b)), nil
}

// Positions are 0-based parameter positions, written in tags separated by
// "|": ignore_args=1|3.
type Positions []int

// ParsePositions parses positions as tags write them ("1|3"). Each must be
// a non-negative integer, given once.
func ParsePositions(s string) (Positions, error) {
	var ps Positions
	for _, f := range strings.Split(s, "|") {
		f = strings.TrimSpace(f)
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("invalid position %q: want 0-based parameter positions separated by |, as in 1|3", f)
		}
		for _, q := range ps {
			if q == n {
				return nil, fmt.Errorf("position %d given twice", n)
			}
		}
		ps = append(ps, n)
	}
	return ps, nil
}

// ParseDuration parses a duration as tags write it: Go syntax
// (time.ParseDuration) plus the units d (24h) and w (7d), as in "3d",
// "2w", "1w2d12h". "never" is zero.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if t == "never" {
		return 0, nil
	}
	var total time.Duration
	rest := t
	// Peel leading <number>d and <number>w terms; the remainder is Go syntax.
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] == '.' || unicode.IsDigit(rune(rest[i]))) {
			i++
		}
		if i == 0 || i == len(rest) || (rest[i] != 'd' && rest[i] != 'w') {
			break
		}
		n, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		unit := 24 * time.Hour
		if rest[i] == 'w' {
			unit *= 7
		}
		total += time.Duration(n * float64(unit))
		rest = rest[i+1:]
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err == nil && (strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "+")) && rest != t {
			err = errors.New("sign inside a duration")
		}
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q: want Go syntax (90s, 72h) or d and w units (3d, 2w)", s)
		}
		total += d
	}
	if t == "" {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	if total < 0 {
		return 0, fmt.Errorf("invalid duration %q: negative", s)
	}
	return total, nil
}

// KeyError reports a key=value pair that cannot be used. The field, if any,
// is filled in by the caller that knows it (cachier.TagError).
type KeyError struct {
	Key, Value string
	Err        error
}

func (e *KeyError) Error() string { return fmt.Sprintf("%s=%q: %v", e.Key, e.Value, e.Err) }
func (e *KeyError) Unwrap() error { return e.Err }

// Keys lists every key the tag syntax accepts, in the order of Params.
var Keys = func() []string {
	t := reflect.TypeOf(Params{})
	keys := make([]string, t.NumField())
	for i := range keys {
		keys[i] = t.Field(i).Tag.Get("mapstructure")
	}
	return keys
}()

// PerCall lists the keys that are read at every call from the global
// parameters, unless the function's own configuration set them.
var PerCall = []string{"allow_none", "stale_after", "next_time", "wait_for_calc_timeout", "cleanup_stale", "cleanup_interval"}

// A Spec is a parsed tag: its pairs in the order written.
type Spec struct {
	Pairs []Pair
}

// A Pair is one key=value of a tag; a bare key has Value "true".
type Pair struct{ Key, Value string }

// Has reports whether the spec sets key.
func (s Spec) Has(key string) bool {
	for _, p := range s.Pairs {
		if p.Key == key {
			return true
		}
	}
	return false
}

// Parse splits a tag such as "stale_after=72h,next_time" into pairs and
// checks every key. It does not check values; Apply does.
//
// A value may be single-quoted to hold commas or spaces at its ends, as in
// cache_dir='/srv/a,b'; inside quotes, two quotes in a row stand for one.
func Parse(spec string) (Spec, error) {
	var s Spec
	parts, err := split(spec)
	if err != nil {
		return Spec{}, err
	}
	for _, part := range parts {
		k, v, hasValue := strings.Cut(part.text, "=")
		k = strings.TrimSpace(k)
		switch {
		case part.quoted:
			v = part.value
		case hasValue:
			v = strings.TrimSpace(v)
		default:
			v = "true"
		}
		if !known(k) {
			return Spec{}, &KeyError{Key: k, Value: v, Err: unknownKey(k)}
		}
		if s.Has(k) {
			return Spec{}, &KeyError{Key: k, Value: v, Err: errors.New("key given twice")}
		}
		s.Pairs = append(s.Pairs, Pair{k, v})
	}
	return s, nil
}

type part struct {
	text   string // the pair as written, up to a quoted value
	value  string // the unquoted value, when quoted
	quoted bool
}

// split cuts spec at the commas outside single quotes.
func split(spec string) ([]part, error) {
	var (
		parts []part
		cur   part
		b     strings.Builder
	)
	flush := func() {
		cur.text = strings.TrimSpace(cur.text + b.String())
		b.Reset()
		if cur.text != "" || cur.quoted {
			parts = append(parts, cur)
		}
		cur = part{}
	}
	for i := 0; i < len(spec); i++ {
		switch c := spec[i]; {
		case c == ',':
			flush()
		case c == '\'' && strings.HasSuffix(strings.TrimSpace(b.String()), "="):
			cur.text += b.String()
			b.Reset()
			var v strings.Builder
			closed := false
			for i++; i < len(spec); i++ {
				if spec[i] == '\'' {
					if i+1 < len(spec) && spec[i+1] == '\'' {
						v.WriteByte('\'')
						i++
						continue
					}
					closed = true
					break
				}
				v.WriteByte(spec[i])
			}
			if !closed {
				k, _, _ := strings.Cut(cur.text, "=")
				return nil, &KeyError{Key: strings.TrimSpace(k), Value: v.String(), Err: errors.New("unterminated quote")}
			}
			cur.value, cur.quoted = v.String(), true
			// Only spaces may follow the closing quote before the comma.
			for i+1 < len(spec) && spec[i+1] == ' ' {
				i++
			}
			if i+1 < len(spec) && spec[i+1] != ',' {
				k, _, _ := strings.Cut(cur.text, "=")
				return nil, &KeyError{Key: strings.TrimSpace(k), Value: cur.value, Err: errors.New("text after a quoted value")}
			}
		default:
			b.WriteByte(c)
		}
	}
	flush()
	return parts, nil
}

func known(k string) bool {
	for _, x := range Keys {
		if x == k {
			return true
		}
	}
	return false
}

func unknownKey(k string) error {
	best, bestD := "", 4
	for _, x := range Keys {
		if d := distance(k, x); d < bestD {
			best, bestD = x, d
		}
	}
	if best != "" {
		return fmt.Errorf("unknown key; did you mean %q?", best)
	}
	sorted := append([]string(nil), Keys...)
	sort.Strings(sorted)
	return fmt.Errorf("unknown key; known keys are %s", strings.Join(sorted, ", "))
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	sizeType     = reflect.TypeOf(Size(0))
)

func hook(from, to reflect.Type, data any) (any, error) {
	s, ok := data.(string)
	if !ok || from.Kind() != reflect.String {
		return data, nil
	}
	switch to {
	case durationType:
		return ParseDuration(s)
	case sizeType:
		return ParseSize(s)
	}
	if to.Kind() == reflect.Bool {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, errors.New("want true or false")
		}
		return b, nil
	}
	return data, nil
}

// Apply decodes the pairs of spec over a copy of p, key by key, and returns
// the result. p itself is never changed. An error is a *KeyError naming the
// key and value.
func Apply(p Params, spec Spec) (Params, error) {
	for _, pair := range spec.Pairs {
		var hookErr error // the value's own fault, without the decoder's wrapping
		d, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
			ErrorUnused:      true,
			WeaklyTypedInput: true,
			DecodeHook: func(from, to reflect.Type, data any) (any, error) {
				v, err := hook(from, to, data)
				if err != nil {
					hookErr = err
				}
				return v, err
			},
			Result: &p,
		})
		if err == nil {
			err = d.Decode(map[string]string{pair.Key: pair.Value})
		}
		if hookErr != nil {
			err = hookErr
		}
		if err == nil {
			err = p.check(pair.Key)
		}
		if err != nil {
			return Params{}, &KeyError{Key: pair.Key, Value: pair.Value, Err: err}
		}
	}
	return p, nil
}

// check validates the value just decoded for key.
func (p Params) check(key string) error {
	switch key {
	case "backend":
		if p.Backend == "" {
			return errors.New("empty backend name")
		}
	case "cleanup_interval":
		if p.CleanupInterval <= 0 {
			return errors.New("must be positive")
		}
	case "mark_ttl":
		if p.MarkTTL < 30*time.Millisecond {
			return errors.New("must be at least 30ms")
		}
	case "ignore_args":
		if _, err := ParsePositions(p.IgnoreArgs); err != nil {
			return err
		}
	case "compress":
		switch p.Compress {
		case "", "none", "s2", "zstd":
		default:
			return errors.New("want none, s2 or zstd")
		}
	case "max_entries":
		if p.MaxEntries <= 0 {
			return errors.New("must be a positive number of entries")
		}
	case "max_size":
		if p.MaxSize <= 0 {
			return errors.New("must be a positive size")
		}
	case "metrics_sampling_rate":
		if !(p.MetricsSamplingRate >= 0 && p.MetricsSamplingRate <= 1) {
			return errors.New("must be in [0, 1]")
		}
	case "codec":
		if p.Codec == "" {
			return errors.New("must not be empty")
		}
	case "name", "cache_dir":
		if key == "name" && p.Name == "" || key == "cache_dir" && p.CacheDir == "" {
			return errors.New("must not be empty")
		}
	}
	return nil
}
