package codec

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// A time.Time is encoded as
//
//	varint   seconds since 1970 (Unix)
//	uvarint  nanoseconds within the second
//	byte     location: 0 UTC, 1 Local, 2 loaded by name, 3 fixed zone
//	string   the location's name (2 and 3)
//	varint   the fixed zone's offset east of UTC in seconds (3)
//
// The monotonic clock reading is not kept.
const (
	locUTC = iota
	locLocal
	locNamed
	locFixed
)

func encTime(e *encoder, p unsafe.Pointer) error {
	t := *(*time.Time)(p)
	e.varint(t.Unix())
	e.uvarint(uint64(t.Nanosecond()))
	loc := t.Location()
	switch {
	case loc == time.UTC:
		e.buf = append(e.buf, locUTC)
	case loc == time.Local:
		e.buf = append(e.buf, locLocal)
	case isNamed(loc):
		e.buf = append(e.buf, locNamed)
		e.str(loc.String())
	default:
		_, off := t.Zone()
		e.buf = append(e.buf, locFixed)
		e.str(loc.String())
		e.varint(int64(off))
	}
	return nil
}

func decTime(d *decoder, p unsafe.Pointer) error {
	sec, err := d.varint()
	if err != nil {
		return err
	}
	nsec, err := d.uvarint()
	if err != nil {
		return err
	}
	if nsec >= 1e9 {
		return fmt.Errorf("%w: %d nanoseconds in a second", ErrCorrupt, nsec)
	}
	kind, err := d.byte1()
	if err != nil {
		return err
	}
	t := time.Unix(sec, int64(nsec))
	switch kind {
	case locUTC:
		t = t.UTC()
	case locLocal:
	case locNamed, locFixed:
		n, err := d.length(1)
		if err != nil {
			return err
		}
		name := d.str(n)
		if kind == locNamed {
			loc, err := loadLocation(name)
			if err != nil {
				return fmt.Errorf("%w: time zone %q: %v", ErrCorrupt, name, err)
			}
			t = t.In(loc)
			break
		}
		off, err := d.varint()
		if err != nil {
			return err
		}
		if off < -7*86400 || off > 7*86400 {
			return fmt.Errorf("%w: zone offset %d", ErrCorrupt, off)
		}
		t = t.In(time.FixedZone(name, int(off)))
	default:
		return fmt.Errorf("%w: location kind %d", ErrCorrupt, kind)
	}
	*(*time.Time)(p) = t
	return nil
}

// The locations seen, and the ones loaded by name, are cached; both caches
// are bounded, since a program may make fixed zones at will and an entry
// may name any zone.
const locCacheMax = 4096

var (
	namedLocs  sync.Map // *time.Location -> bool
	namedCount atomic.Int32
	loadedLocs sync.Map // string -> locResult
	loadCount  atomic.Int32
)

type locResult struct {
	loc *time.Location
	err error
}

func loadLocation(name string) (*time.Location, error) {
	if r, ok := loadedLocs.Load(name); ok {
		r := r.(locResult)
		return r.loc, r.err
	}
	name = strings.Clone(name) // not the entry's memory: the cache and the location keep it
	loc, err := time.LoadLocation(name)
	if loadCount.Load() < locCacheMax {
		if _, dup := loadedLocs.LoadOrStore(name, locResult{loc, err}); !dup {
			loadCount.Add(1)
		}
	}
	return loc, err
}

// isNamed reports whether loc is what time.LoadLocation returns for its
// name: a location that decodes by name. Other locations (fixed zones, and
// zones made from tzdata under another name) are kept as fixed zones.
func isNamed(loc *time.Location) bool {
	if v, ok := namedLocs.Load(loc); ok {
		return v.(bool)
	}
	named := false
	if loaded, err := loadLocation(loc.String()); err == nil {
		named = sameZones(loc, loaded)
	}
	if namedCount.Load() < locCacheMax {
		if _, dup := namedLocs.LoadOrStore(loc, named); !dup {
			namedCount.Add(1)
		}
	}
	return named
}

// sameZones compares two locations' zones from 1900 to 2100, every 61 days.
func sameZones(a, b *time.Location) bool {
	if a == b {
		return true
	}
	start := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	for t := start; t.Year() < 2100; t = t.Add(61 * 24 * time.Hour) {
		an, ao := t.In(a).Zone()
		bn, bo := t.In(b).Zone()
		if an != bn || ao != bo {
			return false
		}
	}
	return true
}
