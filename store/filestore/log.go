package filestore

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"runtime/debug"
	"time"
)

// The log format.
//
// A log file starts with the 8-byte logMagic and continues with records,
// each framed as
//
//	[4] body length, little endian
//	[4] CRC-32C (Castagnoli) of the body, seeded with the function's seed
//	[n] body: type byte, key length (2 bytes LE), key, then by type:
//	    recFunc   the function's identity (rest)
//	    recSet    seconds (8), nanoseconds (4), value (rest)
//	    recSetExp seconds (8), nanoseconds (4), expiry in Unix nanoseconds
//	              (8, positive), value (rest): an entry with an Expires
//	    recMark   expiry in Unix nanoseconds (8), owner (rest)
//	    recUnmark owner (rest)
//	    recEntry, recDelete, recClear, recClearMarks, recIntent: nothing
//
// The first record is always a recFunc naming the function the log
// belongs to, with an unseeded checksum, so that a reader can tell whose
// log it is; every other record's checksum is seeded with 32 bits of the
// SHA-256 of the identity (fnSeed), so that each record names its function:
// a log, or records, copied from another function's log never pass the
// check, and are a miss, never that function's cache. A log without that
// first record (of the first format, "CACHIER\x01", say) is ignored, and
// replaced by the next write.
//
// A record is valid when its whole body is present and its checksum
// matches. Reading stops at the first record that is not: a reader that holds
// no lock takes it for a record still being written and waits for it; a
// writer, which holds the lock and so knows that nobody is writing, takes
// it for the torn tail of a writer that died (or for damage), logs it and
// truncates the file there before appending.
const (
	logMagic  = "CACHIER\x02"
	logHeader = int64(len(logMagic))
	frameLen  = 8
)

// Record types.
const (
	recFunc       = 'F' // the function the log belongs to (the first record)
	recSet        = 'S' // an entry with its value (single-file layout)
	recSetExp     = 'X' // recSet with an expiry; parsed as a recSet whose exp is set
	recEntry      = 'E' // the entry file of key changed (separate-files layout)
	recDelete     = 'D' // key's entry is gone
	recMark       = 'M' // key is being calculated by owner until expiry
	recUnmark     = 'U' // owner's mark on key is gone
	recClear      = 'C' // every entry and mark is gone
	recClearMarks = 'K' // every mark is gone
	recIntent     = 'I' // key's entry file (every one when key is "") is about to change
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var errDamaged = errors.New("damaged record")

// record is one decoded log record. value aliases the read buffer.
type record struct {
	typ   byte
	key   string
	sec   int64
	nsec  uint32
	value []byte
	exp   int64 // recMark: the mark's expiry; recSet: the entry's, 0 for none (Unix nanoseconds)
	owner string
}

// beginRecord appends the frame and the common body prefix of a record to
// dst; finishRecord fills in the frame once the body is complete.
func beginRecord(dst []byte, typ byte, key string) ([]byte, int) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0, typ)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(key)))
	dst = append(dst, key...)
	return dst, start
}

func finishRecord(dst []byte, seed uint32, start int) []byte {
	body := dst[start+frameLen:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(body)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Update(seed, castagnoli, body))
	return dst
}

// fnSeed is the checksum seed of fn's records: 32 bits of the SHA-256 of
// its identity.
func fnSeed(fn string) uint32 {
	sum := sha256.Sum256([]byte(fn))
	return binary.LittleEndian.Uint32(sum[16:])
}

// appendFunc appends the first record of fn's log, which names fn.
func appendFunc(dst []byte, fn string) []byte {
	dst, start := beginRecord(dst, recFunc, "")
	dst = append(dst, fn...)
	return finishRecord(dst, 0, start)
}

// appendSet appends an entry's record; exp is its expiry in Unix
// nanoseconds (expNanos), 0 for none.
func appendSet(dst []byte, seed uint32, key string, t time.Time, exp int64, value []byte) []byte {
	typ := byte(recSet)
	if exp != 0 {
		typ = recSetExp
	}
	dst, start := beginRecord(dst, typ, key)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(t.Unix()))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(t.Nanosecond()))
	if exp != 0 {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(exp))
	}
	dst = append(dst, value...)
	return finishRecord(dst, seed, start)
}

func appendMark(dst []byte, seed uint32, key, owner string, exp int64) []byte {
	dst, start := beginRecord(dst, recMark, key)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(exp))
	dst = append(dst, owner...)
	return finishRecord(dst, seed, start)
}

func appendUnmark(dst []byte, seed uint32, key, owner string) []byte {
	dst, start := beginRecord(dst, recUnmark, key)
	dst = append(dst, owner...)
	return finishRecord(dst, seed, start)
}

func appendSimple(dst []byte, seed uint32, typ byte, key string) []byte {
	dst, start := beginRecord(dst, typ, key)
	return finishRecord(dst, seed, start)
}

// parseRecord decodes a body whose checksum has been verified.
func parseRecord(body []byte) (record, error) {
	if len(body) < 3 {
		return record{}, errDamaged
	}
	r := record{typ: body[0]}
	kl := int(binary.LittleEndian.Uint16(body[1:3]))
	if len(body) < 3+kl {
		return record{}, errDamaged
	}
	r.key = string(body[3 : 3+kl])
	rest := body[3+kl:]
	switch r.typ {
	case recSet, recSetExp:
		if err := parseSet(&r, rest); err != nil {
			return record{}, err
		}
	case recMark:
		if len(rest) < 8 {
			return record{}, errDamaged
		}
		r.exp = int64(binary.LittleEndian.Uint64(rest))
		r.owner = string(rest[8:])
	case recUnmark:
		r.owner = string(rest)
	case recFunc:
		if kl != 0 {
			return record{}, errDamaged
		}
		r.value = rest
	case recEntry, recDelete, recClear, recClearMarks, recIntent:
		if len(rest) != 0 {
			return record{}, errDamaged
		}
	default:
		return record{}, errDamaged
	}
	return r, nil
}

// parseSet decodes the rest of a recSet or recSetExp body (after the key)
// into r, whose typ it sets to recSet.
func parseSet(r *record, rest []byte) error {
	if len(rest) < 12 {
		return errDamaged
	}
	r.sec = int64(binary.LittleEndian.Uint64(rest))
	r.nsec = binary.LittleEndian.Uint32(rest[8:])
	if r.nsec >= 1e9 {
		return errDamaged
	}
	r.value = rest[12:]
	if r.typ == recSetExp {
		if len(rest) < 20 {
			return errDamaged
		}
		r.exp, r.value = int64(binary.LittleEndian.Uint64(rest[12:])), rest[20:]
		if r.exp <= 0 {
			return errDamaged
		}
	}
	r.typ = recSet
	return nil
}

// readRecord reads and verifies the entry record of key, of n bytes (frame
// included) at off, into r, for a Get: through the mapping of the log
// where it can, else (no mapping that far, or the mapping faulted) with a
// positioned read. r.value is a copy the caller owns. st.mu is held.
func (st *fnState) readRecord(r *record, key string, off, n int64) error {
	if n < frameLen+3 || n > 1<<40 {
		return errDamaged
	}
	if canMap && !st.noMap && st.f != nil {
		if end := off + n; int64(len(st.data)) >= end || st.mapData(end) {
			if ok, err := st.entryFrom(r, key, st.data[off:end]); ok {
				return err
			}
			st.faulted()
		}
	}
	buf := make([]byte, n)
	if _, err := st.f.ReadAt(buf, off); err != nil {
		if errors.Is(err, io.EOF) {
			return errDamaged
		}
		return err
	}
	_, err := st.entryFrom(r, key, buf) // never faults: buf is memory
	return err
}

// headMax bounds the head of an entry record (frame, type, key, times)
// that entryFrom copies into fnState.head; the heads of longer keys get a
// buffer of their own.
const headMax = 160

// entryFrom verifies the entry record of key in rec (a record in the
// mapping of the log, or read from it) and decodes it into r. It copies
// the record's head into st.head and its value into a buffer of exactly
// the value's size, and checks the checksum over those copies, so that
// what it returns is what it checked, whatever happens to the file
// meanwhile. ok is false when reading rec faulted (a mapping of a file
// truncated under it).
func (st *fnState) entryFrom(r *record, key string, rec []byte) (ok bool, err error) {
	hn := min(len(rec), frameLen+3+len(key)+20)
	var h []byte
	if hn <= headMax {
		h = st.head[:hn] // not on the stack: the checksum code keeps it from staying there
	} else {
		h = make([]byte, hn)
	}
	value, ok := copyRecord(h, rec, len(key))
	if !ok {
		return false, nil
	}
	if value == nil {
		return true, errDamaged
	}
	kl := len(key)
	vs := len(rec) - len(value) // where the value starts
	if string(h[frameLen+3:frameLen+3+kl]) != key {
		return true, errDamaged
	}
	crc := crc32.Update(st.seed, castagnoli, h[frameLen:vs])
	if crc32.Update(crc, castagnoli, value) != binary.LittleEndian.Uint32(h[4:]) {
		return true, errDamaged
	}
	r.typ, r.key = h[frameLen], key
	if err := parseSet(r, h[frameLen+3+kl:vs]); err != nil {
		return true, errDamaged
	}
	r.value = value
	return true, nil
}

// copyRecord copies the head of the mapped entry record rec into h (as much
// as h holds), checks its frame, type and key length (kl), and copies the
// value out into a buffer of its own. It returns a nil value for a record
// that is not an entry of a key of that length (damaged), and ok false
// when the mapping faulted: a page of rec lies beyond the end of the file,
// which was truncated since it was mapped.
func copyRecord(h, rec []byte, kl int) (value []byte, ok bool) {
	defer noFault(debug.SetPanicOnFault(true), &ok)
	copy(h, rec)
	n := len(rec)
	if int(binary.LittleEndian.Uint32(h)) != n-frameLen {
		return nil, true
	}
	typ := h[frameLen]
	if (typ != recSet && typ != recSetExp) || int(binary.LittleEndian.Uint16(h[frameLen+1:])) != kl {
		return nil, true
	}
	vs := frameLen + 3 + kl + 12 // where the value starts
	if typ == recSetExp {
		vs += 8
	}
	if vs > n {
		return nil, true
	}
	return append([]byte{}, rec[vs:]...), true // not make and copy: nothing to zero first
}

// scanner reads records sequentially; it keeps its buffers between scans.
type scanner struct {
	br  *bufio.Reader
	buf []byte

	// last is the frame of the last valid record a scan read, and lastOff
	// its offset; lastOff is -1 when the scan read none.
	last    [frameLen]byte
	lastOff int64
}

// scan reads the records of f between off and end, calling fn with the
// offset, the framed size and the body of each valid one (the body is only
// valid during the call). It returns the offset after the last valid record,
// and damaged is true when it stopped before end at a record that is
// incomplete, fails its checksum or does not parse.
func (s *scanner) scan(f *os.File, seed uint32, off, end int64, fn func(off, n int64, r record)) (next int64, damaged bool, err error) {
	s.lastOff = -1
	if off >= end {
		return off, false, nil
	}
	sr := io.NewSectionReader(f, off, end-off)
	if s.br == nil {
		s.br = bufio.NewReaderSize(sr, 32<<10)
	} else {
		s.br.Reset(sr)
	}
	defer s.br.Reset(nil)
	var frame [frameLen]byte
	for off < end {
		if end-off < frameLen+3 {
			return off, true, nil
		}
		if _, err := io.ReadFull(s.br, frame[:]); err != nil {
			return off, true, readErr(err)
		}
		bl := int64(binary.LittleEndian.Uint32(frame[:]))
		if bl < 3 || bl > end-off-frameLen {
			return off, true, nil
		}
		if int64(cap(s.buf)) < bl {
			s.buf = make([]byte, bl)
		}
		body := s.buf[:bl]
		if _, err := io.ReadFull(s.br, body); err != nil {
			return off, true, readErr(err)
		}
		if binary.LittleEndian.Uint32(frame[4:]) != crc32.Update(seed, castagnoli, body) {
			return off, true, nil
		}
		r, perr := parseRecord(body)
		if perr != nil {
			return off, true, nil
		}
		fn(off, frameLen+bl, r)
		s.last, s.lastOff = frame, off
		off += frameLen + bl
	}
	if cap(s.buf) > 1<<20 {
		s.buf = nil // do not pin a large value's buffer
	}
	return off, false, nil
}

// readErr maps running out of file to "damaged, stop here" and keeps real
// I/O errors.
func readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	return err
}

// maxHead bounds the first record of a log: an identity longer than that is
// not one a store wrote.
const maxHead = 1 << 20

// readHead reads the first record of the log f of size bytes, which names
// the function the log belongs to. It returns the identity, the frame of
// the record and the offset after it; ok is false when there is no such
// record.
func readHead(f *os.File, size int64) (fn string, frame [frameLen]byte, next int64, ok bool, err error) {
	if size < logHeader+frameLen+3 {
		return "", frame, 0, false, nil
	}
	if _, err := f.ReadAt(frame[:], logHeader); err != nil {
		return "", frame, 0, false, readErr(err)
	}
	bl := int64(binary.LittleEndian.Uint32(frame[:]))
	if bl < 3 || bl > maxHead || bl > size-logHeader-frameLen {
		return "", frame, 0, false, nil
	}
	body := make([]byte, bl)
	if _, err := f.ReadAt(body, logHeader+frameLen); err != nil {
		return "", frame, 0, false, readErr(err)
	}
	if binary.LittleEndian.Uint32(frame[4:]) != crc32.Checksum(body, castagnoli) {
		return "", frame, 0, false, nil
	}
	r, err := parseRecord(body)
	if err != nil || r.typ != recFunc {
		return "", frame, 0, false, nil
	}
	return string(r.value), frame, logHeader + frameLen + bl, true, nil
}
